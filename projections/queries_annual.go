package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// The annual summary's reads (reports/annual.go computes the summary;
// docs/reports.md defines the figures). Everything is judged by business
// (effective) dates within the calendar year:
//
//   - monthly and annual programs, from entitlement_history (entitlements)
//     and awards_grants (awards): a case is a grant cycle (a grant and the
//     changes recorded after it up to the next grant, as domain.MonthsOwed
//     reads them) in force on at least one day of the year;
//   - one-off and in-kind programs, from awards: a case is a grant or an
//     issue effective in the year;
//   - paid, for every program, from payments: the settled payments with
//     PaidOn in the year — what the bank paid, not what was granted;
//   - budgets, from awards_budgets; households, from persons (entitlements)
//     and awards_households.

// AnnualFigures are the read models' figures for the annual summary of one
// year, all read from one snapshot.
type AnnualFigures struct {
	// Cases are the grant cycles of the monthly and annual programs, by
	// program; a program without any has none.
	Cases map[domain.ProgramCode]AnnualCases
	// LivingAndCarePersons counts the distinct persons with a living or a
	// care subsidy case in force in the year.
	LivingAndCarePersons int
	// Awards are the one-off grants and in-kind issues effective in the
	// year, by program.
	Awards map[domain.ProgramCode]AnnualAwards
	// Paid sums the settled payments with their value date in the year, by
	// program.
	Paid map[domain.ProgramCode]domain.Money
	// Budgets are the year's budget allocations, by program.
	Budgets map[domain.ProgramCode]domain.Money
	// Households counts the persons registered and alive on the year's
	// last day by the household class in force then ("" for none).
	Households map[domain.HouseholdClass]int
}

// AnnualCases is what the entitlement cases of one program give.
type AnnualCases struct {
	Cases      int // in force on at least one day of the year
	Persons    int // distinct persons among Cases
	Granted    int // effective_from in the year
	Terminated int // effective_to in the year
	// Cases in force on a public-welfare post and as a library manager
	// (the public-welfare job program's attribute).
	PublicWelfare, LibraryManager int
}

// AnnualAwards is what the one-off grants or in-kind issues of one program
// give.
type AnnualAwards struct {
	Cases, Persons, Items int
	Amount                domain.Money
}

// annualCasesSQL splits every monthly and annual program's history into
// grant cycles — a grant and the changes recorded after it, up to the
// next grant of the same person and program — and counts per program.
// A cycle is in force in the year when its effective_from is on or before
// the year's last day and it is not terminated, or its effective_to (the
// earliest termination of the cycle, its last day in force) is on or after
// the year's first day and not before its effective_from (a death or
// revocation backdated before the grant: it never took effect).
// Suspensions do not matter: a suspended entitlement is in force.
const annualCasesSQL = `
WITH h AS (
	SELECT person_id, program, change, effective_date, position_commit, position_prepare,
		count(*) FILTER (WHERE change = 'granted')
			OVER (PARTITION BY person_id, program ORDER BY position_commit, position_prepare) AS cycle
	FROM entitlement_history
	WHERE program = ANY($3)
), c AS (
	SELECT person_id, program,
		min(effective_date) FILTER (WHERE change = 'granted') AS eff_from,
		min(effective_date) FILTER (WHERE change = 'terminated') AS eff_to,
		min(position_commit) FILTER (WHERE change = 'granted') AS grant_commit,
		min(position_prepare) FILTER (WHERE change = 'granted') AS grant_prepare
	FROM h
	WHERE cycle > 0
	GROUP BY person_id, program, cycle
), k AS (
	SELECT c.person_id, c.program, c.eff_from, c.eff_to,
		c.eff_from <= $2 AND (c.eff_to IS NULL OR (c.eff_to >= $1 AND c.eff_to >= c.eff_from)) AS in_force,
		g.attributes->>'post' AS post
	FROM c LEFT JOIN awards_grants g ON g.position_commit = c.grant_commit AND g.position_prepare = c.grant_prepare
)
SELECT program,
	count(*) FILTER (WHERE in_force),
	count(DISTINCT person_id) FILTER (WHERE in_force),
	count(*) FILTER (WHERE eff_from BETWEEN $1 AND $2),
	count(*) FILTER (WHERE eff_to BETWEEN $1 AND $2),
	count(*) FILTER (WHERE in_force AND post = 'public_welfare'),
	count(*) FILTER (WHERE in_force AND post = 'library_manager')
FROM k
GROUP BY program
UNION ALL
SELECT 'living_and_care', 0, count(DISTINCT person_id), 0, 0, 0, 0
FROM k
WHERE in_force AND program IN ('living_subsidy', 'care_subsidy')`

// annualAwardsSQL sums the one-off grants and in-kind issues effective in
// the year per program.
const annualAwardsSQL = `
SELECT program, count(*), count(DISTINCT person_id), coalesce(sum(quantity), 0), sum(amount)::text
FROM awards
WHERE effective_on BETWEEN $1 AND $2
GROUP BY program`

