package domain

import (
	"errors"
	"testing"
)

func TestDecideBudget(t *testing.T) {
	b := EvolveBudgets(nil, &BudgetAllocated{Program: ProgramLivingSubsidy, FiscalYear: 2025, Amount: MustMoney("3600000.00")})
	evs, err := DecideBudget(b, AllocateBudget{Program: ProgramLivingSubsidy, FiscalYear: 2025, Amount: MustMoney("3800000.00")})
	if err != nil || len(evs) != 1 || evs[0].(BudgetAllocated).Amount != MustMoney("3800000.00") {
		t.Fatalf("a new total for the year: %v, %v", evs, err)
	}
	var conflict *ConflictError
	if _, err := DecideBudget(b, AllocateBudget{Program: ProgramLivingSubsidy, FiscalYear: 2025, Amount: MustMoney("3600000.00")}); !errors.As(err, &conflict) {
		t.Errorf("the same budget again: %v, want a conflict", err)
	}
	for field, c := range map[string]AllocateBudget{
		"program":     {Program: "pension", FiscalYear: 2025, Amount: MustMoney("1.00")},
		"fiscal_year": {Program: ProgramLivingSubsidy, FiscalYear: 1999, Amount: MustMoney("1.00")},
	} {
		var fe *FieldError
		if _, err := DecideBudget(b, c); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%+v: %v, want an error naming %s", c, err, field)
		}
	}
}

// A budget is proposed by one finance user and allocated only when
// another approves it; one proposal waits per year.
func TestBudgetMakerChecker(t *testing.T) {
	fold := func(events ...Event) BudgetState {
		var s BudgetState
		for _, e := range events {
			s = EvolveBudgetState(s, AsDecoded(e))
		}
		return s
	}
	budget := AllocateBudget{Program: ProgramCareSubsidy, FiscalYear: 2025, Amount: MustMoney("2400000.00")}
	evs, err := DecideProposeBudget(BudgetState{}, ProposeBudget{AllocateBudget: budget, ProposedBy: "fin.li"})
	if err != nil || len(evs) != 1 {
		t.Fatalf("propose: %v, %v", evs, err)
	}
	waiting := fold(evs...)
	if w := waiting.Pending[2025]; w.Amount != budget.Amount || w.ProposedBy != "fin.li" || len(waiting.Allocated) != 0 {
		t.Fatalf("after the proposal: %+v", waiting)
	}
	var conflict *ConflictError
	if _, err := DecideProposeBudget(waiting, ProposeBudget{AllocateBudget: budget, ProposedBy: "fin.wu"}); !errors.As(err, &conflict) {
		t.Errorf("a second proposal for the year: %v, want a conflict", err)
	}
	if _, err := DecideApproveBudget(waiting, ApproveBudget{Program: ProgramCareSubsidy, FiscalYear: 2025, ApprovedBy: "fin.li"}); !errors.Is(err, ErrRuleViolation) {
		t.Errorf("the proposer approves: %v, want maker_checker", err)
	}
	if _, err := DecideApproveBudget(waiting, ApproveBudget{Program: ProgramCareSubsidy, FiscalYear: 2024, ApprovedBy: "fin.wu"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("approving a year with nothing waiting: %v, want not found", err)
	}
	evs, err = DecideApproveBudget(waiting, ApproveBudget{Program: ProgramCareSubsidy, FiscalYear: 2025, ApprovedBy: "fin.wu"})
	if err != nil || len(evs) != 2 || evs[1] != (BudgetAllocated{Program: ProgramCareSubsidy, FiscalYear: 2025, Amount: budget.Amount}) {
		t.Fatalf("approve: %v, %v", evs, err)
	}
	if done := fold(append([]Event{BudgetProposed{Program: ProgramCareSubsidy, FiscalYear: 2025, Amount: budget.Amount, ProposedBy: "fin.li"}}, evs...)...); len(done.Pending) != 0 || done.Allocated[2025] != budget.Amount {
		t.Errorf("after the approval: %+v", done)
	}
	if _, err := DecideRejectBudget(waiting, RejectBudget{Program: ProgramCareSubsidy, FiscalYear: 2025, RejectedBy: "fin.wu"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("a rejection without a reason: %v", err)
	}
	evs, err = DecideRejectBudget(waiting, RejectBudget{Program: ProgramCareSubsidy, FiscalYear: 2025, RejectedBy: "fin.wu", Reason: "待县财政批复"})
	if err != nil || len(fold(append([]Event{BudgetProposed{Program: ProgramCareSubsidy, FiscalYear: 2025, Amount: budget.Amount, ProposedBy: "fin.li"}}, evs...)...).Pending) != 0 {
		t.Errorf("reject: %v, %v", evs, err)
	}
}
