package projections

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/entitlements.sql
var entitlementsSchema string

// EntitlementsProjection is the read model "entitlements": the per-person
// views caseworkers query — who a person is (persons), what they receive
// and since when (entitlements), every decision with who made it and why
// (entitlement_history), and what was paid for each month
// (entitlement_paid).
//
// Base and derived tables. persons, entitlement_history, entitlement_paid,
// entitlement_overpayments and program_paid_through are written straight
// from events: rows appended, or sums and maxima updated, so they do not
// depend on how the log is split into batches. Each entitlements row is a
// pure function of those tables for its (person, program):
//
//   - status, amount, effective_from/to, suspended_from and reason_code
//     replay the history in log order, as the aggregate does;
//   - paid_total and last_period_paid come from entitlement_paid;
//   - arrears_owed, for monthly programs, is the sum over
//     domain.MonthsOwed(program, history, month of the first grant,
//     paid_through) of owed − paid for each month where that is positive,
//     paid_through being the program's row of program_paid_through (no row:
//     no arrears yet). Paying more than owed for one month does not offset
//     another; money paid for a month that was not owed (a termination
//     recorded late) is not arrears but an overpayment, which only an
//     OverpaymentClaimed puts on the books;
//   - overpayment_owed is claimed (less what was cancelled) − recovered −
//     written off;
//   - updated_position is the position of the last event of that person and
//     program (entitlement decision, payment or overpayment event).
//
// Apply writes the base tables, then recomputes the entitlements rows whose
// inputs changed: every (person, program) the batch touched, and, for each
// monthly program whose paid_through advanced, every entitlement of that
// program that could owe a month after the old paid_through (open ones and
// those with a termination on or after the first day of the month after
// it). Recomputing reads those keys' whole history and paid months: a
// batch touching k keys reads O(k × months) rows. A program's paid_through
// advances once per payroll month, so once a month the first batch of the
// payroll recomputes every open entitlement of the program (a few thousand
// rows for Lushan, each with a few dozen months) in one pass of five
// queries and one upsert; every other batch only its own keys.
//
// Payments: PaymentIssued adds its amount and one payment to its person,
// program and period; PaymentFailed and PaymentReversed subtract them
// (each repeats its payment's line), PaymentsSettledLate adds them back;
// PaymentSettled changes nothing. The
// projection trusts the payroll decider to fail or reverse a payment at
// most once. One-off and in-kind grants are not entitlements and have no
// row here; their payments still show in entitlement_paid.
//
// The files: this one routes the events and writes the base tables; the
// person register (persons) is in persons.go, its queries in
// persons_query.go; the derivation of the entitlements rows is in
// entitlements_derive.go; the entitlement queries in entitlements_query.go.
type EntitlementsProjection struct{}

var _ Projection = EntitlementsProjection{}

func (EntitlementsProjection) Name() string   { return "entitlements" }
func (EntitlementsProjection) Version() int   { return 3 }
func (EntitlementsProjection) Schema() string { return entitlementsSchema }
func (EntitlementsProjection) Tables() []string {
	return []string{"persons", "entitlement_history", "entitlement_paid", "entitlement_overpayments", "program_paid_through", "entitlements"}
}

// entKey is one person's entitlement to one program.
type entKey struct {
	person  string
	program string
}

func entKeyCmp(a, b entKey) int {
	return cmp.Or(cmp.Compare(a.person, b.person), cmp.Compare(a.program, b.program))
}

type entPeriodKey struct {
	entKey
	period string
}

type entPaidDelta struct {
	paid     decimal.Decimal
	payments int32
}

type entOverDelta struct {
	claimed, recovered, writtenOff decimal.Decimal
}

type entHistory struct {
	pos                         domain.Position
	key                         entKey
	change                      string
	effective                   domain.Date
	recordedAt                  time.Time
	actor, role, reasonCode, re string
	amount                      domain.Money
}

type entBatch struct {
	entRegister // the person register's share of the batch (persons.go)
	history     []entHistory
	paid        map[entPeriodKey]*entPaidDelta
	over        map[entKey]*entOverDelta
	through     map[string]string          // program → latest period issued in the batch
	touched     map[entKey]domain.Position // last event of the key in the batch
}

func (EntitlementsProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	b, err := foldEntBatch(ctx, tx, batch)
	if err != nil {
		return fmt.Errorf("entitlements: %w", err)
	}
	if err := b.write(ctx, tx); err != nil {
		return fmt.Errorf("entitlements: %w", err)
	}
	return nil
}

