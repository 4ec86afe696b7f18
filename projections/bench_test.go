package projections_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// This file holds the payment-log generator that the property tests of
// the spending, payments and event_index projections share, and the
// benchmarks that use it.

// payGen generates a valid payment log: every failure and settlement
// concerns an issued, open payment, every reversal a settled one, every
// re-issue a failed one; budgets are allocated and re-allocated; some
// events no payment projection cares about are mixed in. It records each
// payment's final state so tests can recompute totals in Go.
type payGen struct {
	r        *rand.Rand
	log      *prtest.Log
	programs []domain.ProgramCode
	towns    []string
	persons  []domain.PersonID
	months   []domain.Period
	seq      int

	open, settled, failed []string // references by state, for picking
	pays                  map[string]*genPayment
	budgets               map[genBudgetKey]domain.Money
	// sums of amounts by event type and program, straight from the events
	issuedSum, failedSum, reversedSum map[domain.ProgramCode]int64
}

type genPayment struct {
	line     domain.PaymentLine
	status   string
	statusOn domain.Date
	bankRef  string
	reason   string
}

type genBudgetKey struct {
	program domain.ProgramCode
	year    int
}

// payWeights are the relative frequencies of issue, settle, fail, reverse,
// re-issue, budget and unrelated events.
type payWeights [7]int

var payPropertyWeights = payWeights{40, 22, 10, 6, 6, 6, 10}

func newPayGen(seed uint64, nPrograms, nTowns, nPersons int) *payGen {
	g := &payGen{
		r:           rand.New(rand.NewPCG(seed, 0x5eed)),
		log:         prtest.NewLog(time.Date(2024, 1, 2, 9, 0, 0, 0, time.UTC)),
		pays:        map[string]*genPayment{},
		budgets:     map[genBudgetKey]domain.Money{},
		issuedSum:   map[domain.ProgramCode]int64{},
		failedSum:   map[domain.ProgramCode]int64{},
		reversedSum: map[domain.ProgramCode]int64{},
	}
	all := []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy, domain.ProgramDeviceSubsidy, domain.ProgramPublicWelfareJob}
	g.programs = all[:nPrograms]
	g.towns = []string{"蛟塘镇", "星子镇", "白鹿镇", "温泉镇", "华林镇", "横塘镇"}[:nTowns]
	for i := range nPersons {
		g.persons = append(g.persons, domain.PersonID(fmt.Sprintf("%020x", 0xa0000+i)))
	}
	for i := range 18 { // 2024-01 .. 2025-06
		per, _ := domain.NewPeriod(2024+i/12, time.Month(i%12+1))
		g.months = append(g.months, per)
	}
	return g
}

// run generates n events with weights w.
func (g *payGen) run(n int, w payWeights) []domain.Envelope {
	total := 0
	for _, x := range w {
		total += x
	}
	for len(g.log.Envelopes) < n {
		k, x := 0, g.r.IntN(total)
		for x >= w[k] {
			x -= w[k]
			k++
		}
		switch k {
		case 0:
			g.issue()
		case 1:
			g.settle()
		case 2:
			g.fail()
		case 3:
			g.reverse()
		case 4:
			g.reissue()
		case 5:
			g.budget()
		case 6:
			g.unrelated()
		}
	}
	return g.log.Envelopes
}

func (g *payGen) pick(list *[]string) (string, bool) {
	if len(*list) == 0 {
		return "", false
	}
	i := g.r.IntN(len(*list))
	ref := (*list)[i]
	(*list)[i] = (*list)[len(*list)-1]
	*list = (*list)[:len(*list)-1]
	return ref, true
}

func (g *payGen) amount() domain.Money {
	var fen int64
	switch g.r.IntN(4) {
	case 0:
		fen = 11000
	case 1:
		fen = 10000
	default:
		fen = 1 + g.r.Int64N(300000)
	}
	m, _ := domain.MoneyFromFen(fen)
	return m
}

func (g *payGen) newLine(kind domain.PaymentKind, person domain.PersonID, program domain.ProgramCode, town string, period domain.Period, paid domain.Period) domain.PaymentLine {
	g.seq++
	return domain.PaymentLine{
		Reference: fmt.Sprintf("PAY-%07d", g.seq),
		BatchID:   fmt.Sprintf("%s-%s-%d", program, paid, g.r.IntN(2)),
		PersonID:  person,
		Program:   program,
		Period:    period,
		Kind:      kind,
		Amount:    g.amount(),
		Township:  town,
		PaidOn:    paid.First().AddDays(g.r.IntN(28)),
	}
}

func (g *payGen) add(l domain.PaymentLine, ev domain.Event) {
	g.log.Add(domain.PaymentsStream(l.Program, domain.PaymentShard(l.PersonID)), ev)
}

