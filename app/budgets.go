package app

import (
	"context"

	"github.com/lushan-dpf/ledger/domain"
)

// Budgets is the use case of programs' budgets, maker-checker: one finance
// user proposes a year's budget, another approves it (which allocates it)
// or rejects it — each through the one command loop — and reading them
// back.
type Budgets struct{ x runtime }

// NewBudgets returns the budget use cases over a store.
func NewBudgets(store domain.EventStore) *Budgets {
	return &Budgets{x: newRuntime(store, domain.NewLedgerRegistry())}
}

func (b *Budgets) stream(p domain.ProgramCode) *stream[recorded[domain.BudgetState]] {
	return newRecordedStream(domain.ProgramStream(p), domain.BudgetState{}, domain.EvolveBudgetState)
}

// Propose records c as waiting for another user's approval.
func (b *Budgets) Propose(ctx context.Context, meta domain.CommandMeta, c domain.ProposeBudget) (domain.AppendResult, bool, error) {
	if err := c.Validate(); err != nil {
		return domain.AppendResult{}, false, err
	}
	return b.run(ctx, meta, c.Program, func(s domain.BudgetState) ([]domain.Event, error) { return domain.DecideProposeBudget(s, c) })
}

// Approve allocates the year's waiting budget.
func (b *Budgets) Approve(ctx context.Context, meta domain.CommandMeta, c domain.ApproveBudget) (domain.AppendResult, bool, error) {
	return b.run(ctx, meta, c.Program, func(s domain.BudgetState) ([]domain.Event, error) { return domain.DecideApproveBudget(s, c) })
}

// Reject turns the year's waiting budget down.
func (b *Budgets) Reject(ctx context.Context, meta domain.CommandMeta, c domain.RejectBudget) (domain.AppendResult, bool, error) {
	return b.run(ctx, meta, c.Program, func(s domain.BudgetState) ([]domain.Event, error) { return domain.DecideRejectBudget(s, c) })
}

// run decides on the program's stream. A command ID that ran already
// returns where its events landed, replayed, appending nothing.
func (b *Budgets) run(ctx context.Context, meta domain.CommandMeta, program domain.ProgramCode,
	fn func(domain.BudgetState) ([]domain.Event, error)) (res domain.AppendResult, replayed bool, err error) {
	if err := meta.Validate(); err != nil {
		return domain.AppendResult{}, false, err
	}
	if _, err := domain.ParseProgramCode("program", string(program)); err != nil {
		return domain.AppendResult{}, false, err
	}
	var earlier *domain.Envelope
	res, _, err = decide(ctx, &b.x, b.stream(program), meta, once(""), func(st recorded[domain.BudgetState]) ([]domain.Event, error) {
		if env, ok := st.ranBefore(meta); ok {
			earlier = &env
			return nil, nil
		}
		return fn(st.folded)
	})
	if err != nil {
		return domain.AppendResult{}, false, err
	}
	if earlier != nil {
		return domain.AppendResult{NextExpected: earlier.Revision, Position: earlier.Position}, true, nil
	}
	return res, false, nil
}

// Of returns a program's budgets: those allocated, by year, and those
// waiting for approval.
func (b *Budgets) Of(ctx context.Context, p domain.ProgramCode) (domain.BudgetState, error) {
	s := b.stream(p)
	err := s.catchUp(ctx, b.x.store, b.x.reg)
	return s.state.folded, err
}
