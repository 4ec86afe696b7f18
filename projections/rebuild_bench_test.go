package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/benchenv"
	"github.com/lushan-dpf/ledger/projections"
)

// BenchmarkRebuild measures a blue/green rebuild of the spending and the
// payments projections from N payment events in the embedded PostgreSQL
// store (N from LEDGER_BENCH_EVENTS, default 2,000), beside its physical
// floor measured in the same run: PostgreSQL's COPY of N rows of the
// payments register's shape into a table with the same indexes. Each
// sub-benchmark reports the median events (or rows) per second of
// LEDGER_BENCH_RUNS interleaved rounds (default 1); `make bench` runs it
// with a million events and three rounds.
func BenchmarkRebuild(b *testing.B) {
	n := 2000
	if v := os.Getenv("LEDGER_BENCH_EVENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("LEDGER_BENCH_EVENTS=%q is not a positive number", v)
		}
	}
	db := pgtest.NewSchema(b)
	store := pgstore.New(db.Pool)
	defer store.Close()
	seedPayments(b, store, n)

	runs := 1
	if v := os.Getenv("LEDGER_BENCH_RUNS"); v != "" {
		if runs, _ = strconv.Atoi(v); runs < 1 {
			b.Fatalf("LEDGER_BENCH_RUNS=%q is not a positive number", v)
		}
	}
	// Interleaved rounds, so drift on a noisy machine hits floor and
	// projections alike; each reports the median of its rounds.
	quiet := slog.New(slog.DiscardHandler)
	r := &projections.Runner{Pool: db.Pool, Store: store, Log: quiet, RebuildBatch: 10_000}
	names := []string{"copy_floor", "spending", "payments"}
	rates := map[string][]float64{}
	// A million rows write about a gigabyte of WAL: whichever runs next
	// would pay for the checkpoint it causes. So each measurement starts
	// from a checkpoint (where the role may request one), as
	// BenchmarkBulkAppend's do.
	checkpoint := func() {
		conn, err := pgx.Connect(context.Background(), pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = conn.Exec(context.Background(), `CHECKPOINT`) // refused without the privilege: then measure as is
		_ = conn.Close(context.Background())
	}
	for range runs {
		checkpoint()
		rates["copy_floor"] = append(rates["copy_floor"], copyFloor(b, db, n))
		for _, p := range []projections.Projection{projections.SpendingProjection{}, projections.PaymentsProjection{}} {
			checkpoint()
			stopProfile := benchenv.CPUProfile(b, fmt.Sprintf("rebuild-%s-%d", p.Name(), len(rates[p.Name()])))
			start := time.Now()
			if err := r.Rebuild(context.Background(), p); err != nil {
				b.Fatal(err)
			}
			rates[p.Name()] = append(rates[p.Name()], float64(n)/time.Since(start).Seconds())
			stopProfile()
		}
	}
	for _, name := range names {
		unit := "events/s"
		if name == "copy_floor" {
			unit = "rows/s"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
			}
			b.ReportMetric(median(rates[name]), unit)
		})
	}
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchLines returns the lines of n payments: 12 months of living
// subsidy over n/12 persons and 4 townships.
func benchLines(n int) []domain.PaymentLine {
	towns := []string{"蛟塘镇", "星子镇", "白鹿镇", "温泉镇"}
	persons := max(n/12, 1)
	lines := make([]domain.PaymentLine, n)
	for i := range lines {
		period, _ := domain.NewPeriod(2024, time.Month(1+(i/persons)%12))
		lines[i] = domain.PaymentLine{
			Reference: fmt.Sprintf("LS-%s-%07d", period, i), BatchID: "LS-" + period.String(),
			PersonID: domain.PersonID(fmt.Sprintf("%020x", i%persons)), Program: domain.ProgramLivingSubsidy,
			Period: period, Kind: domain.PaymentRegular, Amount: domain.MustMoney("100.00"),
			Township: towns[i%len(towns)], PaidOn: period.First().AddDays(19),
		}
	}
	return lines
}

// seedPayments appends the PaymentIssued events of benchLines(n) through
// the store's append path, 1,000 events per append. It keeps no line: a
// million lines held through the rounds would cost the rebuilds' garbage
// collector a scan of them at every cycle, which no real rebuild pays.
func seedPayments(b testing.TB, store *pgstore.Store, n int) {
	b.Helper()
	ctx := context.Background()
	lines := benchLines(n)
	const chunk = 1000
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 { // four writers, like a payroll run's workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := w * chunk; start < n; start += 4 * chunk {
				evs := make([]domain.Event, 0, chunk)
				for _, l := range lines[start:min(start+chunk, n)] {
					evs = append(evs, domain.PaymentIssued{PaymentLine: l})
				}
				data, err := domain.Seal(domain.CommandMeta{CommandID: fmt.Sprintf("seed-%d", start), Actor: "bench", Role: "finance", Now: now}, "", evs)
				if err == nil {
					_, err = store.Append(ctx, fmt.Sprintf("payroll-bench.%d", start/chunk), domain.NoStream(), data...)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// copyFloor COPYs the rows of benchLines(n) into a fresh payments-register
// table (the projection's own DDL: same columns, keys and indexes) and
// returns rows/s. The rows are made before the clock starts and let go
// after it stops.
func copyFloor(b *testing.B, db *pgtest.Schema, n int) float64 {
	b.Helper()
	ctx := context.Background()
	lines := benchLines(n)
	schema := "floor_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	exec := func(sql string) {
		if _, err := conn.Exec(ctx, sql); err != nil {
			b.Fatalf("%s: %v", sql, err)
		}
	}
	exec(`CREATE SCHEMA ` + schema)
	defer func() { _, _ = db.Pool.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`) }()
	exec(`SET search_path TO ` + schema)
	defer exec(`SET search_path TO ` + pgx.Identifier{db.Name}.Sanitize())
	exec(projections.PaymentsProjection{}.Schema())
	cols, rows := paymentRegisterRows(lines)
	start := time.Now()
	copied, err := conn.Conn().CopyFrom(ctx, pgx.Identifier{"payments"}, cols, pgx.CopyFromRows(rows))
	if err != nil {
		b.Fatalf("copy: %v", err)
	}
	if copied != int64(len(lines)) {
		b.Fatalf("copied %d rows, want %d", copied, len(lines))
	}
	return float64(len(lines)) / time.Since(start).Seconds()
}

// paymentRegisterRows shapes lines as rows of the payments register.
func paymentRegisterRows(lines []domain.PaymentLine) ([]string, [][]any) {
	cols := []string{"reference", "batch_id", "person_id", "program", "period", "kind", "amount", "township", "paid_on",
		"status", "status_on", "bank_reference", "reason", "issued_commit", "issued_prepare", "updated_commit", "updated_prepare"}
	rows := make([][]any, len(lines))
	for i, l := range lines {
		rows[i] = []any{l.Reference, l.BatchID, string(l.PersonID), string(l.Program), l.Period.First().Time(), string(l.Kind),
			l.Amount.Decimal(), l.Township, l.PaidOn.Time(), "issued", l.PaidOn.Time(), "", "", int64(i), int64(i), int64(i), int64(i)}
	}
	return cols, rows
}
