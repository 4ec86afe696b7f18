package projections_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// flaky is a counter whose Apply makes the database fail the transaction
// with a serialization failure (SQLSTATE 40001, raised by the server):
// on its first `first` calls — more in a row than the runner's Retries —
// and then on every other call that includes the poison event, until it
// has failed `transient` times in all.
type flaky struct {
	counter
	first, transient int64
	calls, poisoned  atomic.Int64
	failed           atomic.Int64
}

func (f *flaky) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	n := f.calls.Add(1)
	poison := f.failOn.Load()
	withPoison := poison != nil && slices.ContainsFunc(batch, func(e domain.Envelope) bool { return e.ID.String() == *poison })
	if f.failed.Load() < f.transient && (n <= f.first || (withPoison && f.poisoned.Add(1)%2 == 1)) {
		f.failed.Add(1)
		_, err := tx.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'injected serialization failure' USING ERRCODE = '40001'; END $$`)
		return fmt.Errorf("flaky: %w", err)
	}
	return f.counter.Apply(ctx, tx, batch)
}

// logRecords is a concurrency-safe JSON log the test can read back.
type logRecords struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logRecords) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// records returns the logged records that have every key of keys.
func (l *logRecords) records(t *testing.T, level string, keys ...string) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader(l.buf.Bytes()))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("log: %v", err)
		}
		if m["level"] != level {
			continue
		}
		if !slices.ContainsFunc(keys, func(k string) bool { _, ok := m[k]; return !ok }) {
			out = append(out, m)
		}
	}
	return out
}

// Transient failures while applying are waited out, however often they
// come, and never count toward parking: the healthy events are applied
// exactly once, and the one event that fails deterministically is parked
// after exactly Retries attempts.
func TestTransientApplyFailuresAreRetriedNotParked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appendPayments(t, b.store, 0, 30, 3)
	evs := readLog(t, b, 30)
	poison := evs[17].ID.String()
	bad := &flaky{counter: counter{name: "c_flaky_bad", version: 1}, first: 5, transient: 8}
	bad.failOn.Store(&poison)
	good := &counter{name: "c_flaky_good", version: 1}
	logs := &logRecords{}
	r := newRunner(b, bad, good) // Retries: 3
	r.Log = slog.New(slog.NewJSONHandler(logs, nil))
	r.RetryMin, r.RetryMax = time.Millisecond, 4*time.Millisecond
	r.Stats = projections.NewStats()

	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, sum := total(t, b, "c_flaky_good"); n != 30 || sum != "300.00" {
		t.Errorf("healthy projection: %d events, %s; want 30, 300.00 (each applied exactly once)", n, sum)
	}
	if n, sum := total(t, b, "c_flaky_bad"); n != 17 || sum != "170.00" {
		t.Errorf("projection with a poison event: %d events, %s; want the 17 before it, once each", n, sum)
	}
	parked, err := projections.ParkedEvents(context.Background(), b.db.Pool)
	if err != nil || len(parked) != 1 || parked[0].Name != "c_flaky_bad" || parked[0].Position != evs[17].Position || parked[0].Attempts != 3 {
		t.Fatalf("parked = %+v, %v; want only the poison event of c_flaky_bad, after 3 attempts", parked, err)
	}
	if bad.failed.Load() != 8 {
		t.Fatalf("injected %d transient failures, want 8", bad.failed.Load())
	}
	if got := r.Stats.TransientRetries(); got != 8 {
		t.Errorf("stats count %d transient retries, want 8", got)
	}
	if since, attempts := r.Stats.Retrying(); !since.IsZero() || attempts != 0 {
		t.Errorf("after the run the stats say retrying since %s (%d attempts)", since, attempts)
	}
	var metrics strings.Builder
	r.Stats.WritePrometheus(&metrics)
	for _, want := range []string{"ledger_projection_runner_transient_retries_total 8\n", "ledger_projection_runner_retrying_since_seconds 0\n"} {
		if !strings.Contains(metrics.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics.String())
		}
	}
	warned := logs.records(t, "WARN", "attempt", "retry_in", "error")
	if len(warned) != 8 {
		t.Errorf("%d warnings with attempt and retry_in, want one per transient failure (8)", len(warned))
	}
}

// A runner whose database connections are all terminated — the lock's,
// the listener's and the one in the middle of applying a batch — carries
// on: it waits, takes the lock again and applies every event exactly
// once, parking nothing.
func TestRunnerSurvivesItsBackendsBeingTerminated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	app := "rt_" + hex.EncodeToString(rnd[:])
	cfg, err := postgres.PoolConfig(b.db.URL, 4)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := postgres.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := pgstore.New(pool, pgstore.WithPollInterval(20*time.Millisecond), pgstore.WithLogger(slog.New(slog.DiscardHandler)))
	t.Cleanup(store.Close)

	appendPayments(t, b.store, 0, 40, 4)
	g := &held{counter: counter{name: "c_term", version: 1}, at: 2, entered: make(chan struct{}), release: make(chan struct{})}
	r := &projections.Runner{Pool: pool, Store: store, Projections: []projections.Projection{g}, Log: slog.New(slog.DiscardHandler),
		BatchSize: 7, MaxWait: 10 * time.Millisecond, Retries: 1, Backoff: time.Millisecond,
		RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond, Stats: projections.NewStats()}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- r.Run(runCtx) }()

	select {
	case <-g.entered: // one batch committed, the second one's transaction open
	case err := <-done:
		t.Fatalf("runner stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the runner never reached its second batch")
	}
	names := []string{app, app + "/runner-lock", app + "/listen"}
	waitFor(t, "the runner's lock, listener and pool connections", func() bool {
		var n int
		_ = b.db.Pool.QueryRow(ctx, `SELECT count(DISTINCT application_name) FROM pg_stat_activity WHERE application_name = ANY($1)`, names).Scan(&n)
		return n == len(names)
	})
	var terminated int
	if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = ANY($1)`,
		names).Scan(&terminated); err != nil || terminated < len(names) {
		t.Fatalf("terminated %d of the runner's backends (%v); want at least %d", terminated, err, len(names))
	}
	close(g.release)

	appendPayments(t, b.store, 40, 20, 4)
	waitFor(t, "all 60 events", func() bool {
		select {
		case err := <-done:
			t.Fatalf("runner stopped: %v", err)
		default:
		}
		return count(b, "c_term") == 60
	})
	if n, sum := total(t, b, "c_term"); n != 60 || sum != "600.00" {
		t.Errorf("%d events, %s; want 60, 600.00: each exactly once", n, sum)
	}
	cp, _, err := projections.LoadCheckpoint(ctx, b.db.Pool, "c_term")
	if err != nil || cp.EventsApplied != 60 || cp.Status != "running" {
		t.Errorf("checkpoint %+v, %v; want 60 events applied, running", cp, err)
	}
	if parked, err := projections.ParkedEvents(ctx, b.db.Pool); err != nil || len(parked) != 0 {
		t.Errorf("parked %+v, %v; want none", parked, err)
	}
	if r.Stats.TransientRetries() == 0 {
		t.Error("the stats show no transient retry")
	}
	waitFor(t, "the runner to hold its lock again", func() bool {
		var n int
		_ = b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
			WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`, app+"/runner-lock").Scan(&n)
		return n == 1
	})
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("runner: %v", err)
	}
}

// held is a counter that, on its at-th Apply, signals entered and waits
// for release before applying (within the transaction it was given).
type held struct {
	counter
	at      int64
	calls   atomic.Int64
	entered chan struct{}
	release chan struct{}
}

func (h *held) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	if h.calls.Add(1) == h.at {
		close(h.entered)
		<-h.release
	}
	return h.counter.Apply(ctx, tx, batch)
}

// A deterministic database error (a check violation) is no transient
// failure: the event is parked after its retries.
func TestDeterministicDatabaseErrorIsParked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	appendPayments(t, b.store, 0, 10, 2)
	evs := readLog(t, b, 10)
	c := &checked{counter: counter{name: "c_checked", version: 1}, bad: evs[4].ID.String()}
	r := newRunner(b, c)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	parked, err := projections.ParkedEvents(context.Background(), b.db.Pool)
	if err != nil || len(parked) != 1 || parked[0].Position != evs[4].Position || parked[0].Attempts != 3 {
		t.Fatalf("parked = %+v, %v; want the event at %s after 3 attempts", parked, err, evs[4].Position)
	}
	if n, _ := total(t, b, "c_checked"); n != 4 {
		t.Errorf("%d events applied, want the 4 before the bad one", n)
	}
}

// checked fails one event with a real check violation (SQLSTATE 23514).
type checked struct {
	counter
	bad string
}

func (c *checked) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	for _, e := range batch {
		if e.ID.String() == c.bad {
			_, err := tx.Exec(ctx, `DO $$ BEGIN RAISE EXCEPTION 'negative count' USING ERRCODE = '23514'; END $$`)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) {
				return fmt.Errorf("want a check violation, got %w", err)
			}
			return fmt.Errorf("checked: %w", err)
		}
	}
	return c.counter.Apply(ctx, tx, batch)
}
