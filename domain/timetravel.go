package domain

import (
	"cmp"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Time travel: what the ledger said about a person. Every event carries two
// times: RecordedAt (system time, when the ledger learnt it) and its
// effective date (business time, when it took effect). Replay answers "what
// did the ledger know at knownAt about the person's entitlements on asOf?"
// from the person's stream alone, never from a read model, so an auditor
// can compare an old answer with today's answer for the same date: the
// difference is the corrections recorded in between.

// ParseKnownAt parses a system time: an RFC 3339 timestamp such as
// "2024-06-30T18:00:00+08:00", or a date "2024-06-30" meaning the end of that
// day in BusinessZone (23:59:59.999999999+08:00), so that everything
// recorded that day counts as known.
func ParseKnownAt(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := ParseDate(field, s); err == nil {
		return EndOfDay(d), nil
	}
	return time.Time{}, Invalid(field, "%s is neither an RFC 3339 timestamp (2024-06-30T18:00:00+08:00) nor a date (2024-06-30)", quoteTrunc(s))
}

// EndOfDay returns the last instant of d in BusinessZone.
func EndOfDay(d Date) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, BusinessZone).Add(-time.Nanosecond)
}

// EntitlementDecision is one recorded decision about a person's
// entitlement to one program: the entitlement events of the stream (or the
// entitlement_history read model) in recording order.
type EntitlementDecision struct {
	Kind          string // ChangeGranted, ChangeSuspended, ChangeResumed, ChangeTerminated or ChangeReinstated
	EffectiveDate Date   // see EntitlementChange.EffectiveDate
	Amount        Money  // a grant's own amount per period; zero: the catalog rate
	ReasonCode    string // of a suspension or termination
	Attributes    GrantAttributes
}

// EntitlementOn is an entitlement as it stood on a business date.
type EntitlementOn struct {
	Program       ProgramCode
	Status        EntitlementStatus
	EffectiveFrom Date
	EffectiveTo   Date   // the earliest recorded last day in force, if any (it may lie after the date)
	SuspendedFrom Date   // set while suspended on the date
	ReasonCode    string // of the suspension in force, or of a termination in force
	Amount        Money  // the grant's own amount; zero: the catalog rate
	Rate          Money  // per period on the date: Amount, else the catalog rate
	RateSource    string // "grant", "catalog", or "" when neither applies
	Attributes    GrantAttributes
}

// EntitlementStateOn judges an entitlement on business date on from its
// decisions in recording order: the last grant effective on or before on,
// and the suspensions, resumptions and terminations of that grant effective
// on or before it — by effective date, not by when they were recorded. A
// termination's date is the last day in force, so the entitlement is
// terminated from the day after it. ok is false when no grant was in effect
// yet on on. Rate is the grant's amount, else the catalog rate on on.
func EntitlementStateOn(program ProgramCode, decisions []EntitlementDecision, on Date) (st EntitlementOn, ok bool) {
	st.Program = program
	var lastPause Date
	var ends []EntitlementDecision // the grant's terminations not withdrawn
	for _, d := range decisions {
		switch d.Kind {
		case ChangeGranted:
			if d.EffectiveDate.After(on) {
				continue
			}
			st = EntitlementOn{Program: program, Status: EntitlementStatusActive, EffectiveFrom: d.EffectiveDate,
				Amount: d.Amount, Attributes: d.Attributes}
			ok, lastPause, ends = true, Date{}, nil
		case ChangeSuspended, ChangeResumed:
			if !ok || d.EffectiveDate.After(on) || d.EffectiveDate.Before(lastPause) {
				continue
			}
			lastPause = d.EffectiveDate
			if d.Kind == ChangeSuspended {
				st.SuspendedFrom, st.ReasonCode = d.EffectiveDate, d.ReasonCode
			} else {
				st.SuspendedFrom, st.ReasonCode = Date{}, ""
			}
		case ChangeTerminated:
			if ok {
				ends = append(ends, d)
			}
		case ChangeReinstated:
			if k := slices.IndexFunc(ends, func(e EntitlementDecision) bool { return e.EffectiveDate.Equal(d.EffectiveDate) }); k >= 0 {
				ends = slices.Delete(ends, k, k+1)
			}
		}
	}
	if !ok {
		return EntitlementOn{}, false
	}
	for _, d := range ends { // the earliest last day in force counts
		if st.EffectiveTo.IsZero() || d.EffectiveDate.Before(st.EffectiveTo) {
			st.EffectiveTo = d.EffectiveDate
			if d.EffectiveDate.Before(on) {
				st.ReasonCode = d.ReasonCode
			}
		}
	}
	switch {
	case !st.EffectiveTo.IsZero() && st.EffectiveTo.Before(on):
		st.Status = EntitlementStatusTerminated
	case !st.SuspendedFrom.IsZero():
		st.Status = EntitlementStatusSuspended
	}
	st.Rate, st.RateSource = st.Amount, "grant"
	if st.Amount.IsZero() {
		st.RateSource = ""
		if p, found := LookupProgram(program); found {
			if rate, has := p.RateOn(on); has {
				st.Rate, st.RateSource = rate, "catalog"
			}
		}
	}
	return st, true
}

