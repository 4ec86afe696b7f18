package domain_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// ridTestWithCheck appends the GB 11643 check character to 17 digits. It is
// written independently of the package's implementation on purpose.
func ridTestWithCheck(first17 string) string {
	weights := []int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	sum := 0
	for i, w := range weights {
		sum += int(first17[i]-'0') * w
	}
	return first17 + string("10X98765432"[sum%11])
}

func mustRID(t testing.TB, s string) domain.ResidentID {
	t.Helper()
	id, err := domain.ParseResidentID("id_number", s)
	if err != nil {
		t.Fatalf("ParseResidentID(%q): %v", s, err)
	}
	return id
}

func TestParseResidentIDValid(t *testing.T) {
	tests := []struct {
		in, number, area, birth, seq string
		gender                       domain.Gender
		legacy                       bool
	}{
		// The example of GB 11643-1999.
		{"11010519491231002X", "11010519491231002X", "110105", "1949-12-31", "002", domain.GenderFemale, false},
		{"11010519491231002x", "11010519491231002X", "110105", "1949-12-31", "002", domain.GenderFemale, false},
		{"360429199001011236", "360429199001011236", "360429", "1990-01-01", "123", domain.GenderMale, false},
		{ridTestWithCheck("36042920000229001"), ridTestWithCheck("36042920000229001"), "360429", "2000-02-29", "001", domain.GenderMale, false},
		{ridTestWithCheck("81000019000101999"), ridTestWithCheck("81000019000101999"), "810000", "1900-01-01", "999", domain.GenderMale, false},
		{ridTestWithCheck("82000021000101010"), ridTestWithCheck("82000021000101010"), "820000", "2100-01-01", "010", domain.GenderFemale, false},
		{ridTestWithCheck("71000019800101010"), ridTestWithCheck("71000019800101010"), "710000", "1980-01-01", "010", domain.GenderFemale, false},
		// First-generation 15-digit numbers.
		{"110105491231002", "11010519491231002X", "110105", "1949-12-31", "002", domain.GenderFemale, true},
		{"360429900101123", "360429199001011236", "360429", "1990-01-01", "123", domain.GenderMale, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			id := mustRID(t, tt.in)
			if id.Number() != tt.number {
				t.Errorf("Number() = %q, want %q", id.Number(), tt.number)
			}
			if id.AreaCode() != tt.area {
				t.Errorf("AreaCode() = %q, want %q", id.AreaCode(), tt.area)
			}
			if !id.BirthDate().Equal(domain.MustDate(tt.birth)) {
				t.Errorf("BirthDate() = %s, want %s", id.BirthDate(), tt.birth)
			}
			if id.Sequence() != tt.seq {
				t.Errorf("Sequence() = %q, want %q", id.Sequence(), tt.seq)
			}
			if id.Gender() != tt.gender {
				t.Errorf("Gender() = %q, want %q", id.Gender(), tt.gender)
			}
			if id.Legacy() != tt.legacy {
				t.Errorf("Legacy() = %t, want %t", id.Legacy(), tt.legacy)
			}
			if id.IsZero() {
				t.Error("IsZero() = true")
			}
		})
	}
}

