package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// TestRosterCrossCheck: a clerk imports the departments' rosters of the
// month — civil affairs' 低保/特困 list in GB18030 with Chinese headers in
// an unusual order, human resources' list in UTF-8 with a BOM, rural
// affairs' list as XLSX, the death records — and each difference becomes
// a change proposal that only another user can approve. A malformed line
// refuses the whole file; the same file again changes nothing. On both
// stores.
func TestRosterCrossCheck(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			l := newCLILedger(t, store)
			dir := t.TempDir()
			file := func(name string, data []byte) string {
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, data, 0o600); err != nil {
					t.Fatal(err)
				}
				return p
			}
			offDibao, newDibao, tekun := l.resident("1958-02-11", 31), l.resident("1961-05-20", 32), l.resident("1949-09-03", 33)
			nursing, died, monitored := l.resident("1970-07-07", 34), l.resident("1944-01-15", 35), l.resident("1980-10-10", 36)
			stranger := l.resident("1975-03-30", 37)
			person := func(r resident, prefix, name string, hh domain.HouseholdStatus, grade domain.DisabilityGrade, more ...domain.Command) {
				cert, _ := domain.NewCertificateNumber(r.ID, domain.CategoryPhysical, grade)
				cmds := append([]domain.Command{
					domain.RegisterPerson{IDNumber: r.ID, IDHash: r.Hash, Name: name, Township: "白鹿镇", Household: hh, RegisteredOn: domain.MustDate("2024-01-01")},
					domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
				}, more...)
				for k, c := range cmds {
					l.exec(r.PID, fmt.Sprintf("%s-%d", prefix, k), c)
				}
			}
			onDibao := domain.HouseholdStatus{Dibao: true}
			person(offDibao, "a", "周华", onDibao, 3, livingSubsidyFrom("2024-01-01"))
			person(newDibao, "b", "吴平", domain.HouseholdStatus{}, 3)
			person(tekun, "c", "郑秀英", onDibao, 4, livingSubsidyFrom("2024-01-01"))
			person(nursing, "d", "冯建国", domain.HouseholdStatus{}, 1,
				domain.GrantEntitlement{Program: domain.ProgramCareSubsidy, EffectiveFrom: domain.MustDate("2024-01-01")})
			person(died, "e", "陈桂兰", domain.HouseholdStatus{}, 2)
			person(monitored, "f", "褚明", domain.HouseholdStatus{}, 4)
			l.projectInBackground() // as ledger serve does: each cross-check reads the read models

			gb := func(s string) []byte {
				b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			// A malformed line: nothing from the file is applied.
			bad := file("bad.csv", gb("类别,乡镇,身份证号,姓名\r\n低保,白鹿镇,"+newDibao.ID.Number()+",吴平\r\n低保,白鹿镇,"+
				newDibao.ID.Number()[:17]+"0,郑秀英\r\n"))
			_, _, err := l.run("roster", "import", "--source", "civil_affairs", "--file", bad, "--as-of", "2025-01-01", "--user", "clerk.li")
			if err == nil || !strings.Contains(err.Error(), "line 3") || strings.Contains(err.Error(), newDibao.ID.Number()) {
				t.Fatalf("a malformed line: %v", err)
			}
			if out := l.must("roster", "imports"); !strings.HasPrefix(out, "0 imports") {
				t.Fatalf("after a refused file: %s", out)
			}

			// Civil affairs: B newly on 低保, C on 特困, a person the
			// ledger does not know, B's line twice; A is no longer listed.
			civil := file("低保特困名册2025-01.csv", gb("类别,乡镇（街道）,公民身份号码,姓名,纳入时间\r\n"+
				"低保,白鹿镇,"+newDibao.ID.Number()+",吴平,2024年12月10日\r\n"+
				"特困供养,白鹿镇,"+tekun.ID.Number()+",郑秀英,2024-12-01\r\n"+
				"城市低保,白鹿镇,"+stranger.ID.Number()+",孙丽,\r\n"+
				"低保,白鹿镇,"+newDibao.ID.Number()+",吴平,2024年12月10日\r\n"))
			out := l.must("roster", "import", "--source", "civil_affairs", "--file", civil, "--as-of", "2025-01-01", "--user", "clerk.li")
			m := regexp.MustCompile(`import ([0-9a-f]{16}):`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("import printed:\n%s", out)
			}
			civilID := m[1]
			for _, want := range []string{"3 lines (1 duplicates dropped), 2 persons known", "3 change proposals wait",
				"living_subsidy_off_dibao            2", "on_tekun                            1",
				"dibao_without_living_subsidy        1", "unknown_person                      1"} {
				if !strings.Contains(out, want) {
					t.Errorf("import printed no %q:\n%s", want, out)
				}
			}
			again := l.must("roster", "import", "--source", "civil_affairs", "--file", civil, "--as-of", "2025-01-01", "--user", "clerk.li")
			if !strings.Contains(again, "imported already (import "+civilID) {
				t.Errorf("the same file again printed:\n%s", again)
			}
			if out := l.must("roster", "imports"); !strings.HasPrefix(out, "1 imports") {
				t.Errorf("imports after the same file twice:\n%s", out)
			}
			diffs := l.must("roster", "differences", "--import", civilID, "--township", "白鹿镇")
			if !strings.Contains(diffs, "5 differences") || !strings.Contains(diffs, "unknown_person") || strings.Contains(diffs, stranger.ID.Number()) ||
				!strings.Contains(diffs, "proposal roster-"+civilID+" (pending)") {
				t.Errorf("differences printed:\n%s", diffs)
			}

			// What no proposal answers is a caseworker's to look into.
			review := l.must("roster", "differences", "--import", civilID, "--review")
			if !strings.HasPrefix(review, "1 differences") || !strings.Contains(review, "unknown_person") || !strings.Contains(review, "孙丽") {
				t.Errorf("differences to review:\n%s", review)
			}

			// Maker-checker: the importer may not approve.
			proposal := "roster-" + civilID
			if _, _, err := l.run("roster", "approve", "--person", string(offDibao.PID), "--proposal", proposal, "--user", "clerk.li"); err == nil ||
				!strings.Contains(err.Error(), "another user") {
				t.Fatalf("the importer approved: %v", err)
			}
			l.must("roster", "approve", "--person", string(offDibao.PID), "--proposal", proposal, "--user", "approver.chen")
			l.must("roster", "approve", "--person", string(newDibao.PID), "--proposal", proposal, "--user", "approver.chen")
			l.must("roster", "reject", "--person", string(tekun.PID), "--proposal", proposal, "--user", "approver.chen",
				"--reason", "特困 listed in error; civil affairs corrects its list")
			state := func(r resident) domain.Beneficiary {
				loaded, err := l.persons.Load(l.ctx, r.PID)
				if err != nil {
					t.Fatal(err)
				}
				return loaded.State
			}
			if s := state(offDibao); s.Household.Dibao || s.Entitlements[domain.ProgramLivingSubsidy].Status != domain.EntitlementStatusTerminated ||
				!s.Entitlements[domain.ProgramLivingSubsidy].EffectiveTo.Equal(domain.MustDate("2024-12-31")) {
				t.Errorf("off 低保 after approval: %+v %+v", s.Household, s.Entitlements[domain.ProgramLivingSubsidy])
			}
			if s := state(newDibao); !s.Household.Dibao || s.Entitlements[domain.ProgramLivingSubsidy] == nil ||
				!s.Entitlements[domain.ProgramLivingSubsidy].EffectiveFrom.Equal(domain.MustDate("2025-01-01")) {
				t.Errorf("newly on 低保 after approval: %+v %+v", s.Household, s.Entitlements[domain.ProgramLivingSubsidy])
			}
			if s := state(tekun); s.Household.Tekun || s.Entitlements[domain.ProgramLivingSubsidy].Status != domain.EntitlementStatusActive ||
				s.Proposals[proposal].Status != domain.ProposalRejected {
				t.Errorf("rejected 特困: %+v %+v", s.Household, s.Entitlements[domain.ProgramLivingSubsidy])
			}

			// Human resources, UTF-8 with a BOM: D draws the work-injury
			// nursing allowance and the care subsidy.
			hr := file("工伤护理费名册.csv", []byte("\ufeff姓名,身份证号,乡镇\n冯建国,"+nursing.ID.Number()+",白鹿镇\n"))
			out = l.must("roster", "import", "--source", "human_resources", "--file", hr, "--as-of", "2025-01-01", "--user", "clerk.li")
			if !strings.Contains(out, "work_injury_nursing_with_care       1") {
				t.Errorf("human resources import printed:\n%s", out)
			}
			hrID := regexp.MustCompile(`import ([0-9a-f]{16}):`).FindStringSubmatch(out)[1]
			l.must("roster", "approve", "--person", string(nursing.PID), "--proposal", "roster-"+hrID, "--user", "approver.chen")
			if s := state(nursing); !s.Household.WorkInjuryNursing || s.Entitlements[domain.ProgramCareSubsidy].Status != domain.EntitlementStatusTerminated {
				t.Errorf("work-injury nursing after approval: %+v %+v", s.Household, s.Entitlements[domain.ProgramCareSubsidy])
			}

			// Rural affairs, XLSX: F's household newly monitored.
			x := excelize.NewFile()
			for i, row := range [][]any{{"序号", "户类型", "监测类型", "姓名", "身份证号", "乡镇"},
				{1, "监测户", "突发严重困难户", "褚明", monitored.ID.Number(), "白鹿镇"}} {
				cell, _ := excelize.CoordinatesToCellName(1, i+1)
				if err := x.SetSheetRow("Sheet1", cell, &row); err != nil {
					t.Fatal(err)
				}
			}
			buf, err := x.WriteToBuffer()
			if err != nil {
				t.Fatal(err)
			}
			rural := file("监测户名单.xlsx", buf.Bytes())
			out = l.must("roster", "import", "--source", "rural_affairs", "--file", rural, "--as-of", "2025-01-01", "--user", "clerk.li")
			if !strings.Contains(out, "household_changed                   1") || !strings.Contains(out, "monitored_hardship") {
				t.Errorf("rural affairs import printed:\n%s", out)
			}
			ruralID := regexp.MustCompile(`import ([0-9a-f]{16}):`).FindStringSubmatch(out)[1]
			l.must("roster", "approve", "--person", string(monitored.PID), "--proposal", "roster-"+ruralID, "--user", "approver.chen")
			if s := state(monitored); s.Household.Class != domain.HouseholdMonitoredHardship {
				t.Errorf("monitored after approval: %+v", s.Household)
			}

			// Deaths: E died; a death of someone the ledger does not know
			// is not listed.
			deaths := file("死亡名单.csv", []byte("姓名,身份证号,死亡日期\n陈桂兰,"+died.ID.Number()+",2024/12/20\n孙丽,"+stranger.ID.Number()+",2024-12-22\n"))
			out = l.must("roster", "import", "--source", "deaths", "--file", deaths, "--as-of", "2025-01-01", "--user", "clerk.li")
			if !strings.Contains(out, "death_not_recorded                  1") || strings.Contains(out, "unknown_person") {
				t.Errorf("deaths import printed:\n%s", out)
			}
			deathsID := regexp.MustCompile(`import ([0-9a-f]{16}):`).FindStringSubmatch(out)[1]
			l.must("roster", "approve", "--person", string(died.PID), "--proposal", "roster-"+deathsID, "--user", "approver.chen")
			if s := state(died); !s.Deceased || !s.DateOfDeath.Equal(domain.MustDate("2024-12-20")) {
				t.Errorf("death after approval: deceased %v on %s", s.Deceased, s.DateOfDeath)
			}

			// The read model shows where each proposal stands.
			diffs = l.must("roster", "differences", "--import", civilID)
			for _, want := range []string{"(approved)", "(rejected)", "周华", "吴平", "郑秀英", "孙丽"} {
				if !strings.Contains(diffs, want) {
					t.Errorf("differences after the decisions lack %q:\n%s", want, diffs)
				}
			}
			if out := l.must("roster", "imports"); !strings.HasPrefix(out, "4 imports") {
				t.Errorf("imports:\n%s", out)
			}
		})
	}
}

