package app_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// ledger is a ledger for a test: an event store (PostgreSQL or the
// EventStoreDB protocol server), the read models in a fresh schema, kept
// up to date by a projection runner in the background, and the payroll
// use cases.
type ledger struct {
	t     *testing.T
	ctx   context.Context
	db    *pgtest.Schema
	store domain.EventStore
	h     *app.Persons
	pay   *app.Payroll
	n     int
	now   time.Time
}

// eachStore runs fn on both event stores.
func eachStore(t *testing.T, fn func(t *testing.T, l *ledger)) {
	for _, name := range []string{"pg", "esdb"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newLedger(t, name, nil))
		})
	}
}

// newLedger opens a ledger; wrap, when set, wraps the store the use cases
// see (fault injection).
func newLedger(t *testing.T, store string, wrap func(domain.EventStore) domain.EventStore) *ledger {
	t.Helper()
	db := pgtest.NewSchema(t)
	var s domain.EventStore
	switch store {
	case "pg":
		ps := pgstore.New(db.Pool)
		t.Cleanup(ps.Close)
		s = ps
	case "esdb":
		s = esdbtest.NewLedger(t).Open(t, quietLog, esdbtest.Keys(db.Pool))
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := projections.Runner{Pool: db.Pool, Store: s, Projections: projections.All(), Log: quietLog, MaxWait: 5 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	seen := s
	if wrap != nil {
		seen = wrap(s)
	}
	return &ledger{t: t, ctx: context.Background(), db: db, store: s, h: app.NewPersons(s),
		pay: app.NewPayroll(seen, projections.ReadModels{Q: db.Pool, Store: s, Wait: time.Minute}, nil), now: time.Date(2025, 3, 25, 2, 0, 0, 0, time.UTC)}
}

// readModelsReport logs, for a test that found the read models short,
// what the log holds and what each projection says it applied.
func (l *ledger) readModelsReport() {
	l.t.Helper()
	head, err := l.store.Head(l.ctx)
	all, _ := l.store.ReadAll(l.ctx, domain.Start, 1_000_000, domain.Filter{})
	l.t.Logf("head %v (%v), %d events in the log", head, err, len(all))
	cps, err := projections.Checkpoints(l.ctx, l.db.Pool)
	for _, c := range cps {
		l.t.Logf("checkpoint %s at %v: %d applied, %s (%v)", c.Name, c.Position, c.EventsApplied, c.Status, err)
	}
	var persons, history int
	_ = l.db.Pool.QueryRow(l.ctx, `SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM entitlement_history)`).Scan(&persons, &history)
	l.t.Logf("%d persons, %d entitlement_history rows", persons, history)
}

func (l *ledger) meta(actor string) domain.CommandMeta {
	l.n++
	return domain.CommandMeta{CommandID: fmt.Sprintf("test-%d", l.n), Actor: actor, Role: "finance", Now: l.now}
}

// persons registers n persons on 低保 with a certificate and grants each
// the living subsidy from from.
func (l *ledger) persons(n int, from string) []domain.PersonID {
	l.t.Helper()
	key := domain.LookupKey("0123456789abcdef0123456789abcdef")
	var out []domain.PersonID
	for i := range n {
		id, _ := domain.NewResidentID("360429", domain.MustDate("1955-03-01").AddDays(i), 100+i%900)
		hash := key.Hash(id)
		pid := domain.PersonIDFromHash(hash)
		cert, _ := domain.NewCertificateNumber(id, domain.CategoryVisual, 2)
		for _, c := range []domain.Command{
			domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "赵敏", Township: "白鹿镇", Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-01")},
			domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
			domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate(from)},
		} {
			l.fact(pid, c)
		}
		out = append(out, pid)
	}
	return out
}

func (l *ledger) fact(pid domain.PersonID, c domain.Command) {
	l.t.Helper()
	l.n++
	meta := domain.CommandMeta{CommandID: fmt.Sprintf("fact-%d", l.n), Actor: "clerk", Role: "clerk", Now: l.now}
	if _, err := l.h.Execute(l.ctx, pid, meta, c); err != nil {
		l.t.Fatalf("%s: %v", c.CommandName(), err)
	}
}

func (l *ledger) draft(period, user string) app.DraftResult {
	l.t.Helper()
	res, err := l.pay.Draft(l.ctx, l.meta(user), app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: per(period)})
	if err != nil {
		l.t.Fatalf("draft %s: %v", period, err)
	}
	return res
}

