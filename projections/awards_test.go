package projections_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

const (
	awdSQLAwards = `SELECT person_id, program, kind, award_id, effective_on, amount::text, item, quantity, unit_value::text, attributes::text
		FROM awards ORDER BY position_commit, position_prepare`
	awdSQLGrants = `SELECT person_id, program, effective_from, attributes->>'post', attributes->>'vehicle_plate'
		FROM awards_grants ORDER BY position_commit, position_prepare`
	awdSQLHouseholds = `SELECT person_id, effective_on, class FROM awards_households ORDER BY position_commit, position_prepare`
	awdSQLBudgets    = `SELECT program, fiscal_year, amount::text FROM awards_budgets ORDER BY program, fiscal_year`
)

func (g *entGiven) oneOff(id domain.PersonID, program domain.ProgramCode, grantID, on, amount string) {
	g.on(id, domain.OneOffGranted{GrantID: grantID, Program: program, Amount: domain.MustMoney(amount), EffectiveDate: entD(on)})
}

func (g *entGiven) inKind(id domain.PersonID, issueID, item string, quantity int, unit, on string) {
	g.on(id, &domain.InKindIssued{IssueID: issueID, Program: domain.ProgramDeviceInKind, Item: item, Quantity: quantity,
		UnitValue: domain.MustMoney(unit), EffectiveDate: entD(on)})
}

func (g *entGiven) household(id domain.PersonID, class domain.HouseholdClass, on string) {
	g.on(id, domain.HouseholdStatusChanged{Household: domain.HouseholdStatus{Class: class, Dibao: true}, EffectiveDate: entD(on)})
}

func (g *entGiven) grantWith(id domain.PersonID, program domain.ProgramCode, from, amount string, attrs domain.GrantAttributes) {
	g.log.AddBy(id.Stream(), "clerk.li", "clerk", &domain.EntitlementGranted{Program: program, EffectiveFrom: entD(from),
		Amount: domain.MustMoney(amount), Attributes: attrs})
}

func (g *entGiven) budget(program domain.ProgramCode, year int, amount string) {
	g.log.AddBy(domain.ProgramStream(program), "finance.zhao", "finance", domain.BudgetAllocated{Program: program, FiscalYear: year, Amount: domain.MustMoney(amount)})
}

