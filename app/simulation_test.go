package app_test

// A model-based simulation of payroll, in the spirit of TigerBeetle's VOPR:
// random histories of grants, backdated terminations and deaths, death
// retractions, suspensions, rate changes (re-grants at another amount),
// drafts for random periods in random order, approvals (some by the
// drafter), rejections, bank returns with random failures, re-issues,
// claims, recoveries and write-offs — with several finance users acting
// at once and crashes injected between appends, each retried as a client
// would (the same command again).
//
// Concurrency is deterministic: actors run at once, but every event-store
// call passes a turnstile that lets one actor through at a time, chosen by
// the history's random source. A history is thus a function of its seed,
// and a failing one prints the seed and replays from it:
//
//	go test ./app -run 'TestPayrollSimulation/pg/1234' -sim.seed=1234
//
// After every step the ledger is held to the invariants, computed here
// from the raw events, independently of the domain's folds and of
// domain.MonthsOwed:
//
//   - never twice: a person's month of a program is paid by at most one
//     line at a time (reserved, or issued and not yet settled or failed);
//   - never more than owed: issued − failed − reversed − claimed back
//     never exceeds the most the month was owed since the program's claims
//     were last recorded (a death recorded late can make a month paid no
//     longer owed; the next draft claims it back, first thing);
//   - a claim is never recovered or written off beyond its amount;
//
// and to the model: a draft that runs alone pays exactly the lines the
// model predicts (what is owed, less what was paid and kept, for every
// month with no line paying it), and the read models' paid, claimed,
// recovered, written-off and arrears figures equal the model's.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
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

var (
	simHistories = flag.Int("sim.histories", 10, "random payroll histories to run on PostgreSQL (a third as many on EventStoreDB)")
	simSteps     = flag.Int("sim.steps", 40, "steps per history")
	simSeed      = flag.Uint64("sim.seed", 0, "run only this seed (replay a failure)")
	simBase      = flag.Uint64("sim.base", 1, "the first seed of the budget")
)

func TestPayrollSimulation(t *testing.T) {
	type store struct {
		name string
		n    int
		open func(t *testing.T, db *pgtest.Schema) domain.EventStore
	}
	stores := []store{
		{"pg", *simHistories, func(t *testing.T, db *pgtest.Schema) domain.EventStore {
			s := pgstore.New(db.Pool)
			t.Cleanup(s.Close)
			return s
		}},
		{"esdb", max(*simHistories/3, 1), func(t *testing.T, db *pgtest.Schema) domain.EventStore {
			return esdbtest.NewLedger(t).Open(t, quietLog, esdbtest.Keys(db.Pool))
		}},
	}
	for _, st := range stores {
		seeds := []uint64{}
		if *simSeed != 0 {
			seeds = append(seeds, *simSeed)
		} else {
			for i := range st.n {
				seeds = append(seeds, *simBase+uint64(i))
			}
		}
		t.Logf("simulation budget on %s: %d histories of %d steps (-sim.histories, -sim.steps)", st.name, len(seeds), *simSteps)
		t.Run(st.name, func(t *testing.T) {
			for _, seed := range seeds {
				t.Run(fmt.Sprint(seed), func(t *testing.T) {
					t.Parallel()
					db := pgtest.NewSchema(t)
					w := newWorld(t, seed, db, st.open(t, db))
					for step := range *simSteps {
						w.step()
						if err := w.check(); err != nil {
							t.Fatalf("seed %d, after step %d: %v\nhistory:\n  %s\nreplay: go test ./app -run 'TestPayrollSimulation/%s/%d' -sim.seed=%d -v",
								seed, step, err, strings.Join(w.log, "\n  "), st.name, seed, seed)
						}
					}
					t.Logf("seed %d: %d steps, %d batches, %d lines issued, %d failed, %d settled late, %d claims (%d cancelled in part or whole), %d crashes injected",
						seed, *simSteps, w.stats.batches, w.stats.issued, w.stats.failed, w.stats.late, w.stats.claims, w.stats.cancelled, w.stats.crashes)
				})
			}
		})
	}
}

// mkey is a person's month of a program.
type mkey struct {
	pid     domain.PersonID
	program domain.ProgramCode
	month   domain.Period
}

func (k mkey) String() string { return fmt.Sprintf("%s/%s/%s", k.pid[:6], k.program, k.month) }

var simPrograms = []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramIncapacitySubsidy}

type world struct {
	t     *testing.T
	r     *rand.Rand
	db    *pgtest.Schema
	store domain.EventStore
	fs    *faultStore
	gate  *turnstile
	h     *app.Persons
	pay   *app.Payroll
	today time.Time
	n     int
	// lastFact is where the last caseworker's fact landed.
	lastFact domain.Position

	persons []domain.PersonID
	// ceil is, per month, the most it was owed since its program's
	// claims were last recorded.
	ceil map[mkey]domain.Money
	// lines are every line the ledger reported, as the model follows them.
	lines map[string]*modelLine
	// claims is what the model expects claimed, per month.
	claims  map[mkey]domain.Money
	batches map[string]string // batch → drafter, of batches the model saw
	// files are the return files sent for each batch, to send again.
	files map[string][][]byte
	log   []string
	stats struct{ batches, issued, failed, late, claims, cancelled, crashes int }
	// retracted are the persons whose death was retracted since the last
	// check: their claims must follow what they are owed now.
	retracted []domain.PersonID
}

type modelLine struct {
	key    mkey
	amount domain.Money
	batch  string
	status string
}

