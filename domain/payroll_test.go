package domain

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

func per(s string) Period {
	p, err := ParsePeriod("period", s)
	if err != nil {
		panic(err)
	}
	return p
}

func grant(from string) EntitlementChange {
	return EntitlementChange{Kind: ChangeGranted, EffectiveDate: d(from)}
}

// shardOf folds events of a payments shard, as a reader of it gets them.
func shardOf(events ...Event) PaymentsShard {
	s := NewPaymentsShard()
	for _, e := range events {
		EvolvePaymentsShard(&s, decoded(e))
	}
	return s
}

// programOf folds events of a payroll stream, each by its own command, as
// a reader of the stream gets them.
func programOf(events ...Event) PayrollProgram {
	s := NewPayrollProgram()
	var envs []Envelope
	for i, e := range events {
		meta := CommandMeta{CommandID: fmt.Sprint("cmd-", i), Actor: "fin.wu", Role: "finance", Now: testNow}
		envs = asRead(envs, PayrollStream(ProgramLivingSubsidy), meta, e)
		EvolvePayrollProgram(&s, envs[i])
	}
	return s
}

// opened opens a batch of living_subsidy for period whose code is name,
// padded to six letters.
func opened(name, period string) BatchOpened {
	return BatchOpened{BatchID: "living_subsidy." + period + "." + (name + "aaaaaa")[:6], Program: ProgramLivingSubsidy, Period: per(period), PaidOn: per(period).First().AddDays(19), DraftedBy: "fin.wu"}
}

func lineStrings(lines []PayrollLine) []string {
	var out []string
	for _, l := range lines {
		out = append(out, fmt.Sprintf("%s %s %s %s", l.PersonID[:1], l.Period, l.Kind, l.Amount))
	}
	return out
}

// reserve folds a batch's reservation into s, as its event would.
func reserve(t *testing.T, s *PaymentsShard, b BatchOpened, persons ...PayrollPerson) []PayrollLine {
	t.Helper()
	lines, err := DecideReserve(*s, b, PaymentShard(persons[0].PersonID), persons)
	if err != nil {
		t.Fatal(err)
	}
	EvolvePaymentsShard(s, decoded(LinesReserved{BatchID: b.BatchID, Program: b.Program, Period: b.Period, PaidOn: b.PaidOn, Lines: lines}))
	return lines
}

func issueAll(t *testing.T, s *PaymentsShard, b BatchOpened, persons ...PayrollPerson) {
	t.Helper()
	issue, withheld := DecideIssue(*s, b, persons)
	if len(withheld) > 0 {
		t.Fatalf("withheld %v", withheld)
	}
	EvolvePaymentsShard(s, decoded(PaymentsIssued{BatchID: b.BatchID, Payments: issue}))
}

