package domain

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrPersonNotFound: a command other than RegisterPerson names a person the
// ledger has not registered.
var ErrPersonNotFound = fmt.Errorf("person: %w", ErrNotFound)

// PersonID identifies a beneficiary: the first 20 lowercase hex characters
// (80 bits) of the keyed hash of their resident ID number, so the same
// person always gets the same ID and stream without the number appearing in
// either.
type PersonID string

// PersonStreamPrefix starts every beneficiary stream name; use it as a
// category filter.
const PersonStreamPrefix = "person-"

const personIDLen = 20

// PersonIDFromHash returns the person ID for the keyed ID hash idHash
// (LookupKey.Hash of the resident ID number).
func PersonIDFromHash(idHash string) PersonID {
	h := strings.ToLower(idHash)
	if len(h) > personIDLen {
		h = h[:personIDLen]
	}
	return PersonID(h)
}

// ParsePersonID parses a person ID: 20 lowercase hex characters.
func ParsePersonID(field, s string) (PersonID, error) {
	if len(s) != personIDLen || !isLowerHex(s) {
		if _, err := ParseResidentID(field, s); err == nil {
			// Never repeat an ID number (someone put one in a URL).
			return "", Invalid(field, "is an ID number, not a person ID (%d lowercase hex characters): find the person by ID number with POST /v1/persons/lookup, which keeps the number out of URLs and logs", personIDLen)
		}
		if digits := len(s) - len(strings.Map(dropDigit, s)); digits >= 10 {
			// Likely a mistyped ID number: do not repeat it either.
			return "", Invalid(field, "is not a person ID (%d lowercase hex characters)", personIDLen)
		}
		return "", Invalid(field, "%s is not a person ID (%d lowercase hex characters)", quoteTrunc(s), personIDLen)
	}
	return PersonID(s), nil
}

// dropDigit drops ASCII digits in strings.Map.
func dropDigit(r rune) rune {
	if '0' <= r && r <= '9' {
		return -1
	}
	return r
}

// PersonIDFromStream returns the person ID of a beneficiary stream name.
func PersonIDFromStream(stream string) (PersonID, bool) {
	rest, ok := strings.CutPrefix(stream, PersonStreamPrefix)
	if !ok {
		return "", false
	}
	id, err := ParsePersonID("stream", rest)
	return id, err == nil
}

// Stream returns the name of the person's event stream.
func (id PersonID) Stream() string { return PersonStreamPrefix + string(id) }

func (id PersonID) String() string { return string(id) }

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// HouseholdClass is how the federation counts a household in its poverty
// statistics. The empty class is "none".
type HouseholdClass string

const (
	HouseholdNone              HouseholdClass = ""
	HouseholdLiftedFromPoverty HouseholdClass = "lifted_from_poverty" // 脱贫户
	HouseholdMonitoredMarginal HouseholdClass = "monitored_marginal"  // 监测户: 边缘易致贫
	HouseholdMonitoredUnstable HouseholdClass = "monitored_unstable"  // 监测户: 脱贫不稳定
	HouseholdMonitoredHardship HouseholdClass = "monitored_hardship"  // 监测户: 突发严重困难
	HouseholdUrbanNeedy        HouseholdClass = "urban_needy"         // 城镇困难群众
)

var householdClasses = []HouseholdClass{
	HouseholdNone, HouseholdLiftedFromPoverty, HouseholdMonitoredMarginal,
	HouseholdMonitoredUnstable, HouseholdMonitoredHardship, HouseholdUrbanNeedy,
}

// ParseHouseholdClass parses a household class; "" and "none" mean none.
func ParseHouseholdClass(field, s string) (HouseholdClass, error) {
	if s == "none" {
		return HouseholdNone, nil
	}
	if c := HouseholdClass(s); slices.Contains(householdClasses, c) {
		return c, nil
	}
	return "", Invalid(field, "%s is not a household class; expected none, %s", quoteTrunc(s), joinCodes(householdClasses[1:]))
}

// Monitored reports whether c is one of the monitored classes (监测户).
func (c HouseholdClass) Monitored() bool {
	return c == HouseholdMonitoredMarginal || c == HouseholdMonitoredUnstable || c == HouseholdMonitoredHardship
}

