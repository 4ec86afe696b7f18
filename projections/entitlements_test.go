package projections_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// entGiven builds a log of beneficiary and payroll events for the
// entitlements and changelog tests.
type entGiven struct {
	log   *prtest.Log
	lines map[string]domain.PaymentLine
	seq   int
}

func newEntGiven() *entGiven {
	return &entGiven{log: prtest.NewLog(time.Date(2024, 1, 5, 1, 0, 0, 0, time.UTC)), lines: map[string]domain.PaymentLine{}}
}

func entPID(n int) domain.PersonID { return domain.PersonID(fmt.Sprintf("%020x", n)) }

var (
	entA = entPID(0xa)
	entB = entPID(0xb)
)

const (
	entLiving = domain.ProgramLivingSubsidy
	entCare   = domain.ProgramCareSubsidy
	entJob    = domain.ProgramPublicWelfareJob
)

func entD(s string) domain.Date { return domain.MustDate(s) }

func entYM(s string) domain.Period {
	p, err := domain.ParsePeriod("period", s)
	if err != nil {
		panic(err)
	}
	return p
}

func (g *entGiven) on(id domain.PersonID, ev domain.Event) { g.log.Add(id.Stream(), ev) }

func (g *entGiven) register(id domain.PersonID, name, township string) {
	g.on(id, domain.PersonRegistered{
		PersonID: id, IDNumber: "360427199001010011", IDHash: "hash-" + string(id), IDMasked: "360427********0011",
		Name: name, BirthDate: entD("1990-01-01"), Gender: domain.GenderMale, Township: township, HouseholdID: string(id),
		Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: entD("2023-12-01"),
	})
}

func (g *entGiven) certificate(id domain.PersonID, grade domain.DisabilityGrade, issued string) {
	g.on(id, domain.CertificateIssued{Category: domain.CategoryPhysical, Grade: grade, NumberMasked: fmt.Sprintf("360427********00114%d", grade),
		IssuedOn: entD(issued), ValidUntil: entD(issued).AddDays(365 * 5)})
}

func (g *entGiven) grant(id domain.PersonID, program domain.ProgramCode, from string, amount string) {
	e := domain.EntitlementGranted{Program: program, EffectiveFrom: entD(from)}
	if amount != "" {
		e.Amount = domain.MustMoney(amount)
	}
	g.log.AddBy(id.Stream(), "clerk.li", "clerk", e)
}

func (g *entGiven) suspend(id domain.PersonID, program domain.ProgramCode, on string) {
	g.on(id, domain.EntitlementSuspended{Program: program, EffectiveDate: entD(on), ReasonCode: domain.SuspensionUnreachable})
}

func (g *entGiven) resume(id domain.PersonID, program domain.ProgramCode, on string) {
	g.on(id, domain.EntitlementResumed{Program: program, EffectiveDate: entD(on)})
}

func (g *entGiven) terminate(id domain.PersonID, program domain.ProgramCode, to string, reason domain.TerminationReason) {
	g.log.AddBy(id.Stream(), "approver.wang", "approver", domain.EntitlementTerminated{Program: program, EffectiveTo: entD(to), ReasonCode: reason})
}

// pay issues a payment of amount to id for period and returns its reference.
func (g *entGiven) pay(id domain.PersonID, program domain.ProgramCode, period, amount string) string {
	return g.payKind(id, program, period, amount, domain.PaymentRegular)
}

func (g *entGiven) payKind(id domain.PersonID, program domain.ProgramCode, period, amount string, kind domain.PaymentKind) string {
	g.seq++
	p := entYM(period)
	l := domain.PaymentLine{
		Reference: fmt.Sprintf("PAY-%05d", g.seq), BatchID: "batch-" + period, PersonID: id, Program: program,
		Period: p, Kind: kind, Amount: domain.MustMoney(amount), Township: "蛟塘镇", PaidOn: p.First().AddDays(14),
	}
	g.lines[l.Reference] = l
	g.log.AddBy(domain.PaymentsStream(program, 0), "finance.zhao", "finance", domain.PaymentIssued{PaymentLine: l})
	return l.Reference
}

func (g *entGiven) fail(ref string) {
	l := g.lines[ref]
	g.log.Add(domain.PaymentsStream(l.Program, 0), domain.PaymentFailed{PaymentLine: l, Reason: "account closed", FailedOn: l.PaidOn.AddDays(3)})
}

func (g *entGiven) reverse(ref string) {
	l := g.lines[ref]
	g.log.Add(domain.PaymentsStream(l.Program, 0), domain.PaymentReversed{PaymentLine: l, Reason: "paid in error", ReversedOn: l.PaidOn.AddDays(20)})
}

func (g *entGiven) settle(ref string) {
	l := g.lines[ref]
	g.log.Add(domain.PaymentsStream(l.Program, 0), domain.PaymentSettled{PaymentLine: l, BankReference: "B" + ref, SettledOn: l.PaidOn.AddDays(1)})
}

