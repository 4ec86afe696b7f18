package seed

import (
	"fmt"
	"slices"

	"github.com/lushan-dpf/ledger/domain"
)

// publishedClasses are the federation's counts of disabled persons by
// household class at the end of 2024.
var publishedClasses = []struct {
	class domain.HouseholdClass
	n     int
}{
	{domain.HouseholdLiftedFromPoverty, 1673},
	{domain.HouseholdMonitoredMarginal, 68},
	{domain.HouseholdMonitoredUnstable, 26},
	{domain.HouseholdMonitoredHardship, 159},
	{domain.HouseholdUrbanNeedy, 414},
}

// classChanges are the household class changes of 2024: newly monitored
// after a sudden hardship, monitoring ended when the risk was removed, and
// so on. Each is made by one single-person household.
var classChanges = []struct {
	from, to domain.HouseholdClass
	n        int
}{
	{domain.HouseholdNone, domain.HouseholdMonitoredHardship, 14},
	{domain.HouseholdMonitoredUnstable, domain.HouseholdLiftedFromPoverty, 9},
	{domain.HouseholdMonitoredMarginal, domain.HouseholdNone, 6},
	{domain.HouseholdNone, domain.HouseholdUrbanNeedy, 5},
}

// classes gives every household a class so that, on 2024-12-31, the living
// persons of the ledger count exactly as published. Households whose
// members hold the incapacity subsidy must be registered poor (lifted from
// poverty or monitored).
func (b *builder) classes() error {
	type unit struct {
		members     []*person
		alive       int
		constrained bool
	}
	var units []*unit
	byHH := map[string]*unit{}
	for _, p := range b.persons {
		u := byHH[p.household]
		if p.household == "" || u == nil {
			u = &unit{}
			units = append(units, u)
			if p.household != "" {
				byHH[p.household] = u
			}
		}
		u.members = append(u.members, p)
		if p.death == 0 {
			u.alive++
		}
		if p.has(tagIncapacity) {
			u.constrained = true
		}
	}
	remaining := map[domain.HouseholdClass]int{}
	alive, counted := 0, 0
	for _, u := range units {
		alive += u.alive
	}
	for _, c := range publishedClasses {
		remaining[c.class] = c.n
		counted += c.n
	}
	remaining[domain.HouseholdNone] = alive - counted
	if alive < counted {
		return fmt.Errorf("seed plan: %d persons alive at the end of 2024, fewer than the %d the classes count", alive, counted)
	}
	poorClasses := []domain.HouseholdClass{domain.HouseholdLiftedFromPoverty, domain.HouseholdMonitoredMarginal,
		domain.HouseholdMonitoredUnstable, domain.HouseholdMonitoredHardship}
	allClasses := append(slices.Clone(poorClasses), domain.HouseholdUrbanNeedy, domain.HouseholdNone)

	// Constrained households first, then pairs, then singles: the larger
	// and the pickier go while every quota still has room.
	order := b.r.Perm(len(units))
	slices.SortStableFunc(order, func(x, y int) int {
		rank := func(u *unit) int {
			switch {
			case u.constrained:
				return 0
			case u.alive > 1:
				return 1
			}
			return 2
		}
		return rank(units[x]) - rank(units[y])
	})
	for _, i := range order {
		u := units[i]
		choices := allClasses
		if u.constrained {
			choices = poorClasses
		}
		var class domain.HouseholdClass
		if u.alive == 0 {
			class = b.weightedClass(choices, func(c domain.HouseholdClass) int { return remaining[c] + 1 })
		} else {
			total := 0
			for _, c := range choices {
				if remaining[c] >= u.alive {
					total += remaining[c]
				}
			}
			if total == 0 {
				return fmt.Errorf("seed plan: no household class left for a household of %d", u.alive)
			}
			class = b.weightedClass(choices, func(c domain.HouseholdClass) int {
				if remaining[c] >= u.alive {
					return remaining[c]
				}
				return 0
			})
			remaining[class] -= u.alive
		}
		for _, p := range u.members {
			p.status.Class, p.endClass = class, class
		}
	}
	// Class changes in 2024, by single-person households with no other
	// change of their own: the class they end the year in is the one just
	// drawn; the one they were registered with is the change's from.
	for _, ch := range classChanges {
		ps, err := b.pick("class changes to "+string(ch.to), b.persons, ch.n, tagClassChange, func(p *person) bool {
			return p.household == "" && p.death == 0 && p.endClass == ch.to && p.migrated() && p.change == nil &&
				p.tags&(lifeEvents|tagIncapacity|tagHomeMod) == 0
		})
		if err != nil {
			return err
		}
		for _, p := range ps {
			p.status.Class = ch.from
			p.change = &statusChange{kind: changeClass, month: b.between(2, 11), class: ch.to}
		}
	}
	return nil
}

// weightedClass picks one of choices with probability proportional to
// weight.
func (b *builder) weightedClass(choices []domain.HouseholdClass, weight func(domain.HouseholdClass) int) domain.HouseholdClass {
	total := 0
	for _, c := range choices {
		total += weight(c)
	}
	n := b.r.IntN(total)
	for _, c := range choices {
		if n < weight(c) {
			return c
		}
		n -= weight(c)
	}
	return choices[len(choices)-1]
}
