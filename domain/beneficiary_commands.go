package domain

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Command is a request to change an aggregate.
type Command interface {
	CommandName() string
}

// beneficiaryCommand is a command Decide handles. Methods have value
// receivers, so pointers to commands are accepted too.
type beneficiaryCommand interface {
	Command
	// validate checks the command on its own (now is system time).
	validate(now time.Time) error
	// decide checks the command against a registered, living person (or,
	// for RegisterPerson and RetractDeath, any state).
	decide(s Beneficiary) ([]Event, error)
}

// Decide returns the events that command cmd produces on state s, or an
// error wrapping ErrInvalid (bad input; *FieldError), ErrNotFound (the
// person is not registered), ErrConflict (collides with current state) or
// ErrRuleViolation (a program or lifecycle rule forbids it; *RuleError).
// now is system time, used only to reject effective dates more than 366
// days ahead.
func Decide(s Beneficiary, cmd Command, now time.Time) ([]Event, error) {
	c, ok := cmd.(beneficiaryCommand)
	switch {
	case cmd == nil:
		return nil, Invalid("command", "is required")
	case !ok:
		return nil, Invalid("command", "%s is not a beneficiary command", cmd.CommandName())
	case now.IsZero():
		return nil, Invalid("now", "is required")
	}
	if err := c.validate(now); err != nil {
		return nil, err
	}
	switch cmd.(type) {
	case RegisterPerson, *RegisterPerson:
		return c.decide(s)
	}
	if !s.Registered {
		return nil, ErrPersonNotFound
	}
	if s.Erased {
		return nil, Violation(RuleErased, "%s: the person's personal data was erased; nothing more can be recorded for them", cmd.CommandName())
	}
	switch cmd.(type) {
	case RetractDeath, *RetractDeath, ErasePerson, *ErasePerson:
	default:
		if s.Deceased {
			return nil, Violation(RuleDeceased, "%s: the person died on %s; only RetractDeath is allowed", cmd.CommandName(), s.DateOfDeath)
		}
	}
	return c.decide(s)
}

// Field checks shared by the commands.

// maxAhead is how far past today (system time) an effective date may lie.
const maxAhead = 366

func checkDate(field string, d Date, now time.Time) error {
	if d.IsZero() {
		return Invalid(field, "is required")
	}
	if today := DateOf(now); d.After(today.AddDays(maxAhead)) {
		return Invalid(field, "%s is more than %d days after today (%s)", d, maxAhead, today)
	}
	return nil
}

// CheckText is the rule for free text a person types (a name, a
// township): required, valid UTF-8 without control characters, no
// leading or trailing spaces, at most max characters. Forms check as one
// types with it; the commands check with it again.
func CheckText(field, s string, max int) error { return checkText(field, s, max) }

// checkText requires a non-empty, trimmed, printable string of at most max
// characters. The error never repeats the value, which may be personal.
func checkText(field, s string, max int) error {
	switch {
	case strings.TrimSpace(s) == "":
		return Invalid(field, "is required")
	case !utf8.ValidString(s):
		return Invalid(field, "is not valid UTF-8")
	case strings.TrimSpace(s) != s:
		return Invalid(field, "has leading or trailing spaces")
	case utf8.RuneCountInString(s) > max:
		return Invalid(field, "is longer than %d characters", max)
	case strings.ContainsFunc(s, unicode.IsControl):
		return Invalid(field, "contains control characters")
	}
	return nil
}

// checkToken is checkText for identifiers: no spaces at all.
func checkToken(field, s string, max int) error {
	if err := checkText(field, s, max); err != nil {
		return err
	}
	if strings.ContainsFunc(s, unicode.IsSpace) {
		return Invalid(field, "contains spaces")
	}
	return nil
}

func checkAmount(field string, m Money) error {
	if m.Cmp(Money{}) <= 0 {
		return Invalid(field, "is required and must be more than 0.00")
	}
	return nil
}

// notBeforeBirth rejects a date before the person was born. The error does
// not state the birth date.
func notBeforeBirth(field string, d Date, s Beneficiary) error {
	if !s.BirthDate.IsZero() && d.Before(s.BirthDate) {
		return Invalid(field, "%s is before the person's birth date", d)
	}
	return nil
}

