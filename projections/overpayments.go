package projections

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
)

//go:embed sql/overpayments.sql
var overpaymentsSchema string

// OverpaymentsProjection is the read model "overpayments": every claim for
// money paid that was not owed, and what came back or was written off.
// Claims are rare, so events are applied one statement each.
type OverpaymentsProjection struct{}

var _ Projection = OverpaymentsProjection{}

func (OverpaymentsProjection) Name() string     { return "overpayments" }
func (OverpaymentsProjection) Version() int     { return 2 }
func (OverpaymentsProjection) Schema() string   { return overpaymentsSchema }
func (OverpaymentsProjection) Tables() []string { return []string{"overpayment_claims"} }

func (OverpaymentsProjection) Interest() Interest { return overpaymentsRoutes.interest() }

// overpaymentsTx is where the overpayments read model applies a batch.
type overpaymentsTx struct {
	ctx context.Context
	tx  pgx.Tx
}

// overpaymentsRoutes is the overpayments read model's routing table.
var overpaymentsRoutes = newRoutes([]string{"payroll"},
	on(func(w overpaymentsTx, _ *domain.Envelope, e *domain.OverpaymentClaimed) error {
		_, err := w.tx.Exec(w.ctx, `INSERT INTO overpayment_claims (claim_id, person_id, program, period, amount, refs, claimed_on)
			VALUES ($1, $2, $3, $4, $5::numeric, $6, $7)`,
			e.ClaimID, string(e.PersonID), string(e.Program), e.Period.First().Time(), e.Amount.String(), e.References, e.ClaimedOn.Time())
		return err
	}),
	on(func(w overpaymentsTx, _ *domain.Envelope, e *domain.OverpaymentRecovered) error {
		return adjustClaim(w.ctx, w.tx, e.ClaimID, "recovered", e.Amount)
	}),
	on(func(w overpaymentsTx, _ *domain.Envelope, e *domain.OverpaymentWrittenOff) error {
		return adjustClaim(w.ctx, w.tx, e.ClaimID, "written_off", e.Amount)
	}),
	on(func(w overpaymentsTx, _ *domain.Envelope, e *domain.OverpaymentCancelled) error {
		return adjustClaim(w.ctx, w.tx, e.ClaimID, "cancelled", e.Amount)
	}),
).ignoring(
	// Payments and batches are the payments and spending read models'.
	domain.TypePaymentIssued, domain.TypePaymentsIssued, domain.TypePaymentSettled, domain.TypePaymentsSettled,
	domain.TypePaymentFailed, domain.TypePaymentsFailed, domain.TypePaymentsSettledLate, domain.TypePaymentReversed,
	domain.TypeBatchOpened, domain.TypeBatchDrafted, domain.TypeBatchApproved, domain.TypeBatchIssued,
	domain.TypeBatchRejected, domain.TypeBatchReleased, domain.TypeBatchExported,
	domain.TypeLinesReserved, domain.TypeLinesReleased, domain.TypeReturnStarted, domain.TypeReturnImported,
)

func (OverpaymentsProjection) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	w := overpaymentsTx{ctx, tx}
	for i := range batch {
		if err := overpaymentsRoutes.apply(w, &batch[i]); err != nil {
			return fmt.Errorf("overpayments: %s@%d: %w", batch[i].Stream, batch[i].Revision, err)
		}
	}
	return nil
}

func adjustClaim(ctx context.Context, tx pgx.Tx, claimID, column string, amount domain.Money) error {
	tag, err := tx.Exec(ctx, `UPDATE overpayment_claims SET `+column+` = `+column+` + $2::numeric WHERE claim_id = $1`, claimID, amount.String())
	if err == nil && tag.RowsAffected() != 1 {
		err = fmt.Errorf("claim %s: %w", claimID, domain.ErrNotFound)
	}
	return err
}

