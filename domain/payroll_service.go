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
	elsewhere := map[PersonPeriod]Money{}
	for per := first; per.Compare(last) <= 0; per = per.Next() {
		if per == c.Period {
			continue
		}
		ps, err := p.load(ctx, c.Program, per)
		if err != nil {
			return AppendResult{}, BatchDrafted{}, fmt.Errorf("load %s: %w", PayrollStream(c.Program, per), err)
		}
		for k, v := range ps.state.Paid {
			elsewhere[k] = elsewhere[k].Add(v)
		}
	}
	c.PaidElsewhere = elsewhere
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