// lookupShape returns the program code names, requiring one of shapes.
func lookupShape(code ProgramCode, shapes ...Shape) (Program, error) {
	p, ok := LookupProgram(code)
	if !ok {
		return Program{}, Invalid("program", "unknown program %s", quoteTrunc(string(code)))
	}
	if !slices.Contains(shapes, p.Shape) {
		return Program{}, Invalid("program", "%s is a %s program; record it with %s", code, p.Shape, commandForShape(p.Shape))
	}
	return p, nil
}

func commandForShape(s Shape) string {
	switch s {
	case ShapeOneOff:
		return "RecordOneOffGrant"
	case ShapeInKind:
		return "RecordInKindIssue"
	default:
		return "GrantEntitlement"
	}
}

// RegisterPerson enters a person into the ledger. IDHash is the keyed hash
// of IDNumber (LookupKey.Hash), from which the person ID derives; the
// caller computes it, since the domain holds no key. HouseholdID defaults to
// the person ID.
type RegisterPerson struct {
	IDNumber     ResidentID
	IDHash       string
	Name         string
	Township     string
	Household    HouseholdStatus
	HouseholdID  string
	RegisteredOn Date
}

func (RegisterPerson) CommandName() string { return "RegisterPerson" }

func (c RegisterPerson) validate(now time.Time) error {
	switch {
	case c.IDNumber.IsZero():
		return Invalid("id_number", "is required")
	case c.IDNumber.BirthDate().After(DateOf(now)):
		return Invalid("id_number", "holds a birth date after today")
	case len(c.IDHash) != 64 || !isLowerHex(c.IDHash):
		return Invalid("id_hash", "must be 64 lowercase hex characters (HMAC-SHA256 of the ID number)")
	}
	if err := checkText("name", c.Name, 50); err != nil {
		return err
	}
	if err := c.Household.Validate("household"); err != nil {
		return err
	}
	if c.HouseholdID != "" {
		if err := checkToken("household_id", c.HouseholdID, 64); err != nil {
			return err
		}
	}
	if err := checkDate("registered_on", c.RegisteredOn, now); err != nil {
		return err
	}
	if c.RegisteredOn.Before(c.IDNumber.BirthDate()) {
		return Invalid("registered_on", "%s is before the person's birth date", c.RegisteredOn)
	}
	_, err := CheckTownship("township", c.Township, c.RegisteredOn)
	return err
}

func (c RegisterPerson) decide(s Beneficiary) ([]Event, error) {
	if s.Registered {
		return nil, &ConflictError{Reason: fmt.Sprintf("person %s is already registered", s.ID)}
	}
	id := PersonIDFromHash(c.IDHash)
	household := c.HouseholdID
	if household == "" {
		household = string(id)
	}
	return []Event{PersonRegistered{
		PersonID:     id,
		IDNumber:     c.IDNumber.Number(),
		IDHash:       c.IDHash,
		IDMasked:     c.IDNumber.Masked(),
		Name:         c.Name,
		BirthDate:    c.IDNumber.BirthDate(),
		Gender:       c.IDNumber.Gender(),
		Township:     c.Township,
		HouseholdID:  household,
		Household:    c.Household,
		RegisteredOn: c.RegisteredOn,
	}}, nil
}

// IssueCertificate records a disability certificate issued (or renewed) for
// the person. It replaces any current certificate.
type IssueCertificate struct {
	Number     CertificateNumber
	IssuedOn   Date
	ValidUntil Date
}

func (IssueCertificate) CommandName() string { return "IssueCertificate" }

func (c IssueCertificate) validate(now time.Time) error {
	if c.Number.IsZero() {
		return Invalid("certificate_number", "is required")
	}
	if err := checkDate("issued_on", c.IssuedOn, now); err != nil {
		return err
	}
	_, err := NewCertificate(c.Number, c.IssuedOn, c.ValidUntil)
	return err
}

