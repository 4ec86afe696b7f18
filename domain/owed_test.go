package domain_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

func granted(on, amount string) domain.EntitlementChange {
	c := domain.EntitlementChange{Kind: domain.ChangeGranted, EffectiveDate: domain.MustDate(on)}
	if amount != "" {
		c.Amount = domain.MustMoney(amount)
	}
	return c
}

func change(kind, on string) domain.EntitlementChange {
	return domain.EntitlementChange{Kind: kind, EffectiveDate: domain.MustDate(on)}
}

func suspended(on string) domain.EntitlementChange  { return change(domain.ChangeSuspended, on) }
func resumed(on string) domain.EntitlementChange    { return change(domain.ChangeResumed, on) }
func terminated(on string) domain.EntitlementChange { return change(domain.ChangeTerminated, on) }
func reinstated(on string) domain.EntitlementChange { return change(domain.ChangeReinstated, on) }

func period(s string) domain.Period {
	p, err := domain.ParsePeriod("period", s)
	if err != nil {
		panic(err)
	}
	return p
}

func owedText(in []domain.PeriodAmount) []string {
	var out []string
	for _, pa := range in {
		out = append(out, fmt.Sprintf("%s=%s", pa.Period, pa.Amount))
	}
	return out
}

func TestMonthsOwed(t *testing.T) {
	living, care := domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy
	job := domain.ProgramPublicWelfareJob
	tests := []struct {
		name          string
		program       domain.ProgramCode
		given         []domain.EntitlementChange
		from, through string
		want          []string
	}{
		{
			name: "grant from the 1st owes every month at the catalog rate", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", "")}, from: "2024-01", through: "2024-03",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-03=100.00"},
		},
		{
			name: "backdated grant owes the months since its effective_from, none before", program: living,
			given: []domain.EntitlementChange{granted("2023-11-01", "")}, from: "2023-06", through: "2024-01",
			want: []string{"2023-11=100.00", "2023-12=100.00", "2024-01=100.00"},
		},
		{
			name: "mid-month grant owes its whole first month", program: care,
			given: []domain.EntitlementChange{granted("2024-03-15", "")}, from: "2024-02", through: "2024-04",
			want: []string{"2024-03=100.00", "2024-04=100.00"},
		},
		{
			name: "grant on the last day of a month owes that month", program: care,
			given: []domain.EntitlementChange{granted("2024-02-29", "")}, from: "2024-01", through: "2024-03",
			want: []string{"2024-02=100.00", "2024-03=100.00"},
		},
		{
			name: "termination mid-month owes that month and no later one", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), terminated("2024-03-10")}, from: "2024-01", through: "2024-06",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-03=100.00"},
		},
		{
			name: "a reinstatement withdraws the termination: every month is owed again", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), terminated("2024-02-29"), reinstated("2024-02-29")}, from: "2024-01", through: "2024-04",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-03=100.00", "2024-04=100.00"},
		},
		{
			name: "a reinstatement withdraws only the termination it names", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), terminated("2024-02-29"), terminated("2024-03-31"), reinstated("2024-02-29")}, from: "2024-01", through: "2024-06",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-03=100.00"},
		},
		{
			name: "a reinstatement keeps the suspension it did not end", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), suspended("2024-02-10"), terminated("2024-03-31"), reinstated("2024-03-31")}, from: "2024-01", through: "2024-05",
			want: []string{"2024-01=100.00", "2024-02=100.00"},
		},
		{
			name: "termination on the last day of a month ends with that month", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), terminated("2024-02-29")}, from: "2024-01", through: "2024-06",
			want: []string{"2024-01=100.00", "2024-02=100.00"},
		},
		{
			name: "termination on the 1st still owes that month", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), terminated("2024-03-01")}, from: "2024-01", through: "2024-06",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-03=100.00"},
		},
		{
			name: "suspension mid-month keeps that month; resumption on the 1st brings the month back", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), suspended("2024-02-15"), resumed("2024-04-01")}, from: "2024-01", through: "2024-05",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-04=100.00", "2024-05=100.00"},
		},
		{
			name: "suspension from the 1st removes the month; resumption mid-month owes from the next month", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), suspended("2024-02-01"), resumed("2024-03-10")}, from: "2024-01", through: "2024-04",
			want: []string{"2024-01=100.00", "2024-04=100.00"},
		},
		{
			name: "suspension never resumed removes every later month", program: care,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), suspended("2024-01-20")}, from: "2024-01", through: "2024-04",
			want: []string{"2024-01=100.00"},
		},
		{
			name: "suspended and resumed on the same 1st owes the month", program: care,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), suspended("2024-03-01"), resumed("2024-03-01")}, from: "2024-02", through: "2024-03",
			want: []string{"2024-02=100.00", "2024-03=100.00"},
		},
		{
			name: "rate rise 2024-12 to 2025-01 gives 100.00 then 110.00", program: living,
			given: []domain.EntitlementChange{granted("2024-11-01", "")}, from: "2024-11", through: "2025-02",
			want: []string{"2024-11=100.00", "2024-12=100.00", "2025-01=110.00", "2025-02=110.00"},
		},
		{
			name: "a grant's own amount is owed whatever the catalog says", program: job,
			given: []domain.EntitlementChange{granted("2024-12-01", "500.00")}, from: "2024-12", through: "2025-01",
			want: []string{"2024-12=500.00", "2025-01=500.00"},
		},
		{
			name: "re-grant after termination owes both cycles and the gap not", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), terminated("2024-02-29"), granted("2024-05-01", "")}, from: "2024-01", through: "2024-06",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-05=100.00", "2024-06=100.00"},
		},
		{
			name: "re-grant in the month the first grant ended owes the month once, under the first grant", program: job,
			given: []domain.EntitlementChange{granted("2024-01-01", "500.00"), terminated("2024-03-10"), granted("2024-03-20", "600.00")}, from: "2024-02", through: "2024-04",
			want: []string{"2024-02=500.00", "2024-03=500.00", "2024-04=600.00"},
		},
		{
			name: "backdated termination recorded after a suspension is judged by effective date", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), suspended("2024-05-01"), terminated("2024-03-31")}, from: "2024-01", through: "2024-07",
			want: []string{"2024-01=100.00", "2024-02=100.00", "2024-03=100.00"},
		},
		{
			name: "suspension and resumption arriving out of order are judged by effective date", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), resumed("2024-06-01"), suspended("2024-04-10")}, from: "2024-03", through: "2024-07",
			want: []string{"2024-03=100.00", "2024-04=100.00", "2024-06=100.00", "2024-07=100.00"},
		},
		{
			name: "a suspension of a later cycle does not reach back into an earlier one", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", ""), terminated("2024-01-31"), granted("2024-03-01", ""), suspended("2024-04-01")}, from: "2024-01", through: "2024-05",
			want: []string{"2024-01=100.00", "2024-03=100.00"},
		},
		{
			name: "a death backdated before the grant means the grant never took effect", program: care,
			given: []domain.EntitlementChange{granted("2024-03-15", ""), terminated("2024-03-10")}, from: "2024-01", through: "2024-06",
			want: nil,
		},
		{
			name: "changes recorded before the first grant are ignored", program: care,
			given: []domain.EntitlementChange{terminated("2023-12-31"), suspended("2024-01-01"), granted("2024-02-01", "")}, from: "2024-01", through: "2024-02",
			want: []string{"2024-02=100.00"},
		},
		{
			name: "no grant owes nothing", program: care,
			given: nil, from: "2024-01", through: "2024-02",
			want: nil,
		},
		{
			name: "a window before the grant owes nothing", program: living,
			given: []domain.EntitlementChange{granted("2024-05-01", "")}, from: "2024-01", through: "2024-04",
			want: nil,
		},
		{
			name: "from after through owes nothing", program: living,
			given: []domain.EntitlementChange{granted("2024-01-01", "")}, from: "2024-03", through: "2024-02",
			want: nil,
		},
		{
			name: "an annual program is not judged by month", program: domain.ProgramFuelAllowance,
			given: []domain.EntitlementChange{granted("2024-01-01", "300.00")}, from: "2024-01", through: "2024-03",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := owedText(domain.MonthsOwed(tt.program, tt.given, period(tt.from), period(tt.through)))
			if !slices.Equal(got, tt.want) {
				t.Errorf("MonthsOwed(%s, %s..%s)\n got %q\nwant %q", tt.program, tt.from, tt.through, got, tt.want)
			}
		})
	}
}

