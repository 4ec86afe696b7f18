package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorded appends events to the person's stream as one command recorded
// at at (system time, in the business zone: "2024-08-10 10:00"), after
// prev, sealed and decoded back as a reader of the stream gets them.
func recorded(prev []Envelope, at string, events ...Event) []Envelope {
	t, err := time.ParseInLocation("2006-01-02 15:04", at, BusinessZone)
	if err != nil {
		panic(err)
	}
	meta := CommandMeta{CommandID: fmt.Sprint("cmd-", len(prev)), Actor: "clerk.zhou", Role: "clerk", Now: t}
	return asRead(prev, pid(adultID).Stream(), meta, events...)
}

// decided folds envs and returns the events cmd decides on that state
// (system time now, a string as for recorded).
func decided(t *testing.T, envs []Envelope, cmd Command) []Event {
	t.Helper()
	var s Beneficiary
	for _, e := range envs {
		s = Evolve(s, e.Event)
	}
	evs, err := Decide(s, cmd, testNow)
	if err != nil {
		t.Fatalf("%s: %v", cmd.CommandName(), err)
	}
	return evs
}

func knownAt(s string) time.Time {
	t, err := ParseKnownAt("known_at", s)
	if err != nil {
		panic(err)
	}
	return t
}

// entitlementText renders one replayed entitlement for comparison.
func entitlementText(e EntitlementOn) string {
	return fmt.Sprintf("%s %s from=%s to=%s suspended=%s reason=%s rate=%s/%s", e.Program, e.Status,
		e.EffectiveFrom, e.EffectiveTo, e.SuspendedFrom, e.ReasonCode, e.Rate, e.RateSource)
}

func replayText(t *testing.T, envs []Envelope, known time.Time, asOf string) []string {
	t.Helper()
	r, err := Replay(envs, known, d(asOf))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, e := range r.Entitlements {
		out = append(out, entitlementText(e))
	}
	return out
}

func sameLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// The auditor's question: granted living_subsidy from 2024-01-01 (recorded
// 2024-01-05); on 2024-08-10 a termination effective 2024-02-29 is recorded.
// What did the ledger say on 2024-06-30 about 2024-03-15, and what does it
// say now?
func TestReplayBeforeAndAfterBackdatedTermination(t *testing.T) {
	envs := recorded(nil, "2024-01-05 10:00",
		registered(adultID, dibao), certIssued(adultID, CategoryPhysical, 3), granted(ProgramLivingSubsidy, "2024-01-01"))
	envs = recorded(envs, "2024-08-10 15:30", decided(t, envs, TerminateEntitlement{
		Program: ProgramLivingSubsidy, EffectiveTo: d("2024-02-29"), ReasonCode: TerminationNoLongerEligible})...)

	active := "living_subsidy active from=2024-01-01 to= suspended= reason= rate=100.00/catalog"
	terminated := "living_subsidy terminated from=2024-01-01 to=2024-02-29 suspended= reason=no_longer_eligible rate=100.00/catalog"
	cases := []struct {
		name    string
		knownAt time.Time
		asOf    string
		want    []string
	}{
		{"known on 2024-06-30, about March", knownAt("2024-06-30"), "2024-03-15", []string{active}},
		{"known the morning of the correction, about March", knownAt("2024-08-10T15:29:59+08:00"), "2024-03-15", []string{active}},
		{"known at the correction's instant, about March", knownAt("2024-08-10T07:30:00Z"), "2024-03-15", []string{terminated}},
		{"known on 2024-08-31, about March", knownAt("2024-08-31"), "2024-03-15", []string{terminated}},
		{"known now (everything), about March", time.Time{}, "2024-03-15", []string{terminated}},
		{"known now, about its last day in force", time.Time{}, "2024-02-29",
			[]string{"living_subsidy active from=2024-01-01 to=2024-02-29 suspended= reason= rate=100.00/catalog"}},
		{"known now, about a day before the grant", time.Time{}, "2023-12-31", []string{}},
		{"known before anything was recorded", knownAt("2024-01-04"), "2024-03-15", []string{}},
		{"known now, about 2025: the catalog rate then", time.Time{}, "2025-02-01",
			[]string{"living_subsidy terminated from=2024-01-01 to=2024-02-29 suspended= reason=no_longer_eligible rate=110.00/catalog"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sameLines(t, "entitlements", replayText(t, envs, tc.knownAt, tc.asOf), tc.want)
		})
	}

	before, _ := Replay(envs, knownAt("2024-06-30"), d("2024-03-15"))
	after, _ := Replay(envs, time.Time{}, d("2024-03-15"))
	if before.EventsKnown != 3 || before.EventsLater != 1 || after.EventsKnown != 4 || after.EventsLater != 0 {
		t.Errorf("events known/later: before %d/%d, after %d/%d; want 3/1 and 4/0",
			before.EventsKnown, before.EventsLater, after.EventsKnown, after.EventsLater)
	}
	if before.PersonID != pid(adultID) || !before.Facts.Registered || before.Facts.Township != "蛟塘镇" {
		t.Errorf("facts before: %+v (person %s)", before.Facts, before.PersonID)
	}
	nothing, _ := Replay(envs, knownAt("2024-01-04"), d("2024-03-15"))
	if nothing.Facts.Registered || nothing.EventsKnown != 0 || nothing.PersonID != pid(adultID) {
		t.Errorf("known before registration: %+v", nothing)
	}
	if _, err := Replay(envs, time.Time{}, Date{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("no as_of: %v, want ErrInvalid", err)
	}
}

// A death recorded late ends every entitlement from the day after the date
// of death; before it was recorded the ledger said otherwise. A retraction
// restores the person and the entitlements the death ended, as they stood
// (one active, one suspended) — known after the retraction, at every
// as-of date; known before it, they stay ended.
func TestReplayLateDeathAndRetraction(t *testing.T) {
	envs := recorded(nil, "2024-01-05 10:00",
		registered(adultID, dibao), certIssued(adultID, CategoryPhysical, 1),
		granted(ProgramLivingSubsidy, "2024-01-01"), granted(ProgramCareSubsidy, "2024-01-01"))
	envs = recorded(envs, "2024-03-02 09:00", decided(t, envs, SuspendEntitlement{
		Program: ProgramLivingSubsidy, EffectiveOn: d("2024-03-01"), ReasonCode: SuspensionDocumentsMissing})...)
	envs = recorded(envs, "2024-08-10 15:30", decided(t, envs, RecordDeath{DateOfDeath: d("2024-02-29")})...)
	envs = recorded(envs, "2024-09-01 11:00", decided(t, envs, RetractDeath{})...)

	sameLines(t, "known 2024-06-30", replayText(t, envs, knownAt("2024-06-30"), "2024-03-15"), []string{
		"care_subsidy active from=2024-01-01 to= suspended= reason= rate=100.00/catalog",
		"living_subsidy suspended from=2024-01-01 to= suspended=2024-03-01 reason=documents_missing rate=100.00/catalog",
	})
	ended := []string{
		"care_subsidy terminated from=2024-01-01 to=2024-02-29 suspended= reason=death rate=100.00/catalog",
		"living_subsidy terminated from=2024-01-01 to=2024-02-29 suspended=2024-03-01 reason=death rate=100.00/catalog",
	}
	sameLines(t, "known 2024-08-31", replayText(t, envs, knownAt("2024-08-31"), "2024-03-15"), ended)
	restored := []string{
		"care_subsidy active from=2024-01-01 to= suspended= reason= rate=100.00/catalog",
		"living_subsidy suspended from=2024-01-01 to= suspended=2024-03-01 reason=documents_missing rate=100.00/catalog",
	}
	sameLines(t, "known now", replayText(t, envs, time.Time{}, "2024-03-15"), restored)
	sameLines(t, "known now, as of 2024-12-31", replayText(t, envs, time.Time{}, "2024-12-31"), restored)

	r, _ := Replay(envs, knownAt("2024-08-31"), d("2024-03-15"))
	if !r.Facts.Deceased || !r.Facts.DateOfDeath.Equal(d("2024-02-29")) {
		t.Errorf("known 2024-08-31: deceased %v on %s, want deceased on 2024-02-29", r.Facts.Deceased, r.Facts.DateOfDeath)
	}
	if r, _ := Replay(envs, knownAt("2024-08-31"), d("2024-02-28")); r.Facts.Deceased {
		t.Errorf("as of the day before the death: deceased")
	}
	if r, _ := Replay(envs, time.Time{}, d("2024-03-15")); r.Facts.Deceased {
		t.Errorf("after the retraction: still deceased on %s", r.Facts.DateOfDeath)
	}
}

// A stream with a death but no terminations (written by hand, or before
// RecordDeath ended entitlements) still ends them after the date of death.
func TestReplayDeathEndsEntitlementsWithoutTerminations(t *testing.T) {
	envs := recorded(nil, "2024-01-05 10:00",
		registered(adultID, dibao), certIssued(adultID, CategoryPhysical, 1), granted(ProgramLivingSubsidy, "2024-01-01"),
		EntitlementTerminated{Program: ProgramLivingSubsidy, EffectiveTo: d("2024-12-31"), ReasonCode: TerminationVoluntary})
	envs = recorded(envs, "2024-08-10 15:30", PersonDied{DateOfDeath: d("2024-02-29")})
	sameLines(t, "on the date of death", replayText(t, envs, time.Time{}, "2024-02-29"),
		[]string{"living_subsidy active from=2024-01-01 to=2024-12-31 suspended= reason= rate=100.00/catalog"})
	sameLines(t, "after it", replayText(t, envs, time.Time{}, "2024-03-01"),
		[]string{"living_subsidy terminated from=2024-01-01 to=2024-02-29 suspended= reason=death rate=100.00/catalog"})
}

// The facts on a date: the latest effective change on or before it wins,
// whatever order the changes were recorded in.
func TestReplayFacts(t *testing.T) {
	envs := recorded(nil, "2024-01-05 10:00", registered(adultID, dibao), certIssued(adultID, CategoryPhysical, 3))
	envs = recorded(envs, "2024-05-01 10:00",
		PersonMoved{FromTownship: "蛟塘镇", ToTownship: "星子镇", EffectiveDate: d("2024-04-01")},
		HouseholdStatusChanged{Household: HouseholdStatus{Class: HouseholdLiftedFromPoverty}, PreviousHousehold: dibao, EffectiveDate: d("2024-04-15")},
		CertificateRegraded{Category: CategoryPhysical, Grade: 2, PreviousCategory: CategoryPhysical, PreviousGrade: 3,
			NumberMasked: certNumber(adultID, CategoryPhysical, 2).Masked(), EffectiveDate: d("2024-05-01"), ValidUntil: d("2031-05-31")})
	// Recorded later, effective earlier: a move that happened before the one above.
	envs = recorded(envs, "2024-06-01 10:00",
		PersonMoved{FromTownship: "蛟塘镇", ToTownship: "温泉镇", EffectiveDate: d("2024-02-01")},
		CertificateRevoked{NumberMasked: "x", ReasonCode: RevocationErrorCorrection, EffectiveDate: d("2024-09-01")})

	cases := []struct {
		asOf     string
		known    time.Time
		township string
		class    HouseholdClass
		dibao    bool
		grade    DisabilityGrade
		revoked  bool
	}{
		{"2024-01-31", time.Time{}, "蛟塘镇", HouseholdNone, true, 3, false},
		{"2024-03-01", time.Time{}, "温泉镇", HouseholdNone, true, 3, false},
		{"2024-03-01", knownAt("2024-05-31"), "蛟塘镇", HouseholdNone, true, 3, false},
		{"2024-04-20", time.Time{}, "星子镇", HouseholdLiftedFromPoverty, false, 3, false},
		{"2024-05-01", time.Time{}, "星子镇", HouseholdLiftedFromPoverty, false, 2, false},
		{"2024-09-01", time.Time{}, "星子镇", HouseholdLiftedFromPoverty, false, 2, true},
		{"2024-09-01", knownAt("2024-05-31"), "星子镇", HouseholdLiftedFromPoverty, false, 2, false},
	}
	for _, tc := range cases {
		r, err := Replay(envs, tc.known, d(tc.asOf))
		if err != nil {
			t.Fatal(err)
		}
		f := r.Facts
		if f.Township != tc.township || f.Household.Class != tc.class || f.Household.Dibao != tc.dibao ||
			f.Certificate == nil || f.Certificate.Grade != tc.grade || f.Certificate.Revoked != tc.revoked {
			t.Errorf("as of %s known %v: %+v cert %+v; want %s %q dibao=%v grade %d revoked=%v",
				tc.asOf, tc.known, f, f.Certificate, tc.township, tc.class, tc.dibao, tc.grade, tc.revoked)
		}
	}
	if r, _ := Replay(envs, time.Time{}, d("2021-05-31")); r.Facts.Certificate != nil {
		t.Errorf("certificate before its issue date: %+v", r.Facts.Certificate)
	}
}

func TestReplayOneOffsAndInKind(t *testing.T) {
	envs := recorded(nil, "2024-01-05 10:00", registered(adultID, dibao), certIssued(adultID, CategoryPhysical, 1),
		OneOffGranted{GrantID: "g-1", Program: ProgramDeviceSubsidy, Amount: m("300.00"), EffectiveDate: d("2024-01-10")})
	envs = recorded(envs, "2024-07-01 10:00",
		InKindIssued{IssueID: "i-1", Program: ProgramDeviceInKind, Item: "轮椅", Quantity: 2, UnitValue: m("680.00"), EffectiveDate: d("2024-03-01")},
		OneOffGranted{GrantID: "g-2", Program: ProgramCondolence, Amount: m("500.00"), EffectiveDate: d("2024-06-01")})
	r, _ := Replay(envs, knownAt("2024-06-30"), d("2024-12-31"))
	if len(r.OneOffs) != 1 || r.OneOffs[0].GrantID != "g-1" || len(r.InKind) != 0 {
		t.Errorf("known 2024-06-30: one-offs %+v, in kind %+v; want g-1 only", r.OneOffs, r.InKind)
	}
	r, _ = Replay(envs, time.Time{}, d("2024-05-31"))
	if len(r.OneOffs) != 1 || len(r.InKind) != 1 || r.InKind[0].IssueID != "i-1" || !r.InKind[0].UnitValue.Equal(m("680.00")) {
		t.Errorf("known now, as of 2024-05-31: one-offs %+v, in kind %+v; want g-1 and i-1", r.OneOffs, r.InKind)
	}
	r, _ = Replay(envs, time.Time{}, d("2024-06-01"))
	if len(r.OneOffs) != 2 {
		t.Errorf("as of 2024-06-01: %d one-offs, want 2", len(r.OneOffs))
	}
}

func TestEntitlementStateOn(t *testing.T) {
	g := func(on, amount string) EntitlementDecision {
		var a Money
		if amount != "" {
			a = m(amount)
		}
		return EntitlementDecision{Kind: ChangeGranted, EffectiveDate: d(on), Amount: a}
	}
	x := func(kind, on, reason string) EntitlementDecision {
		return EntitlementDecision{Kind: kind, EffectiveDate: d(on), ReasonCode: reason}
	}
	cases := []struct {
		name      string
		program   ProgramCode
		decisions []EntitlementDecision
		on        string
		want      string // "" for none
	}{
		{"not yet granted", ProgramLivingSubsidy, []EntitlementDecision{g("2024-03-01", "")}, "2024-02-29", ""},
		{"granted on the day", ProgramLivingSubsidy, []EntitlementDecision{g("2024-03-01", "")}, "2024-03-01",
			"living_subsidy active from=2024-03-01 to= suspended= reason= rate=100.00/catalog"},
		{"own amount", ProgramPublicWelfareJob, []EntitlementDecision{g("2024-03-01", "500.00")}, "2024-04-01",
			"public_welfare_job active from=2024-03-01 to= suspended= reason= rate=500.00/grant"},
		{"no rate at all", ProgramIncapacitySubsidy, []EntitlementDecision{g("2024-03-01", "")}, "2024-04-01",
			"incapacity_subsidy active from=2024-03-01 to= suspended= reason= rate=0.00/"},
		{"suspended, resumed later", ProgramLivingSubsidy, []EntitlementDecision{
			g("2024-01-01", ""), x(ChangeSuspended, "2024-03-01", "unreachable"), x(ChangeResumed, "2024-05-01", "")}, "2024-04-01",
			"living_subsidy suspended from=2024-01-01 to= suspended=2024-03-01 reason=unreachable rate=100.00/catalog"},
		{"resumed", ProgramLivingSubsidy, []EntitlementDecision{
			g("2024-01-01", ""), x(ChangeSuspended, "2024-03-01", "unreachable"), x(ChangeResumed, "2024-05-01", "")}, "2024-05-01",
			"living_subsidy active from=2024-01-01 to= suspended= reason= rate=100.00/catalog"},
		{"an earlier suspension recorded after a resumption does not override it", ProgramLivingSubsidy, []EntitlementDecision{
			g("2024-01-01", ""), x(ChangeResumed, "2024-05-01", ""), x(ChangeSuspended, "2024-03-01", "unreachable")}, "2024-06-01",
			"living_subsidy active from=2024-01-01 to= suspended= reason= rate=100.00/catalog"},
		{"the earliest termination counts", ProgramLivingSubsidy, []EntitlementDecision{
			g("2024-01-01", ""), x(ChangeTerminated, "2024-06-30", "voluntary"), x(ChangeTerminated, "2024-03-31", "error_correction")}, "2024-05-01",
			"living_subsidy terminated from=2024-01-01 to=2024-03-31 suspended= reason=error_correction rate=100.00/catalog"},
		{"terminated before it began: never in effect", ProgramLivingSubsidy, []EntitlementDecision{
			g("2024-03-01", ""), x(ChangeTerminated, "2024-02-15", "death")}, "2024-03-01",
			"living_subsidy terminated from=2024-03-01 to=2024-02-15 suspended= reason=death rate=100.00/catalog"},
		{"granted again: the later grant on its dates", ProgramLivingSubsidy, []EntitlementDecision{
			g("2024-01-01", ""), x(ChangeTerminated, "2024-03-31", "moved_away"), g("2024-07-01", "")}, "2024-08-01",
			"living_subsidy active from=2024-07-01 to= suspended= reason= rate=100.00/catalog"},
		{"granted again: the earlier grant between the two", ProgramLivingSubsidy, []EntitlementDecision{
			g("2024-01-01", ""), x(ChangeTerminated, "2024-03-31", "moved_away"), g("2024-07-01", "")}, "2024-05-01",
			"living_subsidy terminated from=2024-01-01 to=2024-03-31 suspended= reason=moved_away rate=100.00/catalog"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, ok := EntitlementStateOn(tc.program, tc.decisions, d(tc.on))
			got := ""
			if ok {
				got = entitlementText(st)
			}
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseKnownAt(t *testing.T) {
	cases := []struct{ in, want string }{
		{"2024-06-30", "2024-06-30T15:59:59.999999999Z"},
		{"2024-06-30T18:00:00+08:00", "2024-06-30T10:00:00Z"},
		{"2024-06-30T10:00:00.5Z", "2024-06-30T10:00:00.5Z"},
	}
	for _, tc := range cases {
		got, err := ParseKnownAt("known_at", tc.in)
		if err != nil || got.UTC().Format(time.RFC3339Nano) != tc.want {
			t.Errorf("ParseKnownAt(%q) = %v, %v; want %s", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "2024-06-31", "30/06/2024", "2024-06-30 10:00", "yesterday"} {
		_, err := ParseKnownAt("known_at", bad)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "known_at" {
			t.Errorf("ParseKnownAt(%q): %v, want a FieldError for known_at", bad, err)
		}
	}
	if got := BusinessDate(time.Date(2024, 6, 30, 16, 30, 0, 0, time.UTC)); !got.Equal(d("2024-07-01")) {
		t.Errorf("BusinessDate of 16:30 UTC = %s, want the next day in Shanghai", got)
	}
}

// Every event type of a person's stream, as decoded, has its own readable
// summary, and none shows a full ID number.
func TestSummarize(t *testing.T) {
	want := map[string]string{
		TypePersonRegistered:       "registered in 蛟塘镇 from 2021-01-01, ID " + adultID.Masked() + ", household monitored_marginal, dibao",
		TypeCertificateIssued:      "certificate issued on 2021-06-01: physical grade 1, valid until 2031-05-31",
		TypeCertificateRevoked:     "certificate revoked from 2024-08-31 (reassessed_not_disabled)",
		TypeHouseholdStatusChanged: "household changed from none, dibao to lifted_from_poverty, work_injury_nursing on 2024-07-01",
		TypePersonDied:             "died on 2024-05-03",
		TypeDeathRetracted:         "death on 2024-05-03 retracted as recorded in error",
		TypePersonMoved:            "moved from 蛟塘镇 to 星子镇 on 2024-09-01",
		TypeEntitlementGranted:     "fuel_allowance granted from 2024-01-01 at 300.00 per year (vehicle 赣G·A1234)",
		TypeEntitlementSuspended:   "living_subsidy suspended from 2024-02-01 (documents_missing)",
		TypeEntitlementResumed:     "living_subsidy resumed from 2024-04-01",
		TypeEntitlementTerminated:  "fuel_allowance terminated: last day in force 2024-10-31 (vehicle_scrapped)",
		TypeOneOffGranted:          "one-off home_modification of 2977.22 on 2024-06-01 (grant hm-2024-007)",
		TypeInKindIssued:           "issued 2 × 轮椅 worth 680.00 each (1360.00) on 2024-09-10 under device_in_kind (issue wc-0153)",
		TypeGrantProposed:          "care_subsidy proposed from 2025-01-01 at the catalog rate by clerk.zhou, awaiting approval",
		TypeGrantApproved:          "proposal pr-2025-0042 for care_subsidy approved by approver.chen",
		TypeGrantRejected:          "proposal pr-2025-0043 for living_subsidy rejected by approver.chen: household not on 低保",
		TypeBankAccountRecorded:    "bank account recorded: 中国农业银行庐山支行 6228************1234",
	}
	for _, ev := range goldenEvents() {
		typ := ev.EventType()
		got := Summarize(decoded(ev))
		if strings.Contains(got, adultID.Number()) || strings.Contains(got, typ) || got == "" {
			t.Errorf("%s: summary %q shows the ID number, or is only the type", typ, got)
		}
		if w, ok := want[typ]; ok && got != w {
			t.Errorf("%s:\n got  %q\n want %q", typ, got, w)
		}
	}
	if got := Summarize(decoded(GrantProposed{ProposalID: "p", Program: ProgramLivingSubsidy, EffectiveFrom: d("2024-03-01"), ProposedBy: "z"})); !strings.Contains(got, "from 2024-03-01 at the catalog rate") {
		t.Errorf("proposal at the catalog rate: %q", got)
	}
	if got := Summarize(decoded(granted(ProgramLivingSubsidy, "2024-03-01"))); got != "living_subsidy granted from 2024-03-01 at the catalog rate" {
		t.Errorf("catalog-rate grant: %q", got)
	}
	// Free text that happens to hold an ID number is masked.
	got := Summarize(decoded(InKindIssued{IssueID: "i", Program: ProgramDeviceInKind, Item: "for " + adultID.Number(), Quantity: 1, UnitValue: m("1.00"), EffectiveDate: d("2024-01-01")}))
	if strings.Contains(got, adultID.Number()) || !strings.Contains(got, adultID.Number()[:6]+"********"+adultID.Number()[14:]) {
		t.Errorf("an ID number in free text: %q", got)
	}
	if got := Summarize(otherEvent{}); got != "Thing (other.Thing.v3)" {
		t.Errorf("an unknown event: %q", got)
	}
}

type otherEvent struct{}

func (otherEvent) EventType() string { return "other.Thing.v3" }
