package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
)

func testEvent(n int) domain.EventData {
	return domain.EventData{ID: uuid.New(), Type: "t.Happened.v1", Data: fmt.Appendf(nil, `{"n":%d}`, n), Metadata: []byte(`{}`)}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// openTx opens a transaction on its own connection to url, runs stmts in
// it (the first write gives it a transaction ID) and leaves it open until
// the test ends. It returns the connection, to check the transaction is
// still open.
func openTx(t *testing.T, url string, stmts ...string) *pgx.Conn {
	t.Helper()
	ctx := testCtx(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return conn
}

// stillOpen fails unless conn's transaction is still open with an ID.
func stillOpen(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	var xid *string
	if err := conn.QueryRow(testCtx(t), `SELECT pg_current_xact_id_if_assigned()::text`).Scan(&xid); err != nil || xid == nil {
		t.Fatalf("the other transaction is no longer open with an ID (%v): the test proves nothing", err)
	}
}

// waitRead reads $all from the start until it holds an event with id, or
// fails after 20 s.
func waitRead(t *testing.T, s *pgstore.Store, id uuid.UUID) []domain.RecordedEvent {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		evs, err := s.ReadAll(testCtx(t), domain.Start, 1000, domain.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(evs, func(e domain.RecordedEvent) bool { return e.ID == id }) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("$all does not deliver event %s after 20 s (it holds %d events)", id, len(evs))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recvUntil receives from sub until it delivers the event with id, or
// fails after 20 s.
func recvUntil(t *testing.T, sub domain.Subscription, id uuid.UUID) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		m, err := sub.Recv(ctx)
		if err != nil {
			t.Fatalf("the subscription did not deliver event %s: %v", id, err)
		}
		if m.Event != nil && m.Event.ID == id {
			return
		}
	}
}

// checkNotHeld appends an event while another transaction, which never
// appends, is open with an older transaction ID, and checks that readers
// get the event at once: ReadAll, a subscription, Head and Backlog.
func checkNotHeld(t *testing.T, s *pgstore.Store, other *pgx.Conn) {
	t.Helper()
	ctx := testCtx(t)
	sub, err := s.SubscribeAll(ctx, domain.Start, domain.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ev := testEvent(1)
	res, err := s.Append(ctx, "t-1", domain.NoStream(), ev)
	if err != nil {
		t.Fatal(err)
	}
	evs := waitRead(t, s, ev.ID)
	if len(evs) != 1 || evs[0].Position != res.Position {
		t.Fatalf("$all = %d events, want the one appended at %s", len(evs), res.Position)
	}
	recvUntil(t, sub, ev.ID)
	if h, err := s.Head(ctx); err != nil || h != res.Position {
		t.Fatalf("Head = %s, %v; want %s", h, err, res.Position)
	}
	b, err := s.Backlog(ctx, domain.Start, 100)
	if err != nil {
		t.Fatal(err)
	}
	if b.Events != 1 || b.HeldBack != 0 || b.HeldBy != nil {
		t.Fatalf("backlog from the start = %+v, want 1 event and none held back", b)
	}
	stillOpen(t, other)
}

// A transaction open in another database on the same server, with a
// transaction ID older than the append's, does not hold readers back.
func TestReadersDoNotWaitForTransactionsInOtherDatabases(t *testing.T) {
	s, _ := newStore(t)
	other := openTx(t, pgtest.OtherDatabase(t), `SELECT pg_current_xact_id()`)
	checkNotHeld(t, s, other)
}

// A session of our own database idle in a transaction that wrote a row
// (not an event) does not hold readers back.
func TestReadersDoNotWaitForSessionsIdleInTransaction(t *testing.T) {
	s, db := newStore(t)
	ctx := testCtx(t)
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE scratch (n int)`); err != nil {
		t.Fatal(err)
	}
	other := openTx(t, db.URL, `INSERT INTO scratch VALUES (1)`)
	checkNotHeld(t, s, other)
}

// holdAppend appends ev in a transaction it leaves open, and returns the
// transaction and its session's backend PID.
func holdAppend(t *testing.T, s *pgstore.Store, stream string, ev domain.EventData) (pgx.Tx, int) {
	t.Helper()
	ctx := testCtx(t)
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	var pid int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendInTx(ctx, tx, stream, domain.NoStream(), ev); err != nil {
		t.Fatal(err)
	}
	return tx, pid
}

// Every append takes the append lock before its transaction has an ID:
// held exclusively here, each kind of append waits for it, and while it
// waits its session has no transaction ID. One that took the lock after
// its first write would wait with an ID; one that took none would not wait.
func TestAppendsTakeTheLockBeforeTheirTransactionID(t *testing.T) {
	s, db := newStore(t)
	ctx := testCtx(t)
	cases := []struct {
		name   string
		append func() error
	}{
		{"Append", func() error {
			_, err := s.Append(ctx, "t-single", domain.NoStream(), testEvent(1))
			return err
		}},
		{"AppendMany", func() error {
			_, err := s.AppendMany(ctx, []domain.StreamAppend{{Stream: "t-bulk", Expected: domain.NoStream(), Events: []domain.EventData{testEvent(2)}}})
			return err
		}},
		{"AppendInTx", func() error {
			return pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
				_, err := s.AppendInTx(ctx, tx, "t-intx", domain.NoStream(), testEvent(3))
				return err
			})
		}},
	}
	for _, c := range cases {
		conn, err := db.Pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var key int64
		if err := conn.QueryRow(ctx, `SELECT hashtextextended('ledger:append:' || current_schema(), 0)`).Scan(&key); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- c.append() }()
		var pid int
		var xid *string
		deadline := time.Now().Add(20 * time.Second)
		for {
			err := db.Pool.QueryRow(ctx, `
				SELECT l.pid, a.backend_xid::text FROM pg_locks l, pg_stat_get_activity(l.pid) a
				WHERE l.locktype = 'advisory' AND NOT l.granted AND l.objsubid = 1
				  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
				  AND l.classid = (($1::bigint >> 32) & 4294967295)::oid AND l.objid = ($1::bigint & 4294967295)::oid`, key).Scan(&pid, &xid)
			if err == nil {
				break
			}
			if !errors.Is(err, pgx.ErrNoRows) {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				t.Fatalf("%s finished (%v) while the append lock was held exclusively: it does not take the lock", c.name, err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never waited for the append lock", c.name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if xid != nil {
			t.Errorf("%s waits for the append lock with transaction ID %s: it took the lock after its first write", c.name, *xid)
		}
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			t.Fatal(err)
		}
		conn.Release()
		if err := <-done; err != nil {
			t.Fatalf("%s after the lock was released: %v", c.name, err)
		}
	}
}

// An append in flight holds back the events committed after it; Backlog
// counts them and names the session appending.
func TestBacklogNamesTheAppendInFlight(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	first, err := s.Append(ctx, "t-first", domain.NoStream(), testEvent(0))
	if err != nil {
		t.Fatal(err)
	}
	tx, pid := holdAppend(t, s, "t-slow", testEvent(1))
	later := testEvent(2)
	res, err := s.Append(ctx, "t-fast", domain.NoStream(), later, testEvent(3))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Backlog(ctx, first.Position, 100)
	if err != nil {
		t.Fatal(err)
	}
	if b.Events != 2 || b.HeldBack != 2 || b.Capped {
		t.Fatalf("backlog = %+v, want 2 events, both held back", b)
	}
	if b.HeldBy == nil || b.HeldBy.PID != pid || b.HeldBy.Since.IsZero() {
		t.Fatalf("held by %+v, want the session %d with its transaction's start", b.HeldBy, pid)
	}
	if b.Oldest.IsZero() {
		t.Errorf("the backlog's oldest event has no time")
	}
	if capped, err := s.Backlog(ctx, domain.Start, 2); err != nil || capped.Events != 2 || !capped.Capped {
		t.Errorf("backlog of 3 events capped at 2 = %+v, %v", capped, err)
	}
	if h, err := s.Head(ctx); err != nil || h != res.Position {
		t.Fatalf("Head = %s, %v; want the held-back event's %s", h, err, res.Position)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	waitRead(t, s, later.ID)
	b, err = s.Backlog(ctx, first.Position, 100)
	if err != nil {
		t.Fatal(err)
	}
	if b.Events != 3 || b.HeldBack != 0 || b.HeldBy != nil {
		t.Fatalf("backlog after the commit = %+v, want 3 events, none held back", b)
	}
}

// AppendInTx must take the append lock before the transaction has an ID:
// it refuses a transaction that wrote first, and accepts writes after it.
func TestAppendInTxComesBeforeTheTransactionsWrites(t *testing.T) {
	s, db := newStore(t)
	ctx := testCtx(t)
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE scratch (n int)`); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO scratch VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendInTx(ctx, tx, "t-late", domain.NoStream(), testEvent(1)); !errors.Is(err, pgstore.ErrWroteBeforeAppend) {
		t.Fatalf("append after a write: err = %v, want ErrWroteBeforeAppend", err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	tx, err = s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := s.AppendInTx(ctx, tx, "t-1", domain.NoStream(), testEvent(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO scratch VALUES (2)`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendInTx(ctx, tx, "t-1", domain.Exact(0), testEvent(2)); err != nil {
		t.Fatalf("a second append in the same transaction: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE stream IN ('t-1', 't-late')`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("events written: %d (%v), want the 2 of t-1", n, err)
	}
}

// The store's own appends give up at their bound instead of holding the
// read horizon while they wait: here for the row of a stream that an open
// transaction appended to. The error matches domain.ErrUnavailable.
func TestAppendsGiveUpAtTheirBound(t *testing.T) {
	s, db := newStore(t)
	// The appends that wait, on a store with a short bound; the rest on
	// the default one, so that a slow moment of a busy machine cannot fail
	// them.
	short := pgstore.New(db.Pool, pgstore.WithAppendTimeout(300*time.Millisecond))
	t.Cleanup(short.Close)
	ctx := testCtx(t) // far longer than the bound: only the bound ends the waits in time
	if _, err := s.Append(ctx, "t-busy", domain.NoStream(), testEvent(0)); err != nil {
		t.Fatal(err)
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := s.AppendInTx(ctx, tx, "t-busy", domain.Exact(0), testEvent(1)); err != nil {
		t.Fatal(err)
	}

	_, err = short.Append(ctx, "t-busy", domain.AnyRevision(), testEvent(2))
	var pgErr *pgconn.PgError
	// statement_timeout (57014) or lock_timeout (55P03): both are the bound
	// for an append this small.
	if !errors.As(err, &pgErr) || (pgErr.Code != "57014" && pgErr.Code != "55P03") || !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("append waiting for the stream's row: err = %v, want the server's timeout, matching ErrUnavailable", err)
	}
	_, err = short.AppendMany(ctx, []domain.StreamAppend{{Stream: "t-busy", Expected: domain.AnyRevision(), Events: []domain.EventData{testEvent(3)}}})
	if !errors.Is(err, domain.ErrUnavailable) || ctx.Err() != nil {
		t.Fatalf("bulk append waiting for the stream's row: err = %v, want the bound's, matching ErrUnavailable", err)
	}
	// The bound ended a transaction that had a transaction ID: the stream
	// row and what the others wrote are as they were.
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ReadStream(ctx, "t-busy", domain.Forwards, 0, 0)
	if err != nil || len(evs) != 1 {
		t.Fatalf("t-busy holds %d events (%v), want the first only", len(evs), err)
	}
}

// Many writers — single appends, bulk appends, and appends in
// transactions held open a little while others commit — and readers
// following $all at the same time: every reader sees exactly the final
// log, in its order. A reader that ran ahead of an append in flight would
// have skipped its events for good.
func TestGapSafetyUnderConcurrentAppends(t *testing.T) {
	s, _ := newStore(t)
	ctx := testCtx(t)
	const singles, perSingle, bulks, perBulk, holders, perHolder = 4, 40, 1, 10, 2, 15
	total := singles*perSingle + bulks*perBulk*3 + holders*perHolder

	type reader struct {
		mu  sync.Mutex
		got []domain.RecordedEvent
		err error
	}
	// Readers stop once they have the log's last event, known when the
	// writers are done; one that skipped an event stops with fewer.
	var endMu sync.Mutex
	var end *domain.Position
	done := func(got []domain.RecordedEvent) bool {
		endMu.Lock()
		defer endMu.Unlock()
		return len(got) >= total || (end != nil && len(got) > 0 && got[len(got)-1].Position == *end)
	}
	readers := make([]*reader, 3)
	var rwg sync.WaitGroup
	for i := range readers {
		r := &reader{}
		readers[i] = r
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			deadline := time.Now().Add(45 * time.Second)
			if i == 0 { // polls ReadAll
				pos := domain.Start
				for time.Now().Before(deadline) {
					evs, err := s.ReadAll(ctx, pos, 7, domain.Filter{})
					if err != nil {
						r.mu.Lock()
						r.err = err
						r.mu.Unlock()
						return
					}
					r.mu.Lock()
					r.got = append(r.got, evs...)
					stop := done(r.got)
					r.mu.Unlock()
					if len(evs) > 0 {
						pos = evs[len(evs)-1].Position
					}
					if stop {
						return
					}
				}
				return
			}
			sub, err := s.SubscribeAll(ctx, domain.Start, domain.Filter{})
			if err != nil {
				r.err = err
				return
			}
			defer sub.Close()
			rctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			for {
				m, err := sub.Recv(rctx)
				if err != nil {
					r.mu.Lock()
					r.err = err
					r.mu.Unlock()
					return
				}
				if m.Event == nil {
					continue
				}
				r.mu.Lock()
				r.got = append(r.got, *m.Event)
				stop := done(r.got)
				r.mu.Unlock()
				if stop {
					return
				}
			}
		}()
	}

	var wg sync.WaitGroup
	fail := func(err error) { t.Error(err) }
	for w := range singles {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perSingle {
				if _, err := s.Append(ctx, fmt.Sprintf("t-single%d-%d", w, i), domain.NoStream(), testEvent(i)); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	for w := range bulks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perBulk {
				var appends []domain.StreamAppend
				for k := range 3 {
					appends = append(appends, domain.StreamAppend{Stream: fmt.Sprintf("t-bulk%d-%d-%d", w, i, k), Expected: domain.NoStream(), Events: []domain.EventData{testEvent(k)}})
				}
				if _, err := s.AppendMany(ctx, appends); err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	for w := range holders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perHolder {
				err := pgx.BeginFunc(ctx, s.Pool(), func(tx pgx.Tx) error {
					if _, err := s.AppendInTx(ctx, tx, fmt.Sprintf("t-held%d-%d", w, i), domain.NoStream(), testEvent(i)); err != nil {
						return err
					}
					// Stay in flight while the other writers commit.
					_, err := tx.Exec(ctx, `SELECT pg_sleep(0.005)`)
					return err
				})
				if err != nil {
					fail(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	last, err := s.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	endMu.Lock()
	end = &last
	endMu.Unlock()
	rwg.Wait()
	final, err := s.ReadAll(ctx, domain.Start, 10*total, domain.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(final) != total {
		t.Fatalf("$all holds %d events, want %d", len(final), total)
	}
	for i, r := range readers {
		if len(r.got) != total {
			t.Fatalf("reader %d got %d events (%v), want %d", i, len(r.got), r.err, total)
		}
		for k := range final {
			if r.got[k].ID != final[k].ID {
				t.Fatalf("reader %d: event %d is at %s, $all has %s there: a reader ran ahead of an append in flight",
					i, k, r.got[k].Position, final[k].Position)
			}
		}
	}
}
