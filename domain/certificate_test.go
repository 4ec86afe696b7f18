package domain_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

func mustCertNumber(t testing.TB, s string) domain.CertificateNumber {
	t.Helper()
	n, err := domain.ParseCertificateNumber("certificate_number", s)
	if err != nil {
		t.Fatalf("ParseCertificateNumber(%q): %v", s, err)
	}
	return n
}

func TestParseCategory(t *testing.T) {
	tests := []struct {
		in   string
		want domain.DisabilityCategory
	}{
		{"visual", domain.CategoryVisual},
		{"hearing", domain.CategoryHearing},
		{"speech", domain.CategorySpeech},
		{"physical", domain.CategoryPhysical},
		{"intellectual", domain.CategoryIntellectual},
		{"mental", domain.CategoryMental},
		{"multiple", domain.CategoryMultiple},
		{"1", domain.CategoryVisual},
		{"4", domain.CategoryPhysical},
		{"7", domain.CategoryMultiple},
	}
	for _, tt := range tests {
		got, err := domain.ParseCategory("category", tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseCategory(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		if !got.Valid() {
			t.Errorf("%v.Valid() = false", got)
		}
	}
	for _, in := range []string{"", "0", "8", "10", "Visual", "physical ", "blind", "４"} {
		got, err := domain.ParseCategory("category", in)
		if err == nil {
			t.Errorf("ParseCategory(%q) = %v, want error", in, got)
			continue
		}
		requireDomainFieldError(t, err, "category", "not a disability category")
	}
}

func TestCategoryString(t *testing.T) {
	tests := []struct {
		c    domain.DisabilityCategory
		want string
	}{
		{domain.CategoryVisual, "visual"},
		{domain.CategoryHearing, "hearing"},
		{domain.CategorySpeech, "speech"},
		{domain.CategoryPhysical, "physical"},
		{domain.CategoryIntellectual, "intellectual"},
		{domain.CategoryMental, "mental"},
		{domain.CategoryMultiple, "multiple"},
		{0, "DisabilityCategory(0)"},
		{8, "DisabilityCategory(8)"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("DisabilityCategory(%d).String() = %q, want %q", int(tt.c), got, tt.want)
		}
		if want := tt.c >= 1 && tt.c <= 7; tt.c.Valid() != want {
			t.Errorf("DisabilityCategory(%d).Valid() = %t, want %t", int(tt.c), !want, want)
		}
	}
}

func TestCategoryText(t *testing.T) {
	type payload struct {
		Category domain.DisabilityCategory `json:"category"`
	}
	b, err := json.Marshal(payload{domain.CategoryMental})
	if err != nil || string(b) != `{"category":"mental"}` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
	if _, err := json.Marshal(payload{9}); err == nil {
		t.Error("Marshal of category 9 succeeded")
	}
	for in, want := range map[string]domain.DisabilityCategory{
		`{"category":"hearing"}`: domain.CategoryHearing,
		`{"category":"6"}`:       domain.CategoryMental,
	} {
		var p payload
		if err := json.Unmarshal([]byte(in), &p); err != nil || p.Category != want {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, p.Category, err, want)
		}
	}
	var c domain.DisabilityCategory
	err = c.UnmarshalText([]byte("deaf"))
	requireDomainFieldError(t, err, "category", `"deaf"`)
}

func TestDisabilityGrade(t *testing.T) {
	tests := []struct {
		g             domain.DisabilityGrade
		valid, severe bool
	}{
		{0, false, false},
		{1, true, true},
		{2, true, true},
		{3, true, false},
		{4, true, false},
		{5, false, false},
		{-1, false, false},
	}
	for _, tt := range tests {
		if got := tt.g.Valid(); got != tt.valid {
			t.Errorf("grade %d Valid() = %t, want %t", tt.g, got, tt.valid)
		}
		if got := tt.g.Severe(); got != tt.severe {
			t.Errorf("grade %d Severe() = %t, want %t", tt.g, got, tt.severe)
		}
	}
	for _, in := range []string{"1", "2", "3", "4"} {
		g, err := domain.ParseGrade("grade", in)
		if err != nil || fmt.Sprint(int(g)) != in {
			t.Errorf("ParseGrade(%q) = %d, %v", in, g, err)
		}
	}
	for _, in := range []string{"", "0", "5", "12", "I", "一"} {
		_, err := domain.ParseGrade("grade", in)
		requireDomainFieldError(t, err, "grade", "not a disability grade")
	}
}

func TestDisabilityGradeJSON(t *testing.T) {
	type payload struct {
		Grade domain.DisabilityGrade `json:"grade"`
	}
	b, err := json.Marshal(payload{2})
	if err != nil || string(b) != `{"grade":2}` {
		t.Errorf("Marshal = %s, %v", b, err)
	}
	if _, err := json.Marshal(payload{0}); err == nil {
		t.Error("Marshal of grade 0 succeeded")
	}
	var p payload
	if err := json.Unmarshal([]byte(`{"grade":3}`), &p); err != nil || p.Grade != 3 {
		t.Errorf("Unmarshal grade 3 = %d, %v", p.Grade, err)
	}
	for _, in := range []string{`0`, `5`, `"2"`, `2.0`, `-1`, `null`, `true`} {
		err := json.Unmarshal([]byte(`{"grade":`+in+`}`), &p)
		requireDomainFieldError(t, err, "grade", "not a disability grade")
	}
}

func TestParseCertificateNumberValid(t *testing.T) {
	tests := []struct {
		in, number string
		id         string
		category   domain.DisabilityCategory
		grade      domain.DisabilityGrade
	}{
		{"11010519491231002X41", "11010519491231002X41", "11010519491231002X", domain.CategoryPhysical, 1},
		{"11010519491231002x41", "11010519491231002X41", "11010519491231002X", domain.CategoryPhysical, 1},
		{"36042919900101123614", "36042919900101123614", "360429199001011236", domain.CategoryVisual, 4},
		{"36042919900101123673", "36042919900101123673", "360429199001011236", domain.CategoryMultiple, 3},
	}
	for _, tt := range tests {
		n := mustCertNumber(t, tt.in)
		if n.Number() != tt.number {
			t.Errorf("Number() = %q, want %q", n.Number(), tt.number)
		}
		if !n.ResidentID().Equal(mustRID(t, tt.id)) || n.ResidentID().Number() != tt.id {
			t.Errorf("ResidentID() = %s, want %s", n.ResidentID().Number(), tt.id)
		}
		if n.Category() != tt.category || n.Grade() != tt.grade {
			t.Errorf("%s: category %v grade %d, want %v %d", tt.in, n.Category(), n.Grade(), tt.category, tt.grade)
		}
		if n.IsZero() {
			t.Error("IsZero() = true")
		}
	}
}

// TestParseCertificateNumberAsTyped: a certificate number is read as
// typed, like an ID number: full-width digits, spaces, a lower-case x.
func TestParseCertificateNumberAsTyped(t *testing.T) {
	for _, in := range []string{"11010519491231002X41", "11010519491231002x４１", " 110105 19491231 002X 4 1 ", "１１０１０５１９４９１２３１００２Ｘ４１"} {
		n, err := domain.ParseCertificateNumber("certificate_number", in)
		if err != nil {
			t.Errorf("ParseCertificateNumber(%q): %v", in, err)
			continue
		}
		if n.Number() != "11010519491231002X41" {
			t.Errorf("ParseCertificateNumber(%q) = %q", in, n.Number())
		}
	}
}

func TestParseCertificateNumberInvalid(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "has 0 characters (spaces not counted); a certificate number has 20"},
		{"bare ID number", "11010519491231002X", "has 18 characters"},
		{"21 characters", "11010519491231002X411", "has 21 characters"},
		{"legacy ID number", "11010549123100241", "has 17 characters"},
		{"bad embedded check character", "11010519491231002341", `ID number part: check character is "3", expected "X"`},
		{"bad embedded province", ridTestWithCheck("91010519491231002") + "41", "ID number part: area code"},
		{"bad embedded birth date", ridTestWithCheck("36042919990230001") + "41", "ID number part: birth date"},
		{"letter in ID", "1101051949123100AX41", `ID number part: character 17 is "A"`},
		{"category 0", "11010519491231002X01", `character 19 (disability category) is "0"; expected 1 to 7`},
		{"category 8", "11010519491231002X81", "character 19 (disability category)"},
		{"category letter", "11010519491231002XA1", "character 19 (disability category)"},
		{"letter category", "11010519491231002XA1", "character 19 (disability category)"},
		{"grade 0", "11010519491231002X40", `character 20 (disability grade) is "0"; expected 1 to 4`},
		{"grade 5", "11010519491231002X45", "character 20 (disability grade)"},
		{"grade X", "11010519491231002X4X", "character 20 (disability grade)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := domain.ParseCertificateNumber("certificate_number", tt.in)
			if err == nil {
				t.Fatalf("ParseCertificateNumber(%q) = %s, want error", tt.in, n)
			}
			requireDomainFieldError(t, err, "certificate_number", tt.want)
			if !strings.HasPrefix(err.Error(), "certificate_number: ") {
				t.Errorf("error %q does not name the field", err)
			}
			if len(tt.in) >= 12 && strings.Contains(err.Error(), tt.in[:12]) {
				t.Errorf("error %q contains the number", err)
			}
		})
	}
}

