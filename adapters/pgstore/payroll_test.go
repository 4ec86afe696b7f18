package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// Never twice, proven on the real store: runs for one program and period
// from several goroutines at once draft exactly one batch; approving it
// issues each payment once; the same run again owes nothing.
func TestPayrollRunsAtOnceDraftOneBatch(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	p := domain.NewPayroll(s)
	period, _ := domain.ParsePeriod("period", "2025-03")
	var persons []domain.PayrollPerson
	for i := range 50 {
		persons = append(persons, domain.PayrollPerson{PersonID: domain.PersonID(fmt.Sprintf("%020d", i)), Township: "温泉镇",
			Changes: []domain.EntitlementChange{{Kind: domain.ChangeGranted, EffectiveDate: domain.MustDate("2025-01-01")}}})
	}
	meta := func(cmd, user string) domain.CommandMeta {
		return domain.CommandMeta{CommandID: cmd, Actor: user, Role: "finance", Now: time.Date(2025, 3, 18, 9, 0, 0, 0, time.UTC)}
	}
	const runs = 6
	var wg sync.WaitGroup
	errs := make([]error, runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, errs[i] = p.Draft(ctx, meta(fmt.Sprint("run-", i), "fin.wu"), domain.DraftPayroll{
				BatchID: fmt.Sprint("LS-2025-03-", i), Program: domain.ProgramLivingSubsidy, Period: period,
				PaidOn: domain.MustDate("2025-03-20"), DraftedBy: "fin.wu", Persons: persons})
		}()
	}
	wg.Wait()
	won := ""
	for i, err := range errs {
		switch {
		case err == nil:
			if won != "" {
				t.Fatalf("two runs drafted a batch: %s and %d", won, i)
			}
			won = fmt.Sprint("LS-2025-03-", i)
		case !errors.Is(err, domain.ErrConflict):
			t.Errorf("run %d: %v, want a conflict", i, err)
		}
	}
	if won == "" {
		t.Fatal("no run drafted a batch")
	}
	state, err := p.State(ctx, domain.ProgramLivingSubsidy, period)
	if err != nil {
		t.Fatal(err)
	}
	b := state.Batches[won]
	if len(state.Batches) != 1 || b.Drafted.Count != 150 || b.Drafted.Total.String() != "16500.00" {
		t.Fatalf("batches %d, lines %d, total %s; want 1 batch of 150 lines (3 months × 50) totalling 16500.00",
			len(state.Batches), b.Drafted.Count, b.Drafted.Total)
	}
	if _, err := p.Approve(ctx, meta("approve-self", "fin.wu"), domain.ProgramLivingSubsidy, period, won); !errors.Is(err, domain.ErrRuleViolation) {
		t.Fatalf("the drafter approving: %v", err)
	}
	// Two approvers at once: one approval, each payment issued once.
	var wg2 sync.WaitGroup
	approvals := make([]error, 2)
	for i := range approvals {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			_, approvals[i] = p.Approve(ctx, meta(fmt.Sprint("approve-", i), fmt.Sprint("fin.li", i)), domain.ProgramLivingSubsidy, period, won)
		}()
	}
	wg2.Wait()
	if (approvals[0] == nil) == (approvals[1] == nil) {
		t.Fatalf("approvals: %v, %v; want exactly one", approvals[0], approvals[1])
	}
	evs, err := s.ReadStream(ctx, domain.PayrollStream(domain.ProgramLivingSubsidy, period), domain.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	issued := map[string]int{}
	prev := ""
	for _, e := range evs {
		if e.Type == domain.TypePaymentIssued {
			issued[string(e.ID.String())]++
		}
		md, err := domain.VerifyHash(e, prev)
		if err != nil {
			t.Fatalf("hash chain: %v", err)
		}
		prev = md.Hash
	}
	if len(issued) != 150 {
		t.Fatalf("%d payments issued, want 150", len(issued))
	}
	// The same run again: nothing owed.
	_, _, err = p.Draft(ctx, meta("run-again", "fin.wu"), domain.DraftPayroll{BatchID: "LS-2025-03-again", Program: domain.ProgramLivingSubsidy,
		Period: period, PaidOn: domain.MustDate("2025-03-20"), DraftedBy: "fin.wu", Persons: persons})
	if !errors.Is(err, domain.ErrRuleViolation) {
		t.Fatalf("the same run again: %v, want nothing to pay", err)
	}
	// April's run pays April only: January to March were paid by March's batch.
	april, _ := domain.ParsePeriod("period", "2025-04")
	_, d, err := p.Draft(ctx, meta("run-april", "fin.wu"), domain.DraftPayroll{BatchID: "LS-2025-04-1", Program: domain.ProgramLivingSubsidy,
		Period: april, PaidOn: domain.MustDate("2025-04-20"), DraftedBy: "fin.wu", Persons: persons})
	if err != nil || d.Count != 50 || d.Total.String() != "5500.00" {
		t.Fatalf("April: %d lines, %s, %v; want 50 lines, 5500.00", d.Count, d.Total, err)
	}
}

