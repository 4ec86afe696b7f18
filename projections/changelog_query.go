package projections

import (
	"context"
	"fmt"

	"github.com/lushan-dpf/ledger/domain"
)

// Queries of the changelog for the monthly change notice (reports/).

// ChangelogTownships returns every township the changelog knows — where a
// registered person lives or lived when a change was recorded — sorted.
func ChangelogTownships(ctx context.Context, q Querier) ([]string, error) {
	rows, err := q.Query(ctx, `
		SELECT township FROM changelog_persons WHERE township <> ''
		UNION
		SELECT DISTINCT township FROM changelog WHERE township <> ''
		ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("changelog townships: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, fmt.Errorf("changelog townships: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("changelog townships: %w", err)
	}
	return out, nil
}

// ChangelogLag says whether the changelog has applied every person event
// in the store: a notice read before that could miss a change. Only
// person streams matter — other events (payroll, the notices themselves)
// never add a row — so issuing a notice does not make the next one wait.
type ChangelogLag struct {
	State      string          // the checkpoint's status ("running", "parked", …); "not_created" if none
	Checkpoint domain.Position // what the changelog has applied
	Behind     bool            // a person event after Checkpoint exists
}

// CaughtUp reports whether a notice may be read now.
func (l ChangelogLag) CaughtUp() bool { return l.State == "running" && !l.Behind }

// ChangelogCaughtUp reads the changelog's checkpoint and looks for a person
// event after it in store.
func ChangelogCaughtUp(ctx context.Context, q Querier, store domain.EventStore) (ChangelogLag, error) {
	p := ChangelogProjection{}
	c, found, err := LoadCheckpoint(ctx, q, p.Name())
	if err != nil {
		return ChangelogLag{}, err
	}
	if !found {
		return ChangelogLag{State: "not_created"}, nil
	}
	lag := ChangelogLag{State: c.Status, Checkpoint: c.Position}
	if c.Version != p.Version() {
		lag.State = "rebuild_pending"
	}
	evs, err := store.ReadAll(ctx, c.Position, 1, domain.Filter{StreamPrefixes: []string{domain.PersonStreamPrefix}})
	if err != nil {
		return ChangelogLag{}, fmt.Errorf("changelog lag: %w", err)
	}
	lag.Behind = len(evs) > 0
	return lag, nil
}
