package domain

import (
	"fmt"
	"maps"
	"time"
)

// Maker-checker for grants: a clerk proposes a grant, another user approves
// it, and only the approval grants the entitlement. The users come with
// the commands (the caller fills them from the authenticated user), so the
// rule can be decided here, purely.

// Event types of proposals, in the beneficiary stream.
const (
	TypeGrantProposed = "beneficiary.GrantProposed.v1"
	TypeGrantApproved = "beneficiary.GrantApproved.v1"
	TypeGrantRejected = "beneficiary.GrantRejected.v1"
)

// RuleMakerChecker: a proposal was approved by its own proposer.
const RuleMakerChecker = "maker_checker"

// Proposal states.
const (
	ProposalPending  = "pending"
	ProposalApproved = "approved"
	ProposalRejected = "rejected"
)

// Proposal is a grant waiting for (or past) its approval.
type Proposal struct {
	ID            string
	Program       ProgramCode
	EffectiveFrom Date
	Amount        Money
	Attributes    GrantAttributes
	ProposedBy    string
	Status        string
	Change        *ProposedChange // set for a change a roster cross-check proposed; Program is then its grant, if any
	Seq           int             // order among the person's proposals, from 1
	DecidedBy     string          // once approved or rejected
	Reason        string          // of a rejection
}

// ProposeGrant proposes a grant of a monthly or annual program. It is
// checked like GrantEntitlement, so a clerk learns at once of a rule that
// forbids it, and checked again on approval.
type ProposeGrant struct {
	ProposalID    string
	Program       ProgramCode
	EffectiveFrom Date
	Amount        Money
	Attributes    GrantAttributes
	ProposedBy    string // the authenticated user
}

// ApproveGrant approves a pending proposal: it grants the entitlement.
type ApproveGrant struct {
	ProposalID string
	ApprovedBy string // the authenticated user; must differ from the proposer
}

// RejectGrant rejects a pending proposal.
type RejectGrant struct {
	ProposalID string
	RejectedBy string
	Reason     string
}

func (ProposeGrant) CommandName() string { return "ProposeGrant" }
func (ApproveGrant) CommandName() string { return "ApproveGrant" }
func (RejectGrant) CommandName() string  { return "RejectGrant" }

func (c ProposeGrant) grant() GrantEntitlement {
	return GrantEntitlement{Program: c.Program, EffectiveFrom: c.EffectiveFrom, Amount: c.Amount, Attributes: c.Attributes}
}

func (c ProposeGrant) validate(now time.Time) error {
	if err := checkToken("proposal_id", c.ProposalID, 64); err != nil {
		return err
	}
	if err := checkText("proposed_by", c.ProposedBy, 100); err != nil {
		return err
	}
	return c.grant().validate(now)
}

func (c ProposeGrant) decide(s Beneficiary) ([]Event, error) {
	if _, dup := s.Proposals[c.ProposalID]; dup {
		return nil, &ConflictError{Reason: fmt.Sprintf("proposal %s already exists", c.ProposalID)}
	}
	for _, p := range s.Proposals {
		if p.Status == ProposalPending && p.Change == nil && p.Program == c.Program {
			return nil, &ConflictError{Reason: fmt.Sprintf("proposal %s for %s is already waiting for approval", p.ID, c.Program)}
		}
	}
	if _, err := c.grant().decide(s); err != nil {
		return nil, err
	}
	return []Event{GrantProposed{
		ProposalID: c.ProposalID, Program: c.Program, EffectiveFrom: c.EffectiveFrom,
		Amount: c.Amount, Attributes: c.Attributes, ProposedBy: c.ProposedBy,
	}}, nil
}

func pendingProposal(s Beneficiary, id string) (*Proposal, error) {
	p := s.Proposals[id]
	switch {
	case p == nil:
		return nil, fmt.Errorf("proposal %s: %w", id, ErrNotFound)
	case p.Status != ProposalPending:
		return nil, &ConflictError{Reason: fmt.Sprintf("proposal %s is already %s", id, p.Status)}
	}
	return p, nil
}

func pendingGrant(s Beneficiary, id string) (*Proposal, error) {
	p, err := pendingProposal(s, id)
	if err == nil && p.Change != nil {
		return nil, &ConflictError{Reason: fmt.Sprintf("proposal %s is a change from a roster: approve or reject it as a change", id)}
	}
	return p, err
}

