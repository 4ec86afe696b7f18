package projections

import (
	"cmp"
	"context"
	_ "embed"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/batchlines.sql
var batchLinesSchema string

// BatchLinesProjection is the read model "batch_lines": every line of
// every payroll batch, reserved when the batch is drafted, in the status
// its payments shard gives it (domain.LineMove: released, issued, settled,
// failed, reversed), and each batch's totals by status and kind. It is
// what a batch's report (app.Payroll.Report) tells, kept as the events
// come rather than folded from every shard of the program on each request:
// the desk pages through a batch of 100,000 lines by reference, or only
// through its exceptions, and reads its totals from a few rows.
//
// Apply folds a batch of events per reference: it reads the lines the
// events touch that earlier batches wrote, moves each through the events
// in log order as the shard does — an event that does not move a line (a
// settlement of a line not issued, a status event for a line never
// reserved) leaves it as it is, as in the shard — and writes the lines
// first seen in the batch, the changed ones and the totals' changes in one
// round trip. A payment issued without a reservation (logs from before
// reservations) is reserved and issued at once, as in the shard. A line
// reserved twice is an error: the batch fails and the runner parks it.
type BatchLinesProjection struct{}

var _ Projection = BatchLinesProjection{}

func (BatchLinesProjection) Name() string     { return "batch_lines" }
func (BatchLinesProjection) Version() int     { return 1 }
func (BatchLinesProjection) Schema() string   { return batchLinesSchema }
func (BatchLinesProjection) Tables() []string { return []string{"batch_lines", "batch_line_totals"} }

func (BatchLinesProjection) Interest() Interest { return batchLinesRoutes.interest() }

// lineOp is one event's move of one line; line is set by a reservation or
// an issue, which carry the whole line.
type lineOp struct {
	ref  string
	typ  string
	line *domain.PaymentLine
}

// lineState is a line as the read model holds it.
type lineState struct {
	line   domain.PaymentLine // BatchID set
	status string
	stored string // its status in the table; "" for a line first seen in this batch
}

type batchLinesBatch struct{ ops []lineOp }

func (b *batchLinesBatch) move(typ string, refs ...string) {
	for _, r := range refs {
		b.ops = append(b.ops, lineOp{ref: r, typ: typ})
	}
}

// batchLinesRoutes is the read model's routing table.
var batchLinesRoutes = newRoutes([]string{"payroll"},
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.LinesReserved) error {
		for _, l := range e.Lines {
			pl := domain.PaymentLine{Reference: l.Reference, BatchID: e.BatchID, PersonID: l.PersonID, Program: e.Program,
				Period: l.Period, Kind: l.Kind, Amount: l.Amount, Township: l.Township, PaidOn: e.PaidOn}
			b.ops = append(b.ops, lineOp{ref: l.Reference, typ: domain.TypeLinesReserved, line: &pl})
		}
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.LinesReleased) error {
		b.move(domain.TypeLinesReleased, e.References...)
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentsIssued) error {
		for i := range e.Payments {
			b.ops = append(b.ops, lineOp{ref: e.Payments[i].Reference, typ: domain.TypePaymentsIssued, line: &e.Payments[i].PaymentLine})
		}
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentIssued) error {
		b.ops = append(b.ops, lineOp{ref: e.Reference, typ: domain.TypePaymentIssued, line: &e.PaymentLine})
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentsSettled) error {
		for _, p := range e.Payments {
			b.move(domain.TypePaymentsSettled, p.Reference)
		}
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentsSettledLate) error {
		for _, p := range e.Payments {
			b.move(domain.TypePaymentsSettledLate, p.Reference)
		}
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentsFailed) error {
		for _, p := range e.Payments {
			b.move(domain.TypePaymentsFailed, p.Reference)
		}
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentSettled) error {
		b.move(domain.TypePaymentSettled, e.Reference)
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentFailed) error {
		b.move(domain.TypePaymentFailed, e.Reference)
		return nil
	}),
	on(func(b *batchLinesBatch, _ *domain.Envelope, e *domain.PaymentReversed) error {
		b.move(domain.TypePaymentReversed, e.Reference)
		return nil
	}),
).ignoring(
	// A batch's control events say nothing of its lines the shards do
	// not; overpayments are claims, not lines (read model "overpayments").
	domain.TypeBatchOpened, domain.TypeBatchDrafted, domain.TypeBatchApproved, domain.TypeBatchIssued,
	domain.TypeBatchRejected, domain.TypeBatchReleased, domain.TypeBatchExported,
	domain.TypeReturnStarted, domain.TypeReturnImported,
	domain.TypeOverpaymentClaimed, domain.TypeOverpaymentRecovered, domain.TypeOverpaymentWrittenOff, domain.TypeOverpaymentCancelled,
)