func (c IssueCertificate) decide(s Beneficiary) ([]Event, error) {
	cert, err := NewCertificate(c.Number, c.IssuedOn, c.ValidUntil)
	if err != nil {
		return nil, err
	}
	if err := cert.ForPerson(s.IDNumber); err != nil {
		return nil, err
	}
	if err := notBeforeBirth("issued_on", c.IssuedOn, s); err != nil {
		return nil, err
	}
	if cur := s.Certificate; cur != nil && cur.Number == c.Number && cur.IssuedOn.Equal(c.IssuedOn) && cur.ValidUntil.Equal(c.ValidUntil) {
		return nil, &ConflictError{Reason: fmt.Sprintf("certificate %s issued on %s is already recorded", c.Number.Masked(), c.IssuedOn)}
	}
	issued := CertificateIssued{
		Category: cert.Category, Grade: cert.Grade, NumberMasked: c.Number.Masked(),
		IssuedOn: c.IssuedOn, ValidUntil: c.ValidUntil,
	}
	return append([]Event{issued}, resumingOnRenewal(s, issued)...), nil
}

// resumingOnRenewal resumes every entitlement an expired certificate
// suspended (ReviewEligibility) that the new certificate qualifies for on
// its issue date: from the day the suspension began where the program
// pays the gap (RenewalArrears), else from the issue date. One the new
// certificate does not qualify for (renewed at a lower grade) stays
// suspended for a caseworker to decide.
func resumingOnRenewal(s Beneficiary, issued CertificateIssued) []Event {
	after := Evolve(s, issued)
	var out []Event
	for _, en := range s.openEntitlements() {
		if en.Status != EntitlementStatusSuspended || en.ReasonCode != string(SuspensionCertificateExpired) {
			continue
		}
		p, ok := LookupProgram(en.Program)
		if !ok || p.CheckEligible(&after, maxDate(issued.IssuedOn, en.SuspendedFrom), en.Attributes) != nil {
			continue
		}
		from := maxDate(issued.IssuedOn, en.SuspendedFrom)
		if p.RenewalArrears {
			from = en.SuspendedFrom
		}
		out = append(out, EntitlementResumed{Program: en.Program, EffectiveDate: from})
	}
	return out
}

func maxDate(a, b Date) Date {
	if a.After(b) {
		return a
	}
	return b
}

// ReviewEligibility applies the rules that a date alone breaks, on day On,
// to every open entitlement: a certificate that expired suspends the
// entitlements that need it from the day after its last valid day (reason
// certificate_expired; a renewal resumes them); an age limit passed ends
// the entitlement with the day before the birthday that passed it (a child
// turning 16 leaves child rehabilitation). Nothing is recorded for a day
// after On. Run again on the same day, it decides nothing: a conflict.
type ReviewEligibility struct {
	On Date
}

func (ReviewEligibility) CommandName() string { return "ReviewEligibility" }

func (c ReviewEligibility) validate(now time.Time) error {
	return checkDate("on", c.On, now)
}

func (c ReviewEligibility) decide(s Beneficiary) ([]Event, error) {
	var out []Event
	for _, en := range s.openEntitlements() {
		if ev := reviewOne(s, en, c.On); ev != nil {
			out = append(out, ev)
		}
	}
	if len(out) == 0 {
		return nil, &ConflictError{Reason: fmt.Sprintf("nothing to review on %s: every open entitlement still rests on its facts", c.On)}
	}
	return out, nil
}

// reviewOne finds the first day up to on on which en's rules stopped
// holding for a reason of dates alone — the day after the certificate's
// last valid day, or a birthday — and returns what that day decides.
func reviewOne(s Beneficiary, en *Entitlement, on Date) Event {
	p, ok := LookupProgram(en.Program)
	if !ok {
		return nil
	}
	holds := func(d Date) bool { return p.CheckEligible(&s, d, en.Attributes) == nil }
	type candidate struct {
		day     Date
		expired bool
	}
	var days []candidate
	if cert := s.Certificate; cert != nil && en.Status == EntitlementStatusActive && cert.ValidUntil.Before(on) {
		days = append(days, candidate{cert.ValidUntil.AddDays(1), true})
	}
	if !s.BirthDate.IsZero() {
		for age := max(s.BirthDate.AgeOn(en.EffectiveFrom), 0) + 1; ; age++ {
			b := NewDate(s.BirthDate.Year()+age, s.BirthDate.Month(), s.BirthDate.Day())
			if b.After(on) {
				break
			}
			days = append(days, candidate{day: b})
		}
	}
	slices.SortStableFunc(days, func(a, b candidate) int { return a.day.Compare(b.day) })
	for _, c := range days {
		if c.day.Before(en.EffectiveFrom) || c.day.After(on) || holds(c.day) || !holds(c.day.AddDays(-1)) {
			continue
		}
		if c.expired {
			return EntitlementSuspended{Program: en.Program, EffectiveDate: c.day, ReasonCode: SuspensionCertificateExpired}
		}
		return EntitlementTerminated{Program: en.Program, EffectiveTo: c.day.AddDays(-1), ReasonCode: TerminationNoLongerEligible}
	}
	return nil
}