func (c ApproveGrant) validate(time.Time) error {
	if err := checkToken("proposal_id", c.ProposalID, 64); err != nil {
		return err
	}
	return checkText("approved_by", c.ApprovedBy, 100)
}

func (c ApproveGrant) decide(s Beneficiary) ([]Event, error) {
	p, err := pendingGrant(s, c.ProposalID)
	if err != nil {
		return nil, err
	}
	if p.ProposedBy == c.ApprovedBy {
		return nil, Violation(RuleMakerChecker, "%s proposed %s and may not approve it: another user must", c.ApprovedBy, p.ID)
	}
	granted, err := GrantEntitlement{Program: p.Program, EffectiveFrom: p.EffectiveFrom, Amount: p.Amount, Attributes: p.Attributes}.decide(s)
	if err != nil {
		return nil, err
	}
	return append([]Event{GrantApproved{ProposalID: p.ID, Program: p.Program, ApprovedBy: c.ApprovedBy}}, granted...), nil
}

func (c RejectGrant) validate(time.Time) error {
	if err := checkToken("proposal_id", c.ProposalID, 64); err != nil {
		return err
	}
	if err := checkText("rejected_by", c.RejectedBy, 100); err != nil {
		return err
	}
	return checkText("reason", c.Reason, 500)
}

func (c RejectGrant) decide(s Beneficiary) ([]Event, error) {
	p, err := pendingGrant(s, c.ProposalID)
	if err != nil {
		return nil, err
	}
	return []Event{GrantRejected{ProposalID: p.ID, Program: p.Program, RejectedBy: c.RejectedBy, Reason: c.Reason}}, nil
}

// GrantProposed: a grant was proposed and waits for another user's approval.
type GrantProposed struct {
	ProposalID    string          `json:"proposal_id"`
	Program       ProgramCode     `json:"program"`
	EffectiveFrom Date            `json:"effective_from"`
	Amount        Money           `json:"amount,omitzero"` // empty: the catalog rate
	Attributes    GrantAttributes `json:"attributes,omitzero"`
	ProposedBy    string          `json:"proposed_by"`
}

// GrantApproved: a proposal was approved; an EntitlementGranted follows it
// in the same append.
type GrantApproved struct {
	ProposalID string      `json:"proposal_id"`
	Program    ProgramCode `json:"program"`
	ApprovedBy string      `json:"approved_by"`
}

// GrantRejected: a proposal was rejected.
type GrantRejected struct {
	ProposalID string      `json:"proposal_id"`
	Program    ProgramCode `json:"program"`
	RejectedBy string      `json:"rejected_by"`
	Reason     string      `json:"reason"`
}

func (GrantProposed) EventType() string { return TypeGrantProposed }
func (GrantApproved) EventType() string { return TypeGrantApproved }
func (GrantRejected) EventType() string { return TypeGrantRejected }

func (e GrantProposed) EffectiveOn() Date { return e.EffectiveFrom }

func (e GrantProposed) apply(s *Beneficiary) {
	s.setProposal(&Proposal{ID: e.ProposalID, Program: e.Program, EffectiveFrom: e.EffectiveFrom, Amount: e.Amount,
		Attributes: e.Attributes, ProposedBy: e.ProposedBy, Status: ProposalPending})
}

func (e GrantApproved) apply(s *Beneficiary) {
	s.setProposalStatus(e.ProposalID, ProposalApproved, e.ApprovedBy, "")
}
func (e GrantRejected) apply(s *Beneficiary) {
	s.setProposalStatus(e.ProposalID, ProposalRejected, e.RejectedBy, e.Reason)
}

func (s *Beneficiary) setProposal(p *Proposal) {
	if p.Seq == 0 {
		p.Seq = len(s.Proposals) + 1
	}
	m := make(map[string]*Proposal, len(s.Proposals)+1)
	maps.Copy(m, s.Proposals)
	m[p.ID] = p
	s.Proposals = m
}

func (s *Beneficiary) setProposalStatus(id, status, by, reason string) {
	if old := s.Proposals[id]; old != nil {
		p := *old
		p.Status, p.DecidedBy, p.Reason = status, by, reason
		s.setProposal(&p)
	}
}

func proposalEventProtos() []func() Event {
	return []func() Event{
		func() Event { return new(GrantProposed) },
		func() Event { return new(GrantApproved) },
		func() Event { return new(GrantRejected) },
	}
}
