package domain

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
)

// Event types of the beneficiary aggregate, category "beneficiary". They are
// stored in the person's stream (PersonID.Stream) and never renamed; a
// changed schema gets a new version and an upcaster in
// NewBeneficiaryRegistry.
const (
	TypePersonRegistered       = "beneficiary.PersonRegistered.v3"
	TypeCertificateIssued      = "beneficiary.CertificateIssued.v1"
	TypeCertificateRegraded    = "beneficiary.CertificateRegraded.v1"
	TypeCertificateRevoked     = "beneficiary.CertificateRevoked.v1"
	TypeHouseholdStatusChanged = "beneficiary.HouseholdStatusChanged.v1"
	TypePersonDied             = "beneficiary.PersonDied.v1"
	TypeDeathRetracted         = "beneficiary.DeathRetracted.v1"
	TypePersonMoved            = "beneficiary.PersonMoved.v1"
	TypeEntitlementGranted     = "beneficiary.EntitlementGranted.v1"
	TypeEntitlementSuspended   = "beneficiary.EntitlementSuspended.v1"
	TypeEntitlementResumed     = "beneficiary.EntitlementResumed.v1"
	TypeEntitlementTerminated  = "beneficiary.EntitlementTerminated.v1"
	TypeEntitlementReinstated  = "beneficiary.EntitlementReinstated.v1"
	TypeOneOffGranted          = "beneficiary.OneOffGranted.v1"
	TypeInKindIssued           = "beneficiary.InKindIssued.v1"

	TypePersonErased = "beneficiary.PersonErased.v1"

	// TypePersonRegisteredV1 is the schema before household grouping: it
	// has no household_id. Stored v1 events are upcast to v2 on reading.
	TypePersonRegisteredV1 = "beneficiary.PersonRegistered.v1"
	// TypePersonRegisteredV2 is the schema before personal data was
	// sealed: the ID number and name in clear. Stored v2 events are upcast
	// to v3 on reading, their clear data moved to legacy_clear.
	TypePersonRegisteredV2 = "beneficiary.PersonRegistered.v2"
)

// NewBeneficiaryRegistry returns a registry that decodes every beneficiary
// event type, upcasting PersonRegistered.v1 to v2 to v3 and
// BankAccountRecorded.v1 to v2.
func NewBeneficiaryRegistry() *Registry {
	r := NewRegistry(
		func() Event { return new(PersonRegistered) },
		func() Event { return new(CertificateIssued) },
		func() Event { return new(CertificateRegraded) },
		func() Event { return new(CertificateRevoked) },
		func() Event { return new(HouseholdStatusChanged) },
		func() Event { return new(PersonDied) },
		func() Event { return new(DeathRetracted) },
		func() Event { return new(PersonMoved) },
		func() Event { return new(EntitlementGranted) },
		func() Event { return new(EntitlementSuspended) },
		func() Event { return new(EntitlementResumed) },
		func() Event { return new(EntitlementTerminated) },
		func() Event { return new(EntitlementReinstated) },
		func() Event { return new(OneOffGranted) },
		func() Event { return new(InKindIssued) },
		func() Event { return new(PersonErased) },
	)
	r.Add(proposalEventProtos()...)
	r.Add(changeEventProtos()...)
	r.Add(func() Event { return new(BankAccountRecorded) })
	r.Upcast(TypePersonRegisteredV1, TypePersonRegisteredV2, upcastPersonRegisteredV1)
	r.Upcast(TypePersonRegisteredV2, TypePersonRegistered, legacyClear("id_number", "name"))
	r.Upcast(TypeBankAccountRecordedV1, TypeBankAccountRecorded, legacyClear("account_name", "account_masked", "account_sealed"))
	return r
}

// upcastPersonRegisteredV1 adds household_id = person_id: before household
// grouping existed every person was their own household.
func upcastPersonRegisteredV1(data []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, err
	}
	id, ok := m["person_id"]
	if !ok {
		return nil, fmt.Errorf("person_id is missing")
	}
	var s string
	if err := json.Unmarshal(id, &s); err != nil || s == "" {
		return nil, fmt.Errorf("person_id is not a non-empty string")
	}
	if _, ok := m["household_id"]; !ok {
		m["household_id"] = id
	}
	return json.Marshal(m)
}

