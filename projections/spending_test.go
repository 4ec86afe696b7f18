package projections_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

const (
	spendSQLSpending = `SELECT program, month, township, amount_paid::text, payments, persons
		FROM spending ORDER BY program, month, township`
	spendSQLPersons = `SELECT program, fiscal_year, township, person_id, array_to_string(n, ' ')
		FROM spending_persons ORDER BY program, fiscal_year, person_id, township`
	spendSQLGroups = `SELECT program, fiscal_year, month, township, persons
		FROM spending_groups ORDER BY program, fiscal_year, month, township`
	spendSQLBudgets = `SELECT program, fiscal_year, allocated::text, spent::text, remaining::text
		FROM budgets ORDER BY program, fiscal_year`
)

// spendCheck is the check that sql returns want.
func spendCheck(sql string, want ...string) prtest.Check { return prtest.Check{SQL: sql, Want: want} }

func TestSpendingProjection(t *testing.T) {
	t.Parallel()
	p1, p2 := string(payP1), string(payP2)
	tests := []struct {
		name  string
		given func(g *payGiven)
		then  []prtest.Check
	}{
		{
			name: "a payment counts in the month it was paid, not the period it is for",
			given: func(g *payGiven) {
				g.issue(payP1, payLiving, "2024-01", "2024-03-15", "星子镇", "100.00") // arrears for January
				g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.issue(payP2, payLiving, "2024-03", "2024-03-31", "星子镇", "110.00")
			},
			then: []prtest.Check{
				spendCheck(spendSQLSpending, "living_subsidy | 2024-03-01 | 星子镇 | 320.00 | 3 | 2"),
				spendCheck(spendSQLPersons,
					"living_subsidy | 2024 | 星子镇 | "+p1+" | "+monthCounts(3, 2),
					"living_subsidy | 2024 | 星子镇 | "+p2+" | "+monthCounts(3, 1)),
				spendCheck(spendSQLBudgets, "living_subsidy | 2024 | 0.00 | 320.00 | -320.00"),
			},
		},
		{
			name: "a failed payment un-counts its amount, payment and person; the re-issue counts in its own month",
			given: func(g *payGiven) {
				ref := g.issue(payP1, payLiving, "2024-02", "2024-02-10", "星子镇", "110.00")
				g.issue(payP2, payLiving, "2024-02", "2024-02-10", "星子镇", "110.00")
				g.fail(ref, "2024-02-14", "account closed")
				g.reissue(ref, "2024-03-05")
			},
			then: []prtest.Check{
				spendCheck(spendSQLSpending,
					"living_subsidy | 2024-02-01 | 星子镇 | 110.00 | 1 | 1",
					"living_subsidy | 2024-03-01 | 星子镇 | 110.00 | 1 | 1"),
				spendCheck(spendSQLPersons,
					"living_subsidy | 2024 | 星子镇 | "+p1+" | "+monthCounts(2, 0, 3, 1),
					"living_subsidy | 2024 | 星子镇 | "+p2+" | "+monthCounts(2, 1)),
				spendCheck(spendSQLBudgets, "living_subsidy | 2024 | 0.00 | 220.00 | -220.00"),
			},
		},
		{
			name: "a reversal of a settled payment takes it back out; settlements change nothing",
			given: func(g *payGiven) {
				a := g.issue(payP1, payCare, "2024-01", "2024-01-20", "白鹿镇", "100.00")
				b := g.issue(payP2, payCare, "2024-01", "2024-01-20", "白鹿镇", "100.00")
				g.settle(a, "2024-01-21")
				g.settle(b, "2024-01-21")
				g.reverse(a, "2024-04-02", "paid after death")
			},
			then: []prtest.Check{
				spendCheck(spendSQLSpending, "care_subsidy | 2024-01-01 | 白鹿镇 | 100.00 | 1 | 1"),
				spendCheck(spendSQLBudgets, "care_subsidy | 2024 | 0.00 | 100.00 | -100.00"),
			},
		},
		{
			name: "a person stays counted while one of their payments in the month remains",
			given: func(g *payGiven) {
				a := g.issue(payP1, payLiving, "2024-05", "2024-05-10", "温泉镇", "110.00")
				g.issue(payP1, payLiving, "2024-04", "2024-05-10", "温泉镇", "110.00")
				g.fail(a, "2024-05-12", "wrong account")
			},
			then: []prtest.Check{
				spendCheck(spendSQLSpending, "living_subsidy | 2024-05-01 | 温泉镇 | 110.00 | 1 | 1"),
				spendCheck(spendSQLPersons, "living_subsidy | 2024 | 温泉镇 | "+p1+" | "+monthCounts(5, 1)),
			},
		},
		{
			name: "every payment of a key failing leaves a zero row",
			given: func(g *payGiven) {
				a := g.issue(payP1, payLiving, "2024-05", "2024-05-10", "温泉镇", "110.00")
				g.fail(a, "2024-05-12", "wrong account")
			},
			then: []prtest.Check{
				spendCheck(spendSQLSpending, "living_subsidy | 2024-05-01 | 温泉镇 | 0.00 | 0 | 0"),
				spendCheck(spendSQLPersons, "living_subsidy | 2024 | 温泉镇 | "+string(payP1)+" | "+monthCounts()),
				spendCheck(spendSQLBudgets, "living_subsidy | 2024 | 0.00 | 0.00 | 0.00"),
			},
		},
		{
			name: "a moved person counts in the township the payment froze",
			given: func(g *payGiven) {
				g.issue(payP1, payLiving, "2024-06", "2024-06-10", "星子镇", "110.00")
				g.issue(payP1, payLiving, "2024-07", "2024-07-10", "白鹿镇", "110.00")
				g.issue(payP1, payCare, "2024-07", "2024-07-10", "白鹿镇", "110.00")
			},
			then: []prtest.Check{
				spendCheck(spendSQLSpending,
					"care_subsidy | 2024-07-01 | 白鹿镇 | 110.00 | 1 | 1",
					"living_subsidy | 2024-06-01 | 星子镇 | 110.00 | 1 | 1",
					"living_subsidy | 2024-07-01 | 白鹿镇 | 110.00 | 1 | 1"),
				spendCheck(spendSQLPersons,
					"care_subsidy | 2024 | 白鹿镇 | "+p1+" | "+monthCounts(7, 1),
					"living_subsidy | 2024 | 星子镇 | "+p1+" | "+monthCounts(6, 1),
					"living_subsidy | 2024 | 白鹿镇 | "+p1+" | "+monthCounts(7, 1)),
			},
		},
		{
			name: "a budget re-allocation replaces the allocation; spent counts by the calendar year paid",
			given: func(g *payGiven) {
				g.issue(payP1, payLiving, "2024-05", "2024-05-10", "星子镇", "300.00") // before any budget
				g.budget(payLiving, 2024, "10000.00")
				g.budget(payLiving, 2024, "8000.00")
				g.budget(payLiving, 2025, "5000.00")
				g.budget(payCare, 2025, "700.50")
				g.issue(payP1, payLiving, "2024-12", "2024-12-31", "星子镇", "110.00")
				g.issue(payP2, payLiving, "2024-12", "2025-01-02", "星子镇", "110.00") // December's, paid in January
			},
			then: []prtest.Check{
				spendCheck(spendSQLBudgets,
					"care_subsidy | 2025 | 700.50 | 0.00 | 700.50",
					"living_subsidy | 2024 | 8000.00 | 410.00 | 7590.00",
					"living_subsidy | 2025 | 5000.00 | 110.00 | 4890.00"),
			},
		},
		{
			name: "events about other things change nothing",
			given: func(g *payGiven) {
				g.log.Add(domain.PaymentsStream(payLiving, 0), domain.OverpaymentRecovered{
					ClaimID: "CLM-1", PersonID: payP2, Program: payLiving, Amount: domain.MustMoney("50.00"), RecoveredOn: domain.MustDate("2024-02-01"),
				})
			},
			then: []prtest.Check{spendCheck(spendSQLSpending), spendCheck(spendSQLPersons), spendCheck(spendSQLBudgets)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newPayGiven()
			tt.given(g)
			prtest.Expect(t, projections.SpendingProjection{}, g.log.Envelopes, tt.then...)
		})
	}
}