func (c HouseholdClass) display() string {
	if c == HouseholdNone {
		return "none"
	}
	return string(c)
}

// HouseholdStatus is the person's household class and the support the
// household receives from other departments.
type HouseholdStatus struct {
	Class             HouseholdClass `json:"class"`
	Dibao             bool           `json:"dibao"`               // 低保: minimum living guarantee
	Tekun             bool           `json:"tekun"`               // 特困: support for persons in extreme poverty
	WorkInjuryNursing bool           `json:"work_injury_nursing"` // 工伤护理费: work-injury nursing allowance
}

// Validate checks the class. field prefixes the error's field name.
func (h HouseholdStatus) Validate(field string) error {
	_, err := ParseHouseholdClass(field+".class", string(h.Class))
	return err
}

// Poor reports whether the household is poor: on dibao or tekun, or of any
// household class.
func (h HouseholdStatus) Poor() bool { return h.Dibao || h.Tekun || h.Class != HouseholdNone }

// EntitlementStatus is the state of an entitlement.
type EntitlementStatus string

const (
	EntitlementStatusActive     EntitlementStatus = "active"
	EntitlementStatusSuspended  EntitlementStatus = "suspended"
	EntitlementStatusTerminated EntitlementStatus = "terminated"
)

// Entitlement is the person's latest entitlement to a monthly or annual
// program.
type Entitlement struct {
	Program       ProgramCode
	Status        EntitlementStatus
	Amount        Money // per period; zero when the catalog rate applies
	EffectiveFrom Date
	EffectiveTo   Date   // set when terminated: the last day in force
	SuspendedFrom Date   // set while suspended
	ReasonCode    string // of the suspension or termination
	Attributes    GrantAttributes
	// beforeEnd is, once terminated, the entitlement as it stood before:
	// what a reinstatement restores.
	beforeEnd *Entitlement
}

// Reinstatable reports whether a termination that can be withdrawn ended
// the entitlement: a reinstatement would restore it as it stood before.
func (e Entitlement) Reinstatable() bool {
	return e.Status == EntitlementStatusTerminated && e.beforeEnd != nil
}

// Open reports whether the entitlement is active or suspended.
func (e Entitlement) Open() bool {
	return e.Status == EntitlementStatusActive || e.Status == EntitlementStatusSuspended
}

// OneOff is a one-off grant the person received.
type OneOff struct {
	GrantID     string
	Program     ProgramCode
	Amount      Money
	EffectiveOn Date
	Attributes  GrantAttributes
}

// InKindIssue is goods issued to the person.
type InKindIssue struct {
	IssueID     string
	Program     ProgramCode
	Item        string
	Quantity    int
	UnitValue   Money
	EffectiveOn Date
}

// Beneficiary is the state of one person's stream. Build it by folding the
// stream's events with Evolve, starting from the zero value. States are
// values: Evolve never modifies a map, slice or pointer that an earlier
// state shares, so callers may keep old states; treat the maps, slices and
// pointers of a state as read-only.
type Beneficiary struct {
	Registered   bool
	ID           PersonID
	IDNumber     ResidentID // parsed from the stored number
	IDHash       string
	Name         string
	BirthDate    Date
	Gender       Gender
	Township     string
	HouseholdID  string
	Household    HouseholdStatus
	RegisteredOn Date
	Certificate  *Certificate // current; nil if none or revoked
	Deceased     bool
	DateOfDeath  Date
	Entitlements map[ProgramCode]*Entitlement // the latest per program
	OneOffs      []OneOff
	InKind       []InKindIssue
	Proposals    map[string]*Proposal // grants proposed, by proposal ID
	BankAccount  *BankAccount         // where cash benefits are paid; nil if none recorded
	// Erased: the person's personal data was erased (PersonErased), or
	// their key is gone; Name, IDNumber and BirthDate are then empty.
	Erased   bool
	ErasedOn Date

	// lastActivity is the latest effective date of the stream's events,
	// from which the retention period runs (ErasePerson).
	lastActivity Date

	// facts is every change of the certificate and the household status,
	// with the day it took effect (see On); registeredHousehold is the
	// household status at registration.
	facts               []factChange
	registeredHousehold HouseholdStatus
}