func TestReserveScenarios(t *testing.T) {
	a, b := PersonID("aaaaaaaaaaaaaaaaaaaa"), PersonID("abbbbbbbbbbbbbbbbbbb") // one shard
	cases := []struct {
		name    string
		shard   func(t *testing.T) PaymentsShard
		batch   BatchOpened
		persons []PayrollPerson
		want    []string
	}{
		{"a grant approved in March effective from January: arrears for January and February",
			func(*testing.T) PaymentsShard { return NewPaymentsShard() }, opened("m", "2025-03"),
			[]PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}},
			[]string{"a 2025-01 arrears 110.00", "a 2025-02 arrears 110.00", "a 2025-03 regular 110.00"}},
		{"a rate rise effective 2025-01 recorded after January was paid at 100.00: February carries 10.00 arrears",
			func(t *testing.T) PaymentsShard {
				s := NewPaymentsShard()
				p := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2024-12-01")}}
				jan := opened("jan", "2025-01")
				EvolvePaymentsShard(&s, &LinesReserved{BatchID: jan.BatchID, Program: ProgramLivingSubsidy, Period: jan.Period, PaidOn: jan.PaidOn, Lines: []PayrollLine{
					{Reference: "jan-a-12", PersonID: a, Kind: PaymentArrears, Period: per("2024-12"), Amount: m("100.00")},
					{Reference: "jan-a-01", PersonID: a, Kind: PaymentRegular, Period: per("2025-01"), Amount: m("100.00")}}})
				issueAll(t, &s, jan, p)
				EvolvePaymentsShard(&s, &PaymentsSettled{BatchID: opened("jan", "2025-01").BatchID, Payments: []PaymentSettled{{PaymentLine: PaymentLine{Reference: "jan-a-12"}}, {PaymentLine: PaymentLine{Reference: "jan-a-01"}}}})
				return s
			}, opened("feb", "2025-02"),
			[]PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2024-12-01")}}},
			[]string{"a 2025-01 arrears 10.00", "a 2025-02 regular 110.00"}},
		{"suspended and terminated persons are not paid for the months concerned",
			func(*testing.T) PaymentsShard { return NewPaymentsShard() }, opened("m", "2025-03"),
			[]PayrollPerson{
				{PersonID: a, Changes: []EntitlementChange{grant("2025-03-01"), {Kind: ChangeSuspended, EffectiveDate: d("2025-03-01")}}},
				{PersonID: b, Changes: []EntitlementChange{grant("2025-02-01"), {Kind: ChangeTerminated, EffectiveDate: d("2025-02-20")}}},
			},
			[]string{"a 2025-02 arrears 110.00"}},
		{"a month paid by a line of another batch waiting for approval is not paid again (never twice across periods)",
			func(t *testing.T) PaymentsShard {
				s := NewPaymentsShard()
				reserve(t, &s, opened("jan", "2025-01"), PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}})
				return s
			}, opened("feb", "2025-02"),
			[]PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}},
			[]string{"a 2025-02 regular 110.00"}},
		{"a month issued and not yet settled is not paid again",
			func(t *testing.T) PaymentsShard {
				s := NewPaymentsShard()
				p := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}
				reserve(t, &s, opened("jan", "2025-01"), p)
				issueAll(t, &s, opened("jan", "2025-01"), p)
				return s
			}, opened("feb", "2025-02"),
			[]PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}},
			[]string{"a 2025-02 regular 110.00"}},
		{"a failed payment is re-issued by the next batch, of whichever period",
			func(t *testing.T) PaymentsShard {
				s := NewPaymentsShard()
				p := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}
				lines := reserve(t, &s, opened("jan", "2025-01"), p)
				issueAll(t, &s, opened("jan", "2025-01"), p)
				EvolvePaymentsShard(&s, &PaymentsFailed{BatchID: opened("jan", "2025-01").BatchID, Payments: []PaymentFailed{{PaymentLine: PaymentLine{Reference: lines[0].Reference}}}})
				return s
			}, opened("feb", "2025-02"),
			[]PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}},
			[]string{"a 2025-01 reissue 110.00", "a 2025-02 regular 110.00"}},
		{"a rejected batch's lines are released: the next batch pays the months",
			func(t *testing.T) PaymentsShard {
				s := NewPaymentsShard()
				lines := reserve(t, &s, opened("jan", "2025-01"), PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}})
				EvolvePaymentsShard(&s, &LinesReleased{BatchID: opened("jan", "2025-01").BatchID, References: []string{lines[0].Reference}, Closed: true})
				return s
			}, opened("feb", "2025-02"),
			[]PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}},
			[]string{"a 2025-01 arrears 110.00", "a 2025-02 regular 110.00"}},
		{"money recovered on a claim is owed again if the month is owed again",
			func(t *testing.T) PaymentsShard {
				s := NewPaymentsShard()
				p := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}
				lines := reserve(t, &s, opened("jan", "2025-01"), p)
				issueAll(t, &s, opened("jan", "2025-01"), p)
				EvolvePaymentsShard(&s, &PaymentsSettled{BatchID: opened("jan", "2025-01").BatchID, Payments: []PaymentSettled{{PaymentLine: PaymentLine{Reference: lines[0].Reference}}}})
				EvolvePaymentsShard(&s, &OverpaymentClaimed{ClaimID: "c1", PersonID: a, Program: ProgramLivingSubsidy, Period: per("2025-01"), Amount: m("110.00")})
				EvolvePaymentsShard(&s, &OverpaymentRecovered{ClaimID: "c1", PersonID: a, Program: ProgramLivingSubsidy, Amount: m("60.00")})
				return s
			}, opened("feb", "2025-01"),
			[]PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}},
			[]string{"a 2025-01 regular 60.00"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines, err := DecideReserve(c.shard(t), c.batch, PaymentShard(a), c.persons)
			if err != nil {
				t.Fatal(err)
			}
			if got := lineStrings(lines); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("lines\n got %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestReserveSkipsOtherShardsAndClosedBatches(t *testing.T) {
	a, z := PersonID("aaaaaaaaaaaaaaaaaaaa"), PersonID("ffffffffffffffffffff")
	persons := []PayrollPerson{{PersonID: a, Changes: []EntitlementChange{grant("2025-03-01")}}, {PersonID: z, Changes: []EntitlementChange{grant("2025-03-01")}}}
	lines, err := DecideReserve(NewPaymentsShard(), opened("m", "2025-03"), PaymentShard(z), persons)
	if err != nil || len(lines) != 1 || lines[0].PersonID != z {
		t.Fatalf("shard f reserved %v, %v; want z's line only", lineStrings(lines), err)
	}
	closed := shardOf(&LinesReleased{BatchID: opened("m", "2025-03").BatchID, Closed: true})
	if _, err := DecideReserve(closed, opened("m", "2025-03"), PaymentShard(a), persons); !errors.Is(err, ErrConflict) {
		t.Fatalf("a rejected batch reserving: %v, want a conflict", err)
	}
}

func TestBatchLifeAndMakerChecker(t *testing.T) {
	today := d("2025-03-18")
	open := OpenBatch{BatchID: "living_subsidy.2025-03.aaaaaa", Program: ProgramLivingSubsidy, Period: per("2025-03"), PaidOn: d("2025-03-20"), DraftedBy: "fin.wu", Today: today}
	evs, err := DecideOpen(NewPayrollProgram(), open)
	if err != nil {
		t.Fatal(err)
	}
	o := evs[0].(BatchOpened)
	s := programOf(&o)
	second := open
	second.BatchID = "living_subsidy.2025-03.bbbbbb"
	if _, err := DecideOpen(s, second); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "still being drafted") {
		t.Errorf("a second draft while one is being drafted: %v", err)
	}
	other := second
	other.Period, other.PaidOn = per("2025-02"), d("2025-02-20")
	other.BatchID = "living_subsidy.2025-02.bbbbbb"
	if _, err := DecideOpen(s, other); err != nil {
		t.Errorf("a draft of another period: %v", err)
	}
	// Payment references carry the batch code, not the period: another
	// period's batch may not take a code in use.
	other.BatchID = "living_subsidy.2025-02.aaaaaa"
	if _, err := DecideOpen(s, other); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "batch code aaaaaa is taken") {
		t.Errorf("a batch code used again in another period: %v", err)
	}
	if _, err := DecideApproval(s, o.BatchID, "fin.li"); !errors.Is(err, ErrConflict) {
		t.Errorf("approving a batch still being drafted: %v", err)
	}
	lines := []PayrollLine{{Reference: "r1", Kind: PaymentRegular, Amount: m("110.00")}, {Reference: "r2", Kind: PaymentArrears, Amount: m("110.00")}}
	evs, err = DecideDrafted(s, o.BatchID, lines)
	if err != nil {
		t.Fatal(err)
	}
	dr := evs[0].(BatchDrafted)
	if dr.Lines.Count != 2 || dr.Lines.Total.String() != "220.00" || dr.Regular.Count != 1 || dr.Arrears.Count != 1 {
		t.Fatalf("drafted %+v", dr)
	}
	s = programOf(&o, &dr)
	if _, err := DecideOpen(s, second); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "waits for approval") {
		t.Errorf("a second draft while one waits: %v", err)
	}
	var re *RuleError
	if _, err := DecideApproval(s, o.BatchID, "fin.wu"); !errors.As(err, &re) || re.Rule != RuleMakerChecker {
		t.Errorf("self-approval: %v", err)
	}
	evs, err = DecideApproval(s, o.BatchID, "fin.li")
	if err != nil {
		t.Fatal(err)
	}
	ap := evs[0].(BatchApproved)
	s = programOf(&o, &dr, &ap)
	var se *BatchStateError
	if _, err := DecideApproval(s, o.BatchID, "fin.zhou"); !errors.As(err, &se) || !strings.Contains(err.Error(), "already approved by fin.li") {
		t.Errorf("a second approval: %v, want one naming fin.li", err)
	}
	if _, err := DecideRejection(s, o.BatchID, "fin.zhou", "late"); !errors.Is(err, ErrConflict) {
		t.Errorf("rejecting an approved batch: %v", err)
	}
	if _, err := DecideExport(s, BatchExported{BatchID: o.BatchID}); !errors.As(err, &re) || re.Rule != RuleBatchNotApproved {
		t.Errorf("exporting before the lines are issued: %v", err)
	}
	evs, _ = DecideIssued(s, o.BatchID, CountTotal{Count: 2, Total: m("220.00")}, CountTotal{})
	is := evs[0].(BatchIssued)
	s = programOf(&o, &dr, &ap, &is)
	if s.Batches[o.BatchID].State != BatchStateApproved {
		t.Fatalf("state %s", s.Batches[o.BatchID].State)
	}
	if _, err := DecideOpen(s, second); err != nil {
		t.Errorf("a new draft once the batch is approved: %v", err)
	}
	imp := ReturnImported{BatchID: o.BatchID, FileSHA256: "f1"}
	if _, err := DecideReturn(s, imp); err != nil {
		t.Fatal(err)
	}
	if _, err := DecideReturn(programOf(&o, &dr, &ap, &is, &imp), imp); !errors.Is(err, ErrConflict) {
		t.Errorf("importing a file twice: %v", err)
	}
	// A reconciliation begins once per file, shows until its import, and
	// a file being reconciled against one batch is not against another.
	st := ReturnStarted{BatchID: o.BatchID, FileSHA256: "f1", Lines: 2}
	if evs, err := DecideReturnStart(s, st); err != nil || len(evs) != 1 {
		t.Fatalf("beginning: %v, %v", evs, err)
	}
	begun := programOf(&o, &dr, &ap, &is, &st)
	if rs := begun.Batches[o.BatchID].Reconciling; len(rs) != 1 || rs[0] != st {
		t.Fatalf("reconciling %+v", rs)
	}
	if evs, err := DecideReturnStart(begun, st); err != nil || len(evs) != 0 {
		t.Errorf("beginning again: %v, %v; want nothing", evs, err)
	}
	elsewhere := st
	elsewhere.BatchID = "living_subsidy.2025-02.other"
	begun.Batches[elsewhere.BatchID] = &Batch{Opened: BatchOpened{BatchID: elsewhere.BatchID}, State: BatchStateApproved}
	if _, err := DecideReturnStart(begun, elsewhere); !errors.Is(err, ErrConflict) {
		t.Errorf("the same file against another batch: %v", err)
	}
	if rs := programOf(&o, &dr, &ap, &is, &st, &imp).Batches[o.BatchID].Reconciling; len(rs) != 0 {
		t.Errorf("reconciling after the import: %+v", rs)
	}
	if evs, err := DecideReturnStart(programOf(&o, &dr, &ap, &is, &st, &imp), st); err != nil || len(evs) != 0 {
		t.Errorf("beginning an imported file: %v, %v; want nothing", evs, err)
	}
	shardLines := []ShardLine{{PayrollLine: PayrollLine{Reference: "r1", Amount: m("110.00")}, Status: LineSettled, SettledBy: "f1"},
		{PayrollLine: PayrollLine{Reference: "r2", Amount: m("110.00")}, Status: LineIssued}}
	p := NewBatchReport(*begun.Batches[o.BatchID], shardLines).Progress
	if p == nil || p.Step != "reconciling" || p.Done != 1 || p.Total != 2 ||
		p.String() != "settled or failed 1 lines of the return file f1… (2 lines); importing the same file again finishes it" {
		t.Errorf("progress while reconciling: %+v %q", p, p)
	}
	// Rejection needs a reason, and frees the period.
	s = programOf(&o, &dr)
	if _, err := DecideRejection(s, o.BatchID, "fin.li", " "); !errors.Is(err, ErrInvalid) {
		t.Errorf("rejection without a reason: %v", err)
	}
	evs, _ = DecideRejection(s, o.BatchID, "fin.li", "wrong paid-on date")
	rj := evs[0].(BatchRejected)
	if _, err := DecideOpen(programOf(&o, &dr, &rj), second); err != nil {
		t.Errorf("a new draft after a rejection: %v", err)
	}
}

