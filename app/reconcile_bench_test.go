package app_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/benchenv"
)

// fixedReads are read models that hold a fixed list of persons, caught up
// by construction: for benchmarks of the payroll steps alone.
type fixedReads []domain.PayrollPerson

func (fixedReads) CaughtUp(context.Context) error { return nil }
func (r fixedReads) PayrollPersons(context.Context, domain.ProgramCode) ([]domain.PayrollPerson, error) {
	return r, nil
}
func (fixedReads) BankAccounts(context.Context, []domain.PersonID) (map[domain.PersonID]domain.BankAccount, error) {
	return nil, nil
}

// spreadPID is the k-th person ID of a benchmark, spread over the 16
// payment shards as real person IDs are (the first 20 hex characters of a
// keyed SHA-256): the first 20 hex characters of the MD5 of k.
func spreadPID(k int) domain.PersonID {
	sum := md5.Sum([]byte(strconv.Itoa(k)))
	return domain.PersonID(hex.EncodeToString(sum[:])[:20])
}

// BenchmarkReconcileBatch is a whole reconciliation on the embedded store:
// an approved batch of LEDGER_BENCH_LINES payments (default 2,000; `make
// bench` uses 100,000) and a GB18030 return file settling every one of them
// are prepared; the timed part reads and classifies the file, records the
// import and appends the settlements, chunk by chunk in every payment
// shard. With LEDGER_TEST_CPUPROFILE=DIR, the timed part's CPU profile
// is written there.
func BenchmarkReconcileBatch(b *testing.B) {
	n := benchenv.Size(b, "LEDGER_BENCH_LINES", 2000)
	ctx := context.Background()
	period, _ := domain.ParsePeriod("period", "2025-03")
	persons := make(fixedReads, n)
	for k := range persons {
		persons[k] = domain.PayrollPerson{PersonID: spreadPID(k), Township: "星子镇",
			Changes: []domain.EntitlementChange{{Kind: domain.ChangeGranted, EffectiveDate: period.First()}}}
	}
	now := time.Date(2025, 3, 18, 0, 0, 0, 0, time.UTC)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		db := pgtest.NewSchema(b)
		store := pgstore.New(db.Pool)
		pay := app.NewPayroll(store, persons, nil)
		d, err := pay.Draft(ctx, domain.CommandMeta{CommandID: "d", Actor: "fin.wu", Role: "finance", Now: now}, app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: period})
		if err != nil {
			b.Fatal(err)
		}
		id := d.Batch.BatchID
		if _, err := pay.Approve(ctx, domain.CommandMeta{CommandID: "a", Actor: "fin.li", Role: "finance", Now: now}, id); err != nil {
			b.Fatal(err)
		}
		rep, err := pay.Report(ctx, id)
		if err != nil {
			b.Fatal(err)
		}
		var csv bytes.Buffer
		csv.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
		for k, l := range rep.Lines {
			fmt.Fprintf(&csv, "%s,%s,成功,,B%07d\r\n", l.Reference, l.Amount, k)
		}
		raw, err := simplifiedchinese.GB18030.NewEncoder().Bytes(csv.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		stopProfile := benchenv.CPUProfile(b, fmt.Sprintf("reconcile-%d", i))
		b.StartTimer()
		start := time.Now()
		applied, err := pay.Reconcile(ctx, domain.CommandMeta{CommandID: "r", Actor: "fin.wu", Role: "finance", Now: now},
			app.ReconcileRequest{BatchID: id, Name: "return.csv", Raw: raw, On: domain.DateOf(now)})
		elapsed := time.Since(start)
		b.StopTimer()
		stopProfile()
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