func TestParseResidentIDInvalid(t *testing.T) {
	valid := "11010519491231002X"
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "has 0 characters (spaces not counted); an ID number has 18"},
		{"only spaces", " \u3000 ", "has 0 characters"},
		{"17 characters", valid[:17], "has 17 characters"},
		{"19 characters", valid + "1", "has 19 characters"},
		{"16 characters", valid[:16], "has 16 characters"},
		{"a digit replaced by a space", "110105 9491231002X", "has 17 characters (spaces not counted)"},
		{"letter", "1101A519491231002X", `character 5 is "A"`},
		{"x inside", "11010519491231x02X", `character 15 is "X"; an ID number holds only digits`},
		{"full-width digit, wrong check", "１10105194912310021", `check character is "1", expected "X": the 18th character does not match`},
		{"bad check letter", "11010519491231002Y", `character 18 is "Y"; the last character of an ID number is a digit or X`},
		{"X in 15 digits", "11010549123100X", `character 15 is "X"; an ID number holds only digits`},
		{"letter O for zero", "11O10519491231002X", `character 3 is "O"`},
		{"dash", "1101051949-231002X", `character 11 is "-"`},
		{"province 91", ridTestWithCheck("91010519491231002"), `area code starts with "91"`},
		{"province 00", ridTestWithCheck("00010519491231002"), `area code starts with "00"`},
		{"province 10", ridTestWithCheck("10010519491231002"), `area code starts with "10"`},
		{"province 16", ridTestWithCheck("16010519491231002"), `area code starts with "16"`},
		{"province 83", ridTestWithCheck("83000019491231002"), `area code starts with "83"`},
		{"province 99 legacy", "990105491231002", `area code starts with "99"`},
		{"30 February", ridTestWithCheck("36042919990230001"), "birth date (characters 7-14) is not a calendar date"},
		{"month 13", ridTestWithCheck("36042919991301001"), "not a calendar date"},
		{"month 00", ridTestWithCheck("36042919990001001"), "not a calendar date"},
		{"day 00", ridTestWithCheck("36042919990100001"), "not a calendar date"},
		{"29 February 1900", ridTestWithCheck("36042919000229001"), "not a calendar date"},
		{"31 April legacy", "360429990431001", "birth date (characters 7-12) is not a calendar date"},
		// A valid check character, so only the 1880 birth date is wrong.
		{"born 1880", "440524188001010014", "is before 1900-01-01"},
		{"born 1899", ridTestWithCheck("36042918991231001"), "is before 1900-01-01"},
		{"born 2100-01-02", ridTestWithCheck("36042921000102001"), "is after 2100-01-01"},
		{"born 2999", ridTestWithCheck("36042929990101001"), "is after 2100-01-01"},
		{"sequence 000", ridTestWithCheck("36042919900101000"), "sequence code (characters 15-17) is 000"},
		{"sequence 000 legacy", "360429900101000", "sequence code (characters 13-15) is 000"},
		{"check digit for X", "110105194912310023", `check character is "3", expected "X"`},
		{"check X for digit", "36042919900101123X", `check character is "X", expected "6"`},
		{"check x for digit", "36042919900101123x", `check character is "X", expected "6"`},
		{"check off by one", "360429199001011237", `check character is "7", expected "6"`},
		{"transposed digits", "11001519491231002X", "check character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := domain.ParseResidentID("id_number", tt.in)
			if err == nil {
				t.Fatalf("ParseResidentID(%q) = %s, want error", tt.in, id)
			}
			if !id.IsZero() {
				t.Errorf("ID returned with error is not zero")
			}
			fe := requireDomainFieldError(t, err, "id_number", tt.want)
			if len(tt.in) >= 15 && strings.Contains(err.Error(), tt.in[:12]) {
				t.Errorf("error %q contains the number", fe)
			}
		})
	}
}

// TestParseResidentIDAsTyped: numbers as caseworkers type or paste them —
// full-width digits from a Chinese input method, spaces around and
// inside, a lower-case or full-width x, invisible characters from copied
// text — are read as the plain number.
func TestParseResidentIDAsTyped(t *testing.T) {
	for _, in := range []string{
		"11010519491231002X",
		" 11010519491231002X ",
		"\t11010519491231002x\n",
		"110105 19491231 002X",
		"110105\u300019491231\u3000002X",
		"１１０１０５１９４９１２３１００２Ｘ",
		"１１０１０５１９４９１２３１００２ｘ",
		"110105 1949 1231 002 x",
		"\ufeff11010519491231002X\u200b",
		"\u00a011010519491231002X",
	} {
		id, err := domain.ParseResidentID("id_number", in)
		if err != nil {
			t.Errorf("ParseResidentID(%q): %v", in, err)
			continue
		}
		if id.Number() != "11010519491231002X" {
			t.Errorf("ParseResidentID(%q) = %q, want 11010519491231002X", in, id.Number())
		}
	}
	if got := domain.NormalizeResidentID("３６０４ 29-x"); got != "360429-X" {
		t.Errorf("NormalizeResidentID kept or dropped the wrong characters: %q", got)
	}
}

