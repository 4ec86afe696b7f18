package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// offDibao is the change a civil-affairs roster of 2025-01-01 proposes for
// a person on 低保 with the living subsidy who is no longer on its list.
var offDibao = ProposedChange{Source: RosterCivilAffairs, ImportID: "9f2c4e1a0b7d3c55",
	Differences: []DifferenceKind{DiffLivingSubsidyOffDibao}, Household: &HouseholdStatus{}, EffectiveOn: d("2025-01-01")}

func proposed(id string, c ProposedChange, by string) ChangeProposed {
	return ChangeProposed{ProposalID: id, Change: c, ProposedBy: by}
}

func TestChangeProposals(t *testing.T) {
	withLiving := adult(granted(ProgramLivingSubsidy, "2024-01-01"))
	pending := slices.Concat(withLiving, []Event{proposed("roster-1", offDibao, "clerk.li")})
	grantPending := slices.Concat(withLiving, []Event{GrantProposed{ProposalID: "pr-1", Program: ProgramCareSubsidy, EffectiveFrom: d("2025-01-01"), ProposedBy: "clerk.li"}})
	runDecideCases(t, []decideCase{
		{name: "a change is proposed, checked as it would be made", given: withLiving,
			when: ProposeChange{ProposalID: "roster-1", Change: offDibao, ProposedBy: "clerk.li"},
			want: []Event{proposed("roster-1", offDibao, "clerk.li")}},
		{name: "a second change waits for the first", given: pending,
			when:    ProposeChange{ProposalID: "roster-2", Change: offDibao, ProposedBy: "clerk.li"},
			wantErr: ErrConflict},
		{name: "a change that would be refused is not proposed", given: adult(),
			when: ProposeChange{ProposalID: "roster-1", ProposedBy: "clerk.li", Change: ProposedChange{Source: RosterCivilAffairs,
				ImportID: "9f2c4e1a0b7d3c55", Differences: []DifferenceKind{DiffHouseholdChanged}, Household: &dibao, EffectiveOn: d("2025-01-01")}},
			wantErr: ErrConflict},
		{name: "a proposal without a change", given: withLiving,
			when: ProposeChange{ProposalID: "roster-1", ProposedBy: "clerk.li", Change: ProposedChange{Source: RosterCivilAffairs,
				ImportID: "9f2c4e1a0b7d3c55", Differences: []DifferenceKind{DiffHouseholdChanged}, EffectiveOn: d("2025-01-01")}},
			wantErr: ErrInvalid, wantField: "household"},
		{name: "the importer may not approve", given: pending,
			when: ApproveChange{ProposalID: "roster-1", ApprovedBy: "clerk.li"}, wantErr: ErrRuleViolation, wantRule: RuleMakerChecker},
		{name: "approval makes the change: leaving 低保 ends the living subsidy the day before", given: pending,
			when: ApproveChange{ProposalID: "roster-1", ApprovedBy: "approver.chen"},
			want: []Event{ChangeApproved{ProposalID: "roster-1", ApprovedBy: "approver.chen"},
				HouseholdStatusChanged{Household: noneHH, PreviousHousehold: dibao, EffectiveDate: d("2025-01-01")},
				EntitlementTerminated{Program: ProgramLivingSubsidy, EffectiveTo: d("2024-12-31"), ReasonCode: TerminationHouseholdStatusChanged}}},
		{name: "a rejected change is not approved", given: slices.Concat(pending, []Event{ChangeRejected{ProposalID: "roster-1", RejectedBy: "approver.chen", Reason: "listed again"}}),
			when: ApproveChange{ProposalID: "roster-1", ApprovedBy: "approver.chen"}, wantErr: ErrConflict},
		{name: "a grant proposal is not approved as a change", given: grantPending,
			when: ApproveChange{ProposalID: "pr-1", ApprovedBy: "approver.chen"}, wantErr: ErrConflict},
		{name: "a change proposal is not approved as a grant", given: pending,
			when: ApproveGrant{ProposalID: "roster-1", ApprovedBy: "approver.chen"}, wantErr: ErrConflict},
		{name: "a rejection needs a reason", given: pending,
			when: RejectChange{ProposalID: "roster-1", RejectedBy: "approver.chen"}, wantErr: ErrInvalid, wantField: "reason"},
	})
}

// rosterOf builds a roster of 2025-01-01 from lines of (person, category).
func rosterOf(src RosterSource, lines ...RosterLine) Roster {
	for i := range lines {
		lines[i].Line = i + 2
		lines[i].IDHash = testKey.Hash(lines[i].ID)
	}
	return Roster{Source: src, AsOf: d("2025-01-01"), Lines: lines}
}