// openEntitlements returns the active and suspended entitlements, ordered
// by program code.
func (s Beneficiary) openEntitlements() []*Entitlement {
	var out []*Entitlement
	for _, code := range slices.Sorted(maps.Keys(s.Entitlements)) {
		if en := s.Entitlements[code]; en.Open() {
			out = append(out, en)
		}
	}
	return out
}

// Evolve returns the state after event e. Events of other aggregates are
// ignored.
func Evolve(s Beneficiary, e Event) Beneficiary {
	if be, ok := e.(beneficiaryEvent); ok {
		be.apply(&s)
		if ef, ok := e.(Effective); ok && ef.EffectiveOn().After(s.lastActivity) {
			s.lastActivity = ef.EffectiveOn()
		}
	}
	return s
}

// Reason codes. Each kind is a closed set; Parse functions name the allowed
// values in their error.

// TerminationReason says why an entitlement ended.
type TerminationReason string

const (
	TerminationDeath                  TerminationReason = "death" // set by RecordDeath only
	TerminationMovedAway              TerminationReason = "moved_away"
	TerminationNoLongerEligible       TerminationReason = "no_longer_eligible"
	TerminationCertificateRevoked     TerminationReason = "certificate_revoked" // set by RevokeCertificate only
	TerminationVehicleScrapped        TerminationReason = "vehicle_scrapped"
	TerminationVehicleStopped         TerminationReason = "vehicle_stopped"
	TerminationHouseholdStatusChanged TerminationReason = "household_status_changed"
	TerminationVoluntary              TerminationReason = "voluntary"
	TerminationErrorCorrection        TerminationReason = "error_correction"
	TerminationOther                  TerminationReason = "other"
)

var terminationReasons = []TerminationReason{
	TerminationDeath, TerminationMovedAway, TerminationNoLongerEligible, TerminationCertificateRevoked,
	TerminationVehicleScrapped, TerminationVehicleStopped, TerminationHouseholdStatusChanged,
	TerminationVoluntary, TerminationErrorCorrection, TerminationOther,
}

// SuspensionReason says why an entitlement is suspended.
type SuspensionReason string

const (
	SuspensionUnderReview      SuspensionReason = "under_review"
	SuspensionUnreachable      SuspensionReason = "unreachable"
	SuspensionDocumentsMissing SuspensionReason = "documents_missing"
	SuspensionOther            SuspensionReason = "other"
	// SuspensionCertificateExpired is set by ReviewEligibility only: the
	// certificate the program needs expired; a renewal resumes it.
	SuspensionCertificateExpired SuspensionReason = "certificate_expired"
)

var suspensionReasons = []SuspensionReason{
	SuspensionUnderReview, SuspensionUnreachable, SuspensionDocumentsMissing, SuspensionOther, SuspensionCertificateExpired,
}

// RevocationReason says why a certificate was revoked.
type RevocationReason string

const (
	RevocationReassessedNotDisabled RevocationReason = "reassessed_not_disabled"
	RevocationFraudulent            RevocationReason = "fraudulent"
	RevocationErrorCorrection       RevocationReason = "error_correction"
	RevocationOther                 RevocationReason = "other"
)

var revocationReasons = []RevocationReason{
	RevocationReassessedNotDisabled, RevocationFraudulent, RevocationErrorCorrection, RevocationOther,
}

// ParseTerminationReason parses a termination reason code.
func ParseTerminationReason(field, s string) (TerminationReason, error) {
	return parseReason(field, s, terminationReasons)
}

// ParseSuspensionReason parses a suspension reason code.
func ParseSuspensionReason(field, s string) (SuspensionReason, error) {
	return parseReason(field, s, suspensionReasons)
}

// ParseRevocationReason parses a revocation reason code.
func ParseRevocationReason(field, s string) (RevocationReason, error) {
	return parseReason(field, s, revocationReasons)
}

func parseReason[T ~string](field, s string, allowed []T) (T, error) {
	if slices.Contains(allowed, T(s)) {
		return T(s), nil
	}
	return "", Invalid(field, "%s is not a reason code; expected one of %s", quoteTrunc(s), joinCodes(allowed))
}

func joinCodes[T ~string](codes []T) string {
	s := make([]string, len(codes))
	for i, c := range codes {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}
