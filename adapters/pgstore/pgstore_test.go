package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/adapters/storetest"
	"github.com/lushan-dpf/ledger/domain"
)

func newStore(t *testing.T) (*pgstore.Store, *pgtest.Schema) {
	db := pgtest.NewSchema(t)
	s := pgstore.New(db.Pool, pgstore.WithPollInterval(50*time.Millisecond))
	t.Cleanup(s.Close)
	return s, db
}

func TestContract(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) domain.EventStore {
			s, _ := newStore(t)
			return s
		},
		HoldAppend: func(t *testing.T, es domain.EventStore, stream string, ev domain.EventData) func() error {
			s := es.(*pgstore.Store)
			ctx := context.Background()
			tx, err := s.Pool().Begin(ctx)
			if err != nil {
				t.Fatalf("begin: %v", err)
			}
			// A test that fails before it commits must not leave the
			// transaction open: dropping the schema would wait for it.
			t.Cleanup(func() { _ = tx.Rollback(ctx) })
			if _, err := s.AppendInTx(ctx, tx, stream, domain.NoStream(), ev); err != nil {
				t.Fatalf("append in tx: %v", err)
			}
			return func() error { return tx.Commit(ctx) }
		},
		Fresh: true,
	})
}

// The events table refuses edits: corrections are new events.
func TestEventsAreAppendOnly(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	ev := domain.EventData{ID: domain.EventID("cmd-1", 0), Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}
	if _, err := s.Append(ctx, "t-1", domain.NoStream(), ev); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE events SET data = '{"n": 1}'`,
		`DELETE FROM events`,
		`TRUNCATE events`,
	} {
		_, err := db.Pool.Exec(ctx, q)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "42501" {
			t.Errorf("%s: err = %v, want insufficient_privilege", q, err)
		}
	}
	evs, err := s.ReadStream(ctx, "t-1", domain.Forwards, 0, 0)
	if err != nil || len(evs) != 1 || string(evs[0].Data) != "{}" {
		t.Fatalf("event changed: %v %v", evs, err)
	}
}

func TestAppendRejectsBadInput(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	good := domain.EventData{ID: domain.EventID("c", 0), Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}
	cases := []struct {
		name   string
		stream string
		events []domain.EventData
		field  string
	}{
		{"empty stream", "", []domain.EventData{good}, "stream"},
		{"no events", "t-1", nil, "events"},
		{"no id", "t-1", []domain.EventData{{Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}}, "events"},
		{"no type", "t-1", []domain.EventData{{ID: domain.EventID("c", 1), Data: []byte(`{}`), Metadata: []byte(`{}`)}}, "events"},
	}
	for _, c := range cases {
		_, err := s.Append(ctx, c.stream, domain.AnyRevision(), c.events...)
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%s: err = %v, want a field error on %q", c.name, err, c.field)
		}
	}
	// Data that is not JSON is refused by the database and nothing is written.
	bad := domain.EventData{ID: domain.EventID("c", 2), Type: "t.A.v1", Data: []byte(`{not json`), Metadata: []byte(`{}`)}
	if _, err := s.Append(ctx, "t-1", domain.NoStream(), bad); err == nil {
		t.Fatal("append of invalid JSON succeeded")
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM streams)`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rejected appends left %d rows (%v)", n, err)
	}
}

// The global log orders transaction IDs as numbers. A query that sorted
// them as text would put transaction 100 before 99; this pins the order
// with rows written directly under chosen transaction IDs.
func TestGlobalOrderComparesTransactionIDsAsNumbers(t *testing.T) {
	s, db := newStore(t)
	ctx := context.Background()
	for _, r := range []struct {
		tx, pos int
		stream  string
	}{{100, 1, "t-b"}, {99, 2, "t-a"}, {1000, 3, "t-c"}} {
		_, err := db.Pool.Exec(ctx, `INSERT INTO events (tx_id, event_id, stream, revision, type, data, metadata)
			OVERRIDING SYSTEM VALUE SELECT $1::text::xid8, gen_random_uuid(), $2, 0, 't.A.v1', '{}', '{}'`, fmt.Sprint(r.tx), r.stream)
		if err != nil {
			t.Fatal(err)
		}
	}
	evs, err := s.ReadAll(ctx, domain.Start, 10, domain.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Stream)
	}
	if strings.Join(got, ",") != "t-a,t-b,t-c" {
		t.Fatalf("global order %v, want transactions 99, 100, 1000", got)
	}
	rest, err := s.ReadAll(ctx, evs[0].Position, 10, domain.Filter{})
	if err != nil || len(rest) != 2 || rest[0].Stream != "t-b" {
		t.Fatalf("after transaction 99: %v, %v", rest, err)
	}
}