// entitlementDecisionOf returns the program and decision an entitlement
// event (as decoded) stands for; ok is false for every other event.
func entitlementDecisionOf(e Event) (ProgramCode, EntitlementDecision, bool) {
	switch e := e.(type) {
	case *EntitlementGranted:
		return e.Program, EntitlementDecision{Kind: ChangeGranted, EffectiveDate: e.EffectiveFrom, Amount: e.Amount, Attributes: e.Attributes}, true
	case *EntitlementSuspended:
		return e.Program, EntitlementDecision{Kind: ChangeSuspended, EffectiveDate: e.EffectiveDate, ReasonCode: string(e.ReasonCode)}, true
	case *EntitlementResumed:
		return e.Program, EntitlementDecision{Kind: ChangeResumed, EffectiveDate: e.EffectiveDate}, true
	case *EntitlementTerminated:
		return e.Program, EntitlementDecision{Kind: ChangeTerminated, EffectiveDate: e.EffectiveTo, ReasonCode: string(e.ReasonCode)}, true
	case *EntitlementReinstated:
		return e.Program, EntitlementDecision{Kind: ChangeReinstated, EffectiveDate: e.EndedOn, ReasonCode: string(e.ReasonCode)}, true
	}
	return "", EntitlementDecision{}, false
}

// CertificateFacts is the disability certificate as it stood on a date.
type CertificateFacts struct {
	NumberMasked string
	Category     DisabilityCategory
	Grade        DisabilityGrade
	IssuedOn     Date
	ValidUntil   Date
	Revoked      bool // revoked effective on or before the date
}

// PersonFacts are the facts about a person that the ledger knew, as they
// stood on a date.
type PersonFacts struct {
	Registered   bool // false: the ledger did not know the person yet
	Township     string
	HouseholdID  string
	Household    HouseholdStatus
	RegisteredOn Date
	Certificate  *CertificateFacts // nil: none issued by the date
	Deceased     bool              // a death on or before the date, not retracted
	DateOfDeath  Date
}

// AsKnown is a person's state as the ledger knew it at KnownAt (system
// time), judged on AsOf (business time).
type AsKnown struct {
	PersonID     PersonID
	KnownAt      time.Time // zero: everything recorded
	AsOf         Date
	EventsKnown  int // events recorded at or before KnownAt
	EventsLater  int // events recorded after it: the corrections and news since
	Facts        PersonFacts
	Entitlements []EntitlementOn // monthly and annual programs granted by AsOf, by program code
	OneOffs      []OneOff        // one-off grants effective on or before AsOf, in recording order
	InKind       []InKindIssue   // in-kind issues effective on or before AsOf, in recording order
}

