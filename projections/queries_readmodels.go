package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// The read side of the projections as ports of their consumers: the
// methods of ReadModels are the queries beside each projection, run on
// ReadModels.Q, with their errors translated at this boundary so that no
// consumer needs to know PostgreSQL (readErr). ReadModels implements
// app.ReadModels (readmodels.go), httpapi.ReadModels and the reports'
// ports (reports.Changelog, reports.AnnualReadModels); cmd/ledger wires it.

// ErrNotProjected: the read models' tables do not exist yet — no runner has
// created them in this database (a new database, or an API started before
// its first runner). It passes once the runner has; retry shortly.
var ErrNotProjected = errors.New("the read models are still being created")

// readErr translates a read-model query's error: a missing table wraps
// ErrNotProjected, a transient failure matches domain.ErrUnavailable
// (pg.Classify); either keeps the cause for the log. nil stays nil.
func readErr(ctx context.Context, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return fmt.Errorf("%w: %w", ErrNotProjected, err)
	}
	return pg.Classify(ctx, err)
}

// Reached reports whether the read models include the log up to pos, for
// read-your-writes: every projection has a checkpoint, and every running
// one has applied pos (a parked one never will; Statuses shows it).
func (r ReadModels) Reached(ctx context.Context, pos domain.Position) (bool, error) {
	var names []string
	for _, p := range All() {
		names = append(names, p.Name())
	}
	var all, behind int
	err := r.Q.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE status = 'running'
			AND (position_commit, position_prepare) < ($1::bigint, $2::bigint))
		FROM projection_checkpoints WHERE name = ANY($3)`,
		int64(pos.Commit), int64(pos.Prepare), names).Scan(&all, &behind)
	if err != nil {
		return false, readErr(ctx, fmt.Errorf("checkpoints: %w", err))
	}
	return all == len(names) && behind == 0, nil
}

// Statuses is Statuses of every projection, now.
func (r ReadModels) Statuses(ctx context.Context) ([]Status, error) {
	st, err := Statuses(ctx, r.Q, r.Store, All(), time.Now())
	return st, readErr(ctx, err)
}

// ChangelogCaughtUp is ChangelogCaughtUp on r's querier and store.
func (r ReadModels) ChangelogCaughtUp(ctx context.Context) (ChangelogLag, error) {
	lag, err := ChangelogCaughtUp(ctx, r.Q, r.Store)
	return lag, readErr(ctx, err)
}

// ErrChangelogBehind: the changelog has not applied every person event in
// the log within the wait; a change notice read from it would miss
// changes for good. It matches domain.ErrUnavailable: retry shortly.
var ErrChangelogBehind = fmt.Errorf("the changelog read model is behind the event log; is the projection runner (ledger serve or ledger project) running? retry shortly: %w", domain.ErrUnavailable)

// ChangelogReady waits (up to r.Wait, default DefaultCaughtUpWait) until
// the changelog has applied every person event in the log, as a change
// notice needs; ErrChangelogBehind if it has not by then, and an error at
// once if the changelog is parked or failed.
func (r ReadModels) ChangelogReady(ctx context.Context) error {
	wait := r.Wait
	if wait <= 0 {
		wait = DefaultCaughtUpWait
	}
	deadline := time.Now().Add(wait)
	for {
		lag, err := ChangelogCaughtUp(ctx, r.Q, r.Store)
		if err != nil {
			return readErr(ctx, err)
		}
		if lag.CaughtUp() {
			return nil
		}
		if lag.State != "running" && lag.State != "not_created" {
			return fmt.Errorf("the changelog projection is %s: fix it first (ledger project status): %w", lag.State, domain.ErrUnavailable)
		}
		if time.Now().After(deadline) {
			return ErrChangelogBehind
		}
		t := time.NewTimer(waitPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Changes is Changes on r's querier.
func (r ReadModels) Changes(ctx context.Context, from, to domain.Date, township string) ([]ChangeRow, error) {
	rows, err := Changes(ctx, r.Q, from, to, township)
	return rows, readErr(ctx, err)
}

// ChangelogTownships is ChangelogTownships on r's querier.
func (r ReadModels) ChangelogTownships(ctx context.Context) ([]string, error) {
	towns, err := ChangelogTownships(ctx, r.Q)
	return towns, readErr(ctx, err)
}

// PersonByHash is PersonByHash on r's querier.
func (r ReadModels) PersonByHash(ctx context.Context, idHash string) (PersonRow, error) {
	p, err := PersonByHash(ctx, r.Q, idHash)
	return p, readErr(ctx, err)
}

// PersonByID is PersonByID on r's querier.
func (r ReadModels) PersonByID(ctx context.Context, personID domain.PersonID) (PersonRow, error) {
	p, err := PersonByID(ctx, r.Q, personID)
	return p, readErr(ctx, err)
}

// PersonsByID is PersonsByID on r's querier.
func (r ReadModels) PersonsByID(ctx context.Context, ids []domain.PersonID) ([]PersonRow, error) {
	rows, err := PersonsByID(ctx, r.Q, ids)
	return rows, readErr(ctx, err)
}

// SearchPersons is SearchPersons on r's querier.
func (r ReadModels) SearchPersons(ctx context.Context, name, township string, limit, offset int) ([]PersonRow, error) {
	rows, err := SearchPersons(ctx, r.Q, name, township, limit, offset)
	return rows, readErr(ctx, err)
}

// EntitlementsWithPaid is EntitlementsWithPaid on r's querier.
func (r ReadModels) EntitlementsWithPaid(ctx context.Context, personID domain.PersonID) ([]EntitlementRow, error) {
	rows, err := EntitlementsWithPaid(ctx, r.Q, personID)
	return rows, readErr(ctx, err)
}

// EntitlementHistory is EntitlementHistory on r's querier.
func (r ReadModels) EntitlementHistory(ctx context.Context, personID domain.PersonID) ([]HistoryRow, error) {
	rows, err := EntitlementHistory(ctx, r.Q, personID)
	return rows, readErr(ctx, err)
}

// PaymentsByPerson is PaymentsByPerson on r's querier.
func (r ReadModels) PaymentsByPerson(ctx context.Context, personID domain.PersonID) ([]PaymentRow, error) {
	rows, err := PaymentsByPerson(ctx, r.Q, personID)
	return rows, readErr(ctx, err)
}

// Budgets is Budgets on r's querier.
func (r ReadModels) Budgets(ctx context.Context, year int) ([]BudgetRow, error) {
	rows, err := Budgets(ctx, r.Q, year)
	return rows, readErr(ctx, err)
}

// Spending is Spending on r's querier.
func (r ReadModels) Spending(ctx context.Context, year int, groupBy string) ([]SpendingRow, error) {
	rows, err := Spending(ctx, r.Q, year, groupBy)
	return rows, readErr(ctx, err)
}

// BatchLines is BatchLines on r's querier.
func (r ReadModels) BatchLines(ctx context.Context, batchID string, exceptions bool, limit, offset int) ([]domain.BatchReportLine, int, []BatchLineTotal, error) {
	lines, n, totals, err := BatchLines(ctx, r.Q, batchID, exceptions, limit, offset)
	return lines, n, totals, readErr(ctx, err)
}

// Claims is Claims on r's querier.
func (r ReadModels) Claims(ctx context.Context, open bool, limit, offset int) ([]ClaimRow, int, error) {
	rows, total, err := Claims(ctx, r.Q, open, limit, offset)
	return rows, total, readErr(ctx, err)
}

// ProgramMonths is ProgramMonths on r's querier.
func (r ReadModels) ProgramMonths(ctx context.Context, program domain.ProgramCode, year int) ([]ProgramMonth, error) {
	months, err := ProgramMonths(ctx, r.Q, program, year)
	return months, readErr(ctx, err)
}
