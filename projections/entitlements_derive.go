package projections

import (
	"context"
	"maps"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
)

// entAffectedByAdvance selects a program's entitlements that may owe a
// month after $2, the first day after the old paid_through (NULL: all):
// open ones, and terminated ones whose history holds a termination on or
// after that day (an earlier cycle may end later than the latest one when
// a death was backdated before the latest grant).
const entAffectedByAdvance = `
SELECT e.person_id FROM entitlements e
WHERE e.program = $1 AND ($2::date IS NULL OR e.effective_to IS NULL OR EXISTS (
	SELECT 1 FROM entitlement_history h
	WHERE h.person_id = e.person_id AND h.program = e.program AND h.change = 'terminated' AND h.effective_date >= $2))`

// recomputeKeys returns the keys whose entitlements row must be
// recomputed, sorted.
func (b *entBatch) recomputeKeys(ctx context.Context, tx pgx.Tx, advanced map[string]string) ([]entKey, error) {
	set := maps.Clone(b.touched)
	keys := slices.Collect(maps.Keys(set))
	for _, prog := range slices.Sorted(maps.Keys(advanced)) {
		after := pgtype.Date{}
		if was := advanced[prog]; was != "" {
			p, err := domain.ParsePeriod("period", was)
			if err != nil {
				return nil, err
			}
			after = entDateArg(p.Next().First())
		}
		rows, err := tx.Query(ctx, entAffectedByAdvance, prog, after)
		if err != nil {
			return nil, err
		}
		persons, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		for _, person := range persons {
			k := entKey{person, prog}
			if _, ok := set[k]; !ok {
				set[k] = domain.Position{}
				keys = append(keys, k)
			}
		}
	}
	slices.SortFunc(keys, entKeyCmp)
	return keys, nil
}

// entState is what recompute gathers for one key.
type entState struct {
	history  []entHistory
	paid     map[string]decimal.Decimal // by period
	over     decimal.Decimal
	existing domain.Position
	hasRow   bool
}