// RegradeCertificate records a reassessment of the current certificate: a
// new grade, and optionally a new category (0 = unchanged) and validity
// (zero = unchanged).
type RegradeCertificate struct {
	Grade       DisabilityGrade
	Category    DisabilityCategory
	EffectiveOn Date
	ValidUntil  Date
}

func (RegradeCertificate) CommandName() string { return "RegradeCertificate" }

func (c RegradeCertificate) validate(now time.Time) error {
	switch {
	case !c.Grade.Valid():
		return Invalid("grade", "%d is not a disability grade (1 to 4)", int(c.Grade))
	case c.Category != 0 && !c.Category.Valid():
		return Invalid("category", "%d is not a disability category (1 to 7, or 0 for unchanged)", int(c.Category))
	}
	if err := checkDate("effective_on", c.EffectiveOn, now); err != nil {
		return err
	}
	if !c.ValidUntil.IsZero() && !c.ValidUntil.After(c.EffectiveOn) {
		return Invalid("valid_until", "%s is not after the regrade date %s", c.ValidUntil, c.EffectiveOn)
	}
	return nil
}

func (c RegradeCertificate) decide(s Beneficiary) ([]Event, error) {
	cur := s.Certificate
	if cur == nil {
		return nil, &ConflictError{Reason: "the person has no current certificate to regrade"}
	}
	if c.EffectiveOn.Before(cur.IssuedOn) {
		return nil, Invalid("effective_on", "%s is before the certificate's issue date %s", c.EffectiveOn, cur.IssuedOn)
	}
	cat, valid := c.Category, c.ValidUntil
	if cat == 0 {
		cat = cur.Category
	}
	if valid.IsZero() {
		valid = cur.ValidUntil
		if !valid.After(c.EffectiveOn) {
			return nil, Invalid("valid_until", "is required: the certificate expires on %s, before the regrade", valid)
		}
	}
	if cat == cur.Category && c.Grade == cur.Grade && valid.Equal(cur.ValidUntil) {
		return nil, &ConflictError{Reason: fmt.Sprintf("the certificate is already category %s grade %d", cat, c.Grade)}
	}
	n, err := NewCertificateNumber(s.IDNumber, cat, c.Grade)
	if err != nil {
		return nil, err
	}
	regraded := CertificateRegraded{
		Category: cat, Grade: c.Grade, PreviousCategory: cur.Category, PreviousGrade: cur.Grade,
		NumberMasked: n.Masked(), EffectiveDate: c.EffectiveOn, ValidUntil: valid,
	}
	return endingWhatNoLongerHolds(s, regraded, c.EffectiveOn, TerminationNoLongerEligible), nil
}

// endingWhatNoLongerHolds returns change followed by a termination of every
// open entitlement whose program's rules held on the day the change takes
// effect and no longer hold with it — a downgrade ends the care subsidy, a
// household leaving dibao (低保) ends the living subsidy. The entitlement's
// last day in force is the day before the change; MonthsOwed then owes
// the month of the change unless the change took effect on its first day
// (a month is owed when the entitlement was in force on any day of it).
// A rule the change does not touch (an age limit passed, a certificate
// expired) is not judged here.
func endingWhatNoLongerHolds(s Beneficiary, change beneficiaryEvent, on Date, reason TerminationReason) []Event {
	out := []Event{change}
	after := Evolve(s, change)
	for _, en := range s.openEntitlements() {
		p, ok := LookupProgram(en.Program)
		if !ok {
			continue
		}
		if p.CheckEligible(&s, on, en.Attributes) == nil && p.CheckEligible(&after, on, en.Attributes) != nil {
			out = append(out, EntitlementTerminated{Program: en.Program, EffectiveTo: on.AddDays(-1), ReasonCode: reason})
		}
	}
	return out
}

// RevokeCertificate withdraws the current certificate. Every open
// entitlement of a program that requires a certificate ends on the
// revocation date.
type RevokeCertificate struct {
	ReasonCode  RevocationReason
	EffectiveOn Date
}

