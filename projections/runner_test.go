package projections_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// counter is a test projection: per stream, how many events and the sum
// of their amounts. It can be told to fail on one event.
type counter struct {
	name    string
	version int
	failOn  atomic.Pointer[string] // event ID that makes Apply fail
	applied atomic.Int64
}

func (c *counter) Name() string     { return c.name }
func (c *counter) Version() int     { return c.version }
func (c *counter) Tables() []string { return []string{c.name} }
func (c *counter) Schema() string {
	return fmt.Sprintf(`CREATE TABLE %s (stream text PRIMARY KEY, n int NOT NULL, total numeric(16,2) NOT NULL, last_revision bigint NOT NULL)`, c.name)
}

func (c *counter) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	for _, e := range batch {
		if f := c.failOn.Load(); f != nil && *f == e.ID.String() {
			return fmt.Errorf("poisoned event %s", e.ID)
		}
		amount := "0"
		if p, ok := e.Event.(*domain.PaymentIssued); ok {
			amount = p.Amount.String()
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (stream, n, total, last_revision) VALUES ($1, 1, $2::numeric, $3)
			ON CONFLICT (stream) DO UPDATE SET n = %[1]s.n + 1, total = %[1]s.total + EXCLUDED.total, last_revision = EXCLUDED.last_revision`, c.name),
			e.Stream, amount, int64(e.Revision))
		if err != nil {
			return err
		}
	}
	c.applied.Add(int64(len(batch)))
	return nil
}

type bundle struct {
	db    *pgtest.Schema
	store *pgstore.Store
}

func setup(t *testing.T) bundle {
	t.Helper()
	db := pgtest.NewSchema(t)
	s := pgstore.New(db.Pool, pgstore.WithPollInterval(20*time.Millisecond))
	t.Cleanup(s.Close)
	return bundle{db: db, store: s}
}

// appendPayments appends n PaymentIssued events of 10.00 over k streams.
func appendPayments(t *testing.T, s domain.EventStore, from, n, k int) {
	t.Helper()
	ctx := context.Background()
	for i := from; i < from+n; i++ {
		ev := domain.PaymentIssued{PaymentLine: domain.PaymentLine{
			Reference: fmt.Sprintf("ref-%d", i), BatchID: "b", PersonID: "0123456789abcdef0123",
			Program: domain.ProgramLivingSubsidy, Period: domain.MustDate("2025-01-01").Period(),
			Kind: domain.PaymentRegular, Amount: domain.MustMoney("10.00"), Township: "星子镇", PaidOn: domain.MustDate("2025-01-20"),
		}}
		meta := domain.CommandMeta{CommandID: fmt.Sprintf("pay-%d", i), Actor: "fin", Role: "finance", Now: time.Now()}
		data, err := domain.Seal(meta, "", []domain.Event{ev})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, fmt.Sprintf("payroll-test.%d", i%k), domain.AnyRevision(), data...); err != nil {
			t.Fatal(err)
		}
	}
}

func newRunner(b bundle, projs ...projections.Projection) *projections.Runner {
	return &projections.Runner{Log: slog.New(slog.DiscardHandler), Pool: b.db.Pool, Store: b.store, Projections: projs, BatchSize: 7, MaxWait: 20 * time.Millisecond, Backoff: time.Millisecond, Retries: 3}
}

func total(t *testing.T, b bundle, table string) (n int, sum string) {
	t.Helper()
	err := b.db.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT COALESCE(sum(n), 0), COALESCE(sum(total), 0)::numeric(16,2)::text FROM %s`, table)).Scan(&n, &sum)
	if err != nil {
		t.Fatal(err)
	}
	return n, sum
}

func TestRunOnceAppliesEveryEventExactlyOnce(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 100, 5)
	c := &counter{name: "c_once", version: 1}
	r := newRunner(b, c)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, sum := total(t, b, "c_once"); n != 100 || sum != "1000.00" {
		t.Fatalf("after one run: %d events, %s; want 100, 1000.00", n, sum)
	}
	appendPayments(t, b.store, 100, 23, 5)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, sum := total(t, b, "c_once"); n != 123 || sum != "1230.00" {
		t.Fatalf("after a second run: %d events, %s; want 123, 1230.00", n, sum)
	}
	cp, found, err := projections.LoadCheckpoint(context.Background(), b.db.Pool, "c_once")
	if err != nil || !found || cp.EventsApplied != 123 {
		t.Fatalf("checkpoint %+v (found %v, %v), want 123 events applied", cp, found, err)
	}
	last := readLog(t, b, 123)
	if cp.Position != last[len(last)-1].Position {
		t.Errorf("checkpoint at %s, last event at %s", cp.Position, last[len(last)-1].Position)
	}
}