func (g *payGen) issue() {
	pi := g.r.IntN(len(g.persons))
	town := g.towns[pi%len(g.towns)]
	if g.r.IntN(10) == 0 { // moved
		town = g.towns[g.r.IntN(len(g.towns))]
	}
	mi := g.r.IntN(len(g.months))
	period, kind := g.months[mi], domain.PaymentRegular
	if d := g.r.IntN(4); d > 0 && d <= mi && g.r.IntN(3) == 0 { // arrears for an earlier month
		period, kind = g.months[mi-d], domain.PaymentArrears
	}
	l := g.newLine(kind, g.persons[pi], g.programs[g.r.IntN(len(g.programs))], town, period, g.months[mi])
	g.issueLine(l)
}

func (g *payGen) issueLine(l domain.PaymentLine) {
	g.pays[l.Reference] = &genPayment{line: l, status: "issued", statusOn: l.PaidOn}
	g.open = append(g.open, l.Reference)
	g.issuedSum[l.Program] += l.Amount.Fen()
	g.add(l, domain.PaymentIssued{PaymentLine: l})
}

func (g *payGen) settle() {
	ref, ok := g.pick(&g.open)
	if !ok {
		g.issue()
		return
	}
	g.settleRef(ref)
	g.settled = append(g.settled, ref)
}

func (g *payGen) settleRef(ref string) {
	p := g.pays[ref]
	p.status, p.statusOn, p.bankRef, p.reason = "settled", p.line.PaidOn.AddDays(1+g.r.IntN(5)), "BK"+ref[4:], ""
	g.add(p.line, domain.PaymentSettled{PaymentLine: p.line, BankReference: p.bankRef, SettledOn: p.statusOn})
}

func (g *payGen) fail() {
	ref, ok := g.pick(&g.open)
	if !ok {
		g.issue()
		return
	}
	g.failRef(ref)
	g.failed = append(g.failed, ref)
}

func (g *payGen) failRef(ref string) {
	p := g.pays[ref]
	p.status, p.statusOn, p.reason = "failed", p.line.PaidOn.AddDays(2+g.r.IntN(5)), "account closed"
	g.failedSum[p.line.Program] += p.line.Amount.Fen()
	g.add(p.line, domain.PaymentFailed{PaymentLine: p.line, Reason: p.reason, FailedOn: p.statusOn})
}

func (g *payGen) reverse() {
	ref, ok := g.pick(&g.settled)
	if !ok {
		g.issue()
		return
	}
	g.reverseRef(ref)
}

func (g *payGen) reverseRef(ref string) {
	p := g.pays[ref]
	p.status, p.statusOn, p.reason = "reversed", p.statusOn.AddDays(10+g.r.IntN(40)), "paid after death"
	g.reversedSum[p.line.Program] += p.line.Amount.Fen()
	g.add(p.line, domain.PaymentReversed{PaymentLine: p.line, Reason: p.reason, ReversedOn: p.statusOn})
}

// reissue pays a failed payment again, in a later month.
func (g *payGen) reissue() {
	ref, ok := g.pick(&g.failed)
	if !ok {
		g.issue()
		return
	}
	old := g.pays[ref].line
	paid := old.PaidOn.Period().Next()
	if g.r.IntN(2) == 0 {
		paid = paid.Next()
	}
	l := g.newLine(domain.PaymentReissue, old.PersonID, old.Program, old.Township, old.Period, paid)
	l.Amount = old.Amount
	g.issueLine(l)
}

func (g *payGen) budget() {
	k := genBudgetKey{g.programs[g.r.IntN(len(g.programs))], 2024 + g.r.IntN(2)}
	m, _ := domain.MoneyFromFen(g.r.Int64N(1_000_000_00))
	g.budgets[k] = m
	g.log.AddBy(domain.ProgramStream(k.program), "finance.test", "finance", domain.BudgetAllocated{Program: k.program, FiscalYear: k.year, Amount: m})
}

func (g *payGen) unrelated() {
	p := g.persons[g.r.IntN(len(g.persons))]
	prog := g.programs[g.r.IntN(len(g.programs))]
	m := g.amount()
	if g.r.IntN(2) == 0 {
		g.log.Add(domain.PaymentsStream(prog, domain.PaymentShard(p)), domain.OverpaymentClaimed{
			ClaimID: fmt.Sprintf("CLM-%d", len(g.log.Envelopes)), PersonID: p, Program: prog, Period: g.months[0],
			Amount: m, ClaimedOn: domain.MustDate("2024-06-30"),
		})
		return
	}
	g.log.Add(domain.PaymentsStream(prog, domain.PaymentShard(p)), domain.OverpaymentRecovered{
		ClaimID: fmt.Sprintf("CLM-%d", len(g.log.Envelopes)), PersonID: p, Program: prog, Amount: m,
		RecoveredOn: domain.MustDate("2024-07-31"),
	})
}

