package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/sheet"
)

// cmdPayrollExport writes an approved batch's bank payment file:
//
//	ledger payroll export BATCH --user NAME [--format csv|xlsx] [--encoding utf-8|gb18030] [--out FILE]
func cmdPayrollExport(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("payroll export", e)
	cfg.bind(fs, e, false)
	user := fs.String("user", "", "the finance user exporting (required)")
	formatFlag := fs.String("format", "csv", "csv or xlsx")
	encFlag := fs.String("encoding", "", "utf-8 or gb18030, for CSV (default gb18030: most Chinese banks' batch systems want GB18030/GBK); XLSX is always UTF-8")
	out := fs.String("out", "", "file to write (default: BATCH.csv or BATCH.xlsx)")
	key := commandKey(fs)
	id, err := batchArg(fs, "export", args)
	if err != nil {
		return err
	}
	format, err := bankfile.ParseFormat(*formatFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	if *encFlag != "" {
		if _, err := bankfile.ParseEncoding(*encFlag); err != nil {
			return usageError{err.Error()}
		}
	}
	if *user == "" {
		return usageError{"payroll export: --user is required: name the finance user"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	meta := payrollMeta(*user, *key)
	if *key == "" {
		// One export per batch and file: a rerun that writes the same file
		// records nothing new.
		meta.CommandID = "cli:" + commandUser(*user) + ":export:" + id + ":" + format.String() + ":" + *encFlag
	}
	res, err := d.payroll(e).Export(ctx, meta, app.ExportRequest{BatchID: id, Format: format.String(), Encoding: *encFlag})
	var ce *domain.ConflictError
	if errors.As(err, &ce) && *key == "" {
		// The file changed since the last export under the default key
		// (the accounts, or payments settled since): record this one.
		meta.CommandID += ":" + time.Now().UTC().Format(time.RFC3339Nano)
		res, err = d.payroll(e).Export(ctx, meta, app.ExportRequest{BatchID: id, Format: format.String(), Encoding: *encFlag})
	}
	if err != nil {
		return err
	}
	if *out == "" {
		*out = res.Name
	}
	if err := os.WriteFile(*out, res.File, 0o600); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d payments, total %s (SHA-256 %.12s…); recorded at %s\n", *out, res.Count, res.Total, res.SHA256, res.Position)
	return nil
}

// cmdReconcile applies a bank return file to a batch:
//
//	ledger reconcile BATCH --file RETURN --user NAME [--on DATE] [--report FILE.csv]
func cmdReconcile(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("reconcile", e)
	cfg.bind(fs, e, false)
	file := fs.String("file", "", "the bank's return file (CSV or XLSX; UTF-8 or GB18030) (required)")
	user := fs.String("user", "", "the finance user importing (required)")
	onFlag := fs.String("on", "", "settlement date (default: today)")
	report := fs.String("report", "", "also write the reconciliation report as CSV to this file")
	key := commandKey(fs)
	id, err := parseWithArg(fs, args, "reconcile: name the batch, e.g. ledger reconcile living_subsidy.2025-01.k3fq7a --file return.csv --user NAME")
	if err != nil {
		return err
	}
	if _, _, err := domain.ParseBatchID("batch", id); err != nil {
		return usageError{err.Error()}
	}
	if *file == "" || *user == "" {
		return usageError{"reconcile: --file and --user are required"}
	}
	var on domain.Date
	if *onFlag != "" {
		var err error
		if on, err = domain.ParseDate("on", *onFlag); err != nil {
			return usageError{err.Error()}
		}
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
	meta := payrollMeta(*user, *key)
	if *key == "" {
		sum := sha256.Sum256(raw)
		meta.CommandID = "cli:" + commandUser(*user) + ":reconcile:" + id + ":" + hex.EncodeToString(sum[:8])
	}
	res, err := d.payroll(e).Reconcile(ctx, meta, app.ReconcileRequest{BatchID: id, Name: *file, Raw: raw, On: on})
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
	if res.AlreadyImported {
		fmt.Fprintf(e.stdout, "this return file was already imported into batch %s; nothing changed\n", id)
	}
	writeReconciliation(e.stdout, id, res.Reconciliation)
	printClaims(e.stdout, res.Claims)
	if !res.Position.IsStart() {
		fmt.Fprintf(e.stdout, "applied at %s\n", res.Position)
	}
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			return err
		}
		defer f.Close()
		return reconciliationCSV(f, res.Reconciliation)
	}
	return nil
}

func writeReconciliation(w io.Writer, id string, rec bankfile.Reconciliation) {
	fmt.Fprintf(w, "batch %s\n", id)
	for _, c := range rec.Tallies() {
		fmt.Fprintf(w, "  %-18s %6d  %14s\n", c.Title, c.Count, c.Total)
	}
	const most = 20 // a million-line file's exceptions belong in --report
	listed, more := 0, 0
	for _, r := range rec.Rows() {
		if !r.Category.Exception || r.Category == bankfile.CatFailed || r.Category == bankfile.CatMissing {
			continue // counted above; the CSV report lists them
		}
		if listed == most {
			more++
			continue
		}
		listed++
		fmt.Fprintf(w, "  line %d: %s %s: %s: %s\n", r.LineNo, r.Reference, r.Amount, r.Category.Title, r.Detail)
	}
	if more > 0 {
		fmt.Fprintf(w, "  … and %d more lines to look at: --report FILE lists every line\n", more)
	}
}

// reconciliationCSV writes every classified line: category, line, reference, amount, detail.
func reconciliationCSV(w io.Writer, rec bankfile.Reconciliation) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"category", "line", "reference", "amount", "detail"})
	for _, r := range rec.Rows() {
		line := ""
		if r.LineNo > 0 {
			line = fmt.Sprint(r.LineNo)
		}
		// The reference and detail come from the bank's file.
		_ = cw.Write([]string{r.Category.Name, line, sheet.SafeCell(r.Reference), r.Amount.String(), sheet.SafeCell(r.Detail)})
	}
	cw.Flush()
	return cw.Error()
}