func TestOpenBatchValidation(t *testing.T) {
	ok := OpenBatch{BatchID: "b", Program: ProgramLivingSubsidy, Period: per("2025-03"), PaidOn: d("2025-03-20"), DraftedBy: "fin", Today: d("2025-03-01")}
	for _, c := range []struct {
		field string
		edit  func(*OpenBatch)
	}{
		{"program", func(o *OpenBatch) { o.Program = ProgramDeviceInKind }},
		{"program", func(o *OpenBatch) { o.Program = "nope" }},
		{"period", func(o *OpenBatch) { o.Period = per("2025-05") }},
		{"paid_on", func(o *OpenBatch) { o.PaidOn = d("2026-06-01") }},
		{"drafted_by", func(o *OpenBatch) { o.DraftedBy = "" }},
	} {
		o := ok
		c.edit(&o)
		var fe *FieldError
		if _, err := DecideOpen(NewPayrollProgram(), o); !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("%+v: %v, want an error for %s", o, err, c.field)
		}
	}
}

func TestIssueRechecksAndWithholds(t *testing.T) {
	a, b := PersonID("aaaaaaaaaaaaaaaaaaaa"), PersonID("abbbbbbbbbbbbbbbbbbb")
	pa := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}
	pb := PayrollPerson{PersonID: b, Changes: []EntitlementChange{grant("2025-01-01")}}
	s := NewPaymentsShard()
	batch := opened("mar", "2025-03")
	reserve(t, &s, batch, pa, pb)
	// Between draft and approval, b's entitlement was terminated from
	// the end of January.
	pb.Changes = append(pb.Changes, EntitlementChange{Kind: ChangeTerminated, EffectiveDate: d("2025-01-31")})
	issue, withheld := DecideIssue(s, batch, []PayrollPerson{pa, pb})
	if len(issue) != 4 || len(withheld) != 2 {
		t.Fatalf("issued %d, withheld %v; want a's three months and b's January issued, b's February and March withheld", len(issue), withheld)
	}
	for _, ref := range withheld {
		if !strings.Contains(ref, string(b)) || strings.HasSuffix(ref, "2501") {
			t.Errorf("withheld %s", ref)
		}
	}
	if issue[0].PaidOn != batch.PaidOn || issue[0].Program != ProgramLivingSubsidy || issue[0].BatchID != batch.BatchID {
		t.Errorf("a payment %+v", issue[0])
	}
}

