package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/user"
	"runtime"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// cmdVerify checks the ledger for tampering (docs/audit.md):
//
//	ledger verify [--chains-only|--projections-only] [--projection NAME]
//	              [--digest-at POSITION] [--expect-digest HEX] [--limit N] [--json]
//
// It checks every stream's hash chain and prints the first broken link of
// each, prints the digest of the log (at the last event, or at
// --digest-at), compares every read model with a rebuild of it up to its
// checkpoint, listing the rows that differ, and checks that no person's
// month of a program was paid more than owed (never twice), naming the
// lines and batches of each that was. It exits 0 when nothing is wrong;
// otherwise with "verify: N problems found".
func cmdVerify(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("verify", e)
	cfg.bind(fs, e, false)
	chainsOnly := fs.Bool("chains-only", false, "check the hash chains and print the digest only")
	projsOnly := fs.Bool("projections-only", false, "compare the read models with a rebuild only")
	name := fs.String("projection", "all", "the read model to compare: a projection's name, or all")
	digestAt := fs.String("digest-at", "", "print the digest at the event at this position, COMMIT/PREPARE (default: the last event)")
	expect := fs.String("expect-digest", "", "fail unless the digest (at --digest-at, or at the last event) is this one")
	limit := fs.Int("limit", 20, "differing rows listed per table (all are counted)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	user := fs.String("user", osUser(), "who runs the check, as recorded for the auditors' desk")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts := verifyOptions{limit: *limit}
	switch {
	case *chainsOnly && *projsOnly:
		return usageError{"verify: --chains-only and --projections-only exclude each other"}
	case *projsOnly && (*digestAt != "" || *expect != ""):
		return usageError{"verify: --digest-at and --expect-digest need the chain check, which --projections-only skips"}
	case *chainsOnly && *name != "all":
		return usageError{"verify: --projection chooses a read model to compare, which --chains-only skips"}
	case *limit < 0 || *limit > 10_000:
		return usageError{fmt.Sprintf("limit: %d is not between 0 and 10000", *limit)}
	}
	if *digestAt != "" {
		p, err := domain.ParsePosition("digest-at", *digestAt)
		if err != nil {
			return usageError{err.Error()}
		}
		opts.digestAt = &p
	}
	if *expect != "" {
		d, err := domain.ParseDigest("expect-digest", *expect)
		if err != nil {
			return usageError{err.Error()}
		}
		opts.expect = d
	}
	if !*chainsOnly {
		picked, err := pickProjections(*name)
		if err != nil {
			return err
		}
		opts.projections = picked
	}
	opts.chains = !*projsOnly
	opts.payments = !*chainsOnly && !*projsOnly

	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	rep, err := verifyLedger(ctx, d, opts, e.stderr)
	if err != nil {
		return err
	}
	if err := (postgres.VerifyRuns{Pool: d.pool}).Record(ctx, rep.run(*user, time.Now())); err != nil {
		// The check stands; only the desk's copy of it is missing.
		fmt.Fprintf(e.stderr, "verify: the run could not be recorded for the auditors' desk: %v\n", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		rep.print(e.stdout, opts.limit)
	}
	if rep.Problems > 0 {
		return fmt.Errorf("verify: %d problems found", rep.Problems)
	}
	return nil
}

type verifyOptions struct {
	chains      bool
	payments    bool
	digestAt    *domain.Position
	expect      string
	projections []projections.Projection
	limit       int
}

// verifyReport is what `ledger verify --json` prints.
type verifyReport struct {
	Chains      *chainReport               `json:"chains,omitempty"`
	Digest      *digestReport              `json:"digest,omitempty"`
	Projections []projections.Verification `json:"projections,omitempty"`
	NeverTwice  *app.NeverTwice            `json:"never_twice,omitempty"`
	Problems    int64                      `json:"problems"`
}

type chainReport struct {
	Events  int64               `json:"events"`
	Streams int                 `json:"streams"`
	Broken  []domain.BrokenLink `json:"broken"`
}

type digestReport struct {
	domain.Digest
	Expected string `json:"expected,omitempty"`
	Matches  *bool  `json:"matches,omitempty"`
}

func verifyLedger(ctx context.Context, d *deps, opts verifyOptions, progress io.Writer) (*verifyReport, error) {
	rep := &verifyReport{}
	if opts.chains {
		c, dg, err := checkChains(ctx, d.store, opts.digestAt, progress)
		if err != nil {
			return nil, err
		}
		rep.Chains = &chainReport{Events: c.Events(), Streams: c.Streams(), Broken: c.Broken()}
		if rep.Chains.Broken == nil {
			rep.Chains.Broken = []domain.BrokenLink{}
		}
		rep.Problems += int64(len(rep.Chains.Broken))
		rep.Digest = &digestReport{Digest: dg}
		if opts.expect != "" {
			ok := opts.expect == dg.Hex
			rep.Digest.Expected, rep.Digest.Matches = opts.expect, &ok
			if !ok {
				rep.Problems++
			}
		}
	}
	r := d.runner()
	for _, p := range opts.projections {
		fmt.Fprintf(progress, "verify: comparing %s with a rebuild\n", p.Name())
		v, err := r.Verify(ctx, p, opts.limit)
		if err != nil {
			return nil, err
		}
		rep.Projections = append(rep.Projections, v)
		rep.Problems += v.ProblemCount()
	}
	if opts.payments {
		fmt.Fprintln(progress, "verify: checking that no month was paid more than owed")
		nt, err := d.payroll(&env{stderr: progress}).CheckNeverTwice(ctx)
		if err != nil {
			return nil, fmt.Errorf("verify: never twice: %w", err)
		}
		rep.NeverTwice = &nt
		rep.Problems += int64(len(nt.Overpaid))
	}
	return rep, nil
}

// run is the report as recorded for the auditors' desk.
func (rep *verifyReport) run(user string, at time.Time) app.VerifyRun {
	run := app.VerifyRun{FinishedAt: at, RanBy: user, Problems: rep.Problems}
	if c := rep.Chains; c != nil && rep.Digest != nil {
		run.Chains = &app.VerifiedChains{Events: c.Events, Streams: c.Streams, Broken: len(c.Broken), Digest: rep.Digest.Digest}
	}
	for _, v := range rep.Projections {
		run.ReadModels = append(run.ReadModels, app.VerifiedReadModel{Name: v.Projection, Status: v.Status, Events: v.Events,
			Problems: v.ProblemCount(), Skipped: v.Skipped})
	}
	if nt := rep.NeverTwice; nt != nil {
		n := len(nt.Overpaid)
		run.OverpaidMonths = &n
	}
	run.Report, _ = json.Marshal(rep) // plain data: it cannot fail
	return run
}

// osUser names the operating system's user running the command line.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// chainPage is how many events the chain check reads at a time.
const chainPage = 5000

type inspectedPage struct {
	evs []domain.InspectedEvent
	err error
}

// checkChains reads the whole log in global order and checks it, reading
// and inspecting the next page (on every core) while the checker works
// through the current one. It returns the digest at the event at `at`, or
// at the last event when at is nil.
func checkChains(ctx context.Context, store domain.EventStore, at *domain.Position, progress io.Writer) (*domain.ChainChecker, domain.Digest, error) {
	rctx, stop := context.WithCancel(ctx)
	pages := make(chan inspectedPage, 1)
	go func() {
		defer close(pages)
		pos := domain.Start
		for {
			recs, err := store.ReadAll(rctx, pos, chainPage, domain.Filter{})
			pg := inspectedPage{err: err}
			if err == nil {
				pg.evs = inspectAll(recs)
			}
			select {
			case pages <- pg:
			case <-rctx.Done():
				return
			}
			if err != nil || len(recs) < chainPage {
				return
			}
			pos = recs[len(recs)-1].Position
		}
	}()
	defer func() {
		stop()
		for range pages { // let the reader finish
		}
	}()

	c := domain.NewChainChecker()
	var dg domain.Digest
	found := false
	started, shown := time.Now(), time.Now()
	for pg := range pages {
		if pg.err != nil {
			return nil, dg, fmt.Errorf("verify: read the log: %w", pg.err)
		}
		for _, ie := range pg.evs {
			c.AddInspected(ie)
			if at != nil && !found && ie.Event.Position == *at {
				dg, found = c.Digest(), true
			}
		}
		if time.Since(shown) >= 2*time.Second {
			shown = time.Now()
			fmt.Fprintf(progress, "verify: %d events checked (at %s, %.0f events/s)\n", c.Events(), c.Digest().Position,
				float64(c.Events())/time.Since(started).Seconds())
		}
	}
	switch {
	case at == nil:
		dg = c.Digest()
	case !found:
		return nil, dg, usageError{domain.Invalid("digest-at", "no event is at position %s (the log has %d events, the last at %s)", at, c.Events(), c.Digest().Position).Error()}
	}
	fmt.Fprintf(progress, "verify: %d events checked in %s\n", c.Events(), time.Since(started).Round(time.Millisecond))
	return c, dg, nil
}

// inspectAll inspects events on every core.
func inspectAll(recs []domain.RecordedEvent) []domain.InspectedEvent {
	out := make([]domain.InspectedEvent, len(recs))
	workers := min(runtime.GOMAXPROCS(0), max(len(recs)/500, 1))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				out[i] = domain.Inspect(recs[i])
			}
		}()
	}
	wg.Wait()
	return out
}