func TestNewCertificateNumber(t *testing.T) {
	id := mustRID(t, "11010519491231002X")
	n, err := domain.NewCertificateNumber(id, domain.CategoryPhysical, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n != mustCertNumber(t, "11010519491231002X41") {
		t.Errorf("NewCertificateNumber = %s, not == the parsed number", n.Number())
	}
	legacy, err := domain.NewCertificateNumber(mustRID(t, "110105491231002"), domain.CategoryPhysical, 1)
	if err != nil || legacy != n || legacy.ResidentID().Legacy() {
		t.Errorf("from a legacy ID: %s, %v; want == %s and not Legacy", legacy.Number(), err, n.Number())
	}

	errTests := []struct {
		name  string
		id    domain.ResidentID
		c     domain.DisabilityCategory
		g     domain.DisabilityGrade
		field string
	}{
		{"zero ID", domain.ResidentID{}, domain.CategoryVisual, 1, "id_number"},
		{"category 0", id, 0, 1, "category"},
		{"category 8", id, 8, 1, "category"},
		{"grade 0", id, domain.CategoryVisual, 0, "grade"},
		{"grade 5", id, domain.CategoryVisual, 5, "grade"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.NewCertificateNumber(tt.id, tt.c, tt.g)
			requireDomainFieldError(t, err, tt.field, "")
		})
	}
}

