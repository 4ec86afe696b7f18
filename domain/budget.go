package domain

import (
	"fmt"
	"maps"
)

// AllocateBudget sets a program's budget for a fiscal (calendar) year, in
// its program stream (ProgramStream): the spending report compares what
// the program paid that year with it. A later allocation for the same
// year replaces the earlier one (a supplementary budget is allocated as
// the new total).
type AllocateBudget struct {
	Program    ProgramCode
	FiscalYear int
	Amount     Money
}

// Budgets is a program stream folded: the budget allocated for each year.
type Budgets map[int]Money

// EvolveBudgets folds an event of a program stream into b.
func EvolveBudgets(b Budgets, e Event) Budgets {
	if a, ok := e.(*BudgetAllocated); ok {
		if b == nil {
			b = Budgets{}
		}
		b[a.FiscalYear] = a.Amount
	}
	return b
}

// Validate checks the command's fields; errors name them.
func (c AllocateBudget) Validate() error {
	if _, err := ParseProgramCode("program", string(c.Program)); err != nil {
		return err
	}
	if c.FiscalYear < 2000 || c.FiscalYear > 2100 {
		return Invalid("fiscal_year", "%d is not a year from 2000 to 2100", c.FiscalYear)
	}
	if c.Amount.Fen() < 0 {
		return Invalid("amount", "is negative")
	}
	return nil
}

// DecideBudget decides an allocation on the program's budgets: the
// allocation, or a conflict when the year already has exactly that budget.
func DecideBudget(b Budgets, c AllocateBudget) ([]Event, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if was, ok := b[c.FiscalYear]; ok && was.Equal(c.Amount) {
		return nil, &ConflictError{Reason: fmt.Sprintf("%s's budget for %d is %s already", c.Program, c.FiscalYear, c.Amount)}
	}
	return []Event{BudgetAllocated{Program: c.Program, FiscalYear: c.FiscalYear, Amount: c.Amount}}, nil
}

// Maker-checker for budgets: a finance user proposes a year's budget for a
// program (ProposeBudget), and another approves it (ApproveBudget), which
// allocates it (BudgetAllocated, as before) — or rejects it. A year has at
// most one proposal waiting.

// Event types of budget proposals, in the program stream.
const (
	TypeBudgetProposed = "program.BudgetProposed.v1"
	TypeBudgetApproved = "program.BudgetApproved.v1"
	TypeBudgetRejected = "program.BudgetRejected.v1"
)

// BudgetState is a program stream folded: the budgets allocated, and the
// proposals waiting, by fiscal year.
type BudgetState struct {
	Allocated Budgets
	Pending   map[int]BudgetProposed
}

// EvolveBudgetState folds an event of a program stream into s.
func EvolveBudgetState(s BudgetState, e Event) BudgetState {
	s.Allocated = EvolveBudgets(s.Allocated, e)
	switch e := e.(type) {
	case *BudgetProposed:
		s.Pending = maps.Clone(s.Pending)
		if s.Pending == nil {
			s.Pending = map[int]BudgetProposed{}
		}
		s.Pending[e.FiscalYear] = *e
	case *BudgetApproved:
		s.Pending = maps.Clone(s.Pending)
		delete(s.Pending, e.FiscalYear)
	case *BudgetRejected:
		s.Pending = maps.Clone(s.Pending)
		delete(s.Pending, e.FiscalYear)
	}
	return s
}

// ProposeBudget proposes a year's budget for a program.
type ProposeBudget struct {
	AllocateBudget
	ProposedBy string // the authenticated user
}

// ApproveBudget approves the year's waiting proposal: another user than
// the proposer allocates it.
type ApproveBudget struct {
	Program    ProgramCode
	FiscalYear int
	ApprovedBy string
}

// RejectBudget rejects the year's waiting proposal.
type RejectBudget struct {
	Program    ProgramCode
	FiscalYear int
	RejectedBy string
	Reason     string
}

