package projections_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// payment is a sealed PaymentIssued of 10.00, as appendPayments appends.
func payment(t *testing.T, i int) []domain.EventData {
	t.Helper()
	ev := domain.PaymentIssued{PaymentLine: domain.PaymentLine{
		Reference: fmt.Sprintf("held-%d", i), BatchID: "b", PersonID: "0123456789abcdef0123",
		Program: domain.ProgramLivingSubsidy, Period: domain.MustDate("2025-01-01").Period(),
		Kind: domain.PaymentRegular, Amount: domain.MustMoney("10.00"), Township: "星子镇", PaidOn: domain.MustDate("2025-01-20"),
	}}
	data, err := domain.Seal(domain.CommandMeta{CommandID: fmt.Sprintf("held-%d", i), Actor: "fin", Role: "finance", Now: time.Now()}, "", []domain.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// runInBackground runs the runner until the test ends.
func runInBackground(t *testing.T, r *projections.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("runner: %v", err)
		}
	})
}

// openTx opens a transaction on its own connection to url, runs stmts in
// it and leaves it open until the test ends.
func openTx(t *testing.T, url string, stmts ...string) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	for _, q := range append([]string{"BEGIN"}, stmts...) {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return conn
}

func stillOpen(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	var xid *string
	if err := conn.QueryRow(testCtx(t), `SELECT pg_current_xact_id_if_assigned()::text`).Scan(&xid); err != nil || xid == nil {
		t.Fatalf("the other transaction is no longer open with an ID (%v): the test proves nothing", err)
	}
}