// Reordering the suspensions and resumptions of one cycle, or moving its
// termination among them, never changes what is owed: they are judged by
// effective date.
func TestMonthsOwedIgnoresArrivalOrderWithinACycle(t *testing.T) {
	base := []domain.EntitlementChange{
		suspended("2024-02-10"), resumed("2024-04-01"), suspended("2024-06-01"), resumed("2024-06-15"), terminated("2024-09-30"),
	}
	want := owedText(domain.MonthsOwed(domain.ProgramLivingSubsidy,
		append([]domain.EntitlementChange{granted("2024-01-01", "")}, base...), period("2023-12"), period("2024-12")))
	if len(want) != 7 { // 01, 02, 04, 05, 07, 08, 09
		t.Fatalf("recording order: %q", want)
	}
	perm := []int{0, 1, 2, 3, 4}
	for range 50 {
		// next permutation, cycling through many orders
		i := len(perm) - 2
		for i >= 0 && perm[i] >= perm[i+1] {
			i--
		}
		if i < 0 {
			slices.Reverse(perm)
			continue
		}
		j := len(perm) - 1
		for perm[j] <= perm[i] {
			j--
		}
		perm[i], perm[j] = perm[j], perm[i]
		slices.Reverse(perm[i+1:])
		changes := []domain.EntitlementChange{granted("2024-01-01", "")}
		for _, k := range perm {
			changes = append(changes, base[k])
		}
		got := owedText(domain.MonthsOwed(domain.ProgramLivingSubsidy, changes, period("2023-12"), period("2024-12")))
		if !slices.Equal(got, want) {
			t.Fatalf("order %v: got %q, want %q", perm, got, want)
		}
	}
}