func (l *ledger) approve(batch, user string) app.ApproveResult {
	l.t.Helper()
	res, err := l.pay.Approve(l.ctx, l.meta(user), batch)
	if err != nil {
		l.t.Fatalf("approve %s: %v", batch, err)
	}
	return res
}

// returnFile settles a batch's issued lines but fails those of persons in
// fail.
func (l *ledger) returnFile(batch string, fail ...domain.PersonID) []byte {
	l.t.Helper()
	rep, err := l.pay.Report(l.ctx, batch)
	if err != nil {
		l.t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
	for i, line := range rep.Lines {
		if line.Status != domain.LineIssued {
			continue
		}
		if slices.Contains(fail, line.PersonID) {
			fmt.Fprintf(&b, "%s,%s,失败,账户已销户,\r\n", line.Reference, line.Amount)
		} else {
			fmt.Fprintf(&b, "%s,%s,成功,,B%06d\r\n", line.Reference, line.Amount, i)
		}
	}
	return []byte(b.String())
}

// paid is what every person's months were paid and kept, from the batch
// reports: issued, settled or reversed lines less failed ones.
func (l *ledger) paid() map[string]int {
	l.t.Helper()
	bs, err := l.pay.Batches(l.ctx, domain.ProgramLivingSubsidy)
	if err != nil {
		l.t.Fatal(err)
	}
	out := map[string]int{}
	for _, b := range bs {
		rep, err := l.pay.Report(l.ctx, b.Opened.BatchID)
		if err != nil {
			l.t.Fatal(err)
		}
		for _, line := range rep.Lines {
			if line.Status == domain.LineIssued || line.Status == domain.LineSettled {
				out[string(line.PersonID[:6])+" "+line.Period.String()]++
			}
		}
	}
	return out
}

// neverTwice fails the test if any month was paid more than owed.
func (l *ledger) neverTwice() {
	l.t.Helper()
	over, err := l.pay.Overpaid(l.ctx, domain.ProgramLivingSubsidy)
	if err != nil {
		l.t.Fatal(err)
	}
	for _, o := range over {
		l.t.Errorf("%s %s paid %s, owed %s: %+v", o.PersonID, o.Period, o.Paid, o.Owed, o.Lines)
	}
}

func per(s string) domain.Period {
	p, err := domain.ParsePeriod("period", s)
	if err != nil {
		panic(err)
	}
	return p
}

// The finance officer's report that started it: January drafted, then
// February (which owed January as arrears while January's batch waited),
// both approved — January is paid once.
func TestJanuaryThenFebruaryPaysJanuaryOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(3, "2025-01-01")
		jan := l.draft("2025-01", "fin.wu")
		feb := l.draft("2025-02", "fin.wu")
		if jan.Batch.Lines.Count != 3 || feb.Batch.Lines.Count != 3 || feb.Batch.Arrears.Count != 0 {
			t.Fatalf("January %+v, February %+v: want 3 regular lines each and no arrears in February", jan.Batch, feb.Batch)
		}
		// Approved in either order.
		l.approve(feb.Batch.BatchID, "fin.li")
		l.approve(jan.Batch.BatchID, "fin.li")
		paid := l.paid()
		for _, p := range ps {
			for _, m := range []string{"2025-01", "2025-02"} {
				if n := paid[string(p[:6])+" "+m]; n != 1 {
					t.Errorf("%s %s paid by %d lines", p, m, n)
				}
			}
		}
		l.neverTwice()
		// Nothing is left to pay for either month.
		var re *domain.RuleError
		if _, err := l.pay.Draft(l.ctx, l.meta("fin.wu"), app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: per("2025-02")}); !errors.As(err, &re) || re.Rule != domain.RuleNothingToPay {
			t.Errorf("February again: %v, want nothing to pay", err)
		}
	})
}