func TestClaimsAndTheirSettlement(t *testing.T) {
	a := PersonID("aaaaaaaaaaaaaaaaaaaa")
	pa := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}
	s := NewPaymentsShard()
	batch := opened("mar", "2025-03")
	reserve(t, &s, batch, pa)
	issueAll(t, &s, batch, pa)
	if c := DecideClaims(s, ProgramLivingSubsidy, []PayrollPerson{pa}, d("2025-03-25")); len(c) != 0 {
		t.Fatalf("claims on months owed: %+v", c)
	}
	// A death on 2025-01-20 recorded late: February and March were not owed.
	pa.Changes = append(pa.Changes, EntitlementChange{Kind: ChangeTerminated, EffectiveDate: d("2025-01-20")})
	claims := DecideClaims(s, ProgramLivingSubsidy, []PayrollPerson{pa}, d("2025-03-25"))
	if len(claims) != 2 || claims[0].Period != per("2025-02") || claims[0].Amount.String() != "110.00" || len(claims[0].References) != 1 {
		t.Fatalf("claims %+v", claims)
	}
	for _, c := range claims {
		EvolvePaymentsShard(&s, &c)
	}
	if again := DecideClaims(s, ProgramLivingSubsidy, []PayrollPerson{pa}, d("2025-03-26")); len(again) != 0 {
		t.Fatalf("claimed twice: %+v", again)
	}
	id := claims[0].ClaimID
	if p, prog, err := ParseClaimID("claim", id); err != nil || p != a || prog != ProgramLivingSubsidy {
		t.Fatalf("ParseClaimID(%s) = %s %s, %v", id, p, prog, err)
	}
	for _, bad := range []string{"ovp-", "ovp-" + string(a), "ovp-" + string(a) + "-nope-2025-02-1", "ovp-" + string(a) + "-living_subsidy-2025-13-1", "x" + id} {
		if _, _, err := ParseClaimID("claim", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseClaimID(%q): %v", bad, err)
		}
	}
	if _, err := DecideClaimSettlement(s, id, m("110.01"), false, "", d("2025-04-01")); !errors.Is(err, ErrInvalid) {
		t.Errorf("recovering more than asked: %v", err)
	}
	if _, err := DecideClaimSettlement(s, id, m("10.00"), true, "", d("2025-04-01")); !errors.Is(err, ErrInvalid) {
		t.Errorf("writing off without a reason: %v", err)
	}
	evs, err := DecideClaimSettlement(s, id, m("100.00"), false, "", d("2025-04-01"))
	if err != nil {
		t.Fatal(err)
	}
	rec := evs[0].(OverpaymentRecovered)
	EvolvePaymentsShard(&s, &rec)
	if got := s.Claims[id].Remaining(); got.String() != "10.00" {
		t.Fatalf("remaining %s, want 10.00", got)
	}
	if _, err := DecideClaimSettlement(s, "ovp-nobody", m("1.00"), false, "", d("2025-04-01")); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown claim: %v", err)
	}
}

