// Package sheet keeps what the ledger writes for spreadsheets from being
// read as something else.
package sheet

import "strings"

// SafeCell neutralises a CSV cell that a spreadsheet would evaluate as a
// formula (CSV injection, after OWASP's advice): a cell starting with =,
// +, -, @, a tab or a carriage return gets a leading apostrophe, which
// spreadsheets show as text. Use it on every cell whose text came from
// outside (typed by people, or read from a bank's file); figures the
// ledger formats itself (amounts, dates, counts) need not pass through it.
func SafeCell(v string) string {
	if v != "" && strings.ContainsAny(v[:1], "=+-@\t\r") {
		return "'" + v
	}
	return v
}
