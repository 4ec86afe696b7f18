package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// ReadModels is what the application layer reads from the projections
// (app.ReadModels): persons and entitlements for payroll, bank accounts
// for payment files, and whether the read models have caught up with the
// log.
type ReadModels struct {
	Q     Querier
	Store domain.EventStore
	// Wait bounds how long CaughtUp waits (default 30 s).
	Wait time.Duration
}

// ErrBehind: the read models did not catch up with the event log in time.
// It matches domain.ErrUnavailable.
var ErrBehind = fmt.Errorf("the read models are behind the event log; run `ledger serve` or `ledger project` and retry: %w", domain.ErrUnavailable)

// CaughtUp returns nil once every projection has applied every event
// committed before the call.
func (r ReadModels) CaughtUp(ctx context.Context) error {
	wait := r.Wait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	deadline := time.Now().Add(wait)
	for {
		st, err := Statuses(ctx, r.Q, r.Store, All(), time.Now())
		if err != nil {
			return err
		}
		behind := int64(0)
		for _, s := range st {
			switch s.State {
			case "running":
				behind += s.LagEvents
			case "parked":
				return fmt.Errorf("projection %s is parked at an event it cannot apply: fix it first (ledger project status): %w", s.Name, domain.ErrUnavailable)
			default: // not yet created, or being rebuilt: the runner is on it
				behind++
			}
		}
		if behind == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return ErrBehind
		}
		select {
		case <-ctx.Done():
			return errors.Join(ctx.Err(), ErrBehind)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PayrollPersons is PayrollPersons on r's querier.
func (r ReadModels) PayrollPersons(ctx context.Context, program domain.ProgramCode) ([]domain.PayrollPerson, error) {
	return PayrollPersons(ctx, r.Q, program)
}

// BankAccounts is BankAccounts on r's querier.
func (r ReadModels) BankAccounts(ctx context.Context, persons []domain.PersonID) (map[domain.PersonID]domain.BankAccount, error) {
	return BankAccounts(ctx, r.Q, persons)
}
