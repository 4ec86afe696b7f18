package app_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/benchenv"
)

// sizeStore records the largest event and the largest append that pass
// through it.
type sizeStore struct {
	domain.EventStore
	mu                   sync.Mutex
	maxEvent, maxAppend  int
	appends, eventsTotal int
}

func (s *sizeStore) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	size := 0
	s.mu.Lock()
	for _, e := range events {
		n := len(e.Type) + len(e.Data) + len(e.Metadata)
		s.maxEvent = max(s.maxEvent, n)
		size += n
	}
	s.maxAppend = max(s.maxAppend, size)
	s.appends++
	s.eventsTotal += len(events)
	s.mu.Unlock()
	return s.EventStore.Append(ctx, stream, expected, events...)
}

// A payroll month of LEDGER_TEST_PAYROLL_PERSONS persons (default
// 100,000) — draft, approval, return file — on both stores: no event
// passes 256 KiB and no append 512 KiB, however large the batch. `make
// test` runs it without the race detector (the smaller payroll tests cover
// the same code under it).
func TestPayrollMonthStaysWithinTheBounds(t *testing.T) {
	n := benchenv.Size(t, "LEDGER_TEST_PAYROLL_PERSONS", 100_000)
	period := per("2025-03")
	persons := make(fixedReads, n)
	for k := range persons {
		persons[k] = domain.PayrollPerson{PersonID: domain.PersonID(fmt.Sprintf("%020x", uint64(k)*0x9e3779b97f4a7c15>>4)), Township: "星子镇",
			Changes: []domain.EntitlementChange{{Kind: domain.ChangeGranted, EffectiveDate: period.First()}}}
	}
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			var ss *sizeStore
			newLedger(t, store, func(s domain.EventStore) domain.EventStore { ss = &sizeStore{EventStore: s}; return ss })
			pay := app.NewPayroll(ss, persons, nil)
			ctx := context.Background()
			now := time.Date(2025, 3, 18, 2, 0, 0, 0, time.UTC)
			meta := func(id, actor string) domain.CommandMeta {
				return domain.CommandMeta{CommandID: id, Actor: actor, Role: "finance", Now: now}
			}
			d, err := pay.Draft(ctx, meta("draft", "fin.wu"), app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: period})
			if err != nil || d.Batch.Lines.Count != n {
				t.Fatalf("draft: %+v, %v", d.Batch.Lines, err)
			}
			a, err := pay.Approve(ctx, meta("approve", "fin.li"), d.Batch.BatchID)
			if err != nil || a.Issued.Count != n {
				t.Fatalf("approve: %+v, %v", a.Issued, err)
			}
			rep, err := pay.Report(ctx, d.Batch.BatchID)
			if err != nil {
				t.Fatal(err)
			}
			var ret bytes.Buffer
			ret.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
			for i, line := range rep.Lines {
				status := "成功"
				if i%97 == 0 {
					status = "失败"
				}
				fmt.Fprintf(&ret, "%s,%s,%s,,B%d\r\n", line.Reference, line.Amount, status, i)
			}
			r, err := pay.Reconcile(ctx, meta("return", "fin.wu"), app.ReconcileRequest{BatchID: d.Batch.BatchID, Name: "r.csv", Raw: ret.Bytes()})
			if err != nil || r.Totals.Settled.Count+r.Totals.Failed.Count != n {
				t.Fatalf("reconcile: %+v, %v", r.Totals, err)
			}
			t.Logf("%d persons: %d appends, %d events; largest event %d bytes, largest append %d bytes", n, ss.appends, ss.eventsTotal, ss.maxEvent, ss.maxAppend)
			if ss.maxEvent > domain.MaxEventBytes || ss.maxAppend > domain.MaxAppendBytes {
				t.Fatalf("largest event %d bytes (bound %d), largest append %d bytes (bound %d)", ss.maxEvent, domain.MaxEventBytes, ss.maxAppend, domain.MaxAppendBytes)
			}
		})
	}
}