// A death recorded in April with an earlier effective date: the payments
// already made for March and April become two overpayment claims, linked
// to those payments; asking again claims nothing more.
func TestLateDeathBecomesOverpaymentClaims(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	p := domain.NewPayroll(s)
	a := domain.PersonID("aaaaaaaaaaaaaaaaaaaa")
	granted := []domain.EntitlementChange{{Kind: domain.ChangeGranted, EffectiveDate: domain.MustDate("2025-01-01")}}
	persons := []domain.PayrollPerson{{PersonID: a, Township: "蛟塘镇", Changes: granted}}
	for m, user := range []string{"2025-01", "2025-02", "2025-03", "2025-04"} {
		period, _ := domain.ParsePeriod("period", user)
		meta := domain.CommandMeta{CommandID: "run-" + user, Actor: "fin.wu", Role: "finance", Now: period.First().AddDays(15).Time()}
		id := domain.BatchID(domain.ProgramLivingSubsidy, period, 1)
		if _, _, err := p.Draft(ctx, meta, domain.DraftPayroll{BatchID: id, Program: domain.ProgramLivingSubsidy, Period: period,
			PaidOn: period.First().AddDays(19), DraftedBy: "fin.wu", Persons: persons}); err != nil {
			t.Fatalf("month %d: %v", m, err)
		}
		meta.CommandID, meta.Actor = "approve-"+user, "fin.li"
		if _, err := p.Approve(ctx, meta, domain.ProgramLivingSubsidy, period, id); err != nil {
			t.Fatal(err)
		}
	}
	// Recorded on 2025-04-25: died on 2025-02-10.
	died := append(granted, domain.EntitlementChange{Kind: domain.ChangeTerminated, EffectiveDate: domain.MustDate("2025-02-10")})
	persons[0].Changes = died
	meta := domain.CommandMeta{CommandID: "claims-1", Actor: "fin.wu", Role: "finance", Now: time.Date(2025, 4, 25, 10, 0, 0, 0, time.UTC)}
	claims, _, err := p.ClaimOverpayments(ctx, meta, domain.ProgramLivingSubsidy, persons)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 2 || claims[0].Period.String() != "2025-03" || claims[1].Period.String() != "2025-04" ||
		claims[0].Amount.String() != "110.00" || len(claims[0].References) != 1 || claims[0].References[0] != "living_subsidy.2025-03.1-aaaaaaaaaaaaaaaaaaaa-2025-03" {
		t.Fatalf("claims = %+v", claims)
	}
	meta.CommandID = "claims-2"
	again, _, err := p.ClaimOverpayments(ctx, meta, domain.ProgramLivingSubsidy, persons)
	if err != nil || len(again) != 0 {
		t.Fatalf("claims asked twice: %+v, %v", again, err)
	}
	// And May's payroll pays nothing more.
	may, _ := domain.ParsePeriod("period", "2025-05")
	_, _, err = p.Draft(ctx, domain.CommandMeta{CommandID: "run-may", Actor: "fin.wu", Role: "finance", Now: time.Date(2025, 5, 15, 0, 0, 0, 0, time.UTC)},
		domain.DraftPayroll{BatchID: "x", Program: domain.ProgramLivingSubsidy, Period: may, PaidOn: may.First(), DraftedBy: "fin.wu", Persons: persons})
	if !errors.Is(err, domain.ErrRuleViolation) {
		t.Fatalf("May after the death: %v", err)
	}
}
