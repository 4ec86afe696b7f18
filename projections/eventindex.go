package projections

import (
	"context"
	_ "embed"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/eventindex.sql
var eventIndexSchema string

// EventIndexProjection is the read model "event_index": one row per event
// of the global log, whatever its type, with the envelope's identity and
// metadata (who, when, why, hashes), for auditors. Apply copies the batch
// with COPY; a position or stream revision seen twice is an error.
type EventIndexProjection struct{}

var _ Projection = EventIndexProjection{}

func (EventIndexProjection) Name() string     { return "event_index" }
func (EventIndexProjection) Version() int     { return 1 }
func (EventIndexProjection) Schema() string   { return eventIndexSchema }
func (EventIndexProjection) Tables() []string { return []string{"event_index"} }

var eventIndexColumns = []string{
	"position_commit", "position_prepare", "event_id", "stream", "revision", "type",
	"actor", "role", "command_id", "recorded_at", "effective_date", "reason", "hash", "prev_hash",
}

// Interest: the index treats every event alike, whatever its type.
func (EventIndexProjection) Interest() Interest { return Interest{AnyType: true} }

func (EventIndexProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	if len(batch) == 0 {
		return nil
	}
	rows := make([][]any, len(batch))
	for i := range batch {
		e := &batch[i]
		c, p, err := positionInts(e.Position)
		if err != nil {
			return fmt.Errorf("event_index: %s@%d: %w", e.Stream, e.Revision, err)
		}
		if e.Revision > math.MaxInt64 {
			return fmt.Errorf("event_index: %s@%d: %w", e.Stream, e.Revision, domain.Invalid("revision", "does not fit a BIGINT"))
		}
		var eff any
		if !e.Meta.EffectiveDate.IsZero() {
			eff = e.Meta.EffectiveDate.Time()
		}
		rows[i] = []any{
			c, p, e.ID, e.Stream, int64(e.Revision), e.Type,
			e.Meta.Actor, e.Meta.Role, e.Meta.CommandID, e.Meta.RecordedAt, eff, e.Meta.Reason, e.Meta.Hash, e.Meta.PrevHash,
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"event_index"}, eventIndexColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("event_index: copy: %w", err)
	}
	return nil
}

// IndexRow is one event as the event index records it.
type IndexRow struct {
	Position      domain.Position
	EventID       uuid.UUID
	Stream        string
	Revision      uint64
	Type          string
	Actor         string
	Role          string
	CommandID     string
	RecordedAt    time.Time
	EffectiveDate domain.Date // zero when the event has none
	Reason        string
	Hash          string
	PrevHash      string
}

// EventsOfStream returns a stream's events by revision; none for a stream
// that does not exist.
func EventsOfStream(ctx context.Context, q Querier, stream string) ([]IndexRow, error) {
	rows, err := q.Query(ctx, `
SELECT position_commit, position_prepare, event_id, stream, revision, type, actor, role, command_id,
       recorded_at, effective_date, reason, hash, prev_hash
FROM event_index WHERE stream = $1 ORDER BY revision`, stream)
	if err != nil {
		return nil, fmt.Errorf("event_index: %w", err)
	}
	defer rows.Close()
	var out []IndexRow
	for rows.Next() {
		var (
			r         IndexRow
			c, p, rev int64
			eff       *time.Time
		)
		if err := rows.Scan(&c, &p, &r.EventID, &r.Stream, &rev, &r.Type, &r.Actor, &r.Role, &r.CommandID,
			&r.RecordedAt, &eff, &r.Reason, &r.Hash, &r.PrevHash); err != nil {
			return nil, fmt.Errorf("event_index: %w", err)
		}
		r.Position = domain.Position{Commit: uint64(c), Prepare: uint64(p)}
		r.Revision = uint64(rev)
		r.RecordedAt = r.RecordedAt.UTC()
		if eff != nil {
			r.EffectiveDate = domain.DateOf(*eff)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("event_index: %w", err)
	}
	return out, nil
}

// EventCount returns the number of events indexed.
func EventCount(ctx context.Context, q Querier) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM event_index`).Scan(&n); err != nil {
		return 0, fmt.Errorf("event_index: %w", err)
	}
	return n, nil
}
