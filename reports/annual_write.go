package reports

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/domain"
)

// AnnualFormat is an output format of the annual summary.
type AnnualFormat string

// The formats. The HTTP API serves all but AnnualTable.
const (
	AnnualTable AnnualFormat = "table"
	AnnualCSV   AnnualFormat = "csv"
	AnnualJSON  AnnualFormat = "json"
	AnnualXLSX  AnnualFormat = "xlsx"
)

// AnnualParseFormat parses s as one of allowed, naming field in the error.
func AnnualParseFormat(field, s string, allowed ...AnnualFormat) (AnnualFormat, error) {
	names := make([]string, len(allowed))
	for i, f := range allowed {
		if string(f) == s {
			return f, nil
		}
		names[i] = string(f)
	}
	return "", domain.Invalid(field, "%q is not one of %s", s, strings.Join(names, ", "))
}

// ContentType is the media type of the format.
func (f AnnualFormat) ContentType() string {
	switch f {
	case AnnualCSV:
		return "text/csv; charset=utf-8"
	case AnnualJSON:
		return "application/json"
	case AnnualXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/plain; charset=utf-8"
}

// AnnualFilename is the file name of a year's summary, ASCII only:
// annual-summary-<year>.<format>.
func AnnualFilename(year int, f AnnualFormat) string {
	ext := string(f)
	if f == AnnualTable {
		ext = "txt"
	}
	return fmt.Sprintf("annual-summary-%d.%s", year, ext)
}

// AnnualWrite writes s to w in format f. The output is built in memory
// first, so an error writes nothing.
//
//   - table: for people at a terminal — one line per program with its code,
//     figures and Chinese and English names, then the posts, the living
//     and care subsidies together, households and the total paid.
//   - json: the agreed shape (AnnualSummary), indented, with a final newline.
//   - csv: UTF-8 with a byte-order mark (so Excel and WPS read the Chinese
//     names), RFC 4180, CRLF line ends, as the change notice. A bilingual
//     header, then one line per program (section "program"), the living
//     and care subsidies together ("living_and_care": persons, cases of
//     both programs, paid), one line per household class and "monitored"
//     ("households": persons), and the total paid ("total"). Cells that do
//     not apply are empty; so are budget and remaining without a budget.
//     Amounts have two decimals, without separators.
//   - xlsx: the CSV's rows on two sheets with the CSV's header: 年度汇总
//     the programs, one line each, so that summing a column (paid, budget,
//     in-kind value …) gives the year's total; 合计与户类别 the living and
//     care subsidies together, the household classes and the total paid,
//     which would count money twice among the programs. Counts and
//     amounts are number cells (amounts in the format "0.00"). Every
//     amount below 10^13 yuan is stored exactly.
func AnnualWrite(w io.Writer, s AnnualSummary, f AnnualFormat) error {
	var (
		out []byte
		err error
	)
	switch f {
	case AnnualTable:
		out, err = annualTableText(s)
	case AnnualJSON:
		out, err = json.MarshalIndent(s, "", "  ")
		out = append(out, '\n')
	case AnnualCSV:
		out, err = annualCSV(s)
	case AnnualXLSX:
		out, err = annualXLSX(s)
	default:
		return domain.Invalid("format", "%q is not one of table, csv, json, xlsx", f)
	}
	if err != nil {
		return fmt.Errorf("annual summary %s: %w", f, err)
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write annual summary: %w", err)
	}
	return nil
}

// annualHeader is the header of the CSV and XLSX, bilingual as the bank
// files and the change notice.
var annualHeader = []string{
	"年度(Year)", "类别(Section)", "代码(Code)", "名称(Name)", "英文名称(Name in English)", "方式(Shape)",
	"人数(Persons)", "人次(Cases)", "新增(Granted)", "终止(Terminated)", "发放金额(Paid)", "预算(Budget)", "结余(Remaining)",
	"实物件数(In-kind items)", "实物价值(In-kind value)", "公益性岗位(Public welfare posts)", "农家书屋管理员(Library manager posts)",
}

// Column indexes of annualHeader.
const (
	annualColYear = iota
	annualColSection
	annualColCode
	annualColName
	annualColNameEN
	annualColShape
	annualColPersons
	annualColCases
	annualColGranted
	annualColTerminated
	annualColPaid
	annualColBudget
	annualColRemaining
	annualColItems
	annualColValue
	annualColPostsPublicWelfare
	annualColPostsLibraryManager
	annualColumns
)

// annualCell is one cell: text, a count or an amount. The zero cell is
// empty.
type annualCell struct {
	kind byte // 0 empty, 't' text, 'n' count, 'm' amount
	text string
	n    int
}

func annualText(s string) annualCell { return annualCell{kind: 't', text: s} }
func annualCount(n int) annualCell   { return annualCell{kind: 'n', n: n} }
func annualMoney(s string) annualCell {
	return annualCell{kind: 'm', text: s}
}

func (c annualCell) String() string {
	switch c.kind {
	case 'n':
		return strconv.Itoa(c.n)
	case 't', 'm':
		return c.text
	}
	return ""
}

// annualHouseholdNames are the household lines: code, Chinese and English.
var annualHouseholdNames = []struct{ code, name, en string }{
	{"lifted_from_poverty", "脱贫户", "Lifted from poverty"},
	{"monitored_marginal", "监测户：边缘易致贫户", "Monitored: at risk of poverty"},
	{"monitored_unstable", "监测户：脱贫不稳定户", "Monitored: unstable after poverty"},
	{"monitored_hardship", "监测户：突发严重困难户", "Monitored: sudden severe hardship"},
	{"monitored", "监测户合计", "Monitored, all three"},
	{"urban_needy", "城镇困难群众", "Urban needy"},
	{"none", "无类别", "No household class"},
}

func (h AnnualHouseholds) byCode() map[string]int {
	return map[string]int{
		"lifted_from_poverty": h.LiftedFromPoverty, "monitored_marginal": h.MonitoredMarginal,
		"monitored_unstable": h.MonitoredUnstable, "monitored_hardship": h.MonitoredHardship,
		"monitored": h.Monitored, "urban_needy": h.UrbanNeedy, "none": h.None,
	}
}

const (
	annualLivingAndCareName = "残疾人两项补贴"
	annualLivingAndCareEN   = "Living and care subsidies together"
)

// annualRows returns the rows of the CSV and XLSX after the header.
func annualRows(s AnnualSummary) [][]annualCell {
	line := func(section, code, name, en string) []annualCell {
		r := make([]annualCell, annualColumns)
		r[annualColYear] = annualCount(s.Year)
		r[annualColSection], r[annualColCode] = annualText(section), annualText(code)
		r[annualColName], r[annualColNameEN] = annualText(name), annualText(en)
		return r
	}
	var out [][]annualCell
	for _, p := range s.Programs {
		en := ""
		if def, ok := domain.LookupProgram(p.Program); ok {
			en = def.NameEN
		}
		r := line("program", string(p.Program), p.Name, en)
		r[annualColShape] = annualText(string(p.Shape))
		r[annualColPersons], r[annualColCases] = annualCount(p.Persons), annualCount(p.Cases)
		r[annualColGranted], r[annualColTerminated] = annualCount(p.Granted), annualCount(p.Terminated)
		r[annualColPaid] = annualMoney(p.Paid.String())
		if p.Budget != nil {
			r[annualColBudget], r[annualColRemaining] = annualMoney(p.Budget.String()), annualMoney(p.Remaining.String())
		}
		r[annualColItems], r[annualColValue] = annualCount(p.InKindItems), annualMoney(p.InKindValue.String())
		if p.Posts != nil {
			r[annualColPostsPublicWelfare], r[annualColPostsLibraryManager] = annualCount(p.Posts.PublicWelfare), annualCount(p.Posts.LibraryManager)
		}
		out = append(out, r)
	}
	lc := s.LivingAndCare
	r := line("living_and_care", "living_and_care", annualLivingAndCareName, annualLivingAndCareEN)
	r[annualColPersons], r[annualColCases], r[annualColPaid] = annualCount(lc.Persons), annualCount(lc.LivingCases+lc.CareCases), annualMoney(lc.Paid.String())
	out = append(out, r)
	counts := s.Households.byCode()
	for _, h := range annualHouseholdNames {
		r := line("households", h.code, h.name, h.en)
		r[annualColPersons] = annualCount(counts[h.code])
		out = append(out, r)
	}
	r = line("total", "total_paid", "合计", "Total paid")
	r[annualColPaid] = annualMoney(s.TotalPaid.String())
	return append(out, r)
}

func annualCSV(s AnnualSummary) ([]byte, error) { return tableCSV(annualHeader, annualRows(s)) }

// tableCSV writes a header and rows as the reports' CSV: UTF-8 with a
// byte-order mark (so Excel and WPS read the Chinese names), RFC 4180,
// CRLF line ends.
func tableCSV(header []string, rows [][]annualCell) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString("\ufeff") // UTF-8 byte-order mark
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = true
	_ = cw.Write(header)
	for _, r := range rows {
		rec := make([]string, len(r))
		for i, c := range r {
			rec[i] = c.String() // catalog names, codes and figures: nothing a person typed
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// The sheets of the summary's XLSX: the programs, and what adds them up
// or counts households.
const (
	AnnualSheet       = "年度汇总"
	AnnualTotalsSheet = "合计与户类别"
)

func annualXLSX(s AnnualSummary) ([]byte, error) {
	var programs, totals [][]annualCell
	for _, r := range annualRows(s) {
		if r[annualColSection].text == "program" {
			programs = append(programs, r)
		} else {
			totals = append(totals, r)
		}
	}
	widths := annualWidths()
	return tableXLSX(
		sheetSpec{AnnualSheet, annualHeader, widths, programs},
		sheetSpec{AnnualTotalsSheet, annualHeader, widths, totals})
}

// sheetSpec is a sheet of a report's workbook: its name, header, the
// columns' widths and its rows.
type sheetSpec struct {
	name   string
	header []string
	widths []float64
	rows   [][]annualCell
}

// tableXLSX is a workbook of the sheets, in order: each a bold, frozen
// header, then the rows — counts as number cells, amounts as number cells
// in the format "0.00".
func tableXLSX(sheets ...sheetSpec) (_ []byte, err error) {
	x := excelize.NewFile()
	defer func() {
		if cerr := x.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close workbook: %w", cerr)
		}
	}()
	for i, sh := range sheets {
		if i == 0 {
			err = x.SetSheetName("Sheet1", sh.name)
		} else {
			_, err = x.NewSheet(sh.name)
		}
		if err != nil {
			return nil, fmt.Errorf("sheet %s: %w", sh.name, err)
		}
	}
	bold, err := x.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return nil, fmt.Errorf("style: %w", err)
	}
	money, err := x.NewStyle(&excelize.Style{NumFmt: 2}) // 0.00
	if err != nil {
		return nil, fmt.Errorf("style: %w", err)
	}
	for _, sh := range sheets {
		if err := tableSheet(x, sh.name, sh.header, sh.widths, sh.rows, bold, money); err != nil {
			return nil, fmt.Errorf("sheet %s: %w", sh.name, err)
		}
	}
	buf, err := x.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("write workbook: %w", err)
	}
	return buf.Bytes(), nil
}

