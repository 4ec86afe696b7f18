package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/seed"
)

// seedScale generates province-scale synthetic load through the event
// store's bulk append path (see seed.ScalePlan):
//
//	ledger seed --scenario scale [--persons N] [--years Y] [--seed S] [--from-year Y0]
//	                             [--batch B] [--payroll-batch L]
//
// A million persons over one year is about 29 million events. Progress
// goes to stderr — a bar on a terminal, a line every few seconds
// otherwise — and a rate summary to stdout at the end. Running it again
// with the same flags appends nothing new, so an interrupted run is
// resumed by starting it again.
func seedScale(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("seed --scenario scale", e)
	cfg.bind(fs, e, false)
	persons := fs.Int("persons", 1000, "persons to register (1 to 10000000)")
	years := fs.Int("years", 1, "years of monthly payroll (1 to 5)")
	seedFlag := fs.Uint64("seed", 1, "random seed: the same seed gives the same persons")
	fromYear := fs.Int("from-year", 2024, "the first year paid; persons register the year before")
	batch := fs.Int("batch", 1000, "persons registered per bulk append")
	payrollBatch := fs.Int("payroll-batch", 10_000, "persons per payroll batch (a month of a program is paid in batches PROGRAM.YYYY-MM.1, .2, …)")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts := seed.ScaleOptions{Persons: *persons, Years: *years, Seed: *seedFlag, FromYear: *fromYear,
		Batch: *batch, PayrollBatch: *payrollBatch, Key: cfg.lookupKey()}
	if err := opts.Validate(); err != nil {
		return usageError{err.Error()}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()

	start := time.Now()
	plan, err := seed.PlanScale(opts)
	if err != nil {
		return err
	}
	planned := time.Since(start)
	fmt.Fprintf(e.stderr, "seed scale: %d persons, %d months, %d events to write (planned in %s)\n",
		len(plan.Persons), len(plan.Periods), plan.Events, planned.Round(time.Millisecond))
	bar := newScaleProgress(e.stderr, isTerminal(e.stderr))
	plan.Options.Progress = bar.update
	res, err := plan.Write(ctx, d.store)
	bar.finish()
	if errors.Is(err, domain.ErrConcurrency) {
		return fmt.Errorf("seed scale: after %d of %d events: %w (the ledger holds other data in these streams: seed an empty ledger, or resume a run with its own flags)", res.Events, plan.Events, err)
	}
	if err != nil {
		return fmt.Errorf("seed scale: after %d of %d events: %w", res.Events, plan.Events, err)
	}
	fmt.Fprintf(e.stdout, "seeded %d persons: %d events in %.1f s, %.0f events/s\n",
		res.Persons, res.Events, res.Elapsed.Seconds(), res.Rate())
	fmt.Fprintf(e.stdout, "  persons  %10d events in %7.1f s, %8.0f events/s\n", res.PersonEvents, res.PersonTime.Seconds(), scaleRate(res.PersonEvents, res.PersonTime))
	fmt.Fprintf(e.stdout, "  payroll  %10d events in %7.1f s, %8.0f events/s\n", res.PayrollEvents, res.PayrollTime.Seconds(), scaleRate(res.PayrollEvents, res.PayrollTime))
	return nil
}

func scaleRate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// scaleProgress shows a run's progress: a bar redrawn in place on a
// terminal (at most ten times a second), else a plain line every five
// seconds.
type scaleProgress struct {
	w     io.Writer
	tty   bool
	start time.Time

	mu          sync.Mutex
	last        time.Time
	done, total int64
}

func newScaleProgress(w io.Writer, tty bool) *scaleProgress {
	now := time.Now()
	return &scaleProgress{w: w, tty: tty, start: now, last: now}
}

func (p *scaleProgress) update(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	now := time.Now()
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every && done < total {
		return
	}
	p.last = now
	p.draw(now)
}

func (p *scaleProgress) draw(now time.Time) {
	elapsed := now.Sub(p.start)
	frac := 0.0
	if p.total > 0 {
		frac = float64(p.done) / float64(p.total)
	}
	r := scaleRate(p.done, elapsed)
	eta := "?"
	if r > 0 {
		eta = (time.Duration(float64(p.total-p.done)/r) * time.Second).Round(time.Second).String()
	}
	if p.tty {
		const width = 30
		filled := int(frac * width)
		fmt.Fprintf(p.w, "\r[%s%s] %5.1f%%  %d/%d events  %.0f events/s  %s left \x1b[K",
			strings.Repeat("█", filled), strings.Repeat("·", width-filled), 100*frac, p.done, p.total, r, eta)
		return
	}
	fmt.Fprintf(p.w, "seed scale: %5.1f%%, %d of %d events, %.0f events/s, %s left\n", 100*frac, p.done, p.total, r, eta)
}

// finish ends the bar's line on a terminal.
func (p *scaleProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw(time.Now())
		fmt.Fprintln(p.w)
	}
}
