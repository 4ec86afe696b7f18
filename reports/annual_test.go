package reports_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// -update rewrites the golden files (go test ./reports -run Annual -update).
// The change notice's tests may define the same flag; whoever comes second
// only looks it up.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files in testdata")
	}
}

func annualUpdating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// annualToday is the fixture's clock: the summary of 2024 is written in
// March 2025, after January's payroll.
var annualToday = domain.MustDate("2025-03-01")

// annualLedger writes a ledger through the command path — the beneficiary
// handler, the payroll service with maker-checker approval, a bank return
// file and the projection runner — on a fresh PostgreSQL schema.
type annualLedger struct {
	t      *testing.T
	ctx    context.Context
	db     *pgtest.Schema
	store  *pgstore.Store
	h      *app.Persons
	runner *projections.Runner
	seq    int
}

func newAnnualLedger(t *testing.T) *annualLedger {
	t.Helper()
	db := pgtest.NewSchema(t)
	s := pgstore.New(db.Pool)
	t.Cleanup(s.Close)
	return &annualLedger{t: t, ctx: context.Background(), db: db, store: s, h: app.NewPersons(s),
		runner: &projections.Runner{Pool: db.Pool, Store: s, Projections: projections.All(), Log: slog.New(slog.DiscardHandler)}}
}

func (l *annualLedger) meta(actor, role string) domain.CommandMeta {
	l.seq++
	return domain.CommandMeta{CommandID: fmt.Sprintf("annual-%d", l.seq), Actor: actor, Role: role,
		Now: annualToday.Time().Add(9 * time.Hour)}
}

// person registers someone and returns their ID and resident ID.
func (l *annualLedger) person(name, birth, registered string, h domain.HouseholdStatus) (domain.PersonID, domain.ResidentID) {
	l.t.Helper()
	l.seq++
	rid, err := domain.NewResidentID("360429", domain.MustDate(birth), l.seq)
	if err != nil {
		l.t.Fatal(err)
	}
	hash := domain.LookupKey("annual-test-lookup-key-0123456789abcdef").Hash(rid)
	id := domain.PersonIDFromHash(hash)
	l.do(id, domain.RegisterPerson{IDNumber: rid, IDHash: hash, Name: name, Township: "星子镇", Household: h, RegisteredOn: domain.MustDate(registered)})
	return id, rid
}