// A January batch with a failed line, a January re-issue batch and a
// February batch, all approved: the failed month is paid once.
func TestFailedMonthReissuedOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(3, "2025-01-01")
		jan := l.draft("2025-01", "fin.wu")
		l.approve(jan.Batch.BatchID, "fin.li")
		if _, err := l.pay.Reconcile(l.ctx, l.meta("fin.wu"), app.ReconcileRequest{BatchID: jan.Batch.BatchID, Name: "r.csv",
			Raw: l.returnFile(jan.Batch.BatchID, ps[0])}); err != nil {
			t.Fatal(err)
		}
		reissue := l.draft("2025-01", "fin.wu")
		if reissue.Batch.Lines.Count != 1 || reissue.Batch.Reissue.Count != 1 {
			t.Fatalf("re-issue batch %+v: want the failed line only", reissue.Batch)
		}
		feb := l.draft("2025-02", "fin.wu")
		if feb.Batch.Lines.Count != 3 || feb.Batch.Reissue.Count != 0 {
			t.Fatalf("February %+v: want February's 3 lines, January being re-issued already", feb.Batch)
		}
		l.approve(feb.Batch.BatchID, "fin.li")
		l.approve(reissue.Batch.BatchID, "fin.li")
		if n := l.paid()[string(ps[0][:6])+" 2025-01"]; n != 1 {
			t.Errorf("the failed January paid by %d lines, want 1", n)
		}
		l.neverTwice()
	})
}

// Finance officers drafting different periods of one program at the same
// moment pay every month once.
func TestDraftsOfDifferentPeriodsAtOncePayEveryMonthOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(8, "2025-01-01")
		periods := []string{"2025-01", "2025-02", "2025-03", "2025-02"}
		results := make([]app.DraftResult, len(periods))
		errs := make([]error, len(periods))
		metas := make([]domain.CommandMeta, len(periods))
		for i := range periods {
			metas[i] = l.meta(fmt.Sprint("fin.", i))
		}
		var wg sync.WaitGroup
		for i, p := range periods {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = l.pay.Draft(l.ctx, metas[i], app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: per(p)})
			}()
		}
		wg.Wait()
		lines := 0
		for i, err := range errs {
			var re *domain.RuleError
			switch {
			case err == nil:
				lines += results[i].Batch.Lines.Count
				l.approve(results[i].Batch.BatchID, "fin.approver")
			case errors.Is(err, domain.ErrConflict), errors.As(err, &re) && re.Rule == domain.RuleNothingToPay:
			default:
				t.Fatalf("draft %s: %v", periods[i], err)
			}
		}
		if lines != 3*len(ps) {
			t.Fatalf("%d lines drafted, want %d: every month of every person once", lines, 3*len(ps))
		}
		for k, n := range l.paid() {
			if n != 1 {
				t.Errorf("%s paid by %d lines", k, n)
			}
		}
		l.neverTwice()
	})
}

