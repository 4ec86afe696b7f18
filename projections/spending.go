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
// once per batch, with multi-row statements over unnest arrays (the
// person counts of thousands of new keys by COPY). A rebuild aggregates
// the whole log the same way (spendingLoader) and writes each key once,
// at its end: the totals by (program, month, township) and budget, and by
// COPY the person counts that keep distinct persons exact. Amounts are
// summed exactly, as integer fen.
type SpendingProjection struct{}

var _ Projection = SpendingProjection{}

func (SpendingProjection) Name() string   { return "spending" }
func (SpendingProjection) Version() int   { return 2 }
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

// yearKey is a person row's key in spending_persons without its person: a
// program's fiscal year in a township. keys holds the number of the
// spending key of each month of it (January first), -1 for none yet.
type yearKey struct {
	program  string
	township string
	year     int32
	keys     [12]int32
}

type budgetKey struct {
	program string
	year    int32
}

// spendingFold is the net change a run of events makes to the spending
// tables: one batch of the runner (Apply), or every page of a rebuild up
// to a write (spendingLoader). Spending keys, year keys and persons are
// numbered in order of first appearance and their strings held once.
// Every payment counted or un-counted leaves a mark naming its person row
// and month by numbers, in a slice without pointers, which the garbage
// collector does not scan; the write sorts the marks, which brings each
// person row's together, and their sums are the row's net counts by
// month. Appending a mark costs a fraction of counting in a map per key
// (a rebuild of a million payments spent a quarter of its Go CPU in those
// maps).
type spendingFold struct {
	keyNo    map[spendKey]uint32
	keys     []spendKey
	aggs     []spendAgg // by key number
	keyYear  []uint32   // by key number: its year key's number
	yearNo   map[yearKey]uint32
	years    []yearKey
	marks    []uint64 // year key << 37 | person << 5 | month (0–11) << 1 | 1 if un-counted
	personNo map[string]uint32
	persons  []string
	alloc    map[budgetKey]int64 // fen; the last allocation wins
	copyMin  int                 // new person rows from which they are COPYed (0: the default)
}

// maxYearKeys bounds the year keys of a fold, whose numbers take 27 bits
// of a mark: far more than programs × years × townships.
const maxYearKeys = 1 << 27

// personMarks counts the marks the fold holds: at least its person rows.
func (f *spendingFold) personMarks() int { return len(f.marks) }

func (SpendingProjection) Interest() Interest { return spendingRoutes.interest() }