func (l *annualLedger) certificate(id domain.PersonID, rid domain.ResidentID, c domain.DisabilityCategory, g domain.DisabilityGrade) {
	l.t.Helper()
	n, err := domain.NewCertificateNumber(rid, c, g)
	if err != nil {
		l.t.Fatal(err)
	}
	l.do(id, domain.IssueCertificate{Number: n, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-12-31")})
}

func (l *annualLedger) do(id domain.PersonID, c domain.Command) {
	l.t.Helper()
	if _, err := l.h.Execute(l.ctx, id, l.meta("clerk.zhou", "clerk"), c); err != nil {
		l.t.Fatalf("%s for %s: %v", c.CommandName(), id, err)
	}
}

func (l *annualLedger) grant(id domain.PersonID, p domain.ProgramCode, from, amount string, attrs domain.GrantAttributes) {
	l.t.Helper()
	g := domain.GrantEntitlement{Program: p, EffectiveFrom: domain.MustDate(from), Attributes: attrs}
	if amount != "" {
		g.Amount = domain.MustMoney(amount)
	}
	l.do(id, g)
}

func (l *annualLedger) oneOff(id domain.PersonID, p domain.ProgramCode, on, amount string) {
	l.t.Helper()
	l.do(id, domain.RecordOneOffGrant{GrantID: fmt.Sprint("g-", l.seq), Program: p, Amount: domain.MustMoney(amount), EffectiveOn: domain.MustDate(on)})
}

// budget appends an allocation to the program's stream; the ledger has no
// command for it yet, so it is sealed as the payroll service seals events.
func (l *annualLedger) budget(p domain.ProgramCode, year int, amount string) {
	l.t.Helper()
	data, err := domain.Seal(l.meta("fin.wu", "finance"), "", []domain.Event{domain.BudgetAllocated{Program: p, FiscalYear: year, Amount: domain.MustMoney(amount)}})
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := l.store.Append(l.ctx, domain.ProgramStream(p), domain.AnyRevision(), data...); err != nil {
		l.t.Fatal(err)
	}
}

func (l *annualLedger) catchUp() {
	l.t.Helper()
	if err := l.runner.RunOnce(l.ctx); err != nil {
		l.t.Fatal(err)
	}
}

// payroll drafts, approves and reconciles a batch of program for period,
// paid on paidOn, as the finance officers' commands do; the return file
// fails the lines of fail (a person ID) for the period and settles the
// others.
func (l *annualLedger) payroll(p domain.ProgramCode, period, paidOn string, fail domain.PersonID) {
	l.t.Helper()
	per, _ := domain.ParsePeriod("period", period)
	pay := app.NewPayroll(l.store, projections.ReadModels{Q: l.db.Pool, Store: l.store}, nil)
	l.catchUp()
	d, err := pay.Draft(l.ctx, l.meta("fin.wu", "finance"), app.DraftRequest{Program: p, Period: per, PaidOn: domain.MustDate(paidOn)})
	if err != nil {
		l.t.Fatalf("draft %s %s: %v", p, period, err)
	}
	id := d.Batch.BatchID
	l.catchUp()
	if _, err := pay.Approve(l.ctx, l.meta("fin.li", "finance"), id); err != nil {
		l.t.Fatalf("approve %s: %v", id, err)
	}
	rep, err := pay.Report(l.ctx, id)
	if err != nil {
		l.t.Fatal(err)
	}
	var ret strings.Builder
	ret.WriteString("参考号,金额,状态,失败原因\r\n")
	for _, line := range rep.Lines {
		status, reason := "成功", ""
		if line.PersonID == fail && line.Period.String() == period {
			status, reason = "失败", "账户已销户"
		}
		fmt.Fprintf(&ret, "%s,%s,%s,%s\r\n", line.Reference, line.Amount, status, reason)
	}
	l.catchUp()
	if _, err := pay.Reconcile(l.ctx, l.meta("fin.wu", "finance"), app.ReconcileRequest{BatchID: id, Name: "return.csv", Raw: []byte(ret.String()),
		On: domain.MustDate(paidOn).AddDays(3)}); err != nil {
		l.t.Fatalf("reconcile %s: %v", id, err)
	}
}

// annualFixture is a small county's 2023 to early 2025 that exercises every
// definition of the annual summary; the comments give what 2024 must show.
func annualFixture(t *testing.T) *annualLedger {
	l := newAnnualLedger(t)
	poor := func(c domain.HouseholdClass) domain.HouseholdStatus {
		return domain.HouseholdStatus{Class: c, Dibao: true}
	}

	// Living since before the year and care from March, suspended for
	// October: one person with both subsidies. Home modification and two
	// condolence payments.
	chen, chenID := l.person("陈桂兰", "1956-03-02", "2023-01-10", poor(domain.HouseholdLiftedFromPoverty))
	l.certificate(chen, chenID, domain.CategoryPhysical, 1)
	l.grant(chen, domain.ProgramLivingSubsidy, "2023-06-01", "", domain.GrantAttributes{})
	l.grant(chen, domain.ProgramCareSubsidy, "2024-03-01", "", domain.GrantAttributes{})
	l.do(chen, domain.SuspendEntitlement{Program: domain.ProgramCareSubsidy, EffectiveOn: domain.MustDate("2024-10-01"), ReasonCode: domain.SuspensionUnreachable})
	l.do(chen, domain.ResumeEntitlement{Program: domain.ProgramCareSubsidy, EffectiveOn: domain.MustDate("2024-11-01")})
	l.oneOff(chen, domain.ProgramHomeModification, "2024-04-10", "6000.00")
	l.oneOff(chen, domain.ProgramCondolence, "2024-02-09", "500.00")
	l.oneOff(chen, domain.ProgramCondolence, "2024-09-15", "300.00")

	// Living granted, terminated at the end of April and granted again in
	// July: two cases, one person. Its December payment fails and is paid
	// again in January 2025. A condolence payment on the last day of 2023.
	liu, liuID := l.person("刘建国", "1970-08-15", "2023-05-01", poor(domain.HouseholdUrbanNeedy))
	l.certificate(liu, liuID, domain.CategoryVisual, 3)
	l.grant(liu, domain.ProgramLivingSubsidy, "2024-01-01", "", domain.GrantAttributes{})
	l.do(liu, domain.TerminateEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveTo: domain.MustDate("2024-04-30"), ReasonCode: domain.TerminationNoLongerEligible})
	l.grant(liu, domain.ProgramLivingSubsidy, "2024-07-01", "", domain.GrantAttributes{})
	l.oneOff(liu, domain.ProgramDeviceSubsidy, "2024-05-20", "1200.00")
	l.oneOff(liu, domain.ProgramCondolence, "2023-12-31", "400.00")

	// The edges of the year: living that ended on 2023-12-31, care from
	// 2025-01-01, goods issued on 2023-12-31 and a condolence payment on
	// 2025-01-01 — none of them is 2024's.
	wang, wangID := l.person("王秀英", "1962-11-30", "2022-03-01", poor(domain.HouseholdMonitoredMarginal))
	l.certificate(wang, wangID, domain.CategoryHearing, 2)
	l.grant(wang, domain.ProgramLivingSubsidy, "2023-01-01", "", domain.GrantAttributes{})
	l.do(wang, domain.TerminateEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveTo: domain.MustDate("2023-12-31"), ReasonCode: domain.TerminationMovedAway})
	l.grant(wang, domain.ProgramCareSubsidy, "2025-01-01", "", domain.GrantAttributes{})
	l.do(wang, domain.RecordInKindIssue{IssueID: "i-2023", Item: "助听器", Quantity: 2, UnitValue: domain.MustMoney("900.00"), EffectiveOn: domain.MustDate("2023-12-31")})
	l.oneOff(wang, domain.ProgramCondolence, "2025-01-01", "300.00")

	// Care from January; died on 15 August, which ends it: a case, a
	// termination, paid through August, and not among the households.
	zhao, zhaoID := l.person("赵德明", "1948-05-05", "2021-06-01", poor(domain.HouseholdMonitoredHardship))
	l.certificate(zhao, zhaoID, domain.CategoryPhysical, 2)
	l.grant(zhao, domain.ProgramCareSubsidy, "2024-01-01", "", domain.GrantAttributes{})
	l.do(zhao, domain.RecordDeath{DateOfDeath: domain.MustDate("2024-08-15")})

	// Household class changes: urban_needy from May, a change recorded
	// later but effective in March (so by recording order March's class
	// would be last), and lifted_from_poverty from February 2025 — on
	// 2024-12-31 the class is urban_needy. Three wheelchairs issued; a
	// library manager post from February; a condolence payment.
	sun, sunID := l.person("孙丽", "1985-02-14", "2022-01-01", domain.HouseholdStatus{})
	l.certificate(sun, sunID, domain.CategoryPhysical, 4)
	l.do(sun, domain.ChangeHouseholdStatus{Status: domain.HouseholdStatus{Class: domain.HouseholdUrbanNeedy}, EffectiveOn: domain.MustDate("2024-05-01")})
	l.do(sun, domain.ChangeHouseholdStatus{Status: domain.HouseholdStatus{Class: domain.HouseholdMonitoredUnstable}, EffectiveOn: domain.MustDate("2024-03-01")})
	l.do(sun, domain.ChangeHouseholdStatus{Status: domain.HouseholdStatus{Class: domain.HouseholdLiftedFromPoverty}, EffectiveOn: domain.MustDate("2025-02-01")})
	l.do(sun, domain.RecordInKindIssue{IssueID: "i-2024", Item: "轮椅", Quantity: 3, UnitValue: domain.MustMoney("350.00"), EffectiveOn: domain.MustDate("2024-06-01")})
	l.grant(sun, domain.ProgramPublicWelfareJob, "2024-02-01", "500.00", domain.GrantAttributes{Post: domain.PostLibraryManager})
	l.oneOff(sun, domain.ProgramCondolence, "2024-09-15", "300.00")

	// A public welfare post since March 2023, ended on 31 January 2024: a
	// 2024 case and termination. The fuel allowance for a wheelchair
	// scrapped at the end of October.
	zhou, zhouID := l.person("周强", "1975-07-07", "2020-01-01", domain.HouseholdStatus{Class: domain.HouseholdLiftedFromPoverty})
	l.certificate(zhou, zhouID, domain.CategoryPhysical, 3)
	l.grant(zhou, domain.ProgramPublicWelfareJob, "2023-03-01", "450.00", domain.GrantAttributes{Post: domain.PostPublicWelfare})
	l.do(zhou, domain.TerminateEntitlement{Program: domain.ProgramPublicWelfareJob, EffectiveTo: domain.MustDate("2024-01-31"), ReasonCode: domain.TerminationVoluntary})
	l.grant(zhou, domain.ProgramFuelAllowance, "2024-01-01", "", domain.GrantAttributes{VehiclePlate: "赣G12345"})
	l.do(zhou, domain.TerminateEntitlement{Program: domain.ProgramFuelAllowance, EffectiveTo: domain.MustDate("2024-10-31"), ReasonCode: domain.TerminationVehicleScrapped})

	// Registered in 2025: not among 2024's households.
	l.person("吴芳", "1990-01-01", "2025-01-05", domain.HouseholdStatus{Class: domain.HouseholdUrbanNeedy})

	// Registered on the year's last day: among its households (none).
	l.person("钱多多", "2000-06-01", "2024-12-31", domain.HouseholdStatus{})

	// Care granted from November, then a death recorded on 20 October: the
	// grant never took effect, so it is granted and terminated in 2024 but
	// no case.
	zheng, zhengID := l.person("郑伟", "1950-10-10", "2023-01-01", poor(domain.HouseholdLiftedFromPoverty))
	l.certificate(zheng, zhengID, domain.CategoryPhysical, 1)
	l.grant(zheng, domain.ProgramCareSubsidy, "2024-11-01", "", domain.GrantAttributes{})
	l.do(zheng, domain.RecordDeath{DateOfDeath: domain.MustDate("2024-10-20")})

	l.budget(domain.ProgramLivingSubsidy, 2023, "9999.00")
	l.budget(domain.ProgramLivingSubsidy, 2024, "4000.00")
	l.budget(domain.ProgramLivingSubsidy, 2024, "5000.00") // replaces the first
	l.budget(domain.ProgramCareSubsidy, 2024, "1000.00")   // overspent
	l.budget(domain.ProgramCondolence, 2024, "2000.00")

	// Payroll: December 2023 (paid in 2023), June and December 2024 (each
	// with the months owed before), January 2025 (paid in 2025). The
	// fuel allowance, home modification and device subsidy in June; the
	// condolence payments of 2023 in December 2023, of 2024 in September,
	// where sun's fails, and December, which pays it again.
	for _, run := range []struct {
		program domain.ProgramCode
		period  string
		fail    domain.PersonID
	}{
		{domain.ProgramLivingSubsidy, "2023-12", ""},
		{domain.ProgramPublicWelfareJob, "2023-12", ""},
		{domain.ProgramCondolence, "2023-12", ""},
		{domain.ProgramFuelAllowance, "2024-06", ""},
		{domain.ProgramHomeModification, "2024-06", ""},
		{domain.ProgramDeviceSubsidy, "2024-06", ""},
		{domain.ProgramCondolence, "2024-09", sun},
		{domain.ProgramCondolence, "2024-12", ""},
		{domain.ProgramLivingSubsidy, "2024-06", ""},
		{domain.ProgramCareSubsidy, "2024-06", ""},
		{domain.ProgramPublicWelfareJob, "2024-06", ""},
		{domain.ProgramLivingSubsidy, "2024-12", liu},
		{domain.ProgramCareSubsidy, "2024-12", ""},
		{domain.ProgramPublicWelfareJob, "2024-12", ""},
		{domain.ProgramLivingSubsidy, "2025-01", ""},
		{domain.ProgramCareSubsidy, "2025-01", ""},
		{domain.ProgramPublicWelfareJob, "2025-01", ""},
	} {
		l.payroll(run.program, run.period, run.period+"-20", run.fail)
	}
	l.catchUp()
	return l
}