func (g *entGiven) claim(id domain.PersonID, program domain.ProgramCode, claimID, period, amount string) {
	g.log.Add(domain.PaymentsStream(program, 0), domain.OverpaymentClaimed{ClaimID: claimID, PersonID: id, Program: program,
		Period: entYM(period), Amount: domain.MustMoney(amount), ClaimedOn: entYM(period).Last()})
}

func (g *entGiven) recover(id domain.PersonID, program domain.ProgramCode, claimID, amount string) {
	g.log.Add(domain.ProgramStream(program), domain.OverpaymentRecovered{ClaimID: claimID, PersonID: id, Program: program,
		Amount: domain.MustMoney(amount), RecoveredOn: entD("2024-12-01")})
}

func (g *entGiven) writeOff(id domain.PersonID, program domain.ProgramCode, claimID, amount string) {
	g.log.Add(domain.ProgramStream(program), domain.OverpaymentWrittenOff{ClaimID: claimID, PersonID: id, Program: program,
		Amount: domain.MustMoney(amount), Reason: "hardship", WrittenOffOn: entD("2024-12-01")})
}

const (
	entSQLEntitlement = `SELECT program, status, coalesce(amount::text, 'catalog'), effective_from, effective_to, suspended_from,
		reason_code, last_period_paid, paid_total::text, arrears_owed::text, overpayment_owed::text
		FROM entitlements WHERE person_id = $1 ORDER BY program`
	entSQLHistory = `SELECT program, change, effective_date, actor, role, reason_code, amount::text
		FROM entitlement_history WHERE person_id = $1 ORDER BY position_commit, position_prepare`
	entSQLPaid   = `SELECT program, period, paid::text, payments FROM entitlement_paid WHERE person_id = $1 ORDER BY program, period`
	entSQLPerson = `SELECT name, township, household_class, dibao, tekun, certificate_category, certificate_grade,
		certificate_number_masked, certificate_valid_until, certificate_revoked, deceased_on
		FROM persons WHERE person_id = $1`
)

// entRowsOf is the check that sql, given a person, returns want.
func entRowsOf(sql string, id domain.PersonID, want ...string) prtest.Check {
	return prtest.Check{SQL: sql, Args: []any{string(id)}, Want: want}
}

func TestEntitlementsProjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given func(g *entGiven)
		then  []prtest.Check
	}{
		{
			name: "registration fills persons",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
			},
			then: []prtest.Check{
				entRowsOf(entSQLPerson, entA, "张三 | 蛟塘镇 |  | true | false | NULL | NULL | NULL | NULL | false | NULL"),
				entRowsOf(`SELECT id_hash, id_masked, household_id, birth_date, gender, registered_on FROM persons WHERE person_id = $1`, entA,
					"hash-"+string(entA)+" | 360427********0011 | "+string(entA)+" | 1990-01-01 | male | 2023-12-01"),
				entRowsOf(entSQLEntitlement, entA),
			},
		},
		{
			name: "certificate issued, regraded, revoked and issued again",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.certificate(entA, 3, "2024-01-10")
				g.on(entA, domain.CertificateRegraded{Category: domain.CategoryPhysical, Grade: 2, PreviousCategory: domain.CategoryPhysical,
					PreviousGrade: 3, NumberMasked: "360427********001142", EffectiveDate: entD("2024-03-01"), ValidUntil: entD("2030-02-28")})
				g.on(entB, domain.CertificateIssued{Category: domain.CategoryVisual, Grade: 1}) // never registered: ignored
			},
			then: []prtest.Check{
				entRowsOf(entSQLPerson, entA, "张三 | 蛟塘镇 |  | true | false | physical | 2 | 360427********001142 | 2030-02-28 | false | NULL"),
				entRowsOf(`SELECT certificate_issued_on FROM persons WHERE person_id = $1`, entA, "2024-01-10"),
				entRowsOf(entSQLPerson, entB),
			},
		},
		{
			name: "household change, move, death and its retraction",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.on(entA, domain.HouseholdStatusChanged{Household: domain.HouseholdStatus{Class: domain.HouseholdMonitoredHardship, Tekun: true},
					PreviousHousehold: domain.HouseholdStatus{Dibao: true}, EffectiveDate: entD("2024-02-01")})
				g.on(entA, domain.PersonMoved{FromTownship: "蛟塘镇", ToTownship: "星子镇", EffectiveDate: entD("2024-03-01")})
				g.on(entA, domain.PersonDied{DateOfDeath: entD("2024-04-02")})
				g.register(entB, "李四", "温泉镇")
				g.on(entB, domain.PersonDied{DateOfDeath: entD("2024-05-01")})
				g.on(entB, domain.DeathRetracted{DateOfDeath: entD("2024-05-01")})
			},
			then: []prtest.Check{
				entRowsOf(entSQLPerson, entA, "张三 | 星子镇 | monitored_hardship | false | true | NULL | NULL | NULL | NULL | false | 2024-04-02"),
				entRowsOf(entSQLPerson, entB, "李四 | 温泉镇 |  | true | false | NULL | NULL | NULL | NULL | false | NULL"),
			},
		},
		{
			name: "grant, suspend, resume and terminate: the row follows, history keeps every step",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entCare, "2024-01-01", "")
				g.suspend(entA, entCare, "2024-02-15")
				g.resume(entA, entCare, "2024-04-01")
				g.grant(entA, entJob, "2024-02-01", "500.00")
				g.suspend(entA, entJob, "2024-03-01")
				g.terminate(entA, entCare, "2024-06-30", domain.TerminationNoLongerEligible)
			},
			then: []prtest.Check{
				entRowsOf(entSQLEntitlement, entA,
					"care_subsidy | terminated | catalog | 2024-01-01 | 2024-06-30 | NULL | no_longer_eligible | NULL | 0.00 | 0.00 | 0.00",
					"public_welfare_job | suspended | 500.00 | 2024-02-01 | NULL | 2024-03-01 | unreachable | NULL | 0.00 | 0.00 | 0.00"),
				entRowsOf(entSQLHistory, entA,
					"care_subsidy | granted | 2024-01-01 | clerk.li | clerk | NULL | NULL",
					"care_subsidy | suspended | 2024-02-15 | clerk.test | clerk | unreachable | NULL",
					"care_subsidy | resumed | 2024-04-01 | clerk.test | clerk | NULL | NULL",
					"public_welfare_job | granted | 2024-02-01 | clerk.li | clerk | NULL | 500.00",
					"public_welfare_job | suspended | 2024-03-01 | clerk.test | clerk | unreachable | NULL",
					"care_subsidy | terminated | 2024-06-30 | approver.wang | approver | no_longer_eligible | NULL"),
			},
		},
		{
			name: "death terminates every open entitlement",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				g.grant(entA, entCare, "2024-01-01", "")
				g.on(entA, domain.PersonDied{DateOfDeath: entD("2024-03-12")})
				g.terminate(entA, entCare, "2024-03-12", domain.TerminationDeath)
				g.terminate(entA, entLiving, "2024-03-12", domain.TerminationDeath)
			},
			then: []prtest.Check{
				entRowsOf(`SELECT deceased_on FROM persons WHERE person_id = $1`, entA, "2024-03-12"),
				entRowsOf(`SELECT program, status, effective_to, reason_code FROM entitlements WHERE person_id = $1 ORDER BY program`, entA,
					"care_subsidy | terminated | 2024-03-12 | death", "living_subsidy | terminated | 2024-03-12 | death"),
				entRowsOf(`SELECT count(*) FROM entitlement_history WHERE person_id = $1 AND change = 'terminated' AND reason_code = 'death'`, entA, "2"),
			},
		},
		{
			name: "a death retracted: what it ended stands as before, suspended or active, and history keeps both steps",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				g.grant(entA, entCare, "2024-01-01", "")
				g.suspend(entA, entCare, "2024-02-15")
				g.on(entA, domain.PersonDied{DateOfDeath: entD("2024-03-12")})
				g.terminate(entA, entCare, "2024-03-12", domain.TerminationDeath)
				g.terminate(entA, entLiving, "2024-03-12", domain.TerminationDeath)
				g.on(entA, domain.DeathRetracted{DateOfDeath: entD("2024-03-12")})
				g.on(entA, domain.EntitlementReinstated{Program: entCare, EndedOn: entD("2024-03-12"), ReasonCode: domain.TerminationDeath})
				g.on(entA, domain.EntitlementReinstated{Program: entLiving, EndedOn: entD("2024-03-12"), ReasonCode: domain.TerminationDeath})
			},
			then: []prtest.Check{
				entRowsOf(`SELECT deceased_on FROM persons WHERE person_id = $1`, entA, "NULL"),
				entRowsOf(`SELECT program, status, effective_to, suspended_from, reason_code FROM entitlements WHERE person_id = $1 ORDER BY program`, entA,
					"care_subsidy | suspended | NULL | 2024-02-15 | unreachable", "living_subsidy | active | NULL | NULL | NULL"),
				entRowsOf(`SELECT program, change, effective_date, reason_code FROM entitlement_history WHERE person_id = $1 AND change IN ('terminated', 'reinstated') ORDER BY position_commit, program`, entA,
					"care_subsidy | terminated | 2024-03-12 | death", "living_subsidy | terminated | 2024-03-12 | death",
					"care_subsidy | reinstated | 2024-03-12 | death", "living_subsidy | reinstated | 2024-03-12 | death"),
			},
		},
		{
			name: "a revoked certificate ends the entitlements that need one",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.certificate(entA, 2, "2023-06-01")
				g.grant(entA, entCare, "2024-01-01", "")
				g.on(entA, domain.CertificateRevoked{NumberMasked: "360427********001142", ReasonCode: domain.RevocationFraudulent, EffectiveDate: entD("2024-02-20")})
				g.terminate(entA, entCare, "2024-02-20", domain.TerminationCertificateRevoked)
			},
			then: []prtest.Check{
				entRowsOf(entSQLPerson, entA, "张三 | 蛟塘镇 |  | true | false | physical | 2 | 360427********001142 | 2028-05-30 | true | NULL"),
				entRowsOf(`SELECT status, effective_to, reason_code FROM entitlements WHERE person_id = $1`, entA,
					"terminated | 2024-02-20 | certificate_revoked"),
			},
		},
		{
			name: "backdated termination after payments: no arrears, overpayment only from claims",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				for _, p := range []string{"2024-01", "2024-02", "2024-03", "2024-04"} {
					g.pay(entA, entLiving, p, "100.00")
				}
				g.terminate(entA, entLiving, "2024-02-29", domain.TerminationNoLongerEligible)
				g.pay(entB, entLiving, "2024-05", "100.00") // the program's payroll moves on
			},
			then: []prtest.Check{
				entRowsOf(entSQLEntitlement, entA,
					"living_subsidy | terminated | catalog | 2024-01-01 | 2024-02-29 | NULL | no_longer_eligible | 2024-04 | 400.00 | 0.00 | 0.00"),
			},
		},
		{
			name: "overpayment claims, recoveries and write-offs",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				for _, p := range []string{"2024-01", "2024-02", "2024-03", "2024-04"} {
					g.pay(entA, entLiving, p, "100.00")
				}
				g.terminate(entA, entLiving, "2024-02-29", domain.TerminationNoLongerEligible)
				g.claim(entA, entLiving, "C1", "2024-03", "100.00")
				g.claim(entA, entLiving, "C2", "2024-04", "100.00")
				g.recover(entA, entLiving, "C1", "60.00")
				g.writeOff(entA, entLiving, "C1", "40.00")
				g.recover(entA, entLiving, "C2", "25.50")
			},
			then: []prtest.Check{
				entRowsOf(`SELECT paid_total::text, arrears_owed::text, overpayment_owed::text FROM entitlements WHERE person_id = $1`, entA,
					"400.00 | 0.00 | 74.50"),
				entRowsOf(`SELECT claimed::text, recovered::text, written_off::text FROM entitlement_overpayments WHERE person_id = $1`, entA,
					"200.00 | 85.50 | 40.00"),
			},
		},
		{
			name: "backdated grant recorded when 2024-03 payments exist owes arrears for 01 and 02",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.register(entB, "李四", "蛟塘镇")
				g.grant(entB, entLiving, "2024-01-01", "")
				for _, p := range []string{"2024-01", "2024-02", "2024-03"} {
					g.pay(entB, entLiving, p, "100.00")
				}
				g.grant(entA, entLiving, "2024-01-01", "")
				g.pay(entA, entLiving, "2024-03", "100.00") // added to March's payroll
			},
			then: []prtest.Check{
				entRowsOf(entSQLEntitlement, entA,
					"living_subsidy | active | catalog | 2024-01-01 | NULL | NULL | NULL | 2024-03 | 100.00 | 200.00 | 0.00"),
				entRowsOf(entSQLEntitlement, entB,
					"living_subsidy | active | catalog | 2024-01-01 | NULL | NULL | NULL | 2024-03 | 300.00 | 0.00 | 0.00"),
				{SQL: `SELECT * FROM program_paid_through`, Want: []string{"living_subsidy | 2024-03"}},
			},
		},
		{
			name: "arrears payments count for the months they are for",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.pay(entB, entLiving, "2024-03", "100.00")
				g.grant(entA, entLiving, "2024-01-01", "")
				g.payKind(entA, entLiving, "2024-01", "100.00", domain.PaymentArrears)
				g.payKind(entA, entLiving, "2024-02", "100.00", domain.PaymentArrears)
			},
			then: []prtest.Check{
				entRowsOf(`SELECT last_period_paid, paid_total::text, arrears_owed::text FROM entitlements WHERE person_id = $1`, entA,
					"2024-02 | 200.00 | 100.00"),
			},
		},
		{
			name: "rate rise: a 2025-01 payment of 100.00 when the catalog says 110.00 leaves arrears 10.00",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entCare, "2024-12-01", "")
				g.pay(entA, entCare, "2024-12", "100.00")
				g.pay(entA, entCare, "2025-01", "100.00")
			},
			then: []prtest.Check{
				entRowsOf(`SELECT last_period_paid, paid_total::text, arrears_owed::text FROM entitlements WHERE person_id = $1`, entA,
					"2025-01 | 200.00 | 10.00"),
			},
		},
		{
			name: "failed and reversed payments un-count; settled ones change nothing",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				g.settle(g.pay(entA, entLiving, "2024-01", "100.00"))
				g.fail(g.pay(entA, entLiving, "2024-02", "100.00"))
				g.reverse(g.pay(entA, entLiving, "2024-03", "100.00"))
				g.settle(g.payKind(entA, entLiving, "2024-03", "100.00", domain.PaymentReissue))
			},
			then: []prtest.Check{
				entRowsOf(entSQLPaid, entA, "living_subsidy | 2024-01 | 100.00 | 1", "living_subsidy | 2024-02 | 0.00 | 0", "living_subsidy | 2024-03 | 100.00 | 1"),
				entRowsOf(`SELECT last_period_paid, paid_total::text, arrears_owed::text FROM entitlements WHERE person_id = $1`, entA,
					"2024-03 | 200.00 | 100.00"),
			},
		},
		{
			name: "out-of-order effective dates: a termination recorded after a suspension but effective before it",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				g.suspend(entA, entLiving, "2024-05-01")
				g.terminate(entA, entLiving, "2024-03-31", domain.TerminationErrorCorrection)
				g.pay(entB, entLiving, "2024-06", "100.00")
			},
			then: []prtest.Check{
				entRowsOf(entSQLEntitlement, entA,
					"living_subsidy | terminated | catalog | 2024-01-01 | 2024-03-31 | NULL | error_correction | NULL | 0.00 | 300.00 | 0.00"),
			},
		},
		{
			name: "re-grant after termination: one row for the new grant, arrears across both",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entJob, "2024-01-01", "500.00")
				g.pay(entA, entJob, "2024-01", "500.00")
				g.terminate(entA, entJob, "2024-02-29", domain.TerminationVoluntary)
				g.grant(entA, entJob, "2024-05-01", "600.00")
				g.pay(entA, entJob, "2024-05", "600.00")
				g.pay(entB, entJob, "2024-06", "500.00")
			},
			then: []prtest.Check{
				entRowsOf(entSQLEntitlement, entA,
					"public_welfare_job | active | 600.00 | 2024-05-01 | NULL | NULL | NULL | 2024-05 | 1100.00 | 1100.00 | 0.00"),
				entRowsOf(`SELECT change, effective_date, amount::text FROM entitlement_history WHERE person_id = $1 ORDER BY position_commit`, entA,
					"granted | 2024-01-01 | 500.00", "terminated | 2024-02-29 | NULL", "granted | 2024-05-01 | 600.00"),
			},
		},
		{
			name: "a program's payroll moving on raises the arrears of entitlements it did not touch",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entCare, "2024-01-01", "")
				g.grant(entB, entCare, "2024-01-01", "")
				g.pay(entB, entCare, "2024-01", "100.00")
				g.terminate(entA, entCare, "2024-03-31", domain.TerminationVoluntary)
				g.grant(entA, entCare, "2024-06-01", "")
				g.terminate(entA, entCare, "2024-01-15", domain.TerminationDeath) // backdated before the new grant
				g.pay(entB, entCare, "2024-08", "100.00")
			},
			then: []prtest.Check{
				entRowsOf(entSQLEntitlement, entA,
					"care_subsidy | terminated | catalog | 2024-06-01 | 2024-01-15 | NULL | death | NULL | 0.00 | 300.00 | 0.00"),
				entRowsOf(`SELECT arrears_owed::text FROM entitlements WHERE person_id = $1`, entB, "600.00"),
			},
		},
		{
			name: "payments of programs without entitlements are kept per month, with no entitlement row",
			given: func(g *entGiven) {
				g.payKind(entA, domain.ProgramDeviceSubsidy, "2024-04", "1200.00", domain.PaymentOneOff)
			},
			then: []prtest.Check{
				entRowsOf(entSQLPaid, entA, "device_subsidy | 2024-04 | 1200.00 | 1"),
				entRowsOf(entSQLEntitlement, entA),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newEntGiven()
			tt.given(g)
			prtest.Expect(t, projections.EntitlementsProjection{}, g.log.Envelopes, tt.then...)
		})
	}
}