// beneficiaryEvent is an event Evolve applies. Methods have value receivers
// so that both values (from Decide) and pointers (from Registry.Decode)
// qualify. apply must not modify maps or slices s shares with a previous
// state: it replaces them instead.
type beneficiaryEvent interface {
	Event
	apply(s *Beneficiary)
}

// PersonRegistered: a person was entered into the ledger. It is the only
// event holding the full resident ID number: the ledger is the system of
// record for it. The number and the name are stored sealed with the
// person's data key (Personal); the registry opens them into the fields in
// clear, which are never encoded. String, GoString and LogValue mask the
// number.
type PersonRegistered struct {
	PersonID PersonID `json:"person_id"`
	IDHash   string   `json:"id_hash"` // LookupKey.Hash of the ID number
	// Personal is the ID number and name (RegisteredIdentity), sealed.
	Personal     Sealed          `json:"personal,omitempty"`
	Township     string          `json:"township"`
	HouseholdID  string          `json:"household_id"`
	Household    HouseholdStatus `json:"household"`
	RegisteredOn Date            `json:"registered_on"`
	// LegacyClear is the ID number and name of an event written before
	// personal data was sealed (v1, v2), as the upcaster moved them; it is
	// only ever read.
	LegacyClear *RegisteredIdentity `json:"legacy_clear,omitempty"`

	// In clear, opened from Personal (or LegacyClear) when decoded, never
	// encoded; IDMasked, BirthDate and Gender derive from the ID number.
	// All are empty when the person's key was erased (Erased) or the
	// registry has no keys.
	IDNumber  string `json:"-"` // full 18 characters; never log
	Name      string `json:"-"`
	IDMasked  string `json:"-"`
	BirthDate Date   `json:"-"`
	Gender    Gender `json:"-"`
	Erased    bool   `json:"-"`
}

// RegisteredIdentity is the personal data of a registration.
type RegisteredIdentity struct {
	IDNumber string `json:"id_number"`
	Name     string `json:"name"`
}

func (PersonRegistered) EventType() string   { return TypePersonRegistered }
func (e PersonRegistered) EffectiveOn() Date { return e.RegisteredOn }

func (e PersonRegistered) sealPersonal(ctx context.Context, keys PersonalKeys, _ PersonID) (Event, error) {
	var err error
	e.Personal, err = sealJSON(ctx, keys, e.PersonID, RegisteredIdentity{IDNumber: e.IDNumber, Name: e.Name})
	e.LegacyClear = nil
	return e, err
}

func (e PersonRegistered) checkSealed() error {
	return checkSealedOne(TypePersonRegistered, e.Personal, e.LegacyClear)
}

func (e *PersonRegistered) openPersonal(ctx context.Context, keys PersonalKeys) error {
	id, erased, err := openOrLegacy(ctx, keys, e.Personal, e.LegacyClear)
	if err != nil {
		return err
	}
	e.IDNumber, e.Name, e.Erased = id.IDNumber, id.Name, erased
	if n, err := ParseResidentID("id_number", id.IDNumber); err == nil {
		e.IDMasked, e.BirthDate, e.Gender = n.Masked(), n.BirthDate(), n.Gender()
	}
	return nil
}

// legacyClear returns an upcaster that moves the named fields of an
// event written before personal data was sealed into its legacy_clear
// object, which the new version reads them from.
func legacyClear(fields ...string) func([]byte) ([]byte, error) {
	return func(data []byte) ([]byte, error) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, err
		}
		moveLegacyClear(m, fields)
		return json.Marshal(m)
	}
}

func moveLegacyClear(m map[string]json.RawMessage, fields []string) {
	c := map[string]json.RawMessage{}
	for _, f := range fields {
		if v, ok := m[f]; ok {
			c[f] = v
			delete(m, f)
		}
	}
	b, _ := json.Marshal(c) // raw messages that were valid JSON
	m["legacy_clear"] = b
}

// masked returns e with the ID number masked.
func (e PersonRegistered) masked() personRegisteredMasked {
	e.IDNumber = e.IDMasked
	return personRegisteredMasked(e)
}

// personRegisteredMasked has no methods, so printing it does not recurse.
type personRegisteredMasked PersonRegistered

// String prints e with the ID number masked.
func (e PersonRegistered) String() string { return fmt.Sprintf("%+v", e.masked()) }

// GoString prints e with the ID number masked.
func (e PersonRegistered) GoString() string {
	return fmt.Sprintf("domain.PersonRegistered%+v", e.masked())
}

