package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// cmdPayrollExport writes an approved batch's bank payment file:
//
//	ledger payroll export BATCH --user NAME [--format csv|xlsx] [--encoding utf-8|gb18030] [--out FILE]
func cmdPayrollExport(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{"payroll export: name the batch, e.g. ledger payroll export living_subsidy.2025-01.1 --user NAME"}
	}
	id := args[0]
	program, period, err := domain.ParseBatchID("batch", id)
	if err != nil {
		return usageError{err.Error()}
	}
	var cfg config
	fs := newFlagSet("payroll export", e)
	cfg.bind(fs, e, false)
	user := fs.String("user", "", "the finance user exporting")
	formatFlag := fs.String("format", "csv", "csv or xlsx")
	encFlag := fs.String("encoding", "gb18030", "utf-8 or gb18030 (CSV only; most Chinese banks' batch systems want GB18030/GBK)")
	out := fs.String("out", "", "file to write (default: BATCH.csv or BATCH.xlsx)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	format, err := bankfile.ParseFormat(*formatFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	enc, err := bankfile.ParseEncoding(*encFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	if *user == "" {
		return usageError{"user: name the finance user (--user NAME)"}
	}
	if *out == "" {
		*out = id + "." + format.String()
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.caughtUp(ctx); err != nil {
		return err
	}
	pay := domain.NewPayroll(d.store)
	state, err := pay.State(ctx, program, period)
	if err != nil {
		return err
	}
	b := state.Batches[id]
	if b == nil {
		return fmt.Errorf("batch %s: %w", id, domain.ErrNotFound)
	}
	if b.State != domain.BatchStateApproved {
		return fmt.Errorf("batch %s is %s: only an approved batch is sent to the bank", id, b.State)
	}
	var persons []domain.PersonID
	for _, l := range b.Drafted.Lines {
		persons = append(persons, l.PersonID)
	}
	accounts, err := projections.BankAccounts(ctx, d.pool, persons)
	if err != nil {
		return err
	}
	v := d.cfg.vault()
	var lines []bankfile.PaymentFileLine
	var missing []string
	total := domain.Money{}
	for _, l := range b.Drafted.Lines {
		if state.Status[l.Reference] != "issued" {
			continue // settled or failed already: not sent again
		}
		a, ok := accounts[l.PersonID]
		if !ok {
			missing = append(missing, string(l.PersonID))
			continue
		}
		number, err := v.Open(a.AccountSealed)
		if err != nil {
			return fmt.Errorf("account of %s: %w", l.PersonID, err)
		}
		lines = append(lines, bankfile.PaymentFileLine{Reference: l.Reference, AccountName: a.AccountName, AccountMasked: a.AccountMasked,
			AccountNumber: number, Amount: l.Amount, Note: fmt.Sprintf("%s %s %s", program, l.Period, l.Kind)})
		total = total.Add(l.Amount)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("%d persons in batch %s have no bank account recorded (POST /v1/persons/{id}/bank-account): %v", len(missing), id, missing)
	}
	var buf bytes.Buffer
	hdr := bankfile.BatchHeader{BatchID: id, Program: string(program), Period: period.String(), Count: len(lines), Total: total}
	if err := bankfile.WritePayments(&buf, format, enc, hdr, lines); err != nil {
		return err
	}
	sum := sha256.Sum256(buf.Bytes())
	if err := os.WriteFile(*out, buf.Bytes(), 0o600); err != nil {
		return err
	}
	res, err := pay.RecordExport(ctx, d.meta("payroll-export:"+id+":"+hex.EncodeToString(sum[:8]), *user), program, period, domain.BatchExported{
		BatchID: id, Format: format.String(), Encoding: enc.String(), FileSHA256: hex.EncodeToString(sum[:]),
		Count: len(lines), Total: total, ExportedBy: *user})
	if err != nil {
		_ = os.Remove(*out)
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d payments, total %s (%s, %s); recorded at %s\n", *out, len(lines), total, format, enc, res.Position)
	return nil
}

// cmdReconcile applies a bank return file to a batch:
//
//	ledger reconcile BATCH --file RETURN --user NAME [--on DATE] [--report FILE.csv]
func cmdReconcile(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{"reconcile: name the batch, e.g. ledger reconcile living_subsidy.2025-01.1 --file return.csv --user NAME"}
	}
	id := args[0]
	if _, _, err := domain.ParseBatchID("batch", id); err != nil {
		return usageError{err.Error()}
	}
	var cfg config
	fs := newFlagSet("reconcile", e)
	cfg.bind(fs, e, false)
	file := fs.String("file", "", "the bank's return file (CSV or XLSX; UTF-8 or GB18030)")
	user := fs.String("user", "", "the finance user importing")
	onFlag := fs.String("on", "", "settlement date (default: today)")
	report := fs.String("report", "", "also write the reconciliation report as CSV to this file")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *file == "" || *user == "" {
		return usageError{"reconcile: --file and --user are required"}
	}
	raw, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	meta := d.meta("", *user)
	on := domain.DateOf(meta.Now)
	if *onFlag != "" {
		if on, err = domain.ParseDate("on", *onFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	applied, err := bankfile.Reconcile(ctx, domain.NewPayroll(d.store), meta, id, *file, raw, on)
	var fe *bankfile.FileError
	if errors.As(err, &fe) {
		fmt.Fprintf(e.stderr, "%s: nothing was applied; fix these lines and import the file again:\n", *file)
		for _, p := range fe.Problems {
			fmt.Fprintf(e.stderr, "  %s\n", p)
		}
		return fmt.Errorf("%s has %d malformed lines", *file, len(fe.Problems))
	}
	if err != nil {
		return err
	}
	if applied.AlreadyImported {
		fmt.Fprintf(e.stdout, "this return file was already imported into batch %s; nothing changes\n", id)
		return nil
	}
	rec, res := applied.Reconciliation, applied
	writeReconciliation(e.stdout, id, rec)
	fmt.Fprintf(e.stdout, "applied at %s\n", res.Position)
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			return err
		}
		defer f.Close()
		return reconciliationCSV(f, rec)
	}
	return nil
}

