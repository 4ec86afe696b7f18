package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// draft runs `payroll run` for period after bringing the read models up
// to date, and returns the batch.
func (l *cliLedger) draft(period string) string {
	l.t.Helper()
	l.must("project", "--once")
	return batchOf(l.t, l.must("payroll", "run", "--program", "living_subsidy", "--period", period, "--user", "fin.wu"))
}

func (l *cliLedger) approve(batch string) string {
	l.t.Helper()
	l.must("project", "--once")
	return l.must("payroll", "approve", batch, "--user", "fin.li")
}

// neverTwice runs verify's never-twice check and returns the months paid
// per person and month, from the batch reports.
func (l *cliLedger) paid(batches ...string) map[string]int {
	l.t.Helper()
	out := map[string]int{}
	for _, b := range batches {
		for _, line := range strings.Split(l.must("payroll", "report", b, "--csv"), "\n") {
			f := strings.Split(line, ",")
			if len(f) == 7 && (f[6] == "issued" || f[6] == "settled") {
				out[f[1][:6]+" "+f[3]]++
			}
		}
	}
	return out
}

func (l *cliLedger) verifyNeverTwice() {
	l.t.Helper()
	l.must("project", "--once")
	out, errOut, err := l.run("verify", "--projection", "entitlements")
	if err != nil || !strings.Contains(out, "none paid more than owed") {
		l.t.Fatalf("verify: %v\n%s%s", err, out, errOut)
	}
}

// The finance officers' report, on the command line and on both event
// stores: January then February drafted and both approved pays January
// once; a January batch with failed lines, a January re-issue and a
// February batch pay each failed month once; two processes drafting
// different periods at the same moment pay every month once.
func TestNeverTwiceOnTheCommandLine(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store+"/january-then-february", func(t *testing.T) {
			t.Parallel()
			l := newCLILedger(t, store)
			l.registerPersons(0, 3)
			jan := l.draft("2025-01")
			feb := l.draft("2025-02")
			if out := l.must("payroll", "report", feb); !strings.Contains(out, "expected          3          330.00") {
				t.Fatalf("February's batch pays January again:\n%s", out)
			}
			l.approve(jan)
			l.approve(feb)
			paid := l.paid(jan, feb)
			if len(paid) != 6 {
				t.Fatalf("%d months paid, want 6: %v", len(paid), paid)
			}
			for k, n := range paid {
				if n != 1 {
					t.Errorf("%s paid %d times", k, n)
				}
			}
			l.verifyNeverTwice()
		})
		t.Run(store+"/failed-january-reissued-once", func(t *testing.T) {
			t.Parallel()
			l := newCLILedger(t, store)
			ps := l.registerPersons(0, 3)
			jan := l.draft("2025-01")
			l.approve(jan)
			var ret strings.Builder
			ret.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
			for i, p := range ps {
				status, reason := "成功", ""
				if i == 0 {
					status, reason = "失败", "账户已冻结"
				}
				fmt.Fprintf(&ret, "%s,110.00,%s,%s,B%d\r\n", domain.LineReference(jan, p, per(t, "2025-01")), status, reason, i)
			}
			file := filepath.Join(t.TempDir(), "return.csv")
			if err := os.WriteFile(file, []byte(ret.String()), 0o600); err != nil {
				t.Fatal(err)
			}
			l.must("reconcile", jan, "--file", file, "--user", "fin.wu")
			reissue := l.draft("2025-01")
			if out := l.must("payroll", "report", reissue); !strings.Contains(out, "expected          1          110.00") {
				t.Fatalf("the re-issue batch:\n%s", out)
			}
			feb := l.draft("2025-02")
			if out := l.must("payroll", "report", feb); !strings.Contains(out, "expected          3          330.00") {
				t.Fatalf("February's batch pays the failed January again:\n%s", out)
			}
			l.approve(feb)
			l.approve(reissue)
			if n := l.paid(jan, reissue, feb)[string(ps[0][:6])+" 2025-01"]; n != 1 {
				t.Fatalf("the failed January paid by %d lines, want 1", n)
			}
			l.verifyNeverTwice()
		})
		t.Run(store+"/two-processes-at-once", func(t *testing.T) {
			t.Parallel()
			l := newCLILedger(t, store)
			l.registerPersons(0, 4)
			l.projectInBackground()
			outs := make([]string, 2)
			errs := make([]error, 2)
			var wg sync.WaitGroup
			for i, period := range []string{"2025-01", "2025-02"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					outs[i], _, errs[i] = l.run("payroll", "run", "--program", "living_subsidy", "--period", period, "--user", fmt.Sprint("fin.", i))
				}()
			}
			wg.Wait()
			var batches []string
			lines := 0
			for i, err := range errs {
				if err != nil && strings.Contains(err.Error(), "nothing is owed") {
					continue // the other drafted this month too, as arrears
				}
				if err != nil {
					t.Fatalf("run %d: %v\n%s", i, err, outs[i])
				}
				batches = append(batches, batchOf(t, outs[i]))
				var n int
				if _, err := fmt.Sscanf(outs[i][strings.Index(outs[i], ": ")+2:], "%d lines", &n); err != nil {
					t.Fatalf("%s: %v", outs[i], err)
				}
				lines += n
			}
			if lines != 8 {
				t.Fatalf("%d lines drafted, want 8 (January and February of 4 persons, each once):\n%s%s", lines, outs[0], outs[1])
			}
			for _, b := range batches {
				l.must("payroll", "approve", b, "--user", "fin.li")
			}
			for k, n := range l.paid(batches...) {
				if n != 1 {
					t.Errorf("%s paid %d times", k, n)
				}
			}
			out, errOut, err := l.run("verify", "--projection", "entitlements")
			if err != nil || !strings.Contains(out, "none paid more than owed") {
				t.Fatalf("verify: %v\n%s%s", err, out, errOut)
			}
		})
	}
}

