package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/lushan-dpf/ledger/projections"
)

// cmdProject runs the projections, or with a subcommand reports on them
// or rebuilds them:
//
//	ledger project [--once]           run until stopped (or until caught up)
//	ledger project status [--json]    checkpoint, lag, parked events
//	ledger project rebuild [NAME|all] blue/green rebuild
//	ledger project retry NAME         resume a parked projection
func cmdProject(ctx context.Context, e *env, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "status":
			return cmdProjectStatus(ctx, e, args[1:])
		case "rebuild":
			return cmdProjectRebuild(ctx, e, args[1:])
		case "retry":
			return cmdProjectRetry(ctx, e, args[1:])
		}
	}
	var cfg config
	fs := newFlagSet("project", e)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: ledger project [--once] [--batch N] [--max-wait D]   run the projections (until stopped, or until caught up)
       ledger project status [--json]          checkpoint, head and lag of every read model, parked events
       ledger project rebuild [NAME|all]        rebuild into a shadow schema, then swap
       ledger project retry NAME                resume a projection stopped at a parked event
flags of ledger project:
`)
		fs.PrintDefaults()
	}
	cfg.bind(fs, e, false)
	once := fs.Bool("once", false, "run until the projections have caught up, then exit")
	batch := fs.Int("batch", 500, "events per batch")
	maxWait := fs.Duration("max-wait", 100*time.Millisecond, "how long a batch waits to fill up")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *batch < 1 || *batch > 100_000 {
		return usageError{fmt.Sprintf("batch: %d is not between 1 and 100000", *batch)}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	r := d.runner()
	r.BatchSize, r.MaxWait = *batch, *maxWait
	start := time.Now()
	if *once {
		err = r.RunOnce(ctx)
	} else {
		err = r.Run(ctx)
	}
	if err != nil && ctx.Err() == nil {
		return err
	}
	d.log.Info("projections stopped", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// runner returns the projection runner, on the projection pool when
// there is one (serve), else on the command's pool.
func (d *deps) runner() *projections.Runner {
	r := &projections.Runner{
		Pool:        d.pool,
		Store:       d.store,
		Projections: projections.All(),
		Log:         d.log,
		Stats:       d.stats,
	}
	if d.projPool != nil {
		r.Pool, r.Store = d.projPool, d.projStore
	}
	return r
}

func cmdProjectStatus(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("project status", e)
	cfg.bind(fs, e, false)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	st, err := d.statuses(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "PROJECTION\tSTATE\tVERSION\tCHECKPOINT\tAPPLIED\tLAG EVENTS\tLAG SECONDS\tHELD BACK")
	parked := 0
	var held projections.Status // the one with the most events held back
	for _, s := range st {
		lagEvents := fmt.Sprint(s.LagEvents)
		if s.LagCapped {
			lagEvents = "≥" + lagEvents
		}
		fmt.Fprintf(w, "%s\t%s\t%d (stored %d)\t%s\t%d\t%s\t%.1f\t%d\n", s.Name, s.State, s.Version, s.StoredVersion, s.Checkpoint, s.EventsApplied, lagEvents, s.LagSeconds, s.HeldBackEvents)
		parked += len(s.Parked)
		if s.HeldBackEvents > held.HeldBackEvents {
			held = s
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(st) > 0 {
		fmt.Fprintf(e.stdout, "\nHEAD OF THE LOG: %s\n", st[0].Head)
	}
	if held.HeldBackEvents > 0 {
		fmt.Fprintf(e.stdout, "HELD BACK: %s. Lag counts them; the projections apply them once that append ends.\n", held.HeldBack())
	}
	unfinished, err := d.payroll(e).Unfinished(ctx)
	if err != nil {
		return err
	}
	if len(unfinished) > 0 {
		fmt.Fprintf(e.stdout, "\nPAYROLL BATCHES IN PROGRESS (%d): running now, or stopped midway: `ledger payroll resume BATCH` finishes a draft, approval or rejection; a reconciliation, importing its file again\n", len(unfinished))
		for _, r := range unfinished {
			fmt.Fprintf(e.stdout, "  %s (%s, by %s): %s\n", r.BatchID, r.State, r.DraftedBy, r.Progress)
		}
	}
	if parked > 0 {
		fmt.Fprintf(e.stdout, "\nPARKED EVENTS (%d): each stops its projection until `ledger project retry NAME`\n", parked)
		for _, s := range st {
			for _, p := range s.Parked {
				fmt.Fprintf(e.stdout, "  %s at %s: %s@%d %s after %d attempts: %s\n", p.Name, p.Position, p.Stream, p.Revision, p.EventType, p.Attempts, p.Error)
			}
		}
	}
	return nil
}

func projectionNames() []string {
	var names []string
	for _, p := range projections.All() {
		names = append(names, p.Name())
	}
	return names
}

// pickProjections resolves NAME|all.
func pickProjections(arg string) ([]projections.Projection, error) {
	if arg == "all" {
		return projections.All(), nil
	}
	for _, p := range projections.All() {
		if p.Name() == arg {
			return []projections.Projection{p}, nil
		}
	}
	return nil, usageError{fmt.Sprintf("unknown projection %q; known: all, %v", arg, projectionNames())}
}

func cmdProjectRebuild(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("project rebuild", e)
	cfg.bind(fs, e, false)
	batch := fs.Int("batch", 5000, "events per rebuild transaction")
	name := "all"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		name, args = args[0], args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	picked, err := pickProjections(name)
	if err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	r := d.runner()
	r.RebuildBatch = *batch
	for _, p := range picked {
		start := time.Now()
		if err := r.Rebuild(ctx, p); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rebuilt %s (version %d) in %s\n", p.Name(), p.Version(), time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func cmdProjectRetry(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("project retry", e)
	cfg.bind(fs, e, false)
	name, err := parseWithArg(fs, args, "project retry: name the projection to retry: one of "+fmt.Sprint(projectionNames()))
	if err != nil {
		return err
	}
	if !slices.Contains(projectionNames(), name) {
		return usageError{fmt.Sprintf("unknown projection %q; known: %v", name, projectionNames())}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	was, err := projections.Retry(ctx, d.pool, name)
	if err != nil {
		return err
	}
	if !was {
		fmt.Fprintf(e.stdout, "%s was not parked\n", name)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s will be retried from its parked event by the running projection runner\n", name)
	return nil
}