// foldEntBatch folds batch into a new entBatch, reading the persons it
// needs from tx.
func foldEntBatch(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) (*entBatch, error) {
	b := &entBatch{
		entRegister: entRegister{persons: map[string]*entPerson{}, dirtyPersons: map[string]bool{}},
		paid:        map[entPeriodKey]*entPaidDelta{},
		over:        map[entKey]*entOverDelta{},
		through:     map[string]string{},
		touched:     map[entKey]domain.Position{},
	}
	if err := b.loadPersons(ctx, tx, batch); err != nil {
		return nil, err
	}
	for i := range batch {
		if err := b.add(&batch[i]); err != nil {
			return nil, fmt.Errorf("%s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	return b, nil
}

func (EntitlementsProjection) bulkLoader(bulkLimits) bulkLoader {
	return &entLoader{touched: map[entKey]domain.Position{}}
}

// entLoader rebuilds the entitlements read model page by page as Apply
// does, writing each page's base tables (persons, history, paid months,
// overpayments, paid-through months), but derives the entitlements rows
// once, at the end, for every key the log touched. Apply derives again
// the keys each batch touches and every key of a program whose
// paid-through month advances: over a province's log (24 million
// payments, each month of each program advancing once) a rebuild so did
// it a person's keys dozens of times, each time reading back every month
// paid, and slowed to under a hundred chunk events a second.
type entLoader struct {
	pages [][]domain.Envelope
	// touched: every key the written pages touched, at the position of
	// the last event that did. Only the writes use it, one after another.
	touched map[entKey]domain.Position
}

func (l *entLoader) fold(batch []domain.Envelope) error {
	l.pages = append(l.pages, batch)
	return nil
}

func (l *entLoader) full() bool { return len(l.pages) > 0 }

// meta: the history records who decided and when.
func (l *entLoader) meta() bool { return true }

// entRecomputeKeys is how many keys one derivation of the final pass
// reads back at once: few enough that PostgreSQL looks each up by index.
const entRecomputeKeys = 5000

func (l *entLoader) take(last bool) bulkWrite {
	pages := l.pages
	l.pages = nil
	return func(ctx context.Context, tx pgx.Tx) error {
		for _, page := range pages {
			b, err := foldEntBatch(ctx, tx, page)
			if err == nil {
				_, err = b.writeBase(ctx, tx)
			}
			if err != nil {
				return fmt.Errorf("entitlements: events %s..%s: %w", page[0].Position, page[len(page)-1].Position, err)
			}
			for k, pos := range b.touched {
				if was, ok := l.touched[k]; !ok || was.Less(pos) {
					l.touched[entKey{strings.Clone(k.person), strings.Clone(k.program)}] = pos
				}
			}
		}
		if !last {
			return nil
		}
		keys := slices.SortedFunc(maps.Keys(l.touched), entKeyCmp)
		b := &entBatch{touched: l.touched}
		for chunk := range slices.Chunk(keys, entRecomputeKeys) {
			if err := b.recompute(ctx, tx, chunk); err != nil {
				return fmt.Errorf("entitlements: recompute: %w", err)
			}
		}
		return nil
	}
}

// entPersonOf returns the person a beneficiary event is about: the one it
// registers, else the person of its stream.
func entPersonOf(env *domain.Envelope) (string, error) {
	if r, ok := env.Event.(*domain.PersonRegistered); ok && r.PersonID != "" {
		return string(r.PersonID), nil
	}
	id, ok := domain.PersonIDFromStream(env.Stream)
	if !ok {
		return "", domain.Invalid("stream", "%s event outside a person stream", env.Type)
	}
	return string(id), nil
}

func entPositionInts(p domain.Position) (int64, int64, error) {
	if p.Commit > math.MaxInt64 || p.Prepare > math.MaxInt64 {
		return 0, 0, domain.Invalid("position", "%d/%d does not fit a BIGINT", p.Commit, p.Prepare)
	}
	return int64(p.Commit), int64(p.Prepare), nil
}

func entDateArg(d domain.Date) pgtype.Date { return pgtype.Date{Time: d.Time(), Valid: !d.IsZero()} }

func entDateOf(d pgtype.Date) domain.Date {
	if !d.Valid {
		return domain.Date{}
	}
	return domain.DateOf(d.Time)
}

func entText(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

func entMoneyArg(m domain.Money) pgtype.Text {
	return pgtype.Text{String: m.String(), Valid: !m.IsZero()}
}

func entFixed(d decimal.Decimal) string { return d.StringFixed(2) }

func (EntitlementsProjection) Interest() Interest {
	return entRoutes.interest(entPersonRoutes.handled()...)
}

// entRoutes is the entitlements read model's routing table, but for the
// events that change a registered person's row (entPersonRoutes).
var entRoutes = newRoutes([]string{"beneficiary", "payroll"},
	on(func(b *entBatch, env *domain.Envelope, e *domain.PersonRegistered) error {
		return b.register(env, e)
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.EntitlementGranted) error {
		return b.decision(env, "")
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.EntitlementSuspended) error {
		return b.decision(env, string(e.ReasonCode))
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.EntitlementResumed) error {
		return b.decision(env, "")
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.EntitlementTerminated) error {
		return b.decision(env, string(e.ReasonCode))
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.EntitlementReinstated) error {
		return b.decision(env, string(e.ReasonCode))
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.PaymentIssued) error {
		return b.payment(env, &e.PaymentLine, 1)
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.PaymentFailed) error {
		return b.payment(env, &e.PaymentLine, -1)
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.PaymentReversed) error {
		return b.payment(env, &e.PaymentLine, -1)
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.PaymentsIssued) error {
		for i := range e.Payments {
			if err := b.payment(env, &e.Payments[i].PaymentLine, 1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.PaymentsFailed) error {
		for i := range e.Payments {
			if err := b.payment(env, &e.Payments[i].PaymentLine, -1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.PaymentsSettledLate) error {
		for i := range e.Payments {
			if err := b.payment(env, &e.Payments[i].PaymentLine, 1); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.OverpaymentClaimed) error {
		d := b.overpayment(env, e.PersonID, e.Program)
		d.claimed = d.claimed.Add(e.Amount.Decimal())
		return nil
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.OverpaymentCancelled) error {
		// Withdrawn: no longer claimed.
		d := b.overpayment(env, e.PersonID, e.Program)
		d.claimed = d.claimed.Sub(e.Amount.Decimal())
		return nil
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.OverpaymentRecovered) error {
		d := b.overpayment(env, e.PersonID, e.Program)
		d.recovered = d.recovered.Add(e.Amount.Decimal())
		return nil
	}),
	on(func(b *entBatch, env *domain.Envelope, e *domain.OverpaymentWrittenOff) error {
		d := b.overpayment(env, e.PersonID, e.Program)
		d.writtenOff = d.writtenOff.Add(e.Amount.Decimal())
		return nil
	}),
).ignoring(
	// One-off and in-kind grants are not entitlements (read model
	// "awards"); proposals change nothing until approved, when the grant
	// itself is recorded; accounts are the bank accounts read model's.
	domain.TypeOneOffGranted, domain.TypeInKindIssued,
	domain.TypeGrantProposed, domain.TypeGrantApproved, domain.TypeGrantRejected,
	domain.TypeChangeProposed, domain.TypeChangeApproved, domain.TypeChangeRejected, domain.TypeBankAccountRecorded,
	// A settlement confirms what its issue already counted.
	domain.TypePaymentSettled, domain.TypePaymentsSettled,
	// A batch's control events, its reserved and released lines and the
	// return file's bookkeeping pay nothing.
	domain.TypeBatchOpened, domain.TypeBatchDrafted, domain.TypeBatchApproved, domain.TypeBatchIssued,
	domain.TypeBatchRejected, domain.TypeBatchReleased, domain.TypeBatchExported,
	domain.TypeLinesReserved, domain.TypeLinesReleased, domain.TypeReturnStarted, domain.TypeReturnImported,
)

// add folds one event into the batch.
func (b *entBatch) add(env *domain.Envelope) error {
	if entPersonRoutes.handles(env) {
		return b.person(env)
	}
	return entRoutes.apply(b, env)
}

// decision adds an entitlement decision to the history; reasonCode is a
// suspension's or termination's.
func (b *entBatch) decision(env *domain.Envelope, reasonCode string) error {
	program, c, ok := domain.EntitlementChangeOf(env.Event)
	if !ok {
		return fmt.Errorf("%s is not an entitlement decision", env.Type)
	}
	person, err := entPersonOf(env)
	if err != nil {
		return err
	}
	h := entHistory{
		pos: env.Position, key: entKey{person, string(program)}, change: c.Kind, effective: c.EffectiveDate,
		recordedAt: env.Meta.RecordedAt, actor: env.Meta.Actor, role: env.Meta.Role, re: env.Meta.Reason, amount: c.Amount,
		reasonCode: reasonCode,
	}
	if h.effective.IsZero() {
		return domain.Invalid("effective_date", "%s has no effective date", env.Type)
	}
	b.history = append(b.history, h)
	b.touched[h.key] = env.Position
	return nil
}

func (b *entBatch) overpayment(env *domain.Envelope, person domain.PersonID, program domain.ProgramCode) *entOverDelta {
	k := entKey{string(person), string(program)}
	b.touched[k] = env.Position
	d := b.over[k]
	if d == nil {
		d = &entOverDelta{}
		b.over[k] = d
	}
	return d
}

// payment counts (sign +1) or un-counts (-1) one payment line.
func (b *entBatch) payment(env *domain.Envelope, l *domain.PaymentLine, sign int32) error {
	switch {
	case l.PersonID == "":
		return domain.Invalid("person_id", "payment %q has no person", l.Reference)
	case l.Period.IsZero():
		return domain.Invalid("period", "payment %q has no period", l.Reference)
	}
	k := entPeriodKey{entKey{string(l.PersonID), string(l.Program)}, l.Period.String()}
	d := b.paid[k]
	if d == nil {
		d = &entPaidDelta{}
		b.paid[k] = d
	}
	if sign > 0 {
		d.paid = d.paid.Add(l.Amount.Decimal())
		if k.period > b.through[k.program] {
			b.through[k.program] = k.period
		}
	} else {
		d.paid = d.paid.Sub(l.Amount.Decimal())
	}
	d.payments += sign
	b.touched[k.entKey] = env.Position
	return nil
}

// write stores the batch: base tables first, then the entitlements rows
// whose inputs changed.
func (b *entBatch) write(ctx context.Context, tx pgx.Tx) error {
	advanced, err := b.writeBase(ctx, tx)
	if err != nil {
		return err
	}
	keys, err := b.recomputeKeys(ctx, tx, advanced)
	if err != nil {
		return fmt.Errorf("affected entitlements: %w", err)
	}
	if err := b.recompute(ctx, tx, keys); err != nil {
		return fmt.Errorf("recompute entitlements: %w", err)
	}
	return nil
}

// writeBase stores the batch's base tables (persons, history, paid
// months, overpayments, paid-through months) and returns the programs
// whose paid-through month advanced, with the month before.
func (b *entBatch) writeBase(ctx context.Context, tx pgx.Tx) (map[string]string, error) {
	if err := b.writePersons(ctx, tx); err != nil {
		return nil, fmt.Errorf("persons: %w", err)
	}
	if err := b.writeHistory(ctx, tx); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if err := b.writePaid(ctx, tx); err != nil {
		return nil, fmt.Errorf("paid: %w", err)
	}
	if err := b.writeOverpayments(ctx, tx); err != nil {
		return nil, fmt.Errorf("overpayments: %w", err)
	}
	advanced, err := b.writeThrough(ctx, tx)
	if err != nil {
		return nil, fmt.Errorf("paid through: %w", err)
	}
	return advanced, nil
}

const entHistoryInsert = `
INSERT INTO entitlement_history (position_commit, position_prepare, person_id, program, change, effective_date,
	recorded_at, actor, role, reason_code, reason, amount)
SELECT c, p, person_id, program, change, effective_date, recorded_at, actor, role, reason_code, reason, amount::numeric
FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::date[], $7::timestamptz[],
	$8::text[], $9::text[], $10::text[], $11::text[], $12::text[])
	AS t(c, p, person_id, program, change, effective_date, recorded_at, actor, role, reason_code, reason, amount)`

func (b *entBatch) writeHistory(ctx context.Context, tx pgx.Tx) error {
	if len(b.history) == 0 {
		return nil
	}
	n := len(b.history)
	var (
		commit, prepare                              = make([]int64, 0, n), make([]int64, 0, n)
		person, program, change, actor, role, reason = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		eff                                          = make([]pgtype.Date, 0, n)
		at                                           = make([]time.Time, 0, n)
		code, amount                                 = make([]pgtype.Text, 0, n), make([]pgtype.Text, 0, n)
	)
	for _, h := range b.history {
		c, p, err := entPositionInts(h.pos)
		if err != nil {
			return err
		}
		commit, prepare = append(commit, c), append(prepare, p)
		person, program, change = append(person, h.key.person), append(program, h.key.program), append(change, h.change)
		actor, role, reason = append(actor, h.actor), append(role, h.role), append(reason, h.re)
		eff, at = append(eff, entDateArg(h.effective)), append(at, h.recordedAt.UTC())
		code, amount = append(code, entText(h.reasonCode)), append(amount, entMoneyArg(h.amount))
	}
	_, err := tx.Exec(ctx, entHistoryInsert, commit, prepare, person, program, change, eff, at, actor, role, code, reason, amount)
	return err
}

const entPaidUpsert = `
INSERT INTO entitlement_paid AS e (person_id, program, period, paid, payments)
SELECT person_id, program, period, paid::numeric, payments
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[]) AS t(person_id, program, period, paid, payments)
ON CONFLICT (person_id, program, period) DO UPDATE SET paid = e.paid + EXCLUDED.paid, payments = e.payments + EXCLUDED.payments`

func (b *entBatch) writePaid(ctx context.Context, tx pgx.Tx) error {
	if len(b.paid) == 0 {
		return nil
	}
	n := len(b.paid)
	person, program, period, paid, payments := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]int32, 0, n)
	keys := slices.SortedFunc(maps.Keys(b.paid), func(a, c entPeriodKey) int {
		return cmp.Or(entKeyCmp(a.entKey, c.entKey), cmp.Compare(a.period, c.period))
	})
	for _, k := range keys {
		d := b.paid[k]
		person, program, period = append(person, k.person), append(program, k.program), append(period, k.period)
		paid, payments = append(paid, entFixed(d.paid)), append(payments, d.payments)
	}
	_, err := tx.Exec(ctx, entPaidUpsert, person, program, period, paid, payments)
	return err
}

const entOverpaymentsUpsert = `
INSERT INTO entitlement_overpayments AS o (person_id, program, claimed, recovered, written_off)
SELECT person_id, program, claimed::numeric, recovered::numeric, written_off::numeric
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) AS t(person_id, program, claimed, recovered, written_off)
ON CONFLICT (person_id, program) DO UPDATE SET claimed = o.claimed + EXCLUDED.claimed,
	recovered = o.recovered + EXCLUDED.recovered, written_off = o.written_off + EXCLUDED.written_off`

func (b *entBatch) writeOverpayments(ctx context.Context, tx pgx.Tx) error {
	if len(b.over) == 0 {
		return nil
	}
	n := len(b.over)
	person, program, claimed, recovered, writtenOff := make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
	for _, k := range slices.SortedFunc(maps.Keys(b.over), entKeyCmp) {
		d := b.over[k]
		person, program = append(person, k.person), append(program, k.program)
		claimed, recovered, writtenOff = append(claimed, entFixed(d.claimed)), append(recovered, entFixed(d.recovered)), append(writtenOff, entFixed(d.writtenOff))
	}
	_, err := tx.Exec(ctx, entOverpaymentsUpsert, person, program, claimed, recovered, writtenOff)
	return err
}

// writeThrough raises programs' paid_through and returns the monthly
// programs whose paid_through advanced, with the period it advanced from
// ("" when the program had none).
func (b *entBatch) writeThrough(ctx context.Context, tx pgx.Tx) (map[string]string, error) {
	if len(b.through) == 0 {
		return nil, nil
	}
	programs := slices.Sorted(maps.Keys(b.through))
	rows, err := tx.Query(ctx, `SELECT program, period FROM program_paid_through WHERE program = ANY($1)`, programs)
	if err != nil {
		return nil, err
	}
	old := map[string]string{}
	for rows.Next() {
		var prog, period string
		if err := rows.Scan(&prog, &period); err != nil {
			rows.Close()
			return nil, err
		}
		old[prog] = period
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	advanced := map[string]string{}
	var progs, periods []string
	for _, prog := range programs {
		p := b.through[prog]
		if was, ok := old[prog]; ok && p <= was {
			continue
		}
		progs, periods = append(progs, prog), append(periods, p)
		if def, ok := domain.LookupProgram(domain.ProgramCode(prog)); ok && def.Shape == domain.ShapeMonthly {
			advanced[prog] = old[prog]
		}
	}
	if len(progs) == 0 {
		return nil, nil
	}
	_, err = tx.Exec(ctx, `
		INSERT INTO program_paid_through AS t (program, period)
		SELECT * FROM unnest($1::text[], $2::text[])
		ON CONFLICT (program) DO UPDATE SET period = GREATEST(t.period, EXCLUDED.period)`, progs, periods)
	return advanced, err
}
