// Package pgtest gives tests a real PostgreSQL: each test gets a fresh,
// migrated schema of its own, dropped when the test ends, so tests run in
// parallel without seeing each other's rows.
//
// The database comes from LEDGER_TEST_DATABASE_URL, else DATABASE_URL
// (`make test` sets it, starting a server if need be). With neither set the
// test fails: a test that skips for want of a database is a test that does
// not exist.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/postgres"
)

// URL returns the test database URL or fails the test.
func URL(t testing.TB) string {
	t.Helper()
	for _, k := range []string{"LEDGER_TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	t.Fatal("no test database: set LEDGER_TEST_DATABASE_URL or DATABASE_URL, or run `make test`, which provides one")
	return ""
}

// Schema is a throwaway schema for one test.
type Schema struct {
	Name string
	URL  string // the test database URL with search_path set to Name
	Pool *pgxpool.Pool
}

// NewSchema creates a fresh schema, migrates it, and returns a pool whose
// connections use it. Both are dropped in t.Cleanup.
func NewSchema(t testing.TB) *Schema {
	t.Helper()
	return newSchema(t, true)
}

// NewEmptySchema is NewSchema without migrations.
func NewEmptySchema(t testing.TB) *Schema {
	t.Helper()
	return newSchema(t, false)
}

var (
	ensureOnce sync.Once
	ensureErr  error
)

func newSchema(t testing.TB, migrate bool) *Schema {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := URL(t)
	ensureOnce.Do(func() { _, ensureErr = postgres.EnsureDatabase(ctx, base) })
	if ensureErr != nil {
		t.Fatalf("test database: %v", ensureErr)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "test_" + strings.ToLower(sanitize(t.Name())) + "_" + hex.EncodeToString(b[:])
	if len(name) > 63 {
		name = name[len(name)-63:]
		name = "t" + name[1:]
	}

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}

	cfg, err := pgxpool.ParseConfig(base)
	if err != nil {
		t.Fatalf("parse test database url: %v", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = name
	cfg.MaxConns = 20
	pool, err := postgres.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	s := &Schema{Name: name, URL: withSearchPath(base, name), Pool: pool}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	if migrate {
		if _, err := postgres.Migrate(ctx, pool); err != nil {
			t.Fatalf("migrate: %v", err)
		}
	}
	return s
}

func withSearchPath(base, schema string) string {
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	if !strings.Contains(base, "://") { // keyword/value form
		return base + " search_path=" + schema
	}
	return base + sep + "search_path=" + schema
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	out := b.String()
	if len(out) > 30 {
		out = out[len(out)-30:]
	}
	return out
}

// OtherDatabase creates a database of its own on the test server and
// returns its URL; it is dropped (with any session still in it) at
// cleanup. For tests about what other databases on the same server do.
func OtherDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	base := URL(t)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "ledger_other_" + hex.EncodeToString(b[:])
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("test database: %v", err)
	}
	defer admin.Close(ctx)
	// template0 takes no connections, so no one else's session can make
	// the copy fail.
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	if !strings.Contains(base, "://") { // keyword/value form: a later key wins
		return base + " dbname=" + name
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse test database url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}
