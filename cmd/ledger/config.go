package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	esdbstore "github.com/lushan-dpf/ledger/adapters/esdb"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// devLookupKey is the ID-number lookup key used when LEDGER_LOOKUP_KEY is
// unset. Fine for a laptop; a deployment sets its own and never changes it
// (person IDs and look-ups derive from it).
const devLookupKey = "development-only-lookup-key-change-me"

// devAccountKey seals bank account numbers when LEDGER_ACCOUNT_KEY is
// unset: for a laptop only. A deployment sets its own 32-byte key (64 hex
// characters) and keeps it: sealed numbers cannot be opened without it.
const devAccountKey = "6c65646765722d646576656c6f706d656e742d6f6e6c792d6b65792d2d2d2d21"

// config is the ledger's configuration: flags override the environment.
type config struct {
	DatabaseURL string
	EventStore  string // "postgres" (default) or an esdb:// URL
	// EventStoreNamespace keeps this ledger's streams apart from others on
	// a shared EventStoreDB server (esdbstore.WithNamespace).
	EventStoreNamespace string
	Addr                string
	LookupKey           string
	AccountKey          string // hex AES-256 key sealing bank account numbers
	MasterKey           string // hex AES-256 key sealing the persons' data keys
	LogFormat           string // "text" or "json"
	// DBMaxConns is the size of the PostgreSQL pool for requests (and for
	// the work of commands other than serve), as given; validate parses it
	// into maxConns.
	DBMaxConns string
	maxConns   int
	// ReadModelsWait is how long a command that decides on the read
	// models (a payroll draft) waits for them to catch up with the log.
	ReadModelsWait time.Duration
}

// maxDBConns bounds -db-max-conns: PostgreSQL's own max_connections
// rarely exceeds a few hundred.
const maxDBConns = 1000

// bind registers the flags shared by commands that use the database.
func (c *config) bind(fs *flag.FlagSet, e *env, withAddr bool) {
	c.DatabaseURL, c.EventStore = e.getenv("DATABASE_URL"), envOr(e, "LEDGER_EVENTSTORE", "postgres")
	fs.Var(secretURL{&c.DatabaseURL}, "database-url", "PostgreSQL URL (env DATABASE_URL)")
	fs.Var(secretURL{&c.EventStore}, "eventstore", `event store: "postgres" or an esdb:// URL (env LEDGER_EVENTSTORE)`)
	fs.StringVar(&c.EventStoreNamespace, "eventstore-namespace", e.getenv("LEDGER_EVENTSTORE_NAMESPACE"),
		"EventStoreDB only: keep this ledger's streams apart from others on a shared server, e.g. a test run or a training copy (env LEDGER_EVENTSTORE_NAMESPACE)")
	fs.StringVar(&c.LogFormat, "log-format", envOr(e, "LEDGER_LOG_FORMAT", "text"), `log format: "text" or "json" (env LEDGER_LOG_FORMAT)`)
	fs.StringVar(&c.DBMaxConns, "db-max-conns", envOr(e, "LEDGER_DB_MAX_CONNS", strconv.Itoa(postgres.DefaultMaxConns)),
		"PostgreSQL connections in the pool for requests; serve's projection runner has its own (env LEDGER_DB_MAX_CONNS)")
	wait := projections.DefaultCaughtUpWait
	if v := e.getenv("LEDGER_READ_MODELS_WAIT"); v != "" {
		wait = -1 // validate names the bad value
		if d, err := time.ParseDuration(v); err == nil {
			wait = d
		}
	}
	fs.DurationVar(&c.ReadModelsWait, "read-models-wait", wait,
		"how long payroll commands wait for the read models to catch up with the event log before they refuse (env LEDGER_READ_MODELS_WAIT)")
	c.LookupKey = e.getenv("LEDGER_LOOKUP_KEY")
	c.AccountKey = e.getenv("LEDGER_ACCOUNT_KEY")
	c.MasterKey = e.getenv("LEDGER_MASTER_KEY")
	if withAddr {
		fs.StringVar(&c.Addr, "addr", envOr(e, "LEDGER_ADDR", "127.0.0.1:8080"), "HTTP listen address (env LEDGER_ADDR)")
	}
}

// secretURL is a flag holding a URL that may carry a password: its
// default, which -h shows, has the password replaced by "xxxxx".
type secretURL struct{ p *string }

func (v secretURL) String() string {
	if v.p == nil {
		return ""
	}
	if u, err := url.Parse(*v.p); err == nil && u.User != nil {
		return u.Redacted()
	}
	return *v.p
}

func (v secretURL) Set(s string) error {
	*v.p = s
	return nil
}

