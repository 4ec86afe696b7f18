package projections

import (
	"context"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// ReadModels is what the application layer reads from the projections
// (app.ReadModels): persons and entitlements for payroll, bank accounts
// for payment files, and whether the read models have caught up with the
// log; and what the HTTP API and the reports read (queries_*.go). Errors
// are translated as readErr says.
type ReadModels struct {
	Q     Querier
	Store domain.EventStore
	// Wait bounds how long CaughtUp waits (default DefaultCaughtUpWait).
	Wait time.Duration
}

// DefaultCaughtUpWait is how long a use case waits for the read models to
// catch up with the log before it answers that they are behind.
const DefaultCaughtUpWait = 20 * time.Second

// CaughtUp returns nil once every projection has applied every event
// committed before the call — events held back behind an append in flight
// included (WaitCaughtUp); else a *LagError or *ParkedError, both
// matching domain.ErrUnavailable, that says how far behind and why.
func (r ReadModels) CaughtUp(ctx context.Context) error {
	wait := r.Wait
	if wait <= 0 {
		wait = DefaultCaughtUpWait
	}
	return readErr(ctx, WaitCaughtUp(ctx, r.Q, r.Store, All(), wait))
}

// PayrollPersons is PayrollPersons on r's querier.
func (r ReadModels) PayrollPersons(ctx context.Context, program domain.ProgramCode) ([]domain.PayrollPerson, error) {
	persons, err := PayrollPersons(ctx, r.Q, program)
	return persons, readErr(ctx, err)
}

// BankAccounts is BankAccounts on r's querier.
func (r ReadModels) BankAccounts(ctx context.Context, persons []domain.PersonID) (map[domain.PersonID]domain.BankAccount, error) {
	accounts, err := BankAccounts(ctx, r.Q, persons)
	return accounts, readErr(ctx, err)
}