func per(t *testing.T, s string) domain.Period {
	t.Helper()
	p, err := domain.ParsePeriod("period", s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A draft never pays from stale read models. A transaction left open in
// another database on the same server (with a transaction ID) does not
// hold the log's read horizon back: a termination recorded while it stays
// open is projected, and the draft pays none of the months it ended. An
// append in flight in our own store does hold back what commits after it:
// `ledger project status` reports the lag and who holds it, and the draft
// refuses, naming the lag, until it commits.
func TestDraftsNeverReadStaleReadModels(t *testing.T) {
	l := newCLILedger(t, "pg")
	ctx := context.Background()
	ps := l.registerPersons(0, 2)
	l.projectInBackground()

	other, err := pgx.Connect(ctx, pgtest.OtherDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	var xid string
	if _, err := other.Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if err := other.QueryRow(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	h := app.NewPersons(l.store)
	if _, err := h.Execute(ctx, ps[1], domain.CommandMeta{CommandID: "terminate-1", Actor: "clerk", Role: "clerk", Now: time.Now()},
		domain.TerminateEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveTo: domain.MustDate("2025-01-31"), ReasonCode: domain.TerminationMovedAway}); err != nil {
		t.Fatal(err)
	}
	out := l.must("payroll", "run", "--program", "living_subsidy", "--period", "2025-03", "--user", "fin.wu")
	if !strings.Contains(out, ": 4 lines, total 440.00") {
		t.Fatalf("draft while another database's transaction %s is open: %s\nwant the first person's three months and the second's January only", xid, out)
	}
	var still *string
	if err := other.QueryRow(ctx, `SELECT pg_current_xact_id_if_assigned()::text`).Scan(&still); err != nil || still == nil {
		t.Fatalf("the other database's transaction ended (%v): the test proves nothing", err)
	}
	if _, err := other.Exec(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}

	// An append in flight: a budget allocation held open in a transaction
	// of our store, then a death recorded (and committed) after it.
	pg := l.store.(*pgstore.Store)
	tx, err := pg.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	data, err := domain.Seal(domain.CommandMeta{CommandID: "budget-held", Actor: "fin.wu", Role: "finance", Now: time.Now()}, "",
		[]domain.Event{domain.BudgetAllocated{Program: domain.ProgramCareSubsidy, FiscalYear: 2025, Amount: domain.MustMoney("1000.00")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pg.AppendInTx(ctx, tx, domain.ProgramStream(domain.ProgramCareSubsidy), domain.NoStream(), data...); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Execute(ctx, ps[0], domain.CommandMeta{CommandID: "death-1", Actor: "clerk", Role: "clerk", Now: time.Now()},
		domain.RecordDeath{DateOfDeath: domain.MustDate("2025-03-10")}); err != nil {
		t.Fatal(err)
	}
	status := l.must("project", "status")
	if !strings.Contains(status, "held back by an append in flight") {
		t.Errorf("project status does not report the events held back:\n%s", status)
	}
	_, errOut, err := l.run("payroll", "run", "--program", "living_subsidy", "--period", "2025-04", "--user", "fin.wu", "--read-models-wait", "1s")
	if err == nil || !errors.Is(err, domain.ErrUnavailable) || !strings.Contains(err.Error(), "behind the event log") || !strings.Contains(err.Error(), "held back") {
		t.Fatalf("draft while an append is in flight: %v\n%s; want a refusal naming the lag", err, errOut)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// Committed, the death is read: April owes nothing (the first person
	// died in March, whose month March's batch already holds; the second's
	// entitlement ended in January).
	if _, _, err := l.run("payroll", "run", "--program", "living_subsidy", "--period", "2025-04", "--user", "fin.wu"); err == nil || !strings.Contains(err.Error(), "nothing is owed") {
		t.Fatalf("April's draft after the commit: %v, want nothing to pay", err)
	}
}