func envOr(e *env, key, def string) string {
	if v := e.getenv(key); v != "" {
		return v
	}
	return def
}

func (c *config) validate() error {
	if c.DatabaseURL == "" {
		return usageError{"DATABASE_URL is not set: give -database-url or set DATABASE_URL (`make run` provides a local one)"}
	}
	if _, err := pgxpool.ParseConfig(c.DatabaseURL); err != nil {
		return usageError{"database-url: " + err.Error()}
	}
	switch {
	case c.EventStore == "postgres":
	case c.usesESDB():
		if err := esdbstore.CheckNamespace(c.EventStoreNamespace); err != nil {
			return usageError{err.Error()}
		}
	default:
		return usageError{fmt.Sprintf("eventstore: %q is neither \"postgres\" nor an esdb:// or esdb+discover:// URL", postgres.MaskURL(c.EventStore))}
	}
	if c.EventStoreNamespace != "" && !c.usesESDB() {
		return usageError{"eventstore-namespace (env LEDGER_EVENTSTORE_NAMESPACE): applies to an EventStoreDB event store only"}
	}
	if c.LookupKey != "" {
		if err := domain.LookupKey(c.LookupKey).Validate(); err != nil {
			return usageError{"LEDGER_LOOKUP_KEY: " + err.Error()}
		}
	}
	if c.AccountKey != "" {
		if _, err := vault.New(c.AccountKey); err != nil {
			return usageError{"LEDGER_ACCOUNT_KEY: " + err.Error()}
		}
	}
	if c.MasterKey != "" {
		if _, err := vault.New(c.MasterKey); err != nil {
			return usageError{"LEDGER_MASTER_KEY: " + err.Error()}
		}
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return usageError{fmt.Sprintf("log-format: %q is neither \"text\" nor \"json\"", c.LogFormat)}
	}
	n, err := strconv.Atoi(strings.TrimSpace(c.DBMaxConns))
	if err != nil || n < 1 || n > maxDBConns {
		return usageError{fmt.Sprintf("db-max-conns (env LEDGER_DB_MAX_CONNS): %q is not a whole number from 1 to %d", c.DBMaxConns, maxDBConns)}
	}
	c.maxConns = n
	if c.ReadModelsWait <= 0 || c.ReadModelsWait > time.Hour {
		return usageError{"read-models-wait (env LEDGER_READ_MODELS_WAIT): not a duration from 1ns to 1h, e.g. 20s"}
	}
	return nil
}

func (c *config) usesESDB() bool {
	return strings.HasPrefix(c.EventStore, "esdb://") || strings.HasPrefix(c.EventStore, "esdb+discover://")
}

// logValue prints the configuration with secrets masked.
func (c *config) log(l *slog.Logger) {
	key := "(development key)"
	if c.LookupKey != "" {
		key = "(set, " + fmt.Sprint(len(c.LookupKey)) + " bytes)"
	}
	attrs := []any{
		slog.String("database_url", postgres.MaskURL(c.DatabaseURL)),
		slog.String("eventstore", postgres.MaskURL(c.EventStore)),
		slog.String("lookup_key", key),
		slog.Bool("account_key_set", c.AccountKey != ""),
		slog.Bool("master_key_set", c.MasterKey != ""),
		slog.Int("db_max_conns", c.maxConns),
		slog.String("version", version),
	}
	if c.Addr != "" {
		attrs = append(attrs, slog.String("addr", c.Addr))
	}
	l.Info("configuration", attrs...)
	if c.LookupKey == "" {
		l.Warn("LEDGER_LOOKUP_KEY is not set: using the development lookup key; a deployment must set its own and keep it")
	}
	if c.AccountKey == "" {
		l.Warn("LEDGER_ACCOUNT_KEY is not set: bank account numbers are sealed with the development key; a deployment must set its own and keep it")
	}
	if c.MasterKey == "" {
		l.Warn("LEDGER_MASTER_KEY is not set: the persons' data keys are sealed with the development key; a deployment must set its own and keep it")
	}
}

func (c *config) vault() *vault.Vault {
	k := c.AccountKey
	if k == "" {
		k = devAccountKey
	}
	v, err := vault.New(k)
	if err != nil { // validate() checked it
		panic(err)
	}
	return v
}

// keyring returns the persons' data keys on pool, sealed by the master
// key (the development one when LEDGER_MASTER_KEY is unset).
func (c *config) keyring(pool *pgxpool.Pool) *postgres.Keyring {
	k := c.MasterKey
	if k == "" {
		k = postgres.DevelopmentMasterKey
	}
	kr, err := postgres.NewKeyring(pool, k)
	if err != nil { // validate() checked it
		panic(err)
	}
	return kr
}

