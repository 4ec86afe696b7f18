package domain

import (
	"fmt"
	"maps"
	"slices"
)

// DifferenceKind is a way a roster and the ledger disagree.
type DifferenceKind string

const (
	// On a 低保 roster but no living subsidy: the subsidy is proposed when
	// the person is eligible for it.
	DiffDibaoWithoutLivingSubsidy DifferenceKind = "dibao_without_living_subsidy"
	// Living subsidy, but no longer on the 低保 roster: the household
	// leaves 低保 from the roster's date, which ends the subsidy.
	DiffLivingSubsidyOffDibao DifferenceKind = "living_subsidy_off_dibao"
	// On a 特困 roster and not known to be: recorded, which ends the
	// living subsidy.
	DiffOnTekun DifferenceKind = "on_tekun"
	// On the work-injury nursing allowance while receiving the care
	// subsidy: recorded, which ends the care subsidy.
	DiffWorkInjuryNursingWithCare DifferenceKind = "work_injury_nursing_with_care"
	// A death on the roster that the ledger has not recorded.
	DiffDeathNotRecorded DifferenceKind = "death_not_recorded"
	// A person on the roster whom the ledger does not know.
	DiffUnknownPerson DifferenceKind = "unknown_person"
	// The household class or support the roster shows differs from the
	// ledger's, with no benefit at stake (e.g. a household newly monitored).
	DiffHouseholdChanged DifferenceKind = "household_changed"
)

// DifferenceKinds lists every kind, in the order reports show them.
var DifferenceKinds = []DifferenceKind{
	DiffDeathNotRecorded, DiffLivingSubsidyOffDibao, DiffOnTekun, DiffWorkInjuryNursingWithCare,
	DiffDibaoWithoutLivingSubsidy, DiffHouseholdChanged, DiffUnknownPerson,
}

// RosterDifference is one difference a cross-check found.
type RosterDifference struct {
	Person      PersonID       `json:"person_id,omitempty"` // "" for a person unknown to the ledger
	IDMasked    string         `json:"id_masked"`
	Name        string         `json:"name"`
	Township    string         `json:"township"` // the ledger's; the roster's for an unknown person
	Kind        DifferenceKind `json:"kind"`
	Line        int            `json:"line,omitempty"` // the roster line; 0 when the person is missing from the roster
	EffectiveOn Date           `json:"effective_on,omitzero"`
	ProposalID  string         `json:"proposal_id,omitempty"` // the change proposed for it, if any
	Note        string         `json:"note,omitempty"`        // why no change is proposed, or what else to know

	// Subject is, for a person unknown to the ledger, the person ID they
	// would have (PersonIDFromHash): their name and masked ID number are
	// sealed with its key. Erased: the key of Person (or Subject) was
	// erased, so IDMasked and Name are empty. Neither is shown.
	Subject PersonID `json:"-"`
	Erased  bool     `json:"-"`
}

// keyOf returns the person whose key seals d's personal data.
func (d RosterDifference) keyOf() PersonID {
	if d.Person != "" {
		return d.Person
	}
	return d.Subject
}

// RosterFinding is what a cross-check found for one person: the
// differences and the one change proposed for all of them (nil when
// nothing can be proposed; each difference's Note says why).
type RosterFinding struct {
	Person      PersonID
	Differences []RosterDifference
	Change      *ProposedChange
}

// CrossCheck compares a roster with the ledger's persons. persons holds
// the folded stream of every person the roster names who is registered,
// and of every person the ledger holds a fact for that the roster's source
// decides (on 低保, with a living subsidy, of a poverty class, …), whether
// or not the roster names them. A roster is read as complete: a person it
// does not name is, for its department, not supported on its date.
//
// Every change takes effect on the roster's date (AsOf): the day the
// department's list says so. A person already waiting for a change's
// approval gets no second proposal; their differences point to the one
// waiting. Deceased persons are not judged except against a death roster,
// and deaths of persons the ledger does not know are not listed (a death
// roster names everyone who died in the county).
func CrossCheck(r Roster, importID string, persons map[PersonID]Beneficiary) []RosterFinding {
	lines := map[PersonID][]RosterLine{}
	var unknown []RosterLine
	for _, l := range r.Lines {
		id := PersonIDFromHash(l.IDHash)
		if s, ok := persons[id]; ok && s.Registered {
			lines[id] = append(lines[id], l)
		} else if r.Source != RosterDeaths {
			unknown = append(unknown, l)
		}
	}
	var out []RosterFinding
	for _, id := range slices.Sorted(maps.Keys(persons)) {
		s := persons[id]
		if !s.Registered || s.Erased {
			continue // an erased person's record takes nothing more
		}
		if f, ok := crossCheckPerson(r, importID, s, lines[id]); ok {
			out = append(out, f)
		}
	}
	for _, l := range unknown {
		out = append(out, RosterFinding{Differences: []RosterDifference{{
			IDMasked: l.ID.Masked(), Name: l.Name, Township: l.Township, Kind: DiffUnknownPerson, Line: l.Line, Subject: PersonIDFromHash(l.IDHash),
			Note: fmt.Sprintf("on the %s roster as %s; not registered with the federation", r.Source, l.Category),
		}}})
	}
	return out
}