// annualTableText is the summary for a terminal. Chinese names come last on
// each line: tabwriter counts characters, not display width.
func annualTableText(s AnnualSummary) ([]byte, error) {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "Annual summary %d (%d年度汇总), by effective dates %d-01-01 to %d-12-31\n\n", s.Year, s.Year, s.Year, s.Year)
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROGRAM\tSHAPE\tPERSONS\tCASES\tGRANTED\tTERMINATED\tPAID\tBUDGET\tREMAINING\tIN-KIND ITEMS\tIN-KIND VALUE\tNAME")
	for _, p := range s.Programs {
		budget, remaining := "-", "-"
		if p.Budget != nil {
			budget, remaining = p.Budget.String(), p.Remaining.String()
		}
		en := ""
		if def, ok := domain.LookupProgram(p.Program); ok {
			en = def.NameEN
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\t%d\t%s\t%s (%s)\n", p.Program, p.Shape, p.Persons, p.Cases, p.Granted, p.Terminated,
			p.Paid, budget, remaining, p.InKindItems, p.InKindValue, p.Name, en)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	for _, p := range s.Programs {
		if p.Posts != nil {
			fmt.Fprintf(&buf, "\nPosts of %s: public_welfare %d (公益性岗位), library_manager %d (农家书屋管理员)\n",
				p.Program, p.Posts.PublicWelfare, p.Posts.LibraryManager)
		}
	}
	lc := s.LivingAndCare
	fmt.Fprintf(&buf, "\nLiving and care subsidies together (%s): %d persons, %d living cases, %d care cases, paid %s\n",
		annualLivingAndCareName, lc.Persons, lc.LivingCases, lc.CareCases, lc.Paid)
	fmt.Fprintf(&buf, "\nPersons registered and living on %d-12-31, by household class:\n", s.Year)
	tw = tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	counts := s.Households.byCode()
	for _, h := range annualHouseholdNames {
		fmt.Fprintf(tw, "  %s\t%d\t%s (%s)\n", h.code, counts[h.code], h.name, h.en)
	}
	if err := tw.Flush(); err != nil {
		return nil, err
	}
	fmt.Fprintf(&buf, "\nTotal paid (合计): %s\n", s.TotalPaid)
	return buf.Bytes(), nil
}

