package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// ledger report annual, end to end: persons through the command handler,
// payroll through `ledger payroll run|approve`, the read models through
// `ledger project --once`, then the summary in every format.
func TestReportAnnual(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			reportAnnual(t, newCLILedger(t, store))
		})
	}
}

func reportAnnual(t *testing.T, l *cliLedger) {
	db, ctx := l.db, l.ctx
	r := l.resident("1961-04-09", 31)
	id, hash, pid := r.ID, r.Hash, r.PID
	cert, _ := domain.NewCertificateNumber(id, domain.CategoryPhysical, 1)
	for k, c := range []domain.Command{
		domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "黄美华", Township: "白鹿镇",
			Household: domain.HouseholdStatus{Class: domain.HouseholdMonitoredUnstable, Dibao: true}, RegisteredOn: domain.MustDate("2023-05-01")},
		domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
		domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-03-01")},
		domain.RecordOneOffGrant{GrantID: "cond-2024", Program: domain.ProgramCondolence, Amount: domain.MustMoney("500.00"), EffectiveOn: domain.MustDate("2024-02-09")},
		domain.RecordInKindIssue{IssueID: "chair-1", Item: "轮椅", Quantity: 3, UnitValue: domain.MustMoney("350.00"), EffectiveOn: domain.MustDate("2024-06-01")},
	} {
		l.exec(pid, "annual-cli-"+string(rune('a'+k)), c)
	}
	run1 := l.run
	// Both programs through payroll, and the bank settles every payment:
	// paid is what settled.
	for _, program := range []string{"living_subsidy", "condolence"} {
		batch := ""
		for _, args := range [][]string{
			{"project", "--once"},
			{"payroll", "run", "--program", program, "--period", "2024-12", "--paid-on", "2024-12-20", "--user", "fin.wu"},
			{"project", "--once"},
			{"payroll", "approve", "BATCH", "--user", "fin.li"},
			{"project", "--once"},
			{"reconcile", "BATCH", "--file", "RETURN", "--user", "fin.wu"},
			{"project", "--once"},
		} {
			if len(args) > 2 && args[2] == "BATCH" {
				args[2] = batch
			}
			if args[0] == "reconcile" {
				args[1] = batch
				report, _, err := run1("payroll", "report", batch, "--csv")
				if err != nil {
					t.Fatal(err)
				}
				ret := "参考号,金额,状态\r\n"
				for _, line := range strings.Split(strings.TrimSpace(report), "\n")[1:] {
					f := strings.Split(line, ",")
					ret += f[0] + "," + f[4] + ",成功\r\n"
				}
				args[3] = filepath.Join(t.TempDir(), "return.csv")
				if err := os.WriteFile(args[3], []byte(ret), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out, _, err := run1(args...)
			if err != nil {
				t.Fatalf("%v: %v\n%s", args, err, out)
			}
			if args[1] == "run" {
				batch = batchOf(t, out)
			}
		}
	}

	out, _, err := run1("report", "annual", "--year", "2024", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got reports.AnnualSummary
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not the summary's JSON: %v\n%s", err, out)
	}
	want, err := reports.Annual(ctx, projections.ReadModels{Q: db.Pool}, 2024, domain.DateOf(time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.MarshalIndent(want, "", "  ")
	if out != string(wantJSON)+"\n" {
		t.Errorf("report annual --format json printed\n%s\nwant\n%s", out, wantJSON)
	}
	byCode := map[domain.ProgramCode]reports.AnnualProgram{}
	for _, p := range got.Programs {
		byCode[p.Program] = p
	}
	living, cond, kind := byCode[domain.ProgramLivingSubsidy], byCode[domain.ProgramCondolence], byCode[domain.ProgramDeviceInKind]
	switch {
	case living.Cases != 1 || living.Granted != 1 || living.Paid.String() != "1000.00": // March to December
		t.Errorf("living_subsidy %+v", living)
	case cond.Cases != 1 || cond.Paid.String() != "500.00":
		t.Errorf("condolence %+v", cond)
	case kind.InKindItems != 3 || kind.InKindValue.String() != "1050.00" || !kind.Paid.IsZero():
		t.Errorf("device_in_kind %+v", kind)
	case got.TotalPaid.String() != "1500.00" || got.Households.MonitoredUnstable != 1 || got.Households.Monitored != 1:
		t.Errorf("total %s, households %+v", got.TotalPaid, got.Households)
	}

	// The default format is the table; csv goes to stdout too.
	if out, _, err = run1("report", "annual", "--year", "2024"); err != nil || !strings.Contains(out, "Total paid (合计): 1500.00") ||
		!strings.Contains(out, "困难残疾人生活补贴") {
		t.Errorf("table: %v\n%s", err, out)
	}
	if out, _, err = run1("report", "annual", "--year", "2024", "--format", "csv"); err != nil || !strings.HasPrefix(out, "\ufeff年度(Year),") ||
		!strings.Contains(out, "\r\n2024,program,living_subsidy,困难残疾人生活补贴,") || !strings.Contains(out, "2024,total,total_paid,合计,Total paid,,,,,,1500.00,") {
		t.Errorf("csv: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "annual.xlsx")
	out, logged, err := run1("report", "annual", "--year", "2024", "--format", "xlsx", "--out", file)
	if err != nil || out != "" || !strings.Contains(logged, "written to "+file) {
		t.Fatalf("xlsx: %v, stdout %q\n%s", err, out, logged)
	}
	x, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if v, _ := x.GetCellValue(reports.AnnualSheet, "K2"); v != "1000.00" {
		t.Errorf("xlsx K2 (living_subsidy paid) = %q, want 1000.00", v)
	}

	// Bad input: a usage error (exit 2) naming the flag, before any work.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "annual"}, "year"},
		{[]string{"report", "annual", "--year", "1999"}, "year"},
		{[]string{"report", "annual", "--year", "2024x"}, "year"},
		{[]string{"report", "annual", "--year", "2024", "--format", "pdf"}, "format"},
		{[]string{"report", "annual", "--year", "2024", "--format", "xlsx"}, "out"},
		{[]string{"report", "annual", "--year", "2024", "extra"}, "extra"},
	} {
		_, _, err := run1(c.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want a usage error naming %s", c.args, err, exitCode(err), c.want)
		}
	}
}