func TestFindOverpaidNamesEveryLine(t *testing.T) {
	a := PersonID("aaaaaaaaaaaaaaaaaaaa")
	pa := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}
	// Two batches issue January: what the old payroll did when a January
	// and a February batch were both approved.
	s := shardOf(
		&PaymentIssued{PaymentLine: PaymentLine{Reference: "jan-1", BatchID: "jan", PersonID: a, Program: ProgramLivingSubsidy, Period: per("2025-01"), Amount: m("110.00")}},
		&PaymentIssued{PaymentLine: PaymentLine{Reference: "feb-1", BatchID: "feb", PersonID: a, Program: ProgramLivingSubsidy, Period: per("2025-01"), Amount: m("110.00")}},
	)
	over := FindOverpaid(s, ProgramLivingSubsidy, []PayrollPerson{pa})
	if len(over) != 1 || over[0].Period != per("2025-01") || over[0].Paid.String() != "220.00" || over[0].Owed.String() != "110.00" || !over[0].Twice() {
		t.Fatalf("overpaid %+v", over)
	}
	if len(over[0].Lines) != 2 || over[0].Lines[0].BatchID != "feb" || over[0].Lines[1].BatchID != "jan" {
		t.Fatalf("lines %+v", over[0].Lines)
	}
	// Claimed back, the month is no longer overpaid.
	EvolvePaymentsShard(&s, &OverpaymentClaimed{ClaimID: "c", PersonID: a, Program: ProgramLivingSubsidy, Period: per("2025-01"), Amount: m("110.00")})
	if over := FindOverpaid(s, ProgramLivingSubsidy, []PayrollPerson{pa}); len(over) != 0 {
		t.Fatalf("overpaid after the claim: %+v", over)
	}
}