func TestEntitlementsQueries(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newEntGiven()
	g.register(entA, "张三", "蛟塘镇")
	g.register(entB, "张三丰", "星子镇")
	g.register(entPID(3), "李四", "蛟塘镇")
	g.certificate(entA, 2, "2023-06-01")
	g.grant(entA, entCare, "2024-11-01", "")
	g.log.AddMeta(entA.Stream(), domain.CommandMeta{Actor: "clerk.li", Role: "clerk", Reason: "placed as village library manager"},
		domain.EntitlementGranted{Program: entJob, EffectiveFrom: entD("2024-12-01"), Amount: domain.MustMoney("500.00")})
	for _, p := range []string{"2024-11", "2024-12", "2025-01"} {
		g.pay(entA, entCare, p, "100.00")
	}
	g.fail(g.pay(entA, entCare, "2025-02", "110.00"))
	g.suspend(entA, entJob, "2025-01-01")
	db := prtest.Setup(t, projections.EntitlementsProjection{})
	prtest.ApplyBatches(t, db.Pool, projections.EntitlementsProjection{}, g.log.Envelopes, []int{3})
	q := db.Pool

	p, err := projections.PersonByHash(ctx, q, "hash-"+string(entA))
	if err != nil {
		t.Fatal(err)
	}
	if p.PersonID != entA || p.Name != "张三" || p.CertificateCategory != domain.CategoryPhysical || p.CertificateGrade != 2 ||
		!p.BirthDate.Equal(entD("1990-01-01")) || !p.Household.Dibao || p.CertificateRevoked || !p.DeceasedOn.IsZero() {
		t.Errorf("PersonByHash = %+v", p)
	}
	if _, err := projections.PersonByHash(ctx, q, "no-such-hash"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PersonByHash(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := projections.PersonByID(ctx, q, entB); err != nil {
		t.Errorf("PersonByID: %v", err)
	}

	names := func(rows []projections.PersonRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Township+"/"+r.Name)
		}
		return out
	}
	for _, c := range []struct {
		name, township string
		limit, offset  int
		want           []string
	}{
		{"张三", "", 0, 0, []string{"星子镇/张三丰", "蛟塘镇/张三"}},
		{"三", "蛟塘镇", 0, 0, []string{"蛟塘镇/张三"}},
		{"", "蛟塘镇", 0, 0, []string{"蛟塘镇/张三", "蛟塘镇/李四"}},
		{"", "", 2, 1, []string{"蛟塘镇/张三", "蛟塘镇/李四"}},
		{"王", "", 0, 0, nil},
	} {
		got, err := projections.SearchPersons(ctx, q, c.name, c.township, c.limit, c.offset)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got), c.want) {
			t.Errorf("SearchPersons(%q, %q, %d, %d) = %q, want %q", c.name, c.township, c.limit, c.offset, names(got), c.want)
		}
	}

	ents, err := projections.Entitlements(ctx, q, entA)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Fatalf("Entitlements = %+v", ents)
	}
	c, j := ents[0], ents[1]
	if c.Program != entCare || c.Status != domain.EntitlementStatusActive || !c.Amount.IsZero() || c.LastPeriodPaid != entYM("2025-01") ||
		c.PaidTotal.String() != "300.00" || c.ArrearsOwed.String() != "120.00" || c.OverpaymentOwed.String() != "0.00" {
		// arrears: 2025-01 paid 100.00 of 110.00, 2025-02 failed: 10.00 + 110.00
		t.Errorf("care = %+v", c)
	}
	if j.Program != entJob || j.Status != domain.EntitlementStatusSuspended || j.Amount.String() != "500.00" ||
		!j.SuspendedFrom.Equal(entD("2025-01-01")) || j.ReasonCode != "unreachable" || !j.LastPeriodPaid.IsZero() || j.UpdatedPosition.IsStart() {
		t.Errorf("job = %+v", j)
	}

	hist, err := projections.EntitlementHistory(ctx, q, entA)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 3 || hist[1].Program != entJob || hist[1].Amount.String() != "500.00" || hist[1].Reason != "placed as village library manager" ||
		hist[1].Actor != "clerk.li" || hist[2].Change != domain.ChangeSuspended || hist[2].RecordedAt.Location() != time.UTC {
		t.Errorf("EntitlementHistory = %+v", hist)
	}

	months, err := projections.PaidPerMonth(ctx, q, entA, entCare)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range months {
		got = append(got, fmt.Sprintf("%s %s %d", m.Period, m.Paid, m.Payments))
	}
	if want := []string{"2024-11 100.00 1", "2024-12 100.00 1", "2025-01 100.00 1", "2025-02 0.00 0"}; !slices.Equal(got, want) {
		t.Errorf("PaidPerMonth = %q, want %q", got, want)
	}
	years, err := projections.PaidPerYear(ctx, q, entA, entCare)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, y := range years {
		got = append(got, fmt.Sprintf("%d %s %d", y.Year, y.Paid, y.Payments))
	}
	if want := []string{"2024 200.00 2", "2025 100.00 1"}; !slices.Equal(got, want) {
		t.Errorf("PaidPerYear = %q, want %q", got, want)
	}
}

