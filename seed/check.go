package seed

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// Figures are what the annual report for 2024 should show for a scenario,
// by the definitions the report uses (docs/demo.md): computed by running
// the plan's commands through the domain in memory.
type Figures struct {
	Programs      map[domain.ProgramCode]*ProgramFigures
	LivingAndCare struct {
		Persons, LivingCases, CareCases int
		Paid                            domain.Money
	}
	Households map[domain.HouseholdClass]int
	TotalPaid  domain.Money
}

// ProgramFigures is one program's row of the annual report.
type ProgramFigures struct {
	Persons, Cases, Granted, Terminated int
	Paid                                domain.Money
	InKindItems                         int
	InKindValue                         domain.Money
	Posts                               map[string]int // public_welfare_job only
	Budget                              domain.Money   // zero: none allocated

	persons map[domain.PersonID]bool
}

// Program returns the figures of program (zero figures for none).
func (f *Figures) Program(program domain.ProgramCode) ProgramFigures {
	if pf := f.Programs[program]; pf != nil {
		return *pf
	}
	return ProgramFigures{}
}

func newFigures() *Figures {
	f := &Figures{Programs: map[domain.ProgramCode]*ProgramFigures{}, Households: map[domain.HouseholdClass]int{}}
	for _, p := range domain.Catalog() {
		f.Programs[p.Code] = &ProgramFigures{persons: map[domain.PersonID]bool{}}
	}
	f.Programs[domain.ProgramPublicWelfareJob].Posts = map[string]int{domain.PostPublicWelfare: 0, domain.PostLibraryManager: 0}
	return f
}

var (
	yearFirst = domain.MustDate("2024-01-01")
	yearLast  = domain.MustDate("2024-12-31")
)

func inYear(d domain.Date) bool { return !d.Before(yearFirst) && !d.After(yearLast) }

// timedChange is an entitlement change with when it was recorded.
type timedChange struct {
	at time.Time
	ch domain.EntitlementChange
}

// check runs every command of the plan through domain.Decide in memory,
// as the handler would, and computes the year's figures from the events:
// it fails if a command would be refused, if a payroll would pay a month
// not owed or leave a month of 2024 unpaid at the end of the year, or if
// the figures differ from the published ones.
func (pl *Plan) check() error {
	f := newFigures()
	livingCare := map[domain.PersonID]bool{}
	for _, p := range pl.persons {
		var s domain.Beneficiary
		changes := map[domain.ProgramCode][]timedChange{}
		for _, a := range p.actions {
			cmd := a.cmd
			if a.acct != nil {
				cmd = domain.RecordBankAccount{Account: domain.BankAccount{AccountName: a.acct.holder, Bank: a.acct.bank,
					AccountMasked: "****", AccountSealed: "(sealed when written)"}}
			}
			evs, err := domain.Decide(s, cmd, a.at)
			if err != nil {
				return fmt.Errorf("seed plan: person %d (%s) %s at %s: %w", p.idx, p.pid, cmd.CommandName(), a.at.Format(time.DateTime), err)
			}
			for _, e := range evs {
				e = domain.AsDecoded(e) // folded as a reader of the stream would get it
				s = domain.Evolve(s, e)
				if program, ch, ok := domain.EntitlementChangeOf(e); ok {
					changes[program] = append(changes[program], timedChange{a.at, ch})
				}
				f.tally(p.pid, e)
				if g, ok := e.(*domain.EntitlementGranted); ok && (g.Program == domain.ProgramLivingSubsidy || g.Program == domain.ProgramCareSubsidy) {
					livingCare[p.pid] = true
				}
			}
		}
		if c := p.change; c != nil && c.kind == changeClass {
			// Learned from the roster of the month's last day, imported
			// before the next month's payroll (executor.importRosters).
			evs, err := domain.Decide(s, domain.ChangeHouseholdStatus{Status: c.apply(p.status), EffectiveOn: monthDate(c.month, 31)},
				draftTime(c.month+1))
			if err != nil {
				return fmt.Errorf("seed plan: person %d (%s) class change from the roster: %w", p.idx, p.pid, err)
			}
			for _, e := range evs {
				e = domain.AsDecoded(e)
				s = domain.Evolve(s, e)
				f.tally(p.pid, e)
			}
		}
		if s.Registered && !s.Deceased && !s.RegisteredOn.After(yearLast) {
			f.Households[s.Household.Class]++
		}
		for _, program := range slices.Sorted(maps.Keys(changes)) {
			paid, err := simulatePayroll(program, changes[program])
			if err != nil {
				return fmt.Errorf("seed plan: person %d (%s): %w", p.idx, p.pid, err)
			}
			pf := f.Programs[program]
			pf.Paid = pf.Paid.Add(paid)
		}
	}
	f.LivingAndCare.Persons = len(livingCare)
	f.LivingAndCare.LivingCases = f.Programs[domain.ProgramLivingSubsidy].Cases
	f.LivingAndCare.CareCases = f.Programs[domain.ProgramCareSubsidy].Cases
	f.LivingAndCare.Paid = f.Programs[domain.ProgramLivingSubsidy].Paid.Add(f.Programs[domain.ProgramCareSubsidy].Paid)
	for _, pf := range f.Programs {
		pf.Persons = len(pf.persons)
		f.TotalPaid = f.TotalPaid.Add(pf.Paid)
	}
	if err := f.matchPublished(); err != nil {
		return err
	}
	pl.want = f
	return nil
}

