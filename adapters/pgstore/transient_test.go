package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
)

// The store's calls fail with errors matching domain.ErrUnavailable, the
// driver's error inside, when the database is out of reach or the
// connection breaks; refusals on the data's merits stay what they are.
func TestFailuresOfTheDatabaseAreUnavailable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewSchema(t)

	t.Run("deterministic refusals are not", func(t *testing.T) {
		s := pgstore.New(db.Pool)
		t.Cleanup(s.Close)
		e := domain.EventData{ID: domain.EventID("transient-1", 0), Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}
		if _, err := s.Append(ctx, "t-1", domain.NoStream(), e); err != nil {
			t.Fatal(err)
		}
		_, err := s.Append(ctx, "t-2", domain.NoStream(), e) // the same event ID in another stream
		if !errors.Is(err, domain.ErrConflict) || errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("a duplicate event ID: %v; want a conflict, not unavailable", err)
		}
		_, err = s.Append(ctx, "t-1", domain.NoStream(), domain.EventData{ID: domain.EventID("transient-2", 0), Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)})
		if !errors.Is(err, domain.ErrConcurrency) || errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("a wrong expected revision: %v; want a concurrency error, not unavailable", err)
		}
		_, err = s.ReadStream(ctx, "t-none", domain.Forwards, 0, 0)
		if !errors.Is(err, domain.ErrStreamNotFound) || errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("a missing stream: %v; want not found, not unavailable", err)
		}
	})

	t.Run("a terminated connection is", func(t *testing.T) {
		cfg, err := pgxpool.ParseConfig(db.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.MaxConns = 1
		cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false } // hand out the dead connection
		pool, err := postgres.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		s := pgstore.New(pool)
		t.Cleanup(s.Close)
		for _, call := range []struct {
			name string
			do   func() error
		}{
			{"append", func() error {
				_, err := s.Append(ctx, "t-3", domain.AnyRevision(), domain.EventData{ID: domain.EventID("transient-3", 0), Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)})
				return err
			}},
			{"read stream", func() error { _, err := s.ReadStream(ctx, "t-1", domain.Forwards, 0, 0); return err }},
			{"read $all", func() error { _, err := s.ReadAll(ctx, domain.Start, 10, domain.Filter{}); return err }},
		} {
			terminateIdle(t, db, pool)
			err := call.do()
			if !errors.Is(err, domain.ErrUnavailable) {
				t.Errorf("%s on a terminated connection: %v; want domain.ErrUnavailable", call.name, err)
			}
		}
	})

	t.Run("a server out of reach is", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		pool, err := pgxpool.New(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=5", port))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		s := pgstore.New(pool)
		t.Cleanup(s.Close)
		_, appendErr := s.Append(ctx, "t-4", domain.NoStream(), domain.EventData{ID: domain.EventID("transient-4", 0), Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)})
		_, readErr := s.ReadStream(ctx, "t-4", domain.Forwards, 0, 0)
		_, allErr := s.ReadAll(ctx, domain.Start, 10, domain.Filter{})
		_, bulkErr := s.AppendMany(ctx, []domain.StreamAppend{{Stream: "t-5", Expected: domain.NoStream(),
			Events: []domain.EventData{{ID: domain.EventID("transient-5", 0), Type: "t.A.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}}}})
		for name, err := range map[string]error{"append": appendErr, "read stream": readErr, "read $all": allErr, "append many": bulkErr} {
			var ce *pgconn.ConnectError
			if !errors.Is(err, domain.ErrUnavailable) || !errors.As(err, &ce) {
				t.Errorf("%s with the server out of reach: %v; want domain.ErrUnavailable around a *pgconn.ConnectError", name, err)
			}
		}
	})
}

// terminateIdle ends the backend of pool's one idle connection (this
// test's own), leaving the connection in the pool.
func terminateIdle(t *testing.T, db *pgtest.Schema, pool *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pid := conn.Conn().PgConn().PID()
	conn.Release()
	var ok bool
	if err := db.Pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminate %d: %v %v", pid, ok, err)
	}
	// Wait until the backend is gone, so the next statement meets a dead
	// connection rather than racing the termination.
	for {
		var alive bool
		if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&alive); err != nil {
			t.Fatal(err)
		}
		if !alive {
			return
		}
	}
}
