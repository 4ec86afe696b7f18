package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// ErrStaleCheckpoint: a checkpoint moved under the runner (another runner,
// or a rebuild swapped the projection in). The batch was rolled back; the
// runner must reload its checkpoints before going on.
var ErrStaleCheckpoint = errors.New("checkpoint moved by another writer")

// Checkpoint is a projection's progress through the global log.
type Checkpoint struct {
	Name          string
	Version       int
	Position      domain.Position
	EventsApplied int64
	LastEventAt   time.Time // recorded-at of the last event applied; zero if none
	Status        string    // "running" or "parked"
	AppliedBy     string
	UpdatedAt     time.Time
}

const checkpointColumns = `name, version, position_commit, position_prepare, events_applied,
	COALESCE(last_event_at, 'epoch'), status, COALESCE(applied_by, ''), updated_at`

func scanCheckpoint(row pgx.Row) (Checkpoint, error) {
	var c Checkpoint
	var commit, prepare int64
	err := row.Scan(&c.Name, &c.Version, &commit, &prepare, &c.EventsApplied, &c.LastEventAt, &c.Status, &c.AppliedBy, &c.UpdatedAt)
	c.Position = domain.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
	if c.LastEventAt.Unix() == 0 {
		c.LastEventAt = time.Time{}
	}
	return c, err
}

// LoadCheckpoint returns a projection's checkpoint; found is false when
// the projection was never set up.
func LoadCheckpoint(ctx context.Context, q Querier, name string) (c Checkpoint, found bool, err error) {
	c, err = scanCheckpoint(q.QueryRow(ctx, `SELECT `+checkpointColumns+` FROM projection_checkpoints WHERE name = $1`, name))
	if errors.Is(err, pgx.ErrNoRows) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("load checkpoint %s: %w", name, err)
	}
	return c, true, nil
}

// Checkpoints returns every checkpoint, by name.
func Checkpoints(ctx context.Context, q Querier) ([]Checkpoint, error) {
	rows, err := q.Query(ctx, `SELECT `+checkpointColumns+` FROM projection_checkpoints ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		c, err := scanCheckpoint(rows)
		if err != nil {
			return nil, fmt.Errorf("checkpoints: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// advance moves a checkpoint from `from` to `to` inside tx, or fails with
// ErrStaleCheckpoint if it is no longer at `from` (or no longer running).
func advance(ctx context.Context, tx pgx.Tx, name string, from, to domain.Position, n int, lastAt time.Time, by string) error {
	tag, err := tx.Exec(ctx, `
		UPDATE projection_checkpoints
		SET position_commit = $4, position_prepare = $5, events_applied = events_applied + $6,
		    last_event_at = $7, applied_by = $8, updated_at = now()
		WHERE name = $1 AND position_commit = $2 AND position_prepare = $3 AND status = 'running'`,
		name, int64(from.Commit), int64(from.Prepare), int64(to.Commit), int64(to.Prepare), n, lastAt, by)
	if err != nil {
		return fmt.Errorf("advance checkpoint %s: %w", name, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("advance checkpoint %s from %s: %w", name, from, ErrStaleCheckpoint)
	}
	return nil
}

// Parked is an event a projection stopped at.
type Parked struct {
	Name      string          `json:"name"`
	Position  domain.Position `json:"position"`
	Stream    string          `json:"stream"`
	Revision  uint64          `json:"revision"`
	EventType string          `json:"event_type"`
	Error     string          `json:"error"`
	Attempts  int             `json:"attempts"`
	ParkedAt  time.Time       `json:"parked_at"`
}

// ParkedEvents lists parked events, oldest first.
func ParkedEvents(ctx context.Context, q Querier) ([]Parked, error) {
	rows, err := q.Query(ctx, `SELECT name, position_commit, position_prepare, stream, revision, event_type, error, attempts, parked_at
		FROM projection_parked ORDER BY parked_at, name`)
	if err != nil {
		return nil, fmt.Errorf("parked events: %w", err)
	}
	defer rows.Close()
	var out []Parked
	for rows.Next() {
		var p Parked
		var c, pr, rev int64
		if err := rows.Scan(&p.Name, &c, &pr, &p.Stream, &rev, &p.EventType, &p.Error, &p.Attempts, &p.ParkedAt); err != nil {
			return nil, fmt.Errorf("parked events: %w", err)
		}
		p.Position = domain.Position{Commit: uint64(c), Prepare: uint64(pr)}
		p.Revision = uint64(rev)
		out = append(out, p)
	}
	return out, rows.Err()
}