// spendingRoutes is the spending read model's routing table.
var spendingRoutes = newRoutes([]string{"payroll", "program"},
	on(func(f *spendingFold, _ *domain.Envelope, e *domain.PaymentIssued) error {
		return f.payment(&e.PaymentLine, 1)
	}),
	on(func(f *spendingFold, _ *domain.Envelope, e *domain.PaymentsIssued) error {
		for i := range e.Payments {
			if err := f.payment(&e.Payments[i].PaymentLine, 1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(f *spendingFold, _ *domain.Envelope, e *domain.PaymentsFailed) error {
		for i := range e.Payments {
			if err := f.payment(&e.Payments[i].PaymentLine, -1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(f *spendingFold, _ *domain.Envelope, e *domain.PaymentsSettledLate) error {
		for i := range e.Payments {
			if err := f.payment(&e.Payments[i].PaymentLine, 1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(f *spendingFold, _ *domain.Envelope, e *domain.PaymentFailed) error {
		return f.payment(&e.PaymentLine, -1)
	}),
	on(func(f *spendingFold, _ *domain.Envelope, e *domain.PaymentReversed) error {
		return f.payment(&e.PaymentLine, -1)
	}),
	on(func(f *spendingFold, _ *domain.Envelope, e *domain.BudgetAllocated) error {
		f.allocate(e)
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
	domain.TypeOverpaymentClaimed, domain.TypeOverpaymentRecovered, domain.TypeOverpaymentWrittenOff, domain.TypeOverpaymentCancelled,
	// A budget counts once allocated (BudgetAllocated follows an approval).
	domain.TypeBudgetProposed, domain.TypeBudgetApproved, domain.TypeBudgetRejected,
)

func (SpendingProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	var f spendingFold
	if err := f.fold(batch); err != nil {
		return err
	}
	if err := f.write(ctx, tx, false); err != nil {
		return fmt.Errorf("spending: %w", err)
	}
	return nil
}

func (f *spendingFold) fold(batch []domain.Envelope) error {
	for i := range batch {
		if err := spendingRoutes.apply(f, &batch[i]); err != nil {
			return fmt.Errorf("spending: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	return nil
}

// payment counts (sign +1) or un-counts (-1) one payment line.
func (f *spendingFold) payment(l *domain.PaymentLine, sign int32) error {
	if l.PaidOn.IsZero() {
		return domain.Invalid("paid_on", "payment %q has no paid_on date", l.Reference)
	}
	if f.keyNo == nil {
		f.keyNo = make(map[spendKey]uint32, 16)
		f.yearNo = make(map[yearKey]uint32, 4)
		f.personNo = make(map[string]uint32, 1024)
	}
	year, month := int32(l.PaidOn.Year()), int32(l.PaidOn.Month())-1
	k := spendKey{program: string(l.Program), township: l.Township, ym: year*12 + month}
	kn, ok := f.keyNo[k]
	if !ok {
		var err error
		if kn, err = f.newKey(k); err != nil {
			return err
		}
	}
	pn, ok := f.personNo[string(l.PersonID)]
	if !ok {
		person := strings.Clone(string(l.PersonID))
		pn = uint32(len(f.persons))
		f.personNo[person] = pn
		f.persons = append(f.persons, person)
	}
	fen := int64(sign) * l.Amount.Fen()
	a := &f.aggs[kn]
	a.fen += fen
	a.payments += sign
	mark := uint64(f.keyYear[kn])<<37 | uint64(pn)<<5 | uint64(month)<<1
	if sign < 0 {
		mark |= 1
	}
	f.marks = append(f.marks, mark)
	return nil
}

// newKey numbers the spending key k, and its year key if new too.
func (f *spendingFold) newKey(k spendKey) (uint32, error) {
	// Clones: the fold may outlive many pages of events, and must not
	// keep their decoded strings alive.
	k.program, k.township = strings.Clone(k.program), strings.Clone(k.township)
	kn := uint32(len(f.keys))
	f.keyNo[k] = kn
	f.keys = append(f.keys, k)
	f.aggs = append(f.aggs, spendAgg{})
	y := yearKey{program: k.program, township: k.township, year: k.ym / 12}
	yn, ok := f.yearNo[y]
	if !ok {
		if len(f.years) == maxYearKeys {
			return 0, fmt.Errorf("more than %d program years and townships in one batch", maxYearKeys)
		}
		yn = uint32(len(f.years))
		f.yearNo[y] = yn
		for m := range y.keys {
			y.keys[m] = -1
		}
		f.years = append(f.years, y)
	}
	f.years[yn].keys[k.ym%12] = int32(kn)
	f.keyYear = append(f.keyYear, yn)
	return kn, nil
}

func (f *spendingFold) allocate(e *domain.BudgetAllocated) {
	if f.alloc == nil {
		f.alloc = make(map[budgetKey]int64, 4)
	}
	f.alloc[budgetKey{strings.Clone(string(e.Program)), int32(e.FiscalYear)}] = e.Amount.Fen()
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

// write writes the fold: person counts first (reading the stored ones,
// unless the tables are known to be empty — fresh — and COPYing new rows
// when there are many), whose transitions complete the spending deltas;
// then spending and budgets in one pipeline.
func (f *spendingFold) write(ctx context.Context, tx pgx.Tx, fresh bool) error {
	var q pgx.Batch
	if len(f.keys) > 0 {
		if err := f.writePersons(ctx, tx, &q, fresh); err != nil {
			return fmt.Errorf("spending_persons: %w", err)
		}
		n := len(f.keys)
		prog, month, town := make([]string, n), make([]time.Time, n), make([]string, n)
		fen, pays, persons := make([]int64, n), make([]int32, n), make([]int32, n)
		for i, k := range f.keys {
			a := f.aggs[i]
			prog[i], month[i], town[i] = k.program, monthOf(k.ym), k.township
			fen[i], pays[i], persons[i] = a.fen, a.payments, a.persons
		}
		q.Queue(spendingUpsert, prog, month, town, fen, pays, persons)
		spent := make(map[budgetKey]int64, 4) // a budget spends what its program's keys of the year do
		for i, k := range f.keys {
			spent[budgetKey{k.program, k.ym / 12}] += f.aggs[i].fen
		}
		q.Queue(budgetSpentUpsert, budgetArgs(spent)...)
	}
	if len(f.alloc) > 0 {
		q.Queue(budgetAllocUpsert, budgetArgs(f.alloc)...)
	}
	if q.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &q).Close()
}

// personsSelect reads the stored counts of the batch's person rows.
const personsSelect = `
SELECT sp.program, sp.fiscal_year, sp.township, sp.person_id, sp.n
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) AS u(program, fiscal_year, township, person_id)
JOIN spending_persons sp USING (program, fiscal_year, township, person_id)`

// personsInsert and personsUpdate write the batch's new counts: plain
// inserts for rows not stored yet, updates for the others. The counts
// come as one flat array, twelve to a row, sliced by the row's ordinal.
const personsInsert = `
INSERT INTO spending_persons (program, fiscal_year, township, person_id, n)
SELECT program, fiscal_year, township, person_id, ($5::int[])[i*12-11:i*12]
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) WITH ORDINALITY AS u(program, fiscal_year, township, person_id, i)`

const personsUpdate = `
UPDATE spending_persons sp SET n = ($5::int[])[u.i*12-11:u.i*12]
FROM unnest($1::text[], $2::int[], $3::text[], $4::text[]) WITH ORDINALITY AS u(program, fiscal_year, township, person_id, i)
WHERE sp.program = u.program AND sp.fiscal_year = u.fiscal_year AND sp.township = u.township AND sp.person_id = u.person_id`

// personRows are person rows of the fold (year key number << 32 | person
// number) in index order, with their counts by month.
type personRows struct {
	ids []uint64
	n   [][12]int32
}

func (r *personRows) add(id uint64, n [12]int32) { r.ids, r.n = append(r.ids, id), append(r.n, n) }

// writePersons works out the new counts of every person row the fold
// touches — its stored counts (none when fresh) plus the fold's — adds
// the persons who crossed zero in a month (0 → positive: +1, positive → 0:
// −1) to that month's spending deltas, and writes the new counts: new
// rows by COPY when there are many, else by a plain insert queued on q;
// rows already stored by an update queued on q.
//
// Reading first and then inserting plainly beats one INSERT ... ON
// CONFLICT ... RETURNING upsert: measured on a rebuild of issued payments,
// about 18% less server CPU and 9% more events per second, because a
// speculative insertion costs more than a lookup followed by a plain
// insert. It is safe because one runner alone writes a schema's read
// models (it holds the advisory lock), and a rebuild alone its shadow
// tables; a concurrent writer would make the insert fail on the primary
// key, never count twice. Rows go in index order, which keeps a payroll
// run's B-tree accesses close together and a rebuild's COPY in the order
// its index is built in.
func (f *spendingFold) writePersons(ctx context.Context, tx pgx.Tx, q *pgx.Batch, fresh bool) error {
	rows := f.sortedPersonRows()
	var stored map[uint64][12]int32
	if !fresh {
		var err error
		if stored, err = f.storedCounts(ctx, tx, rows.ids); err != nil {
			return err
		}
	}
	ins := rows // in a fresh table every row is new
	var upd personRows
	if !fresh {
		ins = personRows{}
	}
	for i, id := range rows.ids {
		old, exists := stored[id]
		delta := rows.n[i]
		now := old
		y := &f.years[id>>32]
		for m, d := range delta {
			if d == 0 {
				continue
			}
			now[m] += d
			switch {
			case old[m] <= 0 && now[m] > 0:
				f.aggs[y.keys[m]].persons++
			case old[m] > 0 && now[m] <= 0:
				f.aggs[y.keys[m]].persons--
			}
		}
		switch {
		case fresh:
		case exists:
			upd.add(id, now)
		default:
			ins.add(id, now) // also when every count is 0: see the schema
		}
	}
	if len(ins.ids) >= cmp.Or(f.copyMin, bulkLimits{}.withDefaults().copyMin) {
		if err := f.copyPersons(ctx, tx, ins, fresh); err != nil {
			return err
		}
	} else if len(ins.ids) > 0 {
		q.Queue(personsInsert, f.personArgs(ins, true)...)
	}
	if len(upd.ids) > 0 {
		q.Queue(personsUpdate, f.personArgs(upd, true)...)
	}
	return nil
}

// sortedPersonRows returns the fold's person rows, with their net counts
// by month, in the order of spending_persons' primary key: by year key,
// then person ID, in byte order (the key columns are COLLATE "C").
// A month's count can be net zero in a row the fold touched: the
// transitions skip it. It renumbers the marks in place by rank and sorts
// them, so it runs once per fold (its write).
func (f *spendingFold) sortedPersonRows() personRows {
	yearOrder := sortedNumbers(len(f.years), func(a, b uint32) int { return compareYearKeys(&f.years[a], &f.years[b]) })
	personOrder := sortedNumbers(len(f.persons), func(a, b uint32) int { return strings.Compare(f.persons[a], f.persons[b]) })
	yearRank, personRank := ranks(yearOrder), ranks(personOrder)
	ranked := f.marks // year rank << 37 | person rank << 5 | month << 1 | 1 if un-counted
	f.marks = nil
	for i, m := range ranked {
		ranked[i] = uint64(yearRank[m>>37])<<37 | uint64(personRank[uint32(m>>5)])<<5 | m&0x1f
	}
	slices.Sort(ranked)
	out := personRows{ids: make([]uint64, 0, len(ranked)/4+1), n: make([][12]int32, 0, len(ranked)/4+1)}
	for i := 0; i < len(ranked); {
		row := ranked[i] >> 5
		var n [12]int32
		for ; i < len(ranked) && ranked[i]>>5 == row; i++ {
			n[ranked[i]>>1&0xf] += 1 - 2*int32(ranked[i]&1)
		}
		out.add(uint64(yearOrder[row>>32])<<32|uint64(personOrder[uint32(row)]), n)
	}
	return out
}

// sortedNumbers returns 0..n-1 sorted by cmp.
func sortedNumbers(n int, cmp func(a, b uint32) int) []uint32 {
	order := make([]uint32, n)
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, cmp)
	return order
}

// ranks inverts an order: ranks(order)[order[i]] = i.
func ranks(order []uint32) []uint32 {
	rank := make([]uint32, len(order))
	for i, x := range order {
		rank[x] = uint32(i)
	}
	return rank
}

func compareYearKeys(x, y *yearKey) int {
	if c := strings.Compare(x.program, y.program); c != 0 {
		return c
	}
	if c := cmp.Compare(x.year, y.year); c != 0 {
		return c
	}
	return strings.Compare(x.township, y.township)
}

// storedCounts reads the stored counts of each of the person rows ids.
func (f *spendingFold) storedCounts(ctx context.Context, tx pgx.Tx, ids []uint64) (map[uint64][12]int32, error) {
	args := f.personArgs(personRows{ids: ids}, false)
	rows, err := tx.Query(ctx, personsSelect, args...)
	if err != nil {
		return nil, err
	}
	stored := make(map[uint64][12]int32)
	var (
		y      yearKey
		person string
		n      []int32
	)
	if _, err := pgx.ForEachRow(rows, []any{&y.program, &y.year, &y.township, &person, &n}, func() error {
		yn, ok1 := f.yearNo[y]
		pn, ok2 := f.personNo[person]
		if !ok1 || !ok2 {
			return fmt.Errorf("read back a row the batch does not hold: %s %d %s %s", y.program, y.year, y.township, person)
		}
		if len(n) != 12 {
			return fmt.Errorf("%s %d %s %s: %d monthly counts, want 12", y.program, y.year, y.township, person, len(n))
		}
		stored[uint64(yn)<<32|uint64(pn)] = [12]int32(n)
		return nil
	}); err != nil {
		return nil, err
	}
	return stored, nil
}

// personArgs are the arguments of personsInsert or personsUpdate
// (program, fiscal_year, township, person and, with counts, the rows'
// counts twelve by twelve) for r, or of personsSelect without counts.
func (f *spendingFold) personArgs(r personRows, counts bool) []any {
	n := len(r.ids)
	prog, year, town, person := make([]string, n), make([]int32, n), make([]string, n), make([]string, n)
	for i, id := range r.ids {
		y := &f.years[id>>32]
		prog[i], year[i], town[i], person[i] = y.program, y.year, y.township, f.persons[uint32(id)]
	}
	if !counts {
		return []any{prog, year, town, person}
	}
	flat := make([]int32, 0, 12*n)
	for i := range r.n {
		flat = append(flat, r.n[i][:]...)
	}
	return []any{prog, year, town, person, flat}
}

// copyPersons COPYs the new person rows r into spending_persons; fresh
// says the table is empty.
func (f *spendingFold) copyPersons(ctx context.Context, tx pgx.Tx, r personRows, fresh bool) error {
	i := -1
	next := func(b []byte) ([]byte, bool, error) {
		if i++; i == len(r.ids) {
			return b, false, nil
		}
		id := r.ids[i]
		y := &f.years[id>>32]
		b = copyTuple(b, 5)
		b = copyText(b, y.program)
		b = copyInt4(b, y.year)
		b = copyText(b, y.township)
		b = copyText(b, f.persons[uint32(id)])
		return copyInt4Array(b, r.n[i][:]), true, nil
	}
	return copyRows(ctx, tx, "spending_persons", []string{"program", "fiscal_year", "township", "person_id", "n"}, next, fresh, nil)
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

// spendingQueries are the report queries by grouping, over the year $3
// (months from $1 to $2). Amounts and payments are sums of spending rows;
// persons are counted distinct from spending_persons, because a person
// can be in several rows of one group (two townships after a move), and
// one row counts a person in each month with a count above zero.
var spendingQueries = map[string]string{
	"month": `
WITH s AS (
    SELECT program, month, sum(amount_paid) AS amount, sum(payments) AS payments
    FROM spending WHERE month >= $1 AND month < $2 GROUP BY program, month
), p AS (
    SELECT sp.program, make_date($3, u.m::int, 1) AS month, count(DISTINCT sp.person_id) AS persons
    FROM spending_persons sp CROSS JOIN LATERAL unnest(sp.n) WITH ORDINALITY AS u(c, m)
    WHERE sp.fiscal_year = $3 AND u.c > 0 GROUP BY sp.program, u.m
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
    FROM spending_persons WHERE fiscal_year = $3 AND 0 < ANY (n) GROUP BY program, township
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
    FROM spending_persons WHERE fiscal_year = $3 AND 0 < ANY (n) GROUP BY program
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
	rows, err := q.Query(ctx, sql, from, from.AddDate(1, 0, 0), year)
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