func TestEntitlementChangeOf(t *testing.T) {
	d := domain.MustDate("2024-03-01")
	tests := []struct {
		ev   domain.Event
		want domain.EntitlementChange
		ok   bool
	}{
		{&domain.EntitlementGranted{Program: "care_subsidy", EffectiveFrom: d}, domain.EntitlementChange{Kind: domain.ChangeGranted, EffectiveDate: d}, true},
		{&domain.EntitlementSuspended{Program: "care_subsidy", EffectiveDate: d}, domain.EntitlementChange{Kind: domain.ChangeSuspended, EffectiveDate: d}, true},
		{&domain.EntitlementResumed{Program: "care_subsidy", EffectiveDate: d}, domain.EntitlementChange{Kind: domain.ChangeResumed, EffectiveDate: d}, true},
		{&domain.EntitlementTerminated{Program: "care_subsidy", EffectiveTo: d}, domain.EntitlementChange{Kind: domain.ChangeTerminated, EffectiveDate: d}, true},
		{&domain.PersonDied{DateOfDeath: d}, domain.EntitlementChange{}, false},
	}
	for _, tt := range tests {
		prog, got, ok := domain.EntitlementChangeOf(tt.ev)
		if ok != tt.ok || got.Kind != tt.want.Kind || !got.EffectiveDate.Equal(tt.want.EffectiveDate) || (ok && prog != "care_subsidy") {
			t.Errorf("%T: got %s %+v %v, want %+v %v", tt.ev, prog, got, ok, tt.want, tt.ok)
		}
	}
}

func oneOff(on, amount string) domain.EntitlementChange {
	return domain.EntitlementChange{Kind: domain.ChangeOneOff, EffectiveDate: domain.MustDate(on), Amount: domain.MustMoney(amount)}
}

