package app_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// Every program payroll pays goes through the same cycle as the monthly
// ones — draft, maker-checker approval, return file, settlement, re-issue
// of what failed — on both stores: the annual fuel allowance at its
// catalog rate, once a year, and one-off grants, each once.
func TestAnnualAndOneOffProgramsAreDisbursedOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		key := domain.LookupKey("0123456789abcdef0123456789abcdef")
		person := func(i int) domain.PersonID {
			id, _ := domain.NewResidentID("360429", domain.MustDate("1970-05-01").AddDays(i), 300+i)
			hash := key.Hash(id)
			pid := domain.PersonIDFromHash(hash)
			cert, _ := domain.NewCertificateNumber(id, domain.CategoryPhysical, 2)
			l.fact(pid, domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "钱伟", Township: "白鹿镇", Household: domain.HouseholdStatus{Dibao: true},
				RegisteredOn: domain.MustDate("2024-01-01")})
			l.fact(pid, domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")})
			return pid
		}
		a, b := person(0), person(1)
		l.fact(a, domain.GrantEntitlement{Program: domain.ProgramFuelAllowance, EffectiveFrom: domain.MustDate("2025-01-15"),
			Attributes: domain.GrantAttributes{VehiclePlate: "赣G12345"}})
		for _, g := range []domain.RecordOneOffGrant{
			{GrantID: "dev-1", Program: domain.ProgramDeviceSubsidy, Amount: domain.MustMoney("1200.00"), EffectiveOn: domain.MustDate("2025-02-10")},
			{GrantID: "visit-spring", Program: domain.ProgramCondolence, Amount: domain.MustMoney("300.00"), EffectiveOn: domain.MustDate("2025-02-01")},
			{GrantID: "visit-extra", Program: domain.ProgramCondolence, Amount: domain.MustMoney("200.00"), EffectiveOn: domain.MustDate("2025-02-20")},
		} {
			l.fact(a, g)
		}
		l.fact(b, domain.RecordOneOffGrant{GrantID: "dev-2", Program: domain.ProgramDeviceSubsidy, Amount: domain.MustMoney("800.00"), EffectiveOn: domain.MustDate("2025-03-05")})

		draft := func(program domain.ProgramCode, period string) (app.DraftResult, error) {
			return l.pay.Draft(l.ctx, l.meta("fin.wu"), app.DraftRequest{Program: program, Period: per(period)})
		}
		lines := func(batch string) string {
			rep, err := l.pay.Report(l.ctx, batch)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, ln := range rep.Lines {
				who := map[domain.PersonID]string{a: "a", b: "b"}[ln.PersonID]
				out = append(out, fmt.Sprintf("%s %s %s %s %s", who, ln.Period, ln.Kind, ln.Amount, ln.Status))
			}
			return fmt.Sprint(out)
		}
		nothing := func(program domain.ProgramCode, period string) {
			t.Helper()
			var re *domain.RuleError
			if _, err := draft(program, period); !errors.As(err, &re) || re.Rule != domain.RuleNothingToPay {
				t.Fatalf("%s %s again: %v, want nothing to pay", program, period, err)
			}
		}

		// The fuel allowance: the year's, at the catalog's 300.00, once.
		fuel, err := draft(domain.ProgramFuelAllowance, "2025-03")
		if err != nil {
			t.Fatal(err)
		}
		l.approve(fuel.Batch.BatchID, "fin.li")
		if got := lines(fuel.Batch.BatchID); got != "[a 2025-01 regular 300.00 issued]" {
			t.Fatalf("the fuel batch: %s", got)
		}
		nothing(domain.ProgramFuelAllowance, "2025-04")
		// The bank fails it; the next batch re-issues it, once.
		if _, err := l.pay.Reconcile(l.ctx, l.meta("fin.wu"), app.ReconcileRequest{BatchID: fuel.Batch.BatchID, Name: "r.csv", Raw: l.returnFile(fuel.Batch.BatchID, a)}); err != nil {
			t.Fatal(err)
		}
		again, err := draft(domain.ProgramFuelAllowance, "2025-04")
		if err != nil {
			t.Fatal(err)
		}
		l.approve(again.Batch.BatchID, "fin.li")
		if got := lines(again.Batch.BatchID); got != "[a 2025-01 reissue 300.00 issued]" {
			t.Fatalf("the fuel re-issue: %s", got)
		}
		if _, err := l.pay.Reconcile(l.ctx, l.meta("fin.wu"), app.ReconcileRequest{BatchID: again.Batch.BatchID, Name: "r2.csv", Raw: l.returnFile(again.Batch.BatchID)}); err != nil {
			t.Fatal(err)
		}
		nothing(domain.ProgramFuelAllowance, "2025-04")

		// One-off grants: each paid once, in the month granted; grants of a
		// month add up; one granted after the batch's period waits.
		dev, err := draft(domain.ProgramDeviceSubsidy, "2025-02")
		if err != nil {
			t.Fatal(err)
		}
		l.approve(dev.Batch.BatchID, "fin.li")
		if got := lines(dev.Batch.BatchID); got != "[a 2025-02 one_off 1200.00 issued]" {
			t.Fatalf("the device batch of February: %s", got)
		}
		dev3, err := draft(domain.ProgramDeviceSubsidy, "2025-03")
		if err != nil {
			t.Fatal(err)
		}
		l.approve(dev3.Batch.BatchID, "fin.li")
		if got := lines(dev3.Batch.BatchID); got != "[b 2025-03 one_off 800.00 issued]" {
			t.Fatalf("the device batch of March: %s", got)
		}
		nothing(domain.ProgramDeviceSubsidy, "2025-03")
		visits, err := draft(domain.ProgramCondolence, "2025-03")
		if err != nil {
			t.Fatal(err)
		}
		l.approve(visits.Batch.BatchID, "fin.li")
		if got := lines(visits.Batch.BatchID); got != "[a 2025-02 one_off 500.00 issued]" {
			t.Fatalf("the condolence batch: %s", got)
		}
		// Goods handed out are not paid.
		if _, err := draft(domain.ProgramDeviceInKind, "2025-03"); !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("an in-kind program's payroll: %v", err)
		}

		nt, err := l.pay.CheckNeverTwice(l.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nt.Overpaid) != 0 || nt.Months != 4 || len(nt.Programs) != 12 {
			t.Fatalf("never twice: %+v; want 4 periods paid (fuel 2025, two device grants, the visits), none overpaid, of 12 programs", nt)
		}
	})
}
