package domain_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/shopspring/decimal"
)

// requireDomainFieldError asserts that err is a *FieldError for field wrapping
// ErrInvalid whose reason mentions want, and returns it.
func requireDomainFieldError(t *testing.T, err error, field, want string) *domain.FieldError {
	t.Helper()
	if !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("error %v does not wrap ErrInvalid", err)
	}
	var fe *domain.FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FieldError", err)
	}
	if fe.Field != field {
		t.Errorf("field = %q, want %q", fe.Field, field)
	}
	if !strings.Contains(fe.Reason, want) {
		t.Errorf("reason %q does not mention %q", fe.Reason, want)
	}
	return fe
}

func TestParseMoneyValid(t *testing.T) {
	tests := []struct {
		in     string
		fen    int64
		string string
	}{
		{"110", 11000, "110.00"},
		{"110.0", 11000, "110.00"},
		{"110.00", 11000, "110.00"},
		{"0.01", 1, "0.01"},
		{"0.1", 10, "0.10"},
		{"0", 0, "0.00"},
		{"0.00", 0, "0.00"},
		{"007.50", 750, "7.50"},
		{"1234.5", 123450, "1234.50"},
		{"999999999999.99", 99_999_999_999_999, "999999999999.99"},
		{"000999999999999.99", 99_999_999_999_999, "999999999999.99"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			m, err := domain.ParseMoney("amount", tt.in)
			if err != nil {
				t.Fatalf("ParseMoney(%q): %v", tt.in, err)
			}
			if got := m.Fen(); got != tt.fen {
				t.Errorf("Fen() = %d, want %d", got, tt.fen)
			}
			if got := m.String(); got != tt.string {
				t.Errorf("String() = %q, want %q", got, tt.string)
			}
		})
	}
}

func TestParseMoneyInvalid(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "is empty"},
		{"leading space", " 1", "whitespace"},
		{"trailing newline", "1\n", "whitespace"},
		{"inner space", "1 000", "whitespace"},
		{"ideographic space", "1\u30001", "whitespace"},
		{"negative", "-1", "negative"},
		{"negative zero", "-0", "negative"},
		{"plus", "+1", `"+"`},
		{"three places", "1.005", "3 decimal places"},
		{"trailing zero place", "1.000", "3 decimal places"},
		{"many places", "0.0000001", "7 decimal places"},
		{"exponent", "1e3", "exponent"},
		{"upper exponent", "1E3", "exponent"},
		{"NaN", "NaN", "not a number"},
		{"Inf", "Inf", "not a number"},
		{"-Inf", "-Inf", "not a number"},
		{"Infinity", "Infinity", "not a number"},
		{"hex", "0x10", "hexadecimal"},
		{"upper hex", "0X1F", "hexadecimal"},
		{"comma", "1,000.00", "separator"},
		{"underscore", "1_000", "separator"},
		{"fullwidth comma", "1，000", "separator"},
		{"fullwidth digits", "１１０", "non-ASCII digit"},
		{"arabic-indic digit", "1٣", "non-ASCII digit"},
		{"letter", "12a", "position 3"},
		{"currency sign", "¥110", "position 1"},
		{"two points", "1.2.3", "more than one decimal point"},
		{"bare point", ".", "no digits before"},
		{"leading point", ".5", "no digits before"},
		{"trailing point", "110.", "no digits after"},
		{"above maximum", "1000000000000", "exceeds"},
		{"above maximum with fen", "1000000000000.00", "exceeds"},
		{"invalid utf-8", "1\xff", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := domain.ParseMoney("amount", tt.in)
			if err == nil {
				t.Fatalf("ParseMoney(%q) = %s, want error", tt.in, m)
			}
			requireDomainFieldError(t, err, "amount", tt.want)
		})
	}
}

func TestParseMoneyMessage(t *testing.T) {
	_, err := domain.ParseMoney("amount", "1.005")
	want := `amount: "1.005" has 3 decimal places; at most 2 are allowed (fen)`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	_, err = domain.ParseMoney("monthly_amount", "x")
	if err == nil || !strings.HasPrefix(err.Error(), "monthly_amount: ") {
		t.Errorf("error %v does not name field monthly_amount", err)
	}
}

func TestParseMoneyTruncatesLongInput(t *testing.T) {
	_, err := domain.ParseMoney("amount", strings.Repeat("9", 1000))
	fe := requireDomainFieldError(t, err, "amount", "exceeds")
	if len(fe.Reason) > 200 {
		t.Errorf("reason is %d bytes long; long input should be truncated", len(fe.Reason))
	}
}