// LogValue logs e without the full ID number.
func (e PersonRegistered) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("person_id", string(e.PersonID)),
		slog.String("id_masked", e.IDMasked),
		slog.String("township", e.Township),
		slog.String("registered_on", e.RegisteredOn.String()),
	)
}

func (e PersonRegistered) apply(s *Beneficiary) {
	id, _ := ParseResidentID("id_number", e.IDNumber) // stored numbers were valid when written
	s.Registered = true
	s.ID = e.PersonID
	s.IDNumber = id
	s.IDHash = e.IDHash
	s.Name = e.Name
	s.BirthDate = e.BirthDate
	s.Gender = e.Gender
	s.Township = e.Township
	s.HouseholdID = e.HouseholdID
	s.Household = e.Household
	s.RegisteredOn = e.RegisteredOn
	s.registeredHousehold = e.Household
	s.Erased = s.Erased || e.Erased
}

// CertificateIssued: a disability certificate was issued (or renewed). The
// number is not stored: it is the person's ID number followed by the
// category and grade digits, so state rebuilds it, and the full ID number
// stays in PersonRegistered alone.
type CertificateIssued struct {
	Category     DisabilityCategory `json:"category"`
	Grade        DisabilityGrade    `json:"grade"`
	NumberMasked string             `json:"number_masked"`
	IssuedOn     Date               `json:"issued_on"`
	ValidUntil   Date               `json:"valid_until"`
}

func (CertificateIssued) EventType() string   { return TypeCertificateIssued }
func (e CertificateIssued) EffectiveOn() Date { return e.IssuedOn }

func (e CertificateIssued) apply(s *Beneficiary) {
	n, _ := NewCertificateNumber(s.IDNumber, e.Category, e.Grade)
	s.Certificate = &Certificate{Number: n, Category: e.Category, Grade: e.Grade, IssuedOn: e.IssuedOn, ValidUntil: e.ValidUntil}
	s.recordFact(factChange{on: e.IssuedOn, cert: s.Certificate})
}

// CertificateRegraded: the certificate's grade (and possibly category and
// validity) changed on reassessment. The certificate keeps its issue date.
type CertificateRegraded struct {
	Category         DisabilityCategory `json:"category"`
	Grade            DisabilityGrade    `json:"grade"`
	PreviousCategory DisabilityCategory `json:"previous_category"`
	PreviousGrade    DisabilityGrade    `json:"previous_grade"`
	NumberMasked     string             `json:"number_masked"` // the new number
	EffectiveDate    Date               `json:"effective_on"`
	ValidUntil       Date               `json:"valid_until"` // after the regrade
}

func (CertificateRegraded) EventType() string   { return TypeCertificateRegraded }
func (e CertificateRegraded) EffectiveOn() Date { return e.EffectiveDate }

func (e CertificateRegraded) apply(s *Beneficiary) {
	c := Certificate{IssuedOn: e.EffectiveDate}
	if s.Certificate != nil {
		c = *s.Certificate
	}
	c.Number, _ = NewCertificateNumber(s.IDNumber, e.Category, e.Grade)
	c.Category, c.Grade, c.ValidUntil = e.Category, e.Grade, e.ValidUntil
	s.Certificate = &c
	s.recordFact(factChange{on: e.EffectiveDate, cert: s.Certificate})
}

// CertificateRevoked: the certificate was withdrawn. Entitlements of
// programs that require a certificate end with it (EntitlementTerminated
// events in the same append).
type CertificateRevoked struct {
	NumberMasked  string           `json:"number_masked"`
	ReasonCode    RevocationReason `json:"reason_code"`
	EffectiveDate Date             `json:"effective_on"`
}

func (CertificateRevoked) EventType() string   { return TypeCertificateRevoked }
func (e CertificateRevoked) EffectiveOn() Date { return e.EffectiveDate }

func (e CertificateRevoked) apply(s *Beneficiary) {
	s.Certificate = nil
	s.recordFact(factChange{on: e.EffectiveDate})
}

// HouseholdStatusChanged: the person's household class or support status
// changed.
type HouseholdStatusChanged struct {
	Household         HouseholdStatus `json:"household"`
	PreviousHousehold HouseholdStatus `json:"previous_household"`
	EffectiveDate     Date            `json:"effective_on"`
}