func TestCrossCheck(t *testing.T) {
	noCert := fold([]Event{registered(otherID, noneHH)}) // on no list, no certificate
	living := fold(adult(granted(ProgramLivingSubsidy, "2024-01-01")))
	deceased := fold(adult(PersonDied{DateOfDeath: d("2024-10-01")}))

	t.Run("on 低保 but not eligible for the living subsidy: the household change alone, and why", func(t *testing.T) {
		r := rosterOf(RosterCivilAffairs, RosterLine{ID: otherID, Name: "李四", Category: RosterDibao})
		got := CrossCheck(r, "imp", map[PersonID]Beneficiary{pid(otherID): noCert})
		if len(got) != 1 || got[0].Change == nil || got[0].Change.Grant != "" || got[0].Change.Household == nil || !got[0].Change.Household.Dibao {
			t.Fatalf("findings %+v", got)
		}
		d := got[0].Differences[0]
		if d.Kind != DiffDibaoWithoutLivingSubsidy || d.Line != 2 || !strings.Contains(d.Note, "not proposing the living_subsidy") {
			t.Errorf("difference %+v", d)
		}
	})
	t.Run("a person already waiting for a change gets no second proposal", func(t *testing.T) {
		waiting := Evolve(living, &ChangeProposed{ProposalID: "roster-old", Change: offDibao, ProposedBy: "clerk.li"})
		got := CrossCheck(rosterOf(RosterCivilAffairs), "imp", map[PersonID]Beneficiary{pid(adultID): waiting})
		if len(got) != 1 || got[0].Change != nil || got[0].Differences[0].ProposalID != "roster-old" ||
			!strings.Contains(got[0].Differences[0].Note, "still waiting") {
			t.Fatalf("findings %+v", got)
		}
		// The import that proposed it, run again after a crash, finds its
		// own proposal: no second one, and nothing to note.
		again := CrossCheck(rosterOf(RosterCivilAffairs), offDibao.ImportID, map[PersonID]Beneficiary{pid(adultID): waiting})
		if len(again) != 1 || again[0].Change != nil || again[0].Differences[0].ProposalID != "roster-old" || again[0].Differences[0].Note != "" {
			t.Fatalf("findings of the same import again %+v", again)
		}
	})
	t.Run("a change rejected once is listed, not proposed again, while the facts stay", func(t *testing.T) {
		r := rosterOf(RosterCivilAffairs)
		first := CrossCheck(r, "imp1", map[PersonID]Beneficiary{pid(adultID): living})
		if len(first) != 1 || first[0].Change == nil {
			t.Fatalf("first findings %+v", first)
		}
		rejected := Evolve(Evolve(living, &ChangeProposed{ProposalID: "roster-imp1", Change: *first[0].Change, ProposedBy: "clerk.li"}),
			&ChangeRejected{ProposalID: "roster-imp1", RejectedBy: "approver.chen", Reason: "本人未申请"})
		r.AsOf = d("2025-02-01")
		again := CrossCheck(r, "imp2", map[PersonID]Beneficiary{pid(adultID): rejected})
		if len(again) != 1 || again[0].Change != nil || again[0].Differences[0].ProposalID != "roster-imp1" ||
			!strings.Contains(again[0].Differences[0].Note, "rejected by approver.chen: 本人未申请") {
			t.Fatalf("findings after the rejection %+v", again)
		}
		moved := Evolve(rejected, &HouseholdStatusChanged{Household: HouseholdStatus{Dibao: true, Class: HouseholdLiftedFromPoverty}, PreviousHousehold: dibao, EffectiveDate: d("2025-01-15")})
		if got := CrossCheck(r, "imp2", map[PersonID]Beneficiary{pid(adultID): moved}); len(got) != 1 || got[0].Change == nil {
			t.Errorf("after the facts changed, no new proposal: %+v", got)
		}
	})
	t.Run("the dead are judged only against a death roster; unknown deaths are not listed", func(t *testing.T) {
		r := rosterOf(RosterDeaths, RosterLine{ID: adultID, Name: "张三", Category: RosterDeath, DateOfDeath: d("2024-10-01")},
			RosterLine{ID: childID, Name: "王五", Category: RosterDeath, DateOfDeath: d("2024-11-02")})
		if got := CrossCheck(r, "imp", map[PersonID]Beneficiary{pid(adultID): deceased}); len(got) != 0 {
			t.Errorf("a recorded death and an unknown one: %+v", got)
		}
		if got := CrossCheck(rosterOf(RosterCivilAffairs), "imp", map[PersonID]Beneficiary{pid(adultID): deceased}); len(got) != 0 {
			t.Errorf("a dead person off 低保: %+v", got)
		}
	})
	t.Run("an unknown person on a roster is listed with the roster's facts, masked", func(t *testing.T) {
		r := rosterOf(RosterRuralAffairs, RosterLine{ID: childID, Name: "王五", Township: "白鹿镇", Category: RosterLifted})
		got := CrossCheck(r, "imp", map[PersonID]Beneficiary{})
		if len(got) != 1 || got[0].Person != "" || got[0].Change != nil {
			t.Fatalf("findings %+v", got)
		}
		d := got[0].Differences[0]
		if d.Kind != DiffUnknownPerson || d.IDMasked != childID.Masked() || d.Township != "白鹿镇" || strings.Contains(d.Note, childID.Number()) {
			t.Errorf("difference %+v", d)
		}
	})
	t.Run("a household class the rural roster no longer shows ends", func(t *testing.T) {
		lifted := fold([]Event{registered(otherID, HouseholdStatus{Class: HouseholdLiftedFromPoverty})})
		got := CrossCheck(rosterOf(RosterRuralAffairs), "imp", map[PersonID]Beneficiary{pid(otherID): lifted})
		if len(got) != 1 || got[0].Change == nil || got[0].Change.Household.Class != HouseholdNone || got[0].Differences[0].Kind != DiffHouseholdChanged {
			t.Fatalf("findings %+v", got)
		}
	})
	t.Run("nothing differs, nothing found", func(t *testing.T) {
		r := rosterOf(RosterCivilAffairs, RosterLine{ID: adultID, Name: "张三", Category: RosterDibao})
		if got := CrossCheck(r, "imp", map[PersonID]Beneficiary{pid(adultID): living}); len(got) != 0 {
			t.Errorf("findings %+v", got)
		}
	})
	if _, err := ParseRosterSource("source", "police"); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown source: %v", err)
	}
}