// A command retried with the same command ID — after its answer was lost
// — answers as it did the first time and appends nothing new.
func TestRetriedPayrollCommandsAnswerAsTheFirst(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(2, "2025-02-01")
		dm := l.meta("fin.wu")
		first, err := l.pay.Draft(l.ctx, dm, app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: per("2025-03")})
		if err != nil {
			t.Fatal(err)
		}
		again, err := l.pay.Draft(l.ctx, dm, app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: per("2025-03")})
		if err != nil || fmt.Sprint(again.Batch) != fmt.Sprint(first.Batch) || again.Position != first.Position {
			t.Fatalf("the draft again: %+v at %s, %v; want %+v at %s", again.Batch, again.Position, err, first.Batch, first.Position)
		}
		id := first.Batch.BatchID
		am := l.meta("fin.li")
		a1, err := l.pay.Approve(l.ctx, am, id)
		if err != nil {
			t.Fatal(err)
		}
		a2, err := l.pay.Approve(l.ctx, am, id)
		if err != nil || fmt.Sprint(a2) != fmt.Sprint(a1) {
			t.Fatalf("the approval again: %+v, %v; want %+v", a2, err, a1)
		}
		// Another user's approval is told who approved.
		var se *domain.BatchStateError
		if _, err := l.pay.Approve(l.ctx, l.meta("fin.zhou"), id); !errors.As(err, &se) || !strings.Contains(err.Error(), "approved by fin.li") {
			t.Fatalf("a late approval: %v, want one naming fin.li", err)
		}
		rm := l.meta("fin.wu")
		file := l.returnFile(id, ps[0])
		r1, err := l.pay.Reconcile(l.ctx, rm, app.ReconcileRequest{BatchID: id, Name: "r.csv", Raw: file})
		if err != nil || r1.AlreadyImported || r1.Totals.Failed.Count != 2 || r1.Totals.Settled.Count != 2 {
			t.Fatalf("reconcile: %+v, %v", r1.Totals, err)
		}
		r2, err := l.pay.Reconcile(l.ctx, rm, app.ReconcileRequest{BatchID: id, Name: "r.csv", Raw: file})
		if err != nil || !r2.AlreadyImported || fmt.Sprint(r2.Totals) != fmt.Sprint(r1.Totals) {
			t.Fatalf("the reconciliation again: %+v (already %v), %v; want %+v", r2.Totals, r2.AlreadyImported, err, r1.Totals)
		}
		cm := l.meta("fin.wu")
		c1, err := l.pay.RecordClaims(l.ctx, cm, domain.ProgramLivingSubsidy)
		if err != nil || len(c1) != 0 {
			t.Fatalf("claims: %v, %v", c1, err)
		}
		// Reject: the same command twice, one rejection.
		re := l.draft("2025-03", "fin.wu") // the failed lines, re-issued
		jm := l.meta("fin.li")
		j1, err := l.pay.Reject(l.ctx, jm, re.Batch.BatchID, "account numbers not yet corrected")
		if err != nil || j1.Released.Count != 2 {
			t.Fatalf("reject: %+v, %v", j1, err)
		}
		j2, err := l.pay.Reject(l.ctx, jm, re.Batch.BatchID, "account numbers not yet corrected")
		if err != nil || fmt.Sprint(j2) != fmt.Sprint(j1) {
			t.Fatalf("the rejection again: %+v, %v; want %+v", j2, err, j1)
		}
		// Its months are free again.
		if again := l.draft("2025-03", "fin.wu"); again.Batch.Reissue.Count != 2 {
			t.Fatalf("after the rejection: %+v, want the two re-issues", again.Batch)
		}
	})
}

// An approval that loses to another finds out who won, and the payments
// are issued once.
func TestConcurrentApprovalsIssueOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		l.persons(5, "2025-03-01")
		id := l.draft("2025-03", "fin.wu").Batch.BatchID
		errs := make([]error, 3)
		metas := []domain.CommandMeta{l.meta("fin.li"), l.meta("fin.zhou"), l.meta("fin.qian")}
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = l.pay.Approve(l.ctx, metas[i], id) }()
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			var se *domain.BatchStateError
			switch {
			case err == nil:
				won++
			case errors.As(err, &se) && se.Batch.Approved != nil && strings.Contains(err.Error(), "approved by "+se.Batch.Approved.ApprovedBy):
			default:
				t.Errorf("approval: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d approvals won, want 1", won)
		}
		if n := len(l.paid()); n != 5 {
			t.Fatalf("%d months paid, want 5", n)
		}
	})
}

// crashingStore fails the n-th append it sees (after writing it when
// after is set), once.
type crashingStore struct {
	domain.EventStore
	mu      sync.Mutex
	n       int
	after   bool
	crashed bool
}

// arm makes the n-th append from now crash (0: none), after it is
// written when after is set.
func (s *crashingStore) arm(n int, after bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n, s.after, s.crashed = n, after, false
}

// newCrashingLedger opens a ledger whose use cases append through a
// crashingStore, unarmed.
func newCrashingLedger(t *testing.T, store string) (*ledger, *crashingStore) {
	var cs *crashingStore
	l := newLedger(t, store, func(s domain.EventStore) domain.EventStore {
		cs = &crashingStore{EventStore: s}
		return cs
	})
	return l, cs
}

func (s *crashingStore) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	s.mu.Lock()
	s.n--
	crash := s.n == 0
	s.crashed = s.crashed || crash
	s.mu.Unlock()
	if crash && !s.after {
		return domain.AppendResult{}, errCrash
	}
	res, err := s.EventStore.Append(ctx, stream, expected, events...)
	if crash && err == nil {
		return domain.AppendResult{}, errCrash
	}
	return res, err
}

