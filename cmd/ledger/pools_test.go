package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// With every connection of the request pool held, serve's projection
// runner still applies new events: it has a pool of its own, its lock and
// its event store's LISTEN have dedicated connections, and the wake-up
// arrives through LISTEN (the store's polling is set to an hour here).
func TestServeRunnerWorksWithTheRequestPoolExhausted(t *testing.T) {
	db := pgtest.NewEmptySchema(t)
	ctx := context.Background()
	// Sessions named for this test alone: other runs may share the
	// database server, with runners of their own.
	app := fmt.Sprintf("pooltest-%d", time.Now().UnixNano())
	e := &env{getenv: getenvFrom(map[string]string{"DATABASE_URL": db.URL + "&application_name=" + app, "LEDGER_DB_MAX_CONNS": "2"}),
		stdout: io.Discard, stderr: &syncBuffer{}}
	var cfg config
	fs := newFlagSet("serve", e)
	cfg.bind(fs, e, true)
	if err := parse(fs, nil); err != nil {
		t.Fatal(err)
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := d.pool.Config().MaxConns; got != 2 {
		t.Fatalf("request pool of %d connections, want LEDGER_DB_MAX_CONNS=2", got)
	}
	d.projPoll = time.Hour
	if err := d.openProjectionPool(ctx); err != nil {
		t.Fatal(err)
	}
	var held []*pgxpool.Conn
	for range d.pool.Config().MaxConns {
		c, err := d.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- d.runner().Run(runCtx) }()
	waitUntil(t, done, "the runner to catch up with the empty log", func() bool { return d.stats.CaughtUp() })

	// A payment appended by another process (here: another store on
	// another pool), which announces it by NOTIFY.
	writer := pgstore.New(db.Pool)
	defer writer.Close()
	ev := domain.PaymentIssued{PaymentLine: domain.PaymentLine{
		Reference: "ref-1", BatchID: "b", PersonID: "0123456789abcdef0123",
		Program: domain.ProgramLivingSubsidy, Period: domain.MustDate("2025-01-01").Period(),
		Kind: domain.PaymentRegular, Amount: domain.MustMoney("10.00"), Township: "星子镇", PaidOn: domain.MustDate("2025-01-20"),
	}}
	data, err := domain.Seal(domain.CommandMeta{CommandID: "pool-test-1", Actor: "fin", Role: "finance", Now: time.Now()}, "", []domain.Event{ev})
	if err != nil {
		t.Fatal(err)
	}
	res, err := writer.Append(ctx, "payroll-pooltest.1", domain.NoStream(), data...)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, done, "every projection to apply the payment", func() bool {
		// Another NOTIFY on each look: should another transaction in the
		// cluster hold the log's read horizon back, the wake-up that
		// counts is the one after it has moved.
		if _, err := db.Pool.Exec(ctx, `SELECT pg_notify('ledger_events', '')`); err != nil {
			t.Fatal(err)
		}
		var n int
		err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM projection_checkpoints
			WHERE (position_commit, position_prepare) >= ($1::bigint, $2::bigint)`, int64(res.Position.Commit), int64(res.Position.Prepare)).Scan(&n)
		return err == nil && n == len(projections.All())
	})
	var sessions []string
	rows, err := db.Pool.Query(ctx, `SELECT application_name FROM pg_stat_activity
		WHERE starts_with(application_name, $1) AND query <> '' ORDER BY 1`, app+"/projections/")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(sessions) != fmt.Sprintf("[%[1]s/projections/listen %[1]s/projections/runner-lock]", app) {
		t.Errorf("dedicated sessions %v, want the runner's lock and the listener", sessions)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("runner: %v", err)
	}
}

// waitUntil polls cond until it holds, failing if the runner stops first
// or 30 seconds pass.
func waitUntil(t *testing.T, done <-chan error, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		select {
		case err := <-done:
			t.Fatalf("the runner stopped while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
