package domain

import (
	"fmt"
	"strings"
	"time"
)

// Maker-checker for the changes a roster cross-check proposes (CrossCheck):
// the import proposes, in the person's stream, the change the difference
// calls for — a new household status, a grant of the living subsidy, a
// death — and only another user's approval makes it. Nothing a roster says
// changes a person's record by itself.

// Event types of change proposals, in the beneficiary stream.
const (
	TypeChangeProposed = "beneficiary.ChangeProposed.v1"
	TypeChangeApproved = "beneficiary.ChangeApproved.v1"
	TypeChangeRejected = "beneficiary.ChangeRejected.v1"
)

// ProposedChange is what a roster difference proposes. At least one of
// Household, Grant and DateOfDeath is set; a death is proposed alone.
type ProposedChange struct {
	Source      RosterSource     `json:"source"`
	ImportID    string           `json:"import_id"`
	Differences []DifferenceKind `json:"differences"`
	Household   *HouseholdStatus `json:"household,omitempty"` // the status to record from EffectiveOn
	EffectiveOn Date             `json:"effective_on"`
	Grant       ProgramCode      `json:"grant,omitempty"` // a program to grant from EffectiveOn, at the catalog rate
	DateOfDeath Date             `json:"date_of_death,omitzero"`
}

func (c ProposedChange) validate(now time.Time) error {
	if _, err := ParseRosterSource("source", string(c.Source)); err != nil {
		return err
	}
	if err := checkToken("import_id", c.ImportID, 64); err != nil {
		return err
	}
	if len(c.Differences) == 0 {
		return Invalid("differences", "is required")
	}
	if err := checkDate("effective_on", c.EffectiveOn, now); err != nil {
		return err
	}
	if c.Household != nil {
		if err := c.Household.Validate("household"); err != nil {
			return err
		}
	}
	if c.Grant != "" {
		if _, err := ParseProgramCode("grant", string(c.Grant)); err != nil {
			return err
		}
	}
	switch {
	case !c.DateOfDeath.IsZero() && (c.Household != nil || c.Grant != ""):
		return Invalid("date_of_death", "a death is proposed alone, without a household change or a grant")
	case c.DateOfDeath.IsZero() && c.Household == nil && c.Grant == "":
		return Invalid("household", "a proposed change needs a household status, a grant or a date of death")
	case !c.DateOfDeath.IsZero():
		return checkDate("date_of_death", c.DateOfDeath, now)
	}
	return nil
}

// describe says what the change would record, in a line.
func (c ProposedChange) describe() string {
	if !c.DateOfDeath.IsZero() {
		return fmt.Sprintf("death on %s", c.DateOfDeath)
	}
	var parts []string
	if h := c.Household; h != nil {
		parts = append(parts, fmt.Sprintf("household from %s: class %s, dibao %t, tekun %t, work-injury nursing %t",
			c.EffectiveOn, h.Class.display(), h.Dibao, h.Tekun, h.WorkInjuryNursing))
	}
	if c.Grant != "" {
		parts = append(parts, fmt.Sprintf("%s from %s", c.Grant, c.EffectiveOn))
	}
	return strings.Join(parts, "; ")
}

