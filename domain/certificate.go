package domain

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
)

// DisabilityCategory is the category of disability on a certificate, coded 1
// to 7 as in the 19th character of a certificate number. Its text and JSON
// form is a stable code such as "physical".
type DisabilityCategory int

// Disability categories, by their digit in the certificate number.
const (
	CategoryVisual       DisabilityCategory = 1 // 视力残疾
	CategoryHearing      DisabilityCategory = 2 // 听力残疾
	CategorySpeech       DisabilityCategory = 3 // 言语残疾
	CategoryPhysical     DisabilityCategory = 4 // 肢体残疾
	CategoryIntellectual DisabilityCategory = 5 // 智力残疾
	CategoryMental       DisabilityCategory = 6 // 精神残疾
	CategoryMultiple     DisabilityCategory = 7 // 多重残疾
)

var categoryCodes = [...]string{
	CategoryVisual:       "visual",
	CategoryHearing:      "hearing",
	CategorySpeech:       "speech",
	CategoryPhysical:     "physical",
	CategoryIntellectual: "intellectual",
	CategoryMental:       "mental",
	CategoryMultiple:     "multiple",
}

// ParseCategory parses a category code such as "physical", or its digit
// "1" to "7". field names the input in the error.
func ParseCategory(field, s string) (DisabilityCategory, error) {
	if len(s) == 1 && '1' <= s[0] && s[0] <= '7' {
		return DisabilityCategory(s[0] - '0'), nil
	}
	for c := CategoryVisual; c <= CategoryMultiple; c++ {
		if s == categoryCodes[c] {
			return c, nil
		}
	}
	return 0, Invalid(field, "%s is not a disability category; expected one of %s, or 1 to 7",
		quoteTrunc(s), strings.Join(categoryCodes[1:], ", "))
}

// Valid reports whether c is one of the seven categories.
func (c DisabilityCategory) Valid() bool { return CategoryVisual <= c && c <= CategoryMultiple }

// String returns the stable code of c, such as "physical".
func (c DisabilityCategory) String() string {
	if !c.Valid() {
		return "DisabilityCategory(" + strconv.Itoa(int(c)) + ")"
	}
	return categoryCodes[c]
}