// TestAnnualSummary builds the fixture through the command path, checks
// the figures each definition gives, and compares the summary in every
// format with the golden files in testdata.
func TestAnnualSummary(t *testing.T) {
	t.Parallel()
	l := annualFixture(t)
	s, err := reports.Annual(l.ctx, projections.ReadModels{Q: l.db.Pool}, 2024, annualToday)
	if err != nil {
		t.Fatal(err)
	}

	byCode := map[domain.ProgramCode]reports.AnnualProgram{}
	for _, p := range s.Programs {
		byCode[p.Program] = p
	}
	if len(s.Programs) != len(domain.Catalog()) {
		t.Errorf("%d program lines, want one per program of the catalog (%d)", len(s.Programs), len(domain.Catalog()))
	}
	for i, p := range domain.Catalog() {
		if i < len(s.Programs) && s.Programs[i].Program != p.Code {
			t.Errorf("line %d is %s, want %s (catalog order)", i, s.Programs[i].Program, p.Code)
		}
	}
	type figures struct{ persons, cases, granted, terminated int }
	for code, want := range map[domain.ProgramCode]figures{
		// chen (since 2023), liu twice; wang's ended 2023-12-31.
		domain.ProgramLivingSubsidy: {2, 3, 2, 1},
		// chen, zhao; wang's starts 2025-01-01; zheng's never took effect.
		domain.ProgramCareSubsidy:       {2, 2, 3, 2},
		domain.ProgramPublicWelfareJob:  {2, 2, 1, 1},
		domain.ProgramFuelAllowance:     {1, 1, 1, 1},
		domain.ProgramCondolence:        {2, 3, 0, 0}, // liu's of 2023-12-31 and wang's of 2025-01-01 are not 2024's
		domain.ProgramDeviceInKind:      {1, 1, 0, 0},
		domain.ProgramIncapacitySubsidy: {0, 0, 0, 0},
	} {
		p := byCode[code]
		if got := (figures{p.Persons, p.Cases, p.Granted, p.Terminated}); got != want {
			t.Errorf("%s: persons, cases, granted, terminated = %v, want %v", code, got, want)
		}
	}
	for code, want := range map[domain.ProgramCode]string{
		// chen 12 months; liu January–April and July–November (December failed).
		domain.ProgramLivingSubsidy: "2100.00",
		// chen March–September and November–December; zhao January–August.
		domain.ProgramCareSubsidy: "1700.00",
		// sun February–December at 500; zhou January at 450.
		domain.ProgramPublicWelfareJob: "5950.00",
		// zhou's 2024, at the catalog's 300.00, though scrapped in October.
		domain.ProgramFuelAllowance: "300.00",
		// chen 500 and 300, sun 300 (failed in September, paid again in
		// December); liu's of 2023-12-31 was paid in 2023.
		domain.ProgramCondolence:       "1100.00",
		domain.ProgramHomeModification: "6000.00",
		domain.ProgramDeviceSubsidy:    "1200.00",
		domain.ProgramDeviceInKind:     "0.00",
	} {
		if got := byCode[code].Paid.String(); got != want {
			t.Errorf("%s paid %s, want %s", code, got, want)
		}
	}
	if p := byCode[domain.ProgramDeviceInKind]; p.InKindItems != 3 || p.InKindValue.String() != "1050.00" {
		t.Errorf("in kind: %d items worth %s, want 3 worth 1050.00", p.InKindItems, p.InKindValue)
	}
	if p := byCode[domain.ProgramPublicWelfareJob]; p.Posts == nil || *p.Posts != (reports.AnnualPosts{PublicWelfare: 1, LibraryManager: 1}) {
		t.Errorf("posts %+v, want public_welfare 1, library_manager 1", p.Posts)
	}
	if p := byCode[domain.ProgramLivingSubsidy]; p.Posts != nil {
		t.Errorf("living_subsidy has posts %+v", p.Posts)
	}
	budgets := map[domain.ProgramCode][2]string{
		domain.ProgramLivingSubsidy: {"5000.00", "2900.00"},
		domain.ProgramCareSubsidy:   {"1000.00", "-700.00"},
		domain.ProgramCondolence:    {"2000.00", "900.00"},
	}
	for _, p := range s.Programs {
		want, ok := budgets[p.Program]
		switch {
		case !ok && (p.Budget != nil || p.Remaining != nil):
			t.Errorf("%s has budget %v, remaining %v; want none", p.Program, p.Budget, p.Remaining)
		case ok && (p.Budget == nil || p.Remaining == nil || p.Budget.String() != want[0] || p.Remaining.String() != want[1]):
			t.Errorf("%s budget %v remaining %v, want %v", p.Program, p.Budget, p.Remaining, want)
		}
	}
	if want := (reports.AnnualLivingAndCare{Persons: 3, LivingCases: 3, CareCases: 2, Paid: domain.MustMoney("3800.00")}); s.LivingAndCare.Persons != want.Persons ||
		s.LivingAndCare.LivingCases != want.LivingCases || s.LivingAndCare.CareCases != want.CareCases || !s.LivingAndCare.Paid.Equal(want.Paid) {
		t.Errorf("living and care %+v, want %+v", s.LivingAndCare, want)
	}
	// chen and zhou lifted; wang marginal; liu and sun urban needy; qian
	// none; zhao and zheng died, wu registered in 2025.
	if want := (reports.AnnualHouseholds{LiftedFromPoverty: 2, MonitoredMarginal: 1, Monitored: 1, UrbanNeedy: 2, None: 1}); s.Households != want {
		t.Errorf("households %+v, want %+v", s.Households, want)
	}
	if s.TotalPaid.String() != "18350.00" { // every program's paid, the fuel allowance's 300.00 too
		t.Errorf("total paid %s, want 18350.00", s.TotalPaid)
	}

	for _, f := range []reports.AnnualFormat{reports.AnnualJSON, reports.AnnualCSV, reports.AnnualTable, reports.AnnualXLSX} {
		var buf bytes.Buffer
		if err := reports.AnnualWrite(&buf, s, f); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out, name := buf.Bytes(), "annual_2024."+string(f)
		switch f {
		case reports.AnnualTable:
			name = "annual_2024.txt"
		case reports.AnnualXLSX:
			// Summing the programs' paid column gives the total paid: no
			// subtotal among them counts money twice.
			if sum := annualColumnSum(t, out, reports.AnnualSheet, "发放金额(Paid)"); sum != s.TotalPaid.Fen() {
				t.Errorf("the programs' paid column sums to %d fen; total paid is %s", sum, s.TotalPaid)
			}
			out, name = annualReadBack(t, out), "annual_2024.xlsx.txt"
		}
		annualGolden(t, name, out)
	}

	// The JSON reads back into the same summary.
	var buf bytes.Buffer
	if err := reports.AnnualWrite(&buf, s, reports.AnnualJSON); err != nil {
		t.Fatal(err)
	}
	var back reports.AnnualSummary
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	_ = reports.AnnualWrite(&again, back, reports.AnnualJSON)
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Errorf("the JSON does not read back into the same summary:\n%s", again.Bytes())
	}

	// Other years see other figures: 2023 holds December's payroll of
	// 2023, which pays wang's and chen's living subsidy and zhou's post.
	s23, err := reports.Annual(l.ctx, projections.ReadModels{Q: l.db.Pool}, 2023, annualToday)
	if err != nil {
		t.Fatal(err)
	}
	if p := s23.Programs[0]; p.Program != domain.ProgramLivingSubsidy || p.Cases != 2 || p.Paid.String() != "1900.00" ||
		p.Budget == nil || p.Budget.String() != "9999.00" {
		t.Errorf("2023 living_subsidy: %+v; want 2 cases, paid 1900.00 (wang 12 months, chen 7), budget 9999.00", p)
	}
}

