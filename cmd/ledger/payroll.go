package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
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
		return usageError{"usage: ledger payroll run|approve|reject|export|report|claims|months|recover|write-off … (see ledger payroll run -h)"}
	}
	switch args[0] {
	case "run":
		return cmdPayrollRun(ctx, e, args[1:])
	case "approve", "reject":
		return cmdPayrollDecide(ctx, e, args[0], args[1:])
	case "export":
		return cmdPayrollExport(ctx, e, args[1:])
	case "report":
		return cmdPayrollReport(ctx, e, args[1:])
	case "claims":
		return cmdPayrollClaims(ctx, e, args[1:])
	case "months":
		return cmdPayrollMonths(ctx, e, args[1:])
	case "recover", "write-off":
		return cmdPayrollSettleClaim(ctx, e, args[0] == "write-off", args[1:])
	}
	return usageError{fmt.Sprintf("payroll: unknown subcommand %q; want run, approve, reject, export, report, claims, months, recover or write-off", args[0])}
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
	// Overpayments first: a death or termination recorded late turns
	// payments already made into claims, which the draft then respects.
	persons, _, err := recordClaims(ctx, e, d, program, *user)
	if err != nil {
		return err
	}
	p := domain.NewPayroll(d.store)
	state, err := p.State(ctx, program, period)
	if err != nil {
		return err
	}
	id := domain.BatchID(program, period, len(state.Batches)+1)
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
	program, period, err := domain.ParseBatchID("batch", id)
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

// cmdPayrollReport prints a batch's report: totals, then every line, as
// CSV with --csv.
func cmdPayrollReport(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{"payroll report: name the batch, e.g. ledger payroll report living_subsidy.2025-01.1 [--csv]"}
	}
	id := args[0]
	program, period, err := domain.ParseBatchID("batch", id)
	if err != nil {
		return usageError{err.Error()}
	}
	var cfg config
	fs := newFlagSet("payroll report", e)
	cfg.bind(fs, e, false)
	asCSV := fs.Bool("csv", false, "print every line as CSV")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	state, err := domain.NewPayroll(d.store).State(ctx, program, period)
	if err != nil {
		return err
	}
	r, err := state.Report(id)
	if err != nil {
		return err
	}
	if *asCSV {
		cw := csv.NewWriter(e.stdout)
		_ = cw.Write([]string{"reference", "person_id", "kind", "period", "amount", "township", "status"})
		for _, l := range r.Lines {
			_ = cw.Write([]string{l.Reference, string(l.PersonID), string(l.Kind), l.Period.String(), l.Amount.String(), l.Township, l.Status})
		}
		for _, t := range []struct {
			name string
			ct   domain.CountTotal
		}{{"expected", r.Expected}, {"settled", r.Settled}, {"failed", r.Failed}, {"reversed", r.Reversed}, {"outstanding", r.Outstanding}} {
			_ = cw.Write([]string{"total:" + t.name, "", "", "", t.ct.Total.String(), fmt.Sprint(t.ct.Count), ""})
		}
		cw.Flush()
		return cw.Error()
	}
	fmt.Fprintf(e.stdout, "batch %s (%s, drafted by %s, paid on %s)\n", r.BatchID, r.State, r.DraftedBy, r.PaidOn)
	for _, t := range []struct {
		name string
		ct   domain.CountTotal
	}{{"expected", r.Expected}, {"settled", r.Settled}, {"failed", r.Failed}, {"reversed", r.Reversed}, {"outstanding", r.Outstanding}} {
		fmt.Fprintf(e.stdout, "  %-12s %6d  %14s\n", t.name, t.ct.Count, t.ct.Total)
	}
	for _, l := range r.Lines {
		if l.Status == "failed" || l.Status == "reversed" {
			fmt.Fprintf(e.stdout, "  %s %s %s %s\n", l.Status, l.Reference, l.Amount, l.Period)
		}
	}
	return nil
}