func TestParseResidentIDProvinces(t *testing.T) {
	known := map[int]bool{
		11: true, 12: true, 13: true, 14: true, 15: true,
		21: true, 22: true, 23: true,
		31: true, 32: true, 33: true, 34: true, 35: true, 36: true, 37: true,
		41: true, 42: true, 43: true, 44: true, 45: true, 46: true,
		50: true, 51: true, 52: true, 53: true, 54: true,
		61: true, 62: true, 63: true, 64: true, 65: true,
		71: true, 81: true, 82: true,
	}
	for p := range 100 {
		s := ridTestWithCheck(fmt.Sprintf("%02d010519491231002", p))
		_, err := domain.ParseResidentID("id_number", s)
		if known[p] {
			if err != nil {
				t.Errorf("province %02d: %v", p, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("province %02d accepted", p)
			continue
		}
		requireDomainFieldError(t, err, "id_number", fmt.Sprintf("area code starts with \"%02d\"", p))
	}
}

func TestParseResidentIDMessage(t *testing.T) {
	_, err := domain.ParseResidentID("id_number", "110105194912310023")
	want := `id_number: check character is "3", expected "X": the 18th character does not match the first 17, so a digit was probably mistyped or two swapped`
	if err == nil || err.Error() != want {
		t.Errorf("error = %v, want %s", err, want)
	}
	_, err = domain.ParseResidentID("guardian_id_number", "1")
	if err == nil || !strings.HasPrefix(err.Error(), "guardian_id_number: ") {
		t.Errorf("error %v does not name field guardian_id_number", err)
	}
}

func TestResidentIDMasking(t *testing.T) {
	id := mustRID(t, "11010519491231002X")
	const masked = "110105********002X"
	if got := id.Masked(); got != masked {
		t.Errorf("Masked() = %q, want %q", got, masked)
	}
	if got := mustRID(t, "360429199001011236").Masked(); got != "360429********1236" {
		t.Errorf("Masked() = %q, want 360429********1236", got)
	}
	if got := mustRID(t, "110105491231002").Masked(); got != masked {
		t.Errorf("legacy Masked() = %q, want %q", got, masked)
	}

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("registered", "id", id)
	jsonBytes, err := json.Marshal(struct{ ID domain.ResidentID }{id})
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String": id.String(),
		"%v":     fmt.Sprintf("%v", id),
		"%s":     fmt.Sprintf("%s", id),
		"%#v":    fmt.Sprintf("%#v", id),
		"slog":   logged.String(),
		"JSON":   string(jsonBytes),
	}
	for name, out := range outputs {
		if strings.Contains(out, id.Number()) || strings.Contains(out, "19491231") {
			t.Errorf("%s output %q contains the number", name, out)
		}
		if !strings.Contains(out, masked) {
			t.Errorf("%s output %q lacks the masked form", name, out)
		}
	}
	if string(jsonBytes) != `{"ID":"110105********002X"}` {
		t.Errorf("JSON = %s", jsonBytes)
	}
}

func TestResidentIDZero(t *testing.T) {
	var id domain.ResidentID
	if !id.IsZero() || id.Number() != "" || id.AreaCode() != "" || id.Sequence() != "" ||
		id.Masked() != "" || id.String() != "" || id.Gender() != "" || !id.BirthDate().IsZero() || id.Legacy() {
		t.Errorf("zero ResidentID accessors are not empty: %#v", id)
	}
	if id.Equal(mustRID(t, "11010519491231002X")) {
		t.Error("zero ResidentID equals a real one")
	}
}

func TestResidentIDEqual(t *testing.T) {
	a := mustRID(t, "11010519491231002X")
	tests := []struct {
		b    domain.ResidentID
		want bool
	}{
		{mustRID(t, "11010519491231002x"), true},
		{mustRID(t, "110105491231002"), true},
		{mustRID(t, "360429199001011236"), false},
	}
	for _, tt := range tests {
		if got := a.Equal(tt.b); got != tt.want {
			t.Errorf("Equal(%s) = %t, want %t", tt.b, got, tt.want)
		}
	}
}

func TestNewResidentID(t *testing.T) {
	tests := []struct {
		area  string
		birth string
		seq   int
		want  string
	}{
		{"110105", "1949-12-31", 2, "11010519491231002X"},
		{"360429", "1990-01-01", 123, "360429199001011236"},
		{"360429", "2100-01-01", 999, ridTestWithCheck("36042921000101999")},
		{"650102", "1900-01-01", 1, ridTestWithCheck("65010219000101001")},
	}
	for _, tt := range tests {
		id, err := domain.NewResidentID(tt.area, domain.MustDate(tt.birth), tt.seq)
		if err != nil {
			t.Errorf("NewResidentID(%s, %s, %d): %v", tt.area, tt.birth, tt.seq, err)
			continue
		}
		if id.Number() != tt.want {
			t.Errorf("NewResidentID(%s, %s, %d) = %s, want %s", tt.area, tt.birth, tt.seq, id.Number(), tt.want)
		}
		if !mustRID(t, id.Number()).Equal(id) || id.Legacy() {
			t.Errorf("NewResidentID result %s does not re-parse to itself", id)
		}
	}

	errTests := []struct {
		name, area string
		birth      domain.Date
		seq        int
		field      string
	}{
		{"short area", "11010", domain.MustDate("1990-01-01"), 1, "area_code"},
		{"letters in area", "11010A", domain.MustDate("1990-01-01"), 1, "area_code"},
		{"unknown province", "910105", domain.MustDate("1990-01-01"), 1, "area_code"},
		{"no birth date", "110105", domain.Date{}, 1, "birth_date"},
		{"born 1899", "110105", domain.NewDate(1899, time.December, 31), 1, "birth_date"},
		{"born 2100-01-02", "110105", domain.NewDate(2100, time.January, 2), 1, "birth_date"},
		{"sequence 0", "110105", domain.MustDate("1990-01-01"), 0, "sequence"},
		{"sequence 1000", "110105", domain.MustDate("1990-01-01"), 1000, "sequence"},
		{"negative sequence", "110105", domain.MustDate("1990-01-01"), -1, "sequence"},
	}
	for _, tt := range errTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := domain.NewResidentID(tt.area, tt.birth, tt.seq)
			if err == nil {
				t.Fatal("no error")
			}
			requireDomainFieldError(t, err, tt.field, "")
		})
	}
}