// MarshalText returns the code of c; it fails for an invalid category.
func (c DisabilityCategory) MarshalText() ([]byte, error) {
	if !c.Valid() {
		return nil, Invalid("category", "%d is not a disability category (1 to 7)", int(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText parses b with ParseCategory for field "category".
func (c *DisabilityCategory) UnmarshalText(b []byte) error {
	v, err := ParseCategory("category", string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// DisabilityGrade is the grade of disability, 1 (most severe) to 4, as in the
// 20th character of a certificate number. Its JSON form is the integer.
type DisabilityGrade int

// ParseGrade parses a grade digit "1" to "4". field names the input in the
// error.
func ParseGrade(field, s string) (DisabilityGrade, error) {
	if len(s) == 1 && '1' <= s[0] && s[0] <= '4' {
		return DisabilityGrade(s[0] - '0'), nil
	}
	return 0, Invalid(field, "%s is not a disability grade; expected 1 to 4", quoteTrunc(s))
}

// Valid reports whether g is 1 to 4.
func (g DisabilityGrade) Valid() bool { return 1 <= g && g <= 4 }

// Severe reports whether g is grade 1 or 2.
func (g DisabilityGrade) Severe() bool { return g == 1 || g == 2 }

// MarshalJSON encodes g as a JSON integer; it fails for an invalid grade.
func (g DisabilityGrade) MarshalJSON() ([]byte, error) {
	if !g.Valid() {
		return nil, Invalid("grade", "%d is not a disability grade (1 to 4)", int(g))
	}
	return []byte(strconv.Itoa(int(g))), nil
}

// UnmarshalJSON accepts only the JSON integers 1 to 4.
func (g *DisabilityGrade) UnmarshalJSON(b []byte) error {
	if len(b) != 1 || b[0] < '1' || b[0] > '4' {
		return Invalid("grade", "%s is not a disability grade; expected a JSON integer 1 to 4", quoteTrunc(string(b)))
	}
	*g = DisabilityGrade(b[0] - '0')
	return nil
}

// CertificateNumber is the number of a second-generation disability
// certificate (第二代残疾人证): the holder's 18-character resident
// identity number, the category digit and the grade digit. The zero value is
// unset. Numbers are comparable with ==.
//
// Like ResidentID it is sensitive: String, GoString, LogValue and MarshalJSON
// give the masked form, only Number the full one.
type CertificateNumber struct {
	id       ResidentID // never Legacy
	category DisabilityCategory
	grade    DisabilityGrade
}

// ParseCertificateNumber parses a 20-character certificate number, checking
// the embedded resident identity number as ParseResidentID does, the category
// digit (1 to 7) and the grade digit (1 to 4). It is read as typed, like
// an ID number (NormalizeResidentID: full-width digits, spaces, a
// lower-case x). field names the input in every error; errors never
// contain the number.
func ParseCertificateNumber(field, s string) (CertificateNumber, error) {
	r := []rune(NormalizeResidentID(s))
	if len(r) != 20 {
		return CertificateNumber{}, Invalid(field, "has %d characters (spaces not counted); a certificate number has 20: the 18-character ID number, the category digit and the grade digit", len(r))
	}
	id, err := ParseResidentID(field, string(r[:18]))
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return CertificateNumber{}, Invalid(field, "ID number part: %s", fe.Reason)
		}
		return CertificateNumber{}, err
	}
	if c := r[18]; c < '1' || c > '7' {
		return CertificateNumber{}, Invalid(field, "character 19 (disability category) is %q; expected 1 to 7", string(c))
	}
	if g := r[19]; g < '1' || g > '4' {
		return CertificateNumber{}, Invalid(field, "character 20 (disability grade) is %q; expected 1 to 4", string(g))
	}
	return CertificateNumber{id, DisabilityCategory(r[18] - '0'), DisabilityGrade(r[19] - '0')}, nil
}

// NewCertificateNumber returns the certificate number for id, c and g.
func NewCertificateNumber(id ResidentID, c DisabilityCategory, g DisabilityGrade) (CertificateNumber, error) {
	switch {
	case id.IsZero():
		return CertificateNumber{}, Invalid("id_number", "is missing")
	case !c.Valid():
		return CertificateNumber{}, Invalid("category", "%d is not a disability category (1 to 7)", int(c))
	case !g.Valid():
		return CertificateNumber{}, Invalid("grade", "%d is not a disability grade (1 to 4)", int(g))
	}
	id.legacy = false
	return CertificateNumber{id, c, g}, nil
}

// IsZero reports whether n is unset.
func (n CertificateNumber) IsZero() bool { return n.id.IsZero() }

// ResidentID returns the holder's resident identity number.
func (n CertificateNumber) ResidentID() ResidentID { return n.id }

// Category returns the disability category encoded in n.
func (n CertificateNumber) Category() DisabilityCategory { return n.category }

// Grade returns the disability grade encoded in n.
func (n CertificateNumber) Grade() DisabilityGrade { return n.grade }

// Number returns the full 20-character number, or "" if n is unset. Like
// ResidentID.Number, never log it; see LookupKey.HashCertificate.
func (n CertificateNumber) Number() string {
	if n.IsZero() {
		return ""
	}
	return n.id.Number() + strconv.Itoa(int(n.category)) + strconv.Itoa(int(n.grade))
}

// Masked returns the number with characters 7 to 16 replaced by asterisks,
// keeping the first 6 and the last 4, e.g. "110105**********2X41", or "" if
// n is unset.
func (n CertificateNumber) Masked() string {
	s := n.Number()
	if s == "" {
		return ""
	}
	return s[:6] + strings.Repeat("*", 10) + s[16:]
}

// String returns Masked.
func (n CertificateNumber) String() string { return n.Masked() }

// GoString returns the masked form for %#v.
func (n CertificateNumber) GoString() string {
	return fmt.Sprintf("domain.CertificateNumber(%q)", n.Masked())
}

// LogValue logs the masked form.
func (n CertificateNumber) LogValue() slog.Value { return slog.StringValue(n.Masked()) }

// MarshalJSON encodes the masked form as a JSON string, for display only;
// there is no UnmarshalJSON. Code that must carry the full number encodes
// Number explicitly and parses it back with ParseCertificateNumber.
func (n CertificateNumber) MarshalJSON() ([]byte, error) {
	return []byte(`"` + n.Masked() + `"`), nil
}

// HashCertificate returns the look-up hash of n: HashString("certificate",
// n.Number()), or "" if n is unset.
func (k LookupKey) HashCertificate(n CertificateNumber) string {
	if n.IsZero() {
		return ""
	}
	return k.HashString("certificate", n.Number())
}

// Certificate is a second-generation disability certificate. Category and
// Grade are those encoded in Number.
type Certificate struct {
	Number     CertificateNumber
	Category   DisabilityCategory
	Grade      DisabilityGrade
	IssuedOn   Date
	ValidUntil Date
}

// NewCertificate returns the certificate number, issued on issuedOn and valid
// until validUntil inclusive, which must be after issuedOn.
func NewCertificate(number CertificateNumber, issuedOn, validUntil Date) (Certificate, error) {
	switch {
	case number.IsZero():
		return Certificate{}, Invalid("certificate_number", "is missing")
	case issuedOn.IsZero():
		return Certificate{}, Invalid("issued_on", "is missing")
	case validUntil.IsZero():
		return Certificate{}, Invalid("valid_until", "is missing")
	case !validUntil.After(issuedOn):
		return Certificate{}, Invalid("valid_until", "%s is not after the issue date %s", validUntil, issuedOn)
	}
	return Certificate{
		Number:     number,
		Category:   number.Category(),
		Grade:      number.Grade(),
		IssuedOn:   issuedOn,
		ValidUntil: validUntil,
	}, nil
}

// ValidOn reports whether c is in force on d: IssuedOn <= d <= ValidUntil.
func (c Certificate) ValidOn(d Date) bool {
	return !c.IssuedOn.IsZero() && !d.Before(c.IssuedOn) && !d.After(c.ValidUntil)
}

// ForPerson returns an error for field "certificate_number" unless the
// certificate's number embeds id; an unset id or number never matches. The
// error names neither number.
func (c Certificate) ForPerson(id ResidentID) error {
	if id.IsZero() || c.Number.IsZero() {
		return Invalid("certificate_number", "cannot be matched to a person: the number or the person's ID number is missing")
	}
	if !c.Number.ResidentID().Equal(id) {
		return Invalid("certificate_number", "belongs to another ID number than the person's")
	}
	return nil
}
