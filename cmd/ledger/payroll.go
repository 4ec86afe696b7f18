package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// cmdPayroll is the finance officers' month:
//
//	ledger payroll run --program P --period YYYY-MM --user NAME [--paid-on DATE]
//	ledger payroll approve BATCH --user NAME
//	ledger payroll reject BATCH --user NAME --reason TEXT
func cmdPayroll(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usageError{"usage: ledger payroll run|approve|reject … (see ledger payroll run -h)"}
	}
	switch args[0] {
	case "run":
		return cmdPayrollRun(ctx, e, args[1:])
	case "approve", "reject":
		return cmdPayrollDecide(ctx, e, args[0], args[1:])
	}
	return usageError{fmt.Sprintf("payroll: unknown subcommand %q; want run, approve or reject", args[0])}
}

// batchID names the n-th batch of a program and period: "living_subsidy.2025-01.1".
func batchID(program domain.ProgramCode, period domain.Period, n int) string {
	return fmt.Sprintf("%s.%s.%d", program, period, n)
}

// parseBatchID splits a batch ID into its program and period.
func parseBatchID(id string) (domain.ProgramCode, domain.Period, error) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		return "", domain.Period{}, domain.Invalid("batch", "%q is not a batch ID like living_subsidy.2025-01.1", id)
	}
	program, err := domain.ParseProgramCode("batch", parts[0])
	if err != nil {
		return "", domain.Period{}, err
	}
	period, err := domain.ParsePeriod("batch", parts[1])
	if err != nil {
		return "", domain.Period{}, err
	}
	if n, err := strconv.Atoi(parts[2]); err != nil || n < 1 {
		return "", domain.Period{}, domain.Invalid("batch", "%q does not end in a batch number", id)
	}
	return program, period, nil
}

func cmdPayrollRun(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("payroll run", e)
	cfg.bind(fs, e, false)
	programFlag := fs.String("program", "", "the monthly program, e.g. living_subsidy")
	periodFlag := fs.String("period", "", "the month to pay, YYYY-MM")
	paidOnFlag := fs.String("paid-on", "", "value date of the payments (default: the 20th of the period)")
	user := fs.String("user", "", "the finance user drafting the batch (another must approve it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	program, err := domain.ParseProgramCode("program", *programFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	period, err := domain.ParsePeriod("period", *periodFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	paidOn := period.First().AddDays(19)
	if *paidOnFlag != "" {
		if paidOn, err = domain.ParseDate("paid-on", *paidOnFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	if *user == "" {
		return usageError{"user: name the finance user drafting the batch (--user NAME)"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.caughtUp(ctx); err != nil {
		return err
	}
	persons, err := projections.PayrollPersons(ctx, d.pool, program)
	if err != nil {
		return err
	}
	p := domain.NewPayroll(d.store)
	state, err := p.State(ctx, program, period)
	if err != nil {
		return err
	}
	id := batchID(program, period, len(state.Batches)+1)
	start := time.Now()
	res, b, err := p.Draft(ctx, d.meta("payroll-run:"+id, *user), domain.DraftPayroll{
		BatchID: id, Program: program, Period: period, PaidOn: paidOn, DraftedBy: *user, Persons: persons})
	if err != nil {
		return err
	}
	kinds := map[domain.PaymentKind]int{}
	for _, l := range b.Lines {
		kinds[l.Kind]++
	}
	fmt.Fprintf(e.stdout, "drafted %s: %d lines, total %s (regular %d, arrears %d, reissue %d) at %s in %s\n",
		id, b.Count, b.Total, kinds[domain.PaymentRegular], kinds[domain.PaymentArrears], kinds[domain.PaymentReissue],
		res.Position, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "another finance user approves it: ledger payroll approve %s --user NAME\n", id)
	return nil
}

func cmdPayrollDecide(ctx context.Context, e *env, verb string, args []string) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{fmt.Sprintf("payroll %s: name the batch, e.g. ledger payroll %s living_subsidy.2025-01.1 --user NAME", verb, verb)}
	}
	id := args[0]
	program, period, err := parseBatchID(id)
	if err != nil {
		return usageError{err.Error()}
	}
	var cfg config
	fs := newFlagSet("payroll "+verb, e)
	cfg.bind(fs, e, false)
	user := fs.String("user", "", "the finance user deciding (not the one who drafted the batch)")
	reason := fs.String("reason", "", "why the batch is rejected (reject only)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *user == "" {
		return usageError{"user: name the finance user (--user NAME)"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	p := domain.NewPayroll(d.store)
	var res domain.AppendResult
	if verb == "approve" {
		res, err = p.Approve(ctx, d.meta("payroll-approve:"+id, *user), program, period, id)
	} else {
		res, err = p.Reject(ctx, d.meta("payroll-reject:"+id, *user), program, period, id, *reason)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %s at %s\n", map[string]string{"approve": "approved", "reject": "rejected"}[verb], id, res.Position)
	return nil
}

// meta is the envelope for a command run from the command line.
func (d *deps) meta(commandID, user string) domain.CommandMeta {
	return domain.CommandMeta{CommandID: commandID, Actor: user, Role: "finance", Now: time.Now()}
}

// caughtUp waits (up to 30 s) until every projection has applied the whole
// log, since payroll reads entitlements from the read models.
func (d *deps) caughtUp(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := d.statuses(ctx)
		if err != nil {
			return err
		}
		behind := 0
		for _, s := range st {
			if s.State != "running" {
				return fmt.Errorf("projection %s is %s: fix it first (ledger project status)", s.Name, s.State)
			}
			behind += int(s.LagEvents)
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("the read models are behind the event log; run `ledger serve` or `ledger project` and retry")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
