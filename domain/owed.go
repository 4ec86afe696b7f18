package domain

import (
	"maps"
	"slices"
	"time"
)

// Kinds of EntitlementChange: the four entitlement events of a person's
// stream, by what they do to a grant.
const (
	ChangeGranted    = "granted"
	ChangeSuspended  = "suspended"
	ChangeResumed    = "resumed"
	ChangeTerminated = "terminated"
	// ChangeReinstated withdraws the termination whose effective_to is
	// its EffectiveDate, whatever the date looked at (a correction: the
	// termination was recorded in error).
	ChangeReinstated = "reinstated"
	// ChangeOneOff is a one-off grant (OneOffGranted): owed once, in the
	// month of its effective date. It is a payroll change only
	// (PayrollChangeOf), not an entitlement's.
	ChangeOneOff = "one_off"
)

// EntitlementChange is one decision about a person's entitlement to one
// program, as MonthsOwed reads it.
type EntitlementChange struct {
	// Kind is ChangeGranted, ChangeSuspended, ChangeResumed,
	// ChangeTerminated or ChangeReinstated.
	Kind string
	// EffectiveDate is the grant's effective_from, the first day of a
	// suspension, the day payments resume, a termination's effective_to
	// (the last day in force), or the effective_to of the termination a
	// reinstatement withdraws.
	EffectiveDate Date
	// Amount is, for a grant, the amount per period; zero means the
	// catalog rate. Ignored for the other kinds.
	Amount Money
}

// EntitlementChangeOf returns the program and change an entitlement event
// (as decoded: a pointer) stands for; ok is false for every other event.
func EntitlementChangeOf(e Event) (program ProgramCode, c EntitlementChange, ok bool) {
	switch e := e.(type) {
	case *EntitlementGranted:
		return e.Program, EntitlementChange{Kind: ChangeGranted, EffectiveDate: e.EffectiveFrom, Amount: e.Amount}, true
	case *EntitlementSuspended:
		return e.Program, EntitlementChange{Kind: ChangeSuspended, EffectiveDate: e.EffectiveDate}, true
	case *EntitlementResumed:
		return e.Program, EntitlementChange{Kind: ChangeResumed, EffectiveDate: e.EffectiveDate}, true
	case *EntitlementTerminated:
		return e.Program, EntitlementChange{Kind: ChangeTerminated, EffectiveDate: e.EffectiveTo}, true
	case *EntitlementReinstated:
		return e.Program, EntitlementChange{Kind: ChangeReinstated, EffectiveDate: e.EndedOn}, true
	}
	return "", EntitlementChange{}, false
}

// PayrollChangeOf is EntitlementChangeOf for payroll: an entitlement's
// change, or a one-off grant (ChangeOneOff, with its amount).
func PayrollChangeOf(e Event) (program ProgramCode, c EntitlementChange, ok bool) {
	if e, ok := e.(*OneOffGranted); ok {
		return e.Program, EntitlementChange{Kind: ChangeOneOff, EffectiveDate: e.EffectiveDate, Amount: e.Amount}, true
	}
	return EntitlementChangeOf(e)
}

// PeriodsOwed returns, in order, what a person is owed under a program
// that is paid by payroll, through period through, by the period each
// payment is for — never twice is judged per person, program and period:
//
//   - monthly: MonthsOwed, from the first grant;
//   - annual (the fuel allowance): once a year, as the period of the
//     year's January, for every year in which a month up to through is
//     owed by MonthsOwed's rules (a grant from May owes the year; a
//     vehicle scrapped in October does not take back the year paid). The
//     amount is the grant's when non-zero, else the catalog's annual rate
//     in force on the first day of the year's first owed month;
//   - one-off: each one-off grant effective by through's last day, in the
//     month of its effective date (grants of one month add up).
//
// In-kind and unknown programs owe nothing.
func PeriodsOwed(program ProgramCode, changes []EntitlementChange, through Period) []PeriodAmount {
	prog, ok := LookupProgram(program)
	if !ok || through.IsZero() {
		return nil
	}
	since := Period{year: 1900, month: time.January}
	switch prog.Shape {
	case ShapeMonthly:
		return monthsOwed(prog, changes, since, through)
	case ShapeAnnual:
		var out []PeriodAmount
		for _, m := range monthsOwed(prog, changes, since, through) {
			year := Period{year: m.Period.year, month: time.January}
			if n := len(out); n == 0 || out[n-1].Period != year {
				out = append(out, PeriodAmount{Period: year, Amount: m.Amount})
			}
		}
		return out
	case ShapeOneOff:
		byMonth := map[Period]Money{}
		for _, c := range changes {
			if c.Kind == ChangeOneOff && !c.EffectiveDate.After(through.Last()) {
				byMonth[c.EffectiveDate.Period()] = byMonth[c.EffectiveDate.Period()].Add(c.Amount)
			}
		}
		out := make([]PeriodAmount, 0, len(byMonth))
		for _, p := range slices.SortedFunc(maps.Keys(byMonth), Period.Compare) {
			out = append(out, PeriodAmount{Period: p, Amount: byMonth[p]})
		}
		return out
	}
	return nil
}

// PeriodAmount is an amount for one month.
type PeriodAmount struct {
	Period Period
	Amount Money
}

