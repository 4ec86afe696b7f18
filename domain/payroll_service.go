package domain

import (
	"context"
	"errors"
	"fmt"
)

// Payroll runs payroll commands against the event store: it folds the
// program-and-period stream, decides, seals the events into the stream's
// hash chain and appends them at the exact revision it read, deciding
// again if another run got there first. It uses the event-store port and
// does no I/O of its own.
type Payroll struct {
	Store    EventStore
	Registry *Registry
}

// NewPayroll returns a payroll service over store.
func NewPayroll(store EventStore) *Payroll {
	return &Payroll{Store: store, Registry: NewLedgerRegistry()}
}

// payrollStream is a folded payroll stream.
type payrollStream struct {
	state    PayrollState
	exists   bool
	revision uint64
	lastHash string
}

func (p *Payroll) load(ctx context.Context, program ProgramCode, period Period) (payrollStream, error) {
	var ps payrollStream
	EvolvePayroll(&ps.state, nil) // initialise the maps
	recs, err := p.Store.ReadStream(ctx, PayrollStream(program, period), Forwards, 0, 0)
	if errors.Is(err, ErrStreamNotFound) {
		return ps, nil
	}
	if err != nil {
		return ps, err
	}
	for _, rec := range recs {
		env, err := p.Registry.DecodeEnvelope(rec)
		if err != nil {
			return ps, err
		}
		EvolvePayroll(&ps.state, env.Event)
		ps.exists, ps.revision, ps.lastHash = true, rec.Revision, env.Meta.Hash
	}
	return ps, nil
}

// State returns the folded payroll stream of a program and period.
func (p *Payroll) State(ctx context.Context, program ProgramCode, period Period) (PayrollState, error) {
	ps, err := p.load(ctx, program, period)
	return ps.state, err
}

// decide loads the stream, decides and appends, retrying a lost race.
func (p *Payroll) decide(ctx context.Context, meta CommandMeta, program ProgramCode, period Period, fn func(PayrollState) ([]Event, error)) (AppendResult, []Event, error) {
	if err := meta.Validate(); err != nil {
		return AppendResult{}, nil, err
	}
	stream := PayrollStream(program, period)
	for attempt := 0; ; attempt++ {
		ps, err := p.load(ctx, program, period)
		if err != nil {
			return AppendResult{}, nil, fmt.Errorf("load %s: %w", stream, err)
		}
		events, err := fn(ps.state)
		if err != nil {
			return AppendResult{}, nil, err
		}
		data, err := Seal(meta, ps.lastHash, events)
		if err != nil {
			return AppendResult{}, nil, err
		}
		res, err := p.Store.Append(ctx, stream, ExpectNext(ps.exists, ps.revision), data...)
		if errors.Is(err, ErrConcurrency) && attempt < 3 {
			continue // another run appended first: decide again on what it did
		}
		return res, events, err
	}
}

// Draft computes and records a batch. What other periods' batches of the
// program paid is read from their streams, from the earliest month any
// person is owed for through the later of the period and the month of
// meta.Now, so arrears paid by another batch are not paid again.
func (p *Payroll) Draft(ctx context.Context, meta CommandMeta, c DraftPayroll) (AppendResult, BatchDrafted, error) {
	first := c.Period
	for _, person := range c.Persons {
		for _, ch := range person.Changes {
			if ch.Kind == ChangeGranted && !ch.EffectiveDate.IsZero() && ch.EffectiveDate.Period().Compare(first) < 0 {
				first = ch.EffectiveDate.Period()
			}
		}
	}
	last := c.Period
	if now := DateOf(meta.Now).Period(); now.Compare(last) > 0 {
		last = now
	}
	elsewhere, err := p.paidAcross(ctx, c.Program, first, last, c.Period)
	if err != nil {
		return AppendResult{}, BatchDrafted{}, err
	}
	c.PaidElsewhere = elsewhere.Amount
	c.Today = DateOf(meta.Now)
	res, events, err := p.decide(ctx, meta, c.Program, c.Period, func(s PayrollState) ([]Event, error) { return DecideDraft(s, c) })
	if err != nil {
		return res, BatchDrafted{}, err
	}
	return res, events[0].(BatchDrafted), nil
}

// Approve approves a drafted batch and issues its payments.
func (p *Payroll) Approve(ctx context.Context, meta CommandMeta, program ProgramCode, period Period, batchID string) (AppendResult, error) {
	res, _, err := p.decide(ctx, meta, program, period, func(s PayrollState) ([]Event, error) {
		return DecideApproval(s, batchID, meta.Actor)
	})
	return res, err
}