// An approval that stops midway (a crash before or after any of its
// appends) is finished by the same command again (a client's retry), or
// by resuming it with another: every line is issued exactly once.
func TestApprovalCrashedMidwayResumes(t *testing.T) {
	for k := 1; k <= 18; k++ {
		for _, after := range []bool{false, true} {
			for _, store := range []string{"pg", "esdb"} {
				t.Run(fmt.Sprintf("%s/crash-%d-after-%v", store, k, after), func(t *testing.T) {
					t.Parallel()
					l, cs := newCrashingLedger(t, store)
					l.persons(40, "2025-03-01")
					d := l.draft("2025-03", "fin.wu")
					if d.Batch.Lines.Count != 40 {
						l.readModelsReport()
						t.Fatalf("the draft has %d lines for 40 persons granted before it", d.Batch.Lines.Count)
					}
					id := d.Batch.BatchID
					cs.arm(k, after)
					meta := l.meta("fin.li")
					_, err := l.pay.Approve(l.ctx, meta, id)
					if cs.crashed != errors.Is(err, errCrash) {
						t.Fatalf("approve: %v (crashed %v)", err, cs.crashed)
					}
					if err != nil {
						b, _ := l.pay.Batch(l.ctx, id)
						switch {
						case k%2 == 1 || b.State == domain.BatchStateDrafted:
							// The client retries: the same command finishes.
							if _, err := l.pay.Approve(l.ctx, meta, id); err != nil {
								t.Fatalf("the approval again: %v", err)
							}
						default:
							if _, err := l.pay.Resume(l.ctx, l.meta("fin.zhou"), id); err != nil {
								t.Fatal(err)
							}
						}
					}
					b, _ := l.pay.Batch(l.ctx, id)
					if b.State != domain.BatchStateApproved || b.Issued.Issued.Count != 40 || b.Approved.ApprovedBy != "fin.li" {
						t.Fatalf("batch %s, drafted %+v, issued %+v", b.State, b.Drafted.Lines, b.Issued)
					}
					for k, n := range l.paid() {
						if n != 1 {
							t.Errorf("%s paid by %d lines", k, n)
						}
					}
					if len(l.paid()) != 40 {
						t.Errorf("%d months paid, want 40", len(l.paid()))
					}
				})
			}
		}
	}
}

// A large approval — many chunks in every shard — killed at random points
// before or after an append, and each time resumed by a retry or by
// another user, issues every line exactly once; while it is stopped, the
// batch shows how far it went.
func TestLargeApprovalKilledAtRandomPointsIssuesEveryLineOnce(t *testing.T) {
	const persons = 3000
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			l, cs := newCrashingLedger(t, store)
			l.pay = l.pay.WithChunkBytes(8 << 10) // about 25 lines an event: 15 events a shard
			l.persons(persons, "2025-02-01")
			id := l.draft("2025-03", "fin.wu").Batch.BatchID
			total := 2 * persons // February's arrears and March
			rng := rand.New(rand.NewPCG(uint64(len(store)), 13))
			meta := l.meta("fin.li")
			crashes, done := 0, 0
			for {
				cs.arm(1+rng.IntN(60), rng.IntN(2) == 0)
				var err error
				if b, _ := l.pay.Batch(l.ctx, id); b.State == domain.BatchStateDrafted || rng.IntN(2) == 0 {
					_, err = l.pay.Approve(l.ctx, meta, id) // the client retries
				} else {
					_, err = l.pay.Resume(l.ctx, l.meta("fin.zhou"), id)
				}
				if err == nil {
					break
				}
				if !errors.Is(err, errCrash) {
					t.Fatal(err)
				}
				crashes++
				rep, err := l.pay.Report(l.ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if rep.State != domain.BatchStateIssuing {
					continue
				}
				p := rep.Progress
				if p == nil || p.Step != "issuing" || p.Total != total || p.Done < done || p.Done >= total {
					t.Fatalf("stopped after %d: progress %+v, want issuing at least %d of %d", crashes, p, done, total)
				}
				done = p.Done
			}
			cs.arm(0, false) // no more crashes
			if crashes < 2 || done == 0 {
				t.Fatalf("%d crashes, the last at %d lines issued: the test did not stop the approval midway", crashes, done)
			}
			b, _ := l.pay.Batch(l.ctx, id)
			if b.State != domain.BatchStateApproved || b.Issued.Issued.Count != total || b.Approved.ApprovedBy != "fin.li" {
				t.Fatalf("batch %s, %+v", b.State, b.Issued)
			}
			// Every line issued exactly once, by the log.
			issued := map[string]int{}
			reg := domain.NewLedgerRegistry()
			for from := domain.Start; ; {
				page, err := l.store.ReadAll(l.ctx, from, 1000, domain.Filter{})
				if err != nil {
					t.Fatal(err)
				}
				if len(page) == 0 {
					break
				}
				for _, rec := range page {
					if rec.Type != domain.TypePaymentsIssued {
						continue
					}
					env, err := reg.DecodeEnvelope(rec)
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range env.Event.(*domain.PaymentsIssued).Payments {
						issued[p.Reference]++
					}
				}
				from = page[len(page)-1].Position
			}
			if len(issued) != total {
				t.Errorf("%d lines issued, want %d", len(issued), total)
			}
			for ref, n := range issued {
				if n != 1 {
					t.Errorf("%s issued %d times", ref, n)
				}
			}
			l.neverTwice()
			t.Logf("%d lines issued once after %d crashes", total, crashes)
		})
	}
}