func TestAwardsProjection(t *testing.T) {
	t.Parallel()
	a, b := string(entA), string(entB)
	tests := []struct {
		name  string
		given func(g *entGiven)
		then  []prtest.Check
	}{
		{
			name: "a one-off grant and an in-kind issue are a row each; in-kind is valued at quantity × unit value",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.oneOff(entA, domain.ProgramCondolence, "g-1", "2024-02-09", "500.00")
				g.inKind(entA, "i-1", "轮椅", 3, "350.50", "2024-06-01")
				g.oneOff(entA, domain.ProgramDeviceSubsidy, "g-2", "2023-12-31", "1200.00")
			},
			then: []prtest.Check{{SQL: awdSQLAwards, Want: []string{
				a + " | condolence | one_off | g-1 | 2024-02-09 | 500.00 | NULL | NULL | NULL | NULL",
				a + " | device_in_kind | in_kind | i-1 | 2024-06-01 | 1051.50 | 轮椅 | 3 | 350.50 | NULL",
				a + " | device_subsidy | one_off | g-2 | 2023-12-31 | 1200.00 | NULL | NULL | NULL | NULL",
			}}},
		},
		{
			name: "the class registered with, then every change by its effective date, backdated ones included",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇") // class none
				g.household(entA, domain.HouseholdUrbanNeedy, "2024-05-01")
				g.household(entA, domain.HouseholdLiftedFromPoverty, "2024-03-01") // recorded later, effective earlier
				g.register(entB, "李四", "星子镇")
				g.on(entB, domain.PersonDied{DateOfDeath: entD("2024-08-15")})
			},
			then: []prtest.Check{
				{SQL: awdSQLHouseholds, Want: []string{
					a + " | NULL | ",
					a + " | 2024-05-01 | urban_needy",
					a + " | 2024-03-01 | lifted_from_poverty",
					b + " | NULL | ",
				}},
				// The class in force on a date, as the annual summary asks it.
				{SQL: `SELECT d::date, (SELECT class FROM awards_households h WHERE h.person_id = $1
						AND (h.effective_on IS NULL OR h.effective_on <= d::date)
						ORDER BY h.effective_on DESC NULLS LAST, h.position_commit DESC, h.position_prepare DESC LIMIT 1)
					FROM unnest('{2024-01-01,2024-03-01,2024-04-30,2024-05-01,2024-12-31}'::date[]) AS d ORDER BY d`,
					Args: []any{a}, Want: []string{
						"2024-01-01 | ", "2024-03-01 | lifted_from_poverty", "2024-04-30 | lifted_from_poverty",
						"2024-05-01 | urban_needy", "2024-12-31 | urban_needy",
					}},
			},
		},
		{
			name: "grants keep their attributes when they carry any",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				g.grantWith(entA, entJob, "2024-02-01", "500.00", domain.GrantAttributes{Post: domain.PostLibraryManager})
				g.terminate(entA, entJob, "2024-04-30", domain.TerminationNoLongerEligible)
				g.grantWith(entA, entJob, "2024-07-01", "450.00", domain.GrantAttributes{Post: domain.PostPublicWelfare})
				g.grantWith(entA, domain.ProgramFuelAllowance, "2024-03-01", "300.00", domain.GrantAttributes{VehiclePlate: "赣G12345"})
			},
			then: []prtest.Check{{SQL: awdSQLGrants, Want: []string{
				a + " | public_welfare_job | 2024-02-01 | library_manager | NULL",
				a + " | public_welfare_job | 2024-07-01 | public_welfare | NULL",
				a + " | fuel_allowance | 2024-03-01 | NULL | 赣G12345",
			}}},
		},
		{
			name: "the latest allocation of a program and year wins",
			given: func(g *entGiven) {
				g.budget(entLiving, 2024, "1000.00")
				g.budget(entCare, 2025, "500.00")
				g.budget(entLiving, 2024, "1200.00")
				g.budget(entLiving, 2023, "0.00")
			},
			then: []prtest.Check{{SQL: awdSQLBudgets, Want: []string{
				"care_subsidy | 2025 | 500.00",
				"living_subsidy | 2023 | 0.00",
				"living_subsidy | 2024 | 1200.00",
			}}},
		},
		{
			name: "payments, certificates, moves and terminations leave no rows",
			given: func(g *entGiven) {
				g.certificate(entA, 2, "2020-01-01")
				g.on(entA, domain.PersonMoved{FromTownship: "蛟塘镇", ToTownship: "星子镇", EffectiveDate: entD("2024-03-01")})
				g.terminate(entA, entLiving, "2024-03-31", domain.TerminationOther)
				ref := g.pay(entA, entLiving, "2024-02", "100.00")
				g.fail(ref)
			},
			then: []prtest.Check{
				{SQL: `SELECT (SELECT count(*) FROM awards) + (SELECT count(*) FROM awards_grants)
					+ (SELECT count(*) FROM awards_households) + (SELECT count(*) FROM awards_budgets)`, Want: []string{"0"}},
			},
		},
	}
	p := projections.AwardsProjection{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g := newEntGiven()
			tc.given(g)
			prtest.Expect(t, p, g.log.Envelopes, tc.then...)
		})
	}
}

// A grant's attributes join its entitlement_history row on the position,
// which is how the annual summary counts posts.
func TestAwardsGrantsJoinEntitlementHistory(t *testing.T) {
	t.Parallel()
	g := newEntGiven()
	g.register(entA, "张三", "蛟塘镇")
	g.grantWith(entA, entJob, "2024-02-01", "500.00", domain.GrantAttributes{Post: domain.PostLibraryManager})
	g.terminate(entA, entJob, "2024-04-30", domain.TerminationNoLongerEligible)
	g.grantWith(entA, entJob, "2024-07-01", "450.00", domain.GrantAttributes{Post: domain.PostPublicWelfare})
	db := prtest.Setup(t, projections.AwardsProjection{})
	ent := projections.EntitlementsProjection{}
	if _, err := db.Pool.Exec(context.Background(), ent.Schema()); err != nil {
		t.Fatal(err)
	}
	prtest.Apply(t, db.Pool, projections.AwardsProjection{}, g.log.Envelopes)
	prtest.Apply(t, db.Pool, ent, g.log.Envelopes)
	prtest.CheckRows(t, db.Pool, prtest.Check{
		SQL: `SELECT h.change, h.effective_date, coalesce(g.attributes->>'post', '-')
		FROM entitlement_history h LEFT JOIN awards_grants g USING (position_commit, position_prepare)
		ORDER BY h.position_commit`,
		Want: []string{"granted | 2024-02-01 | library_manager", "terminated | 2024-04-30 | -", "granted | 2024-07-01 | public_welfare"},
	})
}

