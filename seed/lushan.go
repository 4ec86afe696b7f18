// Package seed generates data through the ledger's own command path: the
// same domain decisions, events and payroll runs as real use.
//
// Scenario lushan-2024 is a synthetic Lushan City whose 2024 reproduces the
// federation's published 2024 figures exactly (docs/demo.md): the caseload
// migrated at go-live on 2024-01-01, the year's registrations, grants,
// deaths, terminations and one-off grants recorded on plausible dates by
// clerks and approvers, and twelve monthly payrolls drafted, approved by a
// second finance officer, exported to the bank and reconciled, with a few
// failed payments re-issued the month after.
//
// The package uses the domain and the event-store port; what it needs of
// the read models, the account vault and files comes through Ports, which
// cmd/ledger wires.
package seed

import (
	"context"
	"fmt"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// Lushan2024 is the name of the demo scenario.
const Lushan2024 = "lushan-2024"

// Plan is a scenario decided in full from its seed.
type Plan struct {
	seed    uint64
	key     domain.LookupKey
	persons []*person
	budgets []budget
	want    *Figures
	ran     bool
}

// NewLushan2024 plans the lushan-2024 scenario for seed, identifying
// persons with key (person IDs derive from it). It checks the plan in
// memory against the published figures.
func NewLushan2024(seed uint64, key domain.LookupKey) (*Plan, error) {
	if err := key.Validate(); err != nil {
		return nil, err
	}
	return newPlan(seed, key)
}

// Figures returns what the annual report for 2024 should show once the
// plan has run.
func (pl *Plan) Figures() *Figures { return pl.want }

// Persons is how many persons the plan registers.
func (pl *Plan) Persons() int { return len(pl.persons) }

// Commands is how many beneficiary commands the plan executes.
func (pl *Plan) Commands() int {
	n := 0
	for _, p := range pl.persons {
		n += len(p.actions)
	}
	return n
}

// budget is a program's budget for 2024, allocated by finance at at.
type budget struct {
	program domain.ProgramCode
	amount  domain.Money
	at      time.Time
	reason  string
}

// budgetsFor sets plausible 2024 budgets: a little above what the year
// pays, in round amounts; the care subsidy's first allocation proved short
// and was topped up in August (a later allocation replaces the earlier).
func budgetsFor(f *Figures) []budget {
	roundUp := func(fen int64, permille int64) domain.Money {
		const unit = 10_000_00
		v := (fen*permille/1000 + unit - 1) / unit * unit
		m, _ := domain.MoneyFromFen(v)
		return m
	}
	january := clock(domain.MustDate("2024-01-08"), 10, 0)
	const yearly, topUp = "2024年度预算", "2024年度预算追加"
	var out []budget
	for _, p := range domain.Catalog() {
		paid := f.Programs[p.Code].Paid.Fen()
		switch {
		case p.Code == domain.ProgramCareSubsidy:
			out = append(out, budget{p.Code, roundUp(paid, 960), january, yearly},
				budget{p.Code, roundUp(paid, 1010), clock(domain.MustDate("2024-08-12"), 10, 0), topUp})
		case p.Code == domain.ProgramFuelAllowance:
			// 59 vehicles at 300.00 a year.
			out = append(out, budget{p.Code, domain.MustMoney("20000.00"), january, yearly})
		case paid > 0:
			out = append(out, budget{p.Code, roundUp(paid, 1040), january, yearly})
		}
	}
	for _, b := range out {
		if pf := f.Programs[b.program]; pf != nil {
			pf.Budget = b.amount // the last allocation stands
		}
	}
	return out
}

// Empty reports whether store holds no events at all.
func Empty(ctx context.Context, store domain.EventStore) (bool, error) {
	evs, err := store.ReadAll(ctx, domain.Start, 1, domain.Filter{})
	if err != nil {
		return false, fmt.Errorf("seed: read the log: %w", err)
	}
	return len(evs) == 0, nil
}