func (RevokeCertificate) CommandName() string { return "RevokeCertificate" }

func (c RevokeCertificate) validate(now time.Time) error {
	if _, err := ParseRevocationReason("reason_code", string(c.ReasonCode)); err != nil {
		return err
	}
	return checkDate("effective_on", c.EffectiveOn, now)
}

func (c RevokeCertificate) decide(s Beneficiary) ([]Event, error) {
	cur := s.Certificate
	if cur == nil {
		return nil, &ConflictError{Reason: "the person has no current certificate to revoke"}
	}
	if c.EffectiveOn.Before(cur.IssuedOn) {
		return nil, Invalid("effective_on", "%s is before the certificate's issue date %s", c.EffectiveOn, cur.IssuedOn)
	}
	out := []Event{CertificateRevoked{NumberMasked: cur.Number.Masked(), ReasonCode: c.ReasonCode, EffectiveDate: c.EffectiveOn}}
	for _, en := range s.openEntitlements() {
		if p, ok := LookupProgram(en.Program); ok && p.RequiresCertificate {
			out = append(out, EntitlementTerminated{Program: en.Program, EffectiveTo: c.EffectiveOn, ReasonCode: TerminationCertificateRevoked})
		}
	}
	return out, nil
}

// ChangeHouseholdStatus records a new household class or support status.
// Entitlements are not ended automatically: a caseworker terminates those
// no longer eligible (reason household_status_changed).
type ChangeHouseholdStatus struct {
	Status      HouseholdStatus
	EffectiveOn Date
}

func (ChangeHouseholdStatus) CommandName() string { return "ChangeHouseholdStatus" }

func (c ChangeHouseholdStatus) validate(now time.Time) error {
	if err := c.Status.Validate("status"); err != nil {
		return err
	}
	return checkDate("effective_on", c.EffectiveOn, now)
}

func (c ChangeHouseholdStatus) decide(s Beneficiary) ([]Event, error) {
	if err := notBeforeBirth("effective_on", c.EffectiveOn, s); err != nil {
		return nil, err
	}
	if c.Status == s.Household {
		return nil, &ConflictError{Reason: "the household status is unchanged"}
	}
	changed := HouseholdStatusChanged{Household: c.Status, PreviousHousehold: s.Household, EffectiveDate: c.EffectiveOn}
	return endingWhatNoLongerHolds(s, changed, c.EffectiveOn, TerminationHouseholdStatusChanged), nil
}

// RecordDeath records the person's death. Every open entitlement ends on the
// date of death, and no command but RetractDeath is accepted afterwards.
type RecordDeath struct {
	DateOfDeath Date
}

func (RecordDeath) CommandName() string { return "RecordDeath" }

func (c RecordDeath) validate(now time.Time) error {
	return checkDate("date_of_death", c.DateOfDeath, now)
}

func (c RecordDeath) decide(s Beneficiary) ([]Event, error) {
	if err := notBeforeBirth("date_of_death", c.DateOfDeath, s); err != nil {
		return nil, err
	}
	out := []Event{PersonDied{DateOfDeath: c.DateOfDeath}}
	for _, en := range s.openEntitlements() {
		out = append(out, EntitlementTerminated{Program: en.Program, EffectiveTo: c.DateOfDeath, ReasonCode: TerminationDeath})
	}
	return out, nil
}

// RetractDeath withdraws a death recorded in error. It is the only command
// accepted after a death. Every entitlement the death ended is reinstated
// as it stood before (EntitlementReinstated): nothing else can have ended
// it since, for no other command is accepted after a death. Overpayment
// claims the death produced are cancelled by the payroll
// (app.Persons.Execute runs that after the retraction).
type RetractDeath struct{}

func (RetractDeath) CommandName() string { return "RetractDeath" }

func (RetractDeath) validate(time.Time) error { return nil }

func (RetractDeath) decide(s Beneficiary) ([]Event, error) {
	if !s.Deceased {
		return nil, &ConflictError{Reason: "the person is not recorded as deceased"}
	}
	out := []Event{DeathRetracted{DateOfDeath: s.DateOfDeath}}
	for _, code := range slices.Sorted(maps.Keys(s.Entitlements)) {
		en := s.Entitlements[code]
		if en.Reinstatable() && en.ReasonCode == string(TerminationDeath) && en.EffectiveTo.Equal(s.DateOfDeath) {
			out = append(out, EntitlementReinstated{Program: code, EndedOn: en.EffectiveTo, ReasonCode: TerminationDeath})
		}
	}
	return out, nil
}