// tally counts event e (as decoded) of person pid into the figures.
func (f *Figures) tally(pid domain.PersonID, e domain.Event) {
	switch e := e.(type) {
	case *domain.EntitlementGranted:
		pf := f.Programs[e.Program]
		if !e.EffectiveFrom.After(yearLast) { // every grant of the plan is in force in 2024
			pf.Cases++
			pf.persons[pid] = true
			if pf.Posts != nil {
				pf.Posts[e.Attributes.Post]++
			}
		}
		if inYear(e.EffectiveFrom) {
			pf.Granted++
		}
	case *domain.EntitlementTerminated:
		if inYear(e.EffectiveTo) {
			f.Programs[e.Program].Terminated++
		}
	case *domain.OneOffGranted:
		if inYear(e.EffectiveDate) {
			pf := f.Programs[e.Program]
			pf.Cases++
			pf.persons[pid] = true
			pf.Paid = pf.Paid.Add(e.Amount)
		}
	case *domain.InKindIssued:
		if inYear(e.EffectiveDate) {
			pf := f.Programs[e.Program]
			pf.Cases++
			pf.persons[pid] = true
			pf.InKindItems += e.Quantity
			pf.InKindValue = pf.InKindValue.Add(e.UnitValue.Mul(e.Quantity))
		}
	}
}

// simulatePayroll runs the twelve monthly payrolls of 2024 over one
// person's entitlement changes to a monthly or annual program, each seeing
// only the changes recorded before its draft, and returns what they pay in
// 2024. It fails if a payroll pays a period that turns out not to be owed
// (a change recorded too late: an overpayment) or if a period owed in 2024
// is still unpaid after December's payroll. (One-off grants are paid as
// granted: tally counts them.)
func simulatePayroll(program domain.ProgramCode, changes []timedChange) (domain.Money, error) {
	if p, _ := domain.LookupProgram(program); p.Shape != domain.ShapeMonthly && p.Shape != domain.ShapeAnnual {
		return domain.Money{}, nil
	}
	dec, _ := domain.NewPeriod(2024, time.December)
	owedIn2024 := func(changes []domain.EntitlementChange, through domain.Period) []domain.PeriodAmount {
		var out []domain.PeriodAmount
		for _, o := range domain.PeriodsOwed(program, changes, through) {
			if o.Period.Year() == 2024 {
				out = append(out, o)
			}
		}
		return out
	}
	paid := map[domain.Period]domain.Money{}
	total := domain.Money{}
	for m := 1; m <= 12; m++ {
		var known []domain.EntitlementChange
		for _, c := range changes {
			if c.at.Before(draftTime(m)) {
				known = append(known, c.ch)
			}
		}
		period, _ := domain.NewPeriod(2024, time.Month(m))
		for _, o := range owedIn2024(known, period) {
			if due, err := o.Amount.Sub(paid[o.Period]); err == nil && !due.IsZero() {
				paid[o.Period] = o.Amount
				total = total.Add(due)
			}
		}
	}
	all := make([]domain.EntitlementChange, len(changes))
	for i, c := range changes {
		all[i] = c.ch
	}
	owed := map[domain.Period]domain.Money{}
	for _, o := range owedIn2024(all, dec) {
		owed[o.Period] = o.Amount
	}
	for _, per := range slices.SortedFunc(maps.Keys(paid), domain.Period.Compare) {
		if paid[per].Cmp(owed[per]) > 0 {
			return total, fmt.Errorf("%s %s would be paid %s but is owed %s: a change is recorded after that month's payroll", program, per, paid[per], owed[per])
		}
	}
	for _, per := range slices.SortedFunc(maps.Keys(owed), domain.Period.Compare) {
		if !paid[per].Equal(owed[per]) {
			return total, fmt.Errorf("%s %s is owed %s but paid %s in 2024: a grant is recorded after December's payroll", program, per, owed[per], paid[per])
		}
	}
	return total, nil
}