// annualHouseholdsSQL counts the persons registered on or before $1 and
// not deceased on it by the class in force on $1: that of the latest
// household change effective on or before $1 (ties in log order), else
// the one registered with.
const annualHouseholdsSQL = `
SELECT coalesce(h.class, ''), count(*)
FROM persons p
LEFT JOIN LATERAL (
	SELECT class FROM awards_households h
	WHERE h.person_id = p.person_id AND (h.effective_on IS NULL OR h.effective_on <= $1)
	ORDER BY h.effective_on DESC NULLS LAST, h.position_commit DESC, h.position_prepare DESC
	LIMIT 1
) h ON true
WHERE p.registered_on <= $1 AND (p.deceased_on IS NULL OR p.deceased_on > $1)
GROUP BY 1`

// AnnualFigures reads the figures of year. On a pool or a connection it
// reads them in one read-only repeatable-read transaction, so that every
// figure comes from the same state of the read models; on a transaction,
// in that transaction. Errors are translated (readErr).
func (r ReadModels) AnnualFigures(ctx context.Context, year int) (AnnualFigures, error) {
	q := r.Q
	if db, ok := q.(interface {
		BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error)
	}); ok {
		tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
		if err != nil {
			return AnnualFigures{}, readErr(ctx, err)
		}
		defer func() { _ = tx.Rollback(ctx) }()
		q = tx
	}
	f, err := annualFigures(ctx, q, year)
	return f, readErr(ctx, err)
}

func annualFigures(ctx context.Context, q Querier, year int) (AnnualFigures, error) {
	first := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(year, time.December, 31, 0, 0, 0, 0, time.UTC)
	var entitled []string
	for _, p := range domain.Catalog() {
		if p.Shape == domain.ShapeMonthly || p.Shape == domain.ShapeAnnual {
			entitled = append(entitled, string(p.Code))
		}
	}
	f := AnnualFigures{Cases: map[domain.ProgramCode]AnnualCases{}, Awards: map[domain.ProgramCode]AnnualAwards{},
		Households: map[domain.HouseholdClass]int{}}

	rows, err := q.Query(ctx, annualCasesSQL, first, last, entitled)
	if err != nil {
		return f, fmt.Errorf("cases: %w", err)
	}
	var (
		program string
		c       AnnualCases
	)
	if _, err := pgx.ForEachRow(rows, []any{&program, &c.Cases, &c.Persons, &c.Granted, &c.Terminated, &c.PublicWelfare, &c.LibraryManager}, func() error {
		if program == "living_and_care" {
			f.LivingAndCarePersons = c.Persons
		} else {
			f.Cases[domain.ProgramCode(program)] = c
		}
		return nil
	}); err != nil {
		return f, fmt.Errorf("cases: %w", err)
	}

	rows, err = q.Query(ctx, annualAwardsSQL, first, last)
	if err != nil {
		return f, fmt.Errorf("awards: %w", err)
	}
	var (
		a      AnnualAwards
		amount string
	)
	if _, err := pgx.ForEachRow(rows, []any{&program, &a.Cases, &a.Persons, &a.Items, &amount}, func() error {
		m, err := domain.ParseMoney("amount", amount)
		if err != nil {
			return fmt.Errorf("%s: %w", program, err)
		}
		a.Amount = m
		f.Awards[domain.ProgramCode(program)] = a
		return nil
	}); err != nil {
		return f, fmt.Errorf("awards: %w", err)
	}

	// Paid: what the bank paid, by the payments register — settled
	// payments with their value date in the year, of every program.
	if f.Paid, err = moneyByProgram(ctx, q, "payments", "paid", `SELECT program, sum(amount)::text FROM payments
		WHERE status = 'settled' AND paid_on BETWEEN $1 AND $2 GROUP BY program`, first, last); err != nil {
		return f, err
	}
	if f.Budgets, err = moneyByProgram(ctx, q, "budgets", "budget",
		`SELECT program, amount::text FROM awards_budgets WHERE fiscal_year = $1`, year); err != nil {
		return f, err
	}

	rows, err = q.Query(ctx, annualHouseholdsSQL, last)
	if err != nil {
		return f, fmt.Errorf("households: %w", err)
	}
	var (
		class string
		n     int
	)
	if _, err := pgx.ForEachRow(rows, []any{&class, &n}, func() error {
		f.Households[domain.HouseholdClass(class)] = n
		return nil
	}); err != nil {
		return f, fmt.Errorf("households: %w", err)
	}
	return f, nil
}

// moneyByProgram reads rows of (program, amount as text) into a map; what
// names the figure in errors, field the amount.
func moneyByProgram(ctx context.Context, q Querier, what, field, sql string, args ...any) (map[domain.ProgramCode]domain.Money, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := map[domain.ProgramCode]domain.Money{}
	var program, amount string
	if _, err := pgx.ForEachRow(rows, []any{&program, &amount}, func() error {
		m, err := domain.ParseMoney(field, amount)
		if err != nil {
			return fmt.Errorf("%s: %w", program, err)
		}
		out[domain.ProgramCode(program)] = m
		return nil
	}); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