func TestLookupKeyHash(t *testing.T) {
	key := domain.LookupKey(bytes.Repeat([]byte{7}, 32))
	other := domain.LookupKey(bytes.Repeat([]byte{8}, 32))
	id := mustRID(t, "11010519491231002X")

	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("resident_id:11010519491231002X"))
	want := hex.EncodeToString(mac.Sum(nil))

	if got := key.Hash(id); got != want {
		t.Errorf("Hash = %s, want %s", got, want)
	}
	if got := key.Hash(mustRID(t, "110105491231002")); got != want {
		t.Errorf("Hash of the 15-digit form = %s, want %s", got, want)
	}
	if got := key.HashString("resident_id", id.Number()); got != want {
		t.Errorf("HashString = %s, want %s", got, want)
	}
	if key.Hash(id) != key.Hash(id) {
		t.Error("Hash is not deterministic")
	}
	if other.Hash(id) == want {
		t.Error("Hash does not depend on the key")
	}
	if key.Hash(mustRID(t, "360429199001011236")) == want {
		t.Error("different IDs hash alike")
	}
	if key.HashString("certificate", id.Number()) == want {
		t.Error("Hash does not depend on the kind")
	}
	if got := key.Hash(domain.ResidentID{}); got != "" {
		t.Errorf("Hash of zero ID = %q, want \"\"", got)
	}
}