// events returns what the change records on s: the death, or the household
// status change (with the terminations it causes) followed by the grant.
func (c ProposedChange) events(s Beneficiary) ([]Event, error) {
	if !c.DateOfDeath.IsZero() {
		return RecordDeath{DateOfDeath: c.DateOfDeath}.decide(s)
	}
	var out []Event
	if c.Household != nil {
		evs, err := ChangeHouseholdStatus{Status: *c.Household, EffectiveOn: c.EffectiveOn}.decide(s)
		if err != nil {
			return nil, err
		}
		for _, e := range evs {
			s = Evolve(s, e)
		}
		out = append(out, evs...)
	}
	if c.Grant != "" {
		evs, err := GrantEntitlement{Program: c.Grant, EffectiveFrom: c.EffectiveOn}.decide(s)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

// ProposeChange proposes a change for another user to approve. It is
// checked as the change itself would be, so a change that would be refused
// is never proposed.
type ProposeChange struct {
	ProposalID string
	Change     ProposedChange
	ProposedBy string // the authenticated user (the one importing)
}

// ApproveChange approves a pending change proposal: it makes the change.
type ApproveChange struct {
	ProposalID string
	ApprovedBy string // must differ from the proposer
}

// RejectChange rejects a pending change proposal.
type RejectChange struct {
	ProposalID string
	RejectedBy string
	Reason     string
}

func (ProposeChange) CommandName() string { return "ProposeChange" }
func (ApproveChange) CommandName() string { return "ApproveChange" }
func (RejectChange) CommandName() string  { return "RejectChange" }

func (c ProposeChange) validate(now time.Time) error {
	if err := checkToken("proposal_id", c.ProposalID, 64); err != nil {
		return err
	}
	if err := checkText("proposed_by", c.ProposedBy, 100); err != nil {
		return err
	}
	return c.Change.validate(now)
}

func (c ProposeChange) decide(s Beneficiary) ([]Event, error) {
	if _, dup := s.Proposals[c.ProposalID]; dup {
		return nil, &ConflictError{Reason: fmt.Sprintf("proposal %s already exists", c.ProposalID)}
	}
	if p := s.PendingChange(); p != nil {
		return nil, &ConflictError{Reason: fmt.Sprintf("change %s is already waiting for approval", p.ID)}
	}
	if _, err := c.Change.events(s); err != nil {
		return nil, err
	}
	return []Event{ChangeProposed{ProposalID: c.ProposalID, Change: c.Change, ProposedBy: c.ProposedBy}}, nil
}

// PendingChange returns the change proposal waiting for approval, or nil.
// A person has at most one (ProposeChange refuses a second).
func (s Beneficiary) PendingChange() *Proposal {
	for _, p := range s.Proposals {
		if p.Change != nil && p.Status == ProposalPending {
			return p
		}
	}
	return nil
}

func pendingChange(s Beneficiary, id string) (*Proposal, error) {
	p, err := pendingProposal(s, id)
	if err != nil {
		return nil, err
	}
	if p.Change == nil {
		return nil, &ConflictError{Reason: fmt.Sprintf("proposal %s is a grant: approve or reject it as a grant", id)}
	}
	return p, nil
}

// A change's approval and rejection carry what a grant's do, checked alike.
func (c ApproveChange) validate(now time.Time) error {
	return ApproveGrant{ProposalID: c.ProposalID, ApprovedBy: c.ApprovedBy}.validate(now)
}

func (c ApproveChange) decide(s Beneficiary) ([]Event, error) {
	p, err := pendingChange(s, c.ProposalID)
	if err != nil {
		return nil, err
	}
	if p.ProposedBy == c.ApprovedBy {
		return nil, Violation(RuleMakerChecker, "%s proposed %s and may not approve it: another user must", c.ApprovedBy, p.ID)
	}
	made, err := p.Change.events(s)
	if err != nil {
		return nil, err
	}
	return append([]Event{ChangeApproved{ProposalID: p.ID, ApprovedBy: c.ApprovedBy}}, made...), nil
}

func (c RejectChange) validate(now time.Time) error {
	return RejectGrant{ProposalID: c.ProposalID, RejectedBy: c.RejectedBy, Reason: c.Reason}.validate(now)
}

func (c RejectChange) decide(s Beneficiary) ([]Event, error) {
	p, err := pendingChange(s, c.ProposalID)
	if err != nil {
		return nil, err
	}
	return []Event{ChangeRejected{ProposalID: p.ID, RejectedBy: c.RejectedBy, Reason: c.Reason}}, nil
}

// ChangeProposed: a roster difference proposed a change that waits for
// another user's approval.
type ChangeProposed struct {
	ProposalID string         `json:"proposal_id"`
	Change     ProposedChange `json:"change"`
	ProposedBy string         `json:"proposed_by"`
}

// ChangeApproved: a change proposal was approved; the change's events
// follow it in the same append.
type ChangeApproved struct {
	ProposalID string `json:"proposal_id"`
	ApprovedBy string `json:"approved_by"`
}

// ChangeRejected: a change proposal was rejected.
type ChangeRejected struct {
	ProposalID string `json:"proposal_id"`
	RejectedBy string `json:"rejected_by"`
	Reason     string `json:"reason"`
}

func (ChangeProposed) EventType() string { return TypeChangeProposed }
func (ChangeApproved) EventType() string { return TypeChangeApproved }
func (ChangeRejected) EventType() string { return TypeChangeRejected }

func (e ChangeProposed) apply(s *Beneficiary) {
	change := e.Change
	s.setProposal(&Proposal{ID: e.ProposalID, Program: change.Grant, EffectiveFrom: change.EffectiveOn,
		ProposedBy: e.ProposedBy, Status: ProposalPending, Change: &change})
}

func (e ChangeApproved) apply(s *Beneficiary) {
	s.setProposalStatus(e.ProposalID, ProposalApproved, e.ApprovedBy, "")
}
func (e ChangeRejected) apply(s *Beneficiary) {
	s.setProposalStatus(e.ProposalID, ProposalRejected, e.RejectedBy, e.Reason)
}

// LastChange returns the person's latest change proposal, or nil.
func (s Beneficiary) LastChange() *Proposal {
	var last *Proposal
	for _, p := range s.Proposals {
		if p.Change != nil && (last == nil || p.Seq > last.Seq) {
			last = p
		}
	}
	return last
}

// sameChange reports whether c and o would make the same change (on
// whatever day).
func (c ProposedChange) sameChange(o ProposedChange) bool {
	sameHH := (c.Household == nil) == (o.Household == nil) && (c.Household == nil || *c.Household == *o.Household)
	return sameHH && c.Grant == o.Grant && c.DateOfDeath.Equal(o.DateOfDeath)
}

func changeEventProtos() []func() Event {
	return []func() Event{
		func() Event { return new(ChangeProposed) },
		func() Event { return new(ChangeApproved) },
		func() Event { return new(ChangeRejected) },
	}
}