func spendRows(rows []projections.SpendingRow) []string {
	var out []string
	for _, r := range rows {
		out = append(out, fmt.Sprintf("%s %s %s %s %d %d", r.Program, r.Month, r.Township, r.AmountPaid, r.Payments, r.Persons))
	}
	return out
}

func TestSpendingQueries(t *testing.T) {
	t.Parallel()
	g := newPayGiven()
	// P1: living subsidy every month of 2024, in 星子镇 until June, then 白鹿镇.
	for m := 1; m <= 12; m++ {
		town := "星子镇"
		if m > 6 {
			town = "白鹿镇"
		}
		g.issue(payP1, payLiving, fmt.Sprintf("2024-%02d", m), fmt.Sprintf("2024-%02d-10", m), town, "110.00")
	}
	// P2: living subsidy January to March in 白鹿镇, care subsidy in January.
	for m := 1; m <= 3; m++ {
		g.issue(payP2, payLiving, fmt.Sprintf("2024-%02d", m), fmt.Sprintf("2024-%02d-10", m), "白鹿镇", "110.00")
	}
	g.issue(payP2, payCare, "2024-01", "2024-01-10", "白鹿镇", "110.00")
	// P3: one living subsidy, failed; and one paid in 2025.
	ref := g.issue(payP3, payLiving, "2024-03", "2024-03-10", "白鹿镇", "110.00")
	g.fail(ref, "2024-03-12", "account closed")
	g.issue(payP3, payLiving, "2025-01", "2025-01-10", "白鹿镇", "110.00")
	g.budget(payLiving, 2024, "2000.00")
	pool := prtest.Expect(t, projections.SpendingProjection{}, g.log.Envelopes)
	ctx := context.Background()

	tests := []struct {
		groupBy string
		want    []string
	}{
		{"program", []string{
			// two persons in the year, although the months add up to fifteen
			"care_subsidy   110.00 1 1",
			"living_subsidy   1650.00 15 2",
		}},
		{"township", []string{
			"care_subsidy  白鹿镇 110.00 1 1",
			"living_subsidy  星子镇 660.00 6 1",
			"living_subsidy  白鹿镇 990.00 9 2",
		}},
		{"month", []string{
			"care_subsidy 2024-01  110.00 1 1",
			"living_subsidy 2024-01  220.00 2 2",
			"living_subsidy 2024-02  220.00 2 2",
			"living_subsidy 2024-03  220.00 2 2",
			"living_subsidy 2024-04  110.00 1 1",
			"living_subsidy 2024-05  110.00 1 1",
			"living_subsidy 2024-06  110.00 1 1",
			"living_subsidy 2024-07  110.00 1 1",
			"living_subsidy 2024-08  110.00 1 1",
			"living_subsidy 2024-09  110.00 1 1",
			"living_subsidy 2024-10  110.00 1 1",
			"living_subsidy 2024-11  110.00 1 1",
			"living_subsidy 2024-12  110.00 1 1",
		}},
	}
	for _, tt := range tests {
		rows, err := projections.Spending(ctx, pool, 2024, tt.groupBy)
		if err != nil {
			t.Fatalf("Spending(2024, %s): %v", tt.groupBy, err)
		}
		if got := spendRows(rows); !slices.Equal(got, tt.want) {
			t.Errorf("Spending(2024, %s) =\n%s\nwant\n%s", tt.groupBy, prtest.Lines(got), prtest.Lines(tt.want))
		}
	}
	rows, err := projections.Spending(ctx, pool, 2025, "program")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := spendRows(rows), []string{"living_subsidy   110.00 1 1"}; !slices.Equal(got, want) {
		t.Errorf("Spending(2025, program) = %v, want %v", got, want)
	}
	if rows, err := projections.Spending(ctx, pool, 2023, "month"); err != nil || len(rows) != 0 {
		t.Errorf("Spending(2023) = %v, %v; want no rows", rows, err)
	}

	_, err = projections.Spending(ctx, pool, 2024, "person")
	var fe *domain.FieldError
	if !errors.Is(err, domain.ErrInvalid) || !errors.As(err, &fe) || fe.Field != "group_by" {
		t.Errorf("Spending(group by person) error = %v, want an invalid group_by", err)
	}

	budgets, err := projections.Budgets(ctx, pool, 2024)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range budgets {
		got = append(got, fmt.Sprintf("%s %d %s %s %s", b.Program, b.FiscalYear, b.Allocated, b.Spent, b.Remaining.StringFixed(2)))
	}
	if want := []string{"care_subsidy 2024 0.00 110.00 -110.00", "living_subsidy 2024 2000.00 1650.00 350.00"}; !slices.Equal(got, want) {
		t.Errorf("Budgets(2024) = %v, want %v", got, want)
	}
}