// MonthsOwed returns, in order, the months of [from, through] for which an
// entitlement to the monthly program is owed, with the amount owed for
// each. It is the one rule payroll and the read models share.
//
// changes are the entitlement's changes in recording order (the order of
// the person's stream). Each grant opens a grant cycle; the suspensions,
// resumptions and terminations recorded after it, up to the next grant,
// belong to that cycle. Within a cycle the changes are judged by effective
// date, not by order of arrival: a termination recorded after a
// suspension but effective before it ends the entitlement before the
// suspension began. Several cycles are possible (grant, terminate, grant
// again later); changes recorded before the first grant are ignored.
//
// A month p is owed under a cycle when all of these hold:
//
//   - the grant's effective_from is on or before p.Last(): a grant from the
//     15th owes its whole first month, and a backdated grant owes the months
//     since its effective_from;
//   - the cycle is not terminated, or its effective_to (the last day in
//     force) is on or after p.First(): a termination on the 10th still owes
//     that month, one on the last day of the month before does not. With
//     several terminations in a cycle the earliest counts. A termination
//     effective before the grant's effective_from (a death or revocation
//     backdated before the grant) means the cycle never took effect;
//   - the entitlement is not suspended on p.First(): the latest suspension
//     or resumption effective on or before p.First() (ties in recording
//     order) is not a suspension. So a suspension from the 1st or earlier,
//     not yet resumed on the 1st, removes the month; a suspension from the
//     2nd or later keeps the month; a resumption after the 1st does not
//     bring the month back (the next month is owed), one on the 1st does.
//     The test is on the 1st even when the grant starts later in the month.
//
// A month owed under several cycles (a re-grant in the month an earlier
// grant ended) is owed once, under the cycle with the earliest
// effective_from. Its amount is that grant's amount when non-zero, else the
// catalog rate in force on p.First() (LookupProgram(program).RateOn): rates
// are judged per month when the money is computed, so a backdated rate rise
// raises what is owed for months already paid. A month owed with neither a
// grant amount nor a catalog rate is listed with a zero amount.
//
// MonthsOwed returns nil for an unknown or non-monthly program, or when
// from is after through.
func MonthsOwed(program ProgramCode, changes []EntitlementChange, from, through Period) []PeriodAmount {
	prog, ok := LookupProgram(program)
	if !ok || prog.Shape != ShapeMonthly {
		return nil
	}
	return monthsOwed(prog, changes, from, through)
}

// monthsOwed is MonthsOwed for a program of any shape: the months its
// entitlement is in force, at the grant's amount or the catalog's rate.
func monthsOwed(prog Program, changes []EntitlementChange, from, through Period) []PeriodAmount {
	if from.IsZero() || through.IsZero() || from.Compare(through) > 0 {
		return nil
	}
	cycles := grantCycles(changes)
	if len(cycles) == 0 {
		return nil
	}
	if first := cycles[0].from.Period(); from.Compare(first) < 0 {
		from = first // nothing is owed before the earliest grant
	}
	var out []PeriodAmount
	for p := from; p.Compare(through) <= 0; p = p.Next() {
		for _, c := range cycles {
			if !c.owes(p) {
				continue
			}
			amount := c.amount
			if amount.IsZero() {
				amount, _ = prog.RateOn(p.First())
			}
			out = append(out, PeriodAmount{Period: p, Amount: amount})
			break
		}
	}
	return out
}

// grantCycle is one grant with the changes recorded after it.
type grantCycle struct {
	seq        int // recording order of the grant
	from       Date
	amount     Money
	terminated bool
	to         Date                // the earliest effective_to, if terminated
	ends       []Date              // the effective_to of every termination not withdrawn
	pauses     []EntitlementChange // suspensions and resumptions, by effective date
}

// grantCycles splits changes into cycles, ordered by effective_from (ties
// in recording order).
func grantCycles(changes []EntitlementChange) []grantCycle {
	var cycles []grantCycle
	for i, ch := range changes {
		if ch.Kind == ChangeGranted {
			cycles = append(cycles, grantCycle{seq: i, from: ch.EffectiveDate, amount: ch.Amount})
			continue
		}
		if len(cycles) == 0 {
			continue // nothing to change yet
		}
		c := &cycles[len(cycles)-1]
		switch ch.Kind {
		case ChangeSuspended, ChangeResumed:
			c.pauses = append(c.pauses, ch)
		case ChangeTerminated:
			c.ends = append(c.ends, ch.EffectiveDate)
			c.terminated, c.to = true, earliest(c.ends)
		case ChangeReinstated:
			if k := slices.IndexFunc(c.ends, ch.EffectiveDate.Equal); k >= 0 {
				c.ends = slices.Delete(c.ends, k, k+1)
				c.terminated, c.to = len(c.ends) > 0, earliest(c.ends)
			}
		}
	}
	for i := range cycles {
		slices.SortStableFunc(cycles[i].pauses, func(a, b EntitlementChange) int {
			return a.EffectiveDate.Compare(b.EffectiveDate)
		})
	}
	slices.SortStableFunc(cycles, func(a, b grantCycle) int {
		if c := a.from.Compare(b.from); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	return cycles
}

// earliest returns the earliest of dates (zero if none).
func earliest(dates []Date) Date {
	var out Date
	for _, d := range dates {
		if out.IsZero() || d.Before(out) {
			out = d
		}
	}
	return out
}

// owes reports whether month p is owed under c.
func (c grantCycle) owes(p Period) bool {
	switch {
	case c.from.After(p.Last()):
		return false
	case c.terminated && c.to.Before(c.from): // never took effect
		return false
	case c.terminated && c.to.Before(p.First()):
		return false
	}
	return !c.suspendedOn(p.First())
}

// suspendedOn reports whether the latest suspension or resumption
// effective on or before d is a suspension.
func (c grantCycle) suspendedOn(d Date) bool {
	suspended := false
	for _, ch := range c.pauses {
		if ch.EffectiveDate.After(d) {
			break
		}
		suspended = ch.Kind == ChangeSuspended
	}
	return suspended
}