// MovePerson records a move to another township of the register, in force
// on the day of the move, from the day of registration on.
type MovePerson struct {
	ToTownship  string
	EffectiveOn Date
}

func (MovePerson) CommandName() string { return "MovePerson" }

func (c MovePerson) validate(now time.Time) error {
	if err := checkText("township", c.ToTownship, 50); err != nil {
		return err
	}
	if err := checkDate("effective_on", c.EffectiveOn, now); err != nil {
		return err
	}
	_, err := CheckTownship("township", c.ToTownship, c.EffectiveOn)
	return err
}

func (c MovePerson) decide(s Beneficiary) ([]Event, error) {
	if err := notBeforeBirth("effective_on", c.EffectiveOn, s); err != nil {
		return nil, err
	}
	if c.ToTownship == s.Township {
		return nil, &ConflictError{Reason: fmt.Sprintf("the person already lives in %s", s.Township)}
	}
	if c.EffectiveOn.Before(s.RegisteredOn) {
		return nil, Invalid("effective_on", "%s is before the person was registered (%s): record where they lived then by registering them there", c.EffectiveOn, s.RegisteredOn)
	}
	return []Event{PersonMoved{FromTownship: s.Township, ToTownship: c.ToTownship, EffectiveDate: c.EffectiveOn}}, nil
}

// GrantEntitlement grants a monthly or annual program from EffectiveFrom.
// Amount is the amount per period, required for programs without a catalog
// rate and forbidden for those with one.
type GrantEntitlement struct {
	Program       ProgramCode
	EffectiveFrom Date
	Amount        Money
	Attributes    GrantAttributes
}

func (GrantEntitlement) CommandName() string { return "GrantEntitlement" }

func (c GrantEntitlement) validate(now time.Time) error {
	p, err := lookupShape(c.Program, ShapeMonthly, ShapeAnnual)
	if err != nil {
		return err
	}
	if err := checkDate("effective_from", c.EffectiveFrom, now); err != nil {
		return err
	}
	if p.HasCatalogRate() {
		if !c.Amount.IsZero() {
			return Invalid("amount", "must be empty: %s is paid at the catalog rate", c.Program)
		}
	} else if err := checkAmount("amount", c.Amount); err != nil {
		return err
	}
	return p.validateAttributes(c.Attributes)
}

func (c GrantEntitlement) decide(s Beneficiary) ([]Event, error) {
	p, _ := LookupProgram(c.Program) // validated
	if err := notBeforeBirth("effective_from", c.EffectiveFrom, s); err != nil {
		return nil, err
	}
	if en := s.Entitlements[c.Program]; en != nil && en.Open() {
		return nil, &ConflictError{Reason: fmt.Sprintf("%s is already %s since %s", c.Program, en.Status, en.EffectiveFrom)}
	} else if en != nil && !c.EffectiveFrom.After(en.EffectiveTo) {
		// A new grant may not overlap the terminated one: the months up to
		// its effective_to were owed under it already.
		return nil, &ConflictError{Reason: fmt.Sprintf("%s was in force until %s; a new grant must start after that", c.Program, en.EffectiveTo)}
	}
	if err := p.CheckEligible(&s, c.EffectiveFrom, c.Attributes); err != nil {
		return nil, err
	}
	return []Event{EntitlementGranted{Program: c.Program, EffectiveFrom: c.EffectiveFrom, Amount: c.Amount, Attributes: c.Attributes}}, nil
}

// openEntitlement returns the entitlement of program if its status is one
// of want, else a *ConflictError.
func openEntitlement(s Beneficiary, program ProgramCode, verb string, want ...EntitlementStatus) (*Entitlement, error) {
	en := s.Entitlements[program]
	if en == nil {
		return nil, &ConflictError{Reason: fmt.Sprintf("cannot %s %s: the person holds no such entitlement", verb, program)}
	}
	if !slices.Contains(want, en.Status) {
		return nil, &ConflictError{Reason: fmt.Sprintf("cannot %s %s: it is %s", verb, program, en.Status)}
	}
	return en, nil
}

