package seed

import (
	"math/rand/v2"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// The federation's working calendar for 2024: caseworkers and finance
// officers record on working days (PRC public holidays and their make-up
// working weekends included), in office hours, China Standard Time.

var (
	holidays2024 = dateSet("2024-01-01",
		"2024-02-10", "2024-02-11", "2024-02-12", "2024-02-13", "2024-02-14", "2024-02-15", "2024-02-16", "2024-02-17",
		"2024-04-04", "2024-04-05", "2024-04-06",
		"2024-05-01", "2024-05-02", "2024-05-03", "2024-05-04", "2024-05-05",
		"2024-06-10",
		"2024-09-15", "2024-09-16", "2024-09-17",
		"2024-10-01", "2024-10-02", "2024-10-03", "2024-10-04", "2024-10-05", "2024-10-06", "2024-10-07")
	makeupWorkdays2024 = dateSet("2024-02-04", "2024-02-18", "2024-04-07", "2024-04-28", "2024-05-11",
		"2024-09-14", "2024-09-29", "2024-10-12")
)

func dateSet(ds ...string) map[domain.Date]bool {
	m := make(map[domain.Date]bool, len(ds))
	for _, d := range ds {
		m[domain.MustDate(d)] = true
	}
	return m
}

// isWorkday reports whether the federation's office is open on d.
func isWorkday(d domain.Date) bool {
	switch {
	case holidays2024[d]:
		return false
	case makeupWorkdays2024[d]:
		return true
	}
	wd := d.Time().Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// workdayOnOrAfter returns d, or the next working day after it.
func workdayOnOrAfter(d domain.Date) domain.Date {
	for !isWorkday(d) {
		d = d.AddDays(1)
	}
	return d
}

// workdayOnOrBefore returns d, or the last working day before it.
func workdayOnOrBefore(d domain.Date) domain.Date {
	for !isWorkday(d) {
		d = d.AddDays(-1)
	}
	return d
}

// clock returns the time hh:mm on d in China Standard Time.
func clock(d domain.Date, hh, mm int) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), hh, mm, 0, 0, domain.BusinessZone)
}

// officeTime returns a random time in office hours (08:30–11:50 and
// 14:30–17:20) on d.
func officeTime(r *rand.Rand, d domain.Date) time.Time {
	m := r.IntN(200 + 170)
	if m < 200 {
		return clock(d, 8, 30).Add(time.Duration(m) * time.Minute)
	}
	return clock(d, 14, 30).Add(time.Duration(m-200) * time.Minute)
}

// randomDate returns a date in [from, to] (to before from gives from).
func randomDate(r *rand.Rand, from, to domain.Date) domain.Date {
	n := int(to.Time().Sub(from.Time()).Hours() / 24)
	if n <= 0 {
		return from
	}
	return from.AddDays(r.IntN(n + 1))
}

// monthDate returns day of month m of 2024, clamped to the month's end.
func monthDate(m, day int) domain.Date {
	p, _ := domain.NewPeriod(2024, time.Month(m))
	if last := p.Last(); day > last.Day() {
		return last
	}
	return domain.NewDate(2024, time.Month(m), day)
}

// payrollDay is when finance runs a month's payroll: the batches are
// drafted, approved and exported on draft, paid (value date) on paid, and
// the bank's return file is reconciled on reconcile.
type payrollDay struct {
	draft, paid, reconcile domain.Date
}

// payrollCalendar holds the payroll days of 2024, by month (index 0 is
// January): around the 15th, paid around the 20th, moved off weekends and
// holidays (February's before the Spring Festival).
var payrollCalendar = func() [12]payrollDay {
	days := [12][3]int{
		{15, 19, 22}, {5, 8, 19}, {15, 20, 22}, {15, 19, 22}, {15, 20, 22}, {14, 20, 24},
		{15, 19, 22}, {15, 20, 22}, {13, 20, 23}, {15, 18, 22}, {15, 20, 22}, {16, 20, 23},
	}
	var out [12]payrollDay
	for i, d := range days {
		out[i] = payrollDay{monthDate(i+1, d[0]), monthDate(i+1, d[1]), monthDate(i+1, d[2])}
	}
	return out
}()

// Step boundaries of month m (1–12): the draft starts at draftTime, the
// return file is reconciled at reconcileTime.
func draftTime(m int) time.Time     { return clock(payrollCalendar[m-1].draft, 9, 30) }
func reconcileTime(m int) time.Time { return clock(payrollCalendar[m-1].reconcile, 10, 30) }

// recordDay moves a recording date onto a working day that is not a
// payroll draft day (finance has the office that day), not before d.
func recordDay(d domain.Date) domain.Date {
	for {
		d = workdayOnOrAfter(d)
		if d.Year() != 2024 || payrollCalendar[int(d.Month())-1].draft != d {
			return d
		}
		d = d.AddDays(1)
	}
}

// deadlineBefore returns the last recording day before month m's draft
// (m = 13: the end of 2024).
func deadlineBefore(m int) domain.Date {
	if m > 12 {
		return workdayOnOrBefore(domain.MustDate("2024-12-31"))
	}
	return workdayOnOrBefore(payrollCalendar[m-1].draft.AddDays(-1))
}
