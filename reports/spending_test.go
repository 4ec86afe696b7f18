package reports_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// TestSpendingReport reads the spending report of the annual summary's
// fixture in each grouping, checks that every grouping adds up to the
// same year's total and to what the budgets say was spent, and compares
// the CSV and XLSX of the monthly report with the golden files.
func TestSpendingReport(t *testing.T) {
	t.Parallel()
	l := annualFixture(t)
	rm := projections.ReadModels{Q: l.db.Pool}
	var totals []domain.Money
	for _, group := range reports.SpendingGroups {
		r, err := reports.Spending(l.ctx, rm, 2024, group)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Rows) == 0 || len(r.Budgets) == 0 {
			t.Fatalf("%s: %d rows, %d budgets", group, len(r.Rows), len(r.Budgets))
		}
		spent := domain.Money{}
		for _, b := range r.Budgets {
			spent = spent.Add(b.Spent)
		}
		if !spent.Equal(r.Total) {
			t.Errorf("%s: the rows add up to %s, the budgets' spent to %s", group, r.Total, spent)
		}
		totals = append(totals, r.Total)

		var xlsx bytes.Buffer
		if err := reports.SpendingWrite(&xlsx, r, reports.AnnualXLSX); err != nil {
			t.Fatal(err)
		}
		if got := annualColumnSum(t, xlsx.Bytes(), reports.SpendingSheet, "发放金额(Amount paid)"); got != r.Total.Fen() {
			t.Errorf("%s: the XLSX's amounts add up to %d fen, want %d", group, got, r.Total.Fen())
		}
		if group != "month" {
			continue
		}
		var csv bytes.Buffer
		if err := reports.SpendingWrite(&csv, r, reports.AnnualCSV); err != nil {
			t.Fatal(err)
		}
		annualGolden(t, "spending_2024_month.csv", csv.Bytes())
		annualGolden(t, "spending_2024_month.xlsx.txt", spendingReadBack(t, xlsx.Bytes()))
	}
	if !totals[0].Equal(totals[1]) || !totals[0].Equal(totals[2]) {
		t.Errorf("the groupings' totals differ: %v", totals)
	}
	if got := reports.SpendingFilename(2024, "township", reports.AnnualXLSX); got != "spending-2024-township.xlsx" {
		t.Errorf("file name %q", got)
	}
	var out bytes.Buffer
	if err := reports.SpendingWrite(&out, reports.SpendingReport{Year: 2024}, reports.AnnualJSON); !errors.Is(err, domain.ErrInvalid) || out.Len() != 0 {
		t.Errorf("JSON: %v, %d bytes written; want an invalid format and nothing", err, out.Len())
	}
}

// spendingReadBack renders the report's workbook as annualReadBack does,
// after checking its sheets.
func spendingReadBack(t *testing.T, data []byte) []byte {
	t.Helper()
	return readBackSheets(t, data, reports.SpendingSheet, reports.BudgetSheet)
}
