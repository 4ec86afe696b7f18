package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
)

// The annual summary (年度汇总): per program of the catalog, the persons
// and cases of the year, grants and terminations, money paid against the
// budget and goods issued; the living and care subsidies together; and the
// registered persons by household class at the year's end. It is the table
// behind the federation's yearly work report. docs/reports.md spells out
// every definition; in short, everything is judged by business (effective)
// dates within the calendar year, from the read models:
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

// AnnualSummary is the annual summary of one year. Its JSON is the agreed
// shape: field names are fixed, amounts are strings with two decimals, and
// budget and remaining are null for a program without a budget.
type AnnualSummary struct {
	Year          int                 `json:"year"`
	Programs      []AnnualProgram     `json:"programs"` // in domain.Catalog() order
	LivingAndCare AnnualLivingAndCare `json:"living_and_care"`
	Households    AnnualHouseholds    `json:"households"`
	TotalPaid     domain.Money        `json:"total_paid"`
}

// AnnualProgram is one program's line.
type AnnualProgram struct {
	Program domain.ProgramCode `json:"program"`
	Name    string             `json:"name"` // Chinese, as in the catalog
	Shape   domain.Shape       `json:"shape"`
	// Persons is the number of distinct persons among Cases.
	Persons int `json:"persons"`
	// Cases: for monthly and annual programs the grants in force on at
	// least one day of the year (a person granted twice counts twice); for
	// one-off programs the grants, and for in-kind the issues, effective in
	// the year.
	Cases int `json:"cases"`
	// Granted and Terminated count the grants whose effective_from, and the
	// terminations whose effective_to, is in the year (monthly and annual
	// programs only).
	Granted    int `json:"granted"`
	Terminated int `json:"terminated"`
	// Paid is what the bank paid in the year: the program's settled
	// payments with PaidOn in the year (a payment failed, reversed or not
	// yet reported on by the bank does not count); 0.00 for in-kind.
	Paid domain.Money `json:"paid"`
	// Budget is the program's allocation for the year, nil when none;
	// Remaining is Budget − Paid (negative when overspent), nil with it.
	Budget    *domain.Money  `json:"budget"`
	Remaining *AnnualBalance `json:"remaining"`
	// InKindItems and InKindValue sum the quantities, and quantity × unit
	// value, of the in-kind issues (device_in_kind only).
	InKindItems int          `json:"in_kind_items"`
	InKindValue domain.Money `json:"in_kind_value"`
	// Posts splits public_welfare_job's cases by post; nil for every other
	// program, and then omitted.
	Posts *AnnualPosts `json:"posts,omitempty"`
}

// AnnualPosts counts public_welfare_job's cases by the post of their grant.
type AnnualPosts struct {
	PublicWelfare  int `json:"public_welfare"`
	LibraryManager int `json:"library_manager"`
}

// AnnualLivingAndCare is the living and care subsidies together (两项补贴).
type AnnualLivingAndCare struct {
	// Persons is the number of distinct persons with a living_subsidy or a
	// care_subsidy case in the year: a person with both counts once.
	Persons     int          `json:"persons"`
	LivingCases int          `json:"living_cases"`
	CareCases   int          `json:"care_cases"`
	Paid        domain.Money `json:"paid"` // living paid + care paid
}

// AnnualHouseholds counts the persons registered on or before the year's
// last day and not deceased on it, by the household class in force on it.
type AnnualHouseholds struct {
	LiftedFromPoverty int `json:"lifted_from_poverty"`
	MonitoredMarginal int `json:"monitored_marginal"`
	MonitoredUnstable int `json:"monitored_unstable"`
	MonitoredHardship int `json:"monitored_hardship"`
	Monitored         int `json:"monitored"` // the three monitored classes together
	UrbanNeedy        int `json:"urban_needy"`
	None              int `json:"none"`
}

// AnnualBalance is a signed amount in yuan (a budget's remainder may be
// negative), in JSON a string with two decimals such as "-120.50".
type AnnualBalance struct{ d decimal.Decimal }

// NewAnnualBalance returns d as a balance.
func NewAnnualBalance(d decimal.Decimal) AnnualBalance { return AnnualBalance{d} }

// Decimal returns b as a decimal number of yuan.
func (b AnnualBalance) Decimal() decimal.Decimal { return b.d }

// String returns b with exactly two decimals.
func (b AnnualBalance) String() string { return b.d.StringFixed(2) }