// notBeforeStart rejects a date before the entitlement began.
func notBeforeStart(field string, d Date, en *Entitlement) error {
	if d.Before(en.EffectiveFrom) {
		return Invalid(field, "%s is before the entitlement's effective_from %s", d, en.EffectiveFrom)
	}
	return nil
}

// SuspendEntitlement stops payments of an active entitlement from
// EffectiveOn.
type SuspendEntitlement struct {
	Program     ProgramCode
	EffectiveOn Date
	ReasonCode  SuspensionReason
}

func (SuspendEntitlement) CommandName() string { return "SuspendEntitlement" }

func (c SuspendEntitlement) validate(now time.Time) error {
	if _, err := ParseProgramCode("program", string(c.Program)); err != nil {
		return err
	}
	if _, err := ParseSuspensionReason("reason_code", string(c.ReasonCode)); err != nil {
		return err
	}
	if c.ReasonCode == SuspensionCertificateExpired {
		return Invalid("reason_code", "certificate_expired is recorded by the eligibility review (ReviewEligibility), from the day after the certificate's last valid day")
	}
	return checkDate("effective_on", c.EffectiveOn, now)
}

func (c SuspendEntitlement) decide(s Beneficiary) ([]Event, error) {
	en, err := openEntitlement(s, c.Program, "suspend", EntitlementStatusActive)
	if err != nil {
		return nil, err
	}
	if err := notBeforeStart("effective_on", c.EffectiveOn, en); err != nil {
		return nil, err
	}
	return []Event{EntitlementSuspended{Program: c.Program, EffectiveDate: c.EffectiveOn, ReasonCode: c.ReasonCode}}, nil
}

// ResumeEntitlement pays a suspended entitlement again from EffectiveOn.
// The person must still be eligible on that date.
type ResumeEntitlement struct {
	Program     ProgramCode
	EffectiveOn Date
}

func (ResumeEntitlement) CommandName() string { return "ResumeEntitlement" }

func (c ResumeEntitlement) validate(now time.Time) error {
	if _, err := ParseProgramCode("program", string(c.Program)); err != nil {
		return err
	}
	return checkDate("effective_on", c.EffectiveOn, now)
}

func (c ResumeEntitlement) decide(s Beneficiary) ([]Event, error) {
	en, err := openEntitlement(s, c.Program, "resume", EntitlementStatusSuspended)
	if err != nil {
		return nil, err
	}
	if c.EffectiveOn.Before(en.SuspendedFrom) {
		return nil, Invalid("effective_on", "%s is before the suspension began on %s", c.EffectiveOn, en.SuspendedFrom)
	}
	p, _ := LookupProgram(c.Program)
	if err := p.CheckEligible(&s, c.EffectiveOn, en.Attributes); err != nil {
		return nil, err
	}
	return []Event{EntitlementResumed{Program: c.Program, EffectiveDate: c.EffectiveOn}}, nil
}

// TerminateEntitlement ends an active or suspended entitlement; EffectiveTo
// is its last day in force. Reasons death and certificate_revoked are set
// by RecordDeath and RevokeCertificate only.
type TerminateEntitlement struct {
	Program     ProgramCode
	EffectiveTo Date
	ReasonCode  TerminationReason
}

func (TerminateEntitlement) CommandName() string { return "TerminateEntitlement" }

func (c TerminateEntitlement) validate(now time.Time) error {
	if _, err := ParseProgramCode("program", string(c.Program)); err != nil {
		return err
	}
	if _, err := ParseTerminationReason("reason_code", string(c.ReasonCode)); err != nil {
		return err
	}
	switch c.ReasonCode {
	case TerminationDeath:
		return Invalid("reason_code", "death is recorded with RecordDeath, which ends every entitlement")
	case TerminationCertificateRevoked:
		return Invalid("reason_code", "certificate_revoked is recorded with RevokeCertificate, which ends the entitlements that need a certificate")
	}
	return checkDate("effective_to", c.EffectiveTo, now)
}

func (c TerminateEntitlement) decide(s Beneficiary) ([]Event, error) {
	en, err := openEntitlement(s, c.Program, "terminate", EntitlementStatusActive, EntitlementStatusSuspended)
	if err != nil {
		return nil, err
	}
	if err := notBeforeStart("effective_to", c.EffectiveTo, en); err != nil {
		return nil, err
	}
	return []Event{EntitlementTerminated{Program: c.Program, EffectiveTo: c.EffectiveTo, ReasonCode: c.ReasonCode}}, nil
}