func TestAwardsRefusesImpossibleLogs(t *testing.T) {
	t.Parallel()
	p := projections.AwardsProjection{}
	cases := map[string]func(g *entGiven){
		"a one-off grant outside a person stream": func(g *entGiven) {
			g.log.Add("payroll-x", domain.OneOffGranted{GrantID: "g", Program: domain.ProgramCondolence, Amount: domain.MustMoney("1.00"), EffectiveDate: entD("2024-01-01")})
		},
		"an in-kind issue of no items": func(g *entGiven) { g.inKind(entA, "i", "轮椅", 0, "1.00", "2024-01-01") },
		"a one-off grant without a date": func(g *entGiven) {
			g.on(entA, domain.OneOffGranted{GrantID: "g", Program: domain.ProgramCondolence, Amount: domain.MustMoney("1.00")})
		},
		"a household change without a date": func(g *entGiven) {
			g.on(entA, domain.HouseholdStatusChanged{Household: domain.HouseholdStatus{Class: domain.HouseholdUrbanNeedy}})
		},
	}
	for name, given := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g := newEntGiven()
			given(g)
			db := prtest.Setup(t, p)
			tx, err := db.Pool.Begin(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			if err := p.Apply(context.Background(), tx, g.log.Envelopes); !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("Apply: %v, want an error wrapping ErrInvalid", err)
			}
		})
	}
}

// awardsLog is a random but valid history of registrations, household
// changes, grants with and without attributes, one-offs, in-kind issues
// and budgets, interleaved across persons.
func awardsLog(seed uint64, persons, events int) []domain.Envelope {
	r := rand.New(rand.NewPCG(seed, 0xa3a7d5))
	g := newEntGiven()
	classes := []domain.HouseholdClass{domain.HouseholdNone, domain.HouseholdLiftedFromPoverty, domain.HouseholdMonitoredMarginal,
		domain.HouseholdMonitoredUnstable, domain.HouseholdMonitoredHardship, domain.HouseholdUrbanNeedy}
	registered := 0
	day := func() string { return entD("2023-06-01").AddDays(r.IntN(700)).String() }
	for i := range events {
		if registered < persons && (registered == 0 || r.IntN(5) == 0) {
			id := entPID(0x200 + registered)
			g.on(id, domain.PersonRegistered{PersonID: id, IDNumber: "360427199001010011", IDHash: "hash-" + string(id),
				IDMasked: "360427********0011", Name: fmt.Sprint("人", registered), BirthDate: entD("1990-01-01"), Gender: domain.GenderFemale,
				Township: simTowns[registered%len(simTowns)], HouseholdID: string(id),
				Household: domain.HouseholdStatus{Class: classes[r.IntN(len(classes))]}, RegisteredOn: entD("2023-01-01")})
			registered++
			continue
		}
		id := entPID(0x200 + r.IntN(registered))
		switch r.IntN(6) {
		case 0:
			g.household(id, classes[r.IntN(len(classes))], day())
		case 1:
			g.oneOff(id, []domain.ProgramCode{domain.ProgramCondolence, domain.ProgramDeviceSubsidy, domain.ProgramEducationStipend}[r.IntN(3)],
				fmt.Sprint("g-", i), day(), fmt.Sprintf("%d.%02d", 1+r.IntN(3000), r.IntN(100)))
		case 2:
			g.inKind(id, fmt.Sprint("i-", i), "助听器", 1+r.IntN(5), fmt.Sprintf("%d.%02d", 1+r.IntN(900), r.IntN(100)), day())
		case 3:
			g.grantWith(id, entJob, day(), "500.00", domain.GrantAttributes{Post: []string{domain.PostPublicWelfare, domain.PostLibraryManager}[r.IntN(2)]})
		case 4:
			g.grant(id, entLiving, day(), "")
		case 5:
			g.budget([]domain.ProgramCode{entLiving, entCare, domain.ProgramCondolence}[r.IntN(3)], 2023+r.IntN(3), fmt.Sprintf("%d.00", r.IntN(100000)))
		}
	}
	return g.log.Envelopes
}

// The same history projected in random batch sizes gives the same tables
// as in one batch, for many seeds.
func TestAwardsBatchSplitInvariance(t *testing.T) {
	t.Parallel()
	p := projections.AwardsProjection{}
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			envs := awardsLog(seed, 12, 300)
			r := rand.New(rand.NewPCG(seed, 2))
			one := prtest.Project(t, p, envs, prtest.RandomSizes(r, len(envs), 1+r.IntN(40)))
			for _, table := range p.Tables() {
				if len(prtest.Dump(t, one, table)) == 0 {
					t.Errorf("%s is empty: the generator should fill every table", table)
				}
			}
		})
	}
}
