package domain

import (
	"cmp"
	"slices"
)

// factChange is one change of a fact eligibility rests on — the
// certificate or the household status — as the stream recorded it: the
// day it takes effect and, in recording order, what the fact became.
type factChange struct {
	on   Date
	seq  int
	cert *Certificate     // the certificate from on (nil: none, revoked); set when certSet
	hh   *HouseholdStatus // the household status from on, when set
}

// recordFact appends a change of a fact to s's history, in a new slice (a
// state shares nothing it changes with an earlier one).
func (s *Beneficiary) recordFact(c factChange) {
	c.seq = len(s.facts)
	s.facts = append(slices.Clip(s.facts), c)
}

// On returns s with its certificate and household status as they stood on
// d — by the date each change took effect, not when it was recorded: a
// regrade effective 2025-01-15 and recorded in March counts from
// 2025-01-15, and a grant from 2025-01-01 is judged on the grade before
// it. The household status at registration holds until the first change
// of it. Everything else is s as it stands.
func (s Beneficiary) On(d Date) Beneficiary {
	if len(s.facts) == 0 {
		return s
	}
	changes := slices.Clone(s.facts)
	slices.SortStableFunc(changes, func(a, b factChange) int { return cmp.Or(a.on.Compare(b.on), cmp.Compare(a.seq, b.seq)) })
	s.Certificate, s.Household = nil, s.registeredHousehold
	for _, c := range changes {
		if c.on.After(d) {
			break
		}
		if c.hh != nil {
			s.Household = *c.hh
		} else {
			s.Certificate = c.cert
		}
	}
	return s
}