func (HouseholdStatusChanged) EventType() string   { return TypeHouseholdStatusChanged }
func (e HouseholdStatusChanged) EffectiveOn() Date { return e.EffectiveDate }

func (e HouseholdStatusChanged) apply(s *Beneficiary) {
	s.Household = e.Household
	hh := e.Household
	s.recordFact(factChange{on: e.EffectiveDate, hh: &hh})
}

// PersonDied: the person died. Every open entitlement ends on the date of
// death (EntitlementTerminated events in the same append).
type PersonDied struct {
	DateOfDeath Date `json:"date_of_death"`
}

func (PersonDied) EventType() string   { return TypePersonDied }
func (e PersonDied) EffectiveOn() Date { return e.DateOfDeath }

func (e PersonDied) apply(s *Beneficiary) { s.Deceased, s.DateOfDeath = true, e.DateOfDeath }

// DeathRetracted: a death was recorded in error. What the death ended is
// restored by EntitlementReinstated events in the same append (a
// DeathRetracted recorded before they existed restored nothing, and
// still does not).
type DeathRetracted struct {
	DateOfDeath Date `json:"date_of_death"` // the retracted date
}

func (DeathRetracted) EventType() string { return TypeDeathRetracted }

func (e DeathRetracted) apply(s *Beneficiary) { s.Deceased, s.DateOfDeath = false, Date{} }

// PersonMoved: the person moved to another township.
type PersonMoved struct {
	FromTownship  string `json:"from_township"`
	ToTownship    string `json:"to_township"`
	EffectiveDate Date   `json:"effective_on"`
}

func (PersonMoved) EventType() string   { return TypePersonMoved }
func (e PersonMoved) EffectiveOn() Date { return e.EffectiveDate }

func (e PersonMoved) apply(s *Beneficiary) { s.Township = e.ToTownship }

// EntitlementGranted: the person holds a monthly or annual program from
// EffectiveFrom. Amount is the amount per period for programs without a
// catalog rate, and zero (omitted) when the catalog rate applies.
type EntitlementGranted struct {
	Program       ProgramCode     `json:"program"`
	EffectiveFrom Date            `json:"effective_from"`
	Amount        Money           `json:"amount,omitzero"`
	Attributes    GrantAttributes `json:"attributes,omitzero"`
}

func (EntitlementGranted) EventType() string   { return TypeEntitlementGranted }
func (e EntitlementGranted) EffectiveOn() Date { return e.EffectiveFrom }

func (e EntitlementGranted) apply(s *Beneficiary) {
	s.setEntitlement(&Entitlement{
		Program: e.Program, Status: EntitlementStatusActive, Amount: e.Amount,
		EffectiveFrom: e.EffectiveFrom, Attributes: e.Attributes,
	})
}

// EntitlementSuspended: payments of an entitlement stop from EffectiveOn
// until it is resumed.
type EntitlementSuspended struct {
	Program       ProgramCode      `json:"program"`
	EffectiveDate Date             `json:"effective_on"`
	ReasonCode    SuspensionReason `json:"reason_code"`
}

func (EntitlementSuspended) EventType() string   { return TypeEntitlementSuspended }
func (e EntitlementSuspended) EffectiveOn() Date { return e.EffectiveDate }

func (e EntitlementSuspended) apply(s *Beneficiary) {
	s.updateEntitlement(e.Program, func(en *Entitlement) {
		en.Status, en.SuspendedFrom, en.ReasonCode = EntitlementStatusSuspended, e.EffectiveDate, string(e.ReasonCode)
	})
}

// EntitlementResumed: a suspended entitlement is paid again from
// EffectiveOn.
type EntitlementResumed struct {
	Program       ProgramCode `json:"program"`
	EffectiveDate Date        `json:"effective_on"`
}

func (EntitlementResumed) EventType() string   { return TypeEntitlementResumed }
func (e EntitlementResumed) EffectiveOn() Date { return e.EffectiveDate }

func (e EntitlementResumed) apply(s *Beneficiary) {
	s.updateEntitlement(e.Program, func(en *Entitlement) {
		en.Status, en.SuspendedFrom, en.ReasonCode = EntitlementStatusActive, Date{}, ""
	})
}