// Replay reconstructs a person from their stream's envelopes (in stream
// order, as decoded) as the ledger knew them at knownAt, for business date asOf:
//
//   - only events with RecordedAt at or before knownAt count (a zero
//     knownAt counts every event);
//   - each program is judged by EntitlementStateOn, the rule
//     GET /v1/persons/{id}/entitlements?as_of= uses as well;
//   - a death effective on or before asOf (and not retracted by knownAt)
//     ends every entitlement still open after the date of death, its last
//     day in force (RecordDeath records those terminations itself; this
//     only guards a stream that lacks one);
//   - the facts (township, household, certificate) are those of the events
//     effective on or before asOf, the latest effective date winning (ties:
//     the later recorded), over what registration recorded.
//
// An asOf of the zero Date is refused.
func Replay(envs []Envelope, knownAt time.Time, asOf Date) (AsKnown, error) {
	if asOf.IsZero() {
		return AsKnown{}, Invalid("as_of", "is required")
	}
	out := AsKnown{KnownAt: knownAt, AsOf: asOf, Entitlements: []EntitlementOn{}, OneOffs: []OneOff{}, InKind: []InKindIssue{}}
	var known []Event
	for _, env := range envs {
		if !knownAt.IsZero() && env.Meta.RecordedAt.After(knownAt) {
			out.EventsLater++
			continue
		}
		out.EventsKnown++
		known = append(known, env.Event)
	}
	f := factsOn(known, asOf)
	out.Facts = f.PersonFacts
	out.PersonID = f.id
	if out.PersonID == "" && len(envs) > 0 {
		out.PersonID, _ = PersonIDFromStream(envs[0].Stream)
	}

	decisions := map[ProgramCode][]EntitlementDecision{}
	for _, e := range known {
		if program, d, ok := entitlementDecisionOf(e); ok {
			decisions[program] = append(decisions[program], d)
		}
		switch e := e.(type) {
		case *OneOffGranted:
			if !e.EffectiveDate.After(asOf) {
				out.OneOffs = append(out.OneOffs, OneOff{GrantID: e.GrantID, Program: e.Program, Amount: e.Amount, EffectiveOn: e.EffectiveDate, Attributes: e.Attributes})
			}
		case *InKindIssued:
			if !e.EffectiveDate.After(asOf) {
				out.InKind = append(out.InKind, InKindIssue{IssueID: e.IssueID, Program: e.Program, Item: e.Item, Quantity: e.Quantity, UnitValue: e.UnitValue, EffectiveOn: e.EffectiveDate})
			}
		}
	}
	for _, program := range slices.Sorted(maps.Keys(decisions)) {
		st, ok := EntitlementStateOn(program, decisions[program], asOf)
		if !ok {
			continue
		}
		if death := out.Facts.DateOfDeath; out.Facts.Deceased && st.Status != EntitlementStatusTerminated && death.Before(asOf) {
			st.Status, st.SuspendedFrom, st.ReasonCode = EntitlementStatusTerminated, Date{}, string(TerminationDeath)
			if st.EffectiveTo.IsZero() || death.Before(st.EffectiveTo) {
				st.EffectiveTo = death
			}
		}
		out.Entitlements = append(out.Entitlements, st)
	}
	return out, nil
}

// replayFacts is PersonFacts with the person's ID.
type replayFacts struct {
	PersonFacts
	id PersonID
}

// datedFact is an event that changes a fact, with its effective date and
// recording order.
type datedFact struct {
	on  Date
	seq int
	ev  Event
}