// annualWidths are the widths of annualHeader's columns.
func annualWidths() []float64 {
	widths := make([]float64, annualColumns)
	for i := range widths {
		widths[i] = 14
		switch i {
		case annualColYear, annualColSection:
			widths[i] = 10
		case annualColCode, annualColName:
			widths[i] = 24
		case annualColNameEN:
			widths[i] = 44
		}
	}
	return widths
}

// tableSheet writes a header (in bold, frozen) and rows to the sheet name
// of x, with the columns' widths: counts as number cells, amounts as
// number cells in the style money.
func tableSheet(x *excelize.File, name string, header []string, widths []float64, rows [][]annualCell, bold, money int) error {
	sw, err := x.NewStreamWriter(name)
	if err != nil {
		return fmt.Errorf("sheet writer: %w", err)
	}
	for i, width := range widths {
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return fmt.Errorf("column width: %w", err)
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return fmt.Errorf("freeze header: %w", err)
	}
	head := make([]any, len(header))
	for i, h := range header {
		head[i] = excelize.Cell{StyleID: bold, Value: h}
	}
	if err := sw.SetRow("A1", head); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	for i, r := range rows {
		cells := make([]any, len(r))
		for j, c := range r {
			switch c.kind {
			case 't':
				cells[j] = c.text
			case 'n':
				cells[j] = c.n
			case 'm':
				f, err := strconv.ParseFloat(c.text, 64)
				if err != nil {
					return fmt.Errorf("amount %q: %w", c.text, err)
				}
				cells[j] = excelize.Cell{StyleID: money, Value: f}
			}
		}
		ref, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := sw.SetRow(ref, cells); err != nil {
			return fmt.Errorf("row %d: %w", i+2, err)
		}
	}
	return sw.Flush()
}
