package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/reports"
)

// The finance desk's spending page: a year's spending against budget per
// program, by month, township or program, as charts (SVG drawn on the
// server: no script, nothing from outside) and tables, with the same
// report to download as CSV or XLSX (reports.Spending, the report the
// API's /v1/spending answers in JSON).

var groupNames = map[string]string{"month": "按月份", "township": "按乡镇", "program": "按补贴项目"}

type spendingData struct {
	Report  reports.SpendingReport
	Groups  []choice
	Spent   chart // the rows' amounts by month, township or program
	Budgets chart // each program's spending against its budget
	Query   string
}

type choice struct {
	Value, Label string
	Selected     bool
}

// spendingParams reads ?year= (default: this year) and ?group= (default:
// month).
func (k *desk) spendingParams(r *http.Request) (year int, group string, err error) {
	year = domain.BusinessDate(k.Now()).Year()
	if v := strings.TrimSpace(r.URL.Query().Get("year")); v != "" {
		if year, err = strconv.Atoi(v); err != nil || year < 2000 || year > 2100 {
			return 0, "", domain.Invalid("year", "%q is not a year between 2000 and 2100", v)
		}
	}
	group = r.URL.Query().Get("group")
	if group == "" {
		group = reports.SpendingGroups[0]
	}
	if _, ok := groupNames[group]; !ok {
		return 0, "", domain.Invalid("group", "%q is not one of month, township, program", group)
	}
	return year, group, nil
}

// spendingReport reads the report ?year= and ?group= ask for; after a bad
// request or a failure it has answered, and says so (false).
func (k *desk) spendingReport(w http.ResponseWriter, r *http.Request) (reports.SpendingReport, bool) {
	year, group, err := k.spendingParams(r)
	if err != nil {
		k.badQuery(w, r, err)
		return reports.SpendingReport{}, false
	}
	rep, err := reports.Spending(r.Context(), k.Spending, year, group)
	if err != nil {
		k.failErr(w, r, err)
		return reports.SpendingReport{}, false
	}
	return rep, true
}

func (k *desk) spendingPage(w http.ResponseWriter, r *http.Request) {
	rep, ok := k.spendingReport(w, r)
	if !ok {
		return
	}
	d := spendingData{Report: rep, Query: fmt.Sprintf("year=%d&group=%s", rep.Year, rep.GroupBy)}
	for _, g := range reports.SpendingGroups {
		d.Groups = append(d.Groups, choice{Value: g, Label: groupNames[g], Selected: g == rep.GroupBy})
	}
	d.Spent, d.Budgets = spendingCharts(rep)
	k.render(w, r, http.StatusOK, "spending", fmt.Sprintf("%d年支出与预算", rep.Year), d)
}

// spendingExport sends the report as a CSV or XLSX file.
func (k *desk) spendingExport(w http.ResponseWriter, r *http.Request) {
	f, err := reports.AnnualParseFormat("format", r.URL.Query().Get("format"), reports.AnnualCSV, reports.AnnualXLSX)
	if err != nil {
		k.badQuery(w, r, err)
		return
	}
	rep, ok := k.spendingReport(w, r)
	if !ok {
		return
	}
	var b strings.Builder
	if err := reports.SpendingWrite(&b, rep, f); err != nil {
		k.failErr(w, r, err)
		return
	}
	w.Header().Set("Content-Type", f.ContentType())
	w.Header().Set("Content-Disposition", `attachment; filename="`+reports.SpendingFilename(rep.Year, rep.GroupBy, f)+`"`)
	_, _ = w.Write([]byte(b.String()))
}

// chart is a horizontal bar chart, laid out here so that the template
// only writes the numbers: a line per bar, its label on the left, the bar
// (over an outline of its budget, if any) and its amount on the right.
type chart struct {
	Title         string
	Width, Height int
	Bars          []bar
}

type bar struct {
	Label, Amount string
	Y, TextY      int
	W, BudgetW    float64 // widths of the bar and its budget's outline (0: none)
	Over          bool    // beyond its budget
}

const (
	chartLabelW = 190 // the labels' column
	chartBarW   = 560 // the widest bar
	chartLine   = 30  // a bar's line
)

// newChart lays out bars of amounts with their budgets (nil: none)
// against the largest of them.
func newChart(title string, labels []string, amounts []domain.Money, budgets []*domain.Money) chart {
	c := chart{Title: title, Width: chartLabelW + chartBarW + 130, Height: max(len(labels), 1)*chartLine + 8}
	var top int64 = 1
	for i := range amounts {
		top = max(top, amounts[i].Fen())
		if budgets[i] != nil {
			top = max(top, budgets[i].Fen())
		}
	}
	width := func(m domain.Money) float64 { return float64(chartBarW) * float64(m.Fen()) / float64(top) }
	for i, label := range labels {
		b := bar{Label: label, Amount: yuan(amounts[i]), Y: 4 + i*chartLine, TextY: 4 + i*chartLine + 19, W: width(amounts[i])}
		if budgets[i] != nil {
			b.BudgetW, b.Over = width(*budgets[i]), amounts[i].Cmp(*budgets[i]) > 0
		}
		c.Bars = append(c.Bars, b)
	}
	return c
}

// spendingCharts are the page's charts: the rows' amounts summed by the
// grouping's key over programs, and each program's budget.
func spendingCharts(rep reports.SpendingReport) (spent, budgets chart) {
	var labels []string
	var amounts []domain.Money
	at := map[string]int{}
	for _, x := range rep.Rows {
		key := string(x.Program)
		switch rep.GroupBy {
		case "month":
			key = x.Month.String() // sorts as the calendar does
		case "township":
			key = x.Township
		}
		i, ok := at[key]
		if !ok {
			i = len(labels)
			at[key] = i
			labels, amounts = append(labels, key), append(amounts, domain.Money{})
		}
		amounts[i] = amounts[i].Add(x.AmountPaid)
	}
	if rep.GroupBy == "month" { // rows come by program, then month
		order := slices.Clone(labels)
		slices.Sort(order)
		sorted := make([]domain.Money, len(order))
		for i, key := range order {
			sorted[i] = amounts[at[key]]
		}
		labels, amounts = order, sorted
	}
	for i, key := range labels {
		switch rep.GroupBy {
		case "month":
			p, _ := domain.ParsePeriod("month", key)
			labels[i] = monthText(p)
		case "program":
			labels[i] = programName(domain.ProgramCode(key))
		}
	}
	spent = newChart(fmt.Sprintf("%d年支出（%s）", rep.Year, groupNames[rep.GroupBy]), labels, amounts, make([]*domain.Money, len(labels)))
	labels, amounts = nil, nil
	var allocated []*domain.Money
	for _, b := range rep.Budgets {
		labels, amounts, allocated = append(labels, programName(b.Program)), append(amounts, b.Spent), append(allocated, &b.Allocated)
	}
	budgets = newChart(fmt.Sprintf("%d年预算执行", rep.Year), labels, amounts, allocated)
	return spent, budgets
}
