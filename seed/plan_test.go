package seed

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

var testKey = domain.LookupKey("seed-test-lookup-key-of-at-least-32-bytes")

// digest fingerprints every command of a plan with when and by whom it is
// recorded.
func digest(pl *Plan) string {
	h := sha256.New()
	for _, p := range pl.persons {
		for _, a := range p.actions {
			fmt.Fprintf(h, "%s %s %s %s %v %v\n", a.id, a.at.Format(time.RFC3339), a.actor, a.reason, a.cmd, a.acct)
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// Plans for several seeds pass the in-memory check (NewLushan2024 fails
// otherwise): every command is accepted by the domain, no payroll would pay
// a month not owed or leave one unpaid, and the year adds up to the
// published figures. A seed always gives the same plan, and another seed
// another county.
func TestLushan2024Plans(t *testing.T) {
	digests := map[uint64]string{}
	for _, seed := range []uint64{1, 2, 3} {
		start := time.Now()
		pl, err := NewLushan2024(seed, testKey)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		f := pl.Figures()
		t.Logf("seed %d: %d persons, %d commands, total paid %s, planned and checked in %s",
			seed, pl.Persons(), pl.Commands(), f.TotalPaid, time.Since(start).Round(time.Millisecond))
		if got := f.LivingAndCare.Paid.String(); got != "5644200.00" {
			t.Errorf("seed %d: living and care paid %s", seed, got)
		}
		digests[seed] = digest(pl)
	}
	if digests[1] == digests[2] || digests[2] == digests[3] {
		t.Errorf("different seeds gave the same plan")
	}
	again, err := NewLushan2024(1, testKey)
	if err != nil {
		t.Fatal(err)
	}
	if digest(again) != digests[1] {
		t.Errorf("two plans for seed 1 differ")
	}
}

func TestLushan2024RefusesAShortLookupKey(t *testing.T) {
	if _, err := NewLushan2024(1, domain.LookupKey("short")); err == nil {
		t.Fatal("a 5-byte lookup key was accepted")
	}
}

// The plan's own check catches a change recorded after the payroll it
// affects, and a grant recorded too late to be paid in 2024.
func TestSimulatePayrollCatchesLateChanges(t *testing.T) {
	jan1 := domain.MustDate("2024-01-01")
	granted := timedChange{clock(domain.MustDate("2023-12-20"), 10, 0), domain.EntitlementChange{Kind: domain.ChangeGranted, EffectiveDate: jan1}}
	died := func(recorded string) timedChange {
		return timedChange{clock(domain.MustDate(recorded), 10, 0), domain.EntitlementChange{Kind: domain.ChangeTerminated, EffectiveDate: domain.MustDate("2024-03-10")}}
	}
	paid, err := simulatePayroll(domain.ProgramLivingSubsidy, []timedChange{granted, died("2024-03-25")})
	if err != nil || paid.String() != "300.00" {
		t.Errorf("a death in March recorded before April's payroll: paid %s, %v; want 300.00", paid, err)
	}
	if _, err := simulatePayroll(domain.ProgramLivingSubsidy, []timedChange{granted, died("2024-04-16")}); err == nil {
		t.Errorf("a death in March recorded after April's payroll was not caught")
	}
	late := timedChange{clock(domain.MustDate("2024-12-18"), 10, 0), domain.EntitlementChange{Kind: domain.ChangeGranted, EffectiveDate: domain.MustDate("2024-12-02")}}
	if _, err := simulatePayroll(domain.ProgramLivingSubsidy, []timedChange{late}); err == nil {
		t.Errorf("a December grant recorded after December's payroll was not caught")
	}
}

// The payroll calendar keeps to working days, the 2024 holidays included.
func TestPayrollCalendarIsOnWorkingDays(t *testing.T) {
	for m, d := range payrollCalendar {
		for _, day := range []domain.Date{d.draft, d.paid, d.reconcile} {
			if !isWorkday(day) || int(day.Month()) != m+1 {
				t.Errorf("month %d: %s is not a working day of the month", m+1, day)
			}
		}
		if !d.draft.Before(d.paid) || !d.paid.Before(d.reconcile) {
			t.Errorf("month %d: draft %s, paid %s, reconcile %s out of order", m+1, d.draft, d.paid, d.reconcile)
		}
	}
	if isWorkday(domain.MustDate("2024-02-12")) || !isWorkday(domain.MustDate("2024-02-04")) {
		t.Errorf("the Spring Festival holiday and its make-up Sunday are wrong")
	}
}

// Generated card numbers pass the Luhn check and the ledger's parser, and
// generated ID numbers their check character.
func TestCardNumbers(t *testing.T) {
	b := &builder{r: rand.New(rand.NewPCG(5, 5)), key: testKey, seen: map[string]bool{}}
	for range 500 {
		p := b.newPerson(groupOther, b.birthForAge(b.adultAge()))
		n := p.acct.number
		if _, err := domain.ParseBankAccountNumber("account_number", n); err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		sum := 0
		for i := range len(n) {
			d := int(n[len(n)-1-i] - '0')
			if i%2 == 1 {
				if d *= 2; d > 9 {
					d -= 9
				}
			}
			sum += d
		}
		if sum%10 != 0 {
			t.Errorf("%s fails the Luhn check", n)
		}
		if _, err := domain.ParseResidentID("id", p.id.Number()); err != nil {
			t.Errorf("generated ID number: %v", err)
		}
	}
}
