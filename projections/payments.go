package projections

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/payments.sql
var paymentsSchema string

// PaymentsProjection is the read model "payments": the payments register,
// one row per payment line, with the line's current status.
//
// PaymentIssued inserts the row (status issued). PaymentSettled,
// PaymentsSettledLate, PaymentFailed and PaymentReversed set status, status_on and the updated
// position, applied strictly in log order: the last status event wins,
// whatever it is. The payroll decider only settles or fails an issued
// payment, settles late a failed one and only reverses a settled one; the register does not second-
// guess it, so a log that (wrongly) settles a failed payment shows it
// settled. A settlement sets bank_reference, which later events keep (a
// reversed payment still shows what the bank paid it under) and clears
// reason; a failure or reversal sets reason.
//
// A second PaymentIssued for a reference, or a status event for a reference
// never issued, is an error: the batch fails and the runner parks it.
//
// Apply folds the batch per reference in memory: payments issued in the
// batch are inserted once, in their final state, with one INSERT ...
// SELECT FROM unnest(...) (or COPY, when there are thousands); payments
// issued earlier are updated with one UPDATE ... FROM unnest(...). Both
// statements go in one round trip. A rebuild folds tens of thousands of
// payments at a time the same way (paymentsLoader) and COPYs them.
type PaymentsProjection struct{}

var _ Projection = PaymentsProjection{}

func (PaymentsProjection) Name() string     { return "payments" }
func (PaymentsProjection) Version() int     { return 1 }
func (PaymentsProjection) Schema() string   { return paymentsSchema }
func (PaymentsProjection) Tables() []string { return []string{"payments"} }

// PaymentStatus is a payment's status in the register.
type PaymentStatus string

const (
	PaymentStatusIssued   PaymentStatus = "issued"
	PaymentStatusSettled  PaymentStatus = "settled"
	PaymentStatusFailed   PaymentStatus = "failed"
	PaymentStatusReversed PaymentStatus = "reversed"
)

// paymentFold is one reference's net change in a batch.
type paymentFold struct {
	ref      string
	line     domain.PaymentLine // set when issued in this batch
	isNew    bool
	status   PaymentStatus
	statusOn domain.Date
	bankRef  string
	bankSet  bool // a settlement in this batch set bankRef
	reason   string
	issued   domain.Position
	updated  domain.Position
}

type paymentsBatch struct {
	index   map[string]int // reference → folds
	folds   []paymentFold
	nNew    int
	copyMin int // new payments from which they are COPYed (0: the default)
	// later, when set, takes the definitions of the indexes a COPY into
	// the fresh table leaves to be built later: all but the primary key,
	// which later writes need (copyRows).
	later *[]string
}

func (PaymentsProjection) Interest() Interest { return paymentsRoutes.interest() }

// paymentsRoutes is the payments register's routing table.
var paymentsRoutes = newRoutes([]string{"payroll"},
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentIssued) error {
		return b.issue(env, &e.PaymentLine)
	}),
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentsIssued) error {
		for i := range e.Payments {
			if err := b.issue(env, &e.Payments[i].PaymentLine); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentsSettled) error {
		return b.settle(env, e.Payments)
	}),
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentsFailed) error {
		for _, p := range e.Payments {
			if err := b.status(env, p.Reference, PaymentStatusFailed, p.FailedOn, p.Reason, "", false); err != nil {
				return err
			}
		}
		return nil
	}),
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentsSettledLate) error {
		return b.settle(env, e.Payments)
	}),
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentSettled) error {
		return b.status(env, e.Reference, PaymentStatusSettled, e.SettledOn, "", e.BankReference, true)
	}),
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentFailed) error {
		return b.status(env, e.Reference, PaymentStatusFailed, e.FailedOn, e.Reason, "", false)
	}),
	on(func(b *paymentsBatch, env *domain.Envelope, e *domain.PaymentReversed) error {
		return b.status(env, e.Reference, PaymentStatusReversed, e.ReversedOn, e.Reason, "", false)
	}),
).ignoring(
	// A batch's control events, its reserved and released lines and the
	// return file's bookkeeping are not payments; overpayments are
	// claims, not payments (read model "overpayments").
	domain.TypeBatchOpened, domain.TypeBatchDrafted, domain.TypeBatchApproved, domain.TypeBatchIssued,
	domain.TypeBatchRejected, domain.TypeBatchReleased, domain.TypeBatchExported,
	domain.TypeLinesReserved, domain.TypeLinesReleased, domain.TypeReturnStarted, domain.TypeReturnImported,
	domain.TypeOverpaymentClaimed, domain.TypeOverpaymentRecovered, domain.TypeOverpaymentWrittenOff, domain.TypeOverpaymentCancelled,
)

