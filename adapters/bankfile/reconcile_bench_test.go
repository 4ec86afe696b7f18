package bankfile_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
)

// BenchmarkReconcileBatch is a whole reconciliation on the embedded store:
// an approved batch of LEDGER_BENCH_LINES payments (default 2,000; `make
// bench` uses 100,000) and a GB18030 return file settling every one of them
// are prepared; the timed part reads and classifies the file, decides, and
// appends a settlement event per line.
func BenchmarkReconcileBatch(b *testing.B) {
	n := 2000
	if v := os.Getenv("LEDGER_BENCH_LINES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("LEDGER_BENCH_LINES=%q is not a positive number", v)
		}
	}
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := pgtest.NewSchema(b)
		store := pgstore.New(db.Pool)
		pay := domain.NewPayroll(store)
		period, _ := domain.ParsePeriod("period", "2025-03")
		persons := make([]domain.PayrollPerson, n)
		for k := range persons {
			persons[k] = domain.PayrollPerson{PersonID: domain.PersonID(fmt.Sprintf("%020d", k)), Township: "星子镇",
				Changes: []domain.EntitlementChange{{Kind: domain.ChangeGranted, EffectiveDate: period.First()}}}
		}
		now := time.Date(2025, 3, 18, 0, 0, 0, 0, time.UTC)
		id := domain.BatchID(domain.ProgramLivingSubsidy, period, 1)
		_, drafted, err := pay.Draft(ctx, domain.CommandMeta{CommandID: "d", Actor: "fin.wu", Role: "finance", Now: now},
			domain.DraftPayroll{BatchID: id, Program: domain.ProgramLivingSubsidy, Period: period, PaidOn: period.First().AddDays(19), DraftedBy: "fin.wu", Persons: persons})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pay.Approve(ctx, domain.CommandMeta{CommandID: "a", Actor: "fin.li", Role: "finance", Now: now}, domain.ProgramLivingSubsidy, period, id); err != nil {
			b.Fatal(err)
		}
		var csv bytes.Buffer
		csv.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
		for k, l := range drafted.Lines {
			fmt.Fprintf(&csv, "%s,%s,成功,,B%07d\r\n", l.Reference, l.Amount, k)
		}
		raw, err := simplifiedchinese.GB18030.NewEncoder().Bytes(csv.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		applied, err := bankfile.Reconcile(ctx, pay, domain.CommandMeta{Actor: "fin.wu", Role: "finance", Now: now}, id, "return.csv", raw, domain.DateOf(now))
		elapsed := time.Since(start)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if applied.Totals.Settled.Count != n {
			b.Fatalf("settled %d of %d", applied.Totals.Settled.Count, n)
		}
		b.ReportMetric(elapsed.Seconds(), "seconds")
		b.ReportMetric(float64(n)/elapsed.Seconds(), "lines/s")
		store.Close()
	}
}