// recompute rewrites the entitlements rows of keys from the base tables.
func (b *entBatch) recompute(ctx context.Context, tx pgx.Tx, keys []entKey) error {
	if len(keys) == 0 {
		return nil
	}
	persons, programs := make([]string, len(keys)), make([]string, len(keys))
	states := make(map[entKey]*entState, len(keys))
	for i, k := range keys {
		persons[i], programs[i] = k.person, k.program
		states[k] = &entState{paid: map[string]decimal.Decimal{}}
	}
	const keysCTE = `WITH k AS (SELECT * FROM unnest($1::text[], $2::text[]) AS k(person_id, program)) `

	rows, err := tx.Query(ctx, keysCTE+`
		SELECT h.person_id, h.program, h.change, h.effective_date, coalesce(h.amount::text, ''),
			coalesce(h.reason_code, ''), h.position_commit, h.position_prepare
		FROM k JOIN entitlement_history h USING (person_id, program)
		ORDER BY h.person_id, h.program, h.position_commit, h.position_prepare`, persons, programs)
	if err != nil {
		return err
	}
	for rows.Next() {
		var (
			h           entHistory
			eff         pgtype.Date
			amount      string
			commit, prp int64
		)
		if err := rows.Scan(&h.key.person, &h.key.program, &h.change, &eff, &amount, &h.reasonCode, &commit, &prp); err != nil {
			rows.Close()
			return err
		}
		h.effective, h.pos = entDateOf(eff), domain.Position{Commit: uint64(commit), Prepare: uint64(prp)}
		if amount != "" {
			if h.amount, err = domain.ParseMoney("amount", amount); err != nil {
				rows.Close()
				return err
			}
		}
		s := states[h.key]
		s.history = append(s.history, h)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = tx.Query(ctx, keysCTE+`
		SELECT e.person_id, e.program, e.period, e.paid::text
		FROM k JOIN entitlement_paid e USING (person_id, program)`, persons, programs)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k entKey
		var period, paid string
		if err := rows.Scan(&k.person, &k.program, &period, &paid); err != nil {
			rows.Close()
			return err
		}
		d, err := decimal.NewFromString(paid)
		if err != nil {
			rows.Close()
			return err
		}
		states[k].paid[period] = d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = tx.Query(ctx, keysCTE+`
		SELECT o.person_id, o.program, (o.claimed - o.recovered - o.written_off)::text
		FROM k JOIN entitlement_overpayments o USING (person_id, program)`, persons, programs)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k entKey
		var owed string
		if err := rows.Scan(&k.person, &k.program, &owed); err != nil {
			rows.Close()
			return err
		}
		if states[k].over, err = decimal.NewFromString(owed); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	rows, err = tx.Query(ctx, keysCTE+`
		SELECT e.person_id, e.program, e.updated_position
		FROM k JOIN entitlements e USING (person_id, program)`, persons, programs)
	if err != nil {
		return err
	}
	for rows.Next() {
		var k entKey
		var pos string
		if err := rows.Scan(&k.person, &k.program, &pos); err != nil {
			rows.Close()
			return err
		}
		s := states[k]
		if s.existing, err = domain.ParsePosition("updated_position", pos); err != nil {
			rows.Close()
			return err
		}
		s.hasRow = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	through := map[string]domain.Period{}
	rows, err = tx.Query(ctx, `SELECT program, period FROM program_paid_through WHERE program = ANY($1)`, slices.Compact(slices.Sorted(slices.Values(programs))))
	if err != nil {
		return err
	}
	for rows.Next() {
		var prog, period string
		if err := rows.Scan(&prog, &period); err != nil {
			rows.Close()
			return err
		}
		if through[prog], err = domain.ParsePeriod("period", period); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	var out entRows
	for _, k := range keys {
		s := states[k]
		pos := s.existing
		if p, ok := b.touched[k]; ok && s.existing.Less(p) {
			pos = p
		}
		r, ok := deriveEntitlement(k, s, through[k.program], pos)
		if ok {
			out.add(r)
		}
	}
	if len(out.person) == 0 {
		return nil
	}
	_, err = tx.Exec(ctx, entEntitlementsUpsert, out.person, out.program, out.status, out.amount, out.from, out.to,
		out.suspended, out.reason, out.lastPaid, out.paidTotal, out.arrears, out.over, out.pos)
	return err
}

// entRow is an entitlements row.
type entRow struct {
	key                      entKey
	status                   string
	amount                   domain.Money
	from, to, suspended      domain.Date
	reason                   string
	lastPaid                 string
	paidTotal, arrears, over decimal.Decimal
	pos                      domain.Position
}

// deriveEntitlement computes the entitlements row of k from its history,
// paid months, overpayments and the program's paid_through (zero: none).
// ok is false when the history holds no grant: there is no entitlement.
func deriveEntitlement(k entKey, s *entState, through domain.Period, pos domain.Position) (r entRow, ok bool) {
	r.key = k
	var changes []domain.EntitlementChange
	var first domain.Date
	var beforeEnd entRow // the row as it stood before its latest termination
	for _, h := range s.history {
		if h.change != domain.ChangeGranted && !ok {
			continue // as the aggregate: nothing to change before a grant
		}
		changes = append(changes, domain.EntitlementChange{Kind: h.change, EffectiveDate: h.effective, Amount: h.amount})
		switch h.change {
		case domain.ChangeGranted:
			if !ok || h.effective.Before(first) {
				first = h.effective
			}
			ok = true
			r.status, r.amount, r.from, r.to, r.suspended, r.reason = string(domain.EntitlementStatusActive), h.amount, h.effective, domain.Date{}, domain.Date{}, ""
		case domain.ChangeSuspended:
			r.status, r.suspended, r.reason = string(domain.EntitlementStatusSuspended), h.effective, h.reasonCode
		case domain.ChangeResumed:
			r.status, r.suspended, r.reason = string(domain.EntitlementStatusActive), domain.Date{}, ""
		case domain.ChangeTerminated:
			beforeEnd = r
			r.status, r.to, r.suspended, r.reason = string(domain.EntitlementStatusTerminated), h.effective, domain.Date{}, h.reasonCode
		case domain.ChangeReinstated:
			// As the aggregate: the termination withdrawn is the latest,
			// and the entitlement stands as it did before it.
			if r.status == string(domain.EntitlementStatusTerminated) && r.to.Equal(h.effective) {
				r.status, r.to, r.suspended, r.reason = beforeEnd.status, beforeEnd.to, beforeEnd.suspended, beforeEnd.reason
			}
		}
		if pos.IsStart() || pos.Less(h.pos) {
			pos = h.pos
		}
	}
	if !ok {
		return r, false
	}
	for period, paid := range s.paid {
		r.paidTotal = r.paidTotal.Add(paid)
		if paid.IsPositive() && period > r.lastPaid {
			r.lastPaid = period
		}
	}
	if !through.IsZero() {
		for _, o := range domain.MonthsOwed(domain.ProgramCode(k.program), changes, first.Period(), through) {
			if diff := o.Amount.Decimal().Sub(s.paid[o.Period.String()]); diff.IsPositive() {
				r.arrears = r.arrears.Add(diff)
			}
		}
	}
	r.over, r.pos = s.over, pos
	return r, true
}

type entRows struct {
	person, program, status, reason, lastPaid, pos []string
	amount                                         []pgtype.Text
	from, to, suspended                            []pgtype.Date
	paidTotal, arrears, over                       []string
}

func (o *entRows) add(r entRow) {
	o.person, o.program, o.status = append(o.person, r.key.person), append(o.program, r.key.program), append(o.status, r.status)
	o.reason, o.lastPaid, o.pos = append(o.reason, r.reason), append(o.lastPaid, r.lastPaid), append(o.pos, r.pos.String())
	o.amount = append(o.amount, entMoneyArg(r.amount))
	o.from, o.to, o.suspended = append(o.from, entDateArg(r.from)), append(o.to, entDateArg(r.to)), append(o.suspended, entDateArg(r.suspended))
	o.paidTotal, o.arrears, o.over = append(o.paidTotal, entFixed(r.paidTotal)), append(o.arrears, entFixed(r.arrears)), append(o.over, entFixed(r.over))
}

const entEntitlementsUpsert = `
INSERT INTO entitlements AS e (person_id, program, status, amount, effective_from, effective_to, suspended_from,
	reason_code, last_period_paid, paid_total, arrears_owed, overpayment_owed, updated_position)
SELECT person_id, program, status, amount::numeric, effective_from, effective_to, suspended_from,
	nullif(reason_code, ''), nullif(last_period_paid, ''), paid_total::numeric, arrears_owed::numeric,
	overpayment_owed::numeric, updated_position
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::date[], $7::date[], $8::text[],
	$9::text[], $10::text[], $11::text[], $12::text[], $13::text[])
	AS t(person_id, program, status, amount, effective_from, effective_to, suspended_from, reason_code,
		last_period_paid, paid_total, arrears_owed, overpayment_owed, updated_position)
ON CONFLICT (person_id, program) DO UPDATE SET
	status = EXCLUDED.status, amount = EXCLUDED.amount, effective_from = EXCLUDED.effective_from,
	effective_to = EXCLUDED.effective_to, suspended_from = EXCLUDED.suspended_from, reason_code = EXCLUDED.reason_code,
	last_period_paid = EXCLUDED.last_period_paid, paid_total = EXCLUDED.paid_total, arrears_owed = EXCLUDED.arrears_owed,
	overpayment_owed = EXCLUDED.overpayment_owed, updated_position = EXCLUDED.updated_position`