// entSim generates a random but valid history: persons registered,
// certified, moved and dying; entitlements granted, suspended, resumed and
// terminated (some backdated) under the aggregate's rules; monthly payrolls
// with failures, reversals, reissues, arrears payments and overpayment
// claims.
type entSim struct {
	r       *rand.Rand
	g       *entGiven
	persons []*simPerson
	paid    []string // references issued and still counted
}

type simPerson struct {
	id      domain.PersonID
	town    string
	dead    bool
	died    domain.Date
	ended   map[domain.ProgramCode]simEnt // what the death ended, as it stood before
	ents    map[domain.ProgramCode]*simEnt
	claimed int
	grade   domain.DisabilityGrade
}

type simEnt struct {
	status     string
	from, to   domain.Date
	suspended  domain.Date
	amount     string
	terminated bool
}

var simTowns = []string{"蛟塘镇", "星子镇", "白鹿镇", "温泉镇"}
var simPrograms = []domain.ProgramCode{entLiving, entCare, entJob}

func newEntSim(seed uint64) *entSim {
	s := &entSim{r: rand.New(rand.NewPCG(seed, 0x5eed)), g: newEntGiven()}
	for i := range 8 {
		p := &simPerson{id: entPID(0x100 + i), town: simTowns[i%len(simTowns)], ents: map[domain.ProgramCode]*simEnt{}}
		s.persons = append(s.persons, p)
	}
	return s
}