func TestCertificateNumberMasking(t *testing.T) {
	n := mustCertNumber(t, "11010519491231002X41")
	const masked = "110105**********2X41"
	if got := n.Masked(); got != masked || len(got) != 20 {
		t.Errorf("Masked() = %q, want %q", got, masked)
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("certificate", "number", n)
	jsonBytes, err := json.Marshal(struct{ N domain.CertificateNumber }{n})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String": n.String(),
		"%v":     fmt.Sprintf("%v", n),
		"%#v":    fmt.Sprintf("%#v", n),
		"slog":   logged.String(),
		"JSON":   string(jsonBytes),
	}
	for name, out := range outputs {
		if strings.Contains(out, "19491231") {
			t.Errorf("%s output %q contains the number", name, out)
		}
		if !strings.Contains(out, masked) {
			t.Errorf("%s output %q lacks the masked form", name, out)
		}
	}

	var zero domain.CertificateNumber
	if !zero.IsZero() || zero.Number() != "" || zero.Masked() != "" {
		t.Errorf("zero CertificateNumber = %q / %q", zero.Number(), zero.Masked())
	}
}

func TestLookupKeyHashCertificate(t *testing.T) {
	key := domain.LookupKey(bytes.Repeat([]byte{1}, 32))
	n := mustCertNumber(t, "11010519491231002X41")
	want := key.HashString("certificate", "11010519491231002X41")
	if got := key.HashCertificate(n); got != want {
		t.Errorf("HashCertificate = %s, want %s", got, want)
	}
	if key.HashCertificate(mustCertNumber(t, "11010519491231002X42")) == want {
		t.Error("different certificate numbers hash alike")
	}
	if got := key.HashCertificate(domain.CertificateNumber{}); got != "" {
		t.Errorf("HashCertificate of zero = %q, want \"\"", got)
	}
}