// MarshalJSON encodes b as a JSON string, never as a number.
func (b AnnualBalance) MarshalJSON() ([]byte, error) { return []byte(`"` + b.String() + `"`), nil }

// UnmarshalJSON accepts a JSON string holding a decimal with at most two
// decimals, optionally negative.
func (b *AnnualBalance) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return domain.Invalid("remaining", "must be a JSON string such as \"-120.50\"")
	}
	d, err := decimal.NewFromString(s)
	if err != nil || d.Exponent() < -2 {
		return domain.Invalid("remaining", "%q is not an amount with at most two decimals", s)
	}
	b.d = d
	return nil
}

// AnnualFirstYear is the earliest year a summary can be asked for.
const AnnualFirstYear = 2000

// AnnualCheckYear checks that year is from AnnualFirstYear to the year
// after today's.
func AnnualCheckYear(year int, today domain.Date) error {
	if last := today.Year() + 1; year < AnnualFirstYear || year > last {
		return domain.Invalid("year", "%d is not a year from %d to %d", year, AnnualFirstYear, last)
	}
	return nil
}

// AnnualParseYear parses a year given as text (a flag or a query
// parameter), naming field in the error: required, a whole number, and
// within AnnualCheckYear's range.
func AnnualParseYear(field, raw string, today domain.Date) (int, error) {
	last := today.Year() + 1
	if raw == "" {
		return 0, domain.Invalid(field, "is required: the calendar year to summarise, e.g. %d", today.Year()-1)
	}
	y, err := strconv.Atoi(raw)
	if err != nil || y < AnnualFirstYear || y > last {
		return 0, domain.Invalid(field, "%q is not a year from %d to %d", raw, AnnualFirstYear, last)
	}
	return y, nil
}

// AnnualDB is what the summary reads from: a pool or a connection, on
// which it opens one read-only snapshot so that every figure comes from
// the same state of the read models.
type AnnualDB interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// Annual computes the summary of year from the read models. Callers that
// need the latest events reflected wait for the projections first. A year
// outside AnnualCheckYear's range is an error wrapping domain.ErrInvalid.
func Annual(ctx context.Context, db AnnualDB, year int, today domain.Date) (AnnualSummary, error) {
	if err := AnnualCheckYear(year, today); err != nil {
		return AnnualSummary{}, err
	}
	tx, err := db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("annual summary: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	s, err := annualRead(ctx, tx, year)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("annual summary %d: %w", year, err)
	}
	return s, nil
}

// annualCases is what entitlement cases give one program (or, under
// "living_and_care", the distinct persons of the two subsidies).
type annualCases struct {
	cases, persons, granted, terminated int
	publicWelfare, libraryManager       int
}