// counted reports whether a payment counts in spending at the end.
func (p *genPayment) counted() bool { return p.status == "issued" || p.status == "settled" }

// payroll generates at least n events the way monthly payroll writes
// them: month by month, each program's run issues a payment to every
// person holding the program (living subsidy: two persons in three; care
// subsidy: every other person), in random order; unless issuesOnly, the
// bank then settles 98% and fails 2%, failures are re-issued the next
// month, and one settled payment in 500 is reversed.
func (g *payGen) payroll(n int, issuesOnly bool) []domain.Envelope {
	var failed, settled []string
	for m := 0; len(g.log.Envelopes) < n; m++ {
		paid, _ := domain.NewPeriod(2024+m/12, time.Month(m%12+1))
		for _, ref := range failed { // re-issue last month's failures
			old := g.pays[ref].line
			l := g.newLine(domain.PaymentReissue, old.PersonID, old.Program, old.Township, old.Period, paid)
			l.Amount = old.Amount
			g.issueLine(l)
		}
		failed = failed[:0]
		for pr, prog := range g.programs {
			var refs []string
			for _, pi := range g.r.Perm(len(g.persons)) {
				if (pr == 0 && pi%3 == 0) || (pr == 1 && pi%2 == 1) {
					continue
				}
				l := g.newLine(domain.PaymentRegular, g.persons[pi], prog, g.towns[pi%len(g.towns)], paid, paid)
				l.Amount = domain.MustMoney("110.00")
				g.issueLine(l)
				refs = append(refs, l.Reference)
				if len(g.log.Envelopes) >= n {
					return g.log.Envelopes
				}
			}
			if issuesOnly {
				continue
			}
			for _, ref := range refs {
				if g.r.IntN(50) == 0 {
					g.failRef(ref)
					failed = append(failed, ref)
				} else {
					g.settleRef(ref)
					if g.r.IntN(500) == 0 {
						settled = append(settled, ref)
					}
				}
				if len(g.log.Envelopes) >= n {
					return g.log.Envelopes
				}
			}
		}
		for _, ref := range settled {
			g.reverseRef(ref)
		}
		settled = settled[:0]
	}
	return g.log.Envelopes
}

// payRebuildEvents returns n PaymentIssued events shaped like
// BenchmarkRebuild's seed: 12 months of living subsidy over n/12 persons
// in person order, townships round robin.
func payRebuildEvents(n int) []domain.Envelope {
	log := prtest.NewLog(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	towns := []string{"蛟塘镇", "星子镇", "白鹿镇", "温泉镇"}
	persons := max(n/12, 1)
	for i := range n {
		period, _ := domain.NewPeriod(2024, time.Month(1+(i/persons)%12))
		l := domain.PaymentLine{
			Reference: fmt.Sprintf("LS-%s-%07d", period, i), BatchID: "LS-" + period.String(),
			PersonID: domain.PersonID(fmt.Sprintf("%020x", i%persons)), Program: domain.ProgramLivingSubsidy,
			Period: period, Kind: domain.PaymentRegular, Amount: domain.MustMoney("100.00"),
			Township: towns[i%len(towns)], PaidOn: period.First().AddDays(19),
		}
		log.Add(fmt.Sprintf("payroll-bench.%d", i/1000), domain.PaymentIssued{PaymentLine: l})
	}
	return log.Envelopes
}

// payBenchEvents returns n payment events of a county-sized payroll
// (2 programs, 4 townships, 20,000 persons: about 23,000 payments and
// 47,000 events a month).
func payBenchEvents(n int, issuesOnly bool) []domain.Envelope {
	return newPayGen(1, 2, 4, 20000).payroll(n, issuesOnly)[:n]
}

func payBenchApply(b *testing.B, p projections.Projection, issuesOnly bool) {
	payBenchApplyEvents(b, p, payBenchEvents(b.N, issuesOnly))
}

func payBenchApplyEvents(b *testing.B, p projections.Projection, envs []domain.Envelope) {
	db := prtest.Setup(b, p)
	ctx := context.Background()
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	cpu0 := backendCPU(conn.Conn())
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < len(envs); i += 1000 {
		end := min(i+1000, len(envs))
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return p.Apply(ctx, tx, envs[i:end]) }); err != nil {
			b.Fatal(err)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(len(envs))/el.Seconds(), "events/s")
	b.ReportMetric(float64((backendCPU(conn.Conn())-cpu0).Microseconds())/float64(len(envs)), "pg-cpu-us/event")
}

