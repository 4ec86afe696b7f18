package domain

import (
	"reflect"
	"testing"
)

// Given months paid and then claimed back after a death recorded late,
// when the death is retracted (the terminations it made withdrawn), then
// what the claims still ask is cancelled — all of it, or what was not
// recovered yet — and nothing where the month is still overpaid.
func TestDecideClaimCancellations(t *testing.T) {
	person := pid(adultID)
	program := ProgramLivingSubsidy
	june, july := MustDate("2024-06-01").Period(), MustDate("2024-07-01").Period()
	paid := func(s *PaymentsShard, ref string, p Period) {
		EvolvePaymentsShard(s, &PaymentIssued{PaymentLine: PaymentLine{Reference: ref, BatchID: "b", PersonID: person, Program: program,
			Period: p, Kind: PaymentRegular, Amount: MustMoney("100.00"), Township: "蛟塘镇", PaidOn: p.First()}})
	}
	claimed := func(s *PaymentsShard, p Period) string {
		id := claimID(PersonPeriod{person, p}, program, 1)
		EvolvePaymentsShard(s, &OverpaymentClaimed{ClaimID: id, PersonID: person, Program: program, Period: p, Amount: MustMoney("100.00"),
			ClaimedOn: MustDate("2024-08-05")})
		return id
	}
	granted := EntitlementChange{Kind: ChangeGranted, EffectiveDate: MustDate("2024-01-01")}
	died := EntitlementChange{Kind: ChangeTerminated, EffectiveDate: MustDate("2024-05-31")}
	retracted := EntitlementChange{Kind: ChangeReinstated, EffectiveDate: MustDate("2024-05-31")}
	on := MustDate("2024-09-02")

	s := NewPaymentsShard()
	paid(&s, "r-jun", june)
	paid(&s, "r-jul", july)
	juneClaim, julyClaim := claimed(&s, june), claimed(&s, july)
	EvolvePaymentsShard(&s, &OverpaymentRecovered{ClaimID: julyClaim, PersonID: person, Program: program, Amount: MustMoney("30.00"), RecoveredOn: on})

	stillDead := []PayrollPerson{{PersonID: person, Changes: []EntitlementChange{granted, died}}}
	if got := DecideClaimCancellations(s, program, stillDead, on, "death retracted"); len(got) != 0 {
		t.Fatalf("death standing: cancelled %+v, want nothing", got)
	}
	alive := []PayrollPerson{{PersonID: person, Changes: []EntitlementChange{granted, died, retracted}}}
	got := DecideClaimCancellations(s, program, alive, on, "death retracted")
	want := []OverpaymentCancelled{
		{ClaimID: juneClaim, PersonID: person, Program: program, Period: june, Amount: MustMoney("100.00"), Reason: "death retracted", CancelledOn: on},
		{ClaimID: julyClaim, PersonID: person, Program: program, Period: july, Amount: MustMoney("70.00"), Reason: "death retracted", CancelledOn: on},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("death retracted: cancelled\n %+v\nwant\n %+v", got, want)
	}
	for i := range got {
		EvolvePaymentsShard(&s, &got[i])
	}
	if r := s.Claims[juneClaim].Remaining(); !r.IsZero() {
		t.Errorf("June's claim still asks %s", r)
	}
	if a := s.Months[PersonPeriod{person, july}]; !a.Claimed.Equal(MustMoney("30.00")) || !a.Net().Equal(MustMoney("70.00")) {
		t.Errorf("July: claimed %s, kept %s; want 30.00 claimed (the recovered part) and 70.00 kept, so the next payroll pays the 30.00 recovered",
			a.Claimed, a.Net())
	}
	if again := DecideClaimCancellations(s, program, alive, on, "death retracted"); len(again) != 0 {
		t.Errorf("decided again after folding: %+v, want nothing", again)
	}
	// The person's own months only.
	if other := DecideClaimCancellations(s, program, []PayrollPerson{{PersonID: "00000000000000000001"}}, on, "x"); len(other) != 0 {
		t.Errorf("another person: %+v", other)
	}
}
