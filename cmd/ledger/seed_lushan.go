package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/roster"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/seed"
)

// seedLushan loads the demo county into an empty ledger:
//
//	ledger seed --scenario lushan-2024 [--seed N] [--if-empty] [--workers N] [--files DIR]
//
// Everything goes through the command path (registrations, certificates,
// proposals approved by a second user, deaths, one-off grants) and the
// twelve payrolls of 2024 are run, approved, exported and reconciled, with
// the projections running alongside, so that `ledger report annual --year
// 2024` shows the federation's published figures. See docs/demo.md.
func seedLushan(ctx context.Context, e *env, args []string) (err error) {
	var cfg config
	fs := newFlagSet("seed --scenario lushan-2024", e)
	cfg.bind(fs, e, false)
	seedFlag := fs.Uint64("seed", 1, "random seed: the same seed gives the same county")
	ifEmpty := fs.Bool("if-empty", false, "if the ledger already holds events, do nothing and succeed (what make run uses)")
	workers := fs.Int("workers", 8, "how many persons' commands run at once (1 to 64)")
	files := fs.String("files", "", "also write every bank payment and return file into this directory")
	demoUsers := fs.Bool("demo-users", false, "also add a web desk user of each role with the demo password, and print them (what make run uses; never on a real ledger)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *workers < 1 || *workers > 64 {
		return usageError{fmt.Sprintf("workers: %d is not between 1 and 64", *workers)}
	}
	if *files != "" {
		if st, err := os.Stat(*files); err != nil || !st.IsDir() {
			return usageError{fmt.Sprintf("files: %q is not a directory", *files)}
		}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()

	empty, err := ledgerEmpty(ctx, d)
	if err != nil {
		return err
	}
	if *demoUsers {
		defer func() {
			if err == nil {
				err = addDemoUsers(ctx, e, d)
			}
		}()
	}
	if !empty {
		if *ifEmpty {
			return nil
		}
		return fmt.Errorf("seed: the ledger already holds events; seed only an empty ledger (or pass --if-empty to skip it): %w", domain.ErrConflict)
	}

	started := time.Now()
	plan, err := seed.NewLushan2024(*seedFlag, cfg.lookupKey())
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "seed %s: planned seed %d: %d persons, %d commands, checked against the published figures in %s\n",
		seed.Lushan2024, *seedFlag, plan.Persons(), plan.Commands(), time.Since(started).Round(time.Millisecond))

	// The commands get a pool of their own, large enough for the workers,
	// the payroll and the projection runner not to wait for connections.
	store, pool := d.store, d.pool
	if !cfg.usesESDB() {
		pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
		if err != nil {
			return usageError{"database-url: " + err.Error()}
		}
		pc.MaxConns = int32(*workers) + 8
		// A seed is loaded in one go and is worthless half-written: its
		// commits need not wait for the WAL to reach the disk. (A crash
		// loses a suffix of the log, never a hole in it.)
		pc.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
		if pool, err = postgres.ConnectConfig(ctx, pc); err != nil {
			return err
		}
		defer pool.Close()
		s := pgstore.New(pool, pgstore.WithLogger(d.log), pgstore.WithPersonalKeys(d.cfg.keyring(pool)))
		defer s.Close()
		store = s
	}

	// The projections run alongside, as under `ledger serve`: payroll
	// drafts read the entitlements they build.
	runCtx, stopRunner := context.WithCancel(ctx)
	rm := &seedReadModels{ReadModels: projections.ReadModels{Q: pool, Store: store}, pool: pool, done: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(rm.done)
		r := d.runner()
		r.Pool, r.Store, r.MaxWait, r.BatchSize = pool, store, 20*time.Millisecond, 2000
		if err := r.Run(runCtx); err != nil && runCtx.Err() == nil {
			rm.err = err
		}
	}()
	defer func() { stopRunner(); wg.Wait() }()

	ports := seed.Ports{Store: store, ReadModels: rm, Accounts: d.cfg.vault(),
		ReadRoster: func(data []byte, name string, src domain.RosterSource, asOf domain.Date) (domain.Roster, error) {
			return roster.Read(bytes.NewReader(data), name, src, asOf)
		}}
	if *files != "" {
		dir := *files
		ports.Files = func(name string, data []byte) error {
			return os.WriteFile(filepath.Join(dir, name), data, 0o600)
		}
	}
	if err := plan.Run(ctx, ports, seed.Options{Workers: *workers, Progress: e.stderr}); err != nil {
		return err
	}
	f := plan.Figures()
	lc := f.LivingAndCare
	fmt.Fprintf(e.stdout, "seeded %s (seed %d) in %s: %d persons, %d commands\n", seed.Lushan2024, *seedFlag,
		time.Since(started).Round(time.Second), plan.Persons(), plan.Commands())
	fmt.Fprintf(e.stdout, "2024: living and care subsidies %d persons (%d living, %d care cases), paid %s; all programs paid %s\n",
		lc.Persons, lc.LivingCases, lc.CareCases, lc.Paid, f.TotalPaid)
	fmt.Fprintln(e.stdout, "see it: ledger report annual --year 2024")
	return nil
}

