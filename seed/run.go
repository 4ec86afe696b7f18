package seed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// Sealer seals bank account numbers as the API does before they reach the
// ledger, and opens them to write payment files.
type Sealer interface {
	Seal(plain string) (string, error)
	Open(sealed string) (string, error)
}

// ReadModels is what the seed reads back from the projections: what the
// payroll use cases read, and a wait for a position.
type ReadModels interface {
	app.ReadModels
	app.RosterReads // the persons a roster's department decides
	// WaitFor returns once every read model has applied the log up to and
	// including pos.
	WaitFor(ctx context.Context, pos domain.Position) error
}

// Ports are the seed's connections to the ledger.
type Ports struct {
	Store      domain.EventStore
	ReadModels ReadModels
	Accounts   Sealer
	// Files, when set, receives every bank payment and return file and
	// every department's roster.
	Files func(name string, data []byte) error
	// ReadRoster parses a department's roster file (adapters/roster.Read);
	// nil: the demo imports no rosters.
	ReadRoster func(data []byte, name string, source domain.RosterSource, asOf domain.Date) (domain.Roster, error)
}

// Options tune a run.
type Options struct {
	// Workers is how many persons' commands run at once (default 8).
	Workers int
	// Progress receives a line per phase (nil: none).
	Progress io.Writer
}

// payrollPrograms are the programs payroll pays, every month: the monthly
// ones, the annual fuel allowance and the one-off grants.
var payrollPrograms = domain.PayablePrograms()

// executor runs a plan against the ledger.
type executor struct {
	pl      *Plan
	ports   Ports
	opts    Options
	handler *app.Persons
	payroll *app.Payroll
	budget  *app.Budgets
	byPID   map[domain.PersonID]*person
	next    []int // per person: the next action to run

	mu       sync.Mutex
	last     domain.Position // the latest position appended
	commands int

	lines, failed int
	pending       []*batchRun // this month's batches, waiting for the bank's return
}

// Run executes the plan: every person's commands in time order, each
// month's payroll at its place in the year. It returns an error if the
// ledger did not end up paying what the plan expects. A plan runs once.
func (pl *Plan) Run(ctx context.Context, ports Ports, opts Options) error {
	if pl.ran {
		return errors.New("seed: this plan has run already; plan again to run again")
	}
	pl.ran = true
	if opts.Workers <= 0 {
		opts.Workers = 8
	}
	if opts.Progress == nil {
		opts.Progress = io.Discard
	}
	x := &executor{
		pl: pl, ports: ports, opts: opts,
		handler: app.NewPersons(ports.Store), payroll: app.NewPayroll(ports.Store, ports.ReadModels, ports.Accounts),
		budget: app.NewBudgets(ports.Store),
		byPID:  map[domain.PersonID]*person{}, next: make([]int, len(pl.persons)),
	}
	for _, p := range pl.persons {
		x.byPID[p.pid] = p
	}
	return x.run(ctx)
}

func (x *executor) logf(format string, args ...any) {
	fmt.Fprintf(x.opts.Progress, "seed %s: "+format+"\n", append([]any{Lushan2024}, args...)...)
}

