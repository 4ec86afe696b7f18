package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// A program's months: paid by value date, outstanding at the bank, and
// overpaid by the month paid for, with recoveries and write-offs.
func TestProgramMonths(t *testing.T) {
	projs := []projections.Projection{projections.SpendingProjection{}, projections.PaymentsProjection{}, projections.OverpaymentsProjection{}}
	db := prtest.Setup(t, projs[0])
	for _, p := range projs[1:] {
		if _, err := db.Pool.Exec(context.Background(), p.Schema()); err != nil {
			t.Fatal(err)
		}
	}
	log := prtest.NewLog(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	a := domain.PersonID("aaaaaaaaaaaaaaaaaaaa")
	line := func(m int, ref string) domain.PaymentLine {
		p, _ := domain.NewPeriod(2025, time.Month(m))
		return domain.PaymentLine{Reference: ref, BatchID: "b", PersonID: a, Program: domain.ProgramLivingSubsidy, Period: p,
			Kind: domain.PaymentRegular, Amount: domain.MustMoney("110.00"), Township: "蛟塘镇", PaidOn: p.First().AddDays(19)}
	}
	for m := 1; m <= 4; m++ {
		l := line(m, fmt.Sprint("r", m))
		log.Add("payroll-test", domain.PaymentIssued{PaymentLine: l})
		if m < 4 {
			log.Add("payroll-test", domain.PaymentSettled{PaymentLine: l, SettledOn: l.PaidOn.AddDays(2)})
		}
	}
	mar, _ := domain.NewPeriod(2025, time.March)
	apr, _ := domain.NewPeriod(2025, time.April)
	log.Add("payroll-test", domain.OverpaymentClaimed{ClaimID: "c3", PersonID: a, Program: domain.ProgramLivingSubsidy, Period: mar,
		Amount: domain.MustMoney("110.00"), References: []string{"r3"}, ClaimedOn: domain.MustDate("2025-04-25")})
	log.Add("payroll-test", domain.OverpaymentClaimed{ClaimID: "c4", PersonID: a, Program: domain.ProgramLivingSubsidy, Period: apr,
		Amount: domain.MustMoney("110.00"), References: []string{"r4"}, ClaimedOn: domain.MustDate("2025-04-25")})
	log.Add("payroll-test", domain.OverpaymentRecovered{ClaimID: "c3", PersonID: a, Program: domain.ProgramLivingSubsidy, Amount: domain.MustMoney("60.00"), RecoveredOn: domain.MustDate("2025-05-10")})
	log.Add("payroll-test", domain.OverpaymentWrittenOff{ClaimID: "c3", PersonID: a, Program: domain.ProgramLivingSubsidy, Amount: domain.MustMoney("50.00"), Reason: "hardship", WrittenOffOn: domain.MustDate("2025-06-01")})
	// April's claim is withdrawn in part: the month turned out owed.
	log.Add("payroll-test", domain.OverpaymentCancelled{ClaimID: "c4", PersonID: a, Program: domain.ProgramLivingSubsidy, Period: apr,
		Amount: domain.MustMoney("80.00"), Reason: "death retracted", CancelledOn: domain.MustDate("2025-06-02")})
	for _, p := range projs {
		prtest.ApplyBatches(t, db.Pool, p, log.Envelopes, []int{3})
	}
	months, err := projections.ProgramMonths(context.Background(), db.Pool, domain.ProgramLivingSubsidy, 2025)
	if err != nil {
		t.Fatal(err)
	}
	if len(months) != 12 {
		t.Fatalf("%d months", len(months))
	}
	got := func(i int) string {
		m := months[i]
		return fmt.Sprintf("%s paid %s/%d outstanding %s/%d overpaid %s recovered %s written off %s", m.Month, m.Paid, m.Payments,
			m.Outstanding, m.OutstandingCount, m.Overpaid, m.Recovered, m.WrittenOff)
	}
	for i, want := range []string{
		"2025-01 paid 110.00/1 outstanding 0.00/0 overpaid 0.00 recovered 0.00 written off 0.00",
		"2025-02 paid 110.00/1 outstanding 0.00/0 overpaid 0.00 recovered 0.00 written off 0.00",
		"2025-03 paid 110.00/1 outstanding 0.00/0 overpaid 110.00 recovered 60.00 written off 50.00",
		"2025-04 paid 110.00/1 outstanding 110.00/1 overpaid 30.00 recovered 0.00 written off 0.00",
		"2025-05 paid 0.00/0 outstanding 0.00/0 overpaid 0.00 recovered 0.00 written off 0.00",
	} {
		if got(i) != want {
			t.Errorf("month %d:\n got %s\nwant %s", i+1, got(i), want)
		}
	}
	if _, remaining, err := projections.Claim(context.Background(), db.Pool, "c4"); err != nil || !remaining.Equal(domain.MustMoney("30.00")) {
		t.Errorf("claim c4 asks %s (%v), want 30.00: 110.00 claimed, 80.00 cancelled", remaining, err)
	}
}