// annualReadBack opens an XLSX with excelize and renders its sheets as
// text: a "## sheet" line, then a line per row, cells separated by " | ",
// each cell but the empty ones prefixed with its kind (s: string, n:
// number) and shown as formatted.
func annualReadBack(t *testing.T, data []byte) []byte {
	t.Helper()
	return readBackSheets(t, data, reports.AnnualSheet, reports.AnnualTotalsSheet)
}

// readBackSheets renders an XLSX as annualReadBack describes, after
// checking that its sheets are sheets, in order.
func readBackSheets(t *testing.T, data []byte, sheets ...string) []byte {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the XLSX does not open: %v", err)
	}
	defer x.Close()
	if got := x.GetSheetList(); !slices.Equal(got, sheets) {
		t.Fatalf("sheets %q, want %q", got, sheets)
	}
	var out bytes.Buffer
	for _, sheet := range x.GetSheetList() {
		out.WriteString("## " + sheet + "\n")
		rows, err := x.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		for r, row := range rows {
			cells := make([]string, len(row))
			for c, v := range row {
				ref, _ := excelize.CoordinatesToCellName(c+1, r+1)
				typ, err := x.GetCellType(sheet, ref)
				if err != nil {
					t.Fatal(err)
				}
				kind := "n"
				switch typ {
				case excelize.CellTypeInlineString, excelize.CellTypeSharedString:
					kind = "s"
				case excelize.CellTypeUnset, excelize.CellTypeNumber:
				default:
					t.Errorf("cell %s has type %v", ref, typ)
				}
				if v != "" {
					cells[c] = kind + ":" + v
				}
			}
			out.WriteString(strings.Join(cells, " | ") + "\n")
		}
	}
	return out.Bytes()
}