func newWorld(t *testing.T, seed uint64, db *pgtest.Schema, store domain.EventStore) *world {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	gate := newTurnstile(rand.New(rand.NewPCG(seed, 0x9a7e)))
	fs := &faultStore{EventStore: store, gate: gate}
	w := &world{t: t, r: r, db: db, store: store, fs: fs, gate: gate, h: app.NewPersons(store),
		today: time.Date(2025, 6, 15, 2, 0, 0, 0, time.UTC),
		ceil:  map[mkey]domain.Money{}, lines: map[string]*modelLine{}, claims: map[mkey]domain.Money{}, batches: map[string]string{},
		files: map[string][][]byte{}}
	w.pay = app.NewPayroll(fs, simReads{ReadModels: projections.ReadModels{Q: db.Pool, Store: fs}, w: w}, nil).WithPolicy(app.Policy{Conflicts: 100, Backoff: 0}).
		WithWorkers(1) // the turnstile schedules one call of an actor at a time
	key := domain.LookupKey("0123456789abcdef0123456789abcdef")
	for i := range 5 {
		id, _ := domain.NewResidentID("360429", domain.MustDate("1960-01-01").AddDays(int(seed%97)+i*37), 11+i)
		hash := key.Hash(id)
		pid := domain.PersonIDFromHash(hash)
		cert, _ := domain.NewCertificateNumber(id, domain.CategoryPhysical, 2)
		w.fact(pid, domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "甲", Township: "白鹿镇",
			Household: domain.HouseholdStatus{Dibao: true, Class: domain.HouseholdLiftedFromPoverty}, RegisteredOn: domain.MustDate("2024-01-01")})
		w.fact(pid, domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")})
		w.persons = append(w.persons, pid)
	}
	w.project()
	return w
}

func (w *world) logf(format string, args ...any) { w.log = append(w.log, fmt.Sprintf(format, args...)) }

func (w *world) meta(actor string) domain.CommandMeta {
	w.n++
	return domain.CommandMeta{CommandID: fmt.Sprintf("sim-%d", w.n), Actor: actor, Role: "finance", Now: w.today.Add(time.Duration(w.n) * time.Second)}
}

// fact runs a caseworker's command; refusals (rules, conflicts) are part
// of random histories.
func (w *world) fact(pid domain.PersonID, c domain.Command) bool {
	w.n++
	meta := domain.CommandMeta{CommandID: fmt.Sprintf("sim-%d", w.n), Actor: "clerk", Role: "clerk", Now: w.today.Add(time.Duration(w.n) * time.Second)}
	res, err := w.h.Execute(context.Background(), pid, meta, c)
	switch {
	case err == nil:
		w.lastFact = res.Position
		return true
	case errors.Is(err, domain.ErrConflict), errors.Is(err, domain.ErrRuleViolation), errors.Is(err, domain.ErrInvalid):
		return false
	}
	w.t.Fatalf("%T: %v", c, err)
	return false
}

// project brings the read models up to the last event appended.
func (w *world) project() {
	ctx := context.Background()
	last := w.lastFact
	if p := w.fs.last(); last.Less(p) {
		last = p
	}
	deadline := time.Now().Add(time.Minute)
	for {
		r := projections.Runner{Pool: w.db.Pool, Store: w.store, Projections: projections.All(), Log: quietLog}
		if err := r.RunOnce(ctx); err != nil {
			w.t.Fatal(err)
		}
		cps, err := projections.Checkpoints(ctx, w.db.Pool)
		if err != nil {
			w.t.Fatal(err)
		}
		behind := len(cps) == 0
		for _, c := range cps {
			if c.Position.Less(last) {
				behind = true
			}
		}
		if !behind {
			return
		}
		if time.Now().After(deadline) {
			parked, _ := projections.ParkedEvents(ctx, w.db.Pool)
			w.t.Fatalf("the read models did not reach %s within a minute: checkpoints %+v, parked %+v\nhistory:\n  %s", last, cps, parked, strings.Join(w.log, "\n  "))
		}
		time.Sleep(20 * time.Millisecond) // another test's write in flight holds the log's read horizon back
	}
}

func (w *world) date() domain.Date {
	return domain.MustDate("2024-10-01").AddDays(w.r.IntN(258)) // to 2025-06-15
}