// day returns a random day of month m.
func (s *entSim) day(m domain.Period) domain.Date { return m.First().AddDays(s.r.IntN(28)) }

func (s *entSim) run(months int) []domain.Envelope {
	registered := 0
	m := entYM("2024-01")
	for range months {
		for registered < len(s.persons) && (registered < 4 || s.r.IntN(3) == 0) {
			p := s.persons[registered]
			s.g.register(p.id, fmt.Sprintf("人%d", registered), p.town)
			p.grade = domain.DisabilityGrade(1 + s.r.IntN(4))
			s.g.certificate(p.id, p.grade, "2023-01-01")
			registered++
		}
		for _, p := range s.persons[:registered] {
			s.decide(p, m)
		}
		s.payroll(m)
		m = m.Next()
	}
	return s.g.log.Envelopes
}

func (s *entSim) decide(p *simPerson, m domain.Period) {
	if p.dead {
		if s.r.IntN(8) == 0 {
			// As RetractDeath decides: every entitlement the death ended
			// is reinstated as it stood.
			p.dead = false
			s.g.on(p.id, domain.DeathRetracted{DateOfDeath: p.died})
			for _, prog := range simPrograms {
				if before, ok := p.ended[prog]; ok {
					s.g.on(p.id, domain.EntitlementReinstated{Program: prog, EndedOn: p.died, ReasonCode: domain.TerminationDeath})
					*p.ents[prog] = before
				}
			}
		}
		return
	}
	switch s.r.IntN(20) {
	case 0:
		to := simTowns[s.r.IntN(len(simTowns))]
		if to != p.town {
			s.g.on(p.id, domain.PersonMoved{FromTownship: p.town, ToTownship: to, EffectiveDate: s.day(m)})
			p.town = to
		}
	case 1:
		s.g.on(p.id, domain.HouseholdStatusChanged{Household: domain.HouseholdStatus{Dibao: s.r.IntN(2) == 0}, EffectiveDate: s.day(m)})
	case 3:
		grade := domain.DisabilityGrade(1 + s.r.IntN(4))
		s.g.on(p.id, domain.CertificateRegraded{Category: domain.CategoryPhysical, Grade: grade, PreviousCategory: domain.CategoryPhysical,
			PreviousGrade: p.grade, NumberMasked: fmt.Sprintf("360427********00114%d", grade), EffectiveDate: s.day(m), ValidUntil: entD("2030-12-31")})
		p.grade = grade
	case 2:
		// death, possibly backdated a few months: terminates everything open
		died := s.day(m).AddDays(-s.r.IntN(90))
		s.g.on(p.id, domain.PersonDied{DateOfDeath: died})
		p.died, p.ended = died, map[domain.ProgramCode]simEnt{}
		for _, prog := range simPrograms {
			if e := p.ents[prog]; e != nil && !e.terminated {
				p.ended[prog] = *e
				s.g.terminate(p.id, prog, died.String(), domain.TerminationDeath)
				e.terminated, e.to, e.status = true, died, "terminated"
			}
		}
		p.dead = true
		return
	}
	for _, prog := range simPrograms {
		e := p.ents[prog]
		switch {
		case e == nil || e.terminated:
			if s.r.IntN(3) != 0 {
				continue
			}
			from := s.day(m).AddDays(-s.r.IntN(100)) // often backdated
			if e != nil && !from.After(e.to) {
				from = e.to.AddDays(1 + s.r.IntN(20))
			}
			amount := ""
			if prog == entJob {
				amount = []string{"500.00", "600.00", "450.50"}[s.r.IntN(3)]
			}
			s.g.grant(p.id, prog, from.String(), amount)
			p.ents[prog] = &simEnt{status: "active", from: from, amount: amount}
		case e.status == "active":
			switch s.r.IntN(8) {
			case 0:
				on := simMaxDate(s.day(m), e.from)
				s.g.suspend(p.id, prog, on.String())
				e.status, e.suspended = "suspended", on
			case 1:
				to := simMaxDate(s.day(m).AddDays(-s.r.IntN(120)), e.from) // backdated terminations
				s.g.terminate(p.id, prog, to.String(), domain.TerminationNoLongerEligible)
				e.status, e.terminated, e.to = "terminated", true, to
			}
		case e.status == "suspended":
			switch s.r.IntN(4) {
			case 0:
				on := simMaxDate(s.day(m), e.suspended)
				s.g.resume(p.id, prog, on.String())
				e.status = "active"
			case 1:
				to := simMaxDate(s.day(m).AddDays(-s.r.IntN(60)), e.from)
				s.g.terminate(p.id, prog, to.String(), domain.TerminationOther)
				e.status, e.terminated, e.to = "terminated", true, to
			}
		}
	}
}