// The federation's published 2024 figures (DESIGN.md §3), which the
// scenario reproduces.
const (
	publishedLivingCases      = published2664
	publishedCareCases        = published2311
	publishedLivingCarePerson = 3847
	publishedLivingCareMonths = 56442 // 5,644,200.00 at 100.00 a person-month

	publishedIncapacityPersons = 84
	publishedIncapacityFen     = 547_400_00
	publishedDevicePersons     = 196
	publishedDeviceFen         = 567_100_00
	publishedInKindItems       = 153
	publishedHomeModPersons    = 79
	publishedHomeModFen        = 235_200_00
	publishedCochlearPersons   = 2
	publishedCochlearFen       = 144_000_00
	publishedRehabChildren     = 52
	publishedRehabTrainingFen  = 730_000_00
	publishedRehabLivingFen    = 90_400_00
	publishedEducationPersons  = 5
	publishedEducationFen      = 19_000_00
	publishedCondolencePersons = 236
	publishedCondolenceFen     = 88_150_00
	publishedFuelGrants        = 59
	publishedFuelTerminated    = 13

	publishedPostsPublicWelfare = 47
	publishedPostsLibrary       = 32
)

// matchPublished compares f with the published figures.
func (f *Figures) matchPublished() error {
	var bad []string
	want := func(what string, got, want any) {
		if fmt.Sprint(got) != fmt.Sprint(want) {
			bad = append(bad, fmt.Sprintf("%s %v, want %v", what, got, want))
		}
	}
	fen := func(n int64) domain.Money { m, _ := domain.MoneyFromFen(n); return m }
	lc := f.LivingAndCare
	want("living cases", lc.LivingCases, publishedLivingCases)
	want("care cases", lc.CareCases, publishedCareCases)
	want("living and care persons", lc.Persons, publishedLivingCarePerson)
	want("living and care paid", lc.Paid, fen(publishedLivingCareMonths*100_00))
	for _, c := range []struct {
		program domain.ProgramCode
		persons int
		paid    int64
	}{
		{domain.ProgramIncapacitySubsidy, publishedIncapacityPersons, publishedIncapacityFen},
		{domain.ProgramDeviceSubsidy, publishedDevicePersons, publishedDeviceFen},
		{domain.ProgramHomeModification, publishedHomeModPersons, publishedHomeModFen},
		{domain.ProgramCochlearImplant, publishedCochlearPersons, publishedCochlearFen},
		{domain.ProgramChildRehabTraining, publishedRehabChildren, publishedRehabTrainingFen},
		{domain.ProgramEducationStipend, publishedEducationPersons, publishedEducationFen},
		{domain.ProgramCondolence, publishedCondolencePersons, publishedCondolenceFen},
	} {
		pf := f.Programs[c.program]
		want(string(c.program)+" persons", pf.Persons, c.persons)
		want(string(c.program)+" paid", pf.Paid, fen(c.paid))
	}
	want("child_rehab_living paid", f.Programs[domain.ProgramChildRehabLiving].Paid, fen(publishedRehabLivingFen))
	want("device_in_kind items", f.Programs[domain.ProgramDeviceInKind].InKindItems, publishedInKindItems)
	fuel := f.Programs[domain.ProgramFuelAllowance]
	want("fuel_allowance cases", fuel.Cases, publishedFuelGrants)
	want("fuel_allowance granted", fuel.Granted, publishedFuelGrants)
	want("fuel_allowance terminated", fuel.Terminated, publishedFuelTerminated)
	posts := f.Programs[domain.ProgramPublicWelfareJob].Posts
	want("public_welfare posts", posts[domain.PostPublicWelfare], publishedPostsPublicWelfare)
	want("library_manager posts", posts[domain.PostLibraryManager], publishedPostsLibrary)
	for _, c := range publishedClasses {
		want(string(c.class)+" persons", f.Households[c.class], c.n)
	}
	if len(bad) > 0 {
		slices.SortFunc(bad, cmp.Compare)
		return fmt.Errorf("seed plan: the scenario misses the published figures: %v", bad)
	}
	return nil
}