// annualColumnSum adds up, in fen, the number cells of the column headed
// header on the sheet.
func annualColumnSum(t *testing.T, data []byte, sheet, header string) int64 {
	t.Helper()
	x, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows(sheet, excelize.Options{RawCellValue: true})
	if err != nil || len(rows) == 0 {
		t.Fatalf("sheet %s: %v", sheet, err)
	}
	col := slices.Index(rows[0], header)
	if col < 0 {
		t.Fatalf("sheet %s has no column %q", sheet, header)
	}
	var fen int64
	for _, r := range rows[1:] {
		if col < len(r) && r[col] != "" {
			fen += domain.MustMoney(strconv.FormatFloat(mustFloat(t, r[col]), 'f', 2, 64)).Fen()
		}
	}
	return fen
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func annualGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if annualUpdating() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -run Annual -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./reports -run Annual -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestAnnualRefusesBadInput(t *testing.T) {
	t.Parallel()
	today := domain.MustDate("2025-03-01")
	for _, raw := range []string{"", "1999", "2027", "twenty", "2024.5", " 2024"} {
		_, err := reports.AnnualParseYear("year", raw, today)
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != "year" {
			t.Errorf("year %q: %v, want an error naming year", raw, err)
		}
	}
	for raw, want := range map[string]int{"2000": 2000, "2024": 2024, "2026": 2026} {
		if y, err := reports.AnnualParseYear("year", raw, today); err != nil || y != want {
			t.Errorf("year %q: %d, %v", raw, y, err)
		}
	}
	for _, raw := range []string{"", "pdf", "JSON", "table"} {
		_, err := reports.AnnualParseFormat("format", raw, reports.AnnualJSON, reports.AnnualCSV, reports.AnnualXLSX)
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != "format" {
			t.Errorf("format %q: %v, want an error naming format", raw, err)
		}
	}
	// Annual itself checks the year before it touches the database.
	if _, err := reports.Annual(context.Background(), nil, 1999, today); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("Annual(1999): %v, want ErrInvalid", err)
	}
	var buf bytes.Buffer
	if err := reports.AnnualWrite(&buf, reports.AnnualSummary{}, "pdf"); !errors.Is(err, domain.ErrInvalid) || buf.Len() > 0 {
		t.Errorf("AnnualWrite(pdf): %v, wrote %d bytes", err, buf.Len())
	}
}

