// Package prtest helps test projections against a real PostgreSQL: build
// envelopes, apply them in batches like the runner does, dump tables as
// sorted text rows to compare, and check the rows a list of events leaves
// (Expect).
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

// Log builds a global log of envelopes for tests, exactly as production
// writes and reads it: each Add seals the event into its stream's hash
// chain with domain.SealPersonal and domain.Seal (the next revision, the stream's last hash,
// metadata as the command path writes it) and decodes the sealed bytes
// back with the ledger's registry, as the runner does with what it reads.
// So a projection test cannot pass on a shape production never produces.
type Log struct {
	Envelopes []domain.Envelope
	// Keys seal and open the personal data of the events (erase a person
	// with them to test what erasure leaves).
	Keys  *Keys
	reg   *domain.Registry
	heads map[string]head
	now   time.Time
}

// head is what the log remembers of a stream: its next revision and the
// hash of its last event.
type head struct {
	next uint64
	hash string
}

// NewLog starts a log whose recorded-at clock starts at start and ticks a
// minute per event.
func NewLog(start time.Time) *Log {
	keys := NewKeys()
	return &Log{Keys: keys, reg: domain.NewLedgerRegistry().WithKeys(keys), heads: map[string]head{}, now: start}
}

// SetClock makes the next event recorded at t; the clock ticks a minute
// per event from there.
func (l *Log) SetClock(t time.Time) { l.now = t }

// Add appends ev to stream, recorded by actor, and returns its envelope.
func (l *Log) Add(stream string, ev domain.Event) domain.Envelope {
	return l.AddBy(stream, "clerk.test", "clerk", ev)
}

// AddBy is Add with the acting user and role.
func (l *Log) AddBy(stream, actor, role string, ev domain.Event) domain.Envelope {
	return l.AddMeta(stream, domain.CommandMeta{Actor: actor, Role: role}, ev)
}

// AddMeta appends ev to stream as one command with meta. A zero CommandID
// becomes "cmd-N" (N the event's number in the log), a zero Actor
// "clerk.test", a zero Role "clerk", a zero Now the log's clock. It panics if the
// event cannot be sealed or decoded, as no stored event could be either.
func (l *Log) AddMeta(stream string, meta domain.CommandMeta, ev domain.Event) domain.Envelope {
	n := uint64(len(l.Envelopes) + 1)
	if meta.CommandID == "" {
		meta.CommandID = fmt.Sprintf("cmd-%d", n)
	}
	if meta.Actor == "" {
		meta.Actor = "clerk.test"
	}
	if meta.Role == "" {
		meta.Role = "clerk"
	}
	if meta.Now.IsZero() {
		meta.Now = l.now
	}
	l.now = meta.Now.Add(time.Minute)
	h := l.heads[stream]
	person, _ := domain.PersonIDFromStream(stream)
	evs, err := domain.SealPersonal(context.Background(), l.Keys, person, []domain.Event{ev})
	if err != nil {
		panic(fmt.Sprintf("prtest: seal %s: %v", ev.EventType(), err))
	}
	data, err := domain.Seal(meta, h.hash, evs)
	if err != nil {
		panic(fmt.Sprintf("prtest: seal %s: %v", ev.EventType(), err))
	}
	d := data[0]
	env, err := l.reg.DecodeEnvelope(domain.RecordedEvent{
		ID: d.ID, Stream: stream, Revision: h.next, Position: domain.Position{Commit: 1000 + n, Prepare: 1000 + n},
		Type: d.Type, Data: d.Data, Metadata: d.Metadata, RecordedAt: meta.Now,
	})
	if err != nil {
		panic(fmt.Sprintf("prtest: decode %s: %v", d.Type, err))
	}
	l.heads[stream] = head{next: h.next + 1, hash: env.Meta.Hash}
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
