package postgres_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
)

// process is a second process on db's schema: a pool of its own whose
// sessions carry a unique application_name, so a test can kill them.
func process(t *testing.T, db *pgtest.Schema) (*pgxpool.Pool, string) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "idemtest-" + hex.EncodeToString(b[:])
	cfg.ConnConfig.RuntimeParams["application_name"] = name
	cfg.MaxConns = 4
	pool, err := postgres.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, name
}

// kill terminates every session named app, as if its process had died,
// and returns once they are gone.
func kill(t *testing.T, pool *pgxpool.Pool, app string) {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name = $1`, app)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var ok bool
		if err := rows.Scan(&ok); err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Fatalf("a session of %s did not end in 10s", app)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no session of %s to kill", app)
	}
}

func mustOwn(t *testing.T, s *postgres.Idempotency, user, key string, want bool) app.KeyOwner {
	t.Helper()
	o, ok, err := s.TryOwn(context.Background(), user, key)
	if err != nil {
		t.Fatalf("TryOwn(%s, %s): %v", user, key, err)
	}
	if ok {
		t.Cleanup(o.Release) // a failed test must not leave its pool waiting for the lock session
	}
	if ok != want {
		t.Fatalf("TryOwn(%s, %s) = %v, want %v", user, key, ok, want)
	}
	return o
}

// One owner per (schema, user, key): none for a second request of the
// same process (advisory locks are re-entrant in a session), none for
// another process; the owner's Release frees the key, and the lock session
// goes back to the pool when it holds no lock.
func TestIdempotencyOwnership(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t)
	poolB, _ := process(t, db)
	a, b := postgres.NewIdempotency(db.Pool), postgres.NewIdempotency(poolB)

	owner := mustOwn(t, a, "clerk", "k1", true)
	mustOwn(t, a, "clerk", "k1", false)
	mustOwn(t, b, "clerk", "k1", false)
	// Other users, keys and schemas are not held.
	other := mustOwn(t, b, "clerk2", "k1", true)
	another := mustOwn(t, a, "clerk", "k2", true)
	elsewhere := mustOwn(t, postgres.NewIdempotency(pgtest.NewSchema(t).Pool), "clerk", "k1", true)
	if got := db.Pool.Stat().AcquiredConns(); got != 1 {
		t.Errorf("process a holds %d connections for two locks, want 1", got)
	}

	owner.Release()
	o := mustOwn(t, b, "clerk", "k1", true)
	mustOwn(t, a, "clerk", "k1", false)
	o.Release()
	owner.Release() // a second Release gives up nothing
	mustOwn(t, a, "clerk", "k1", true).Release()

	for _, o := range []app.KeyOwner{other, another, elsewhere} {
		o.Release()
	}
	if got := db.Pool.Stat().AcquiredConns(); got != 0 {
		t.Errorf("process a holds %d connections with no lock, want 0", got)
	}
	if got := poolB.Stat().AcquiredConns(); got != 0 {
		t.Errorf("process b holds %d connections with no lock, want 0", got)
	}
}

// A process that dies loses its keys with its session: another takes them
// over at once. The dead session's owners release nothing, and the
// process owns keys again on a new session.
func TestIdempotencyOwnerDies(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t)
	poolA, appA := process(t, db)
	a, b := postgres.NewIdempotency(poolA), postgres.NewIdempotency(db.Pool)

	dead := mustOwn(t, a, "clerk", "k", true)
	mustOwn(t, b, "clerk", "k", false)
	kill(t, db.Pool, appA)

	taken := mustOwn(t, b, "clerk", "k", true)
	mustOwn(t, a, "clerk", "other", true).Release() // a finds its session dead and opens another
	mustOwn(t, a, "clerk", "k", false)              // b owns it now
	taken.Release()
	mine := mustOwn(t, a, "clerk", "k", true)
	dead.Release() // the dead session's owner must not give up the new one's lock
	mustOwn(t, b, "clerk", "k", false)
	mine.Release()
	mustOwn(t, b, "clerk", "k", true).Release()
	if got := poolA.Stat().AcquiredConns(); got != 0 {
		t.Errorf("process a holds %d connections with no lock, want 0", got)
	}
}

// A key is bound to its first request for good; the first outcome stored
// is kept, with its content type and location.
func TestIdempotencyClaimAndComplete(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t)
	s := postgres.NewIdempotency(db.Pool)
	ctx := context.Background()
	h1, h2 := []byte("request one"), []byte("request two")

	if _, claimed, err := s.Claim(ctx, "clerk", "k", h1); err != nil || !claimed {
		t.Fatalf("first claim: %v %v", claimed, err)
	}
	st, claimed, err := s.Claim(ctx, "clerk", "k", h2)
	if err != nil || claimed {
		t.Fatalf("second claim: %v %v, want the first one's row", claimed, err)
	}
	if !bytes.Equal(st.RequestHash, h1) || st.Status != 0 {
		t.Errorf("second claim found %+v, want hash %q and no outcome", st, h1)
	}
	if _, claimed, _ := s.Claim(ctx, "clerk2", "k", h2); !claimed {
		t.Errorf("clerk2's key k was taken by clerk's")
	}

	first := app.KeyRecord{Status: 201, ContentType: "application/json", Location: "/v1/persons/p1", Response: []byte(`{"person_id":"p1"}` + "\n")}
	if err := s.Complete(ctx, "clerk", "k", h2, first); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := s.Lookup(ctx, "clerk", "k"); st.Status != 0 {
		t.Errorf("another request's outcome was stored on the key: %+v", st)
	}
	if err := s.Complete(ctx, "clerk", "k", h1, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Complete(ctx, "clerk", "k", h1, app.KeyRecord{Status: 500, ContentType: "text/plain", Response: []byte("later")}); err != nil {
		t.Fatal(err)
	}
	st, found, err := s.Lookup(ctx, "clerk", "k")
	if err != nil || !found {
		t.Fatalf("lookup: %v %v", found, err)
	}
	first.RequestHash = h1
	if st.Status != first.Status || st.ContentType != first.ContentType || st.Location != first.Location ||
		!bytes.Equal(st.Response, first.Response) || !bytes.Equal(st.RequestHash, h1) {
		t.Errorf("stored %+v, want the first outcome %+v", st, first)
	}
	if _, found, err := s.Lookup(ctx, "clerk", "unknown"); err != nil || found {
		t.Errorf("lookup of an unused key: %v %v", found, err)
	}
}

// Migration 0004 gives the responses stored before it the headers their
// replays had: JSON, and for a 201 the Location derived from the body.
func TestIdempotencyMigrationKeepsReplays(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptySchema(t)
	ctx := context.Background()
	all, err := postgres.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	var later []postgres.Migration
	for _, m := range all {
		if m.Version >= "0004" {
			later = append(later, m)
			continue
		}
		if _, err := db.Pool.Exec(ctx, m.SQL); err != nil {
			t.Fatalf("%s: %v", m.Version, err)
		}
	}
	if len(later) == 0 || later[0].Version != "0004_idempotency_outcomes" {
		t.Fatalf("migrations after 0003: %v", later)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO idempotency_keys (user_name, key, request_hash, status, response) VALUES
		('u', 'person', 'h', 201, convert_to('{"person_id":"p1","position":"1/2","revision":0}'||chr(10), 'UTF8')),
		('u', 'batch', 'h', 201, convert_to('{"batch_id":"living_subsidy.2025-01.1","program":"living_subsidy"}'||chr(10), 'UTF8')),
		('u', 'move', 'h', 200, convert_to('{"person_id":"p1","position":"3/4","revision":1}'||chr(10), 'UTF8')),
		('u', 'flight', 'h', NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, later[0].SQL); err != nil {
		t.Fatalf("%s: %v", later[0].Version, err)
	}
	s := postgres.NewIdempotency(db.Pool)
	want := map[string]app.KeyRecord{
		"person": {Status: 201, ContentType: "application/json", Location: "/v1/persons/p1"},
		"batch":  {Status: 201, ContentType: "application/json", Location: "/v1/payroll/batches/living_subsidy.2025-01.1"},
		"move":   {Status: 200, ContentType: "application/json"},
		"flight": {},
	}
	for key, w := range want {
		st, found, err := s.Lookup(ctx, "u", key)
		if err != nil || !found {
			t.Fatalf("%s: %v %v", key, found, err)
		}
		if st.Status != w.Status || st.ContentType != w.ContentType || st.Location != w.Location {
			t.Errorf("%s: status %d, content type %q, location %q; want %d %q %q", key, st.Status, st.ContentType, st.Location, w.Status, w.ContentType, w.Location)
		}
	}
}
