package main

import (
	"context"
	"fmt"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// cmdEligibility runs the rules a date alone breaks and lists the
// certificates about to expire:
//
//	ledger eligibility review --on DATE --user NAME [--key K]
//	ledger eligibility expiring [--within DAYS] [--township T] [--on DATE]
func cmdEligibility(ctx context.Context, e *env, args []string) error {
	const list = `usage: ledger eligibility review [--on YYYY-MM-DD] --user NAME   suspend what rests on an expired certificate, end what an age limit passed (run it monthly, before the payroll)
       ledger eligibility expiring [--within 60] [--township T] [--on YYYY-MM-DD]   certificates expiring soon, per township, with what rests on them`
	if done, err := subcommands(e, args, list); done {
		return err
	}
	switch args[0] {
	case "review":
		return cmdEligibilityReview(ctx, e, args[1:])
	case "expiring":
		return cmdEligibilityExpiring(ctx, e, args[1:])
	}
	return usageError{fmt.Sprintf("eligibility: unknown subcommand %q; want review or expiring", args[0])}
}

// dateFlag parses an optional date flag; empty is today in China.
func dateFlag(name, value string) (domain.Date, error) {
	if value == "" {
		return domain.BusinessDate(time.Now()), nil
	}
	d, err := domain.ParseDate(name, value)
	if err != nil {
		return domain.Date{}, usageError{err.Error()}
	}
	return d, nil
}

func cmdEligibilityReview(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("eligibility review", e)
	cfg.bind(fs, e, false)
	onFlag := fs.String("on", "", "the day to review on (default: today)")
	user := fs.String("user", "", "the caseworker running the review (required)")
	key := commandKey(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" {
		return usageError{"eligibility review: --user is required: name the caseworker"}
	}
	on, err := dateFlag("on", *onFlag)
	if err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	// The day is part of the command ID: the same key on another day is
	// another review.
	meta := cliMeta(*user, "clerk", *key)
	meta.CommandID += ":review:" + on.String()
	meta.Reason = "eligibility review on " + on.String()
	last := time.Time{}
	res, err := app.NewPersons(d.store).ReviewEligibility(ctx, meta, d.readModels(), on, func(done, total int) {
		if time.Since(last) >= time.Second {
			last = time.Now()
			fmt.Fprintf(e.stderr, "reviewed %d of %d persons\n", done, total)
		}
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "reviewed %d persons on %s: %d with entitlements suspended or ended\n", res.Candidates, on, len(res.Changed))
	for _, id := range res.Changed {
		fmt.Fprintf(e.stdout, "  %s\n", id)
	}
	if !res.Position.IsStart() {
		fmt.Fprintf(e.stdout, "applied at %s\n", res.Position)
	}
	return nil
}

func cmdEligibilityExpiring(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("eligibility expiring", e)
	cfg.bind(fs, e, false)
	within := fs.Int("within", 60, "days ahead to look, from --on")
	township := fs.String("township", "", "one township only (default: every township)")
	onFlag := fs.String("on", "", "the first day of the window (default: today)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *within < 0 || *within > 366 {
		return usageError{"eligibility expiring: --within must be 0 to 366 days"}
	}
	from, err := dateFlag("on", *onFlag)
	if err != nil {
		return err
	}
	if *township != "" {
		if _, err := domain.CheckTownship("township", *township, from); err != nil {
			return usageError{err.Error()}
		}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	to := from.AddDays(*within)
	certs, err := projections.ExpiringCertificates(ctx, d.pool, from, to, *township)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "certificates expiring %s to %s: %d\n", from, to, len(certs))
	town := ""
	for _, c := range certs {
		if c.Township != town {
			town = c.Township
			fmt.Fprintf(e.stdout, "%s\n", town)
		}
		fmt.Fprintf(e.stdout, "  %s  %s  %s  %s  %v\n", c.ValidUntil, c.Name, c.IDMasked, c.NumberMasked, c.Programs)
	}
	return nil
}