// DecideProposeBudget decides a proposal on the program's state.
func DecideProposeBudget(s BudgetState, c ProposeBudget) ([]Event, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if err := checkText("proposed_by", c.ProposedBy, 100); err != nil {
		return nil, err
	}
	if p, ok := s.Pending[c.FiscalYear]; ok {
		return nil, &ConflictError{Reason: fmt.Sprintf("%s's budget for %d of %s, proposed by %s, is already waiting for approval",
			c.Program, c.FiscalYear, p.Amount, p.ProposedBy)}
	}
	if _, err := DecideBudget(s.Allocated, c.AllocateBudget); err != nil {
		return nil, err
	}
	return []Event{BudgetProposed{Program: c.Program, FiscalYear: c.FiscalYear, Amount: c.Amount, ProposedBy: c.ProposedBy}}, nil
}

func waitingBudget(s BudgetState, program ProgramCode, year int) (BudgetProposed, error) {
	if _, err := ParseProgramCode("program", string(program)); err != nil {
		return BudgetProposed{}, err
	}
	p, ok := s.Pending[year]
	if !ok {
		return BudgetProposed{}, fmt.Errorf("no budget of %s for %d is waiting for approval: %w", program, year, ErrNotFound)
	}
	return p, nil
}

// DecideApproveBudget approves the waiting proposal: BudgetApproved, then
// BudgetAllocated.
func DecideApproveBudget(s BudgetState, c ApproveBudget) ([]Event, error) {
	if err := checkText("approved_by", c.ApprovedBy, 100); err != nil {
		return nil, err
	}
	p, err := waitingBudget(s, c.Program, c.FiscalYear)
	if err != nil {
		return nil, err
	}
	if p.ProposedBy == c.ApprovedBy {
		return nil, Violation(RuleMakerChecker, "%s proposed %s's budget for %d and may not approve it: another finance user must", c.ApprovedBy, c.Program, c.FiscalYear)
	}
	return []Event{BudgetApproved{Program: p.Program, FiscalYear: p.FiscalYear, Amount: p.Amount, ApprovedBy: c.ApprovedBy},
		BudgetAllocated{Program: p.Program, FiscalYear: p.FiscalYear, Amount: p.Amount}}, nil
}

// DecideRejectBudget rejects the waiting proposal.
func DecideRejectBudget(s BudgetState, c RejectBudget) ([]Event, error) {
	if err := checkText("rejected_by", c.RejectedBy, 100); err != nil {
		return nil, err
	}
	if err := checkText("reason", c.Reason, 500); err != nil {
		return nil, err
	}
	p, err := waitingBudget(s, c.Program, c.FiscalYear)
	if err != nil {
		return nil, err
	}
	return []Event{BudgetRejected{Program: p.Program, FiscalYear: p.FiscalYear, RejectedBy: c.RejectedBy, Reason: c.Reason}}, nil
}

// BudgetProposed: a year's budget waits for another finance user's
// approval.
type BudgetProposed struct {
	Program    ProgramCode `json:"program"`
	FiscalYear int         `json:"fiscal_year"`
	Amount     Money       `json:"amount"`
	ProposedBy string      `json:"proposed_by"`
}

// BudgetApproved: the year's proposal was approved; BudgetAllocated
// follows it in the same append.
type BudgetApproved struct {
	Program    ProgramCode `json:"program"`
	FiscalYear int         `json:"fiscal_year"`
	Amount     Money       `json:"amount"`
	ApprovedBy string      `json:"approved_by"`
}

// BudgetRejected: the year's proposal was rejected.
type BudgetRejected struct {
	Program    ProgramCode `json:"program"`
	FiscalYear int         `json:"fiscal_year"`
	RejectedBy string      `json:"rejected_by"`
	Reason     string      `json:"reason"`
}

func (BudgetProposed) EventType() string { return TypeBudgetProposed }
func (BudgetApproved) EventType() string { return TypeBudgetApproved }
func (BudgetRejected) EventType() string { return TypeBudgetRejected }

func budgetEventProtos() []func() Event {
	return []func() Event{
		func() Event { return new(BudgetProposed) },
		func() Event { return new(BudgetApproved) },
		func() Event { return new(BudgetRejected) },
	}
}