// factsOn folds the known events into the facts on asOf.
func factsOn(known []Event, asOf Date) replayFacts {
	var f replayFacts
	var dated []datedFact
	var died Date // the recorded death not retracted, in recording order
	for i, e := range known {
		switch e := e.(type) {
		case *PersonRegistered:
			f.Registered, f.id = true, e.PersonID
			f.Township, f.HouseholdID, f.Household, f.RegisteredOn = e.Township, e.HouseholdID, e.Household, e.RegisteredOn
		case *PersonDied:
			died = e.DateOfDeath
		case *DeathRetracted:
			died = Date{}
		case *CertificateIssued:
			dated = append(dated, datedFact{e.IssuedOn, i, e})
		case *CertificateRegraded:
			dated = append(dated, datedFact{e.EffectiveDate, i, e})
		case *CertificateRevoked:
			dated = append(dated, datedFact{e.EffectiveDate, i, e})
		case *HouseholdStatusChanged:
			dated = append(dated, datedFact{e.EffectiveDate, i, e})
		case *PersonMoved:
			dated = append(dated, datedFact{e.EffectiveDate, i, e})
		}
	}
	if !died.IsZero() && !died.After(asOf) {
		f.Deceased, f.DateOfDeath = true, died
	}
	slices.SortStableFunc(dated, func(a, b datedFact) int {
		return cmp.Or(a.on.Compare(b.on), cmp.Compare(a.seq, b.seq))
	})
	for _, d := range dated {
		if d.on.After(asOf) {
			break
		}
		switch e := d.ev.(type) {
		case *CertificateIssued:
			f.Certificate = &CertificateFacts{NumberMasked: e.NumberMasked, Category: e.Category, Grade: e.Grade, IssuedOn: e.IssuedOn, ValidUntil: e.ValidUntil}
		case *CertificateRegraded:
			c := CertificateFacts{IssuedOn: e.EffectiveDate}
			if f.Certificate != nil {
				c = *f.Certificate
			}
			c.NumberMasked, c.Category, c.Grade, c.ValidUntil, c.Revoked = e.NumberMasked, e.Category, e.Grade, e.ValidUntil, false
			f.Certificate = &c
		case *CertificateRevoked:
			if f.Certificate != nil {
				c := *f.Certificate
				c.Revoked = true
				f.Certificate = &c
			}
		case *HouseholdStatusChanged:
			f.Household = e.Household
		case *PersonMoved:
			f.Township = e.ToTownship
		}
	}
	return f
}

// Summarize returns a readable one-line English summary of a person's
// event as decoded (a pointer), e.g. "living_subsidy granted from
// 2024-03-01 at the catalog rate" or "died on 2024-05-02". It never contains a full identity number: a
// number it mentions is masked, and any run of digits in free text long
// enough to be one is masked too.
func Summarize(e Event) string {
	if e == nil {
		return "(no event)"
	}
	return MaskIDNumbers(summarize(e))
}