// Every reservation, over random persons, grants, suspensions and earlier
// payments, reserves only positive amounts, never a month a line pays
// now, and never more than a month is owed beyond what it kept.
func TestReserveNeverExceedsOwed(t *testing.T) {
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 1))
		var persons []PayrollPerson
		s := NewPaymentsShard()
		for i := range 1 + r.IntN(30) {
			id := PersonID(fmt.Sprintf("a%019d", i))
			changes := []EntitlementChange{{Kind: ChangeGranted, EffectiveDate: NewDate(2024, time.January, 1).AddDays(r.IntN(500))}}
			if r.IntN(4) == 0 {
				changes = append(changes, EntitlementChange{Kind: ChangeSuspended, EffectiveDate: NewDate(2024, 6, 1).AddDays(r.IntN(300))})
			}
			persons = append(persons, PayrollPerson{PersonID: id, Township: "星子镇", Changes: changes})
		}
		for k, month := range []string{"2024-09", "2025-01", "2025-03", "2025-06"} {
			b := opened(fmt.Sprint("b", k), month)
			lines, err := DecideReserve(s, b, PaymentShard(persons[0].PersonID), persons)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lines {
				a := s.Months[PersonPeriod{l.PersonID, l.Period}]
				if l.Amount.IsZero() || (a != nil && a.Open != "") {
					t.Fatalf("seed %d: line %+v on %+v", seed, l, a)
				}
			}
			EvolvePaymentsShard(&s, &LinesReserved{BatchID: b.BatchID, Program: b.Program, Period: b.Period, PaidOn: b.PaidOn, Lines: lines})
			issue, _ := DecideIssue(s, b, persons)
			EvolvePaymentsShard(&s, &PaymentsIssued{BatchID: b.BatchID, Payments: issue})
			var failed []PaymentFailed
			for _, p := range issue {
				if r.IntN(5) == 0 {
					failed = append(failed, PaymentFailed{PaymentLine: p.PaymentLine})
				}
			}
			EvolvePaymentsShard(&s, &PaymentsFailed{BatchID: b.BatchID, Payments: failed})
		}
		if over := FindOverpaid(s, ProgramLivingSubsidy, persons); len(over) != 0 {
			t.Fatalf("seed %d: overpaid %+v", seed, over)
		}
	}
}