// cmdPayrollClaims records overpayment claims for a program now.
func cmdPayrollClaims(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("payroll claims", e)
	cfg.bind(fs, e, false)
	programFlag := fs.String("program", "", "the monthly program")
	user := fs.String("user", "", "the finance user recording the claims")
	if err := parse(fs, args); err != nil {
		return err
	}
	program, err := domain.ParseProgramCode("program", *programFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	if *user == "" {
		return usageError{"user: name the finance user (--user NAME)"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	_, n, err := recordClaims(ctx, e, d, program, *user)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d claims recorded\n", n)
	return nil
}

// recordClaims waits for the read models, reads the program's persons and
// records an overpayment claim for every month paid but not owed, printing
// each. It returns the persons (for a draft) and the number of claims.
func recordClaims(ctx context.Context, e *env, d *deps, program domain.ProgramCode, user string) ([]domain.PayrollPerson, int, error) {
	if err := d.caughtUp(ctx); err != nil {
		return nil, 0, err
	}
	persons, err := projections.PayrollPersons(ctx, d.pool, program)
	if err != nil {
		return nil, 0, err
	}
	meta := d.meta("payroll-claims:"+string(program)+":"+time.Now().Format(time.RFC3339Nano), user)
	claims, _, err := domain.NewPayroll(d.store).ClaimOverpayments(ctx, meta, program, persons)
	if err != nil {
		return nil, 0, err
	}
	for _, c := range claims {
		fmt.Fprintf(e.stdout, "overpayment claim %s: %s for %s, payments %v\n", c.ClaimID, c.Amount, c.Period, c.References)
	}
	return persons, len(claims), nil
}

// cmdPayrollMonths prints a program's year month by month as CSV.
func cmdPayrollMonths(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("payroll months", e)
	cfg.bind(fs, e, false)
	programFlag := fs.String("program", "", "the program")
	year := fs.Int("year", time.Now().Year(), "the year")
	if err := parse(fs, args); err != nil {
		return err
	}
	program, err := domain.ParseProgramCode("program", *programFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	months, err := projections.ProgramMonths(ctx, d.pool, program, *year)
	if err != nil {
		return err
	}
	cw := csv.NewWriter(e.stdout)
	_ = cw.Write([]string{"month", "paid", "payments", "outstanding", "outstanding_payments", "overpaid", "recovered", "written_off"})
	for _, m := range months {
		_ = cw.Write([]string{m.Month.String(), m.Paid.String(), fmt.Sprint(m.Payments), m.Outstanding.String(), fmt.Sprint(m.OutstandingCount),
			m.Overpaid.String(), m.Recovered.String(), m.WrittenOff.String()})
	}
	cw.Flush()
	return cw.Error()
}

// cmdPayrollSettleClaim records a recovery or write-off of an overpayment
// claim: ledger payroll recover|write-off CLAIM --amount X --user U [--reason R].
func cmdPayrollSettleClaim(ctx context.Context, e *env, writeOff bool, args []string) error {
	verb := map[bool]string{false: "recover", true: "write-off"}[writeOff]
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{fmt.Sprintf("payroll %s: name the claim, e.g. ledger payroll %s ovp-… --amount 110.00 --user NAME", verb, verb)}
	}
	claimID := args[0]
	var cfg config
	fs := newFlagSet("payroll "+verb, e)
	cfg.bind(fs, e, false)
	amountFlag := fs.String("amount", "", "how much, e.g. 110.00")
	user := fs.String("user", "", "the finance user recording it")
	reason := fs.String("reason", "", "why (required for a write-off)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	amount, err := domain.ParseMoney("amount", *amountFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	if *user == "" {
		return usageError{"user: name the finance user (--user NAME)"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	claim, remaining, err := projections.Claim(ctx, d.pool, claimID)
	if err != nil {
		return err
	}
	meta := d.meta("payroll-"+verb+":"+claimID+":"+time.Now().Format(time.RFC3339Nano), *user)
	meta.Reason = *reason
	res, err := domain.NewPayroll(d.store).SettleClaim(ctx, meta, claim, remaining, amount, writeOff, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %s of claim %s (%s asked, %s before this) at %s\n", map[bool]string{false: "recovered", true: "wrote off"}[writeOff],
		amount, claimID, claim.Amount, remaining, res.Position)
	return nil
}
