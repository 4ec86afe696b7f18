// Package prtest helps test projections against a real PostgreSQL: build
// envelopes, apply them in batches like the runner does, and dump tables
// as sorted text rows to compare.
package prtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Log builds a global log of envelopes for tests: each Add appends one
// event to a stream with the next revision and global position, and
// metadata as the command path would write it.
type Log struct {
	Envelopes []domain.Envelope
	revs      map[string]uint64
	now       time.Time
}

// NewLog starts a log whose recorded-at clock starts at start and ticks a
// minute per event.
func NewLog(start time.Time) *Log {
	return &Log{revs: map[string]uint64{}, now: start}
}

// Add appends ev to stream, recorded by actor, and returns its envelope.
func (l *Log) Add(stream string, ev domain.Event) domain.Envelope {
	return l.AddBy(stream, "clerk.test", "clerk", ev)
}

// AddBy is Add with the acting user and role.
func (l *Log) AddBy(stream, actor, role string, ev domain.Event) domain.Envelope {
	rev := l.revs[stream]
	l.revs[stream] = rev + 1
	n := uint64(len(l.Envelopes) + 1)
	md := domain.Metadata{
		Actor: actor, Role: role, CommandID: fmt.Sprintf("cmd-%d", n), CorrelationID: fmt.Sprintf("cmd-%d", n),
		RecordedAt: l.now.UTC(), SchemaVersion: 1, Hash: fmt.Sprintf("%064x", n),
	}
	if n > 1 {
		md.PrevHash = fmt.Sprintf("%064x", n-1)
	}
	if e, ok := ev.(domain.Effective); ok {
		md.EffectiveDate = e.EffectiveOn()
	}
	l.now = l.now.Add(time.Minute)
	env := domain.Envelope{
		ID:       domain.EventID(md.CommandID, 0),
		Stream:   stream,
		Revision: rev,
		Position: domain.Position{Commit: 1000 + n, Prepare: 1000 + n},
		Type:     ev.EventType(),
		Event:    ev,
		Meta:     md,
	}
	l.Envelopes = append(l.Envelopes, env)
	return env
}

// Setup creates the projection's tables in a fresh schema.
func Setup(t testing.TB, p projections.Projection) *pgtest.Schema {
	t.Helper()
	db := pgtest.NewSchema(t)
	if _, err := db.Pool.Exec(context.Background(), p.Schema()); err != nil {
		t.Fatalf("%s schema: %v", p.Name(), err)
	}
	return db
}

// Apply projects envs in one transaction.
func Apply(t testing.TB, pool *pgxpool.Pool, p projections.Projection, envs []domain.Envelope) {
	t.Helper()
	ApplyBatches(t, pool, p, envs, []int{len(envs)})
}

// ApplyBatches projects envs in consecutive batches of the given sizes
// (the last size repeats), one transaction per batch, as the runner does.
func ApplyBatches(t testing.TB, pool *pgxpool.Pool, p projections.Projection, envs []domain.Envelope, sizes []int) {
	t.Helper()
	ctx := context.Background()
	for i, k := 0, 0; i < len(envs); k++ {
		n := sizes[min(k, len(sizes)-1)]
		if n < 1 {
			n = 1
		}
		end := min(i+n, len(envs))
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return p.Apply(ctx, tx, envs[i:end]) })
		if err != nil {
			t.Fatalf("%s: apply events %d..%d: %v", p.Name(), i, end-1, err)
		}
		i = end
	}
}

// RandomSizes returns n random batch sizes between 1 and max.
func RandomSizes(r *rand.Rand, n, max int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = 1 + r.IntN(max)
	}
	return out
}

// Dump returns every row of table as text, one string per row with
// columns separated by " | ", sorted, so two tables can be compared.
func Dump(t testing.TB, q projections.Querier, table string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT t::text FROM %s t ORDER BY 1`, pgx.Identifier{table}.Sanitize()))
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("dump %s: %v", table, err)
	}
	return out
}

// Rows runs a query and returns its rows as text lines (columns joined by
// " | "), in the query's order. For given/when/then expectations.
func Rows(t testing.TB, q projections.Querier, sql string, args ...any) []string {
	t.Helper()
	rows, err := q.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatalf("query %q: %v", sql, err)
		}
		cols := make([]string, len(vals))
		for i, v := range vals {
			cols[i] = text(v)
		}
		out = append(out, strings.Join(cols, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query %q: %v", sql, err)
	}
	return out
}

func text(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if x.Hour() == 0 && x.Minute() == 0 && x.Second() == 0 && x.Nanosecond() == 0 {
			return x.Format(time.DateOnly)
		}
		return x.UTC().Format(time.RFC3339)
	case fmt.Stringer:
		return x.String()
	case []byte:
		return string(x)
	default:
		if s, ok := numericText(v); ok {
			return s
		}
		return fmt.Sprint(x)
	}
}
