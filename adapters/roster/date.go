package roster

import (
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// datePattern matches the written dates: 2024-01-05, 2024/1/5, 2024.1.5,
// 2024年1月5日 and 20240105, optionally followed by a time of day.
var datePattern = regexp.MustCompile(`^(?:` +
	`([0-9]{4})([-/.])([0-9]{1,2})([-/.])([0-9]{1,2})` +
	`|([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日?` +
	`|([0-9]{4})([0-9]{2})([0-9]{2})` +
	`)(?:[ T]+[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?$`)

// serialPattern matches an Excel date serial as an XLSX file stores it: a
// day number, with a fraction for a time of day.
var serialPattern = regexp.MustCompile(`^([0-9]{1,7})(?:\.[0-9]+)?$`)

// Excel's 1900 date system: day 1 is 1900-01-01, and day 60 is 1900-02-29,
// which Lotus 1-2-3 believed in and Excel keeps; from day 61 (1900-03-01)
// on, day n is n days after 1899-12-30.
const (
	excelFakeLeapDay = 60
	excelLastSerial  = 2958465 // 9999-12-31
)

// narrowDigits reads full-width digits and separators as ASCII ones.
var narrowDigits = strings.NewReplacer(
	"０", "0", "１", "1", "２", "2", "３", "3", "４", "4",
	"５", "5", "６", "6", "７", "7", "８", "8", "９", "9",
	"－", "-", "／", "/", "．", ".", "：", ":",
)

// parseDate reads a date as the package documentation describes; serials
// says whether an XLSX date serial is accepted. why, if set, says in words
// a clerk acts on what is wrong.
func parseDate(s string, serials bool) (d domain.Date, why string) {
	s = narrowDigits.Replace(s)
	if m := serialPattern.FindStringSubmatch(s); serials && m != nil {
		return excelDate(m[1])
	}
	m := datePattern.FindStringSubmatch(s)
	if m == nil || m[2] != m[4] {
		return domain.Date{}, show(s) + " is not a date; write it as 2024-01-05, 2024/1/5, 2024.1.5, 2024年1月5日 or 20240105"
	}
	var ymd [3]string
	switch {
	case m[1] != "":
		ymd = [3]string{m[1], m[3], m[5]}
	case m[6] != "":
		ymd = [3]string{m[6], m[7], m[8]}
	default:
		ymd = [3]string{m[9], m[10], m[11]}
	}
	y, _ := strconv.Atoi(ymd[0])
	mo, _ := strconv.Atoi(ymd[1])
	day, _ := strconv.Atoi(ymd[2])
	d = domain.NewDate(y, time.Month(mo), day)
	switch {
	case d.Year() != y || int(d.Month()) != mo || d.Day() != day:
		return domain.Date{}, show(s) + " is not a day of the calendar"
	case y < 1900:
		return domain.Date{}, show(s) + " is before 1900"
	}
	return d, ""
}

// excelDate converts the day number of an Excel date serial.
func excelDate(days string) (domain.Date, string) {
	n, _ := strconv.Atoi(days)
	switch {
	case n < 1 || n > excelLastSerial:
		return domain.Date{}, "the date cell holds " + days + ", which is not a date; format the cell as a date or write it as 2024-01-05"
	case n == excelFakeLeapDay:
		return domain.Date{}, "the date cell holds Excel's 1900-02-29, a day that never was; enter the right date"
	case n < excelFakeLeapDay:
		return domain.NewDate(1899, time.December, 31).AddDays(n), ""
	}
	return domain.NewDate(1899, time.December, 30).AddDays(n), ""
}
