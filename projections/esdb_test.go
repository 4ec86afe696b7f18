package projections_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	esdbstore "github.com/lushan-dpf/ledger/adapters/esdb"
	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
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

	srv := esdbtest.Start(t)
	es, err := esdbstore.Open(srv.ConnectionString(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer es.Close()
	ledgerLog(t, es, 12, 6, 9)
	db := pgtest.NewSchema(t)
	r := &projections.Runner{Pool: db.Pool, Store: es, Projections: projections.All(), Log: quiet, BatchSize: 50, MaxWait: 10 * time.Millisecond}
	if err := r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"spending", "spending_persons", "budgets", "entitlement_paid", "program_paid_through"} {
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

}