func (x *executor) run(ctx context.Context) error {
	start := time.Now()
	if err := x.step(ctx, "2023-12 migration", clock(yearFirst, 0, 0)); err != nil {
		return err
	}
	for m := 1; m <= 12; m++ {
		month := fmt.Sprintf("2024-%02d", m)
		if err := x.budgets(ctx, draftTime(m)); err != nil {
			return err
		}
		if err := x.step(ctx, month+" before payroll", draftTime(m)); err != nil {
			return err
		}
		if m > 1 {
			// Last month's rosters: by now every change of last month
			// the townships reported is recorded (recordBy).
			if err := x.importRosters(ctx, m-1, draftTime(m).Add(-time.Hour)); err != nil {
				return err
			}
		}
		if err := x.runPayroll(ctx, m); err != nil {
			return err
		}
		if err := x.step(ctx, month+" after payroll", reconcileTime(m)); err != nil {
			return err
		}
		if err := x.reconcile(ctx, m); err != nil {
			return err
		}
		until := clock(monthDate(m, 1).AddDays(31).Period().First(), 0, 0) // the first of the next month
		if err := x.step(ctx, month+" end", until); err != nil {
			return err
		}
	}
	if err := x.importRosters(ctx, 12, clock(domain.MustDate("2025-01-06"), 9, 0)); err != nil {
		return err
	}
	if err := x.ports.ReadModels.WaitFor(ctx, x.position()); err != nil {
		return err
	}
	if err := x.verify(ctx); err != nil {
		return err
	}
	x.logf("done in %s: %d persons, %d commands, %d payment lines (%d failed and re-issued)",
		time.Since(start).Round(100*time.Millisecond), len(x.pl.persons), x.commands, x.lines, x.failed)
	return nil
}

// observe notes where an append landed.
func (x *executor) observe(pos domain.Position) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.last.Less(pos) {
		x.last = pos
	}
}

func (x *executor) position() domain.Position {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.last
}

// step runs every person's commands recorded before until, persons in
// parallel, each person's in order.
func (x *executor) step(ctx context.Context, name string, until time.Time) error {
	started := time.Now()
	var due []*person
	n := 0
	for _, p := range x.pl.persons {
		k := x.next[p.idx]
		if k < len(p.actions) && p.actions[k].at.Before(until) {
			due = append(due, p)
			for ; k < len(p.actions) && p.actions[k].at.Before(until); k++ {
				n++
			}
		}
	}
	if n == 0 {
		return nil
	}
	err := parallel(ctx, x.opts.Workers, due, func(ctx context.Context, p *person) error {
		for x.next[p.idx] < len(p.actions) && p.actions[x.next[p.idx]].at.Before(until) {
			if err := x.execute(ctx, p, x.next[p.idx]); err != nil {
				return err
			}
			x.next[p.idx]++
		}
		return nil
	})
	if err != nil {
		return err
	}
	took := time.Since(started)
	x.logf("%s: %d persons, %d commands in %s (%.0f commands/s)", name, len(due), n,
		took.Round(100*time.Millisecond), float64(n)/max(took.Seconds(), 0.001))
	return nil
}

// execute runs p's k-th action through the command handler.
func (x *executor) execute(ctx context.Context, p *person, k int) error {
	a := p.actions[k]
	cmd := a.cmd
	if a.acct != nil {
		n, err := domain.ParseBankAccountNumber("account_number", a.acct.number)
		if err != nil {
			return err
		}
		sealed, err := x.ports.Accounts.Seal(n.Digits())
		if err != nil {
			return fmt.Errorf("seal account: %w", err)
		}
		cmd = domain.RecordBankAccount{Account: domain.BankAccount{AccountName: a.acct.holder, Bank: a.acct.bank,
			AccountMasked: n.Masked(), AccountSealed: sealed}}
	}
	meta := domain.CommandMeta{CommandID: a.id, Actor: a.actor, Role: a.role, Reason: a.reason, Now: a.at}
	res, err := x.handler.Execute(ctx, p.pid, meta, cmd)
	if err != nil {
		return fmt.Errorf("seed: %s of person %s at %s: %w", cmd.CommandName(), p.pid, a.at.Format(time.DateTime), err)
	}
	x.observe(res.Position)
	x.mu.Lock()
	x.commands++
	x.mu.Unlock()
	return nil
}

