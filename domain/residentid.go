package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Gender is the sex a resident identity number records.
type Gender string

// Genders, by the parity of the sequence code.
const (
	GenderMale   Gender = "male"   // odd sequence code
	GenderFemale Gender = "female" // even sequence code
)

// ResidentID is a resident identity number (居民身份证号码) as defined by
// GB 11643-1999: a 6-digit area code, an 8-digit birth date YYYYMMDD, a
// 3-digit sequence code and an ISO 7064 MOD 11-2 check character. The zero
// value is unset and invalid; compare IDs with Equal.
//
// The number is sensitive personal information (PIPL art. 28). String,
// GoString, LogValue and MarshalJSON all give the masked form; only Number
// gives the full number.
type ResidentID struct {
	number string // always 18 characters, check character upper-case
	legacy bool   // parsed from a 15-digit first-generation number
}

var (
	ridWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	// ridMinBirth and ridMaxBirth bound a plausible birth date: the domain
	// reads no clock, so "not in the future" is the caller's check.
	ridMinBirth = NewDate(1900, time.January, 1)
	ridMaxBirth = NewDate(2100, time.January, 1)
)

// ridCheckChars maps the weighted sum mod 11 to the check character.
const ridCheckChars = "10X98765432"

// ridCheckChar returns the check character for the 17 digits first17.
func ridCheckChar(first17 string) byte {
	sum := 0
	for i, w := range ridWeights {
		sum += int(first17[i]-'0') * w
	}
	return ridCheckChars[sum%11]
}

// ridProvinceKnown reports whether p is a province-level code: mainland
// provinces, Taiwan (71), Hong Kong (81) and Macao (82).
func ridProvinceKnown(p int) bool {
	switch {
	case 11 <= p && p <= 15, 21 <= p && p <= 23, 31 <= p && p <= 37,
		41 <= p && p <= 46, 50 <= p && p <= 54, 61 <= p && p <= 65,
		p == 71, p == 81, p == 82:
		return true
	}
	return false
}

// ridBirthDate parses the 8 digits YYYYMMDD; ok is false if they are not a
// calendar date.
func ridBirthDate(yyyymmdd string) (d Date, ok bool) {
	n := 0
	for i := range 8 {
		n = n*10 + int(yyyymmdd[i]-'0')
	}
	y, m, day := n/10000, time.Month(n/100%100), n%100
	d = NewDate(y, m, day)
	return d, d.Year() == y && d.Month() == m && d.Day() == day
}

func ridAllDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseResidentID parses an 18-character resident identity number, or a
// 15-digit first-generation one (area code, YYMMDD meaning 19YY, sequence
// code, no check character), which it converts to the 18-character form,
// after NormalizeResidentID: full-width digits, spaces and a lower-case x
// are read as people type them, and the number is stored plain. The birth
// date must lie between 1900-01-01 and
// 2100-01-01; checking that it is not in the future is up to the caller.
//
// field names the input in the error. Errors never contain the number.
func ParseResidentID(field, s string) (ResidentID, error) {
	s = NormalizeResidentID(s)
	n := utf8.RuneCountInString(s)
	if n != 18 && n != 15 {
		return ResidentID{}, Invalid(field, "has %d characters (spaces not counted); an ID number has 18 (a first-generation one 15): check for a missing or extra digit", n)
	}
	pos := 0
	for _, r := range s {
		pos++
		switch {
		case '0' <= r && r <= '9':
		case n == 18 && pos == 18 && (r == 'X' || r == 'x'):
		case n == 18 && pos == 18:
			return ResidentID{}, Invalid(field, "character 18 is %q; the last character of an ID number is a digit or X", string(r))
		default:
			return ResidentID{}, Invalid(field, "character %d is %q; an ID number holds only digits (and X as its 18th character)", pos, string(r))
		}
	}
	// s is ASCII from here on.
	legacy := n == 15
	var first17, dateChars, seqChars string
	if legacy {
		first17, dateChars, seqChars = s[:6]+"19"+s[6:], "7-12", "13-15"
	} else {
		first17, dateChars, seqChars = s[:17], "7-14", "15-17"
	}
	if p := int(first17[0]-'0')*10 + int(first17[1]-'0'); !ridProvinceKnown(p) {
		return ResidentID{}, Invalid(field, "area code starts with %q, which is not a province code", first17[:2])
	}
	birth, ok := ridBirthDate(first17[6:14])
	switch {
	case !ok:
		return ResidentID{}, Invalid(field, "birth date (characters %s) is not a calendar date", dateChars)
	case birth.Before(ridMinBirth):
		return ResidentID{}, Invalid(field, "birth date (characters %s) is before %s", dateChars, ridMinBirth)
	case birth.After(ridMaxBirth):
		return ResidentID{}, Invalid(field, "birth date (characters %s) is after %s", dateChars, ridMaxBirth)
	}
	if first17[14:17] == "000" {
		return ResidentID{}, Invalid(field, "sequence code (characters %s) is 000, which is never assigned", seqChars)
	}
	want := ridCheckChar(first17)
	if !legacy {
		got := s[17]
		if got == 'x' {
			got = 'X'
		}
		if got != want {
			return ResidentID{}, Invalid(field, "check character is %q, expected %q: the 18th character does not match the first 17, so a digit was probably mistyped or two swapped", string(got), string(want))
		}
	}
	return ResidentID{number: first17 + string(want), legacy: legacy}, nil
}

