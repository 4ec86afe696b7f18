package projections_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// The runner consumes the port, so the same ledger projected from
// EventStoreDB (the real client against the protocol test server) and from
// the PostgreSQL store gives the same money in every table that does not
// record store positions.
func TestRunnerOnEventStoreDBMatchesPostgres(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)

	pg := setup(t)
	ledgerLog(t, pg.store, 12, 6, 9)
	if err := (&projections.Runner{Pool: pg.db.Pool, Store: pg.store, Projections: projections.All(), Log: quiet}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}

	db := pgtest.NewSchema(t)
	es := esdbtest.NewLedger(t).Open(t, quiet, esdbtest.Keys(db.Pool))
	ledgerLog(t, es, 12, 6, 9)
	r := &projections.Runner{Pool: db.Pool, Store: es, Projections: projections.All(), Log: quiet, BatchSize: 50, MaxWait: 10 * time.Millisecond}
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"spending", "spending_persons", "spending_groups", "budgets", "entitlement_paid", "program_paid_through", "batch_lines", "batch_line_totals"} {
		a, b := prtest.Dump(t, pg.db.Pool, table), prtest.Dump(t, db.Pool, table)
		if len(a) == 0 || !slices.Equal(a, b) {
			t.Errorf("%s: %d rows from PostgreSQL, %d from EventStoreDB, or they differ", table, len(a), len(b))
		}
	}
	var n1, n2 int
	_ = pg.db.Pool.QueryRow(ctx, `SELECT count(*) FROM event_index`).Scan(&n1)
	_ = db.Pool.QueryRow(ctx, `SELECT count(*) FROM event_index`).Scan(&n2)
	if n1 == 0 || n1 != n2 {
		t.Errorf("event index: %d rows from PostgreSQL, %d from EventStoreDB", n1, n2)
	}

	// Lag and WaitCaughtUp against EventStoreDB's Head: caught up after the
	// run; one event behind after an append the runner (stopped) never sees.
	if err := projections.WaitCaughtUp(ctx, db.Pool, es, projections.All(), 0); err != nil {
		t.Fatalf("wait after the run: %v", err)
	}
	appendPayments(t, es, 9000, 1, 1)
	st, err := projections.Statuses(ctx, db.Pool, es, projections.All(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range st {
		if s.LagEvents != 1 || s.HeldBackEvents != 0 || !s.Checkpoint.Less(s.Head) {
			t.Errorf("%s after one more event: %+v, want 1 event of lag", s.Name, s)
		}
	}
	err = projections.WaitCaughtUp(ctx, db.Pool, es, projections.All(), 100*time.Millisecond)
	var lag *projections.LagError
	if !errors.As(err, &lag) || !errors.Is(err, domain.ErrUnavailable) || lag.Events != 1 || !lag.Stalled {
		t.Fatalf("wait with one event unapplied: %v (%+v), want a *LagError of 1 event", err, lag)
	}
}
