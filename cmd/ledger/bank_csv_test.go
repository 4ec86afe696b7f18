package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/domain"
)

// TestReconciliationReportIsSpreadsheetSafe: what the bank's file says (a
// reference we do not know, a failure reason) reaches the CSV report with
// any formula neutralised.
func TestReconciliationReportIsSpreadsheetSafe(t *testing.T) {
	rec := bankfile.Reconciliation{
		Unknown: []bankfile.ReturnLine{{LineNo: 2, Reference: `=HYPERLINK("http://evil","x")`, Amount: domain.MustMoney("1.00"), Status: bankfile.StatusSettled}},
		Failed:  []bankfile.ReturnLine{{LineNo: 3, Reference: "LS-1", Amount: domain.MustMoney("2.00"), Status: bankfile.StatusFailed, Reason: "@SUM(1+1)"}},
	}
	var out bytes.Buffer
	if err := reconciliationCSV(&out, rec); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		for _, cell := range strings.Split(line, ",") {
			if c := strings.TrimLeft(cell, `"`); c != "" && strings.ContainsAny(c[:1], "=@+") {
				t.Errorf("a cell a spreadsheet would evaluate: %q in\n%s", cell, out.String())
			}
		}
	}
	if !strings.Contains(out.String(), `'=HYPERLINK`) {
		t.Errorf("the unknown reference is missing or not neutralised:\n%s", out.String())
	}
}
