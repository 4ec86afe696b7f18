package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/reports"
)

// cmdReportAnnual writes the annual summary of a calendar year:
//
//	ledger report annual --year YYYY [--format table|csv|json|xlsx] [--out FILE]
//
// It waits for the read models to catch up with the event log first (up
// to 30 s: `ledger serve` or `ledger project` must be running), then
// writes to --out, or to stdout; xlsx needs --out. docs/reports.md defines
// every figure.
func cmdReportAnnual(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("report annual", e)
	cfg.bind(fs, e, false)
	yearFlag := fs.String("year", "", "the calendar year, e.g. 2024")
	formatFlag := fs.String("format", string(reports.AnnualTable), "table, csv, json or xlsx")
	out := fs.String("out", "", "file to write (default: stdout; required for xlsx)")
	if err := parse(fs, args); err != nil {
		return err
	}
	today := domain.DateOf(time.Now())
	year, err := reports.AnnualParseYear("year", *yearFlag, today)
	if err != nil {
		return usageError{err.Error()}
	}
	format, err := reports.AnnualParseFormat("format", *formatFlag, reports.AnnualTable, reports.AnnualCSV, reports.AnnualJSON, reports.AnnualXLSX)
	if err != nil {
		return usageError{err.Error()}
	}
	if format == reports.AnnualXLSX && *out == "" {
		return usageError{"out: an xlsx summary is written to a file (--out FILE)"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.readModels().CaughtUp(ctx); err != nil {
		return err
	}
	s, err := reports.Annual(ctx, d.readModels(), year, today)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := reports.AnnualWrite(&buf, s, format); err != nil {
		return err
	}
	if *out == "" {
		_, err := e.stdout.Write(buf.Bytes())
		return err
	}
	if err := os.WriteFile(*out, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the annual summary: %w", err)
	}
	fmt.Fprintf(e.stderr, "annual summary %d (%s, %d bytes) written to %s; total paid %s\n", year, format, buf.Len(), *out, s.TotalPaid)
	return nil
}
