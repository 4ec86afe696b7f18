package domain

import (
	"slices"
	"testing"
)

func TestDecideProposals(t *testing.T) {
	proposed := GrantProposed{ProposalID: "pr-1", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-03-01"), ProposedBy: "clerk.zhou"}
	pending := adult(proposed)
	runDecideCases(t, []decideCase{
		{name: "propose", given: adult(), when: ProposeGrant{ProposalID: "pr-1", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-03-01"), ProposedBy: "clerk.zhou"},
			want: []Event{proposed}},
		{name: "propose an ineligible grant", given: []Event{registered(adultID, dibao), certIssued(adultID, CategoryPhysical, 3)},
			when:    ProposeGrant{ProposalID: "pr-1", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-03-01"), ProposedBy: "clerk.zhou"},
			wantErr: ErrRuleViolation, wantRule: RuleGradeRequired, wantMsg: "care_subsidy requires grade 1 or 2 on 2024-03-01"},
		{name: "propose twice for one program", given: pending,
			when: ProposeGrant{ProposalID: "pr-2", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-04-01"), ProposedBy: "clerk.wu"}, wantErr: ErrConflict},
		{name: "propose with a used ID", given: pending,
			when: ProposeGrant{ProposalID: "pr-1", Program: ProgramLivingSubsidy, EffectiveFrom: d("2024-04-01"), ProposedBy: "clerk.wu"}, wantErr: ErrConflict},
		{name: "propose without proposer", given: adult(),
			when: ProposeGrant{ProposalID: "pr-1", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-03-01")}, wantErr: ErrInvalid, wantField: "proposed_by"},
		{name: "propose a one-off program", given: adult(),
			when: ProposeGrant{ProposalID: "pr-1", Program: ProgramCondolence, EffectiveFrom: d("2024-03-01"), ProposedBy: "clerk.zhou"}, wantErr: ErrInvalid, wantField: "program"},
		{name: "propose while active", given: adult(granted(ProgramCareSubsidy, "2023-01-01")),
			when: ProposeGrant{ProposalID: "pr-1", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-03-01"), ProposedBy: "clerk.zhou"}, wantErr: ErrConflict},

		{name: "approve", given: pending, when: ApproveGrant{ProposalID: "pr-1", ApprovedBy: "approver.chen"},
			want: []Event{GrantApproved{ProposalID: "pr-1", Program: ProgramCareSubsidy, ApprovedBy: "approver.chen"}, granted(ProgramCareSubsidy, "2024-03-01")}},
		{name: "approve one's own proposal", given: pending, when: ApproveGrant{ProposalID: "pr-1", ApprovedBy: "clerk.zhou"},
			wantErr: ErrRuleViolation, wantRule: RuleMakerChecker},
		{name: "approve a missing proposal", given: pending, when: ApproveGrant{ProposalID: "pr-9", ApprovedBy: "approver.chen"}, wantErr: ErrNotFound},
		{name: "approve twice", given: adult(proposed, GrantApproved{ProposalID: "pr-1", Program: ProgramCareSubsidy, ApprovedBy: "approver.chen"}, granted(ProgramCareSubsidy, "2024-03-01")),
			when: ApproveGrant{ProposalID: "pr-1", ApprovedBy: "approver.li"}, wantErr: ErrConflict},
		{name: "approve after the person became ineligible", given: append(slices.Clone(pending), RegradeEvent(CategoryPhysical, 3)),
			when: ApproveGrant{ProposalID: "pr-1", ApprovedBy: "approver.chen"}, wantErr: ErrRuleViolation, wantRule: RuleGradeRequired},
		{name: "approve after death", given: append(slices.Clone(pending), PersonDied{DateOfDeath: d("2024-05-01")}),
			when: ApproveGrant{ProposalID: "pr-1", ApprovedBy: "approver.chen"}, wantErr: ErrRuleViolation, wantRule: RuleDeceased},

		{name: "reject", given: pending, when: RejectGrant{ProposalID: "pr-1", RejectedBy: "approver.chen", Reason: "missing documents"},
			want: []Event{GrantRejected{ProposalID: "pr-1", Program: ProgramCareSubsidy, RejectedBy: "approver.chen", Reason: "missing documents"}}},
		{name: "reject without reason", given: pending, when: RejectGrant{ProposalID: "pr-1", RejectedBy: "approver.chen"}, wantErr: ErrInvalid, wantField: "reason"},
		{name: "approve a rejected proposal", given: adult(proposed, GrantRejected{ProposalID: "pr-1", Program: ProgramCareSubsidy, RejectedBy: "a", Reason: "r"}),
			when: ApproveGrant{ProposalID: "pr-1", ApprovedBy: "approver.chen"}, wantErr: ErrConflict},
		{name: "propose again after a rejection", given: adult(proposed, GrantRejected{ProposalID: "pr-1", Program: ProgramCareSubsidy, RejectedBy: "a", Reason: "r"}),
			when: ProposeGrant{ProposalID: "pr-2", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-03-01"), ProposedBy: "clerk.zhou"},
			want: []Event{GrantProposed{ProposalID: "pr-2", Program: ProgramCareSubsidy, EffectiveFrom: d("2024-03-01"), ProposedBy: "clerk.zhou"}}},
	})
}
