package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/desk"
	"github.com/lushan-dpf/ledger/adapters/web"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// writeMetrics writes the runner's progress and, from the database, each
// projection's lag and parked events.
func writeMetrics(ctx context.Context, w io.Writer, d *deps) {
	d.stats.WritePrometheus(w)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := d.statuses(ctx)
	if err != nil {
		d.log.Warn("metrics: projection status", slog.String("error", err.Error()))
		return
	}
	fmt.Fprintln(w, "# HELP ledger_projection_lag_events Events committed to the log not yet applied by the projection, also those held back.")
	fmt.Fprintln(w, "# TYPE ledger_projection_lag_events gauge")
	for _, s := range st {
		fmt.Fprintf(w, "ledger_projection_lag_events{projection=%q} %d\n", s.Name, s.LagEvents)
	}
	fmt.Fprintln(w, "# HELP ledger_projection_lag_seconds Age of the oldest event not yet applied.")
	fmt.Fprintln(w, "# TYPE ledger_projection_lag_seconds gauge")
	for _, s := range st {
		fmt.Fprintf(w, "ledger_projection_lag_seconds{projection=%q} %.3f\n", s.Name, s.LagSeconds)
	}
	fmt.Fprintln(w, "# HELP ledger_projection_held_back_events Events committed to the log that the projection cannot get yet: an older append is still in flight (also counted in ledger_projection_lag_events).")
	fmt.Fprintln(w, "# TYPE ledger_projection_held_back_events gauge")
	for _, s := range st {
		fmt.Fprintf(w, "ledger_projection_held_back_events{projection=%q} %d\n", s.Name, s.HeldBackEvents)
	}
	// How long the append holding events back has been in flight, 0 when
	// none is (or its start cannot be read).
	inFlight := 0.0
	for _, s := range st {
		if s.HeldBy != nil && !s.HeldBy.Since.IsZero() {
			inFlight = max(inFlight, time.Since(s.HeldBy.Since).Seconds())
		}
	}
	fmt.Fprintln(w, "# HELP ledger_event_store_append_in_flight_seconds How long the append holding committed events back from the projections has been in flight; 0 when none is.")
	fmt.Fprintln(w, "# TYPE ledger_event_store_append_in_flight_seconds gauge")
	fmt.Fprintf(w, "ledger_event_store_append_in_flight_seconds %.3f\n", inFlight)
	fmt.Fprintln(w, "# HELP ledger_projection_parked_events Events parked by the projection.")
	fmt.Fprintln(w, "# TYPE ledger_projection_parked_events gauge")
	for _, s := range st {
		fmt.Fprintf(w, "ledger_projection_parked_events{projection=%q} %d\n", s.Name, len(s.Parked))
	}
}

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
	if !*noProjections {
		if err := d.openProjectionPool(ctx); err != nil {
			return err
		}
	}

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
	api := httpapi.NewServer(httpapi.Deps{
		Log: d.log, Store: d.store, LookupKey: d.cfg.lookupKey(), Vault: d.cfg.vault(), Version: version,
		// The request pool behind every port. The read models wait
		// the default for a payroll draft, as before the ports
		// (-read-models-wait is not applied to serve).
		ReadModels:  projections.ReadModels{Q: d.pool, Store: d.store},
		Idempotency: postgres.NewIdempotency(d.pool),
		Users:       postgres.Users{Pool: d.pool},
		Database:    d.pool,
		Metrics:     func(w io.Writer) { writeMetrics(ctx, w, d) },
		Registry:    processRegistry(map[string]*pgxpool.Pool{"requests": d.pool, "projections": d.projPool}),
		Projections: func(ctx context.Context) ([]projections.Status, error) {
			return d.statuses(ctx)
		},
	})
	persons := app.NewPersons(d.store)
	pages, err := web.New(web.Deps{
		Accounts: desk.Accounts{Users: postgres.Users{Pool: d.pool}}, Persons: projections.ReadModels{Q: d.pool, Store: d.store},
		Commands: persons, Loader: persons, Fresh: projections.ReadModels{Q: d.pool, Store: d.store},
		Payroll:  app.NewPayroll(d.store, projections.ReadModels{Q: d.pool, Store: d.store}, d.cfg.vault()),
		Spending: projections.ReadModels{Q: d.pool, Store: d.store}, Verifications: postgres.VerifyRuns{Pool: d.pool},
		Finance: projections.ReadModels{Q: d.pool, Store: d.store}, Notices: app.NewNotices(d.store), NoticeSource: reports.NoticeSource{Changelog: projections.ReadModels{Q: d.pool, Store: d.store}, Store: d.store},
		LookupKey: d.cfg.lookupKey(), Log: d.log,
	})
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           withDesk(api, pages),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
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

// withDesk serves the API's paths (/v1/…, the probes, the metrics) with
// api and every other path — the web desk's pages — with desk.
func withDesk(api, desk http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case strings.HasPrefix(p, "/v1/"), p == "/v1", p == "/healthz", p == "/readyz", p == "/metrics":
			api.ServeHTTP(w, r)
		default:
			desk.ServeHTTP(w, r)
		}
	})
}
