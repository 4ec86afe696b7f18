package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/sheet"
	"github.com/lushan-dpf/ledger/projections"
)

// cmdPayroll is the finance officers' month (docs/payroll.md).
func cmdPayroll(ctx context.Context, e *env, args []string) error {
	if done, err := subcommands(e, args, "usage: ledger payroll run|approve|reject|resume|export|report|claims|months|recover|write-off … (see ledger payroll run -h)"); done {
		return err
	}
	switch args[0] {
	case "run":
		return cmdPayrollRun(ctx, e, args[1:])
	case "approve", "reject", "resume":
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
	return usageError{fmt.Sprintf("payroll: unknown subcommand %q; want run, approve, reject, resume, export, report, claims, months, recover or write-off", args[0])}
}

// commandKey binds --key: the idempotency key of a payroll command. The
// same key (and user) runs a command once: run again after a crash, it
// finishes and answers as the first run would have.
func commandKey(fs *flag.FlagSet) *string {
	return fs.String("key", "", "idempotency key: the same key runs the command once, and a rerun after a crash finishes it (default: a new key each run)")
}

// payrollMeta is the envelope of a finance user's command from the command
// line (an operator's tool: --user names the acting user).
func payrollMeta(user, key string) domain.CommandMeta { return cliMeta(user, "finance", key) }

// cliMeta is the envelope of a command a user of role runs from the
// command line: command ID cli:USER:KEY, KEY a new one when key is "".
func cliMeta(user, role, key string) domain.CommandMeta {
	if key == "" {
		key = uuid.NewString()
	}
	return domain.CommandMeta{CommandID: "cli:" + commandUser(user) + ":" + key, Actor: user, Role: role, Now: time.Now()}
}

// commandUser escapes ":" so that "cli:USER:KEY" names one user and key.
func commandUser(user string) string {
	return strings.NewReplacer("%", "%25", ":", "%3A").Replace(user)
}

// payroll returns the payroll use cases on d, reporting progress on
// stderr.
func (d *deps) payroll(e *env) *app.Payroll {
	last := time.Time{}
	return app.NewPayroll(d.store, d.readModels(), d.cfg.vault()).WithProgress(func(p app.Progress) {
		if time.Since(last) < time.Second {
			return
		}
		last = time.Now()
		if p.Total > 0 {
			fmt.Fprintf(e.stderr, "%s: %s %d of %d lines\n", p.BatchID, p.Step, p.Done, p.Total)
		} else {
			fmt.Fprintf(e.stderr, "%s %s: %d lines\n", p.BatchID, p.Step, p.Done)
		}
	})
}

func cmdPayrollRun(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("payroll run", e)
	cfg.bind(fs, e, false)
	programFlag := fs.String("program", "", "the program: monthly (e.g. living_subsidy), the annual fuel_allowance or a one-off one (e.g. device_subsidy) (required)")
	periodFlag := fs.String("period", "", "the month to pay, YYYY-MM (required)")
	paidOnFlag := fs.String("paid-on", "", "value date of the payments (default: the 20th of the period)")
	user := fs.String("user", "", "the finance user drafting the batch; another must approve it (required)")
	key := commandKey(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *programFlag == "" {
		return usageError{"payroll run: --program is required, e.g. --program living_subsidy"}
	}
	program, err := domain.ParseProgramCode("program", *programFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	if *periodFlag == "" {
		return usageError{"payroll run: --period is required, e.g. --period 2025-01"}
	}
	period, err := domain.ParsePeriod("period", *periodFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	var paidOn domain.Date
	if *paidOnFlag != "" {
		if paidOn, err = domain.ParseDate("paid-on", *paidOnFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	if *user == "" {
		return usageError{"payroll run: --user is required: name the finance user drafting the batch"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	start := time.Now()
	res, err := d.payroll(e).Draft(ctx, payrollMeta(*user, *key), app.DraftRequest{Program: program, Period: period, PaidOn: paidOn})
	printClaims(e.stdout, res.Claims)
	if err != nil {
		return err
	}
	b := res.Batch
	fmt.Fprintf(e.stdout, "drafted %s: %d lines, total %s (regular %d, arrears %d, reissue %d) at %s in %s\n",
		b.BatchID, b.Lines.Count, b.Lines.Total, b.Regular.Count, b.Arrears.Count, b.Reissue.Count, res.Position, time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(e.stdout, "another finance user approves it: ledger payroll approve %s --user NAME\n", b.BatchID)
	return nil
}

func printClaims(w io.Writer, claims []domain.OverpaymentClaimed) {
	for _, c := range claims {
		fmt.Fprintf(w, "overpayment claim %s: %s for %s, payments %v\n", c.ClaimID, c.Amount, c.Period, c.References)
	}
}

// batchArg parses a payroll subcommand's flags and the batch ID they
// surround.
func batchArg(fs *flag.FlagSet, verb string, args []string) (string, error) {
	id, err := parseWithArg(fs, args, fmt.Sprintf("payroll %s: name the batch, e.g. ledger payroll %s living_subsidy.2025-01.k3fq7a --user NAME", verb, verb))
	if err != nil {
		return "", err
	}
	if _, _, err := domain.ParseBatchID("batch", id); err != nil {
		return "", usageError{err.Error()}
	}
	return id, nil
}

func cmdPayrollDecide(ctx context.Context, e *env, verb string, args []string) error {
	var cfg config
	fs := newFlagSet("payroll "+verb, e)
	cfg.bind(fs, e, false)
	user := fs.String("user", "", "the finance user deciding (to approve: not the one who drafted the batch) (required)")
	reason := fs.String("reason", "", "why the batch is rejected (reject only; required there)")
	key := commandKey(fs)
	id, err := batchArg(fs, verb, args)
	if err != nil {
		return err
	}
	if *user == "" {
		return usageError{fmt.Sprintf("payroll %s: --user is required: name the finance user", verb)}
	}
	if verb == "reject" && strings.TrimSpace(*reason) == "" {
		return usageError{"payroll reject: --reason is required: say why the batch is rejected"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	pay, meta := d.payroll(e), payrollMeta(*user, *key)
	switch verb {
	case "approve":
		res, err := pay.Approve(ctx, meta, id)
		var se *domain.BatchStateError
		if errors.As(err, &se) && se.Batch.Approved != nil {
			return fmt.Errorf("your approval was not recorded: %w", err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "approved %s by %s: %d payments issued, total %s", id, res.ApprovedBy, res.Issued.Count, res.Issued.Total)
		if res.Withheld.Count > 0 {
			fmt.Fprintf(e.stdout, "; %d withheld (%s): their months are no longer owed", res.Withheld.Count, res.Withheld.Total)
		}
		fmt.Fprintf(e.stdout, " at %s\n", res.Position)
	case "reject":
		res, err := pay.Reject(ctx, meta, id, *reason)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "rejected %s by %s: %d lines released (%s) at %s\n", id, res.RejectedBy, res.Released.Count, res.Released.Total, res.Position)
	case "resume":
		state, err := pay.Resume(ctx, meta, id)
		if err != nil {
			return err
		}
		b, err := pay.Batch(ctx, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "batch %s was %s; it is now %s\n", id, state, b.State)
	}
	return nil
}

// cmdPayrollReport prints a batch's report: totals, then every line, as
// CSV with --csv.
func cmdPayrollReport(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("payroll report", e)
	cfg.bind(fs, e, false)
	asCSV := fs.Bool("csv", false, "print every line as CSV")
	id, err := batchArg(fs, "report", args)
	if err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	r, err := d.payroll(e).Report(ctx, id)
	if err != nil {
		return err
	}
	totals := []struct {
		name string
		ct   domain.CountTotal
	}{{"expected", r.Expected}, {"withheld", r.Withheld}, {"settled", r.Settled}, {"failed", r.Failed}, {"reversed", r.Reversed}, {"outstanding", r.Outstanding}}
	if *asCSV {
		cw := csv.NewWriter(e.stdout)
		_ = cw.Write([]string{"reference", "person_id", "kind", "period", "amount", "township", "status"})
		for _, l := range r.Lines {
			_ = cw.Write([]string{l.Reference, string(l.PersonID), string(l.Kind), l.Period.String(), l.Amount.String(), sheet.SafeCell(l.Township), l.Status})
		}
		for _, t := range totals {
			_ = cw.Write([]string{"total:" + t.name, "", "", "", t.ct.Total.String(), fmt.Sprint(t.ct.Count), ""})
		}
		cw.Flush()
		return cw.Error()
	}
	fmt.Fprintf(e.stdout, "batch %s (%s, drafted by %s", r.BatchID, r.State, r.DraftedBy)
	if r.ApprovedBy != "" {
		fmt.Fprintf(e.stdout, ", approved by %s", r.ApprovedBy)
	}
	if r.RejectedBy != "" {
		fmt.Fprintf(e.stdout, ", rejected by %s", r.RejectedBy)
	}
	fmt.Fprintf(e.stdout, ", paid on %s)\n", r.PaidOn)
	if r.Progress != nil {
		fmt.Fprintf(e.stdout, "  in progress: %s; ledger payroll resume %s finishes it\n", r.Progress, r.BatchID)
	}
	for _, t := range totals {
		fmt.Fprintf(e.stdout, "  %-12s %6d  %14s\n", t.name, t.ct.Count, t.ct.Total)
	}
	for _, l := range r.Lines {
		if l.Status == "failed" || l.Status == "reversed" || l.Status == "withheld" {
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
	programFlag := fs.String("program", "", "the program (required)")
	user := fs.String("user", "", "the finance user recording the claims (required)")
	key := commandKey(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *programFlag == "" {
		return usageError{"payroll claims: --program is required, e.g. --program living_subsidy"}
	}
	program, err := domain.ParseProgramCode("program", *programFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	if *user == "" {
		return usageError{"payroll claims: --user is required: name the finance user"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	claims, err := d.payroll(e).RecordClaims(ctx, payrollMeta(*user, *key), program)
	printClaims(e.stdout, claims)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d claims recorded\n", len(claims))
	return nil
}

// cmdPayrollMonths prints a program's year month by month as CSV.
func cmdPayrollMonths(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("payroll months", e)
	cfg.bind(fs, e, false)
	programFlag := fs.String("program", "", "the program (required)")
	year := fs.Int("year", time.Now().Year(), "the year")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *programFlag == "" {
		return usageError{"payroll months: --program is required, e.g. --program living_subsidy"}
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
	var cfg config
	fs := newFlagSet("payroll "+verb, e)
	cfg.bind(fs, e, false)
	amountFlag := fs.String("amount", "", "how much, e.g. 110.00 (required)")
	user := fs.String("user", "", "the finance user recording it (required)")
	reason := fs.String("reason", "", "why (required for a write-off)")
	key := commandKey(fs)
	claimID, err := parseWithArg(fs, args, fmt.Sprintf("payroll %s: name the claim, e.g. ledger payroll %s ovp-… --amount 110.00 --user NAME", verb, verb))
	if err != nil {
		return err
	}
	amount, err := domain.ParseMoney("amount", *amountFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	if *user == "" {
		return usageError{fmt.Sprintf("payroll %s: --user is required: name the finance user", verb)}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	meta := payrollMeta(*user, *key)
	meta.Reason = *reason
	res, err := d.payroll(e).SettleClaim(ctx, meta, app.SettleClaimRequest{ClaimID: claimID, Amount: amount, WriteOff: writeOff, Reason: *reason})
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s %s of claim %s (%s asked, %s before this) at %s\n", map[bool]string{false: "recovered", true: "wrote off"}[writeOff],
		amount, claimID, res.Claim.Amount, res.Before, res.Position)
	return nil
}
