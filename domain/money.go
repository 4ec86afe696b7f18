package domain

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shopspring/decimal"
)

// maxMoneyFen is the largest amount ParseMoney and MoneyFromFen accept, in
// fen: 999,999,999,999.99 yuan, the range of PostgreSQL NUMERIC(14,2).
const maxMoneyFen = 99_999_999_999_999

// maxMoneyIntDigits is the number of digits of the largest whole yuan amount.
const maxMoneyIntDigits = 12

// Money is a non-negative amount of renminbi in yuan, exact to the fen
// (0.01 yuan). The zero value is 0.00.
//
// It is held as a whole number of fen (an int64, not a big number): a
// province's payroll keeps millions of amounts in memory, and a pointer-free
// amount costs the garbage collector nothing. Decimal converts it to
// shopspring/decimal for arithmetic beyond sums.
//
// Compare amounts with Equal or Cmp.
//
// Add and Mul do not enforce the NUMERIC(14,2) maximum that ParseMoney does;
// adapters that store a computed sum must check it fits. They panic if a
// result overflows int64 fen (92 trillion yuan), which no real sum reaches.
type Money struct{ fen int64 }

// ParseMoney parses a yuan amount in plain decimal notation: ASCII digits,
// optionally followed by "." and one or two digits, such as "110", "110.0",
// "110.00" or "0.01". It rejects signs, more than two decimal places (even
// trailing zeros), exponents, NaN and infinities, hexadecimal, digit
// separators, non-ASCII digits, whitespace and amounts above
// 999999999999.99. field names the input in the error.
func ParseMoney(field, s string) (Money, error) {
	fen, err := parseFen(field, s)
	if err != nil {
		return Money{}, err
	}
	return Money{fen}, nil
}

func parseFen(field, s string) (int64, error) {
	q := quoteTrunc(s)
	if s == "" {
		return 0, Invalid(field, "is empty; expected an amount in yuan such as 110.00")
	}
	if !utf8.ValidString(s) {
		return 0, Invalid(field, "%s is not valid UTF-8", q)
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return 0, Invalid(field, "%s contains whitespace", q)
	}
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "nan", "inf", "infinity":
		return 0, Invalid(field, "%s is not a number; expected an amount in yuan such as 110.00", q)
	}
	switch s[0] {
	case '-':
		return 0, Invalid(field, "%s is negative; amounts must be zero or more", q)
	case '+':
		return 0, Invalid(field, "%s has a sign; write the amount without \"+\"", q)
	}
	if len(s) > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return 0, Invalid(field, "%s is hexadecimal; write the amount in decimal digits", q)
	}
	pos := 0
	for _, r := range s {
		pos++
		switch {
		case r >= '0' && r <= '9', r == '.':
		case r == 'e' || r == 'E':
			return 0, Invalid(field, "%s uses exponent notation; write the amount in plain digits", q)
		case r == ',' || r == '_' || r == '\'' || r == '，':
			return 0, Invalid(field, "%s contains the digit separator %q; write digits without separators", q, string(r))
		case r > unicode.MaxASCII && unicode.IsDigit(r):
			return 0, Invalid(field, "%s contains the non-ASCII digit %q; use digits 0-9", q, string(r))
		default:
			return 0, Invalid(field, "%s contains %q at position %d; only digits 0-9 and one \".\" are allowed", q, string(r), pos)
		}
	}
	if strings.Count(s, ".") > 1 {
		return 0, Invalid(field, "%s has more than one decimal point", q)
	}
	whole, frac, hasPoint := strings.Cut(s, ".")
	switch {
	case whole == "":
		return 0, Invalid(field, "%s has no digits before the decimal point; write 0%s", q, s)
	case hasPoint && frac == "":
		return 0, Invalid(field, "%s has no digits after the decimal point", q)
	case len(frac) > 2:
		return 0, Invalid(field, "%s has %d decimal places; at most 2 are allowed (fen)", q, len(frac))
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > maxMoneyIntDigits {
		return 0, Invalid(field, "%s exceeds the largest amount, 999999999999.99", q)
	}
	var fen int64
	for _, c := range whole + (frac + "00")[:2] {
		fen = fen*10 + int64(c-'0')
	}
	return fen, nil
}

// MoneyFromFen returns the amount of fen fen, e.g. 11000 for 110.00.
// It rejects negative amounts and amounts above 999999999999.99.
func MoneyFromFen(fen int64) (Money, error) {
	switch {
	case fen < 0:
		return Money{}, Invalid("amount", "%d fen is negative; amounts must be zero or more", fen)
	case fen > maxMoneyFen:
		return Money{}, Invalid("amount", "%d fen exceeds the largest amount, 999999999999.99", fen)
	}
	return Money{fen}, nil
}

