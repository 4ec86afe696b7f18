// Package postgres holds what the ledger's PostgreSQL adapters share: the
// connection pool, the embedded schema migrations and database creation;
// and the stores of the API's own tables (users, idempotency keys). Error
// classification and dedicated connections are in internal/pg, which the
// projections use too.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/internal/pg"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DefaultMaxConns is the size of a pool when the caller does not choose
// one: the request pool of `ledger serve` and the one pool of the other
// commands. pgx's own default, max(4, number of CPUs), is 4 on a two-core
// machine — too few for an API that also runs projections. See
// docs/architecture.md ("Connections") for the arithmetic against the
// server's max_connections.
const DefaultMaxConns = 20

// DefaultConnectTimeout bounds a connection attempt when the URL sets no
// connect_timeout: without one, a connection to a host that drops packets
// would wait for the operating system (minutes), and the caller with it.
const DefaultConnectTimeout = 10 * time.Second

// PoolConfig parses url into a pool configuration of maxConns connections
// (DefaultMaxConns when maxConns < 1), with the application name (pg.DefaultApplicationName) and
// connect timeout defaulted as above.
func PoolConfig(url string, maxConns int) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if maxConns < 1 {
		maxConns = DefaultMaxConns
	}
	cfg.MaxConns = int32(min(maxConns, math.MaxInt32))
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = pg.DefaultApplicationName
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	return cfg, nil
}

// Connect opens a pool of DefaultMaxConns connections to url and checks it
// answers.
func Connect(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := PoolConfig(url, DefaultMaxConns)
	if err != nil {
		return nil, err
	}
	return ConnectConfig(ctx, cfg)
}

// ConnectConfig opens a pool from cfg and checks it answers.
func ConnectConfig(ctx context.Context, cfg *pgxpool.Config) (*pgxpool.Pool, error) {
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", cfg.ConnConfig.Host, pg.Classify(ctx, err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, pg.Classify(ctx, err))
	}
	return pool, nil
}

// EnsureDatabase creates the database named in url if it does not exist,
// connecting to the server's "postgres" database to do so. It returns true
// when it created the database.
func EnsureDatabase(ctx context.Context, url string) (bool, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, fmt.Errorf("parse database url: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "3D000" { // invalid_catalog_name
		return false, fmt.Errorf("connect %s: %w", cfg.Database, err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	admin, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect postgres to create %s: %w", name, err)
	}
	defer admin.Close(ctx)
	_, err = admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	if err != nil && !errors.As(err, &pgErr) {
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	// duplicate_database, or a unique violation on pg_database: another
	// process created it at the same moment, which is fine.
	if err != nil && pgErr.Code != "42P04" && pgErr.Code != "23505" {
		return false, fmt.Errorf("create database %s: %w", name, err)
	}
	return err == nil, nil
}

// Migration is one embedded schema change.
type Migration struct {
	Version string // file name without .sql, e.g. "0001_event_store"
	SQL     string
}

// Migrations returns the embedded migrations in order.
func Migrations() ([]Migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, n := range names {
		b, err := migrations.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: strings.TrimSuffix(strings.TrimPrefix(n, "migrations/"), ".sql"), SQL: string(b)})
	}
	return out, nil
}

// migrateLock is the advisory lock key that serialises migrations.
const migrateLock = 0x6c65646765720001 // "ledger" + 1

// Migrate applies every embedded migration not yet applied, each in its own
// transaction, in the schema the pool's search_path names first. It is safe
// to run concurrently from several processes and returns the versions it
// applied (none when the schema is current).
func Migrate(ctx context.Context, pool *pgxpool.Pool) ([]string, error) {
	all, err := Migrations()
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLock)); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrateLock)) //nolint:errcheck

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    text PRIMARY KEY,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	done := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, v := range versions {
		done[v] = true
	}
	var applied []string
	for _, m := range all {
		if done[m.Version] {
			continue
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.Version)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migrate %s: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// MaskURL returns a connection string with any password replaced by
// "xxxxx", for logs. It handles URLs (scheme://user:password@host…, also
// with several hosts, as EventStoreDB cluster strings have) and PostgreSQL
// keyword/value strings (password=…).
func MaskURL(raw string) string {
	raw = urlPassword.ReplaceAllString(raw, "${1}xxxxx@")
	return dsnPassword.ReplaceAllString(raw, "${1}xxxxx")
}

var (
	urlPassword = regexp.MustCompile(`(://[^:/@\s]*:)\S*@`) // greedy: over-mask rather than leak
	dsnPassword = regexp.MustCompile(`(?i)(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)
)