// An empty ledger gives a summary of zeros with every program, no budgets
// and the agreed JSON shape.
func TestAnnualSummaryOfAnEmptyLedger(t *testing.T) {
	t.Parallel()
	l := newAnnualLedger(t)
	l.catchUp()
	s, err := reports.Annual(l.ctx, projections.ReadModels{Q: l.db.Pool}, 2024, annualToday)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	progs := m["programs"].([]any)
	if len(progs) != len(domain.Catalog()) {
		t.Fatalf("%d programs", len(progs))
	}
	keys := func(v any) string { return fmt.Sprint(slices.Sorted(maps.Keys(v.(map[string]any)))) }
	want := "[budget cases granted in_kind_items in_kind_value name paid persons program remaining shape terminated]"
	for _, p := range progs {
		p := p.(map[string]any)
		w := want
		if p["program"] == "public_welfare_job" {
			w = "[budget cases granted in_kind_items in_kind_value name paid persons posts program remaining shape terminated]"
		}
		if got := keys(p); got != w {
			t.Errorf("%s has keys %s, want %s", p["program"], got, w)
		}
		if p["budget"] != nil || p["remaining"] != nil || p["paid"] != "0.00" || p["in_kind_value"] != "0.00" {
			t.Errorf("%s: %v", p["program"], p)
		}
	}
	if got := keys(m); got != "[households living_and_care programs total_paid year]" {
		t.Errorf("top-level keys %s", got)
	}
	if got := keys(m["households"]); got != "[lifted_from_poverty monitored monitored_hardship monitored_marginal monitored_unstable none urban_needy]" {
		t.Errorf("household keys %s", got)
	}
	if got := keys(m["living_and_care"]); got != "[care_cases living_cases paid persons]" {
		t.Errorf("living_and_care keys %s", got)
	}
	if m["total_paid"] != "0.00" || m["year"] != float64(2024) {
		t.Errorf("total_paid %v, year %v", m["total_paid"], m["year"])
	}
}