func TestPeriodsOwed(t *testing.T) {
	tests := []struct {
		name    string
		program domain.ProgramCode
		changes []domain.EntitlementChange
		through string
		want    string
	}{
		{"monthly: the months, from the first grant", domain.ProgramLivingSubsidy, []domain.EntitlementChange{granted("2024-11-15", "")}, "2025-01",
			"[2024-11:100.00 2024-12:100.00 2025-01:110.00]"},
		{"annual: once a year at the catalog rate, keyed to January; a grant from May owes the year", domain.ProgramFuelAllowance,
			[]domain.EntitlementChange{granted("2024-05-10", "")}, "2025-03", "[2024-01:300.00 2025-01:300.00]"},
		{"annual: a year is owed once one of its months is, not before", domain.ProgramFuelAllowance,
			[]domain.EntitlementChange{granted("2024-05-10", "")}, "2024-04", "[]"},
		{"annual: a vehicle scrapped in October keeps its year, not the next", domain.ProgramFuelAllowance,
			[]domain.EntitlementChange{granted("2024-03-01", ""), terminated("2024-10-31")}, "2025-12", "[2024-01:300.00]"},
		{"annual: a grant's own amount (recorded before the catalog had a rate) stands", domain.ProgramFuelAllowance,
			[]domain.EntitlementChange{granted("2024-03-01", "280.00")}, "2024-12", "[2024-01:280.00]"},
		{"annual: suspended for a whole year, that year is not owed", domain.ProgramFuelAllowance,
			[]domain.EntitlementChange{granted("2023-01-01", ""), suspended("2024-01-01"), resumed("2025-02-01")}, "2025-12", "[2023-01:300.00 2025-01:300.00]"},
		{"one-off: each grant in its month; a month's grants add up; later grants not yet", domain.ProgramCondolence,
			[]domain.EntitlementChange{oneOff("2024-02-05", "300.00"), oneOff("2024-02-20", "200.00"), oneOff("2024-09-01", "500.00"), oneOff("2025-01-02", "300.00")},
			"2024-12", "[2024-02:500.00 2024-09:500.00]"},
		{"one-off: entitlement changes are not one-off grants", domain.ProgramDeviceSubsidy,
			[]domain.EntitlementChange{granted("2024-01-01", "100.00")}, "2024-12", "[]"},
		{"in kind: nothing is paid", domain.ProgramDeviceInKind, []domain.EntitlementChange{oneOff("2024-02-05", "300.00")}, "2024-12", "[]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, o := range domain.PeriodsOwed(tc.program, tc.changes, period(tc.through)) {
				got = append(got, fmt.Sprintf("%s:%s", o.Period, o.Amount))
			}
			if fmt.Sprintf("[%s]", strings.Join(got, " ")) != tc.want {
				t.Errorf("PeriodsOwed = %v; want %s", got, tc.want)
			}
		})
	}
}

func TestPayrollChangeOfOneOffGrants(t *testing.T) {
	program, c, ok := domain.PayrollChangeOf(&domain.OneOffGranted{GrantID: "g1", Program: domain.ProgramCochlearImplant, Amount: domain.MustMoney("72000.00"), EffectiveDate: domain.MustDate("2024-04-16")})
	if !ok || program != domain.ProgramCochlearImplant || fmt.Sprint(c) != fmt.Sprint(oneOff("2024-04-16", "72000.00")) {
		t.Fatalf("PayrollChangeOf(OneOffGranted) = %s %+v %v", program, c, ok)
	}
	if _, _, ok := domain.EntitlementChangeOf(&domain.OneOffGranted{Program: domain.ProgramCochlearImplant}); ok {
		t.Error("a one-off grant is not an entitlement's change")
	}
	if program, c, ok := domain.PayrollChangeOf(&domain.EntitlementSuspended{Program: domain.ProgramLivingSubsidy, EffectiveDate: domain.MustDate("2024-04-01")}); !ok ||
		program != domain.ProgramLivingSubsidy || c.Kind != domain.ChangeSuspended {
		t.Errorf("PayrollChangeOf(EntitlementSuspended) = %s %+v %v", program, c, ok)
	}
}