func (rep *verifyReport) print(w io.Writer, limit int) {
	if c := rep.Chains; c != nil {
		if len(c.Broken) == 0 {
			fmt.Fprintf(w, "chains: %d events in %d streams; every link holds\n", c.Events, c.Streams)
		} else {
			fmt.Fprintf(w, "chains: %d events in %d streams; %d broken (the first broken link of each stream):\n", c.Events, c.Streams, len(c.Broken))
			for _, b := range c.Broken {
				fmt.Fprintf(w, "  BROKEN %s\n", b)
			}
		}
	}
	if dg := rep.Digest; dg != nil {
		fmt.Fprintf(w, "digest at %s: %s\n", dg.Position, dg.Hex)
		if dg.Matches != nil && !*dg.Matches {
			fmt.Fprintf(w, "  DIGEST DIFFERS: expected %s\n", dg.Expected)
		} else if dg.Matches != nil {
			fmt.Fprintln(w, "  as expected")
		}
	}
	if len(rep.Projections) > 0 {
		fmt.Fprintln(w, "read models (each compared with a rebuild up to its checkpoint):")
	}
	for _, v := range rep.Projections {
		if v.Skipped != "" {
			fmt.Fprintf(w, "  %s: skipped: %s\n", v.Projection, v.Skipped)
			continue
		}
		var rows int64
		for _, t := range v.Tables {
			rows += t.LiveRows
		}
		verdict := "identical"
		if n := v.ProblemCount(); n > 0 {
			verdict = fmt.Sprintf("%d problems", n)
		}
		fmt.Fprintf(w, "  %s at %s (%d events, %s): %d tables, %d rows, %s\n", v.Projection, v.Position, v.Events, v.Status, len(v.Tables), rows, verdict)
		for _, p := range v.Problems {
			fmt.Fprintf(w, "    PROBLEM %s\n", p)
		}
		for _, t := range v.Tables {
			if t.Problem != "" {
				fmt.Fprintf(w, "    PROBLEM table %s: %s\n", t.Table, t.Problem)
			}
			if t.OnlyInLive+t.OnlyInRebuild == 0 {
				continue
			}
			fmt.Fprintf(w, "    DIFFERS table %s: %d rows only in live, %d only in rebuild (%d live rows, %d rebuilt)\n",
				t.Table, t.OnlyInLive, t.OnlyInRebuild, t.LiveRows, t.RebuildRows)
			for _, r := range t.Rows {
				fmt.Fprintf(w, "      %-15s %s %s\n", r.Side, t.Table, r.Row)
			}
			if more := t.OnlyInLive + t.OnlyInRebuild - int64(len(t.Rows)); more > 0 {
				fmt.Fprintf(w, "      … and %d more (--limit %d)\n", more, limit)
			}
		}
	}
	if nt := rep.NeverTwice; nt != nil {
		if len(nt.Overpaid) == 0 {
			fmt.Fprintf(w, "never twice: %d paid months of %d programs; none paid more than owed\n", nt.Months, len(nt.Programs))
		} else {
			fmt.Fprintf(w, "never twice: %d paid months of %d programs; %d paid more than owed:\n", nt.Months, len(nt.Programs), len(nt.Overpaid))
		}
		for _, o := range nt.Overpaid {
			what := "OVERPAID, claim not yet recorded (ledger payroll claims)"
			if o.Twice() {
				what = "PAID TWICE"
			}
			fmt.Fprintf(w, "  %s: %s %s of person %s paid %s, owed %s, claimed back %s; lines:\n", what, o.Program, o.Period, o.PersonID, o.Paid, o.Owed, o.Claimed)
			for _, l := range o.Lines {
				fmt.Fprintf(w, "    %s %s %s (batch %s)\n", l.Reference, l.Amount, l.Status, l.BatchID)
			}
		}
	}
	if rep.Problems == 0 {
		fmt.Fprintln(w, "verify: no problems found")
	} else {
		fmt.Fprintf(w, "verify: %d problems found\n", rep.Problems)
	}
}