func TestPoisonEventIsParkedAndStopsOnlyItsProjection(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 30, 3)
	evs := readLog(t, b, 30) // waits out other transactions holding the read horizon back
	poison := evs[17]
	bad := &counter{name: "c_bad", version: 1}
	id := poison.ID.String()
	bad.failOn.Store(&id)
	good := &counter{name: "c_good", version: 1}
	r := newRunner(b, bad, good)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := total(t, b, "c_good"); n != 30 {
		t.Errorf("healthy projection applied %d events, want 30", n)
	}
	if n, _ := total(t, b, "c_bad"); n != 17 {
		t.Errorf("failing projection applied %d events, want the 17 before the poison", n)
	}
	parked, err := projections.ParkedEvents(context.Background(), b.db.Pool)
	if err != nil || len(parked) != 1 || parked[0].Name != "c_bad" || parked[0].Position != poison.Position ||
		!strings.Contains(parked[0].Error, "poisoned") || parked[0].Attempts != 3 {
		t.Fatalf("parked = %+v, %v; want the poison event of c_bad after 3 attempts", parked, err)
	}
	st, err := projections.Statuses(context.Background(), b.db.Pool, b.store, []projections.Projection{bad, good}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st[0].State != "parked" || st[0].LagEvents != 13 || len(st[0].Parked) != 1 || st[1].State != "running" || st[1].LagEvents != 0 {
		t.Fatalf("statuses = %+v", st)
	}
	// More events: the parked projection stays put, never skipping.
	appendPayments(t, b.store, 30, 5, 3)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := total(t, b, "c_bad"); n != 17 {
		t.Errorf("parked projection moved on: %d events", n)
	}
	// Fixed and retried: it resumes at the parked event.
	bad.failOn.Store(nil)
	if was, err := projections.Retry(context.Background(), b.db.Pool, "c_bad"); err != nil || !was {
		t.Fatalf("retry: %v %v", was, err)
	}
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, sum := total(t, b, "c_bad"); n != 35 || sum != "350.00" {
		t.Errorf("after retry: %d events, %s; want 35, 350.00", n, sum)
	}
}

// interloper moves the checkpoint behind the runner's back during its
// first batch, as a stale second writer would.
type interloper struct {
	counter
	once sync.Once
	bump func()
}

func (i *interloper) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	i.once.Do(i.bump)
	return i.counter.Apply(ctx, tx, batch)
}

func TestStaleCheckpointRollsBackTheBatch(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 20, 2)
	evs := readLog(t, b, 20)
	ip := &interloper{counter: counter{name: "c_stale", version: 1}}
	ip.bump = func() {
		// Another writer applied (pretends to) the first 5 events meanwhile.
		_, err := b.db.Pool.Exec(context.Background(), `UPDATE projection_checkpoints SET position_commit = $2, position_prepare = $3 WHERE name = $1`,
			"c_stale", int64(evs[4].Position.Commit), int64(evs[4].Position.Prepare))
		if err != nil {
			t.Error(err)
		}
		_, _ = b.db.Pool.Exec(context.Background(), `INSERT INTO c_stale VALUES ('marker', 5, 0, 0)`)
	}
	r := newRunner(b, ip)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The runner's first batch (events 0..6) was rolled back; it reloaded
	// and applied 5..19 only: 15 events, plus the interloper's 5.
	if n, _ := total(t, b, "c_stale"); n != 20 {
		t.Fatalf("%d events counted, want 20: a batch was applied twice or lost", n)
	}
}

