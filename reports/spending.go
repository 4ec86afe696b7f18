package reports

import (
	"context"
	"fmt"
	"io"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// The spending report (支出与预算): a year's net spending per program,
// grouped further by month or by township, beside each program's budget —
// what the finance desk shows as charts and tables and lets finance
// download as CSV or XLSX. The figures are the spending read model's: a
// payment counts in the month of its value date (paid_on), net of failed
// and reversed payments; persons are distinct within each line; a
// budget's spent is the program's net spending in the year. (The annual
// summary's paid counts settled payments only; docs/reports.md.)

// SpendingReadModels are the read models behind the report
// (projections.ReadModels implements them).
type SpendingReadModels interface {
	Spending(ctx context.Context, year int, groupBy string) ([]projections.SpendingRow, error)
	Budgets(ctx context.Context, year int) ([]projections.BudgetRow, error)
}

// SpendingGroups are the groupings of the report, the default first.
var SpendingGroups = []string{"month", "township", "program"}

// SpendingReport is one year's report in one grouping.
type SpendingReport struct {
	Year    int
	GroupBy string // one of SpendingGroups
	Rows    []projections.SpendingRow
	Budgets []projections.BudgetRow
	Total   domain.Money // the sum of the rows' amounts
}

// Spending reads the report of year grouped by groupBy (one of
// SpendingGroups; else an error wrapping domain.ErrInvalid).
func Spending(ctx context.Context, rm SpendingReadModels, year int, groupBy string) (SpendingReport, error) {
	rows, err := rm.Spending(ctx, year, groupBy)
	if err != nil {
		return SpendingReport{}, err
	}
	budgets, err := rm.Budgets(ctx, year)
	if err != nil {
		return SpendingReport{}, err
	}
	r := SpendingReport{Year: year, GroupBy: groupBy, Rows: rows, Budgets: budgets}
	for _, x := range rows {
		r.Total = r.Total.Add(x.AmountPaid)
	}
	return r, nil
}

// SpendingFilename is the file name of a report, ASCII only:
// spending-<year>-<group>.<format>.
func SpendingFilename(year int, groupBy string, f AnnualFormat) string {
	return fmt.Sprintf("spending-%d-%s.%s", year, groupBy, f)
}

// spendingHeader is the header of the report's CSV and of both sheets of
// its XLSX, bilingual as the annual summary's.
var spendingHeader = []string{
	"年度(Year)", "类别(Section)", "代码(Code)", "名称(Name)", "月份(Month)", "乡镇(Township)",
	"发放金额(Amount paid)", "笔数(Payments)", "人数(Persons)", "预算(Allocated)", "已支出(Spent)", "结余(Remaining)",
}

// The sheets of the report's XLSX.
const (
	SpendingSheet = "支出"
	BudgetSheet   = "预算"
)

// SpendingWrite writes r to w as CSV or XLSX. The output is built in
// memory first, so an error writes nothing.
//
//   - csv: as the annual summary's (UTF-8 with a byte-order mark, RFC
//     4180, CRLF). A bilingual header, then one line per row of the
//     report (section "spending": month or township as grouped, amount,
//     payments, persons) and one per program's budget (section "budget":
//     allocated, spent, remaining). Cells that do not apply are empty.
//   - xlsx: the same lines on two sheets, 支出 the spending lines and 预算
//     the budgets, so that summing a column gives the year's total.
//     Counts and amounts are number cells.
func SpendingWrite(w io.Writer, r SpendingReport, f AnnualFormat) error {
	var spending, budgets [][]annualCell
	line := func(section string, program domain.ProgramCode) []annualCell {
		c := make([]annualCell, len(spendingHeader))
		c[0], c[1] = annualCount(r.Year), annualText(section)
		c[2] = annualText(string(program))
		if p, ok := domain.LookupProgram(program); ok {
			c[3] = annualText(p.Name)
		}
		return c
	}
	for _, x := range r.Rows {
		c := line("spending", x.Program)
		if !x.Month.IsZero() {
			c[4] = annualText(x.Month.String())
		}
		if x.Township != "" {
			c[5] = annualText(x.Township)
		}
		c[6], c[7], c[8] = annualMoney(x.AmountPaid.String()), annualCount(x.Payments), annualCount(x.Persons)
		spending = append(spending, c)
	}
	for _, b := range r.Budgets {
		c := line("budget", b.Program)
		c[9], c[10], c[11] = annualMoney(b.Allocated.String()), annualMoney(b.Spent.String()), annualMoney(b.Remaining.StringFixed(2))
		budgets = append(budgets, c)
	}
	var (
		out []byte
		err error
	)
	switch f {
	case AnnualCSV:
		out, err = tableCSV(spendingHeader, append(spending, budgets...))
	case AnnualXLSX:
		widths := []float64{10, 10, 24, 24, 10, 14, 16, 12, 12, 16, 16, 16}
		out, err = tableXLSX(
			sheetSpec{SpendingSheet, spendingHeader, widths, spending},
			sheetSpec{BudgetSheet, spendingHeader, widths, budgets})
	default:
		return domain.Invalid("format", "%q is not one of csv, xlsx", f)
	}
	if err != nil {
		return fmt.Errorf("spending report %s: %w", f, err)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write spending report: %w", err)
	}
	return nil
}