func summarize(e Event) string {
	switch e := e.(type) {
	case *PersonRegistered:
		s := fmt.Sprintf("registered in %s from %s", e.Township, e.RegisteredOn)
		if id, err := ParseResidentID("id_number", e.IDNumber); err == nil {
			s += ", ID " + id.Masked()
		} else if e.Erased {
			s += ", ID and name erased"
		}
		return s + ", household " + householdText(e.Household)
	case *CertificateIssued:
		return fmt.Sprintf("certificate issued on %s: %s grade %d, valid until %s", e.IssuedOn, e.Category, int(e.Grade), e.ValidUntil)
	case *CertificateRegraded:
		return fmt.Sprintf("certificate regraded from %s grade %d to %s grade %d on %s, valid until %s",
			e.PreviousCategory, int(e.PreviousGrade), e.Category, int(e.Grade), e.EffectiveDate, e.ValidUntil)
	case *CertificateRevoked:
		return fmt.Sprintf("certificate revoked from %s (%s)", e.EffectiveDate, e.ReasonCode)
	case *HouseholdStatusChanged:
		return fmt.Sprintf("household changed from %s to %s on %s", householdText(e.PreviousHousehold), householdText(e.Household), e.EffectiveDate)
	case *PersonDied:
		return fmt.Sprintf("died on %s", e.DateOfDeath)
	case *DeathRetracted:
		return fmt.Sprintf("death on %s retracted as recorded in error", e.DateOfDeath)
	case *PersonMoved:
		return fmt.Sprintf("moved from %s to %s on %s", e.FromTownship, e.ToTownship, e.EffectiveDate)
	case *PersonErased:
		return fmt.Sprintf("personal data erased on %s (kept %d years after the last activity on %s)", e.ErasedOn, RetentionYears, e.LastActivity)
	case *EntitlementGranted:
		return fmt.Sprintf("%s granted from %s %s%s", e.Program, e.EffectiveFrom, rateText(e.Program, e.Amount), attributesText(e.Attributes))
	case *EntitlementSuspended:
		return fmt.Sprintf("%s suspended from %s (%s)", e.Program, e.EffectiveDate, e.ReasonCode)
	case *EntitlementResumed:
		return fmt.Sprintf("%s resumed from %s", e.Program, e.EffectiveDate)
	case *EntitlementTerminated:
		return fmt.Sprintf("%s terminated: last day in force %s (%s)", e.Program, e.EffectiveTo, e.ReasonCode)
	case *EntitlementReinstated:
		return fmt.Sprintf("%s reinstated: the termination on %s (%s) withdrawn as recorded in error", e.Program, e.EndedOn, e.ReasonCode)
	case *OneOffGranted:
		return fmt.Sprintf("one-off %s of %s on %s (grant %s)%s", e.Program, e.Amount, e.EffectiveDate, e.GrantID, attributesText(e.Attributes))
	case *InKindIssued:
		return fmt.Sprintf("issued %d × %s worth %s each (%s) on %s under %s (issue %s)",
			e.Quantity, e.Item, e.UnitValue, e.UnitValue.Mul(e.Quantity), e.EffectiveDate, e.Program, e.IssueID)
	case *GrantProposed:
		return fmt.Sprintf("%s proposed from %s %s%s by %s, awaiting approval", e.Program, e.EffectiveFrom, rateText(e.Program, e.Amount),
			attributesText(e.Attributes), e.ProposedBy)
	case *GrantApproved:
		return fmt.Sprintf("proposal %s for %s approved by %s", e.ProposalID, e.Program, e.ApprovedBy)
	case *GrantRejected:
		return fmt.Sprintf("proposal %s for %s rejected by %s: %s", e.ProposalID, e.Program, e.RejectedBy, e.Reason)
	case *BankAccountRecorded:
		return fmt.Sprintf("bank account recorded: %s %s", e.Bank, e.AccountMasked)
	case *ChangeProposed:
		return fmt.Sprintf("change %s proposed by %s from the %s roster (%s), awaiting approval: %s",
			e.ProposalID, e.ProposedBy, e.Change.Source, joinCodes(e.Change.Differences), e.Change.describe())
	case *ChangeApproved:
		return fmt.Sprintf("change %s approved by %s", e.ProposalID, e.ApprovedBy)
	case *ChangeRejected:
		return fmt.Sprintf("change %s rejected by %s: %s", e.ProposalID, e.RejectedBy, e.Reason)
	}
	// "beneficiary.SomethingNew.v1" → "SomethingNew (beneficiary.SomethingNew.v1)"
	typ := e.EventType()
	parts := strings.Split(typ, ".")
	if len(parts) >= 3 {
		return parts[len(parts)-2] + " (" + typ + ")"
	}
	return typ
}

// rateText says what a grant pays per period.
func rateText(program ProgramCode, amount Money) string {
	if amount.IsZero() {
		return "at the catalog rate"
	}
	per := "per period"
	if p, ok := LookupProgram(program); ok {
		switch p.Shape {
		case ShapeMonthly:
			per = "per month"
		case ShapeAnnual:
			per = "per year"
		}
	}
	return fmt.Sprintf("at %s %s", amount, per)
}

func attributesText(a GrantAttributes) string {
	var parts []string
	if a.VehiclePlate != "" {
		parts = append(parts, "vehicle "+a.VehiclePlate)
	}
	if a.Post != "" {
		parts = append(parts, "post "+a.Post)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// householdText is e.g. "none", "lifted_from_poverty, dibao".
func householdText(h HouseholdStatus) string {
	parts := []string{h.Class.display()}
	if h.Dibao {
		parts = append(parts, "dibao")
	}
	if h.Tekun {
		parts = append(parts, "tekun")
	}
	if h.WorkInjuryNursing {
		parts = append(parts, "work_injury_nursing")
	}
	return strings.Join(parts, ", ")
}

// longNumber matches what could be an identity number: 15 or more digits,
// possibly ending in X.
var longNumber = regexp.MustCompile(`[0-9]{14,}[0-9Xx]`)

// MaskIDNumbers keeps the first 6 and last 4 characters of every long
// number in s and masks the rest.
func MaskIDNumbers(s string) string {
	return longNumber.ReplaceAllStringFunc(s, func(n string) string {
		return n[:6] + strings.Repeat("*", len(n)-10) + n[len(n)-4:]
	})
}
