package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/lushan-dpf/ledger/domain"
)

// Erase erases a person's personal data (crypto-shredding): it records
// domain.PersonErased on the person's stream — refused while a benefit,
// proposal, payment or claim is open, or before the retention period
// ends (domain.ErasePerson) — and then deletes the person's data key, so
// that the ID number, name and bank account in their events can never be
// read again. The events themselves stay as they were, so the hash chains
// still verify.
//
// Run again with the same command ID after a stop between the two steps,
// it finds the erasure recorded and deletes the key; run with another
// command ID on an erased person it makes sure the key is gone and
// answers a conflict.
func (p *Persons) Erase(ctx context.Context, id domain.PersonID, meta domain.CommandMeta, reason string) (domain.AppendResult, error) {
	if err := meta.Validate(); err != nil {
		return domain.AppendResult{}, err
	}
	money, err := p.moneyOf(ctx, id)
	if err != nil {
		return domain.AppendResult{}, err
	}
	res, err := p.Execute(ctx, id, meta, domain.ErasePerson{Reason: reason, On: domain.BusinessDate(meta.Now), Money: money})
	var rule *domain.RuleError
	erasedBefore := errors.As(err, &rule) && rule.Rule == domain.RuleErased
	if err != nil && !erasedBefore {
		return res, err
	}
	if kerr := p.x.store.PersonalKeys().Erase(ctx, id); kerr != nil {
		return res, fmt.Errorf("erasure recorded; deleting the data key: %w (run the same command again to finish)", kerr)
	}
	if erasedBefore {
		st, serr := p.State(ctx, id)
		if serr != nil {
			return res, serr
		}
		return res, &domain.ConflictError{Reason: fmt.Sprintf("the person's personal data was erased on %s already", st.ErasedOn)}
	}
	return res, nil
}

// moneyOf reads what the payment shards of every payable program hold of
// a person: lines still open, what claims still ask, the last month paid.
func (p *Persons) moneyOf(ctx context.Context, id domain.PersonID) (domain.PersonMoney, error) {
	var m domain.PersonMoney
	for _, program := range domain.PayablePrograms() {
		s := newStream(domain.PaymentsStream(program, domain.PaymentShard(id)), newShard(0), evolveShard)
		if err := s.catchUp(ctx, p.payments.store, p.payments.reg); err != nil {
			return m, err
		}
		for k, a := range s.state.Months {
			if k.Person != id {
				continue
			}
			if a.Open != "" {
				m.OpenLines++
			}
			if len(a.Paid) > 0 && (m.LastPaid.IsZero() || k.Period.Compare(m.LastPaid) > 0) {
				m.LastPaid = k.Period
			}
		}
		for _, c := range s.state.Claims {
			if c.PersonID == id {
				m.OpenClaims = m.OpenClaims.Add(c.Remaining())
			}
		}
	}
	return m, nil
}

// ReapplyErasures deletes again the data key of every person whose
// erasure the log records: after PostgreSQL is restored from a backup
// taken before some erasures, their keys are back, and this takes them
// away again. It returns how many erasures the log holds.
func (p *Persons) ReapplyErasures(ctx context.Context) (int, error) {
	keys := p.x.store.PersonalKeys()
	n := 0
	from := domain.Start
	for {
		page, err := p.x.store.ReadAll(ctx, from, 1000, domain.Filter{StreamPrefixes: []string{domain.PersonStreamPrefix}})
		if err != nil {
			return n, err
		}
		for _, rec := range page {
			if rec.Type != domain.TypePersonErased {
				continue
			}
			id, ok := domain.PersonIDFromStream(rec.Stream)
			if !ok {
				continue
			}
			if err := keys.Erase(ctx, id); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < 1000 {
			return n, nil
		}
		from = page[len(page)-1].Position
	}
}