func TestLookupKeyValidate(t *testing.T) {
	tests := []struct {
		size int
		ok   bool
	}{{0, false}, {16, false}, {31, false}, {32, true}, {64, true}}
	for _, tt := range tests {
		err := domain.LookupKey(make([]byte, tt.size)).Validate()
		if tt.ok != (err == nil) {
			t.Errorf("Validate(%d bytes) = %v, want ok %t", tt.size, err, tt.ok)
		}
		if err != nil {
			requireDomainFieldError(t, err, "lookup_key", "")
		}
	}
}

func TestLookupKeyPanics(t *testing.T) {
	tests := []struct {
		name string
		f    func()
	}{
		{"empty key", func() { domain.LookupKey(nil).HashString("certificate", "x") }},
		{"colon in kind", func() { domain.LookupKey("k").HashString("a:b", "x") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("did not panic")
				}
			}()
			tt.f()
		})
	}
}

func FuzzParseResidentID(f *testing.F) {
	for _, s := range []string{
		"11010519491231002X", "11010519491231002x", "110105194912310023",
		"360429199001011236", "440524188001010014", "110105491231002",
		"360429900101123", "360429900101000", ridTestWithCheck("36042920000229001"),
		ridTestWithCheck("91010519491231002"), ridTestWithCheck("36042919990230001"),
		"", "X", "123456789012345678901", "１１０１０５１９４９１２３１００２Ｘ",
		"11010519491231002\u00d7", "\xff\xfe\xfd\xfc\xfb\xfa\xf9\xf8\xf7\xf6\xf5\xf4\xf3\xf2\xf1",
		"11010519491231002X41",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := domain.ParseResidentID("id_number", s)
		if err != nil {
			var fe *domain.FieldError
			if !errors.As(err, &fe) || fe.Field != "id_number" || !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("ParseResidentID(%q) error %v is not an id_number FieldError", s, err)
			}
			if len(s) >= 15 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q contains the input", err)
			}
			return
		}
		n := id.Number()
		if len(n) != 18 {
			t.Fatalf("Number() = %q, want 18 characters", n)
		}
		if n != ridTestWithCheck(n[:17]) {
			t.Fatalf("Number() = %q has a wrong check character", n)
		}
		// Read as typed: the input normalised (spaces dropped, full-width
		// digits made ASCII) is what has 15 or 18 characters.
		plain := domain.NormalizeResidentID(s)
		if domain.NormalizeResidentID(plain) != plain {
			t.Fatalf("NormalizeResidentID(%q) = %q is not normalised", s, plain)
		}
		if id.Legacy() != (len(plain) == 15) {
			t.Fatalf("Legacy() = %t for %q, %d characters as typed", id.Legacy(), plain, len(plain))
		}
		again, err := domain.ParseResidentID("id_number", n)
		if err != nil {
			t.Fatalf("Number() %q does not re-parse: %v", n, err)
		}
		if again.Number() != n || !again.Equal(id) {
			t.Fatalf("re-parse of %q gives %q", n, again.Number())
		}
		m := id.Masked()
		if len(m) != 18 || m[:6] != n[:6] || m[14:] != n[14:] || m[6:14] != "********" {
			t.Fatalf("Masked() = %q for %q", m, n)
		}
		if id.String() != m {
			t.Fatalf("String() = %q, want %q", id.String(), m)
		}
	})
}