// A long roster's differences go in parts, each event within the store's
// limits (the protocol server enforces the real server's): 1,500 persons
// on 低保 whom the ledger does not know are all listed.
func TestRosterWithManyDifferencesOnEventStoreDB(t *testing.T) {
	l := newCLILedger(t, "esdb")
	known := l.resident("1958-02-11", 31)
	l.enrol(known, "a", "周华", "白鹿镇", domain.CategoryPhysical, 3, livingSubsidyFrom("2024-01-01"))
	l.projectInBackground()
	var b strings.Builder
	b.WriteString("姓名,身份证号,乡镇,类别,备注\n周华," + known.ID.Number() + ",白鹿镇,低保,\n")
	for i := range 1500 {
		id := l.resident(domain.MustDate("1950-01-01").AddDays(i/900).String(), i%900+1)
		fmt.Fprintf(&b, "孙丽,%s,星子镇,低保,%s\n", id.ID.Number(), strings.Repeat("未登记残疾人", 8))
	}
	path := filepath.Join(t.TempDir(), "dibao.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out := l.must("roster", "import", "--source", "civil_affairs", "--file", path, "--as-of", "2025-01-01", "--user", "clerk.li")
	if !strings.Contains(out, "unknown_person                   1500") {
		t.Fatalf("import printed:\n%s", out)
	}
	id := regexp.MustCompile(`import ([0-9a-f]{16}):`).FindStringSubmatch(out)[1]
	imports, err := app.NewRosters(l.store, l.persons, l.key).Imports(l.ctx, domain.RosterCivilAffairs)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range imports {
		if imp.Parts < 3 {
			t.Errorf("1,500 differences in %d parts; want at least 3 events", imp.Parts)
		}
	}
	if diffs := l.must("roster", "differences", "--import", id, "--township", "星子镇"); !strings.HasPrefix(diffs, "1500 differences") {
		t.Errorf("differences:\n%.300s", diffs)
	}
}

// An import stopped midway — here, cancelled as soon as the first person's
// proposal is appended — is finished by importing the same file again: no
// person gets a second proposal, and the import records every proposal
// once. On both stores.
func TestRosterImportStoppedMidwayFinishesOnce(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			l := newCLILedger(t, store)
			var lines strings.Builder
			lines.WriteString("姓名,身份证号,类别\n")
			var people []resident
			for i := range 5 {
				r := l.resident("1960-01-01", 40+i)
				l.enrol(r, fmt.Sprintf("p%d", i), "周华", "白鹿镇", domain.CategoryPhysical, 3, livingSubsidyFrom("2024-01-01"))
				people = append(people, r)
			}
			stranger := l.resident("1961-01-01", 99)
			fmt.Fprintf(&lines, "孙丽,%s,低保\n", stranger.ID.Number()) // the five are no longer on 低保
			l.projectInBackground()
			f, err := readRosterFile(writeTemp(t, "dibao.csv", lines.String()), domain.RosterCivilAffairs, domain.MustDate("2025-01-01"))
			if err != nil {
				t.Fatal(err)
			}
			rosters := app.NewRosters(l.store, l.persons, l.key)
			read := projections.ReadModels{Q: l.db.Pool, Store: l.store}
			meta := domain.CommandMeta{CommandID: "import-1", Actor: "clerk.li", Role: "clerk", Now: time.Now()}
			ctx, cancel := context.WithCancel(l.ctx)
			_, err = rosters.Import(ctx, meta, read, f, func(done, total int) {
				if done == 1 {
					cancel() // the first proposal is in: stop here
				}
			})
			cancel()
			if err == nil {
				t.Fatal("the cancelled import succeeded")
			}
			if imports, _ := rosters.Imports(l.ctx, domain.RosterCivilAffairs); len(imports) != 0 {
				t.Fatalf("a stopped import recorded itself: %+v", imports)
			}
			res, err := rosters.Import(l.ctx, domain.CommandMeta{CommandID: "import-2", Actor: "clerk.li", Role: "clerk", Now: time.Now()}, read, f, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Replayed || res.Import.Proposed != 5 || res.Import.Differences[domain.DiffLivingSubsidyOffDibao] != 5 {
				t.Errorf("the import run again: replayed %v, %d proposed, differences %v; want 5 proposals", res.Replayed, res.Import.Proposed, res.Import.Differences)
			}
			for _, r := range people {
				loaded, err := l.persons.Load(l.ctx, r.PID)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
				for _, e := range loaded.Events {
					if _, ok := e.Event.(*domain.ChangeProposed); ok {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%s has %d change proposals; want 1", r.PID, n)
				}
			}
			if again, err := rosters.Import(l.ctx, domain.CommandMeta{CommandID: "import-3", Actor: "clerk.li", Role: "clerk", Now: time.Now()}, read, f, nil); err != nil || !again.Replayed {
				t.Errorf("the same file a third time: replayed %v, %v", again.Replayed, err)
			}
		})
	}
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
