package pg_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// raise makes the server fail a statement with the given SQLSTATE.
func raise(t *testing.T, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, code string) error {
	t.Helper()
	_, err := q.Exec(context.Background(), fmt.Sprintf(`DO $$ BEGIN RAISE EXCEPTION 'injected %s' USING ERRCODE = '%s'; END $$`, code, code))
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != code {
		t.Fatalf("raise %s: got %v", code, err)
	}
	return err
}

// Server errors are transient by SQLSTATE; classified, they match
// domain.ErrUnavailable and still carry the server's error.
func TestTransientSQLStates(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptySchema(t)
	ctx := context.Background()
	transient := []string{"08000", "08006", "08001", "53000", "53100", "53200", "53300", "57P01", "57P02", "57P03", "40001", "40P01", "55P03"}
	deterministic := []string{"23505", "23514", "23503", "22P02", "22003", "42P01", "42703", "28P01", "3D000", "42501", "P0001", "57014"}
	for _, code := range transient {
		err := raise(t, db.Pool, code)
		if !pg.Transient(err) {
			t.Errorf("SQLSTATE %s: not transient", code)
		}
		c := pg.Classify(ctx, err)
		var pgErr *pgconn.PgError
		if !errors.Is(c, domain.ErrUnavailable) || !errors.As(c, &pgErr) || pgErr.Code != code {
			t.Errorf("SQLSTATE %s classified as %v; want domain.ErrUnavailable around the *pgconn.PgError", code, c)
		}
	}
	for _, code := range deterministic {
		err := raise(t, db.Pool, code)
		if pg.Transient(err) {
			t.Errorf("SQLSTATE %s: transient, want deterministic", code)
		}
		if c := pg.Classify(ctx, err); errors.Is(c, domain.ErrUnavailable) || c != err {
			t.Errorf("SQLSTATE %s classified as %v; want the error unchanged", code, c)
		}
	}
	if pg.Transient(nil) || pg.Classify(ctx, nil) != nil {
		t.Error("nil is not an error, let alone a transient one")
	}
	var n int
	err := db.Pool.QueryRow(ctx, `SELECT 1 WHERE false`).Scan(&n)
	if !errors.Is(err, pgx.ErrNoRows) || pg.Transient(err) {
		t.Errorf("no rows (%v) is not transient", err)
	}
}

// Real failures, as the driver reports them.
func TestTransientFailuresOfTheConnection(t *testing.T) {
	t.Parallel()
	db := pgtest.NewEmptySchema(t)
	ctx := context.Background()

	t.Run("lock timeout", func(t *testing.T) {
		if _, err := db.Pool.Exec(ctx, `CREATE TABLE locked (n int)`); err != nil {
			t.Fatal(err)
		}
		holder, err := db.Pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Rollback(ctx) //nolint:errcheck
		if _, err := holder.Exec(ctx, `LOCK TABLE locked IN ACCESS EXCLUSIVE MODE`); err != nil {
			t.Fatal(err)
		}
		err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '20ms'`); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `SELECT * FROM locked`)
			return err
		})
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "55P03" || !pg.Transient(err) {
			t.Errorf("lock timeout: %v; want a transient 55P03", err)
		}
	})

	t.Run("terminated backend", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		pid := conn.PgConn().PID()
		var ok bool
		if err := db.Pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			t.Fatalf("terminate %d: %v %v", pid, ok, err)
		}
		_, err = conn.Exec(ctx, `SELECT 1`)
		if err == nil || !pg.Transient(err) || !errors.Is(pg.Classify(ctx, err), domain.ErrUnavailable) {
			t.Errorf("a statement on a terminated backend: %v; want a transient error", err)
		}
		_, err = conn.Exec(ctx, `SELECT 1`)
		if !errors.Is(err, pgconn.ErrConnClosed) || !pg.Transient(err) {
			t.Errorf("a statement on the closed connection: %v; want a transient pgconn.ErrConnClosed", err)
		}
	})

	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().(*net.TCPAddr)
		ln.Close()
		_, err = pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/x?sslmode=disable&connect_timeout=5", addr.Port))
		var ce *pgconn.ConnectError
		if !errors.As(err, &ce) || !pg.Transient(err) || !errors.Is(pg.Classify(ctx, err), domain.ErrUnavailable) {
			t.Errorf("connection refused: %v; want a transient *pgconn.ConnectError", err)
		}
	})

	t.Run("a wrong database is not transient", func(t *testing.T) {
		cfg, err := pgx.ParseConfig(db.URL)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Database = "no_such_database_for_ledger_tests"
		_, err = pgx.ConnectConfig(ctx, cfg)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "3D000" || pg.Transient(err) {
			t.Errorf("connect to a missing database: %v; want a deterministic 3D000", err)
		}
	})

	t.Run("deadlines: the driver's is transient, the caller's is not", func(t *testing.T) {
		inner, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		_, err := db.Pool.Exec(inner, `SELECT pg_sleep(5)`)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("a statement past its deadline: %v", err)
		}
		if c := pg.Classify(inner, err); errors.Is(c, domain.ErrUnavailable) {
			t.Errorf("classified against the caller's expired context: %v; want it unchanged", c)
		}
		if c := pg.Classify(ctx, err); !errors.Is(c, domain.ErrUnavailable) || !errors.Is(c, context.DeadlineExceeded) {
			t.Errorf("classified against a live context (the deadline was the driver's): %v; want unavailable", c)
		}
		gone, cancel := context.WithCancel(ctx)
		cancel()
		_, err = db.Pool.Exec(gone, `SELECT 1`)
		if err == nil || pg.Transient(err) || errors.Is(pg.Classify(gone, err), domain.ErrUnavailable) {
			t.Errorf("the caller's cancellation: %v; want it not transient", err)
		}
	})

	t.Run("closed pool", func(t *testing.T) {
		pool, err := postgres.Connect(ctx, db.URL)
		if err != nil {
			t.Fatal(err)
		}
		pool.Close()
		_, err = pool.Exec(ctx, `SELECT 1`)
		if !pg.PoolClosed(err) || !pg.Transient(err) {
			t.Errorf("a closed pool: %v; want a transient closed-pool error", err)
		}
	})
}
