package app

import (
	"context"

	"github.com/lushan-dpf/ledger/domain"
)

// NeverTwice is the never-twice check of the payment shards.
type NeverTwice struct {
	Programs []domain.ProgramCode `json:"programs"`
	// Months counts the persons' months that were paid anything.
	Months int `json:"months"`
	// Overpaid lists every month paid (issued − failed − reversed) more
	// than owed beyond what was claimed back, with the lines and batches
	// that paid it.
	Overpaid []domain.Overpaid `json:"overpaid"`
}

// CheckNeverTwice checks every period of the programs (default: every
// program payroll pays) paid anything against what is owed, judged from the
// persons' own streams (not the read models, which may lag or be wrong).
func (p *Payroll) CheckNeverTwice(ctx context.Context, programs ...domain.ProgramCode) (NeverTwice, error) {
	if len(programs) == 0 {
		programs = domain.PayablePrograms()
	}
	out := NeverTwice{Programs: programs, Overpaid: []domain.Overpaid{}}
	for _, program := range programs {
		l, err := p.load(ctx, program)
		if err != nil {
			return out, err
		}
		for _, s := range l.shards {
			var ids []domain.PersonID
			seen := map[domain.PersonID]bool{}
			for k, a := range s.state.Months {
				if a.Gross().IsZero() {
					continue
				}
				out.Months++
				if !seen[k.Person] {
					seen[k.Person] = true
					ids = append(ids, k.Person)
				}
			}
			ps, err := p.personsFromStreams(ctx, program, ids)
			if err != nil {
				return out, err
			}
			out.Overpaid = append(out.Overpaid, domain.FindOverpaid(s.state.PaymentsShard, program, ps)...)
		}
	}
	return out, nil
}

// Overpaid is CheckNeverTwice's list of months paid more than owed.
func (p *Payroll) Overpaid(ctx context.Context, programs ...domain.ProgramCode) ([]domain.Overpaid, error) {
	c, err := p.CheckNeverTwice(ctx, programs...)
	return c.Overpaid, err
}

// personsFromStreams reads what payroll needs about persons from their own
// streams: every decision about their entitlement to the program, in
// recording order.
func (p *Payroll) personsFromStreams(ctx context.Context, program domain.ProgramCode, ids []domain.PersonID) ([]domain.PayrollPerson, error) {
	return payrollPersonsFromStreams(ctx, &p.x, program, ids)
}

// payrollPersonsFromStreams is personsFromStreams for any use case.
func payrollPersonsFromStreams(ctx context.Context, x *runtime, program domain.ProgramCode, ids []domain.PersonID) ([]domain.PayrollPerson, error) {
	out := make([]domain.PayrollPerson, 0, len(ids))
	for _, id := range ids {
		s := newStream(id.Stream(), domain.PayrollPerson{PersonID: id}, func(pp *domain.PayrollPerson, env domain.Envelope) {
			if prog, c, ok := domain.PayrollChangeOf(env.Event); ok && prog == program {
				pp.Changes = append(pp.Changes, c)
			}
		})
		if err := s.catchUp(ctx, x.store, x.reg); err != nil {
			return nil, err
		}
		out = append(out, s.state)
	}
	return out, nil
}