// crossCheckPerson judges one registered person against their roster lines.
func crossCheckPerson(r Roster, importID string, s Beneficiary, lines []RosterLine) (RosterFinding, bool) {
	has := func(c RosterCategory) *RosterLine {
		for i := range lines {
			if lines[i].Category == c {
				return &lines[i]
			}
		}
		return nil
	}
	f := RosterFinding{Person: s.ID}
	diff := func(kind DifferenceKind, line *RosterLine) {
		d := RosterDifference{Person: s.ID, IDMasked: s.IDNumber.Masked(), Name: s.Name, Township: s.Township,
			Kind: kind, EffectiveOn: r.AsOf}
		if line != nil {
			d.Line = line.Line
		}
		f.Differences = append(f.Differences, d)
	}
	change := &ProposedChange{Source: r.Source, ImportID: importID, EffectiveOn: r.AsOf}

	if r.Source == RosterDeaths {
		died := has(RosterDeath)
		if died == nil || s.Deceased {
			return f, false
		}
		diff(DiffDeathNotRecorded, died)
		f.Differences[0].EffectiveOn = died.DateOfDeath
		change.DateOfDeath = died.DateOfDeath
	} else {
		if s.Deceased {
			return f, false
		}
		// The roster describes its day: compare with the facts in force
		// then, so a change the ledger records from a later day is no
		// difference.
		cur := s.On(r.AsOf).Household
		want := cur
		var joined *RosterLine // the line that puts the person on a list
		switch r.Source {
		case RosterCivilAffairs:
			want.Dibao, want.Tekun = has(RosterDibao) != nil, has(RosterTekun) != nil
			if l := has(RosterUrbanNeedy); l != nil {
				want.Class = HouseholdUrbanNeedy
			} else if cur.Class == HouseholdUrbanNeedy {
				want.Class = HouseholdNone
			}
			joined = has(RosterDibao)
		case RosterRuralAffairs:
			rural := HouseholdNone
			for _, l := range lines {
				if c := l.Category.householdClass(); c != HouseholdNone {
					rural, joined = c, &l
				}
			}
			if rural != HouseholdNone {
				want.Class = rural
			} else if cur.Class == HouseholdLiftedFromPoverty || cur.Class.Monitored() {
				want.Class = HouseholdNone
			}
		case RosterHumanResources:
			joined = has(RosterWorkInjuryNursing)
			want.WorkInjuryNursing = joined != nil
		}
		living, care := s.openProgram(ProgramLivingSubsidy), s.openProgram(ProgramCareSubsidy)
		switch {
		case living && !want.Dibao:
			diff(DiffLivingSubsidyOffDibao, nil)
		case r.Source == RosterCivilAffairs && want.Dibao && !want.Tekun && !living:
			diff(DiffDibaoWithoutLivingSubsidy, joined)
			change.Grant = ProgramLivingSubsidy
		}
		if want.Tekun && !cur.Tekun {
			diff(DiffOnTekun, has(RosterTekun))
		}
		if want.WorkInjuryNursing && !cur.WorkInjuryNursing && care {
			diff(DiffWorkInjuryNursingWithCare, joined)
		}
		if want != cur {
			if len(f.Differences) == 0 {
				diff(DiffHouseholdChanged, joined)
			}
			change.Household = &want
		}
		if len(f.Differences) == 0 {
			return f, false
		}
		if s.Household != cur {
			// A change from after the roster's day is recorded already:
			// a change from the roster's day would undo it.
			for i := range f.Differences {
				f.Differences[i].Note = "the ledger records a later change of the household; a caseworker decides this one"
			}
			return f, true
		}
	}
	for _, d := range f.Differences {
		change.Differences = append(change.Differences, d.Kind)
	}
	f.Change = settleChange(s, change, f.Differences)
	return f, true
}

// settleChange returns the change to propose for the differences found on
// s, or nil, noting on the differences why not: a proposal already waits,
// or the change would be refused. A grant the person is not eligible for
// is dropped, and the household change proposed alone.
func settleChange(s Beneficiary, change *ProposedChange, diffs []RosterDifference) *ProposedChange {
	note := func(format string, args ...any) {
		for i := range diffs {
			diffs[i].Note = fmt.Sprintf(format, args...)
		}
	}
	if p := s.PendingChange(); p != nil {
		for i := range diffs {
			diffs[i].ProposalID = p.ID
		}
		if p.Change.ImportID != change.ImportID { // else this import proposed it, before a crash
			note("change %s, proposed by %s, is still waiting for approval", p.ID, p.ProposedBy)
		}
		return nil
	}
	_, err := change.events(s)
	if err != nil && change.Grant != "" {
		// Propose the household change alone (below), and say why not
		// the grant.
		note("not proposing the %s: %v", change.Grant, err)
		change.Grant = ""
		if change.Household == nil {
			return nil
		}
		if _, err = change.events(s); err == nil {
			return change
		}
	}
	if err != nil {
		note("no change can be proposed: %v", err)
		return nil
	}
	if last := s.LastChange(); last != nil && last.Status == ProposalRejected && last.Change.sameChange(*change) {
		// Rejected once, it stays rejected while the facts stay as they
		// were: the difference is listed, not proposed again each month.
		for i := range diffs {
			diffs[i].ProposalID = last.ID
		}
		note("the same change (%s) was rejected by %s: %s", last.ID, last.DecidedBy, last.Reason)
		return nil
	}
	return change
}

// openProgram reports whether the person holds an active or suspended
// entitlement to the program.
func (s Beneficiary) openProgram(p ProgramCode) bool {
	en := s.Entitlements[p]
	return en != nil && en.Open()
}
