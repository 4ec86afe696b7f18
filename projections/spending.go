package projections

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/spending.sql
var spendingSchema string

// SpendingProjection is the read model "spending": finance's totals per
// program, month and township, and budgets per program and year.
//
// A payment counts in the month of its PaidOn (its value date), not of the
// period it is for: arrears for 2024-01 paid on 2024-03-15 count in March.
// PaymentIssued adds the amount and one payment; PaymentFailed and
// PaymentReversed subtract them again from the key the event repeats.
// PaymentsSettledLate adds them back (the bank paid a payment it had
// reported failed). PaymentSettled changes nothing: the money was counted
// when issued. The
// projection trusts the log to fail or reverse a payment at most once (the
// payroll decider guarantees it); it keeps no per-payment state.
//
// Apply aggregates the whole batch in memory and writes every touched key
// once per batch, with multi-row statements over unnest arrays: rebuilding
// from a million payments costs a few thousand statements, not a million.
// Amounts are summed exactly, as integer fen.
type SpendingProjection struct{}

var _ Projection = SpendingProjection{}

func (SpendingProjection) Name() string   { return "spending" }
func (SpendingProjection) Version() int   { return 1 }
func (SpendingProjection) Schema() string { return spendingSchema }
func (SpendingProjection) Tables() []string {
	return []string{"spending", "spending_persons", "budgets"}
}

// spendKey is a row of spending. ym is year*12 + month-1 of PaidOn.
type spendKey struct {
	program  string
	township string
	ym       int32
}

type spendAgg struct {
	fen      int64 // signed: a batch may hold only failures
	payments int32
	persons  int32 // filled in from spending_persons' transitions
}

type personKey struct {
	spendKey
	person string
}

type budgetKey struct {
	program string
	year    int32
}

type spendingBatch struct {
	spend   map[spendKey]spendAgg
	persons map[personKey]int32
	spent   map[budgetKey]int64 // fen
	alloc   map[budgetKey]int64 // fen; the batch's last allocation wins
}

func (SpendingProjection) Interest() Interest { return spendingRoutes.interest() }

