package domain

import (
	"cmp"
	"fmt"
	"time"
)

// Date is a civil (calendar) date with no time zone: a business or effective
// date. The zero Date is "no date". JSON and text form: "2024-03-01".
type Date struct {
	t time.Time // midnight UTC; zero when unset
}

// NewDate returns the date year-month-day. It normalises like time.Date.
func NewDate(year int, month time.Month, day int) Date {
	return Date{time.Date(year, month, day, 0, 0, 0, 0, time.UTC)}
}

// DateOf returns the calendar date of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return NewDate(y, m, d)
}

// ParseDate parses "YYYY-MM-DD". field names the input in the error.
func ParseDate(field, s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, Invalid(field, "%q is not a date in the form YYYY-MM-DD", s)
	}
	return Date{t}, nil
}

// MustDate parses s and panics on error. For tests and constant tables only.
func MustDate(s string) Date {
	d, err := ParseDate("date", s)
	if err != nil {
		panic(err)
	}
	return d
}

func (d Date) IsZero() bool      { return d.t.IsZero() }
func (d Date) Year() int         { return d.t.Year() }
func (d Date) Month() time.Month { return d.t.Month() }
func (d Date) Day() int          { return d.t.Day() }
func (d Date) Time() time.Time   { return d.t }

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.t.Format(time.DateOnly)
}

func (d Date) Before(o Date) bool { return d.t.Before(o.t) }
func (d Date) After(o Date) bool  { return d.t.After(o.t) }
func (d Date) Equal(o Date) bool  { return d.t.Equal(o.t) }

// Compare returns -1, 0 or +1.
func (d Date) Compare(o Date) int { return d.t.Compare(o.t) }

// AddDays returns d plus n days.
func (d Date) AddDays(n int) Date { return Date{d.t.AddDate(0, 0, n)} }

// Period returns the month d falls in.
func (d Date) Period() Period { return Period{year: d.Year(), month: d.Month()} }

// AgeOn returns the age in whole years of someone born on d, on day on.
func (d Date) AgeOn(on Date) int {
	age := on.Year() - d.Year()
	if on.Month() < d.Month() || (on.Month() == d.Month() && on.Day() < d.Day()) {
		age--
	}
	return age
}

func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Date) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*d = Date{}
		return nil
	}
	v, err := ParseDate("date", string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Period is a calendar month, the unit of monthly payments. Text form "2025-01".
type Period struct {
	year  int
	month time.Month
}

// NewPeriod returns the period year-month; month must be 1..12.
func NewPeriod(year int, month time.Month) (Period, error) {
	if month < 1 || month > 12 {
		return Period{}, Invalid("period", "month %d is not 1..12", month)
	}
	if year < 1900 || year > 9999 {
		return Period{}, Invalid("period", "year %d is out of range", year)
	}
	return Period{year, month}, nil
}

// ParsePeriod parses "YYYY-MM".
func ParsePeriod(field, s string) (Period, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return Period{}, Invalid(field, "%q is not a month in the form YYYY-MM", s)
	}
	return Period{t.Year(), t.Month()}, nil
}

func (p Period) IsZero() bool      { return p.year == 0 }
func (p Period) Year() int         { return p.year }
func (p Period) Month() time.Month { return p.month }
func (p Period) First() Date       { return NewDate(p.year, p.month, 1) }
func (p Period) Last() Date        { return NewDate(p.year, p.month+1, 0) }
func (p Period) Next() Period {
	if p.month == time.December {
		return Period{p.year + 1, time.January}
	}
	return Period{p.year, p.month + 1}
}

func (p Period) Prev() Period {
	if p.month == time.January {
		return Period{p.year - 1, time.December}
	}
	return Period{p.year, p.month - 1}
}

func (p Period) Compare(o Period) int {
	switch {
	case p.year != o.year:
		return cmp.Compare(p.year, o.year)
	default:
		return cmp.Compare(p.month, o.month)
	}
}

func (p Period) String() string {
	if p.IsZero() {
		return ""
	}
	return fmt.Sprintf("%04d-%02d", p.year, int(p.month))
}

func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

func (p *Period) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*p = Period{}
		return nil
	}
	v, err := ParsePeriod("period", string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// BusinessZone is the ledger's civil time zone (Asia/Shanghai, UTC+8, no
// daylight saving since 1991): recording dates (the change notice's
// window), and a date given where a timestamp is expected (the end of that
// day here), are in it.
var BusinessZone = time.FixedZone("Asia/Shanghai", 8*60*60)

// BusinessDate returns the date t falls on in BusinessZone.
func BusinessDate(t time.Time) Date { return DateOf(t.In(BusinessZone)) }
