package app

import (
	"context"

	"github.com/lushan-dpf/ledger/domain"
)

// Budgets is the use case of programs' budgets: allocating one through
// the one command loop, and reading them back.
type Budgets struct{ x runtime }

// NewBudgets returns the budget use cases over a store.
func NewBudgets(store domain.EventStore) *Budgets {
	return &Budgets{x: newRuntime(store, domain.NewLedgerRegistry())}
}

func (b *Budgets) stream(p domain.ProgramCode) *stream[recorded[domain.Budgets]] {
	return newRecordedStream(domain.ProgramStream(p), domain.Budgets{}, domain.EvolveBudgets)
}

// Allocate records c. A command ID that ran already returns what it
// recorded, replayed, appending nothing.
func (b *Budgets) Allocate(ctx context.Context, meta domain.CommandMeta, c domain.AllocateBudget) (res domain.AppendResult, replayed bool, err error) {
	if err := meta.Validate(); err != nil {
		return domain.AppendResult{}, false, err
	}
	if err := c.Validate(); err != nil {
		return domain.AppendResult{}, false, err
	}
	var earlier *domain.Envelope
	res, _, err = decide(ctx, &b.x, b.stream(c.Program), meta, once(""), func(st recorded[domain.Budgets]) ([]domain.Event, error) {
		if env, ok := st.ranBefore(meta); ok {
			earlier = &env
			return nil, nil
		}
		return domain.DecideBudget(st.folded, c)
	})
	if err != nil {
		return domain.AppendResult{}, false, err
	}
	if earlier != nil {
		return domain.AppendResult{NextExpected: earlier.Revision, Position: earlier.Position}, true, nil
	}
	return res, false, nil
}

// Of returns the budgets allocated to a program, by year.
func (b *Budgets) Of(ctx context.Context, p domain.ProgramCode) (domain.Budgets, error) {
	s := b.stream(p)
	err := s.catchUp(ctx, b.x.store, b.x.reg)
	return s.state.folded, err
}
