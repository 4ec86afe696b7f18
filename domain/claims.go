package domain

import (
	"cmp"
	"maps"
	"slices"
)

// TypeOverpaymentCancelled is the event type of OverpaymentCancelled.
const TypeOverpaymentCancelled = "payroll.OverpaymentCancelled.v1"

// OverpaymentCancelled: (part of) a claim is withdrawn because the month
// it claims back is owed after all — the decision that made the month
// overpaid was withdrawn (today: a death retracted, which reinstates what
// it ended). Only what the claim still asks is cancelled: money recovered
// on it already is paid out again by the next payroll, as arrears of a
// month owed and no longer kept; an amount written off stays written off.
type OverpaymentCancelled struct {
	ClaimID     string      `json:"claim_id"`
	PersonID    PersonID    `json:"person_id"`
	Program     ProgramCode `json:"program"`
	Period      Period      `json:"period"`
	Amount      Money       `json:"amount"`
	Reason      string      `json:"reason"`
	CancelledOn Date        `json:"cancelled_on"`
}

func (OverpaymentCancelled) EventType() string   { return TypeOverpaymentCancelled }
func (e OverpaymentCancelled) EffectiveOn() Date { return e.CancelledOn }

// cancel folds a cancellation into the shard: the claim asks less, and the
// month counts less as claimed back.
func (s *PaymentsShard) cancel(e *OverpaymentCancelled) {
	c := s.Claims[e.ClaimID]
	if c == nil {
		return
	}
	c.Cancelled = c.Cancelled.Add(e.Amount)
	a := s.month(PersonPeriod{c.PersonID, c.Period})
	a.Claimed = a.Claimed.Less(e.Amount)
}

// DecideClaimCancellations withdraws what a shard's claims ask beyond what
// the months of persons are overpaid now: for each month, the claims
// (net of cancellations) less the overpayment (paid − owed, at least
// nothing), taken from the month's latest claims first and never more than
// a claim still asks. persons are the persons to judge, as they stand
// now; a month of another person is left alone. reason says why, in the
// words of the decision withdrawn.
func DecideClaimCancellations(s PaymentsShard, program ProgramCode, persons []PayrollPerson, on Date, reason string) []OverpaymentCancelled {
	keys, byPerson := monthsOf(s, persons)
	owed := map[PersonID]map[Period]Money{}
	var out []OverpaymentCancelled
	for _, k := range keys {
		p, ok := byPerson[k.Person]
		a := s.Months[k]
		if !ok || a.Claimed.IsZero() {
			continue
		}
		o, ok := owed[k.Person]
		if !ok {
			o = owedThrough(program, p, judgedThrough(program, on.Period().Next()))
			owed[k.Person] = o
		}
		excess := a.Claimed.Less(a.Gross().Less(o[k.Period]))
		var claims []*Claim
		for n := 1; s.Claims[claimID(k, program, n)] != nil; n++ {
			claims = append(claims, s.Claims[claimID(k, program, n)])
		}
		for i := len(claims) - 1; i >= 0 && !excess.IsZero(); i-- {
			c := claims[i]
			amount := c.Remaining()
			if excess.Cmp(amount) < 0 {
				amount = excess
			}
			if amount.IsZero() {
				continue
			}
			out = append(out, OverpaymentCancelled{ClaimID: c.ClaimID, PersonID: k.Person, Program: program, Period: k.Period, Amount: amount,
				Reason: reason, CancelledOn: on})
			excess = excess.Less(amount)
		}
	}
	return out
}

// monthsOf returns a shard's months in order (by person, then period) and
// persons by ID: what the decisions on claims go through.
func monthsOf(s PaymentsShard, persons []PayrollPerson) ([]PersonPeriod, map[PersonID]PayrollPerson) {
	byPerson := make(map[PersonID]PayrollPerson, len(persons))
	for _, p := range persons {
		byPerson[p.PersonID] = p
	}
	keys := slices.Collect(maps.Keys(s.Months))
	slices.SortFunc(keys, func(a, b PersonPeriod) int {
		return cmp.Or(cmp.Compare(a.Person, b.Person), a.Period.Compare(b.Period))
	})
	return keys, byPerson
}