func (c *config) lookupKey() domain.LookupKey {
	if c.LookupKey == "" {
		return domain.LookupKey(devLookupKey)
	}
	return domain.LookupKey(c.LookupKey)
}

func newLogger(w io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// deps are the opened resources a command works with.
type deps struct {
	stats *projections.Stats
	cfg   config
	log   *slog.Logger
	pool  *pgxpool.Pool // requests, and the work of the other commands
	store domain.EventStore
	// keys are the persons' data keys, shared by every store of the
	// process so that an erasure is seen by all of them at once.
	keys *postgres.Keyring

	// The projection runner's own pool and event store, when it runs
	// beside the HTTP API (openProjectionPool); else it uses pool and store.
	projPool  *pgxpool.Pool
	projStore domain.EventStore
	// projPoll, when set, is the projection store's poll interval (tests).
	projPoll time.Duration
}

// projectionConns is the size of the pool the projection runner of
// `ledger serve` has to itself, so requests that exhaust theirs cannot
// stop the read models, nor the runner slow requests: one connection
// applies a batch, one reads the log ahead of it, a rebuild (after a
// projection's version changed) reads pages ahead of its applier on a
// third; one spare. The runner's lock and the event store's LISTEN each
// have a dedicated connection besides (pg.Dedicated), as does a
// rebuild's lock. docs/architecture.md ("Connections") has the arithmetic.
const projectionConns = 4

// openProjectionPool gives the projection runner a pool and, on the
// PostgreSQL event store, a store of its own.
func (d *deps) openProjectionPool(ctx context.Context) error {
	cfg, err := postgres.PoolConfig(d.cfg.DatabaseURL, projectionConns)
	if err != nil {
		return err
	}
	cfg.ConnConfig.RuntimeParams["application_name"] += "/projections"
	pool, err := postgres.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("projection pool: %w", err)
	}
	d.projPool, d.projStore = pool, d.store
	if _, ok := d.store.(*pgstore.Store); ok {
		opts := []pgstore.Option{pgstore.WithLogger(d.log), pgstore.WithPersonalKeys(d.keys)}
		if d.projPoll > 0 {
			opts = append(opts, pgstore.WithPollInterval(d.projPoll))
		}
		d.projStore = pgstore.New(pool, opts...)
	}
	return nil
}

// statuses reports every projection's state.
func (d *deps) statuses(ctx context.Context) ([]projections.Status, error) {
	return d.readModels().Statuses(ctx)
}

// readModels is what the use cases read from the projections.
func (d *deps) readModels() projections.ReadModels {
	return projections.ReadModels{Q: d.pool, Store: d.store, Wait: d.cfg.ReadModelsWait}
}

func (d *deps) Close() {
	if s, ok := d.projStore.(*pgstore.Store); ok && d.projStore != d.store {
		s.Close()
	}
	if d.projPool != nil {
		d.projPool.Close()
	}
	switch s := d.store.(type) {
	case *pgstore.Store:
		s.Close()
	case *esdbstore.Store:
		_ = s.Close()
	}
	if d.pool != nil {
		d.pool.Close()
	}
}

// open validates cfg, connects, creates the database if it is missing and
// brings the schema up to date.
func open(ctx context.Context, e *env, cfg config) (*deps, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	log := newLogger(e.stderr, cfg.LogFormat)
	cfg.log(log)
	created, err := postgres.EnsureDatabase(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created database")
	}
	poolCfg, err := postgres.PoolConfig(cfg.DatabaseURL, cfg.maxConns)
	if err != nil {
		return nil, err
	}
	pool, err := postgres.ConnectConfig(ctx, poolCfg)
	if err != nil {
		return nil, err
	}
	d := &deps{cfg: cfg, log: log, pool: pool, stats: projections.NewStats(), keys: cfg.keyring(pool)}
	applied, err := postgres.Migrate(ctx, pool)
	if err != nil {
		d.Close()
		return nil, err
	}
	log.Info("schema is current", slog.Int("migrations_applied", len(applied)))
	if cfg.usesESDB() {
		es, err := esdbstore.Open(cfg.EventStore, log, esdbstore.WithNamespace(cfg.EventStoreNamespace), esdbstore.WithPersonalKeys(d.keys))
		if err != nil {
			d.Close()
			return nil, err
		}
		d.store = es
		log.Info("event store: EventStoreDB")
	} else {
		d.store = pgstore.New(pool, pgstore.WithLogger(log), pgstore.WithPersonalKeys(d.keys))
		log.Info("event store: PostgreSQL (embedded)")
	}
	return d, nil
}

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("migrate", e)
	cfg.bind(fs, e, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	d.Close()
	return nil
}