// ProgramMonth is one program's month: what was paid (by value date), what
// is still outstanding at the bank, and what was overpaid (by the month
// paid for) and claimed back.
type ProgramMonth struct {
	Month            domain.Period `json:"month"`
	Paid             domain.Money  `json:"paid"`
	Payments         int           `json:"payments"`
	Outstanding      domain.Money  `json:"outstanding"` // issued, not yet settled or failed
	OutstandingCount int           `json:"outstanding_count"`
	Overpaid         domain.Money  `json:"overpaid"` // claimed
	Recovered        domain.Money  `json:"recovered"`
	WrittenOff       domain.Money  `json:"written_off"`
}

// ProgramMonths reports a program's year month by month, from the
// spending, payments and overpayments read models.
func ProgramMonths(ctx context.Context, q Querier, program domain.ProgramCode, year int) ([]ProgramMonth, error) {
	from := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	rows, err := q.Query(ctx, `
		WITH months AS (SELECT generate_series($2::date, $2::date + interval '11 months', interval '1 month')::date AS month),
		paid AS (SELECT month, sum(amount_paid) AS paid, sum(payments)::int AS payments FROM spending
			WHERE program = $1 AND month >= $2 AND month < $2::date + interval '1 year' GROUP BY month),
		outstanding AS (SELECT date_trunc('month', paid_on)::date AS month, sum(amount) AS amount, count(*)::int AS n FROM payments
			WHERE program = $1 AND status = 'issued' AND paid_on >= $2 AND paid_on < $2::date + interval '1 year' GROUP BY 1),
		claims AS (SELECT period AS month, sum(amount - cancelled) AS claimed, sum(recovered) AS recovered, sum(written_off) AS written_off
			FROM overpayment_claims WHERE program = $1 AND period >= $2 AND period < $2::date + interval '1 year' GROUP BY period)
		SELECT to_char(m.month, 'YYYY-MM'), coalesce(p.paid, 0)::text, coalesce(p.payments, 0),
			coalesce(o.amount, 0)::text, coalesce(o.n, 0),
			coalesce(c.claimed, 0)::text, coalesce(c.recovered, 0)::text, coalesce(c.written_off, 0)::text
		FROM months m LEFT JOIN paid p USING (month) LEFT JOIN outstanding o USING (month) LEFT JOIN claims c USING (month)
		ORDER BY m.month`, string(program), from)
	if err != nil {
		return nil, fmt.Errorf("program months: %w", err)
	}
	defer rows.Close()
	var out []ProgramMonth
	for rows.Next() {
		var r ProgramMonth
		var month, paid, outstanding, claimed, recovered, written string
		if err := rows.Scan(&month, &paid, &r.Payments, &outstanding, &r.OutstandingCount, &claimed, &recovered, &written); err != nil {
			return nil, fmt.Errorf("program months: %w", err)
		}
		var perr [6]error
		r.Month, perr[0] = domain.ParsePeriod("month", month)
		r.Paid, perr[1] = parseSigned(paid)
		r.Outstanding, perr[2] = parseSigned(outstanding)
		r.Overpaid, perr[3] = parseSigned(claimed)
		r.Recovered, perr[4] = parseSigned(recovered)
		r.WrittenOff, perr[5] = parseSigned(written)
		for _, e := range perr {
			if e != nil {
				return nil, fmt.Errorf("program months %s: %w", month, e)
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// parseSigned parses a NUMERIC sum, rendered with two decimals.
func parseSigned(s string) (domain.Money, error) {
	d, err := decimalFromText(s)
	if err != nil {
		return domain.Money{}, err
	}
	return domain.ParseMoney("amount", d)
}

// decimalFromText normalises a NUMERIC's text to two decimals.
func decimalFromText(s string) (string, error) {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return "", err
	}
	return d.StringFixed(2), nil
}

// Claim returns one claim and what it still asks (amount − recovered −
// written off − cancelled), or an error wrapping domain.ErrNotFound.
func Claim(ctx context.Context, q Querier, claimID string) (domain.OverpaymentClaimed, domain.Money, error) {
	var c domain.OverpaymentClaimed
	var person, program, amount, remaining string
	var period, claimedOn time.Time
	err := q.QueryRow(ctx, `SELECT person_id, program, period, amount::text, refs, claimed_on, (amount - recovered - written_off - cancelled)::text
		FROM overpayment_claims WHERE claim_id = $1`, claimID).Scan(&person, &program, &period, &amount, &c.References, &claimedOn, &remaining)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, domain.Money{}, fmt.Errorf("claim %s: %w", claimID, domain.ErrNotFound)
	}
	if err != nil {
		return c, domain.Money{}, fmt.Errorf("claim %s: %w", claimID, err)
	}
	c.ClaimID, c.PersonID, c.Program = claimID, domain.PersonID(person), domain.ProgramCode(program)
	c.Period, c.ClaimedOn = domain.DateOf(period).Period(), domain.DateOf(claimedOn)
	if c.Amount, err = domain.ParseMoney("amount", amount); err != nil {
		return c, domain.Money{}, err
	}
	rem, err := parseSigned(remaining)
	return c, rem, err
}

// ClaimRow is a claim with what was recovered, written off and cancelled
// of it, and what it still asks; Name and Township are the person's, from
// the register ("" when erased or not projected yet).
type ClaimRow struct {
	Claim                            domain.OverpaymentClaimed
	Name, Township                   string
	Recovered, WrittenOff, Cancelled domain.Money
	Remaining                        domain.Money
}

// Claims lists the claims — only those still asking something when open
// — newest month first, limit from offset, and how many there are in all.
func Claims(ctx context.Context, q Querier, open bool, limit, offset int) ([]ClaimRow, int, error) {
	var total int
	if err := q.QueryRow(ctx, `SELECT count(*) FROM overpayment_claims
		WHERE NOT $1 OR amount - recovered - written_off - cancelled > 0`, open).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("claims: %w", err)
	}
	rows, err := q.Query(ctx, `
SELECT c.claim_id, c.person_id, c.program, c.period, c.amount::text, c.refs, c.claimed_on,
    c.recovered::text, c.written_off::text, c.cancelled::text, (c.amount - c.recovered - c.written_off - c.cancelled)::text,
    coalesce(p.name, ''), coalesce(p.township, '')
FROM overpayment_claims c LEFT JOIN persons p USING (person_id)
WHERE NOT $1 OR c.amount - c.recovered - c.written_off - c.cancelled > 0
ORDER BY c.period DESC, c.claim_id
LIMIT $2 OFFSET $3`, open, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("claims: %w", err)
	}
	defer rows.Close()
	var out []ClaimRow
	for rows.Next() {
		var (
			r                                                 ClaimRow
			person, program                                   string
			period, claimedOn                                 time.Time
			amount, recovered, writtenOff, cancelled, remains string
		)
		if err := rows.Scan(&r.Claim.ClaimID, &person, &program, &period, &amount, &r.Claim.References, &claimedOn,
			&recovered, &writtenOff, &cancelled, &remains, &r.Name, &r.Township); err != nil {
			return nil, 0, fmt.Errorf("claims: %w", err)
		}
		r.Claim.PersonID, r.Claim.Program = domain.PersonID(person), domain.ProgramCode(program)
		r.Claim.Period, r.Claim.ClaimedOn = domain.DateOf(period).Period(), domain.DateOf(claimedOn)
		for _, m := range []struct {
			into *domain.Money
			text string
		}{{&r.Claim.Amount, amount}, {&r.Recovered, recovered}, {&r.WrittenOff, writtenOff}, {&r.Cancelled, cancelled}, {&r.Remaining, remains}} {
			if *m.into, err = parseSigned(m.text); err != nil {
				return nil, 0, fmt.Errorf("claim %s: %w", r.Claim.ClaimID, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("claims: %w", err)
	}
	return out, total, nil
}