// EntitlementTerminated: an entitlement ended. EffectiveTo is its last day
// in force. When a death or revocation is backdated before the
// entitlement's EffectiveFrom, EffectiveTo is earlier than EffectiveFrom:
// the entitlement never took effect.
type EntitlementTerminated struct {
	Program     ProgramCode       `json:"program"`
	EffectiveTo Date              `json:"effective_to"`
	ReasonCode  TerminationReason `json:"reason_code"`
}

func (EntitlementTerminated) EventType() string   { return TypeEntitlementTerminated }
func (e EntitlementTerminated) EffectiveOn() Date { return e.EffectiveTo }

func (e EntitlementTerminated) apply(s *Beneficiary) {
	old := s.Entitlements[e.Program]
	s.updateEntitlement(e.Program, func(en *Entitlement) {
		en.Status, en.EffectiveTo, en.SuspendedFrom, en.ReasonCode = EntitlementStatusTerminated, e.EffectiveTo, Date{}, string(e.ReasonCode)
		en.beforeEnd = old
	})
}

// EntitlementReinstated: a termination is withdrawn — the decision that
// ended the entitlement was recorded in error (today: a death retracted).
// The entitlement stands as it did before the termination (active, or
// suspended as it was), as if it had never ended; the months after EndedOn
// are owed again. It is a correction, not a decision effective on a date:
// it holds whatever date the entitlement is looked at.
type EntitlementReinstated struct {
	Program ProgramCode `json:"program"`
	// EndedOn is the last day in force of the termination withdrawn.
	EndedOn Date `json:"ended_on"`
	// ReasonCode is that termination's reason.
	ReasonCode TerminationReason `json:"reason_code"`
}

func (EntitlementReinstated) EventType() string { return TypeEntitlementReinstated }

func (e EntitlementReinstated) apply(s *Beneficiary) {
	if en := s.Entitlements[e.Program]; en != nil && en.Status == EntitlementStatusTerminated && en.beforeEnd != nil && en.EffectiveTo.Equal(e.EndedOn) {
		s.setEntitlement(en.beforeEnd)
	}
}

// OneOffGranted: a one-off grant of a one_off program. GrantID is unique
// within the person.
type OneOffGranted struct {
	GrantID       string          `json:"grant_id"`
	Program       ProgramCode     `json:"program"`
	Amount        Money           `json:"amount"`
	EffectiveDate Date            `json:"effective_on"`
	Attributes    GrantAttributes `json:"attributes,omitzero"`
}

func (OneOffGranted) EventType() string   { return TypeOneOffGranted }
func (e OneOffGranted) EffectiveOn() Date { return e.EffectiveDate }

func (e OneOffGranted) apply(s *Beneficiary) {
	s.OneOffs = append(slices.Clip(s.OneOffs), OneOff{
		GrantID: e.GrantID, Program: e.Program, Amount: e.Amount, EffectiveOn: e.EffectiveDate, Attributes: e.Attributes,
	})
}

// InKindIssued: goods of the device_in_kind program were issued, valued at
// Quantity × UnitValue. IssueID is unique within the person.
type InKindIssued struct {
	IssueID       string      `json:"issue_id"`
	Program       ProgramCode `json:"program"`
	Item          string      `json:"item"`
	Quantity      int         `json:"quantity"`
	UnitValue     Money       `json:"unit_value"`
	EffectiveDate Date        `json:"effective_on"`
}

func (InKindIssued) EventType() string   { return TypeInKindIssued }
func (e InKindIssued) EffectiveOn() Date { return e.EffectiveDate }

func (e InKindIssued) apply(s *Beneficiary) {
	s.InKind = append(slices.Clip(s.InKind), InKindIssue{
		IssueID: e.IssueID, Program: e.Program, Item: e.Item, Quantity: e.Quantity, UnitValue: e.UnitValue, EffectiveOn: e.EffectiveDate,
	})
}

// setEntitlement stores en in a copy of s's entitlement map.
func (s *Beneficiary) setEntitlement(en *Entitlement) {
	m := make(map[ProgramCode]*Entitlement, len(s.Entitlements)+1)
	maps.Copy(m, s.Entitlements)
	m[en.Program] = en
	s.Entitlements = m
}

// updateEntitlement applies fn to a copy of the entitlement of program.
func (s *Beneficiary) updateEntitlement(program ProgramCode, fn func(*Entitlement)) {
	old := s.Entitlements[program]
	if old == nil {
		return
	}
	en := *old
	fn(&en)
	s.setEntitlement(&en)
}