func (BatchLinesProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	var b batchLinesBatch
	for i := range batch {
		if err := batchLinesRoutes.apply(&b, &batch[i]); err != nil {
			return fmt.Errorf("batch_lines: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	if len(b.ops) == 0 {
		return nil
	}
	lines, order, err := b.fold(ctx, tx)
	if err != nil {
		return fmt.Errorf("batch_lines: %w", err)
	}
	if err := writeBatchLines(ctx, tx, lines, order); err != nil {
		return fmt.Errorf("batch_lines: %w", err)
	}
	return nil
}

// fold reads the lines the batch's events touch that earlier batches
// wrote and moves every line through its events, in log order. order is
// the references in the order first touched.
func (b *batchLinesBatch) fold(ctx context.Context, tx pgx.Tx) (map[string]*lineState, []string, error) {
	lines := make(map[string]*lineState, len(b.ops))
	var order, stored []string
	first := make(map[string]bool, len(b.ops))
	for _, op := range b.ops {
		if !first[op.ref] {
			first[op.ref] = true
			order = append(order, op.ref)
			if op.typ != domain.TypeLinesReserved {
				stored = append(stored, op.ref)
			}
		}
	}
	if len(stored) > 0 {
		rows, err := tx.Query(ctx, `SELECT reference, batch_id, kind, (amount * 100)::bigint, status FROM batch_lines WHERE reference = ANY($1)`, stored)
		if err != nil {
			return nil, nil, err
		}
		for rows.Next() {
			var (
				l    lineState
				kind string
				fen  int64
			)
			if err := rows.Scan(&l.line.Reference, &l.line.BatchID, &kind, &fen, &l.status); err != nil {
				rows.Close()
				return nil, nil, err
			}
			if l.line.Amount, err = domain.MoneyFromFen(fen); err != nil {
				rows.Close()
				return nil, nil, err
			}
			l.line.Kind, l.stored = domain.PaymentKind(kind), l.status
			lines[l.line.Reference] = &l
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, err
		}
	}
	for _, op := range b.ops {
		l := lines[op.ref]
		switch {
		case op.typ == domain.TypeLinesReserved && l != nil:
			return nil, nil, &domain.ConflictError{Reason: fmt.Sprintf("line %q reserved twice", op.ref)}
		case l == nil && op.line != nil: // reserved, or issued without a reservation
			l = &lineState{line: *op.line, status: domain.LineReserved}
			lines[op.ref] = l
		case l == nil: // the shard has no such line: nothing moves
			continue
		}
		l.status, _ = domain.LineMove(op.typ, l.status)
	}
	return lines, order, nil
}

// lineCount is a change of a batch's totals for a status and kind.
type lineCount struct {
	batch, status, kind string
}

// writeBatchLines writes the lines first seen in the batch, the status of
// those changed, and the totals' changes, in one round trip.
func writeBatchLines(ctx context.Context, tx pgx.Tx, lines map[string]*lineState, order []string) error {
	type delta struct{ n, fen int64 }
	totals := map[lineCount]*delta{}
	count := func(l *lineState, status string, sign int64) {
		k := lineCount{l.line.BatchID, status, string(l.line.Kind)}
		d := totals[k]
		if d == nil {
			d = &delta{}
			totals[k] = d
		}
		d.n += sign
		d.fen += sign * l.line.Amount.Fen()
	}
	var (
		ref, batch, person, kind, town, status []string
		period                                 []time.Time
		fen                                    []int64
		uref, ustatus                          []string
	)
	for _, r := range order {
		l := lines[r]
		switch {
		case l == nil:
		case l.stored == "":
			ref, batch, person, kind = append(ref, r), append(batch, l.line.BatchID), append(person, string(l.line.PersonID)), append(kind, string(l.line.Kind))
			town, status = append(town, l.line.Township), append(status, l.status)
			period, fen = append(period, l.line.Period.First().Time()), append(fen, l.line.Amount.Fen())
			count(l, l.status, 1)
		case l.stored != l.status:
			uref, ustatus = append(uref, r), append(ustatus, l.status)
			count(l, l.stored, -1)
			count(l, l.status, 1)
		}
	}
	var q pgx.Batch
	if len(ref) > 0 {
		q.Queue(`INSERT INTO batch_lines (reference, batch_id, person_id, kind, period, amount, township, status)
SELECT reference, batch_id, person_id, kind, period, fen * 0.01, township, status
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::bigint[], $7::text[], $8::text[])
    AS u(reference, batch_id, person_id, kind, period, fen, township, status)`, ref, batch, person, kind, period, fen, town, status)
	}
	if len(uref) > 0 {
		q.Queue(`UPDATE batch_lines l SET status = u.status FROM unnest($1::text[], $2::text[]) AS u(reference, status)
WHERE l.reference = u.reference`, uref, ustatus)
	}
	keys := make([]lineCount, 0, len(totals))
	for k, d := range totals {
		if d.n != 0 || d.fen != 0 {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		// In key order, so that two writers never wait on each other's rows.
		slices.SortFunc(keys, func(a, b lineCount) int {
			return cmp.Or(cmp.Compare(a.batch, b.batch), cmp.Compare(a.status, b.status), cmp.Compare(a.kind, b.kind))
		})
		tb, ts, tk := make([]string, len(keys)), make([]string, len(keys)), make([]string, len(keys))
		tn, tf := make([]int64, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			tb[i], ts[i], tk[i], tn[i], tf[i] = k.batch, k.status, k.kind, totals[k].n, totals[k].fen
		}
		q.Queue(`INSERT INTO batch_line_totals AS t (batch_id, status, kind, lines, amount)
SELECT batch_id, status, kind, n, fen * 0.01
FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[]) AS u(batch_id, status, kind, n, fen)
ON CONFLICT (batch_id, status, kind) DO UPDATE SET lines = t.lines + excluded.lines, amount = t.amount + excluded.amount`, tb, ts, tk, tn, tf)
		q.Queue(`DELETE FROM batch_line_totals t USING unnest($1::text[], $2::text[], $3::text[]) AS u(batch_id, status, kind)
WHERE (t.batch_id, t.status, t.kind) = (u.batch_id, u.status, u.kind) AND t.lines = 0`, tb, ts, tk)
	}
	if q.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &q).Close()
}

// batchLineExceptional is the condition of a line a reviewer should look
// at — not this month's regular payment, or released (withheld, or
// rejected with its batch), failed or reversed — as the partial index
// batch_lines_exceptions states it. It selects the lines of a page and
// counts the totals' rows that match (both tables have status and kind).
const batchLineExceptional = `(kind <> 'regular' OR status IN ('released', 'failed', 'reversed'))`

// BatchLineTotal is a batch's lines in a status (as the payments shards
// name it) and of a kind: how many, and their sum.
type BatchLineTotal struct {
	Status string
	Kind   domain.PaymentKind
	domain.CountTotal
}

// BatchLines returns a page of a batch's lines by reference — only the
// exceptional ones (batchLineExceptional) when exceptions — with their status
// as the payments shards name it, how many lines match, and the batch's
// totals by status and kind. A batch with no lines (or none known) has
// none of either.
func BatchLines(ctx context.Context, q Querier, batchID string, exceptions bool, limit, offset int) ([]domain.BatchReportLine, int, []BatchLineTotal, error) {
	rows, err := q.Query(ctx, `SELECT status, kind, lines, amount::text, `+batchLineExceptional+`
		FROM batch_line_totals WHERE batch_id = $1 ORDER BY status, kind`, batchID)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("batch lines: %w", err)
	}
	var (
		totals   []BatchLineTotal
		matching int
	)
	for rows.Next() {
		var (
			t            BatchLineTotal
			kind, amount string
			exceptional  bool
		)
		if err := rows.Scan(&t.Status, &kind, &t.Count, &amount, &exceptional); err != nil {
			rows.Close()
			return nil, 0, nil, fmt.Errorf("batch lines: %w", err)
		}
		t.Kind = domain.PaymentKind(kind)
		if t.Total, err = domain.ParseMoney("amount", amount); err != nil {
			rows.Close()
			return nil, 0, nil, fmt.Errorf("batch lines: %w", err)
		}
		if !exceptions || exceptional {
			matching += t.Count
		}
		totals = append(totals, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, nil, fmt.Errorf("batch lines: %w", err)
	}
	where := `batch_id = $1`
	if exceptions {
		where += ` AND ` + batchLineExceptional
	}
	rows, err = q.Query(ctx, `SELECT reference, person_id, kind, period, amount::text, township, status FROM batch_lines
		WHERE `+where+` ORDER BY reference LIMIT $2 OFFSET $3`, batchID, limit, offset)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("batch lines: %w", err)
	}
	defer rows.Close()
	var page []domain.BatchReportLine
	for rows.Next() {
		var (
			l                    domain.BatchReportLine
			person, kind, amount string
			period               time.Time
		)
		if err := rows.Scan(&l.Reference, &person, &kind, &period, &amount, &l.Township, &l.Status); err != nil {
			return nil, 0, nil, fmt.Errorf("batch lines: %w", err)
		}
		if l.Amount, err = domain.ParseMoney("amount", amount); err != nil {
			return nil, 0, nil, fmt.Errorf("batch lines: %s: %w", l.Reference, err)
		}
		l.PersonID, l.Kind, l.Period = domain.PersonID(person), domain.PaymentKind(kind), domain.DateOf(period).Period()
		page = append(page, l)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, nil, fmt.Errorf("batch lines: %w", err)
	}
	return page, matching, totals, nil
}