func TestRebuildSwapsInANewVersionWhileLiveTablesServe(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 50, 4)
	v1 := &counter{name: "c_rb", version: 1}
	if err := newRunner(b, v1).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := prtest.Dump(t, b.db.Pool, "c_rb")
	// Hand-edit a row: the rebuild must not carry it over.
	if _, err := b.db.Pool.Exec(context.Background(), `UPDATE c_rb SET total = total + 1`); err != nil {
		t.Fatal(err)
	}
	appendPayments(t, b.store, 50, 10, 4)

	v2 := &counter{name: "c_rb", version: 2}
	r := newRunner(b, v2)
	r.RebuildBatch = 8
	if err := r.RunOnce(context.Background()); err != nil { // version changed: rebuilds first
		t.Fatal(err)
	}
	if n, sum := total(t, b, "c_rb"); n != 60 || sum != "600.00" {
		t.Fatalf("after rebuild: %d events, %s; want 60, 600.00", n, sum)
	}
	cp, _, _ := projections.LoadCheckpoint(context.Background(), b.db.Pool, "c_rb")
	if cp.Version != 2 || cp.EventsApplied != 60 {
		t.Errorf("checkpoint after rebuild: %+v", cp)
	}
	if len(before) != 4 {
		t.Errorf("live table had %d rows before", len(before))
	}
	var shadows int
	// Ours only: another run's tests may share the database, and their
	// shadow schemas carry the hash of their own live schema.
	_ = b.db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, $1)`,
		"rb_c_rb_"+schemaHash(b)+"_").Scan(&shadows)
	if shadows != 0 {
		t.Errorf("%d shadow schemas left behind", shadows)
	}
}

// gated blocks in Apply while gate is closed, to hold a rebuild mid-way.
type gated struct {
	counter
	gate    chan struct{}
	entered chan struct{}
	once    sync.Once
}

func (g *gated) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	var path string
	_ = tx.QueryRow(ctx, `SHOW search_path`).Scan(&path)
	if strings.HasPrefix(path, "rb_") || strings.HasPrefix(path, `"rb_`) {
		g.once.Do(func() { close(g.entered) })
		select {
		case <-g.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return g.counter.Apply(ctx, tx, batch)
}

func TestLiveTablesServeDuringRebuild(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 40, 4)
	if err := newRunner(b, &counter{name: "c_live", version: 1}).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := &gated{counter: counter{name: "c_live", version: 2}, gate: make(chan struct{}), entered: make(chan struct{})}
	r := newRunner(b, g)
	done := make(chan error, 1)
	go func() { done <- r.Rebuild(context.Background(), g) }()
	select {
	case <-g.entered:
	case err := <-done:
		t.Fatalf("rebuild ended early: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("rebuild never started applying")
	}
	// The rebuild is mid-way in its shadow schema; the live table answers.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var n int
	if err := b.db.Pool.QueryRow(ctx, `SELECT sum(n) FROM c_live`).Scan(&n); err != nil || n != 40 {
		t.Fatalf("live table during rebuild: %d, %v", n, err)
	}
	close(g.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, _ := total(t, b, "c_live"); n != 40 {
		t.Fatalf("after swap: %d", n)
	}
}

func TestSecondRunnerStandsByAndTakesOver(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 10, 2)
	a := newRunner(b, &counter{name: "c_lock", version: 1})
	a.ID = "runner-a"
	bb := newRunner(b, &counter{name: "c_lock", version: 1})
	bb.ID = "runner-b"
	ctxA, stopA := context.WithCancel(context.Background())
	errA := make(chan error, 1)
	go func() { errA <- a.Run(ctxA) }()
	waitFor(t, "runner a to apply", func() bool { return count(b, "c_lock") == 10 })

	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	errB := make(chan error, 1)
	go func() { errB <- bb.Run(ctxB) }()
	appendPayments(t, b.store, 10, 10, 2)
	waitFor(t, "the new events", func() bool { return count(b, "c_lock") == 20 })
	if got := appliedBy(t, b); got != "runner-a" {
		t.Fatalf("events applied by %q while runner-a holds the lock", got)
	}
	stopA()
	if err := <-errA; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("runner a: %v", err)
	}
	appendPayments(t, b.store, 20, 10, 2)
	start := time.Now()
	waitFor(t, "runner b to take over", func() bool { return count(b, "c_lock") == 30 })
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("take-over took %s", took)
	}
	if got := appliedBy(t, b); got != "runner-b" {
		t.Fatalf("after take-over events applied by %q", got)
	}
	stopB()
	<-errB
}

// count is the events counted in table, or -1 while it does not exist.
func count(b bundle, table string) int {
	var n int
	if err := b.db.Pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT COALESCE(sum(n), 0) FROM %s`, table)).Scan(&n); err != nil {
		return -1
	}
	return n
}

func appliedBy(t *testing.T, b bundle) string {
	var by string
	if err := b.db.Pool.QueryRow(context.Background(), `SELECT applied_by FROM projection_checkpoints WHERE name = 'c_lock'`).Scan(&by); err != nil {
		t.Fatal(err)
	}
	return by
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStatsExportPrometheus(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 5, 1)
	r := newRunner(b, &counter{name: "c_metrics", version: 1})
	r.Stats = projections.NewStats()
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	r.Stats.WritePrometheus(&sb)
	for _, want := range []string{`ledger_projection_events_applied_total{projection="c_metrics"} 5`, `ledger_projection_parked{projection="c_metrics"} 0`, "ledger_projection_caught_up 1"} {
		if !strings.Contains(sb.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, sb.String())
		}
	}
}