// settle marks payments settled, in time or late alike.
func (b *paymentsBatch) settle(env *domain.Envelope, payments []domain.PaymentSettled) error {
	for _, p := range payments {
		if err := b.status(env, p.Reference, PaymentStatusSettled, p.SettledOn, "", p.BankReference, true); err != nil {
			return err
		}
	}
	return nil
}

func (PaymentsProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	b := paymentsBatch{}
	if err := b.add(batch); err != nil {
		return err
	}
	if err := b.write(ctx, tx, false); err != nil {
		return fmt.Errorf("payments: %w", err)
	}
	return nil
}

// add folds events into the batch.
func (b *paymentsBatch) add(batch []domain.Envelope) error {
	for i := range batch {
		if err := paymentsRoutes.apply(b, &batch[i]); err != nil {
			return fmt.Errorf("payments: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	return nil
}

func (b *paymentsBatch) fold(ref string) (*paymentFold, bool) {
	if b.index == nil {
		b.index = make(map[string]int, 1024)
	}
	i, ok := b.index[ref]
	if !ok {
		i = len(b.folds)
		b.index[ref] = i
		b.folds = append(b.folds, paymentFold{ref: ref})
	}
	return &b.folds[i], ok
}

func (b *paymentsBatch) issue(env *domain.Envelope, l *domain.PaymentLine) error {
	switch {
	case l.Reference == "":
		return domain.Invalid("reference", "payment has no reference")
	case l.PaidOn.IsZero():
		return domain.Invalid("paid_on", "payment %q has no paid_on date", l.Reference)
	case l.Period.IsZero():
		return domain.Invalid("period", "payment %q has no period", l.Reference)
	}
	f, seen := b.fold(l.Reference)
	switch {
	case seen && f.isNew:
		return &domain.ConflictError{Reason: fmt.Sprintf("payment %q issued twice", l.Reference)}
	case seen:
		return &domain.ConflictError{Reason: fmt.Sprintf("payment %q issued after its %s event", l.Reference, f.status)}
	}
	*f = paymentFold{
		ref: l.Reference, line: *l, isNew: true, status: PaymentStatusIssued, statusOn: l.PaidOn,
		issued: env.Position, updated: env.Position,
	}
	b.nNew++
	return nil
}

func (b *paymentsBatch) status(env *domain.Envelope, ref string, s PaymentStatus, on domain.Date, reason, bankRef string, settles bool) error {
	switch {
	case ref == "":
		return domain.Invalid("reference", "%s payment has no reference", s)
	case on.IsZero():
		return domain.Invalid("status_on", "%s payment %q has no date", s, ref)
	}
	f, _ := b.fold(ref)
	f.status, f.statusOn, f.reason, f.updated = s, on, reason, env.Position
	if settles {
		f.bankRef, f.bankSet = bankRef, true
	}
	return nil
}

// paymentsInsert inserts the payments issued in this batch, each in its
// final state after the batch's status events. (Measured against pgx
// CopyFrom for 1000-event batches: the same wall time within noise, about
// 10% less server CPU and fewer allocations, and it pipelines with the
// update in one round trip.)
const paymentsInsert = `
INSERT INTO payments (reference, batch_id, person_id, program, period, kind, amount, township, paid_on,
    status, status_on, bank_reference, reason, issued_commit, issued_prepare, updated_commit, updated_prepare)
SELECT reference, batch_id, person_id, program, period, kind, fen * 0.01, township, paid_on,
    status, status_on, bank_reference, reason, ic, ip, uc, up
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[], $7::bigint[], $8::text[],
    $9::date[], $10::text[], $11::date[], $12::text[], $13::text[], $14::bigint[], $15::bigint[],
    $16::bigint[], $17::bigint[])
    AS u(reference, batch_id, person_id, program, period, kind, fen, township, paid_on,
         status, status_on, bank_reference, reason, ic, ip, uc, up)`

// paymentsUpdate applies the batch's status changes to payments issued in
// earlier batches. bank_reference is NULL when no settlement in the batch
// set it, keeping the stored one.
const paymentsUpdate = `
UPDATE payments p SET
    status          = u.status,
    status_on       = u.status_on,
    reason          = u.reason,
    bank_reference  = coalesce(u.bank_reference, p.bank_reference),
    updated_commit  = u.updated_commit,
    updated_prepare = u.updated_prepare
FROM unnest($1::text[], $2::text[], $3::date[], $4::text[], $5::text[], $6::bigint[], $7::bigint[])
    AS u(reference, status, status_on, reason, bank_reference, updated_commit, updated_prepare)
WHERE p.reference = u.reference`

// write writes the batch: the payments issued in it by an insert, or by
// COPY when there are many, and the status changes of payments issued
// earlier by an update, both in one round trip unless COPYing. fresh says
// the table is known to be empty (a rebuild's first write).
func (b *paymentsBatch) write(ctx context.Context, tx pgx.Tx, fresh bool) error {
	if len(b.folds) == 0 {
		return nil
	}
	var q pgx.Batch
	if b.nNew >= cmp.Or(b.copyMin, bulkLimits{}.withDefaults().copyMin) {
		if err := b.copyNew(ctx, tx, fresh); err != nil {
			return err
		}
	} else if err := b.queueInsert(&q); err != nil {
		return err
	}
	var updated int64
	refs, err := b.queueUpdate(&q, &updated)
	if err != nil {
		return err
	}
	if q.Len() > 0 {
		if err := tx.SendBatch(ctx, &q).Close(); err != nil {
			return err
		}
	}
	if int(updated) != len(refs) {
		return b.unknown(ctx, tx, refs)
	}
	return nil
}

// paymentsColumns are the payments register's columns, as COPY sends them.
var paymentsColumns = []string{"reference", "batch_id", "person_id", "program", "period", "kind", "amount", "township", "paid_on",
	"status", "status_on", "bank_reference", "reason", "issued_commit", "issued_prepare", "updated_commit", "updated_prepare"}

// copyNew COPYs the payments issued in the batch, each in its final state.
func (b *paymentsBatch) copyNew(ctx context.Context, tx pgx.Tx, fresh bool) error {
	i := -1
	next := func(buf []byte) ([]byte, bool, error) {
		for i++; i < len(b.folds) && !b.folds[i].isNew; i++ {
		}
		if i == len(b.folds) {
			return buf, false, nil
		}
		f := &b.folds[i]
		c1, p1, err := positionInts(f.issued)
		if err != nil {
			return buf, false, err
		}
		c2, p2, err := positionInts(f.updated)
		if err != nil {
			return buf, false, err
		}
		l := &f.line
		buf = copyTuple(buf, len(paymentsColumns))
		buf = copyText(buf, l.Reference)
		buf = copyText(buf, l.BatchID)
		buf = copyText(buf, string(l.PersonID))
		buf = copyText(buf, string(l.Program))
		buf = copyDate(buf, l.Period.First().Time())
		buf = copyText(buf, string(l.Kind))
		if buf, err = copyFen(buf, l.Amount.Fen()); err != nil {
			return buf, false, err
		}
		buf = copyText(buf, l.Township)
		buf = copyDate(buf, l.PaidOn.Time())
		buf = copyText(buf, string(f.status))
		buf = copyDate(buf, f.statusOn.Time())
		buf = copyText(buf, f.bankRef)
		buf = copyText(buf, f.reason)
		return copyInt8(copyInt8(copyInt8(copyInt8(buf, c1), p1), c2), p2), true, nil
	}
	return copyRows(ctx, tx, "payments", paymentsColumns, next, fresh, b.later)
}

func (b *paymentsBatch) queueInsert(q *pgx.Batch) error {
	n := b.nNew
	if n == 0 {
		return nil
	}
	var (
		ref, batch, person, prog, kind = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		town, status, bank, reason     = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		period, paid, on               = make([]time.Time, 0, n), make([]time.Time, 0, n), make([]time.Time, 0, n)
		fen, ic, ip, uc, up            = make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n), make([]int64, 0, n)
	)
	for i := range b.folds {
		f := &b.folds[i]
		if !f.isNew {
			continue
		}
		c1, p1, err := positionInts(f.issued)
		if err != nil {
			return err
		}
		c2, p2, err := positionInts(f.updated)
		if err != nil {
			return err
		}
		l := &f.line
		ref, batch, person, prog = append(ref, l.Reference), append(batch, l.BatchID), append(person, string(l.PersonID)), append(prog, string(l.Program))
		kind, town = append(kind, string(l.Kind)), append(town, l.Township)
		status, bank, reason = append(status, string(f.status)), append(bank, f.bankRef), append(reason, f.reason)
		period, paid, on = append(period, l.Period.First().Time()), append(paid, l.PaidOn.Time()), append(on, f.statusOn.Time())
		fen, ic, ip, uc, up = append(fen, l.Amount.Fen()), append(ic, c1), append(ip, p1), append(uc, c2), append(up, p2)
	}
	q.Queue(paymentsInsert, ref, batch, person, prog, period, kind, fen, town, paid, status, on, bank, reason, ic, ip, uc, up)
	return nil
}

// queueUpdate queues the update of payments issued in earlier batches; the
// number of rows it updated lands in *updated once the batch has run.
func (b *paymentsBatch) queueUpdate(q *pgx.Batch, updated *int64) ([]string, error) {
	n := len(b.folds) - b.nNew
	if n == 0 {
		return nil, nil
	}
	refs, status, on, reason, bank := make([]string, 0, n), make([]string, 0, n), make([]time.Time, 0, n), make([]string, 0, n), make([]*string, 0, n)
	uc, up := make([]int64, 0, n), make([]int64, 0, n)
	for i := range b.folds {
		f := &b.folds[i]
		if f.isNew {
			continue
		}
		c, p, err := positionInts(f.updated)
		if err != nil {
			return nil, err
		}
		refs = append(refs, f.ref)
		status = append(status, string(f.status))
		on = append(on, f.statusOn.Time())
		reason = append(reason, f.reason)
		if f.bankSet {
			bank = append(bank, &f.bankRef)
		} else {
			bank = append(bank, nil)
		}
		uc, up = append(uc, c), append(up, p)
	}
	q.Queue(paymentsUpdate, refs, status, on, reason, bank, uc, up).Exec(func(tag pgconn.CommandTag) error {
		*updated = tag.RowsAffected()
		return nil
	})
	return refs, nil
}

// unknown reports the status events for references never issued.
func (b *paymentsBatch) unknown(ctx context.Context, tx pgx.Tx, refs []string) error {
	rows, err := tx.Query(ctx, `
SELECT u.reference FROM unnest($1::text[]) AS u(reference)
WHERE NOT EXISTS (SELECT FROM payments p WHERE p.reference = u.reference)
ORDER BY 1 LIMIT 5`, refs)
	if err != nil {
		return fmt.Errorf("find unknown references: %w", err)
	}
	missing, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("find unknown references: %w", err)
	}
	return fmt.Errorf("status events for payments never issued: %q: %w", missing, domain.ErrNotFound)
}

func positionInts(p domain.Position) (int64, int64, error) {
	if p.Commit > math.MaxInt64 || p.Prepare > math.MaxInt64 {
		return 0, 0, domain.Invalid("position", "%d/%d does not fit a BIGINT", p.Commit, p.Prepare)
	}
	return int64(p.Commit), int64(p.Prepare), nil
}

// PaymentRow is one line of the payments register.
type PaymentRow struct {
	Reference       string
	BatchID         string
	PersonID        domain.PersonID
	Program         domain.ProgramCode
	Period          domain.Period
	Kind            domain.PaymentKind
	Amount          domain.Money
	Township        string
	PaidOn          domain.Date
	Status          PaymentStatus
	StatusOn        domain.Date
	BankReference   string
	Reason          string
	IssuedPosition  domain.Position
	UpdatedPosition domain.Position
}

const paymentSelect = `
SELECT reference, batch_id, person_id, program, period, kind, amount::text, township, paid_on,
       status, status_on, bank_reference, reason,
       issued_commit, issued_prepare, updated_commit, updated_prepare
FROM payments `

// PaymentsByBatch returns a payroll batch's lines, by reference.
func PaymentsByBatch(ctx context.Context, q Querier, batchID string) ([]PaymentRow, error) {
	return queryPayments(ctx, q, paymentSelect+`WHERE batch_id = $1 ORDER BY reference`, batchID)
}

// PaymentsByPerson returns every payment line of a person, by period,
// program and reference.
func PaymentsByPerson(ctx context.Context, q Querier, personID domain.PersonID) ([]PaymentRow, error) {
	return queryPayments(ctx, q, paymentSelect+`WHERE person_id = $1 ORDER BY period, program, reference`, string(personID))
}

// PaymentByReference returns one payment line, or an error wrapping
// domain.ErrNotFound.
func PaymentByReference(ctx context.Context, q Querier, ref string) (PaymentRow, error) {
	out, err := queryPayments(ctx, q, paymentSelect+`WHERE reference = $1`, ref)
	if err != nil {
		return PaymentRow{}, err
	}
	if len(out) == 0 {
		return PaymentRow{}, fmt.Errorf("payments: payment %q: %w", ref, domain.ErrNotFound)
	}
	return out[0], nil
}

func queryPayments(ctx context.Context, q Querier, sql string, args ...any) ([]PaymentRow, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	defer rows.Close()
	var out []PaymentRow
	for rows.Next() {
		var (
			r                            PaymentRow
			period, paidOn, statusOn     time.Time
			amount                       string
			ic, ip, uc, up               int64
			person, program, kind, state string
		)
		if err := rows.Scan(&r.Reference, &r.BatchID, &person, &program, &period, &kind, &amount, &r.Township, &paidOn,
			&state, &statusOn, &r.BankReference, &r.Reason, &ic, &ip, &uc, &up); err != nil {
			return nil, fmt.Errorf("payments: %w", err)
		}
		if r.Amount, err = domain.ParseMoney("amount", amount); err != nil {
			return nil, fmt.Errorf("payments: %s: %w", r.Reference, err)
		}
		r.PersonID, r.Program, r.Kind, r.Status = domain.PersonID(person), domain.ProgramCode(program), domain.PaymentKind(kind), PaymentStatus(state)
		r.Period, r.PaidOn, r.StatusOn = domain.DateOf(period).Period(), domain.DateOf(paidOn), domain.DateOf(statusOn)
		r.IssuedPosition = domain.Position{Commit: uint64(ic), Prepare: uint64(ip)}
		r.UpdatedPosition = domain.Position{Commit: uint64(uc), Prepare: uint64(up)}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	return out, nil
}