// RecordOneOffGrant records a grant of a one_off program. GrantID must be
// unique within the person, which also makes the command safe to repeat.
type RecordOneOffGrant struct {
	GrantID     string
	Program     ProgramCode
	Amount      Money
	EffectiveOn Date
	Attributes  GrantAttributes
}

func (RecordOneOffGrant) CommandName() string { return "RecordOneOffGrant" }

func (c RecordOneOffGrant) validate(now time.Time) error {
	if err := checkToken("grant_id", c.GrantID, 64); err != nil {
		return err
	}
	p, err := lookupShape(c.Program, ShapeOneOff)
	if err != nil {
		return err
	}
	if err := checkAmount("amount", c.Amount); err != nil {
		return err
	}
	if err := checkDate("effective_on", c.EffectiveOn, now); err != nil {
		return err
	}
	return p.validateAttributes(c.Attributes)
}

func (c RecordOneOffGrant) decide(s Beneficiary) ([]Event, error) {
	p, _ := LookupProgram(c.Program) // validated
	if err := notBeforeBirth("effective_on", c.EffectiveOn, s); err != nil {
		return nil, err
	}
	for _, g := range s.OneOffs {
		if g.GrantID == c.GrantID {
			return nil, &ConflictError{Reason: fmt.Sprintf("grant %s is already recorded (%s on %s)", g.GrantID, g.Program, g.EffectiveOn)}
		}
	}
	if p.OncePerPerson {
		for _, g := range s.OneOffs {
			if g.Program == c.Program {
				return nil, Violation(RuleOncePerPerson, "%s is granted at most once per person; granted on %s (grant %s)", c.Program, g.EffectiveOn, g.GrantID)
			}
		}
	}
	if err := p.CheckEligible(&s, c.EffectiveOn, c.Attributes); err != nil {
		return nil, err
	}
	return []Event{OneOffGranted{GrantID: c.GrantID, Program: c.Program, Amount: c.Amount, EffectiveDate: c.EffectiveOn, Attributes: c.Attributes}}, nil
}

// RecordInKindIssue records assistive devices issued free of charge
// (device_in_kind), valued at Quantity × UnitValue. IssueID must be unique
// within the person.
type RecordInKindIssue struct {
	IssueID     string
	Item        string
	Quantity    int
	UnitValue   Money
	EffectiveOn Date
}

func (RecordInKindIssue) CommandName() string { return "RecordInKindIssue" }

// maxInKindQuantity bounds one issue; larger numbers are typing errors.
const maxInKindQuantity = 1000

func (c RecordInKindIssue) validate(now time.Time) error {
	if err := checkToken("issue_id", c.IssueID, 64); err != nil {
		return err
	}
	if err := checkText("item", c.Item, 100); err != nil {
		return err
	}
	if c.Quantity < 1 || c.Quantity > maxInKindQuantity {
		return Invalid("quantity", "%d is not 1 to %d", c.Quantity, maxInKindQuantity)
	}
	if err := checkAmount("unit_value", c.UnitValue); err != nil {
		return err
	}
	return checkDate("effective_on", c.EffectiveOn, now)
}

func (c RecordInKindIssue) decide(s Beneficiary) ([]Event, error) {
	if err := notBeforeBirth("effective_on", c.EffectiveOn, s); err != nil {
		return nil, err
	}
	for _, is := range s.InKind {
		if is.IssueID == c.IssueID {
			return nil, &ConflictError{Reason: fmt.Sprintf("issue %s is already recorded (%s on %s)", is.IssueID, is.Item, is.EffectiveOn)}
		}
	}
	p, _ := LookupProgram(ProgramDeviceInKind)
	if err := p.CheckEligible(&s, c.EffectiveOn, GrantAttributes{}); err != nil {
		return nil, err
	}
	return []Event{InKindIssued{
		IssueID: c.IssueID, Program: ProgramDeviceInKind, Item: c.Item, Quantity: c.Quantity,
		UnitValue: c.UnitValue, EffectiveDate: c.EffectiveOn,
	}}, nil
}
