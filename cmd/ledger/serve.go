package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/projections"
)

// runProjections keeps the projection runner going until ctx ends: if it
// stops on an error (a lost database connection, say), it starts again.
func runProjections(ctx context.Context, d *deps) {
	for {
		err := d.runner().Run(ctx)
		if ctx.Err() != nil {
			return
		}
		d.log.Error("projection runner stopped; restarting", slog.String("error", fmt.Sprint(err)), slog.Duration("in", 2*time.Second))
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
	}
}

func cmdServe(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("serve", e)
	cfg.bind(fs, e, true)
	noProjections := fs.Bool("no-projections", false, "do not run the projection runner in this process (run `ledger project` elsewhere)")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	runCtx, stopRunner := context.WithCancel(ctx)
	defer func() { stopRunner(); wg.Wait() }()
	if !*noProjections {
		wg.Add(1)
		go func() { defer wg.Done(); runProjections(runCtx, d) }()
	}
	srv := &http.Server{
		Handler: httpapi.NewServer(httpapi.Deps{
			Log: d.log, DB: d.pool, Store: d.store, LookupKey: d.cfg.lookupKey(), Version: version,
			Metrics: d.stats.WritePrometheus,
			Projections: func(ctx context.Context) ([]projections.Status, error) {
				return projections.Statuses(ctx, d.pool, d.store, projections.All(), time.Now())
			},
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(d.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	d.log.Info("serving", slog.String("addr", ln.Addr().String()), slog.String("url", "http://"+ln.Addr().String()+"/healthz"))

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	d.log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
