package domain_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

func TestParseDate(t *testing.T) {
	d, err := domain.ParseDate("effective_from", "2024-02-29")
	if err != nil || d.String() != "2024-02-29" {
		t.Fatalf("leap day: %v %v", d, err)
	}
	for _, s := range []string{"", "2023-02-29", "2024-13-01", "2024/01/01", "20240101", "2024-1-1"} {
		_, err := domain.ParseDate("effective_from", s)
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != "effective_from" {
			t.Errorf("ParseDate(%q) = %v, want a field error on effective_from", s, err)
		}
	}
}

func TestAgeOn(t *testing.T) {
	birth := domain.MustDate("2017-06-15")
	cases := map[string]int{"2024-06-14": 6, "2024-06-15": 7, "2025-06-14": 7, "2025-06-15": 8}
	for on, want := range cases {
		if got := birth.AgeOn(domain.MustDate(on)); got != want {
			t.Errorf("age on %s = %d, want %d", on, got, want)
		}
	}
}

func TestPeriod(t *testing.T) {
	p, err := domain.ParsePeriod("period", "2024-12")
	if err != nil {
		t.Fatal(err)
	}
	if p.Next().String() != "2025-01" || p.Prev().String() != "2024-11" {
		t.Errorf("next %s prev %s", p.Next(), p.Prev())
	}
	if p.First().String() != "2024-12-01" || p.Last().String() != "2024-12-31" {
		t.Errorf("first %s last %s", p.First(), p.Last())
	}
	feb, _ := domain.NewPeriod(2024, time.February)
	if feb.Last().String() != "2024-02-29" || feb.Compare(p) >= 0 || p.Compare(feb) <= 0 {
		t.Errorf("february: last %s", feb.Last())
	}
	for _, s := range []string{"2024-13", "2024-1", "24-01", ""} {
		if _, err := domain.ParsePeriod("period", s); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParsePeriod(%q) accepted", s)
		}
	}
	if _, err := domain.NewPeriod(2024, 0); !errors.Is(err, domain.ErrInvalid) {
		t.Error("month 0 accepted")
	}
}

func TestDateAndPeriodJSON(t *testing.T) {
	type doc struct {
		D domain.Date   `json:"d"`
		P domain.Period `json:"p"`
	}
	in := doc{domain.MustDate("2025-01-31"), domain.MustDate("2025-01-31").Period()}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"d":"2025-01-31","p":"2025-01"}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || !out.D.Equal(in.D) || out.P != in.P {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"2025-02-30"}`), &out); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("bad date in JSON: %v", err)
	}
}

// Next and Prev step a month by the calendar, across year ends too.
func TestPeriodNextAndPrevStepOneMonth(t *testing.T) {
	for y := 1999; y <= 2001; y++ {
		for m := time.January; m <= time.December; m++ {
			p, _ := domain.NewPeriod(y, m)
			if want := p.First().AddDays(32).Period(); p.Next() != want {
				t.Errorf("%s.Next() = %s, want %s", p, p.Next(), want)
			}
			if want := p.First().AddDays(-1).Period(); p.Prev() != want {
				t.Errorf("%s.Prev() = %s, want %s", p, p.Prev(), want)
			}
		}
	}
}