func TestMoneyFromFen(t *testing.T) {
	tests := []struct {
		fen  int64
		want string
		err  string
	}{
		{0, "0.00", ""},
		{1, "0.01", ""},
		{11000, "110.00", ""},
		{99_999_999_999_999, "999999999999.99", ""},
		{-1, "", "negative"},
		{100_000_000_000_000, "", "exceeds"},
	}
	for _, tt := range tests {
		m, err := domain.MoneyFromFen(tt.fen)
		if tt.err != "" {
			if err == nil {
				t.Errorf("MoneyFromFen(%d) = %s, want error", tt.fen, m)
				continue
			}
			requireDomainFieldError(t, err, "amount", tt.err)
			continue
		}
		if err != nil {
			t.Errorf("MoneyFromFen(%d): %v", tt.fen, err)
			continue
		}
		if m.String() != tt.want || m.Fen() != tt.fen {
			t.Errorf("MoneyFromFen(%d) = %s (%d fen), want %s", tt.fen, m, m.Fen(), tt.want)
		}
	}
}

func TestMustMoneyPanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil {
			t.Error("MustMoney(\"-1\") did not panic")
		}
	}()
	domain.MustMoney("-1")
}

func TestMoneyZeroValue(t *testing.T) {
	var z domain.Money
	if !z.IsZero() || z.String() != "0.00" || z.Fen() != 0 {
		t.Errorf("zero Money = %q (%d fen, IsZero %t), want 0.00", z, z.Fen(), z.IsZero())
	}
	if !z.Equal(domain.MustMoney("0.00")) || z.Cmp(domain.MustMoney("0")) != 0 {
		t.Error("zero Money is not equal to 0.00")
	}
	if got := z.Add(domain.MustMoney("1.5")); got.String() != "1.50" {
		t.Errorf("zero + 1.5 = %s, want 1.50", got)
	}
	if b, _ := json.Marshal(z); string(b) != `"0.00"` {
		t.Errorf("json of zero Money = %s, want \"0.00\"", b)
	}
	if domain.MustMoney("0.01").IsZero() {
		t.Error("0.01 IsZero")
	}
}

func TestMoneyArithmetic(t *testing.T) {
	a, b := domain.MustMoney("110.50"), domain.MustMoney("0.75")
	if got := a.Add(b).String(); got != "111.25" {
		t.Errorf("Add = %s, want 111.25", got)
	}
	got, err := a.Sub(b)
	if err != nil || got.String() != "109.75" {
		t.Errorf("Sub = %s, %v; want 109.75", got, err)
	}
	got, err = a.Sub(a)
	if err != nil || !got.IsZero() {
		t.Errorf("a.Sub(a) = %s, %v; want 0.00", got, err)
	}
	if _, err := b.Sub(a); err == nil {
		t.Error("0.75 - 110.50 did not fail")
	} else {
		requireDomainFieldError(t, err, "amount", "negative")
	}
	for _, tt := range []struct {
		n    int
		want string
	}{{0, "0.00"}, {1, "110.50"}, {3, "331.50"}, {12, "1326.00"}} {
		if got := a.Mul(tt.n).String(); got != tt.want {
			t.Errorf("110.50 × %d = %s, want %s", tt.n, got, tt.want)
		}
	}
	if got := a.Less(b, b).String(); got != "109.00" {
		t.Errorf("110.50 less 0.75 twice = %s, want 109.00", got)
	}
	if got := a.Less(b, a); !got.IsZero() {
		t.Errorf("110.50 less 0.75 and 110.50 = %s, want 0.00 (never below nothing)", got)
	}
	if got := a.Less(); !got.Equal(a) {
		t.Errorf("110.50 less nothing = %s", got)
	}
	if got := a.Fen(); got != 11050 {
		t.Errorf("Fen = %d, want 11050", got)
	}
	if !a.Decimal().Equal(decimal.RequireFromString("110.5")) {
		t.Errorf("Decimal = %s, want 110.5", a.Decimal())
	}
}

func TestMoneyMulNegativePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Mul(-1) did not panic")
		}
	}()
	domain.MustMoney("1").Mul(-1)
}

func TestMoneyCmpEqual(t *testing.T) {
	one := domain.MustMoney("1")
	oneFen, _ := domain.MoneyFromFen(100)
	tests := []struct {
		a, b domain.Money
		cmp  int
	}{
		{one, oneFen, 0},
		{one, domain.MustMoney("1.00"), 0},
		{one, domain.MustMoney("1.01"), -1},
		{domain.MustMoney("2"), one, 1},
		{domain.Money{}, one, -1},
	}
	for _, tt := range tests {
		if got := tt.a.Cmp(tt.b); got != tt.cmp {
			t.Errorf("%s.Cmp(%s) = %d, want %d", tt.a, tt.b, got, tt.cmp)
		}
		if got := tt.a.Equal(tt.b); got != (tt.cmp == 0) {
			t.Errorf("%s.Equal(%s) = %t", tt.a, tt.b, got)
		}
	}
}

