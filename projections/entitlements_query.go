package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lushan-dpf/ledger/domain"
)

// EntitlementRow is a person's entitlement to one monthly or annual
// program.
type EntitlementRow struct {
	PersonID        domain.PersonID
	Program         domain.ProgramCode
	Status          domain.EntitlementStatus
	Amount          domain.Money // per period; zero: the catalog rate
	EffectiveFrom   domain.Date
	EffectiveTo     domain.Date // zero while open
	SuspendedFrom   domain.Date // set while suspended
	ReasonCode      string      // of the suspension or termination
	LastPeriodPaid  domain.Period
	PaidTotal       domain.Money
	ArrearsOwed     domain.Money
	OverpaymentOwed domain.Money // claimed − recovered − written off; never below zero here
	UpdatedPosition domain.Position
	PaidPerMonth    []PeriodPaid // filled by EntitlementsWithPaid only
}

// Entitlements returns a person's entitlements, by program.
func Entitlements(ctx context.Context, q Querier, personID domain.PersonID) ([]EntitlementRow, error) {
	return queryEntitlements(ctx, q, personID, false)
}

// EntitlementsWithPaid is Entitlements with each row's PaidPerMonth filled
// in, in one query: the caseworker's look-up.
func EntitlementsWithPaid(ctx context.Context, q Querier, personID domain.PersonID) ([]EntitlementRow, error) {
	return queryEntitlements(ctx, q, personID, true)
}