func TestNewCertificate(t *testing.T) {
	n := mustCertNumber(t, "11010519491231002X62")
	issued, until := domain.MustDate("2020-03-01"), domain.MustDate("2030-02-28")
	c, err := domain.NewCertificate(n, issued, until)
	if err != nil {
		t.Fatal(err)
	}
	if c.Number != n || c.Category != domain.CategoryMental || c.Grade != 2 ||
		!c.IssuedOn.Equal(issued) || !c.ValidUntil.Equal(until) {
		t.Errorf("NewCertificate = %+v", c)
	}

	errTests := []struct {
		name          string
		number        domain.CertificateNumber
		issued, until domain.Date
		field         string
	}{
		{"no number", domain.CertificateNumber{}, issued, until, "certificate_number"},
		{"no issue date", n, domain.Date{}, until, "issued_on"},
		{"no end date", n, issued, domain.Date{}, "valid_until"},
		{"ends on issue date", n, issued, issued, "valid_until"},
		{"ends before issue date", n, issued, issued.AddDays(-1), "valid_until"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.NewCertificate(tt.number, tt.issued, tt.until)
			requireDomainFieldError(t, err, tt.field, "")
		})
	}
}

func TestCertificateValidOn(t *testing.T) {
	c, err := domain.NewCertificate(mustCertNumber(t, "11010519491231002X41"),
		domain.MustDate("2020-03-01"), domain.MustDate("2030-02-28"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		on   string
		want bool
	}{
		{"2020-02-29", false},
		{"2020-03-01", true},
		{"2025-06-15", true},
		{"2030-02-28", true},
		{"2030-03-01", false},
	}
	for _, tt := range tests {
		if got := c.ValidOn(domain.MustDate(tt.on)); got != tt.want {
			t.Errorf("ValidOn(%s) = %t, want %t", tt.on, got, tt.want)
		}
	}
	if (domain.Certificate{}).ValidOn(domain.MustDate("2025-01-01")) {
		t.Error("zero Certificate is valid")
	}
	if (domain.Certificate{ValidUntil: domain.MustDate("2030-01-01")}).ValidOn(domain.MustDate("2025-01-01")) {
		t.Error("Certificate without an issue date is valid")
	}
}

func TestCertificateForPerson(t *testing.T) {
	c, err := domain.NewCertificate(mustCertNumber(t, "11010519491231002X41"),
		domain.MustDate("2020-03-01"), domain.MustDate("2030-02-28"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		id   domain.ResidentID
		ok   bool
	}{
		{"same person", mustRID(t, "11010519491231002X"), true},
		{"same person, 15-digit number", mustRID(t, "110105491231002"), true},
		{"another person", mustRID(t, "360429199001011236"), false},
		{"no ID number", domain.ResidentID{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.ForPerson(tt.id)
			if tt.ok {
				if err != nil {
					t.Errorf("ForPerson: %v", err)
				}
				return
			}
			requireDomainFieldError(t, err, "certificate_number", "")
			if msg := err.Error(); strings.Contains(msg, "110105") || strings.Contains(msg, "360429") {
				t.Errorf("error %q contains a number", msg)
			}
		})
	}
	if err := (domain.Certificate{}).ForPerson(domain.ResidentID{}); err == nil {
		t.Error("zero Certificate matches a zero ID")
	}
}
