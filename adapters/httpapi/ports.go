package httpapi

import (
	"context"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// The server's ports: what it reads and keeps besides the event store,
// declared here where they are consumed and implemented beside the tables'
// owners — projections.ReadModels for the read models, postgres.Users and
// postgres.Idempotency for the API's own tables; cmd/ledger wires them.
// The implementations translate their errors at their boundary: a
// transient failure matches domain.ErrUnavailable, read models not yet
// created match projections.ErrNotProjected, so this package needs no
// knowledge of the database (writeError maps them).

// ReadModels is everything the server reads from the projections.
type ReadModels interface {
	app.ReadModels           // the payroll use cases' reads
	reports.AnnualReadModels // the annual summary
	reports.ReadyChangelog   // the change notices
	Freshness
	PersonQueries
	FinanceQueries
	RosterQueries
}

// Freshness says how far the read models have got.
type Freshness interface {
	// Reached reports whether every projection exists and every running
	// one has applied the log up to pos (read your writes).
	Reached(ctx context.Context, pos domain.Position) (bool, error)
}

// PersonQueries are the caseworkers' look-ups. A person that does not
// exist is an error matching domain.ErrNotFound.
type PersonQueries interface {
	// PersonByHash finds a person by the keyed hash of their ID number
	// (domain.LookupKey.Hash).
	PersonByHash(ctx context.Context, idHash string) (projections.PersonRow, error)
	PersonByID(ctx context.Context, id domain.PersonID) (projections.PersonRow, error)
	// ExpiringCertificates lists the certificates lapsing from from to to,
	// in one township or ("") all.
	ExpiringCertificates(ctx context.Context, from, to domain.Date, township string) ([]projections.ExpiringCertificate, error)
	// SearchPersons finds persons by part of their name and/or township.
	SearchPersons(ctx context.Context, name, township string, limit, offset int) ([]projections.PersonRow, error)
	// EntitlementsWithPaid lists a person's entitlements with what was
	// paid per month (none for a person that does not exist).
	EntitlementsWithPaid(ctx context.Context, id domain.PersonID) ([]projections.EntitlementRow, error)
	// EntitlementHistory lists the decisions on a person's entitlements.
	EntitlementHistory(ctx context.Context, id domain.PersonID) ([]projections.HistoryRow, error)
	PaymentsByPerson(ctx context.Context, id domain.PersonID) ([]projections.PaymentRow, error)
}

// FinanceQueries are finance's figures.
type FinanceQueries interface {
	Budgets(ctx context.Context, year int) ([]projections.BudgetRow, error)
	// Spending groups the year's payments by "month", "township" or
	// "program".
	Spending(ctx context.Context, year int, groupBy string) ([]projections.SpendingRow, error)
	ProgramMonths(ctx context.Context, program domain.ProgramCode, year int) ([]projections.ProgramMonth, error)
}

// UserStore finds the user holding a bearer token; a token no enabled user
// holds is an error matching domain.ErrNotFound.
type UserStore interface {
	Lookup(ctx context.Context, token string) (name, role string, err error)
}

// IdempotencyStore keeps the answers of commands by user and
// Idempotency-Key and decides who runs a key's command (idempotency.go).
type IdempotencyStore interface {
	// TryOwn makes the caller the owner of user's key if nobody owns it, in
	// this process or another; it does not wait. The owner releases it.
	TryOwn(ctx context.Context, user, key string) (app.KeyOwner, bool, error)
	// Claim binds user's key to the request with hash, unless it is bound
	// already: then it returns the key's record and false. Called by the
	// key's owner.
	Claim(ctx context.Context, user, key string, hash []byte) (app.KeyRecord, bool, error)
	// Lookup returns user's key's record, and false if there is none.
	Lookup(ctx context.Context, user, key string) (app.KeyRecord, bool, error)
	// Complete stores the answer of the request with hash on user's key;
	// the first answer stored stays.
	Complete(ctx context.Context, user, key string, hash []byte, answer app.KeyRecord) error
}

// Pinger answers whether the database is reachable (/readyz).
type Pinger interface {
	Ping(ctx context.Context) error
}