// Every total in a batch report equals the sum of its lines, to the fen,
// over random batches and payment outcomes.
func TestBatchReportTotalsEqualTheirLines(t *testing.T) {
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 2))
		var lines []ShardLine
		total := Money{}
		for i := range 1 + r.IntN(200) {
			amt := MustMoney(fmt.Sprintf("%d.%02d", r.IntN(5000), r.IntN(100)))
			st := []string{LineReserved, LineReleased, LineIssued, LineSettled, LineFailed, LineReversed}[r.IntN(6)]
			lines = append(lines, ShardLine{PayrollLine: PayrollLine{Reference: fmt.Sprint("r", i), PersonID: PersonID(fmt.Sprintf("%020d", i)), Kind: PaymentRegular,
				Period: per("2025-03"), Amount: amt}, BatchID: "b", Status: st})
			total = total.Add(amt)
		}
		rep := NewBatchReport(Batch{Opened: opened("b", "2025-03"), State: BatchStateApproved}, lines)
		sums := map[string]*CountTotal{}
		for _, l := range rep.Lines {
			if sums[l.Status] == nil {
				sums[l.Status] = &CountTotal{}
			}
			sums[l.Status].add(l.Amount)
		}
		sum := func(names ...string) CountTotal {
			var c CountTotal
			for _, n := range names {
				if s := sums[n]; s != nil {
					c.Count += s.Count
					c.Total = c.Total.Add(s.Total)
				}
			}
			return c
		}
		check := func(name string, got, want CountTotal) {
			if got.Count != want.Count || !got.Total.Equal(want.Total) {
				t.Fatalf("seed %d: %s = %+v, sum of its lines %+v", seed, name, got, want)
			}
		}
		check("settled", rep.Settled, sum("settled"))
		check("failed", rep.Failed, sum("failed"))
		check("reversed", rep.Reversed, sum("reversed"))
		check("withheld", rep.Withheld, sum("withheld"))
		check("outstanding", rep.Outstanding, sum("issued", "drafted"))
		check("expected", rep.Expected, CountTotal{len(lines), total})
		parts := rep.Settled.Total.Add(rep.Failed.Total).Add(rep.Reversed.Total).Add(rep.Outstanding.Total).Add(rep.Withheld.Total)
		if !parts.Equal(rep.Expected.Total) {
			t.Fatalf("seed %d: the parts add up to %s, expected %s", seed, parts, rep.Expected.Total)
		}
	}
}

func TestChunksStayWithinTheirBound(t *testing.T) {
	var lines []PayrollLine
	for i := range 5000 {
		lines = append(lines, PayrollLine{Reference: fmt.Sprintf("living_subsidy.2025-03.abcdef-%020d-2025-03", i), PersonID: PersonID(fmt.Sprintf("%020d", i)),
			Kind: PaymentRegular, Period: per("2025-03"), Amount: m("110.00"), Township: "星子镇"})
	}
	chunks := Chunks(lines, MaxChunkBytes)
	n := 0
	for _, c := range chunks {
		b, _ := json.Marshal(LinesReserved{BatchID: "b", Lines: c})
		if len(b) > MaxChunkBytes+200 {
			t.Fatalf("a chunk of %d lines is %d bytes", len(c), len(b))
		}
		n += len(c)
	}
	if n != len(lines) || len(chunks) < 2 {
		t.Fatalf("%d chunks of %d lines in all, want every line once in several chunks", len(chunks), n)
	}
	if Chunks[PayrollLine](nil, 10) != nil {
		t.Fatal("chunks of nothing")
	}
}

func TestLineReferencesFitABankRemarkField(t *testing.T) {
	a, b := PersonID("a1b2c3d4e5f60718293a"), PersonID("b1b2c3d4e5f60718293a")
	jan := "living_subsidy.2025-01.k3fq7a"
	ref := LineReference(jan, a, per("2025-01"))
	if ref != "lsk3fq7aa1b2c3d4e5f60718293a2501" || len(ref) != ReferenceLen {
		t.Fatalf("reference %q (%d characters)", ref, len(ref))
	}
	if _, ok := ReferenceShard("r1"); ok {
		t.Error("a reference of another form names a shard")
	}
	// Each part tells references apart: program, batch, person, month.
	seen := map[string]string{}
	for _, batch := range []string{jan, "care_subsidy.2025-01.k3fq7a", "living_subsidy.2025-01.k3fq7b"} {
		for _, p := range []PersonID{a, b} {
			for _, m := range []string{"2024-12", "2025-01"} {
				r := LineReference(batch, p, per(m))
				if prev, dup := seen[r]; dup {
					t.Errorf("%s %s %s and %s share the reference %s", batch, p, m, prev, r)
				}
				seen[r] = batch + " " + string(p) + " " + m
				if len(r) != ReferenceLen || strings.Trim(r, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
					t.Errorf("reference %q: want %d lowercase letters and digits", r, ReferenceLen)
				}
				if i, ok := ReferenceShard(r); !ok || i != PaymentShard(p) {
					t.Errorf("reference %q names shard %d (%t), the person's is %d", r, i, ok, PaymentShard(p))
				}
			}
		}
	}
}