// spendingRoutes is the spending read model's routing table.
var spendingRoutes = newRoutes([]string{"payroll", "program"},
	on(func(b *spendingBatch, _ *domain.Envelope, e *domain.PaymentIssued) error {
		return b.payment(&e.PaymentLine, 1)
	}),
	on(func(b *spendingBatch, _ *domain.Envelope, e *domain.PaymentsIssued) error {
		for i := range e.Payments {
			if err := b.payment(&e.Payments[i].PaymentLine, 1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *spendingBatch, _ *domain.Envelope, e *domain.PaymentsFailed) error {
		for i := range e.Payments {
			if err := b.payment(&e.Payments[i].PaymentLine, -1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *spendingBatch, _ *domain.Envelope, e *domain.PaymentsSettledLate) error {
		for i := range e.Payments {
			if err := b.payment(&e.Payments[i].PaymentLine, 1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *spendingBatch, _ *domain.Envelope, e *domain.PaymentFailed) error {
		return b.payment(&e.PaymentLine, -1)
	}),
	on(func(b *spendingBatch, _ *domain.Envelope, e *domain.PaymentReversed) error {
		return b.payment(&e.PaymentLine, -1)
	}),
	on(func(b *spendingBatch, _ *domain.Envelope, e *domain.BudgetAllocated) error {
		b.allocate(e)
		return nil
	}),
).ignoring(
	// A settlement confirms what its issue already counted.
	domain.TypePaymentSettled, domain.TypePaymentsSettled,
	// A batch's control events, its reserved and released lines and the
	// return file's bookkeeping move no money; overpayment claims are
	// owed back, not spent (read model "overpayments").
	domain.TypeBatchOpened, domain.TypeBatchDrafted, domain.TypeBatchApproved, domain.TypeBatchIssued,
	domain.TypeBatchRejected, domain.TypeBatchReleased, domain.TypeBatchExported,
	domain.TypeLinesReserved, domain.TypeLinesReleased, domain.TypeReturnStarted, domain.TypeReturnImported,
	domain.TypeOverpaymentClaimed, domain.TypeOverpaymentRecovered, domain.TypeOverpaymentWrittenOff,
)

func (SpendingProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	var b spendingBatch
	for i := range batch {
		if err := spendingRoutes.apply(&b, &batch[i]); err != nil {
			return fmt.Errorf("spending: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	if err := b.write(ctx, tx); err != nil {
		return fmt.Errorf("spending: %w", err)
	}
	return nil
}

// payment counts (sign +1) or un-counts (-1) one payment line.
func (b *spendingBatch) payment(l *domain.PaymentLine, sign int32) error {
	if l.PaidOn.IsZero() {
		return domain.Invalid("paid_on", "payment %q has no paid_on date", l.Reference)
	}
	if b.spend == nil {
		b.spend = make(map[spendKey]spendAgg, 64)
		b.persons = make(map[personKey]int32, 1024)
		b.spent = make(map[budgetKey]int64, 16)
	}
	year := int32(l.PaidOn.Year())
	k := spendKey{program: string(l.Program), township: l.Township, ym: year*12 + int32(l.PaidOn.Month()) - 1}
	f := int64(sign) * moneyFen(l.Amount)
	a := b.spend[k]
	a.fen += f
	a.payments += sign
	b.spend[k] = a
	b.persons[personKey{k, string(l.PersonID)}] += sign
	b.spent[budgetKey{k.program, year}] += f
	return nil
}

func (b *spendingBatch) allocate(e *domain.BudgetAllocated) {
	if b.alloc == nil {
		b.alloc = make(map[budgetKey]int64, 4)
	}
	b.alloc[budgetKey{string(e.Program), int32(e.FiscalYear)}] = moneyFen(e.Amount)
}

// spendingUpsert adds the batch's deltas to every touched spending key.
const spendingUpsert = `
INSERT INTO spending AS s (program, month, township, amount_paid, payments, persons)
SELECT program, month, township, fen * 0.01, payments, persons
FROM unnest($1::text[], $2::date[], $3::text[], $4::bigint[], $5::int[], $6::int[])
    AS k(program, month, township, fen, payments, persons)
ON CONFLICT (program, month, township) DO UPDATE SET
    amount_paid = s.amount_paid + EXCLUDED.amount_paid,
    payments    = s.payments + EXCLUDED.payments,
    persons     = s.persons + EXCLUDED.persons`

const budgetSpentUpsert = `
INSERT INTO budgets AS b (program, fiscal_year, allocated, spent)
SELECT program, fiscal_year, 0, fen * 0.01
FROM unnest($1::text[], $2::int[], $3::bigint[]) AS t(program, fiscal_year, fen)
ON CONFLICT (program, fiscal_year) DO UPDATE SET spent = b.spent + EXCLUDED.spent`

const budgetAllocUpsert = `
INSERT INTO budgets AS b (program, fiscal_year, allocated, spent)
SELECT program, fiscal_year, fen * 0.01, 0
FROM unnest($1::text[], $2::int[], $3::bigint[]) AS t(program, fiscal_year, fen)
ON CONFLICT (program, fiscal_year) DO UPDATE SET allocated = EXCLUDED.allocated`

// write sends the batch in two round trips: it reads the stored person
// counts, whose transitions complete the spending deltas, then writes
// person counts, spending and budgets in one pipeline.
func (b *spendingBatch) write(ctx context.Context, tx pgx.Tx) error {
	var q pgx.Batch
	if len(b.spend) > 0 {
		if err := b.queuePersons(ctx, tx, &q); err != nil {
			return fmt.Errorf("spending_persons: %w", err)
		}
		n := len(b.spend)
		prog, month, town := make([]string, 0, n), make([]time.Time, 0, n), make([]string, 0, n)
		fen, pays, persons := make([]int64, 0, n), make([]int32, 0, n), make([]int32, 0, n)
		for k, a := range b.spend {
			prog = append(prog, k.program)
			month = append(month, monthOf(k.ym))
			town = append(town, k.township)
			fen = append(fen, a.fen)
			pays = append(pays, a.payments)
			persons = append(persons, a.persons)
		}
		q.Queue(spendingUpsert, prog, month, town, fen, pays, persons)
		q.Queue(budgetSpentUpsert, budgetArgs(b.spent)...)
	}
	if len(b.alloc) > 0 {
		q.Queue(budgetAllocUpsert, budgetArgs(b.alloc)...)
	}
	if q.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &q).Close()
}

// personsSelect reads the stored counts of the batch's person keys.
const personsSelect = `
SELECT sp.program, sp.month, sp.township, sp.person_id, sp.n
FROM unnest($1::text[], $2::date[], $3::text[], $4::text[]) AS u(program, month, township, person_id)
JOIN spending_persons sp USING (program, month, township, person_id)`

// personsInsert and personsUpdate write the batch's new counts: plain
// inserts for keys not stored yet, updates for the others.
const personsInsert = `
INSERT INTO spending_persons (program, month, township, person_id, n)
SELECT * FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::int[])`

const personsUpdate = `
UPDATE spending_persons sp SET n = u.n
FROM unnest($1::text[], $2::date[], $3::text[], $4::text[], $5::int[]) AS u(program, month, township, person_id, n)
WHERE sp.program = u.program AND sp.month = u.month AND sp.township = u.township AND sp.person_id = u.person_id`

// personRows are the unnest arrays of personsInsert or personsUpdate.
type personRows struct {
	program, township, person []string
	month                     []time.Time
	n                         []int32
}

func (r *personRows) add(k personKey, month time.Time, n int32) {
	r.program, r.month, r.township, r.person, r.n = append(r.program, k.program), append(r.month, month), append(r.township, k.township), append(r.person, k.person), append(r.n, n)
}

// queuePersons reads the stored count of every person key the batch
// touches, adds the persons who crossed zero (0 → positive: +1, positive →
// 0: −1) to the spending deltas, and queues the writes of the new counts.
//
// Reading first and then inserting plainly beats one INSERT ... ON
// CONFLICT ... RETURNING upsert: measured on a rebuild of issued payments,
// about 18% less server CPU and 9% more events per second, because a
// speculative insertion costs more than a lookup followed by a plain
// insert. It is safe because one runner alone writes a schema's read
// models (it holds the advisory lock); a concurrent writer would make the
// insert fail on the primary key, never count twice. Keys are sorted into
// index order, which keeps a payroll run's B-tree accesses close together.
func (b *spendingBatch) queuePersons(ctx context.Context, tx pgx.Tx, q *pgx.Batch) error {
	keys := make([]personKey, 0, len(b.persons))
	for k := range b.persons {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, comparePersonKeys)
	n := len(keys)
	prog, month, town, person := make([]string, n), make([]time.Time, n), make([]string, n), make([]string, n)
	for i, k := range keys {
		prog[i], month[i], town[i], person[i] = k.program, monthOf(k.ym), k.township, k.person
	}
	rows, err := tx.Query(ctx, personsSelect, prog, month, town, person)
	if err != nil {
		return err
	}
	stored := make(map[personKey]int32)
	var (
		k personKey
		m time.Time
		c int32
	)
	if _, err := pgx.ForEachRow(rows, []any{&k.program, &m, &k.township, &k.person, &c}, func() error {
		k.ym = int32(m.Year())*12 + int32(m.Month()) - 1
		stored[k] = c
		return nil
	}); err != nil {
		return err
	}
	var ins, upd personRows
	for i, k := range keys {
		old, exists := stored[k]
		now := old + b.persons[k]
		var d int32
		switch {
		case old <= 0 && now > 0:
			d = 1
		case old > 0 && now <= 0:
			d = -1
		}
		if d != 0 {
			a := b.spend[k.spendKey]
			a.persons += d
			b.spend[k.spendKey] = a
		}
		if exists {
			upd.add(k, month[i], now)
		} else {
			ins.add(k, month[i], now) // also when now is 0: see the schema
		}
	}
	if len(ins.n) > 0 {
		q.Queue(personsInsert, ins.program, ins.month, ins.township, ins.person, ins.n)
	}
	if len(upd.n) > 0 {
		q.Queue(personsUpdate, upd.program, upd.month, upd.township, upd.person, upd.n)
	}
	return nil
}

func comparePersonKeys(x, y personKey) int {
	if c := strings.Compare(x.program, y.program); c != 0 {
		return c
	}
	if c := cmp.Compare(x.ym, y.ym); c != 0 {
		return c
	}
	if c := strings.Compare(x.township, y.township); c != 0 {
		return c
	}
	return strings.Compare(x.person, y.person)
}

func budgetArgs(m map[budgetKey]int64) []any {
	prog, year, fen := make([]string, 0, len(m)), make([]int32, 0, len(m)), make([]int64, 0, len(m))
	for k, f := range m {
		prog = append(prog, k.program)
		year = append(year, k.year)
		fen = append(fen, f)
	}
	return []any{prog, year, fen}
}

func monthOf(ym int32) time.Time {
	return time.Date(int(ym/12), time.Month(ym%12+1), 1, 0, 0, 0, 0, time.UTC)
}

// moneyFen returns m in fen. Amounts decoded from events are held with
// exponent -2, which gives the fen without allocating; anything else takes
// the exact general path.
func moneyFen(m domain.Money) int64 {
	if d := m.Decimal(); d.Exponent() == -2 {
		return d.CoefficientInt64()
	}
	return m.Fen()
}

// SpendingRow is one line of a spending report. Month is set when grouped
// by month, Township when grouped by township; Program always.
type SpendingRow struct {
	Program    domain.ProgramCode
	Month      domain.Period
	Township   string
	AmountPaid domain.Money
	Payments   int
	// Persons is the number of distinct persons with a counted payment in
	// the group: a person paid every month of the year counts once in the
	// year's total, and once in each month.
	Persons int
}

// spendingQueries are the report queries by grouping. Amounts and payments
// are sums of spending rows; persons are counted distinct from
// spending_persons, because a person can be in several rows of one group
// (several months of a year, or two townships after a move).
var spendingQueries = map[string]string{
	"month": `
WITH s AS (
    SELECT program, month, sum(amount_paid) AS amount, sum(payments) AS payments
    FROM spending WHERE month >= $1 AND month < $2 GROUP BY program, month
), p AS (
    SELECT program, month, count(DISTINCT person_id) AS persons
    FROM spending_persons WHERE month >= $1 AND month < $2 AND n > 0 GROUP BY program, month
)
SELECT s.program, s.month, '', s.amount::text, s.payments, coalesce(p.persons, 0)
FROM s LEFT JOIN p USING (program, month)
ORDER BY s.program, s.month`,
	"township": `
WITH s AS (
    SELECT program, township, sum(amount_paid) AS amount, sum(payments) AS payments
    FROM spending WHERE month >= $1 AND month < $2 GROUP BY program, township
), p AS (
    SELECT program, township, count(DISTINCT person_id) AS persons
    FROM spending_persons WHERE month >= $1 AND month < $2 AND n > 0 GROUP BY program, township
)
SELECT s.program, NULL::date, s.township, s.amount::text, s.payments, coalesce(p.persons, 0)
FROM s LEFT JOIN p USING (program, township)
ORDER BY s.program, s.township`,
	"program": `
WITH s AS (
    SELECT program, sum(amount_paid) AS amount, sum(payments) AS payments
    FROM spending WHERE month >= $1 AND month < $2 GROUP BY program
), p AS (
    SELECT program, count(DISTINCT person_id) AS persons
    FROM spending_persons WHERE month >= $1 AND month < $2 AND n > 0 GROUP BY program
)
SELECT s.program, NULL::date, '', s.amount::text, s.payments, coalesce(p.persons, 0)
FROM s LEFT JOIN p USING (program)
ORDER BY s.program`,
}

// Spending returns the year's net spending per program, grouped further by
// "month" or "township", or only by "program". Any other groupBy is an
// error wrapping domain.ErrInvalid.
func Spending(ctx context.Context, q Querier, year int, groupBy string) ([]SpendingRow, error) {
	sql, ok := spendingQueries[groupBy]
	if !ok {
		return nil, domain.Invalid("group_by", "%q is not one of month, township, program", groupBy)
	}
	from := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	rows, err := q.Query(ctx, sql, from, from.AddDate(1, 0, 0))
	if err != nil {
		return nil, fmt.Errorf("spending: %w", err)
	}
	defer rows.Close()
	var out []SpendingRow
	for rows.Next() {
		var (
			r      SpendingRow
			month  *time.Time
			amount string
		)
		if err := rows.Scan(&r.Program, &month, &r.Township, &amount, &r.Payments, &r.Persons); err != nil {
			return nil, fmt.Errorf("spending: %w", err)
		}
		if month != nil {
			r.Month = domain.DateOf(*month).Period()
		}
		if r.AmountPaid, err = domain.ParseMoney("amount_paid", amount); err != nil {
			return nil, fmt.Errorf("spending: %s: %w", r.Program, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("spending: %w", err)
	}
	return out, nil
}

// BudgetRow is a program's budget for one year. Remaining is negative when
// the program spent more than it was allocated, so it is a plain decimal,
// not domain.Money.
type BudgetRow struct {
	Program    domain.ProgramCode
	FiscalYear int
	Allocated  domain.Money
	Spent      domain.Money
	Remaining  decimal.Decimal
}

// Budgets returns every program's budget row for year, by program. A
// program that spent without an allocation has Allocated 0.00.
func Budgets(ctx context.Context, q Querier, year int) ([]BudgetRow, error) {
	rows, err := q.Query(ctx, `
SELECT program, fiscal_year, allocated::text, spent::text, remaining::text
FROM budgets WHERE fiscal_year = $1 ORDER BY program`, year)
	if err != nil {
		return nil, fmt.Errorf("budgets: %w", err)
	}
	defer rows.Close()
	var out []BudgetRow
	for rows.Next() {
		var (
			r                           BudgetRow
			allocated, spent, remaining string
		)
		if err := rows.Scan(&r.Program, &r.FiscalYear, &allocated, &spent, &remaining); err != nil {
			return nil, fmt.Errorf("budgets: %w", err)
		}
		if r.Allocated, err = domain.ParseMoney("allocated", allocated); err != nil {
			return nil, fmt.Errorf("budgets: %s: %w", r.Program, err)
		}
		if r.Spent, err = domain.ParseMoney("spent", spent); err != nil {
			return nil, fmt.Errorf("budgets: %s: %w", r.Program, err)
		}
		if r.Remaining, err = decimal.NewFromString(remaining); err != nil {
			return nil, fmt.Errorf("budgets: %s: remaining: %w", r.Program, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("budgets: %w", err)
	}
	return out, nil
}
