package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// The annual summary (年度汇总): per program of the catalog, the persons
// and cases of the year, grants and terminations, money paid against the
// budget and goods issued; the living and care subsidies together; and the
// registered persons by household class at the year's end. It is the table
// behind the federation's yearly work report. docs/reports.md spells out
// every definition; in short, everything is judged by business (effective)
// dates within the calendar year, from the read models; which read model
// gives which figure is written beside the queries
// (projections/queries_annual.go, ReadModels.AnnualFigures).

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

// AnnualReadModels is what the annual summary reads: the year's figures,
// all from one state of the read models. projections.ReadModels
// implements it.
type AnnualReadModels interface {
	AnnualFigures(ctx context.Context, year int) (projections.AnnualFigures, error)
}

// Annual computes the summary of year from the read models. Callers that
// need the latest events reflected wait for the projections first. A year
// outside AnnualCheckYear's range is an error wrapping domain.ErrInvalid.
func Annual(ctx context.Context, rm AnnualReadModels, year int, today domain.Date) (AnnualSummary, error) {
	if err := AnnualCheckYear(year, today); err != nil {
		return AnnualSummary{}, err
	}
	f, err := rm.AnnualFigures(ctx, year)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("annual summary %d: %w", year, err)
	}
	s, err := annualOf(year, f)
	if err != nil {
		return AnnualSummary{}, fmt.Errorf("annual summary %d: %w", year, err)
	}
	return s, nil
}

// annualOf lays the figures out as the summary.
func annualOf(year int, f projections.AnnualFigures) (AnnualSummary, error) {
	s := AnnualSummary{Year: year, Programs: []AnnualProgram{}}
	for _, p := range domain.Catalog() {
		r := AnnualProgram{Program: p.Code, Name: p.Name, Shape: p.Shape}
		switch p.Shape {
		case domain.ShapeMonthly, domain.ShapeAnnual:
			c := f.Cases[p.Code]
			r.Cases, r.Persons, r.Granted, r.Terminated = c.Cases, c.Persons, c.Granted, c.Terminated
			r.Paid = f.Paid[p.Code]
			if p.Code == domain.ProgramPublicWelfareJob {
				r.Posts = &AnnualPosts{PublicWelfare: c.PublicWelfare, LibraryManager: c.LibraryManager}
			}
		case domain.ShapeOneOff:
			a := f.Awards[p.Code]
			r.Cases, r.Persons, r.Paid = a.Cases, a.Persons, f.Paid[p.Code]
		case domain.ShapeInKind:
			a := f.Awards[p.Code]
			r.Cases, r.Persons, r.InKindItems, r.InKindValue = a.Cases, a.Persons, a.Items, a.Amount
		}
		if b, ok := f.Budgets[p.Code]; ok {
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
	s.LivingAndCare.Persons = f.LivingAndCarePersons

	h := &s.Households
	for class, n := range f.Households {
		switch class {
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
			return AnnualSummary{}, fmt.Errorf("households: unknown household class %q", class)
		}
	}
	h.Monitored = h.MonitoredMarginal + h.MonitoredUnstable + h.MonitoredHardship
	return s, nil
}