func queryEntitlements(ctx context.Context, q Querier, personID domain.PersonID, withPaid bool) ([]EntitlementRow, error) {
	paidCol := `''`
	if withPaid {
		paidCol = `coalesce((SELECT string_agg(p.period || '=' || p.paid::text || '/' || p.payments, ';' ORDER BY p.period)
			FROM entitlement_paid p WHERE p.person_id = e.person_id AND p.program = e.program), '')`
	}
	rows, err := q.Query(ctx, `
		SELECT person_id, program, status, coalesce(amount::text, ''), effective_from, effective_to, suspended_from,
			coalesce(reason_code, ''), coalesce(last_period_paid, ''), paid_total::text, arrears_owed::text,
			greatest(overpayment_owed, 0)::text, updated_position, `+paidCol+`
		FROM entitlements e WHERE person_id = $1 ORDER BY program`, string(personID))
	if err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	defer rows.Close()
	var out []EntitlementRow
	for rows.Next() {
		var (
			r                                          EntitlementRow
			person, program, status, amount, last, pos string
			paid, arrears, over, months                string
			from, to, suspended                        pgtype.Date
		)
		if err := rows.Scan(&person, &program, &status, &amount, &from, &to, &suspended, &r.ReasonCode, &last,
			&paid, &arrears, &over, &pos, &months); err != nil {
			return nil, fmt.Errorf("entitlements: %w", err)
		}
		r.PersonID, r.Program, r.Status = domain.PersonID(person), domain.ProgramCode(program), domain.EntitlementStatus(status)
		r.EffectiveFrom, r.EffectiveTo, r.SuspendedFrom = entDateOf(from), entDateOf(to), entDateOf(suspended)
		errs := []error{}
		if amount != "" {
			r.Amount, err = domain.ParseMoney("amount", amount)
			errs = append(errs, err)
		}
		if last != "" {
			r.LastPeriodPaid, err = domain.ParsePeriod("last_period_paid", last)
			errs = append(errs, err)
		}
		r.PaidTotal, err = domain.ParseMoney("paid_total", paid)
		errs = append(errs, err)
		r.ArrearsOwed, err = domain.ParseMoney("arrears_owed", arrears)
		errs = append(errs, err)
		r.OverpaymentOwed, err = domain.ParseMoney("overpayment_owed", over)
		errs = append(errs, err)
		r.UpdatedPosition, err = domain.ParsePosition("updated_position", pos)
		errs = append(errs, err)
		if withPaid {
			r.PaidPerMonth = []PeriodPaid{}
			for _, m := range strings.Split(months, ";") {
				if m == "" {
					continue
				}
				var pp PeriodPaid
				period, rest, _ := strings.Cut(m, "=")
				amt, n, _ := strings.Cut(rest, "/")
				pp.Period, err = domain.ParsePeriod("period", period)
				errs = append(errs, err)
				pp.Paid, err = domain.ParseMoney("paid", amt)
				errs = append(errs, err)
				pp.Payments, err = strconv.Atoi(n)
				errs = append(errs, err)
				r.PaidPerMonth = append(r.PaidPerMonth, pp)
			}
		}
		if err := errors.Join(errs...); err != nil {
			return nil, fmt.Errorf("entitlements: %s %s: %w", person, program, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	return out, nil
}

// HistoryRow is one entitlement decision.
type HistoryRow struct {
	Position      domain.Position
	PersonID      domain.PersonID
	Program       domain.ProgramCode
	Change        string // domain.ChangeGranted, ChangeSuspended, ChangeResumed or ChangeTerminated
	EffectiveDate domain.Date
	RecordedAt    time.Time // UTC
	Actor         string
	Role          string
	ReasonCode    string
	Reason        string       // the user's free text
	Amount        domain.Money // a grant's own amount; zero: the catalog rate
}

// EntitlementHistory returns every entitlement decision about a person, in
// the order they were recorded.
func EntitlementHistory(ctx context.Context, q Querier, personID domain.PersonID) ([]HistoryRow, error) {
	rows, err := q.Query(ctx, `
		SELECT position_commit, position_prepare, person_id, program, change, effective_date, recorded_at, actor, role,
			coalesce(reason_code, ''), reason, coalesce(amount::text, '')
		FROM entitlement_history WHERE person_id = $1
		ORDER BY position_commit, position_prepare, program`, string(personID))
	if err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	defer rows.Close()
	var out []HistoryRow
	for rows.Next() {
		var (
			r                       HistoryRow
			commit, prepare         int64
			person, program, amount string
			eff                     pgtype.Date
		)
		if err := rows.Scan(&commit, &prepare, &person, &program, &r.Change, &eff, &r.RecordedAt, &r.Actor, &r.Role,
			&r.ReasonCode, &r.Reason, &amount); err != nil {
			return nil, fmt.Errorf("entitlements: %w", err)
		}
		r.Position = domain.Position{Commit: uint64(commit), Prepare: uint64(prepare)}
		r.PersonID, r.Program, r.EffectiveDate, r.RecordedAt = domain.PersonID(person), domain.ProgramCode(program), entDateOf(eff), r.RecordedAt.UTC()
		if amount != "" {
			if r.Amount, err = domain.ParseMoney("amount", amount); err != nil {
				return nil, fmt.Errorf("entitlements: %w", err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	return out, nil
}

// PeriodPaid is what was paid for one month: issued payments not failed
// or reversed.
type PeriodPaid struct {
	Period   domain.Period
	Paid     domain.Money
	Payments int
}

// PaidPerMonth returns what was paid to a person under a program for each
// month (the month paid for, not the value date), oldest first. A month
// whose payments all failed is listed with 0.00 and no payments.
func PaidPerMonth(ctx context.Context, q Querier, personID domain.PersonID, program domain.ProgramCode) ([]PeriodPaid, error) {
	rows, err := q.Query(ctx, `SELECT period, paid::text, payments FROM entitlement_paid
		WHERE person_id = $1 AND program = $2 ORDER BY period`, string(personID), string(program))
	if err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	defer rows.Close()
	var out []PeriodPaid
	for rows.Next() {
		var r PeriodPaid
		var period, paid string
		if err := rows.Scan(&period, &paid, &r.Payments); err != nil {
			return nil, fmt.Errorf("entitlements: %w", err)
		}
		if r.Period, err = domain.ParsePeriod("period", period); err != nil {
			return nil, fmt.Errorf("entitlements: %w", err)
		}
		if r.Paid, err = domain.ParseMoney("paid", paid); err != nil {
			return nil, fmt.Errorf("entitlements: %s: %w", period, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	return out, nil
}

// YearPaid is what was paid for the months of one calendar year.
type YearPaid struct {
	Year     int
	Paid     domain.Money
	Payments int
}

// PaidPerYear returns what was paid to a person under a program per year
// of the months paid for, oldest first. It sums entitlement_paid: a person
// has at most a dozen rows per program and year.
func PaidPerYear(ctx context.Context, q Querier, personID domain.PersonID, program domain.ProgramCode) ([]YearPaid, error) {
	rows, err := q.Query(ctx, `SELECT left(period, 4)::int AS year, sum(paid)::text, sum(payments)::int FROM entitlement_paid
		WHERE person_id = $1 AND program = $2 GROUP BY 1 ORDER BY 1`, string(personID), string(program))
	if err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	defer rows.Close()
	var out []YearPaid
	for rows.Next() {
		var r YearPaid
		var paid string
		if err := rows.Scan(&r.Year, &paid, &r.Payments); err != nil {
			return nil, fmt.Errorf("entitlements: %w", err)
		}
		if r.Paid, err = domain.ParseMoney("paid", paid); err != nil {
			return nil, fmt.Errorf("entitlements: %d: %w", r.Year, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("entitlements: %w", err)
	}
	return out, nil
}

// PayrollPersons returns, for every person who was ever granted program,
// their current township and every entitlement decision in recording
// order: what a payroll draft needs. For a one-off program the decisions
// are the person's one-off grants (domain.ChangeOneOff, from the awards
// read model).
func PayrollPersons(ctx context.Context, q Querier, program domain.ProgramCode) ([]domain.PayrollPerson, error) {
	query := `
		SELECT h.person_id, coalesce(p.township, ''), h.change, h.effective_date, coalesce(h.amount::text, '')
		FROM entitlement_history h LEFT JOIN persons p USING (person_id)
		WHERE h.program = $1
		ORDER BY h.person_id, h.position_commit, h.position_prepare`
	if prog, ok := domain.LookupProgram(program); ok && prog.Shape == domain.ShapeOneOff {
		query = `
		SELECT a.person_id, coalesce(p.township, ''), '` + domain.ChangeOneOff + `', a.effective_on, a.amount::text
		FROM awards a LEFT JOIN persons p USING (person_id)
		WHERE a.program = $1 AND a.kind = 'one_off'
		ORDER BY a.person_id, a.position_commit, a.position_prepare`
	}
	rows, err := q.Query(ctx, query, string(program))
	if err != nil {
		return nil, fmt.Errorf("payroll persons: %w", err)
	}
	defer rows.Close()
	var out []domain.PayrollPerson
	for rows.Next() {
		var person, township, change, amount string
		var eff pgtype.Date
		if err := rows.Scan(&person, &township, &change, &eff, &amount); err != nil {
			return nil, fmt.Errorf("payroll persons: %w", err)
		}
		c := domain.EntitlementChange{Kind: change, EffectiveDate: entDateOf(eff)}
		if amount != "" {
			if c.Amount, err = domain.ParseMoney("amount", amount); err != nil {
				return nil, fmt.Errorf("payroll persons: %w", err)
			}
		}
		if n := len(out); n == 0 || out[n-1].PersonID != domain.PersonID(person) {
			out = append(out, domain.PayrollPerson{PersonID: domain.PersonID(person), Township: township})
		}
		out[len(out)-1].Changes = append(out[len(out)-1].Changes, c)
	}
	return out, rows.Err()
}