// The approval re-checks each line against the entitlements as they stand:
// a termination recorded after the draft withholds the months it ends.
func TestApprovalWithholdsMonthsNoLongerOwed(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(2, "2025-01-01")
		d := l.draft("2025-03", "fin.wu")
		if d.Batch.Lines.Count != 6 {
			t.Fatalf("drafted %d lines, want 6", d.Batch.Lines.Count)
		}
		l.fact(ps[1], domain.TerminateEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveTo: domain.MustDate("2025-01-31"), ReasonCode: domain.TerminationMovedAway})
		a := l.approve(d.Batch.BatchID, "fin.li")
		if a.Issued.Count != 4 || a.Withheld.Count != 2 || a.Withheld.Total.String() != "220.00" {
			t.Fatalf("approved: issued %+v, withheld %+v; want 4 issued and February and March of the second person withheld", a.Issued, a.Withheld)
		}
		rep, _ := l.pay.Report(l.ctx, d.Batch.BatchID)
		if rep.Withheld.Count != 2 {
			t.Fatalf("report %+v", rep)
		}
		l.neverTwice()
	})
}

// A death recorded late turns the months paid after it into claims, which
// the next draft records first; recovering more than a claim asks is
// refused.
func TestLateDeathBecomesClaimsRecordedByTheNextDraft(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(2, "2025-01-01")
		d := l.draft("2025-03", "fin.wu")
		l.approve(d.Batch.BatchID, "fin.li")
		l.fact(ps[0], domain.RecordDeath{DateOfDeath: domain.MustDate("2025-01-15")})
		l.now = time.Date(2025, 4, 18, 2, 0, 0, 0, time.UTC)
		apr := l.draft("2025-04", "fin.wu")
		if len(apr.Claims) != 2 || apr.Batch.Lines.Count != 1 {
			t.Fatalf("April: %d claims, %d lines; want February and March claimed back and April paid to the other person", len(apr.Claims), apr.Batch.Lines.Count)
		}
		c := apr.Claims[0]
		if c.PersonID != ps[0] || c.Period != per("2025-02") || c.Amount.String() != "110.00" || len(c.References) != 1 {
			t.Fatalf("claim %+v", c)
		}
		if _, err := l.pay.SettleClaim(l.ctx, l.meta("fin.wu"), app.SettleClaimRequest{ClaimID: c.ClaimID, Amount: domain.MustMoney("110.01")}); !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("recovering more than asked: %v", err)
		}
		res, err := l.pay.SettleClaim(l.ctx, l.meta("fin.wu"), app.SettleClaimRequest{ClaimID: c.ClaimID, Amount: domain.MustMoney("110.00")})
		if err != nil || !res.Claim.Remaining().IsZero() || res.Before.String() != "110.00" {
			t.Fatalf("recovered: %+v, %v", res, err)
		}
		l.neverTwice()
	})
}