// NormalizeResidentID brings an ID number as people type or paste it to
// its plain form before it is checked: full-width digits and X (as
// Chinese input methods type them: "３６０４…") become ASCII, a
// lower-case x becomes X, and spaces of any width around and inside the
// number ("360429 19900101 1236") and invisible formatting characters
// (zero-width spaces, byte-order marks from copied text) are dropped.
// Anything else — letters, dashes, other punctuation — is left for
// ParseResidentID to name.
func NormalizeResidentID(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case '０' <= r && r <= '９':
			b.WriteByte(byte('0' + r - '０'))
		case r == 'x' || r == 'Ｘ' || r == 'ｘ':
			b.WriteByte('X')
		case unicode.IsSpace(r) || unicode.Is(unicode.Cf, r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// NewResidentID builds the valid 18-character number for area, birth and
// sequence (1 to 999), computing its check character. For tests and seeding.
func NewResidentID(area string, birth Date, sequence int) (ResidentID, error) {
	switch {
	case len(area) != 6 || !ridAllDigits(area):
		return ResidentID{}, Invalid("area_code", "%s is not 6 digits", quoteTrunc(area))
	case !ridProvinceKnown(int(area[0]-'0')*10 + int(area[1]-'0')):
		return ResidentID{}, Invalid("area_code", "%q starts with %q, which is not a province code", area, area[:2])
	case birth.IsZero():
		return ResidentID{}, Invalid("birth_date", "is missing")
	case birth.Before(ridMinBirth) || birth.After(ridMaxBirth):
		return ResidentID{}, Invalid("birth_date", "%s is not between %s and %s", birth, ridMinBirth, ridMaxBirth)
	case sequence < 1 || sequence > 999:
		return ResidentID{}, Invalid("sequence", "%d is not 1 to 999", sequence)
	}
	first17 := fmt.Sprintf("%s%04d%02d%02d%03d", area, birth.Year(), int(birth.Month()), birth.Day(), sequence)
	return ResidentID{number: first17 + string(ridCheckChar(first17))}, nil
}

// IsZero reports whether id is unset.
func (id ResidentID) IsZero() bool { return id.number == "" }

// Equal reports whether id and o are the same number, however each was
// written (15 or 18 characters, x or X).
func (id ResidentID) Equal(o ResidentID) bool { return id.number == o.number }

// Legacy reports whether id was parsed from a 15-digit first-generation
// number.
func (id ResidentID) Legacy() bool { return id.legacy }

// Number returns the full normalised 18-character number.
//
// It is sensitive personal information: never log it, put it in an error
// message, or use it as a look-up key; use Masked for display and
// LookupKey.Hash for look-ups. The one event that carries it in full is
// PersonRegistered, the ledger's record of who the person is.
func (id ResidentID) Number() string { return id.number }

// AreaCode returns the 6-digit administrative area code, or "" if id is
// unset.
func (id ResidentID) AreaCode() string {
	if id.IsZero() {
		return ""
	}
	return id.number[:6]
}

// BirthDate returns the birth date, or the zero Date if id is unset.
func (id ResidentID) BirthDate() Date {
	if id.IsZero() {
		return Date{}
	}
	d, _ := ridBirthDate(id.number[6:14])
	return d
}

// Sequence returns the 3-digit sequence code, or "" if id is unset.
func (id ResidentID) Sequence() string {
	if id.IsZero() {
		return ""
	}
	return id.number[14:17]
}

// Gender returns GenderMale for an odd sequence code and GenderFemale for an
// even one, or "" if id is unset.
func (id ResidentID) Gender() Gender {
	switch {
	case id.IsZero():
		return ""
	case (id.number[16]-'0')%2 == 1:
		return GenderMale
	default:
		return GenderFemale
	}
}

// Masked returns the number with characters 7 to 14 (the birth date) replaced
// by asterisks, e.g. "110105********002X", or "" if id is unset.
func (id ResidentID) Masked() string {
	if id.IsZero() {
		return ""
	}
	return id.number[:6] + strings.Repeat("*", 8) + id.number[14:]
}

// String returns Masked, so that an ID printed by accident is masked.
func (id ResidentID) String() string { return id.Masked() }

// GoString returns the masked form for %#v.
func (id ResidentID) GoString() string { return fmt.Sprintf("domain.ResidentID(%q)", id.Masked()) }

// LogValue logs the masked form.
func (id ResidentID) LogValue() slog.Value { return slog.StringValue(id.Masked()) }

// MarshalJSON encodes the masked form as a JSON string, for display only: it
// cannot be decoded back, and ResidentID deliberately has no UnmarshalJSON.
// Code that must carry the full number encodes Number explicitly and parses
// it back with ParseResidentID.
func (id ResidentID) MarshalJSON() ([]byte, error) {
	return []byte(`"` + id.Masked() + `"`), nil
}

// LookupKey is the secret key of the keyed hashes that stand in for identity
// numbers in indexes and look-ups. It must be kept out of the database, and
// be at least MinLookupKeyLen bytes long (see Validate).
type LookupKey []byte

// MinLookupKeyLen is the shortest LookupKey Validate accepts, in bytes.
const MinLookupKeyLen = 32

// Validate reports an error for field "lookup_key" if k is shorter than
// MinLookupKeyLen. Call it once when loading the key.
func (k LookupKey) Validate() error {
	if len(k) < MinLookupKeyLen {
		return Invalid("lookup_key", "is %d bytes; at least %d are required", len(k), MinLookupKeyLen)
	}
	return nil
}

// HashString returns hex(HMAC-SHA256(k, kind + ":" + value)). kind is a
// constant naming what value is, such as "resident_id" or "certificate", so
// that equal strings of different kinds hash differently. It panics if k is
// empty or kind contains ":", both programming errors.
func (k LookupKey) HashString(kind, value string) string {
	if len(k) == 0 {
		panic("domain: LookupKey is empty")
	}
	if strings.Contains(kind, ":") {
		panic(fmt.Sprintf("domain: LookupKey kind %q contains \":\"", kind))
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(kind + ":" + value))
	return hex.EncodeToString(mac.Sum(nil))
}

// Hash returns the look-up hash of id: HashString("resident_id",
// id.Number()). A 15-digit number and its 18-character form hash alike. It
// returns "" for an unset id, so that unset IDs never match each other.
func (k LookupKey) Hash(id ResidentID) string {
	if id.IsZero() {
		return ""
	}
	return k.HashString("resident_id", id.Number())
}
