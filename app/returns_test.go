package app_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// Return files as banks send them: again, cumulative (a day's file resent
// with the earlier lines), with a payment that failed and then went
// through, and with two lines of one payment that disagree.
func TestReturnFilesAsBanksSendThem(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(5, "2025-01-01")
		a, b, c, d, e := ps[0], ps[1], ps[2], ps[3], ps[4]
		jan := l.draft("2025-01", "fin.wu").Batch.BatchID
		l.approve(jan, "fin.li")
		ref := func(p domain.PersonID) string { return domain.LineReference(jan, p, per("2025-01")) }
		line := func(p domain.PersonID, status string) string {
			if status == "失败" {
				return fmt.Sprintf("%s,110.00,失败,账户已冻结,\r\n", ref(p))
			}
			return fmt.Sprintf("%s,110.00,成功,,B-%s\r\n", ref(p), p[:4])
		}
		file := func(lines ...string) []byte {
			return []byte("参考号,金额,状态,失败原因,银行流水号\r\n" + strings.Join(lines, ""))
		}
		rows := func(rec bankfile.Reconciliation) string {
			var out []string
			for _, r := range rec.Rows() {
				who := map[string]string{ref(a): "a", ref(b): "b", ref(c): "c", ref(d): "d", ref(e): "e"}[r.Reference]
				out = append(out, fmt.Sprintf("%s:%s", r.Category.Name, who))
			}
			return strings.Join(out, " ")
		}
		reconcile := func(raw []byte) app.ReconcileResult {
			t.Helper()
			res, err := l.pay.Reconcile(l.ctx, l.meta("fin.wu"), app.ReconcileRequest{BatchID: jan, Name: "return.csv", Raw: raw})
			if err != nil {
				t.Fatal(err)
			}
			return res
		}

		// The first file: a paid, c failed; b, d and e not yet reported.
		file1 := file(line(a, "成功"), line(c, "失败"))
		r1 := reconcile(file1)
		if got := rows(r1.Reconciliation); got != "settled:a failed:c missing:b missing:d missing:e" {
			t.Fatalf("the first file: %s", got)
		}
		// February re-issues c's January; it is issued.
		feb := l.draft("2025-02", "fin.wu")
		if feb.Batch.Reissue.Count != 1 {
			t.Fatalf("February: %+v, want c's January re-issued", feb.Batch)
		}
		l.approve(feb.Batch.BatchID, "fin.li")
		// The second file fails b; March's draft re-issues b's January,
		// not yet approved.
		reconcile(file(line(b, "失败")))
		mar := l.draft("2025-03", "fin.wu")
		if mar.Batch.Reissue.Count != 1 {
			t.Fatalf("March: %+v, want b's January re-issued", mar.Batch)
		}

		// The bank's cumulative file: a again, b and c paid after all, d
		// paid, and e twice, paid and failed.
		file3 := file(line(a, "成功"), line(b, "成功"), line(c, "成功"), line(d, "成功"), line(e, "成功"), line(e, "失败"))
		r3 := reconcile(file3)
		if got, want := rows(r3.Reconciliation), "settled:d late_settled:b late_settled:c already_settled:a conflicting:e conflicting:e"; got != want {
			t.Fatalf("the cumulative file:\n got %s\nwant %s", got, want)
		}
		// c's re-issue went out before the bank paid after all: claimed back.
		if len(r3.Claims) != 1 || r3.Claims[0].PersonID != c || r3.Claims[0].Period != per("2025-01") || r3.Claims[0].Amount.String() != "110.00" ||
			len(r3.Claims[0].References) != 2 {
			t.Fatalf("claims %+v; want c's January, 110.00, naming both payments", r3.Claims)
		}
		// b's re-issue, not yet approved, is withheld.
		if ap := l.approve(mar.Batch.BatchID, "fin.li"); ap.Withheld.Count != 1 || ap.Withheld.Total.String() != "110.00" {
			t.Fatalf("March approved: %+v; want b's January re-issue withheld", ap)
		}
		rep, err := l.pay.Report(l.ctx, jan)
		if err != nil {
			t.Fatal(err)
		}
		status := map[domain.PersonID]string{}
		for _, ln := range rep.Lines {
			status[ln.PersonID] = ln.Status
		}
		if want := map[domain.PersonID]string{a: "settled", b: "settled", c: "settled", d: "settled", e: "issued"}; fmt.Sprint(status) != fmt.Sprint(want) {
			t.Fatalf("January's lines %v; want %v (e waits: its lines disagree)", status, want)
		}
		l.neverTwice()

		// Each file again: already imported, nothing changed, judged as
		// the first time.
		for i, f := range []struct {
			raw  []byte
			want string
		}{{file1, rows(r1.Reconciliation)}, {file3, rows(r3.Reconciliation)}} {
			before := l.events()
			again := reconcile(f.raw)
			if !again.AlreadyImported || rows(again.Reconciliation) != f.want || l.events() != before {
				t.Errorf("file %d again: already %v, %s (events %d → %d); want %s", i+1, again.AlreadyImported, rows(again.Reconciliation), before, l.events(), f.want)
			}
		}
	})
}

