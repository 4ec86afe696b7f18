package app

import (
	"context"

	"github.com/lushan-dpf/ledger/domain"
)

// Overpaid checks never-twice for every monthly program: every person's
// month paid (issued − failed − reversed) more than owed beyond what was
// claimed back, with the lines and batches that paid it. The read models
// must have caught up (they say what is owed).
func (p *Payroll) Overpaid(ctx context.Context, programs ...domain.ProgramCode) ([]domain.Overpaid, error) {
	if len(programs) == 0 {
		for _, prog := range domain.Catalog() {
			if prog.Shape == domain.ShapeMonthly {
				programs = append(programs, prog.Code)
			}
		}
	}
	var out []domain.Overpaid
	for _, program := range programs {
		l, err := p.load(ctx, program)
		if err != nil {
			return nil, err
		}
		ps, err := p.persons(ctx, program)
		if err != nil {
			return nil, err
		}
		for i, s := range l.shards {
			out = append(out, domain.FindOverpaid(s.state, program, ps[i])...)
		}
	}
	return out, nil
}