func simMaxDate(a, b domain.Date) domain.Date {
	if a.Before(b) {
		return b
	}
	return a
}

func (s *entSim) payroll(m domain.Period) {
	for _, prog := range simPrograms {
		for _, p := range s.persons {
			e := p.ents[prog]
			if e == nil || e.status != "active" || p.dead {
				continue
			}
			amount := e.amount
			if amount == "" {
				rate, _ := simProgram(prog).RateOn(m.First())
				amount = rate.String()
				if s.r.IntN(6) == 0 {
					amount = "100.00" // payroll not yet raised: arrears
				}
			}
			ref := s.g.pay(p.id, prog, m.String(), amount)
			switch s.r.IntN(10) {
			case 0:
				s.g.fail(ref)
				if s.r.IntN(2) == 0 {
					s.g.payKind(p.id, prog, m.String(), amount, domain.PaymentReissue)
				}
			case 1:
				s.g.settle(ref)
				if s.r.IntN(3) == 0 {
					s.g.reverse(ref)
				}
			case 2:
				s.g.settle(ref)
			}
		}
	}
	// arrears payments and overpayment claims
	for _, p := range s.persons {
		for _, prog := range simPrograms {
			e := p.ents[prog]
			if e == nil {
				continue
			}
			switch s.r.IntN(12) {
			case 0:
				if e.from.Period().Compare(m) < 0 {
					s.g.payKind(p.id, prog, e.from.Period().String(), "100.00", domain.PaymentArrears)
				}
			case 1:
				if e.terminated {
					p.claimed++
					id := fmt.Sprintf("C-%s-%d", p.id, p.claimed)
					s.g.claim(p.id, prog, id, m.String(), "100.00")
					switch s.r.IntN(3) {
					case 0:
						s.g.recover(p.id, prog, id, "30.00")
					case 1:
						s.g.writeOff(p.id, prog, id, "100.00")
					}
				}
			}
		}
	}
}