// ledgerEmpty reports whether the event store holds no events. On
// PostgreSQL it also asks the events table, which the store's read horizon
// cannot hide.
func ledgerEmpty(ctx context.Context, d *deps) (bool, error) {
	empty, err := seed.Empty(ctx, d.store)
	if err != nil || !empty || d.cfg.usesESDB() {
		return empty, err
	}
	var any bool
	if err := d.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM events)`).Scan(&any); err != nil {
		return false, fmt.Errorf("seed: %w", err)
	}
	return !any, nil
}

// seedReadModels is what the seed reads from the read models, which the
// runner started by seedLushan keeps up to date.
type seedReadModels struct {
	projections.ReadModels
	pool *pgxpool.Pool
	done chan struct{} // closed when the runner stops
	err  error         // why it stopped, read after done
}

var _ seed.ReadModels = (*seedReadModels)(nil)

// WaitFor polls the projections' checkpoints until every one has applied
// pos. It does not trust lag, which the PostgreSQL store's read horizon
// can hide for a moment.
func (m *seedReadModels) WaitFor(ctx context.Context, pos domain.Position) error {
	want := map[string]bool{}
	for _, p := range projections.All() {
		want[p.Name()] = true
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		cps, err := projections.Checkpoints(ctx, m.pool)
		if err != nil {
			return err
		}
		ready := 0
		for _, c := range cps {
			switch {
			case !want[c.Name]:
			case c.Status == "parked":
				return fmt.Errorf("seed: projection %s parked an event; see ledger project status", c.Name)
			case !c.Position.Less(pos):
				ready++
			}
		}
		if ready == len(want) {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("seed: the projections did not catch up within 10 minutes")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.done:
			return fmt.Errorf("seed: the projection runner stopped: %v", m.err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// DemoPassword is the password of the demo users `make run` adds.
const DemoPassword = "lushan-demo-2024"

// addDemoUsers adds, where missing, one web desk user of each role with
// the demo password, and prints them.
func addDemoUsers(ctx context.Context, e *env, d *deps) error {
	users := postgres.Users{Pool: d.pool}
	existing, err := users.List(ctx)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, u := range existing {
		have[u.Name] = true
	}
	fmt.Fprintf(e.stdout, "demo users of the web desk (password %s):\n", DemoPassword)
	for _, role := range []string{"clerk", "approver", "finance", "auditor", "admin"} {
		name := "demo." + role
		if !have[name] {
			if _, err := users.Add(ctx, name, role); err != nil {
				return err
			}
			if err := users.SetPassword(ctx, name, DemoPassword); err != nil {
				return err
			}
		}
		fmt.Fprintf(e.stdout, "  %-15s %s\n", name, role)
	}
	return nil
}