// events is the head of the ledger's log: it moves when anything is
// appended.
func (l *ledger) events() domain.Position {
	l.t.Helper()
	head, err := l.store.Head(l.ctx)
	if err != nil {
		l.t.Fatal(err)
	}
	return head
}

// A reconciliation stopped midway — a crash before or after any of its
// appends, the import not yet recorded — is judged again as the first
// time when run again, by the same command or by another (a second
// upload): no line it settled before the crash shows as "already
// settled", every line is settled or failed exactly once, and the file
// once more is "already imported" with the same classification.
func TestReconcileCrashedMidwayIsJudgedAsTheFirstTime(t *testing.T) {
	const persons = 120
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			l, cs := newCrashingLedger(t, store)
			l.pay = l.pay.WithChunkBytes(1 << 10) // a few lines an event: several appends a shard
			ps := l.persons(persons, "2025-03-01")
			id := l.draft("2025-03", "fin.wu").Batch.BatchID
			l.approve(id, "fin.li")
			raw := l.returnFile(id, ps[:7]...)
			summary := func(rec bankfile.Reconciliation) string {
				n := map[string]int{}
				for _, r := range rec.Rows() {
					n[r.Category.Name]++
				}
				return fmt.Sprint(n)
			}
			want := fmt.Sprint(map[string]int{"settled": persons - 7, "failed": 7})
			rng := rand.New(rand.NewPCG(uint64(len(store)), 17))
			done := 0
			for round := 0; ; round++ {
				cs.arm(1+rng.IntN(12), rng.IntN(2) == 0)
				meta := l.meta("fin.wu") // another upload each time: a new command
				res, err := l.pay.Reconcile(l.ctx, meta, app.ReconcileRequest{BatchID: id, Name: "return.csv", Raw: raw})
				if errors.Is(err, errCrash) {
					// Stopped once begun: the batch shows how far it went,
					// and so does the list of unfinished steps.
					rep, err := l.pay.Report(l.ctx, id)
					if err != nil {
						t.Fatal(err)
					}
					if b, _ := l.pay.Batch(l.ctx, id); len(b.Reconciling) == 0 {
						if rep.Progress != nil {
							t.Fatalf("crash %d, before the reconciliation began: progress %+v", round, rep.Progress)
						}
						continue
					}
					p := rep.Progress
					if p == nil || p.Step != "reconciling" || p.Total != persons || p.Done < done || p.Done > persons {
						t.Fatalf("crash %d: progress %+v; want reconciling at least %d, at most %d of %d (every line done, the import not yet recorded)", round, p, done, persons, persons)
					}
					done = p.Done
					un, err := l.pay.Unfinished(l.ctx)
					if err != nil || len(un) != 1 || un[0].BatchID != id || un[0].Progress.Step != "reconciling" {
						t.Fatalf("crash %d: unfinished %+v, %v; want the batch, reconciling", round, un, err)
					}
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if round == 0 {
					t.Fatal("the first run did not crash: the test proves nothing")
				}
				// (Already imported, when the last crash came just after
				// the import was written: judged as the first time all the
				// same.)
				if summary(res.Reconciliation) != want {
					t.Fatalf("after %d crashes: already %v, %s; want %s, as the first time", round, res.AlreadyImported, summary(res.Reconciliation), want)
				}
				break
			}
			cs.arm(0, false)
			rep, err := l.pay.Report(l.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			status := map[string]int{}
			for _, ln := range rep.Lines {
				status[ln.Status]++
			}
			if got := fmt.Sprint(status); got != fmt.Sprint(map[string]int{"settled": persons - 7, "failed": 7}) {
				t.Fatalf("lines %s", got)
			}
			b, err := l.pay.Batch(l.ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Imports) != 1 || b.Imports[0].Settled != persons-7 || b.Imports[0].Failed != 7 || len(b.Reconciling) != 0 || rep.Progress != nil {
				t.Fatalf("imports %+v, reconciling %+v, progress %+v; want one import, settling %d and failing 7, nothing in progress",
					b.Imports, b.Reconciling, rep.Progress, persons-7)
			}
			if done == 0 {
				t.Fatal("no crash stopped the reconciliation once begun: the test proves nothing")
			}
			if un, err := l.pay.Unfinished(l.ctx); err != nil || len(un) != 0 {
				t.Fatalf("unfinished after the import: %+v, %v", un, err)
			}
			before := l.events()
			again, err := l.pay.Reconcile(l.ctx, l.meta("fin.wu"), app.ReconcileRequest{BatchID: id, Name: "return.csv", Raw: raw})
			if err != nil || !again.AlreadyImported || summary(again.Reconciliation) != want || l.events() != before {
				t.Fatalf("the file again: %v, already %v, %s (events %d → %d)", err, again.AlreadyImported, summary(again.Reconciliation), before, l.events())
			}
		})
	}
}