// annualAwards is what one-off grants or in-kind issues give one program.
type annualAwards struct {
	cases, persons, items int
	amount                domain.Money
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

func annualRead(ctx context.Context, tx pgx.Tx, year int) (AnnualSummary, error) {
	first := time.Date(year, time.January, 1, 0, 0, 0, 0, time.UTC)
	last := time.Date(year, time.December, 31, 0, 0, 0, 0, time.UTC)
	var entitled []string
	for _, p := range domain.Catalog() {
		if p.Shape == domain.ShapeMonthly || p.Shape == domain.ShapeAnnual {
			entitled = append(entitled, string(p.Code))
		}
	}

	cases := map[string]annualCases{}
	rows, err := tx.Query(ctx, annualCasesSQL, first, last, entitled)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("cases: %w", err)
	}
	var (
		program string
		c       annualCases
	)
	if _, err := pgx.ForEachRow(rows, []any{&program, &c.cases, &c.persons, &c.granted, &c.terminated, &c.publicWelfare, &c.libraryManager}, func() error {
		cases[program] = c
		return nil
	}); err != nil {
		return AnnualSummary{}, fmt.Errorf("cases: %w", err)
	}

	awards := map[string]annualAwards{}
	rows, err = tx.Query(ctx, annualAwardsSQL, first, last)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("awards: %w", err)
	}
	var (
		a      annualAwards
		amount string
	)
	if _, err := pgx.ForEachRow(rows, []any{&program, &a.cases, &a.persons, &a.items, &amount}, func() error {
		m, err := domain.ParseMoney("amount", amount)
		if err != nil {
			return fmt.Errorf("%s: %w", program, err)
		}
		a.amount = m
		awards[program] = a
		return nil
	}); err != nil {
		return AnnualSummary{}, fmt.Errorf("awards: %w", err)
	}

	// Paid: what the bank paid, by the payments register — settled
	// payments with their value date in the year, of every program.
	paid := map[domain.ProgramCode]domain.Money{}
	rows, err = tx.Query(ctx, `SELECT program, sum(amount)::text FROM payments
		WHERE status = 'settled' AND paid_on BETWEEN $1 AND $2 GROUP BY program`, first, last)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("payments: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&program, &amount}, func() error {
		m, err := domain.ParseMoney("paid", amount)
		if err != nil {
			return fmt.Errorf("%s: %w", program, err)
		}
		paid[domain.ProgramCode(program)] = m
		return nil
	}); err != nil {
		return AnnualSummary{}, fmt.Errorf("payments: %w", err)
	}

	budgets := map[string]domain.Money{}
	rows, err = tx.Query(ctx, `SELECT program, amount::text FROM awards_budgets WHERE fiscal_year = $1`, year)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("budgets: %w", err)
	}
	if _, err := pgx.ForEachRow(rows, []any{&program, &amount}, func() error {
		m, err := domain.ParseMoney("budget", amount)
		if err != nil {
			return fmt.Errorf("%s: %w", program, err)
		}
		budgets[program] = m
		return nil
	}); err != nil {
		return AnnualSummary{}, fmt.Errorf("budgets: %w", err)
	}

	s := AnnualSummary{Year: year, Programs: []AnnualProgram{}}
	for _, p := range domain.Catalog() {
		r := AnnualProgram{Program: p.Code, Name: p.Name, Shape: p.Shape}
		switch p.Shape {
		case domain.ShapeMonthly, domain.ShapeAnnual:
			c := cases[string(p.Code)]
			r.Cases, r.Persons, r.Granted, r.Terminated = c.cases, c.persons, c.granted, c.terminated
			r.Paid = paid[p.Code]
			if p.Code == domain.ProgramPublicWelfareJob {
				r.Posts = &AnnualPosts{PublicWelfare: c.publicWelfare, LibraryManager: c.libraryManager}
			}
		case domain.ShapeOneOff:
			a := awards[string(p.Code)]
			r.Cases, r.Persons, r.Paid = a.cases, a.persons, paid[p.Code]
		case domain.ShapeInKind:
			a := awards[string(p.Code)]
			r.Cases, r.Persons, r.InKindItems, r.InKindValue = a.cases, a.persons, a.items, a.amount
		}
		if b, ok := budgets[string(p.Code)]; ok {
			rem := NewAnnualBalance(b.Decimal().Sub(r.Paid.Decimal()))
			r.Budget, r.Remaining = &b, &rem
		}
		s.TotalPaid = s.TotalPaid.Add(r.Paid)
		switch p.Code {
		case domain.ProgramLivingSubsidy:
			s.LivingAndCare.LivingCases = r.Cases
			s.LivingAndCare.Paid = s.LivingAndCare.Paid.Add(r.Paid)
		case domain.ProgramCareSubsidy:
			s.LivingAndCare.CareCases = r.Cases
			s.LivingAndCare.Paid = s.LivingAndCare.Paid.Add(r.Paid)
		}
		s.Programs = append(s.Programs, r)
	}
	s.LivingAndCare.Persons = cases["living_and_care"].persons

	rows, err = tx.Query(ctx, annualHouseholdsSQL, last)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("households: %w", err)
	}
	var (
		class string
		n     int
	)
	if _, err := pgx.ForEachRow(rows, []any{&class, &n}, func() error {
		h := &s.Households
		switch domain.HouseholdClass(class) {
		case domain.HouseholdLiftedFromPoverty:
			h.LiftedFromPoverty = n
		case domain.HouseholdMonitoredMarginal:
			h.MonitoredMarginal = n
		case domain.HouseholdMonitoredUnstable:
			h.MonitoredUnstable = n
		case domain.HouseholdMonitoredHardship:
			h.MonitoredHardship = n
		case domain.HouseholdUrbanNeedy:
			h.UrbanNeedy = n
		case domain.HouseholdNone:
			h.None = n
		default:
			return fmt.Errorf("unknown household class %q", class)
		}
		return nil
	}); err != nil {
		return AnnualSummary{}, fmt.Errorf("households: %w", err)
	}
	h := &s.Households
	h.Monitored = h.MonitoredMarginal + h.MonitoredUnstable + h.MonitoredHardship
	return s, nil
}