func simProgram(code domain.ProgramCode) domain.Program {
	p, ok := domain.LookupProgram(code)
	if !ok {
		panic(code)
	}
	return p
}

// The same valid history projected in random batch sizes gives the same
// tables as in one batch, for many seeds.
func TestEntitlementsBatchSplitInvariance(t *testing.T) {
	t.Parallel()
	p := projections.EntitlementsProjection{}
	for seed := range uint64(24) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			envs := newEntSim(seed).run(18)
			if len(envs) < 200 {
				t.Fatalf("only %d events", len(envs))
			}
			r := rand.New(rand.NewPCG(seed, 1))
			one := prtest.Project(t, p, envs, prtest.RandomSizes(r, len(envs), 1+r.IntN(60)))
			t.Logf("%d events; entitlements (rows, with arrears, with overpayments, terminated): %v", len(envs), prtest.Rows(t, one, `SELECT count(*), count(*) FILTER (WHERE arrears_owed > 0), count(*) FILTER (WHERE overpayment_owed <> 0), count(*) FILTER (WHERE status = 'terminated') FROM entitlements`))
			if n := prtest.Rows(t, one, `SELECT count(*) FROM entitlements WHERE arrears_owed > 0`); n[0] == "0" && seed == 0 {
				t.Errorf("seed 0 produced no arrears; the generator should exercise them")
			}
			if n := prtest.Rows(t, one, `SELECT count(*) FROM entitlement_history WHERE change = 'reinstated'`); n[0] == "0" && seed == 0 {
				t.Errorf("seed 0 reinstated nothing; the generator should retract deaths that ended entitlements")
			}
		})
	}
}

// entPayrollLog is a year of the federation's monthly subsidies: persons
// registered and granted living and care subsidies (some backdated), then
// twelve monthly payrolls in which 2% of payments fail and are reissued
// the next month.
func entPayrollLog(persons int) []domain.Envelope {
	r := rand.New(rand.NewPCG(7, 7))
	g := newEntGiven()
	for i := range persons {
		id := entPID(0x10000 + i)
		g.register(id, fmt.Sprintf("人%d", i), simTowns[i%len(simTowns)])
		g.grant(id, entLiving, fmt.Sprintf("2024-%02d-01", 1+r.IntN(2)), "")
		if i%2 == 0 {
			g.grant(id, entCare, "2024-01-01", "")
		}
	}
	var failed []string
	for m := 1; m <= 12; m++ {
		period := fmt.Sprintf("2024-%02d", m)
		for _, ref := range failed {
			l := g.lines[ref]
			g.payKind(l.PersonID, l.Program, l.Period.String(), l.Amount.String(), domain.PaymentReissue)
		}
		failed = failed[:0]
		for i := range persons {
			id := entPID(0x10000 + i)
			for _, prog := range []domain.ProgramCode{entLiving, entCare} {
				if prog == entCare && i%2 == 1 {
					continue
				}
				ref := g.pay(id, prog, period, "100.00")
				if r.IntN(50) == 0 {
					g.fail(ref)
					failed = append(failed, ref)
				} else {
					g.settle(ref)
				}
			}
		}
	}
	return g.log.Envelopes
}

// BenchmarkEntitlementsApply projects a year of payrolls for 2,000 persons
// in the runner's default batches of 500 events.
func BenchmarkEntitlementsApply(b *testing.B) {
	envs := entPayrollLog(2000)
	p := projections.EntitlementsProjection{}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		db := prtest.Setup(b, p)
		b.StartTimer()
		prtest.ApplyBatches(b, db.Pool, p, envs, []int{500})
	}
	b.ReportMetric(float64(len(envs)*b.N)/b.Elapsed().Seconds(), "events/s")
}