func writeReconciliation(w io.Writer, id string, rec bankfile.Reconciliation) {
	t := rec.Totals
	fmt.Fprintf(w, "batch %s\n", id)
	for _, row := range []struct {
		name string
		t    bankfile.Tally
	}{{"expected", t.Expected}, {"settled", t.Settled}, {"failed", t.Failed}, {"amount mismatch", t.AmountMismatch},
		{"unknown reference", t.Unknown}, {"duplicate line", t.Duplicate}, {"missing from file", t.Missing}} {
		fmt.Fprintf(w, "  %-18s %6d  %14s\n", row.name, row.t.Count, row.t.Total)
	}
	for _, m := range rec.AmountMismatch {
		fmt.Fprintf(w, "  line %d: %s: bank reports %s, issued %s (not applied)\n", m.Line.LineNo, m.Line.Reference, m.Line.Amount, m.Expected)
	}
	for _, u := range rec.Unknown {
		fmt.Fprintf(w, "  line %d: %s: no such payment in this batch\n", u.LineNo, u.Reference)
	}
	for _, dl := range rec.Duplicate {
		fmt.Fprintf(w, "  line %d: %s: duplicate of line %d (ignored)\n", dl.Line.LineNo, dl.Line.Reference, dl.FirstLineNo)
	}
}

// reconciliationCSV writes every classified line: category, line, reference, amount, detail.
func reconciliationCSV(w io.Writer, rec bankfile.Reconciliation) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"category", "line", "reference", "amount", "detail"})
	for _, l := range rec.Settled {
		_ = cw.Write([]string{"settled", fmt.Sprint(l.LineNo), l.Reference, l.Amount.String(), l.BankReference})
	}
	for _, l := range rec.Failed {
		_ = cw.Write([]string{"failed", fmt.Sprint(l.LineNo), l.Reference, l.Amount.String(), l.Reason})
	}
	for _, m := range rec.AmountMismatch {
		_ = cw.Write([]string{"amount_mismatch", fmt.Sprint(m.Line.LineNo), m.Line.Reference, m.Line.Amount.String(), "issued " + m.Expected.String()})
	}
	for _, l := range rec.Unknown {
		_ = cw.Write([]string{"unknown", fmt.Sprint(l.LineNo), l.Reference, l.Amount.String(), ""})
	}
	for _, dl := range rec.Duplicate {
		_ = cw.Write([]string{"duplicate", fmt.Sprint(dl.Line.LineNo), dl.Line.Reference, dl.Line.Amount.String(), fmt.Sprint("first on line ", dl.FirstLineNo)})
	}
	for _, m := range rec.Missing {
		_ = cw.Write([]string{"missing", "", m.Reference, m.Amount.String(), ""})
	}
	cw.Flush()
	return cw.Error()
}