// TestSpendingProperties projects random valid payment logs in random
// batch sizes and in one batch, checks the tables are the same, and checks
// every total against sums recomputed in Go from the generator's record of
// each payment's fate, to the fen.
func TestSpendingProperties(t *testing.T) {
	t.Parallel()
	p := projections.SpendingProjection{}
	for seed := uint64(1); seed <= 24; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			g := newPayGen(seed, 3, 4, 12)
			envs := g.run(350, payPropertyWeights)
			one := prtest.Project(t, p, envs, prtest.RandomSizes(rand.New(rand.NewPCG(seed, 11)), 200, 40))
			spendCheckModel(t, g, one)
		})
	}
}

// spendCheckModel recomputes the spending tables from the payments'
// final states: a payment counts while issued or settled.
func spendCheckModel(t *testing.T, g *payGen, q projections.Querier) {
	t.Helper()
	type key struct {
		program domain.ProgramCode
		month   string
		town    string
	}
	type agg struct {
		fen      int64
		payments int
		n        map[domain.PersonID]int
	}
	rows := map[key]*agg{}
	type pkey struct { // a row of spending_persons
		program domain.ProgramCode
		year    int
		town    string
		person  domain.PersonID
	}
	personRows := map[pkey]*[12]int{}
	type grkey struct { // a row of spending_groups
		program domain.ProgramCode
		year    int
		month   int
		town    string
	}
	groups := map[grkey]map[domain.PersonID]bool{} // the persons counted in each group a payment touched
	type bkey struct {
		program domain.ProgramCode
		year    int
	}
	spent := map[bkey]int64{}
	type gkey struct {
		program domain.ProgramCode
		year    int
		group   string
	}
	groupPersons := map[gkey]map[domain.PersonID]bool{} // distinct persons by report group
	for _, x := range g.pays {
		l := x.line
		k := key{l.Program, l.PaidOn.Period().First().String(), l.Township}
		a := rows[k]
		if a == nil {
			a = &agg{n: map[domain.PersonID]int{}}
			rows[k] = a
		}
		a.n[l.PersonID] += 0 // the person's row exists even if nothing counts
		pk := pkey{l.Program, l.PaidOn.Year(), l.Township, l.PersonID}
		if personRows[pk] == nil {
			personRows[pk] = new([12]int)
		}
		grs := []grkey{{l.Program, l.PaidOn.Year(), int(l.PaidOn.Month()), ""}, {l.Program, l.PaidOn.Year(), 0, l.Township}, {l.Program, l.PaidOn.Year(), 0, ""}}
		for _, gk := range grs {
			if groups[gk] == nil {
				groups[gk] = map[domain.PersonID]bool{}
			}
		}
		b := bkey{l.Program, l.PaidOn.Year()}
		spent[b] += 0
		if !x.counted() {
			continue
		}
		a.fen += l.Amount.Fen()
		a.payments++
		a.n[l.PersonID]++
		personRows[pk][l.PaidOn.Month()-1]++
		for _, gk := range grs {
			groups[gk][l.PersonID] = true
		}
		spent[b] += l.Amount.Fen()
		for _, grp := range []string{"program", "month " + l.PaidOn.Period().String(), "township " + l.Township} {
			gk := gkey{l.Program, l.PaidOn.Year(), grp}
			if groupPersons[gk] == nil {
				groupPersons[gk] = map[domain.PersonID]bool{}
			}
			groupPersons[gk][l.PersonID] = true
		}
	}

	var wantSpending, wantPersons []string
	for _, k := range slices.SortedFunc(maps.Keys(rows), func(a, b key) int {
		return cmpStrings([]string{string(a.program), a.month, a.town}, []string{string(b.program), b.month, b.town})
	}) {
		a := rows[k]
		persons := 0
		for _, person := range slices.Sorted(maps.Keys(a.n)) {
			if a.n[person] > 0 {
				persons++
			}
		}
		wantSpending = append(wantSpending, fmt.Sprintf("%s | %s | %s | %s | %d | %d", k.program, k.month, k.town, payFen(a.fen), a.payments, persons))
	}
	var wantGroups []string
	for _, k := range slices.SortedFunc(maps.Keys(groups), func(a, b grkey) int {
		return cmpStrings([]string{string(a.program), fmt.Sprint(a.year), fmt.Sprintf("%02d", a.month), a.town},
			[]string{string(b.program), fmt.Sprint(b.year), fmt.Sprintf("%02d", b.month), b.town})
	}) {
		wantGroups = append(wantGroups, fmt.Sprintf("%s | %d | %d | %s | %d", k.program, k.year, k.month, k.town, len(groups[k])))
	}
	prtest.CheckRows(t, q, prtest.Check{SQL: spendSQLGroups, Want: wantGroups})
	for _, k := range slices.SortedFunc(maps.Keys(personRows), func(a, b pkey) int {
		return cmpStrings([]string{string(a.program), fmt.Sprint(a.year), string(a.person), a.town},
			[]string{string(b.program), fmt.Sprint(b.year), string(b.person), b.town})
	}) {
		counts := make([]string, 12)
		for m, c := range personRows[k] {
			counts[m] = fmt.Sprint(c)
		}
		wantPersons = append(wantPersons, fmt.Sprintf("%s | %d | %s | %s | %s", k.program, k.year, k.town, k.person, strings.Join(counts, " ")))
	}
	// C collation: byte order, as cmpStrings sorts.
	prtest.CheckRows(t, q, prtest.Check{SQL: spendSQLSpending, Want: wantSpending})
	prtest.CheckRows(t, q, prtest.Check{SQL: spendSQLPersons, Want: wantPersons})

	// Σ amount_paid per program == Σ issued − Σ failed − Σ reversed, from the events.
	var wantTotals []string
	for _, prog := range slices.Sorted(maps.Keys(g.issuedSum)) {
		wantTotals = append(wantTotals, fmt.Sprintf("%s | %s", prog, payFen(g.issuedSum[prog]-g.failedSum[prog]-g.reversedSum[prog])))
	}
	prtest.CheckRows(t, q, prtest.Check{SQL: `SELECT program, sum(amount_paid)::text FROM spending GROUP BY program ORDER BY program`, Want: wantTotals})

	for k := range g.budgets {
		spent[bkey{k.program, k.year}] += 0
	}
	var wantBudgets []string
	for _, k := range slices.SortedFunc(maps.Keys(spent), func(a, b bkey) int {
		return cmpStrings([]string{string(a.program), fmt.Sprint(a.year)}, []string{string(b.program), fmt.Sprint(b.year)})
	}) {
		alloc := g.budgets[genBudgetKey{k.program, k.year}]
		rem := alloc.Decimal().Sub(decimal.New(spent[k], -2))
		wantBudgets = append(wantBudgets, fmt.Sprintf("%s | %d | %s | %s | %s", k.program, k.year, alloc, payFen(spent[k]), rem.StringFixed(2)))
	}
	prtest.CheckRows(t, q, prtest.Check{SQL: spendSQLBudgets, Want: wantBudgets})

	// The report queries, for every year and grouping, against the same
	// recomputation: persons are distinct over the group, not summed.
	ctx := context.Background()
	for _, year := range []int{2024, 2025} {
		for _, groupBy := range []string{"program", "month", "township"} {
			got, err := projections.Spending(ctx, q, year, groupBy)
			if err != nil {
				t.Fatal(err)
			}
			type rk struct {
				program domain.ProgramCode
				group   string
			}
			want := map[rk]*projections.SpendingRow{}
			for k, a := range rows {
				if k.month[:4] != fmt.Sprint(year) {
					continue
				}
				grp := "program"
				switch groupBy {
				case "month":
					grp = "month " + k.month[:7]
				case "township":
					grp = "township " + k.town
				}
				r := want[rk{k.program, grp}]
				if r == nil {
					r = &projections.SpendingRow{Program: k.program}
					want[rk{k.program, grp}] = r
				}
				m, err := domain.MoneyFromFen(a.fen)
				if err != nil {
					t.Fatal(err)
				}
				r.AmountPaid = r.AmountPaid.Add(m)
				r.Payments += a.payments
				r.Persons = len(groupPersons[gkey{k.program, year, grp}])
			}
			if len(got) != len(want) {
				t.Errorf("Spending(%d, %s): %d rows, want %d", year, groupBy, len(got), len(want))
			}
			for _, r := range got {
				grp := "program"
				switch groupBy {
				case "month":
					grp = "month " + r.Month.String()
				case "township":
					grp = "township " + r.Township
				}
				w := want[rk{r.Program, grp}]
				if w == nil || !w.AmountPaid.Equal(r.AmountPaid) || w.Payments != r.Payments || w.Persons != r.Persons {
					t.Errorf("Spending(%d, %s): got %+v, want %+v", year, groupBy, r, w)
				}
			}
		}
	}
}

// monthCounts is a spending_persons row's counts as spendSQLPersons shows
// them, from pairs of month (1–12) and count; other months are 0.
func monthCounts(monthCount ...int) string {
	counts := []string{"0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0"}
	for i := 0; i < len(monthCount); i += 2 {
		counts[monthCount[i]-1] = fmt.Sprint(monthCount[i+1])
	}
	return strings.Join(counts, " ")
}

// cmpStrings compares string tuples bytewise, as COLLATE "C" orders them.
func cmpStrings(a, b []string) int {
	return slices.Compare(a, b)
}