// Reject rejects a drafted batch.
func (p *Payroll) Reject(ctx context.Context, meta CommandMeta, program ProgramCode, period Period, batchID, reason string) (AppendResult, error) {
	res, _, err := p.decide(ctx, meta, program, period, func(s PayrollState) ([]Event, error) {
		return DecideRejection(s, batchID, meta.Actor, reason)
	})
	return res, err
}

// RecordExport records an approved batch's payment file.
func (p *Payroll) RecordExport(ctx context.Context, meta CommandMeta, program ProgramCode, period Period, e BatchExported) (AppendResult, error) {
	res, _, err := p.decide(ctx, meta, program, period, func(s PayrollState) ([]Event, error) { return DecideExport(s, e) })
	return res, err
}

// ImportReturn applies a reconciled bank return file and returns the
// events appended.
// classify builds the import from the stream's state, so the stream is
// read once.
func (p *Payroll) ImportReturn(ctx context.Context, meta CommandMeta, program ProgramCode, period Period,
	classify func(PayrollState) (ReturnImported, []Settlement, error)) (AppendResult, []Event, error) {
	return p.decide(ctx, meta, program, period, func(s PayrollState) ([]Event, error) {
		imported, lines, err := classify(s)
		if err != nil {
			return nil, err
		}
		return DecideReturn(s, imported, lines)
	})
}

// paidAcross gathers what the program's payroll streams from first through
// last paid, skipping the period skip (zero: none).
func (p *Payroll) paidAcross(ctx context.Context, program ProgramCode, first, last, skip Period) (Paid, error) {
	var out Paid
	out.Add(PayrollState{})
	for per := first; per.Compare(last) <= 0; per = per.Next() {
		if per == skip {
			continue
		}
		ps, err := p.load(ctx, program, per)
		if err != nil {
			return out, fmt.Errorf("load %s: %w", PayrollStream(program, per), err)
		}
		out.Add(ps.state)
	}
	return out, nil
}

// ClaimOverpayments records an overpayment claim for every month a person
// was paid more than was owed, in the payroll stream of the period of
// meta.Now. It returns the claims (none: nothing appended).
func (p *Payroll) ClaimOverpayments(ctx context.Context, meta CommandMeta, program ProgramCode, persons []PayrollPerson) ([]OverpaymentClaimed, AppendResult, error) {
	now := DateOf(meta.Now).Period()
	first := now
	for _, person := range persons {
		for _, ch := range person.Changes {
			if ch.Kind == ChangeGranted && !ch.EffectiveDate.IsZero() && ch.EffectiveDate.Period().Compare(first) < 0 {
				first = ch.EffectiveDate.Period()
			}
		}
	}
	var claims []OverpaymentClaimed
	res, _, err := p.decide(ctx, meta, program, now, func(s PayrollState) ([]Event, error) {
		paid, err := p.paidAcross(ctx, program, first, now, now)
		if err != nil {
			return nil, err
		}
		paid.Add(s)
		events := DecideClaims(program, persons, paid, DateOf(meta.Now))
		claims = claims[:0]
		for _, e := range events {
			claims = append(claims, e.(OverpaymentClaimed))
		}
		if len(events) == 0 {
			return nil, errNoClaims
		}
		return events, nil
	})
	if errors.Is(err, errNoClaims) {
		return nil, AppendResult{}, nil
	}
	return claims, res, err
}

var errNoClaims = errors.New("no overpayments")

// SettleClaim records that (part of) an overpayment claim was recovered or
// written off, in the payroll stream of the program for the period of
// meta.Now. remaining is what the claim still asks (from the read model);
// the amount may not exceed it.
func (p *Payroll) SettleClaim(ctx context.Context, meta CommandMeta, claim OverpaymentClaimed, remaining, amount Money, writeOff bool, reason string) (AppendResult, error) {
	switch {
	case amount.IsZero():
		return AppendResult{}, Invalid("amount", "must be more than 0.00")
	case amount.Cmp(remaining) > 0:
		return AppendResult{}, Invalid("amount", "%s is more than the %s the claim still asks", amount, remaining)
	case writeOff && reason == "":
		return AppendResult{}, Invalid("reason", "is required to write a claim off")
	}
	on := DateOf(meta.Now)
	res, _, err := p.decide(ctx, meta, claim.Program, on.Period(), func(PayrollState) ([]Event, error) {
		if writeOff {
			return []Event{OverpaymentWrittenOff{ClaimID: claim.ClaimID, PersonID: claim.PersonID, Program: claim.Program,
				Amount: amount, Reason: reason, WrittenOffOn: on}}, nil
		}
		return []Event{OverpaymentRecovered{ClaimID: claim.ClaimID, PersonID: claim.PersonID, Program: claim.Program,
			Amount: amount, RecoveredOn: on}}, nil
	})
	return res, err
}