// backendCPU returns the CPU time the server process behind c has used so
// far, or 0 if it cannot be read (Linux, server on this machine). Other
// load on the machine skews it less than it skews wall time.
func backendCPU(c *pgx.Conn) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.PgConn().PID()))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	ut, _ := strconv.Atoi(f[11])
	st, _ := strconv.Atoi(f[12])
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// The Apply benchmarks project b.N generated events in batches of 1,000,
// one transaction each, into a fresh schema, and report events/s and the
// server's CPU per event. "payroll" is a county's monthly payroll (half
// issues, most of the rest settlements, some failures, re-issues and
// reversals); "issues" the same runs with issues only, in random person
// order; "rebuild_shape" issues only, shaped like BenchmarkRebuild's seed
// (persons in order). Issues are the expensive events: each is a new
// payments row and, for spending, a new or rewritten spending_persons row.
func BenchmarkSpendingApply(b *testing.B) {
	b.Run("payroll", func(b *testing.B) { payBenchApply(b, projections.SpendingProjection{}, false) })
	b.Run("issues", func(b *testing.B) { payBenchApply(b, projections.SpendingProjection{}, true) })
	b.Run("rebuild_shape", func(b *testing.B) { payBenchApplyEvents(b, projections.SpendingProjection{}, payRebuildEvents(b.N)) })
}

func BenchmarkPaymentsApply(b *testing.B) {
	b.Run("payroll", func(b *testing.B) { payBenchApply(b, projections.PaymentsProjection{}, false) })
	b.Run("issues", func(b *testing.B) { payBenchApply(b, projections.PaymentsProjection{}, true) })
	b.Run("rebuild_shape", func(b *testing.B) { payBenchApplyEvents(b, projections.PaymentsProjection{}, payRebuildEvents(b.N)) })
}

func BenchmarkEventIndexApply(b *testing.B) {
	b.Run("payroll", func(b *testing.B) { payBenchApply(b, projections.EventIndexProjection{}, false) })
}

// payCopyFloorTable is shaped like the payments register, with its indexes,
// as anyone would write it: plain TEXT in the database's collation.
const payCopyFloorTable = `
CREATE TABLE copy_floor (
    reference TEXT PRIMARY KEY, batch_id TEXT NOT NULL, person_id TEXT NOT NULL, program TEXT NOT NULL,
    period DATE NOT NULL, kind TEXT NOT NULL, amount NUMERIC(14,2) NOT NULL, township TEXT NOT NULL,
    paid_on DATE NOT NULL, status TEXT NOT NULL, status_on DATE NOT NULL, bank_reference TEXT NOT NULL,
    reason TEXT NOT NULL, issued_commit BIGINT NOT NULL, issued_prepare BIGINT NOT NULL,
    updated_commit BIGINT NOT NULL, updated_prepare BIGINT NOT NULL
);
CREATE INDEX copy_floor_batch ON copy_floor (batch_id);
CREATE INDEX copy_floor_person ON copy_floor (person_id, program, period);`

// BenchmarkCopyFloor copies b.N payment rows in one COPY into a table
// shaped like the payments register: the rate PostgreSQL takes rows at,
// which the projections' rates are compared with. "payments_ddl" copies
// into the payments projection's own table (COLLATE "C" keys, CHECKs).
func BenchmarkCopyFloor(b *testing.B) {
	b.Run("plain_table", func(b *testing.B) { payBenchCopy(b, payCopyFloorTable, "copy_floor") })
	b.Run("payments_ddl", func(b *testing.B) { payBenchCopy(b, projections.PaymentsProjection{}.Schema(), "payments") })
}

func payBenchCopy(b *testing.B, ddl, table string) {
	envs := payBenchEvents(b.N, true)
	rows := make([][]any, 0, len(envs))
	for i, e := range envs {
		l := e.Event.(*domain.PaymentIssued).PaymentLine
		rows = append(rows, []any{
			l.Reference, l.BatchID, string(l.PersonID), string(l.Program), l.Period.First().Time(), string(l.Kind),
			pgtype.Numeric{Int: big.NewInt(l.Amount.Fen()), Exp: -2, Valid: true}, l.Township, l.PaidOn.Time(),
			"issued", l.PaidOn.Time(), "", "", int64(i), int64(i), int64(i), int64(i),
		})
	}
	db := pgtest.NewSchema(b)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, ddl); err != nil {
		b.Fatal(err)
	}
	conn, err := db.Pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Release()
	cpu0 := backendCPU(conn.Conn())
	cols := []string{
		"reference", "batch_id", "person_id", "program", "period", "kind", "amount", "township", "paid_on",
		"status", "status_on", "bank_reference", "reason", "issued_commit", "issued_prepare", "updated_commit", "updated_prepare",
	}
	b.ResetTimer()
	start := time.Now()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromRows(rows))
		return err
	})
	el := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(rows))/el.Seconds(), "rows/s")
	b.ReportMetric(float64((backendCPU(conn.Conn())-cpu0).Microseconds())/float64(len(rows)), "pg-cpu-us/row")
}