// checkProjectedPast appends payments while other (a transaction that
// never appends, with an older transaction ID) stays open, and checks that
// the runner applies them and WaitCaughtUp says so.
func checkProjectedPast(t *testing.T, b bundle, other *pgx.Conn) {
	t.Helper()
	ctx := testCtx(t)
	c := &counter{name: "c_past", version: 1}
	runInBackground(t, newRunner(b, c))
	appendPayments(t, b.store, 0, 3, 2)
	if err := projections.WaitCaughtUp(ctx, b.db.Pool, b.store, []projections.Projection{c}, 30*time.Second); err != nil {
		t.Fatalf("wait: %v", err)
	}
	if n, _ := total(t, b, "c_past"); n != 3 {
		t.Fatalf("the read model holds %d events, want the 3 appended", n)
	}
	st, err := projections.Statuses(ctx, b.db.Pool, b.store, []projections.Projection{c}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if st[0].LagEvents != 0 || st[0].HeldBackEvents != 0 || st[0].Checkpoint != st[0].Head {
		t.Fatalf("status = %+v, want no lag", st[0])
	}
	stillOpen(t, other)
}

// (a) A transaction open in another database on the same server holds
// neither the projections nor WaitCaughtUp back.
func TestProjectionsDoNotWaitForTransactionsInOtherDatabases(t *testing.T) {
	b := setup(t)
	other := openTx(t, pgtest.OtherDatabase(t), `SELECT pg_current_xact_id()`)
	checkProjectedPast(t, b, other)
}

// (b) Nor does a session of our database idle in a transaction that wrote
// a row that is not an event.
func TestProjectionsDoNotWaitForSessionsIdleInTransaction(t *testing.T) {
	b := setup(t)
	if _, err := b.db.Pool.Exec(testCtx(t), `CREATE TABLE scratch (n int)`); err != nil {
		t.Fatal(err)
	}
	other := openTx(t, b.db.URL, `INSERT INTO scratch VALUES (1)`)
	checkProjectedPast(t, b, other)
}

// (c) An append in flight holds back the events committed after it: they
// count in Head, Statuses reports them as lag held back by that session,
// and WaitCaughtUp gives up with a *LagError saying so. Its commit
// releases everything.
func TestAppendInFlightIsLagUntilItCommits(t *testing.T) {
	b := setup(t)
	ctx := testCtx(t)
	c := &counter{name: "c_held", version: 1}
	projs := []projections.Projection{c}
	runInBackground(t, newRunner(b, c))
	appendPayments(t, b.store, 0, 1, 1)
	if err := projections.WaitCaughtUp(ctx, b.db.Pool, b.store, projs, 30*time.Second); err != nil {
		t.Fatalf("wait before the held append: %v", err)
	}

	tx, err := b.store.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	var pid int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := b.store.AppendInTx(ctx, tx, "payroll-held", domain.NoStream(), payment(t, 0)...); err != nil {
		t.Fatal(err)
	}
	var last domain.AppendResult
	for i := 1; i <= 2; i++ {
		if last, err = b.store.Append(ctx, fmt.Sprintf("payroll-after.%d", i), domain.NoStream(), payment(t, i)...); err != nil {
			t.Fatal(err)
		}
	}

	if h, err := b.store.Head(ctx); err != nil || h != last.Position {
		t.Fatalf("Head = %s, %v; want the last committed event's %s", h, err, last.Position)
	}
	st, err := projections.Statuses(ctx, b.db.Pool, b.store, projs, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if s := st[0]; s.LagEvents != 2 || s.HeldBackEvents != 2 || s.HeldBy == nil || s.HeldBy.PID != pid || s.Head != last.Position {
		t.Fatalf("status = %+v (held by %+v), want 2 events of lag, both held back by pid %d", s, s.HeldBy, pid)
	}
	err = projections.WaitCaughtUp(ctx, b.db.Pool, b.store, projs, 300*time.Millisecond)
	var lag *projections.LagError
	if !errors.Is(err, domain.ErrUnavailable) || !errors.As(err, &lag) {
		t.Fatalf("wait with an append in flight: err = %v, want a *LagError matching ErrUnavailable", err)
	}
	if lag.Projection != "c_held" || lag.Events != 2 || lag.HeldBack != 2 || lag.HeldBy == nil || lag.HeldBy.PID != pid || lag.Stalled {
		t.Fatalf("lag error = %+v, want c_held 2 events behind, held back by pid %d", lag, pid)
	}

	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := projections.WaitCaughtUp(ctx, b.db.Pool, b.store, projs, 30*time.Second); err != nil {
		t.Fatalf("wait after the commit: %v", err)
	}
	if n, sum := total(t, b, "c_held"); n != 4 || sum != "40.00" {
		t.Fatalf("the read model holds %d events (%s), want 4 (40.00)", n, sum)
	}
	st, err = projections.Statuses(ctx, b.db.Pool, b.store, projs, time.Now())
	if err != nil || st[0].LagEvents != 0 || st[0].HeldBackEvents != 0 {
		t.Fatalf("status after the commit = %+v, %v; want no lag", st, err)
	}
}

// With no runner, WaitCaughtUp times out with the lag and says the read
// models do not move.
func TestWaitCaughtUpReportsAStalledRunner(t *testing.T) {
	b := setup(t)
	ctx := testCtx(t)
	c := &counter{name: "c_stalled", version: 1}
	projs := []projections.Projection{c}
	appendPayments(t, b.store, 0, 2, 1)
	if err := newRunner(b, c).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if err := projections.WaitCaughtUp(ctx, b.db.Pool, b.store, projs, 0); err != nil {
		t.Fatalf("after RunOnce: %v", err)
	}
	appendPayments(t, b.store, 2, 3, 1)
	err := projections.WaitCaughtUp(ctx, b.db.Pool, b.store, projs, 200*time.Millisecond)
	var lag *projections.LagError
	if !errors.Is(err, domain.ErrUnavailable) || !errors.As(err, &lag) {
		t.Fatalf("err = %v, want a *LagError", err)
	}
	if lag.Events != 3 || lag.HeldBack != 0 || !lag.Stalled || lag.Behind <= 0 {
		t.Fatalf("lag error = %+v, want 3 events behind, nothing held back, stalled", lag)
	}
}

// A parked projection ends the wait at once, naming it.
func TestWaitCaughtUpStopsAtAParkedProjection(t *testing.T) {
	b := setup(t)
	ctx := testCtx(t) // far shorter than the wait's timeout: only a parked error ends it in time
	appendPayments(t, b.store, 0, 5, 1)
	evs := readLog(t, b, 5)
	bad := &counter{name: "c_parked", version: 1}
	id := evs[3].ID.String()
	bad.failOn.Store(&id)
	good := &counter{name: "c_fine", version: 1}
	runInBackground(t, newRunner(b, bad, good))
	err := projections.WaitCaughtUp(ctx, b.db.Pool, b.store, []projections.Projection{good, bad}, time.Hour)
	var parked *projections.ParkedError
	if !errors.Is(err, domain.ErrUnavailable) || !errors.As(err, &parked) {
		t.Fatalf("err = %v, want a *ParkedError matching ErrUnavailable", err)
	}
	if parked.Projection != "c_parked" || parked.Event == nil || parked.Event.Position != evs[3].Position {
		t.Fatalf("parked error = %+v, want c_parked at %s", parked, evs[3].Position)
	}
}