func TestMoneyJSON(t *testing.T) {
	type payload struct {
		Amount domain.Money `json:"amount"`
	}
	b, err := json.Marshal(payload{domain.MustMoney("110")})
	if err != nil || string(b) != `{"amount":"110.00"}` {
		t.Errorf("Marshal = %s, %v; want {\"amount\":\"110.00\"}", b, err)
	}

	valid := []struct{ in, want string }{
		{`{"amount":"110.5"}`, "110.50"},
		{`{"amount":"0.01"}`, "0.01"},
		{`{"amount":"\u0031\u0030"}`, "10.00"},
	}
	for _, tt := range valid {
		var p payload
		if err := json.Unmarshal([]byte(tt.in), &p); err != nil {
			t.Errorf("Unmarshal(%s): %v", tt.in, err)
			continue
		}
		if p.Amount.String() != tt.want {
			t.Errorf("Unmarshal(%s) = %s, want %s", tt.in, p.Amount, tt.want)
		}
	}

	invalid := []struct{ in, want string }{
		{`{"amount":110.5}`, "JSON strings"},
		{`{"amount":110}`, "JSON strings"},
		{`{"amount":-1}`, "JSON strings"},
		{`{"amount":null}`, "null"},
		{`{"amount":true}`, "JSON string"},
		{`{"amount":{}}`, "JSON string"},
		{`{"amount":"1.005"}`, "3 decimal places"},
		{`{"amount":"-1"}`, "negative"},
		{`{"amount":""}`, "empty"},
		{`{"amount":"1e3"}`, "exponent"},
	}
	for _, tt := range invalid {
		var p payload
		err := json.Unmarshal([]byte(tt.in), &p)
		if err == nil {
			t.Errorf("Unmarshal(%s) = %s, want error", tt.in, p.Amount)
			continue
		}
		requireDomainFieldError(t, err, "amount", tt.want)
	}
}

func TestMoneyText(t *testing.T) {
	b, err := domain.MustMoney("5.5").MarshalText()
	if err != nil || string(b) != "5.50" {
		t.Errorf("MarshalText = %s, %v; want 5.50", b, err)
	}
	var m domain.Money
	if err := m.UnmarshalText([]byte("7.25")); err != nil || m.String() != "7.25" {
		t.Errorf("UnmarshalText(7.25) = %s, %v", m, err)
	}
	for _, in := range []string{"", "-1", "1.001", "1e2"} {
		if err := m.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", in)
		} else if !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("UnmarshalText(%q) error %v does not wrap ErrInvalid", in, err)
		}
	}
	// As a map key, Money uses its text form.
	b, err = json.Marshal(map[domain.Money]int{domain.MustMoney("1"): 2})
	if err != nil || string(b) != `{"1.00":2}` {
		t.Errorf("Marshal map = %s, %v", b, err)
	}
}

func FuzzParseMoney(f *testing.F) {
	for _, s := range []string{
		"110", "110.0", "110.00", "0.01", "0", "007.5", "999999999999.99",
		"1000000000000", "", " ", "-1", "+1", "1.005", "1.000", "1e3", "NaN",
		"Inf", "-Infinity", "0x10", "1,000", "１１０", ".5", "5.", "1.2.3",
		"0.0", "00000000000000000000.01", "\xff", "٣",
	} {
		f.Add(s)
	}
	largest := domain.MustMoney("999999999999.99")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := domain.ParseMoney("amount", s)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("ParseMoney(%q) error %v does not wrap ErrInvalid", s, err)
			}
			return
		}
		if m.Cmp(domain.Money{}) < 0 || m.Cmp(largest) > 0 {
			t.Fatalf("ParseMoney(%q) = %s, out of range", s, m)
		}
		if d := m.Decimal(); !d.Equal(d.Truncate(2)) {
			t.Fatalf("ParseMoney(%q) = %s has more than 2 decimals", s, d)
		}
		str := m.String()
		if i := strings.IndexByte(str, '.'); i < 0 || len(str)-i-1 != 2 {
			t.Fatalf("String() = %q, want exactly 2 decimals", str)
		}
		back, err := domain.ParseMoney("amount", str)
		if err != nil {
			t.Fatalf("ParseMoney(%q) round trip of %q: %v", str, s, err)
		}
		if !back.Equal(m) {
			t.Fatalf("round trip of %q: %s != %s", s, back, m)
		}
	})
}