// A year of an annual program is judged by the whole year: the fuel
// allowance keyed to January, granted from March, is owed, not overpaid;
// and it is claimed back only if the grant never took effect.
func TestAnnualPaymentsAreJudgedByTheirYear(t *testing.T) {
	a := PersonID("aaaaaaaaaaaaaaaaaaaa")
	fuel := PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2024-03-01")}}
	s := shardOf(&PaymentIssued{PaymentLine: PaymentLine{Reference: "f-1", BatchID: "b", PersonID: a, Program: ProgramFuelAllowance,
		Period: per("2024-01"), Amount: m("300.00")}})
	if over := FindOverpaid(s, ProgramFuelAllowance, []PayrollPerson{fuel}); len(over) != 0 {
		t.Errorf("a year paid once is overpaid: %+v", over)
	}
	if c := DecideClaims(s, ProgramFuelAllowance, []PayrollPerson{fuel}, d("2024-02-10")); len(c) != 0 {
		t.Errorf("claims on a year owed: %+v", c)
	}
	never := PayrollPerson{PersonID: a, Changes: append(slices.Clone(fuel.Changes), EntitlementChange{Kind: ChangeTerminated, EffectiveDate: d("2024-02-28")})}
	if over := FindOverpaid(s, ProgramFuelAllowance, []PayrollPerson{never}); len(over) != 1 || over[0].Owed.String() != "0.00" {
		t.Errorf("a year paid for a grant that never took effect: %+v", over)
	}
}

func TestPaymentMemosAreInChinese(t *testing.T) {
	for _, c := range []struct {
		program ProgramCode
		month   string
		kind    PaymentKind
		want    string
	}{
		{ProgramLivingSubsidy, "2025-01", PaymentRegular, "2025年1月 困难残疾人生活补贴"},
		{ProgramCareSubsidy, "2024-12", PaymentArrears, "2024年12月 重度残疾人护理补贴（补发）"},
		{ProgramIncapacitySubsidy, "2024-11", PaymentReissue, "2024年11月 失能补贴（重发）"},
		{ProgramFuelAllowance, "2024-01", PaymentRegular, "2024年 机动轮椅车燃油补贴"},
		{ProgramCochlearImplant, "2024-04", PaymentOneOff, "2024年4月 人工耳蜗救助"},
	} {
		if got := PaymentMemo(c.program, per(c.month), c.kind); got != c.want {
			t.Errorf("PaymentMemo(%s, %s, %s) = %q; want %q", c.program, c.month, c.kind, got, c.want)
		}
	}
}

func TestBatchIDsDeriveFromTheCommand(t *testing.T) {
	a := BatchIDFor(ProgramLivingSubsidy, per("2025-01"), "api:fin.wu:k1")
	if a != BatchIDFor(ProgramLivingSubsidy, per("2025-01"), "api:fin.wu:k1") || a == BatchIDFor(ProgramLivingSubsidy, per("2025-01"), "api:fin.wu:k2") {
		t.Fatal("batch IDs must follow the command")
	}
	if prog, p, err := ParseBatchID("batch", a); err != nil || prog != ProgramLivingSubsidy || p != per("2025-01") {
		t.Fatalf("ParseBatchID(%s) = %s %s %v", a, prog, p, err)
	}
	for _, bad := range []string{"living_subsidy.2025-01", "living_subsidy.2025-13.abc", "nope.2025-01.abc", "living_subsidy.2025-01.AB-", "living_subsidy.2025-01."} {
		if _, _, err := ParseBatchID("batch", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseBatchID(%q): %v", bad, err)
		}
	}
}

// Making room in a shard keeps what it holds: the lines, their months, and
// the link between the two that later events fold through.
func TestPaymentsShardGrowKeepsItsLines(t *testing.T) {
	s := NewPaymentsShard()
	mar := per("2025-03")
	EvolvePaymentsShard(&s, &LinesReserved{BatchID: "b", Program: ProgramLivingSubsidy, Period: mar,
		Lines: []PayrollLine{{Reference: "r1", PersonID: "p1", Kind: PaymentRegular, Period: mar, Amount: MustMoney("110.00")}}})
	s.Grow(5000)
	if l := s.Lines["r1"]; l == nil || l.Status != LineReserved || s.Months[PersonPeriod{"p1", mar}].Open != "r1" {
		t.Fatalf("after Grow: %+v, %+v", s.Lines, s.Months)
	}
	EvolvePaymentsShard(&s, &PaymentsIssued{BatchID: "b", Payments: []PaymentIssued{{PaymentLine{Reference: "r1", BatchID: "b", PersonID: "p1",
		Program: ProgramLivingSubsidy, Period: mar, Kind: PaymentRegular, Amount: MustMoney("110.00")}}}})
	if a := s.Months[PersonPeriod{"p1", mar}]; a.Issued != MustMoney("110.00") || a.Open != "r1" || s.Lines["r1"].Status != LineIssued {
		t.Fatalf("issued after Grow: %+v", a)
	}
}