// MustMoney parses s like ParseMoney and panics on error. For tests and
// constant tables only.
func MustMoney(s string) Money {
	m, err := ParseMoney("amount", s)
	if err != nil {
		panic(err)
	}
	return m
}

// Less returns m minus every amount of os, or zero when they add up to
// more than m — a balance that cannot go below nothing.
func (m Money) Less(os ...Money) Money {
	r := m.fen
	for _, o := range os {
		r -= o.fen
	}
	return Money{max(r, 0)}
}

// Add returns m + o.
func (m Money) Add(o Money) Money {
	r := m.fen + o.fen
	if r < m.fen {
		panic(fmt.Sprintf("domain: Money %s + %s overflows int64 fen", m, o))
	}
	return Money{r}
}

// Sub returns m - o. It returns an error wrapping ErrInvalid, for field
// "amount", if o is greater than m.
func (m Money) Sub(o Money) (Money, error) {
	if o.fen > m.fen {
		return Money{}, Invalid("amount", "%s minus %s is negative", m, o)
	}
	return Money{m.fen - o.fen}, nil
}

// Mul returns m × n. It panics if n is negative: a negative count is a
// programming error, not bad input.
func (m Money) Mul(n int) Money {
	if n < 0 {
		panic(fmt.Sprintf("domain: Money.Mul by negative count %d", n))
	}
	if n != 0 && m.fen > math.MaxInt64/int64(n) {
		panic(fmt.Sprintf("domain: Money %s × %d overflows int64 fen", m, n))
	}
	return Money{m.fen * int64(n)}
}

// Cmp returns -1, 0 or +1 as m is less than, equal to or greater than o.
func (m Money) Cmp(o Money) int { return cmp.Compare(m.fen, o.fen) }

// Equal reports whether m and o are the same amount.
func (m Money) Equal(o Money) bool { return m.fen == o.fen }

// IsZero reports whether m is 0.00.
func (m Money) IsZero() bool { return m.fen == 0 }

// Fen returns m in fen, e.g. 11000 for 110.00.
func (m Money) Fen() int64 { return m.fen }

// Decimal returns m as a decimal number of yuan.
func (m Money) Decimal() decimal.Decimal { return decimal.New(m.fen, -2) }

// String returns m in yuan with exactly two decimals, e.g. "110.00", "0.00".
func (m Money) String() string { return string(m.appendText(make([]byte, 0, 24))) }

// appendText appends m as String writes it.
func (m Money) appendText(b []byte) []byte {
	b = strconv.AppendInt(b, m.fen/100, 10)
	f := m.fen % 100
	return append(b, '.', byte('0'+f/10), byte('0'+f%10))
}

// MarshalJSON encodes m as a JSON string, e.g. "110.00", never as a number.
func (m Money) MarshalJSON() ([]byte, error) {
	b := append(make([]byte, 0, 24), '"')
	return append(m.appendText(b), '"'), nil
}

// UnmarshalJSON accepts only a JSON string holding an amount ParseMoney
// accepts. JSON numbers are rejected, since decoders commonly round them
// through float64; null is rejected too (use *Money for optional amounts).
func (m *Money) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		switch {
		case string(b) == "null":
			return Invalid("amount", "is null; expected a JSON string such as \"110.00\"")
		case len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
			return Invalid("amount", "is a JSON number; amounts must be JSON strings such as \"110.00\" to avoid float rounding")
		default:
			return Invalid("amount", "must be a JSON string such as \"110.00\"")
		}
	}
	var s string
	if len(b) >= 2 && b[len(b)-1] == '"' && isPlainASCII(b[1:len(b)-1]) {
		s = string(b[1 : len(b)-1]) // the common case: no escapes to undo
	} else if err := json.Unmarshal(b, &s); err != nil {
		return Invalid("amount", "is not a valid JSON string")
	}
	v, err := ParseMoney("amount", s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// MarshalText encodes m like String.
func (m Money) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses b with ParseMoney for field "amount".
func (m *Money) UnmarshalText(b []byte) error {
	v, err := ParseMoney("amount", string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// isPlainASCII reports whether b is printable ASCII without quotes or
// backslashes: JSON string content with nothing to unescape.
func isPlainASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// quoteTrunc quotes s for an error message, shortening long input.
func quoteTrunc(s string) string {
	const limit = 32
	if utf8.RuneCountInString(s) <= limit {
		return strconv.Quote(s)
	}
	return strconv.Quote(string([]rune(s)[:limit])) + "…"
}