func (w *world) period() domain.Period {
	p, _ := domain.NewPeriod(2024, time.November)
	for range w.r.IntN(9) { // to 2025-07
		p = p.Next()
	}
	return p
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// step runs one step: a caseworker's fact, or a group of finance users'
// payroll commands at once.
func (w *world) step() {
	pid := pick(w.r, w.persons)
	program := pick(w.r, simPrograms)
	switch k := w.r.IntN(20); {
	case k < 4:
		g := domain.GrantEntitlement{Program: program, EffectiveFrom: w.date()}
		if program == domain.ProgramIncapacitySubsidy {
			g.Amount = domain.MustMoney(fmt.Sprintf("%d.00", 90+10*w.r.IntN(5)))
		}
		if w.fact(pid, g) {
			w.logf("grant %s %s from %s %s", pid[:6], program, g.EffectiveFrom, g.Amount)
		}
	case k < 6:
		c := domain.TerminateEntitlement{Program: program, EffectiveTo: w.date(), ReasonCode: domain.TerminationNoLongerEligible}
		if w.fact(pid, c) {
			w.logf("terminate %s %s to %s", pid[:6], program, c.EffectiveTo)
		}
	case k < 7:
		c := domain.SuspendEntitlement{Program: program, EffectiveOn: w.date(), ReasonCode: domain.SuspensionReason("investigation")}
		if w.fact(pid, c) {
			w.logf("suspend %s %s from %s", pid[:6], program, c.EffectiveOn)
		}
	case k < 8:
		c := domain.ResumeEntitlement{Program: program, EffectiveOn: w.date()}
		if w.fact(pid, c) {
			w.logf("resume %s %s on %s", pid[:6], program, c.EffectiveOn)
		}
	case k < 10:
		if w.r.IntN(3) > 0 {
			c := domain.RecordDeath{DateOfDeath: w.date()}
			if w.fact(pid, c) {
				w.logf("death of %s on %s", pid[:6], c.DateOfDeath)
			}
		} else if w.fact(pid, domain.RetractDeath{}) {
			w.logf("death of %s retracted", pid[:6])
			w.retracted = append(w.retracted, pid)
		}
	default:
		w.project()
		w.payrollGroup()
	}
	w.project()
}

// payrollGroup runs one to three finance commands at once.
func (w *world) payrollGroup() {
	ctx := context.Background()
	batches, err := w.allBatches(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	n := 1 + w.r.IntN(3)
	var ops []simOp
	for range n {
		var pending, approved []domain.Batch
		for _, b := range batches {
			switch b.State {
			case domain.BatchStateDrafted, domain.BatchStateDrafting:
				pending = append(pending, b)
			case domain.BatchStateApproved:
				approved = append(approved, b)
			}
		}
		switch k := w.r.IntN(10); {
		case k < 4 || (len(pending) == 0 && len(approved) == 0):
			program, period := pick(w.r, simPrograms), w.period()
			var predicted map[mkey]domain.Money
			ops = append(ops, simOp{name: fmt.Sprintf("draft %s %s", program, period), claims: program, run: func(ctx context.Context, meta domain.CommandMeta) (string, error) {
				res, err := w.pay.Draft(ctx, meta, app.DraftRequest{Program: program, Period: period})
				return res.Batch.BatchID, err
			}})
			if n == 1 {
				// Alone, a draft pays exactly what the model predicts
				// (after recording the claims it records first).
				predicted = w.predict(program, period)
				ops[len(ops)-1].after = func(err error) {
					if errors.Is(err, domain.ErrConflict) {
						predicted = nil // a batch of the period waits: nothing drafted
					}
					w.checkDraft(program, period, predicted)
				}
			}
		case k < 6 && len(pending) > 0:
			b := pick(w.r, pending)
			approver := pick(w.r, []string{"fin.li", "fin.zhou", b.Opened.DraftedBy})
			ops = append(ops, simOp{name: "approve " + b.Opened.BatchID + " by " + approver, run: func(ctx context.Context, meta domain.CommandMeta) (string, error) {
				meta.Actor = approver
				res, err := w.pay.Approve(ctx, meta, b.Opened.BatchID)
				return fmt.Sprintf("issued %d, withheld %d", res.Issued.Count, res.Withheld.Count), err
			}})
		case k < 7 && len(pending) > 0:
			b := pick(w.r, pending)
			ops = append(ops, simOp{name: "reject " + b.Opened.BatchID, run: func(ctx context.Context, meta domain.CommandMeta) (string, error) {
				res, err := w.pay.Reject(ctx, meta, b.Opened.BatchID, "wrong figures")
				return fmt.Sprintf("released %d", res.Released.Count), err
			}})
		case k < 9 && len(approved) > 0:
			b := pick(w.r, approved)
			file := w.returnFile(b.Opened.BatchID)
			ops = append(ops, simOp{name: "return for " + b.Opened.BatchID, run: func(ctx context.Context, meta domain.CommandMeta) (string, error) {
				res, err := w.pay.Reconcile(ctx, meta, app.ReconcileRequest{BatchID: b.Opened.BatchID, Name: "return.csv", Raw: file, On: domain.DateOf(w.today)})
				t := res.Totals
				return fmt.Sprintf("settled %d, failed %d, late %d, conflicting %d, claims %d, again %v", t.Settled.Count, t.Failed.Count,
					t.LateSettled.Count, t.Conflicting.Count, len(res.Claims), res.AlreadyImported), err
			}})
		default:
			program := pick(w.r, simPrograms)
			ops = append(ops, simOp{name: "claims " + string(program), claims: program, run: func(ctx context.Context, meta domain.CommandMeta) (string, error) {
				cs, err := w.pay.RecordClaims(ctx, meta, program)
				return fmt.Sprintf("%d claims", len(cs)), err
			}})
			if w.r.IntN(2) == 0 {
				ops = append(ops, w.settleClaimOp())
			}
		}
	}
	if len(ops) > 1 {
		ops = ops[:min(len(ops), 3)]
	}
	// Each command runs as an actor at the turnstile; a crash injected
	// into one is retried with the same command, as a client would.
	results := make([]string, len(ops))
	errs := make([]error, len(ops))
	metas := make([]domain.CommandMeta, len(ops))
	for i := range ops {
		metas[i] = w.meta(fmt.Sprintf("fin%d", i))
	}
	crash := make([]int, len(ops))
	after := make([]bool, len(ops))
	for i := range ops {
		if w.r.IntN(3) == 0 {
			crash[i], after[i] = 1+w.r.IntN(8), w.r.IntN(2) == 0
		}
	}
	w.gate.run(len(ops), func(ctx context.Context, actor int) {
		op := ops[actor]
		for attempt := 0; ; attempt++ {
			fault := 0
			if attempt == 0 {
				fault = crash[actor]
			}
			w.gate.arm(actor, fault, after[actor])
			results[actor], errs[actor] = op.run(ctx, metas[actor])
			if !errors.Is(errs[actor], errCrash) || attempt > 3 {
				return
			}
		}
	})
	for i, op := range ops {
		if c := w.gate.crashed[i]; c != "" {
			w.stats.crashes++
			w.logf("  (crash %s during %s; retried)", c, op.name)
		}
		w.logf("%s [%s]: %s %v", op.name, metas[i].CommandID, results[i], errs[i])
		if err := errs[i]; err != nil && !errors.Is(err, domain.ErrConflict) && !errors.Is(err, domain.ErrRuleViolation) && !errors.Is(err, domain.ErrNotFound) {
			w.t.Fatalf("%s: %v\nhistory:\n  %s", op.name, err, strings.Join(w.log, "\n  "))
		}
	}
	for i, op := range ops {
		// A draft records the program's claims first, and so does a
		// claims command: what is owed now is all that the program's paid
		// months may rest on.
		if op.claims != "" && !errors.Is(errs[i], errCrash) {
			w.resetCeilings(op.claims)
		}
	}
	for i, op := range ops {
		if op.after != nil {
			op.after(errs[i])
		}
	}
}

// simOp is one finance user's command in a group.
type simOp struct {
	name   string
	claims domain.ProgramCode // the program whose claims it records first, if any
	run    func(ctx context.Context, meta domain.CommandMeta) (string, error)
	// after checks the model once every command of the group ended,
	// given the command's error.
	after func(err error)
}

// settleClaimOp recovers or writes off part of a random claim with money
// still asked.
func (w *world) settleClaimOp() (op simOp) {
	var open []string
	state := w.readLog()
	for id, c := range state.claims {
		if !c.remaining().IsZero() {
			open = append(open, id)
		}
	}
	slices.Sort(open)
	if len(open) == 0 {
		op.name = "no claim to settle"
		op.run = func(context.Context, domain.CommandMeta) (string, error) { return "", nil }
		return op
	}
	id := pick(w.r, open)
	c := state.claims[id]
	left := c.remaining()
	amount, _ := domain.MoneyFromFen(1 + w.r.Int64N(left.Fen()+1)) // sometimes one fen too many
	writeOff := w.r.IntN(3) == 0
	op.name = fmt.Sprintf("settle claim %s: %s (write-off %v)", id, amount, writeOff)
	op.run = func(ctx context.Context, meta domain.CommandMeta) (string, error) {
		res, err := w.pay.SettleClaim(ctx, meta, app.SettleClaimRequest{ClaimID: id, Amount: amount, WriteOff: writeOff, Reason: "hardship"})
		if errors.Is(err, domain.ErrInvalid) {
			// More than the claim asks: one fen too many, or another
			// command of the group settled part of it first. The
			// invariants show whether a claim was ever over-settled.
			return "refused: " + err.Error(), nil
		}
		return fmt.Sprintf("remaining %s", res.Claim.Remaining()), err
	}
	return op
}

func (w *world) allBatches(ctx context.Context) ([]domain.Batch, error) {
	var out []domain.Batch
	for _, p := range simPrograms {
		bs, err := w.pay.Batches(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	slices.SortFunc(out, func(a, b domain.Batch) int { return strings.Compare(a.Opened.BatchID, b.Opened.BatchID) })
	return out, nil
}

// returnFile is the bank's answer to a batch's issued lines: each settled,
// or failed at random.
// returnFile is a bank's return file for a batch, as banks send them: now
// and then a file sent before, again; else the lines issued, a quarter of
// them failed and some reported twice with statuses that disagree, and —
// as a cumulative file would — some lines reported before: settled again,
// failed again, or failed before and paid after all.
func (w *world) returnFile(batchID string) []byte {
	if sent := w.files[batchID]; len(sent) > 0 && w.r.IntN(5) == 0 {
		return pick(w.r, sent)
	}
	rep, err := w.pay.Report(context.Background(), batchID)
	if err != nil {
		w.t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
	paid := func(l domain.BatchReportLine, i int) {
		fmt.Fprintf(&b, "%s,%s,成功,,B%06d\r\n", l.Reference, l.Amount, i)
	}
	failed := func(l domain.BatchReportLine) {
		fmt.Fprintf(&b, "%s,%s,失败,账户已销户,\r\n", l.Reference, l.Amount)
	}
	for i, l := range rep.Lines {
		switch k := w.r.IntN(12); {
		case l.Status == domain.LineSettled && k < 6:
			paid(l, i)
		case l.Status == domain.LineFailed && k < 4:
			paid(l, i) // the bank paid after all
		case l.Status == domain.LineFailed && k < 8:
			failed(l)
		case l.Status != domain.LineIssued:
		case k == 0:
			paid(l, i)
			failed(l) // two lines that disagree: neither counts
		case k < 4:
			failed(l)
		default:
			paid(l, i)
		}
	}
	file := []byte(b.String())
	w.files[batchID] = append(w.files[batchID], file)
	return file
}

// owed computes what is owed per person, program and month from the
// entitlement events in the persons' streams, independently of
// domain.MonthsOwed: a month is owed under a grant when the grant began by
// its last day, was not terminated (at its earliest termination) before
// its first day, and was not suspended on its first day; the first grant
// (by effective date) that owes it pays it, at its own amount or the
// catalog rate (100.00 until 2024-12, 110.00 from 2025-01).
func (w *world) owed() map[mkey]domain.Money {
	out := map[mkey]domain.Money{}
	for _, pid := range w.persons {
		l, err := w.h.Load(context.Background(), pid)
		if err != nil {
			w.t.Fatal(err)
		}
		type pause struct {
			on        domain.Date
			suspended bool
		}
		type cycle struct {
			seq      int
			from, to domain.Date
			ended    bool
			ends     []domain.Date // terminations not withdrawn
			amount   domain.Money
			pauses   []pause
		}
		cycles := map[domain.ProgramCode][]*cycle{}
		for seq, env := range l.Events {
			var prog domain.ProgramCode
			var c *cycle
			last := func() *cycle {
				if cs := cycles[prog]; len(cs) > 0 {
					return cs[len(cs)-1]
				}
				return nil
			}
			switch e := env.Event.(type) {
			case *domain.EntitlementGranted:
				cycles[e.Program] = append(cycles[e.Program], &cycle{seq: seq, from: e.EffectiveFrom, amount: e.Amount})
			case *domain.EntitlementTerminated:
				prog = e.Program
				if c = last(); c != nil {
					c.ends = append(c.ends, e.EffectiveTo)
				}
			case *domain.EntitlementReinstated:
				// A death retracted: the termination it made is withdrawn.
				prog = e.Program
				if c = last(); c != nil {
					if k := slices.IndexFunc(c.ends, e.EndedOn.Equal); k >= 0 {
						c.ends = slices.Delete(c.ends, k, k+1)
					}
				}
			case *domain.EntitlementSuspended:
				prog = e.Program
				if c = last(); c != nil {
					c.pauses = append(c.pauses, pause{e.EffectiveDate, true})
				}
			case *domain.EntitlementResumed:
				prog = e.Program
				if c = last(); c != nil {
					c.pauses = append(c.pauses, pause{e.EffectiveDate, false})
				}
			}
		}
		for program, cs := range cycles {
			for _, c := range cs { // the earliest termination standing ends the grant
				c.ended = len(c.ends) > 0
				for _, to := range c.ends {
					if c.to.IsZero() || to.Before(c.to) {
						c.to = to
					}
				}
			}
			slices.SortStableFunc(cs, func(a, b *cycle) int { return a.from.Compare(b.from) })
			for m, _ := domain.NewPeriod(2024, time.October); m.Compare(domain.MustDate("2025-08-01").Period()) <= 0; m = m.Next() {
				for _, c := range cs {
					if c.from.After(m.Last()) || (c.ended && (c.to.Before(m.First()) || c.to.Before(c.from))) {
						continue
					}
					suspended := false
					ps := slices.Clone(c.pauses)
					slices.SortStableFunc(ps, func(a, b pause) int { return a.on.Compare(b.on) })
					for _, p := range ps {
						if !p.on.After(m.First()) {
							suspended = p.suspended
						}
					}
					if suspended {
						continue
					}
					amount := c.amount
					if amount.IsZero() {
						amount = domain.MustMoney("100.00")
						if !m.First().Before(domain.MustDate("2025-01-01")) {
							amount = domain.MustMoney("110.00")
						}
					}
					out[mkey{pid, program, m}] = amount
					break
				}
			}
		}
	}
	return out
}

// resetCeilings: every claim of the program was recorded, so its months
// may now rest only on what they are owed.
func (w *world) resetCeilings(program domain.ProgramCode) {
	owed := w.owed()
	for k := range w.ceil {
		if k.program == program {
			w.ceil[k] = owed[k]
		}
	}
}

// logState is the ledger as the raw events tell it, folded here.
type logState struct {
	lines  map[string]*modelLine
	gross  map[mkey]domain.Money // issued − failed − reversed
	claims map[string]*claimState
	byKey  map[mkey]domain.Money // claimed per month
	late   int                   // lines settled late
	faults []string
}

type claimState struct {
	key                                      mkey
	amount, recovered, writtenOff, cancelled domain.Money
}

// remaining is what the claim still asks.
func (c *claimState) remaining() domain.Money {
	return c.amount.Less(c.recovered, c.writtenOff, c.cancelled)
}

func (w *world) readLog() logState {
	s := logState{lines: map[string]*modelLine{}, gross: map[mkey]domain.Money{}, claims: map[string]*claimState{}, byKey: map[mkey]domain.Money{}}
	reg := domain.NewLedgerRegistry()
	sub := func(k mkey, a domain.Money) {
		v, err := s.gross[k].Sub(a)
		if err != nil {
			s.faults = append(s.faults, fmt.Sprintf("%s: more failed or reversed than issued", k))
		}
		s.gross[k] = v
	}
	move := func(ref, from, to string) *modelLine {
		l := s.lines[ref]
		if l == nil || l.status != from {
			s.faults = append(s.faults, fmt.Sprintf("line %s goes to %s from %v, not %s", ref, to, l, from))
			return nil
		}
		l.status = to
		return l
	}
	// The whole log, in global order; every payment event must stand in
	// the payment shard of its person.
	var recs []domain.RecordedEvent
	for from := domain.Start; ; {
		page, err := w.store.ReadAll(context.Background(), from, 1000, domain.Filter{})
		if err != nil {
			w.t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		recs = append(recs, page...)
		from = page[len(page)-1].Position
	}
	{
		for _, rec := range recs {
			env, err := reg.DecodeEnvelope(rec)
			if err != nil {
				w.t.Fatal(err)
			}
			inShard := func(p domain.PersonID, program domain.ProgramCode) {
				if want := domain.PaymentsStream(program, domain.PaymentShard(p)); rec.Stream != want {
					s.faults = append(s.faults, fmt.Sprintf("%s about %s in %s, not %s", rec.Type, p, rec.Stream, want))
				}
			}
			switch e := env.Event.(type) {
			case *domain.LinesReserved:
				for _, l := range e.Lines {
					inShard(l.PersonID, e.Program)
					if s.lines[l.Reference] != nil {
						s.faults = append(s.faults, "line reserved twice: "+l.Reference)
					}
					s.lines[l.Reference] = &modelLine{key: mkey{l.PersonID, e.Program, l.Period}, amount: l.Amount, batch: e.BatchID, status: domain.LineReserved}
				}
			case *domain.LinesReleased:
				for _, ref := range e.References {
					move(ref, domain.LineReserved, domain.LineReleased)
				}
			case *domain.PaymentsIssued:
				for _, p := range e.Payments {
					inShard(p.PersonID, p.Program)
					if l := move(p.Reference, domain.LineReserved, domain.LineIssued); l != nil {
						if !l.amount.Equal(p.Amount) || l.key != (mkey{p.PersonID, p.Program, p.Period}) {
							s.faults = append(s.faults, "issued other than reserved: "+p.Reference)
						}
						s.gross[l.key] = s.gross[l.key].Add(p.Amount)
					}
				}
			case *domain.PaymentIssued:
				s.faults = append(s.faults, "a payment issued without a reservation: "+e.Reference)
			case *domain.PaymentsSettled:
				for _, p := range e.Payments {
					move(p.Reference, domain.LineIssued, domain.LineSettled)
				}
			case *domain.PaymentsFailed:
				for _, p := range e.Payments {
					if l := move(p.Reference, domain.LineIssued, domain.LineFailed); l != nil {
						sub(l.key, l.amount)
					}
				}
			case *domain.PaymentsSettledLate:
				for _, p := range e.Payments {
					if l := move(p.Reference, domain.LineFailed, domain.LineSettled); l != nil {
						s.gross[l.key] = s.gross[l.key].Add(l.amount)
						s.late++
					}
				}
			case *domain.OverpaymentClaimed:
				inShard(e.PersonID, e.Program)
				k := mkey{e.PersonID, e.Program, e.Period}
				if s.claims[e.ClaimID] != nil {
					s.faults = append(s.faults, "claim recorded twice: "+e.ClaimID)
				}
				s.claims[e.ClaimID] = &claimState{key: k, amount: e.Amount}
				s.byKey[k] = s.byKey[k].Add(e.Amount)
			case *domain.OverpaymentRecovered:
				if c := s.claims[e.ClaimID]; c != nil {
					c.recovered = c.recovered.Add(e.Amount)
				} else {
					s.faults = append(s.faults, "recovery of an unknown claim "+e.ClaimID)
				}
			case *domain.OverpaymentWrittenOff:
				if c := s.claims[e.ClaimID]; c != nil {
					c.writtenOff = c.writtenOff.Add(e.Amount)
				} else {
					s.faults = append(s.faults, "write-off of an unknown claim "+e.ClaimID)
				}
			case *domain.OverpaymentCancelled:
				if c := s.claims[e.ClaimID]; c != nil {
					if e.Amount.Cmp(c.remaining()) > 0 {
						s.faults = append(s.faults, fmt.Sprintf("claim %s cancelled by %s while it asked %s", e.ClaimID, e.Amount, c.remaining()))
					}
					c.cancelled = c.cancelled.Add(e.Amount)
					s.byKey[c.key] = s.byKey[c.key].Less(e.Amount)
				} else {
					s.faults = append(s.faults, "cancellation of an unknown claim "+e.ClaimID)
				}
			}
		}
	}
	return s
}

// check holds the ledger to the invariants and the read models to the
// model.
func (w *world) check() error {
	s := w.readLog()
	if len(s.faults) > 0 {
		return errors.New(strings.Join(s.faults, "; "))
	}
	owed := w.owed()
	for k, v := range owed {
		if v.Cmp(w.ceil[k]) > 0 {
			w.ceil[k] = v
		}
	}
	// Never twice: at most one line pays a month at a time.
	open := map[mkey][]string{}
	for ref, l := range s.lines {
		if l.status == domain.LineReserved || l.status == domain.LineIssued {
			open[l.key] = append(open[l.key], ref)
		}
	}
	for k, refs := range open {
		if len(refs) > 1 {
			slices.Sort(refs)
			return fmt.Errorf("%s is paid by %d lines at once: %v", k, len(refs), refs)
		}
	}
	// Never more than owed.
	for k, g := range s.gross {
		kept, err := g.Sub(s.byKey[k])
		if err != nil {
			continue // claimed more than kept: checked by the read models' figures
		}
		if kept.Cmp(w.ceil[k]) > 0 {
			var refs []string
			for ref, l := range s.lines {
				if l.key == k && l.status != domain.LineReleased && l.status != domain.LineReserved {
					refs = append(refs, ref+" "+l.status)
				}
			}
			slices.Sort(refs)
			return fmt.Errorf("%s paid %s, claimed back %s, but owed at most %s: %v", k, g, s.byKey[k], w.ceil[k], refs)
		}
	}
	// A death retracted leaves no claim asking for more than its month is
	// overpaid now: what a claim still asks beyond it is cancelled (money
	// recovered or written off stays as it was).
	for _, pid := range w.retracted {
		remaining := map[mkey]domain.Money{}
		for _, c := range s.claims {
			if c.key.pid == pid {
				remaining[c.key] = remaining[c.key].Add(c.remaining())
			}
		}
		for k, left := range remaining {
			over := s.gross[k].Less(owed[k])
			if !left.IsZero() && s.byKey[k].Cmp(over) > 0 {
				return fmt.Errorf("death of %s retracted, but %s is claimed back %s (%s still asked) while overpaid %s (paid %s, owed %s)",
					pid[:6], k, s.byKey[k], left, over, s.gross[k], owed[k])
			}
		}
	}
	w.retracted = nil
	w.stats.cancelled = 0
	for id, c := range s.claims {
		if !c.cancelled.IsZero() {
			w.stats.cancelled++
		}
		if c.recovered.Add(c.writtenOff).Add(c.cancelled).Cmp(c.amount) > 0 {
			return fmt.Errorf("claim %s of %s was recovered %s, written off %s and cancelled %s", id, c.amount, c.recovered, c.writtenOff, c.cancelled)
		}
	}
	w.lines = s.lines
	for _, l := range s.lines {
		if _, ok := w.batches[l.batch]; !ok {
			w.batches[l.batch] = ""
			w.stats.batches++
		}
	}
	w.stats.issued, w.stats.failed, w.stats.late, w.stats.claims = 0, 0, s.late, len(s.claims)
	for _, l := range s.lines {
		switch l.status {
		case domain.LineIssued, domain.LineSettled:
			w.stats.issued++
		case domain.LineFailed:
			w.stats.issued++
			w.stats.failed++
		}
	}
	return w.checkReadModels(s, owed)
}

// predict is what a draft of program for period pays, by the model: for
// every month up to the period owed more than it was paid and kept
// (issued − failed − reversed − recovered), with no line paying it now.
func (w *world) predict(program domain.ProgramCode, period domain.Period) map[mkey]domain.Money {
	s := w.readLog()
	recovered := map[mkey]domain.Money{}
	for _, c := range s.claims {
		recovered[c.key] = recovered[c.key].Add(c.recovered)
	}
	busy := map[mkey]bool{}
	for _, l := range s.lines {
		if l.status == domain.LineReserved || l.status == domain.LineIssued {
			busy[l.key] = true
		}
	}
	out := map[mkey]domain.Money{}
	for k, o := range w.owed() {
		if k.program != program || k.month.Compare(period) > 0 || busy[k] {
			continue
		}
		kept, err := s.gross[k].Sub(recovered[k])
		if err != nil {
			w.t.Fatalf("%s recovered more than kept", k)
		}
		if due, err := o.Sub(kept); err == nil && !due.IsZero() {
			out[k] = due
		}
	}
	return out
}

// checkDraft compares the lines of the draft that just ran alone with the
// prediction made before it.
func (w *world) checkDraft(program domain.ProgramCode, period domain.Period, predicted map[mkey]domain.Money) {
	got := map[mkey]domain.Money{}
	s := w.readLog()
	var batch string
	for _, l := range s.lines {
		if l.key.program == program && !w.seenBefore(l.batch) {
			batch = l.batch
			got[l.key] = l.amount
		}
	}
	_ = batch
	var diffs []string
	for k, v := range predicted {
		if !got[k].Equal(v) {
			diffs = append(diffs, fmt.Sprintf("%s: predicted %s, drafted %s", k, v, got[k]))
		}
	}
	for k, v := range got {
		if _, ok := predicted[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%s: drafted %s, not predicted", k, v))
		}
	}
	if len(diffs) > 0 {
		slices.Sort(diffs)
		w.t.Fatalf("draft of %s %s differs from the model: %s\nhistory:\n  %s", program, period, strings.Join(diffs, "; "), strings.Join(w.log, "\n  "))
	}
}

// seenBefore reports whether a batch existed before the last group (the
// model notes batches after each check).
func (w *world) seenBefore(batch string) bool {
	_, ok := w.batches[batch]
	return ok
}

// checkReadModels compares the read models' figures with the model's.
func (w *world) checkReadModels(s logState, owed map[mkey]domain.Money) error {
	ctx := context.Background()
	paid := map[mkey]string{}
	rows, err := w.db.Pool.Query(ctx, `SELECT person_id, program, period, paid::text FROM entitlement_paid WHERE paid <> 0`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var pid, program, period, amount string
		if err := rows.Scan(&pid, &program, &period, &amount); err != nil {
			return err
		}
		per, _ := domain.ParsePeriod("period", period)
		paid[mkey{domain.PersonID(pid), domain.ProgramCode(program), per}] = amount
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for k, g := range s.gross {
		if g.IsZero() {
			continue
		}
		if paid[k] != g.String() {
			return fmt.Errorf("read model: %s paid %q, the log says %s", k, paid[k], g)
		}
		delete(paid, k)
	}
	for k, v := range paid {
		return fmt.Errorf("read model: %s paid %s, the log says nothing", k, v)
	}
	// Claims, recoveries and write-offs per person and program.
	type over struct{ claimed, recovered, writtenOff domain.Money }
	want := map[[2]string]*over{}
	for _, c := range s.claims {
		k := [2]string{string(c.key.pid), string(c.key.program)}
		if want[k] == nil {
			want[k] = &over{}
		}
		want[k].claimed = want[k].claimed.Add(c.amount.Less(c.cancelled))
		want[k].recovered = want[k].recovered.Add(c.recovered)
		want[k].writtenOff = want[k].writtenOff.Add(c.writtenOff)
	}
	rows, err = w.db.Pool.Query(ctx, `SELECT person_id, program, claimed::text, recovered::text, written_off::text FROM entitlement_overpayments`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid, program, c, r, wo string
		if err := rows.Scan(&pid, &program, &c, &r, &wo); err != nil {
			return err
		}
		k := [2]string{pid, program}
		o := want[k]
		if o == nil {
			o = &over{}
		}
		if o.claimed.String() != c || o.recovered.String() != r || o.writtenOff.String() != wo {
			return fmt.Errorf("read model: %s %s claimed/recovered/written off %s/%s/%s, the log says %s/%s/%s", pid[:6], program, c, r, wo,
				o.claimed, o.recovered, o.writtenOff)
		}
		delete(want, k)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for k, o := range want {
		if !o.claimed.IsZero() {
			return fmt.Errorf("read model: no overpayments row for %s %s, the log claims %s", k[0][:6], k[1], o.claimed)
		}
	}
	if err := w.checkBatchLines(s); err != nil {
		return err
	}
	// Arrears: per person and program, what is owed and not paid for every
	// month up to the latest month any payment of the program was issued
	// for.
	through := map[domain.ProgramCode]domain.Period{}
	for _, l := range s.lines {
		if l.status != domain.LineReserved && l.status != domain.LineReleased && through[l.key.program].Compare(l.key.month) < 0 {
			through[l.key.program] = l.key.month
		}
	}
	arrears := map[[2]string]domain.Money{}
	for k, o := range owed {
		if t, ok := through[k.program]; !ok || k.month.Compare(t) > 0 {
			continue
		}
		if due, err := o.Sub(s.gross[k]); err == nil {
			key := [2]string{string(k.pid), string(k.program)}
			arrears[key] = arrears[key].Add(due)
		}
	}
	rows, err = w.db.Pool.Query(ctx, `SELECT person_id, program, arrears_owed::text FROM entitlements`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var pid, program, a string
		if err := rows.Scan(&pid, &program, &a); err != nil {
			return err
		}
		if want := arrears[[2]string{pid, program}]; want.String() != a {
			return fmt.Errorf("read model: %s %s arrears owed %s, the model says %s", pid[:6], program, a, want)
		}
	}
	return rows.Err()
}

// checkBatchLines holds the read model of batches' lines to the model's
// lines — each line's batch, person, month, amount and status — and each
// batch's totals by status to the sums of its lines.
func (w *world) checkBatchLines(s logState) error {
	ctx := context.Background()
	type total struct {
		n      int
		amount domain.Money
	}
	want := map[[2]string]total{}
	for _, l := range s.lines {
		k := [2]string{l.batch, l.status}
		want[k] = total{want[k].n + 1, want[k].amount.Add(l.amount)}
	}
	rows, err := w.db.Pool.Query(ctx, `SELECT reference, batch_id, person_id, period, amount::text, status FROM batch_lines`)
	if err != nil {
		return err
	}
	defer rows.Close() // an early return must give the connection back, or the pool's Close waits for ever
	seen := 0
	for rows.Next() {
		var ref, batch, pid, amount, status string
		var period time.Time
		if err := rows.Scan(&ref, &batch, &pid, &period, &amount, &status); err != nil {
			return err
		}
		l := s.lines[ref]
		if l == nil {
			return fmt.Errorf("read model: batch line %s, the log has no such line", ref)
		}
		got := modelLine{key: mkey{domain.PersonID(pid), l.key.program, domain.DateOf(period).Period()}, amount: domain.MustMoney(amount), batch: batch, status: status}
		if got != *l {
			return fmt.Errorf("read model: batch line %s is %+v, the log says %+v", ref, got, *l)
		}
		seen++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if seen != len(s.lines) {
		return fmt.Errorf("read model: %d batch lines, the log has %d", seen, len(s.lines))
	}
	rows, err = w.db.Pool.Query(ctx, `SELECT batch_id, status, sum(lines)::int, sum(amount)::text FROM batch_line_totals GROUP BY 1, 2`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var batch, status, amount string
		var n int
		if err := rows.Scan(&batch, &status, &n, &amount); err != nil {
			return err
		}
		k := [2]string{batch, status}
		if t := want[k]; t.n != n || t.amount.String() != amount {
			return fmt.Errorf("read model: batch %s has %d lines %s for %s, the log says %d for %s", batch, n, status, amount, t.n, t.amount)
		}
		delete(want, k)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for k, t := range want {
		return fmt.Errorf("read model: no total of batch %s's %s lines, the log says %d for %s", k[0], k[1], t.n, t.amount)
	}
	return nil
}

// errCrash is the fault the turnstile injects: the process died between
// two appends (before one, or after it committed and before its answer).
var errCrash = errors.New("injected crash")

// actorKey carries the actor in the context of its calls.
type actorKey struct{}

// turnstile runs a group of actors at once, letting one event-store call
// through at a time, chosen by its random source among the actors waiting
// — so the interleaving of a group is a function of the seed. It also
// injects crashes: an armed actor's n-th append fails, before or after it
// is written.
type turnstile struct {
	r       *rand.Rand
	mu      sync.Mutex
	cond    *sync.Cond
	running int                   // actors between two calls
	waiting map[int]chan struct{} // actors at the turnstile
	fault   map[int]int           // actor → appends left before its crash (0: none)
	after   map[int]bool          // actor → the crash comes after the append is written
	crashed map[int]string
}

func newTurnstile(r *rand.Rand) *turnstile {
	t := &turnstile{r: r, waiting: map[int]chan struct{}{}, fault: map[int]int{}, after: map[int]bool{}, crashed: map[int]string{}}
	t.cond = sync.NewCond(&t.mu)
	return t
}

// run runs n actors, fn(ctx, actor) each on its own goroutine, until all
// end.
func (t *turnstile) run(n int, fn func(ctx context.Context, actor int)) {
	t.mu.Lock()
	t.crashed, t.running = map[int]string{}, n
	t.mu.Unlock()
	for i := range n {
		go func() {
			defer func() {
				t.mu.Lock()
				t.running--
				t.cond.Broadcast()
				t.mu.Unlock()
			}()
			fn(context.WithValue(context.Background(), actorKey{}, i), i)
		}()
	}
	// Whenever every live actor waits at the turnstile, let one through;
	// when none runs and none waits, all have ended.
	for {
		t.mu.Lock()
		for t.running > 0 {
			t.cond.Wait()
		}
		if len(t.waiting) == 0 {
			t.mu.Unlock()
			return
		}
		keys := make([]int, 0, len(t.waiting))
		for k := range t.waiting {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		k := keys[t.r.IntN(len(keys))]
		ch := t.waiting[k]
		delete(t.waiting, k)
		t.running++
		t.mu.Unlock()
		close(ch)
	}
}

// enter waits for the actor's turn; calls outside a group pass at once.
func (t *turnstile) enter(ctx context.Context) (int, bool) {
	actor, ok := ctx.Value(actorKey{}).(int)
	if !ok {
		return 0, false
	}
	ch := make(chan struct{})
	t.mu.Lock()
	t.running--
	t.waiting[actor] = ch
	t.cond.Broadcast()
	t.mu.Unlock()
	<-ch
	return actor, true
}

// arm makes actor's faultAt-th append crash (0: none), before or after it
// is written.
func (t *turnstile) arm(actor, faultAt int, after bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fault[actor], t.after[actor] = faultAt, after
}

// crash reports whether this append of actor is the one to crash, and
// whether after it is written.
func (t *turnstile) crash(actor int, stream string) (crash, after bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fault[actor] == 0 {
		return false, false
	}
	t.fault[actor]--
	if t.fault[actor] > 0 {
		return false, false
	}
	when := "before"
	if t.after[actor] {
		when = "after"
	}
	t.crashed[actor] = when + " an append to " + stream
	return true, t.after[actor]
}

// faultStore is the event store as the actors see it: every call passes
// the turnstile, and armed appends crash.
type faultStore struct {
	domain.EventStore
	gate *turnstile
	mu   sync.Mutex
	pos  domain.Position // the latest append's
}

func (s *faultStore) landed(p domain.Position) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pos.Less(p) {
		s.pos = p
	}
}

func (s *faultStore) last() domain.Position {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pos
}

func (s *faultStore) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	actor, gated := s.gate.enter(ctx)
	if gated {
		crash, after := s.gate.crash(actor, stream)
		if crash && !after {
			return domain.AppendResult{}, errCrash
		}
		res, err := s.EventStore.Append(ctx, stream, expected, events...)
		if err == nil {
			s.landed(res.Position)
		}
		if crash && err == nil {
			return domain.AppendResult{}, errCrash
		}
		return res, err
	}
	res, err := s.EventStore.Append(ctx, stream, expected, events...)
	if err == nil {
		s.landed(res.Position)
	}
	return res, err
}

func (s *faultStore) ReadStream(ctx context.Context, stream string, dir domain.Direction, from uint64, limit int) ([]domain.RecordedEvent, error) {
	s.gate.enter(ctx)
	return s.EventStore.ReadStream(ctx, stream, dir, from, limit)
}

func (s *faultStore) ReadAll(ctx context.Context, from domain.Position, limit int, filter domain.Filter) ([]domain.RecordedEvent, error) {
	s.gate.enter(ctx)
	return s.EventStore.ReadAll(ctx, from, limit, filter)
}

// simReads is the read models as the simulation keeps them: projected
// after every step, so that when a group of finance commands starts they
// hold every caseworker's fact, and the payroll events the group appends
// change nothing a draft reads from them. CaughtUp checks the first half:
// the entitlements projection has applied the last fact.
type simReads struct {
	projections.ReadModels
	w *world
}

func (r simReads) CaughtUp(ctx context.Context) error {
	cps, err := projections.Checkpoints(ctx, r.w.db.Pool)
	if err != nil {
		return err
	}
	for _, c := range cps {
		if c.Name == "entitlements" && !c.Position.Less(r.w.lastFact) {
			return nil
		}
	}
	return fmt.Errorf("the entitlements projection has not applied the last fact at %s: %w", r.w.lastFact, domain.ErrUnavailable)
}

var quietLog = slog.New(slog.DiscardHandler)