// parallel runs fn on every item with up to n at a time, stopping at the
// first error.
func parallel[T any](ctx context.Context, n int, items []T, fn func(context.Context, T) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan T)
	var wg sync.WaitGroup
	for range min(n, len(items)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range work {
				if err := fn(ctx, it); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, it := range items {
		select {
		case work <- it:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// budgets allocates the budgets recorded before until and not yet
// allocated.
func (x *executor) budgets(ctx context.Context, until time.Time) error {
	for i, b := range x.pl.budgets {
		if b.at.IsZero() || !b.at.Before(until) {
			continue
		}
		// Proposed by one finance officer, allocated by the other.
		id := fmt.Sprintf("%s/s%d/budget/%s/%d", Lushan2024, x.pl.seed, b.program, i)
		meta := domain.CommandMeta{CommandID: id, Actor: financeMaker, Role: roleFinance, Reason: b.reason, Now: b.at}
		budget := domain.AllocateBudget{Program: b.program, FiscalYear: 2024, Amount: b.amount}
		if _, _, err := x.budget.Propose(ctx, meta, domain.ProposeBudget{AllocateBudget: budget, ProposedBy: financeMaker}); err != nil {
			return fmt.Errorf("seed: budget of %s: %w", b.program, err)
		}
		meta = domain.CommandMeta{CommandID: id + "/approve", Actor: financeChecker, Role: roleFinance, Now: b.at.Add(30 * time.Minute)}
		res, _, err := x.budget.Approve(ctx, meta, domain.ApproveBudget{Program: b.program, FiscalYear: 2024, ApprovedBy: financeChecker})
		if err != nil {
			return fmt.Errorf("seed: budget of %s: %w", b.program, err)
		}
		x.observe(res.Position)
		x.pl.budgets[i].at = time.Time{} // done
	}
	return nil
}

// batchRun is one program's payroll of a month.
type batchRun struct {
	program domain.ProgramCode
	id      string
	lines   []domain.PayrollLine
	total   domain.Money
}

// runPayroll drafts, approves and exports month m's batch of every monthly
// program, once the read models have caught up with the month's changes.
func (x *executor) runPayroll(ctx context.Context, m int) error {
	started := time.Now()
	if err := x.ports.ReadModels.WaitFor(ctx, x.position()); err != nil {
		return err
	}
	waited := time.Since(started)
	cal := payrollCalendar[m-1]
	period, _ := domain.NewPeriod(2024, time.Month(m))
	runs := make([]*batchRun, len(payrollPrograms))
	idx := make([]int, len(payrollPrograms))
	for i := range idx {
		idx[i] = i
	}
	err := parallel(ctx, len(payrollPrograms), idx, func(ctx context.Context, i int) error {
		run, err := x.batch(ctx, payrollPrograms[i], period, cal, i)
		runs[i] = run
		return err
	})
	if err != nil {
		return err
	}
	var parts []string
	for _, run := range runs {
		if run != nil {
			parts = append(parts, fmt.Sprintf("%s %d lines %s", run.program, len(run.lines), run.total))
			x.lines += len(run.lines)
		}
	}
	x.pending = runs
	x.logf("2024-%02d payroll drafted, approved, exported: %s (%s, of which %s waiting for the read models)", m, strings.Join(parts, ", "),
		time.Since(started).Round(100*time.Millisecond), waited.Round(100*time.Millisecond))
	return nil
}

// financeMeta is the envelope of a finance officer's action.
func (x *executor) financeMeta(id, actor string, at time.Time) domain.CommandMeta {
	return domain.CommandMeta{CommandID: fmt.Sprintf("%s/s%d/%s", Lushan2024, x.pl.seed, id), Actor: actor, Role: roleFinance, Now: at}
}

// batch runs one program's payroll for period as a finance officer does:
// draft (`ledger payroll run`, claims first), approve, export. It returns
// nil when nothing is owed.
func (x *executor) batch(ctx context.Context, program domain.ProgramCode, period domain.Period, cal payrollDay, i int) (*batchRun, error) {
	draftAt := clock(cal.draft, 9, 30).Add(time.Duration(i) * time.Minute)
	key := fmt.Sprintf("%s/%s", program, period)
	d, err := x.payroll.Draft(ctx, x.financeMeta("payroll-run/"+key, financeMaker, draftAt), app.DraftRequest{Program: program, Period: period, PaidOn: cal.paid})
	var re *domain.RuleError
	if errors.As(err, &re) && re.Rule == domain.RuleNothingToPay {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(d.Claims) > 0 {
		// The plan records every end before the payroll it affects
		// (Plan.check proves it), so nothing paid is ever claimed back.
		return nil, fmt.Errorf("seed: the %s draft recorded %d overpayment claims (first: %s)", key, len(d.Claims), d.Claims[0].ClaimID)
	}
	id := d.Batch.BatchID
	res, err := x.payroll.Approve(ctx, x.financeMeta("payroll-approve/"+key, financeChecker, clock(cal.draft, 14, 30).Add(time.Duration(i)*time.Minute)), id)
	if err != nil {
		return nil, err
	}
	x.observe(res.Position)
	exp, err := x.payroll.Export(ctx, x.financeMeta("payroll-export/"+key, financeMaker, clock(cal.draft, 16, 0).Add(time.Duration(i)*time.Minute)),
		app.ExportRequest{BatchID: id, Format: "csv", Encoding: "gb18030"})
	if err != nil {
		return nil, err
	}
	x.observe(exp.Position)
	if x.ports.Files != nil {
		if err := x.ports.Files(exp.Name, exp.File); err != nil {
			return nil, err
		}
	}
	rep, err := x.payroll.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	run := &batchRun{program: program, id: id, total: res.Issued.Total}
	for _, l := range rep.Lines {
		if l.Status == domain.LineIssued {
			run.lines = append(run.lines, l.PayrollLine)
		}
	}
	return run, nil
}

// bankFailures are the reasons a bank returns a payment unpaid.
var bankFailures = []string{"账户已销户", "户名与账号不符", "账户已冻结", "卡片已挂失"}

// reconcile imports the bank's return file of each of month m's batches.
// In January to November the bank fails every payment to a few persons
// (closed or frozen accounts); the caseworker records their new card, and
// the next month's batch pays them again.
func (x *executor) reconcile(ctx context.Context, m int) error {
	runs := x.pending
	x.pending = nil
	started := time.Now()
	cal := payrollCalendar[m-1]
	failing := map[domain.PersonID]string{}
	if m <= 11 {
		r := rand.New(rand.NewPCG(x.pl.seed, uint64(1000+m)))
		var candidates []domain.PersonID
		for _, run := range runs {
			if run == nil {
				continue
			}
			for _, l := range run.lines {
				if p := x.byPID[l.PersonID]; p != nil && p.death == 0 && !slices.Contains(candidates, l.PersonID) {
					candidates = append(candidates, l.PersonID)
				}
			}
		}
		slices.Sort(candidates)
		for range min(1+r.IntN(4), len(candidates)) {
			k := r.IntN(len(candidates))
			failing[candidates[k]] = bankFailures[r.IntN(len(bankFailures))]
			candidates = slices.Delete(candidates, k, k+1)
		}
	}
	failed := 0
	err := parallel(ctx, len(runs), runs, func(ctx context.Context, run *batchRun) error {
		if run == nil {
			return nil
		}
		var ret strings.Builder
		ret.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
		want := 0
		for k, l := range run.lines {
			if reason, ok := failing[l.PersonID]; ok {
				fmt.Fprintf(&ret, "%s,%s,失败,%s,\r\n", l.Reference, l.Amount, reason)
				want++
				continue
			}
			fmt.Fprintf(&ret, "%s,%s,成功,,B%s%06d\r\n", l.Reference, l.Amount, strings.ReplaceAll(cal.paid.String(), "-", ""), k+1)
		}
		raw := []byte(ret.String())
		name := run.id + ".return.csv"
		if x.ports.Files != nil {
			if err := x.ports.Files(name, raw); err != nil {
				return err
			}
		}
		meta := x.financeMeta("reconcile/"+run.id, financeMaker, reconcileTime(m).Add(time.Duration(slices.Index(payrollPrograms, run.program))*time.Minute))
		applied, err := x.payroll.Reconcile(ctx, meta, app.ReconcileRequest{BatchID: run.id, Name: name, Raw: raw, On: cal.paid})
		if err != nil {
			return err
		}
		if applied.Totals.Failed.Count != want || applied.Totals.Settled.Count != len(run.lines)-want {
			return fmt.Errorf("seed: reconciling %s settled %d and failed %d lines, want %d and %d",
				run.id, applied.Totals.Settled.Count, applied.Totals.Failed.Count, len(run.lines)-want, want)
		}
		x.observe(applied.Position)
		x.mu.Lock()
		failed += want
		x.mu.Unlock()
		return nil
	})
	if err != nil {
		return err
	}
	x.failed += failed
	// The caseworker records each failing person's new card a few days
	// later, before the next payroll.
	for _, pid := range slices.Sorted(maps.Keys(failing)) {
		p := x.byPID[pid]
		r := rand.New(rand.NewPCG(x.pl.seed, uint64(m)<<32|uint64(p.idx)))
		day := recordDay(cal.reconcile.AddDays(1 + r.IntN(4)))
		if last := deadlineBefore(m + 1); day.After(last) {
			day = last
		}
		bk := pickBank(r)
		acct := accountPlan{holder: p.acct.holder, bank: bk.name, number: cardNumber(r, bk)}
		x.insert(p, action{at: officeTime(r, day), actor: clerks[townshipIndex(p.township)%len(clerks)], role: roleClerk,
			reason: "银行退回：" + failing[pid] + "，登记新卡", acct: &acct,
			id: fmt.Sprintf("%s/s%d/%s/new-card-2024-%02d", Lushan2024, x.pl.seed, pid, m)})
	}
	if len(failing) > 0 {
		x.logf("2024-%02d reconciled: %d payments to %d persons failed (%s); new cards recorded, re-issued next month (%s)",
			m, failed, len(failing), joinReasons(failing), time.Since(started).Round(100*time.Millisecond))
	} else {
		x.logf("2024-%02d reconciled: every payment settled (%s)", m, time.Since(started).Round(100*time.Millisecond))
	}
	return nil
}

func joinReasons(m map[domain.PersonID]string) string {
	var rs []string
	for _, pid := range slices.Sorted(maps.Keys(m)) {
		rs = append(rs, m[pid])
	}
	return strings.Join(rs, ", ")
}

// insert adds an action to p's remaining ones, in time order.
func (x *executor) insert(p *person, a action) {
	k := x.next[p.idx]
	for k < len(p.actions) && !a.at.Before(p.actions[k].at) {
		k++
	}
	p.actions = slices.Insert(p.actions, k, a)
}

// verify checks that the payroll paid, net of failures, what the plan
// expects for each program payroll pays, and that no period was paid that is
// not owed: there is no overpayment to claim.
func (x *executor) verify(ctx context.Context) error {
	for _, program := range payrollPrograms {
		batches, err := x.payroll.Batches(ctx, program)
		if err != nil {
			return err
		}
		total := domain.Money{}
		for _, b := range batches {
			if b.Issued != nil {
				r, err := x.payroll.Report(ctx, b.Opened.BatchID)
				if err != nil {
					return err
				}
				total = total.Add(r.Settled.Total).Add(r.Outstanding.Total)
			}
		}
		if want := x.pl.want.Program(program).Paid; !total.Equal(want) {
			return fmt.Errorf("seed: the 2024 payrolls paid %s for %s, the plan expects %s", total, program, want)
		}
	}
	over, err := x.payroll.Overpaid(ctx, payrollPrograms...)
	if err != nil {
		return err
	}
	if len(over) > 0 {
		return fmt.Errorf("seed: %d months were paid but not owed (first: %s %s %s)", len(over), over[0].PersonID, over[0].Program, over[0].Period)
	}
	return nil
}
