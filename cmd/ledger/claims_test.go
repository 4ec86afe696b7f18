package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

// A death recorded after three months were paid, effective in January:
// February and March become claims; part of one is recovered, the rest
// written off, and the program's months show it.
func TestOverpaymentClaimsRecoveredAndWrittenOff(t *testing.T) {
	l := newCLILedger(t, "pg")
	ctx, db := l.ctx, l.db
	r := l.resident("1940-05-06", 31)
	exec := func(cmdID string, c domain.Command) { t.Helper(); l.exec(r.PID, cmdID, c) }
	l.enrol(r, "r", "孙", "星子镇", domain.CategoryPhysical, 2, livingSubsidyFrom("2025-01-01"))
	run1 := func(args ...string) (string, error) {
		out, errOut, err := l.run(args...)
		return out + errOut, err
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := run1(args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	for _, m := range []string{"2025-01", "2025-02", "2025-03"} {
		must("project", "--once")
		batch := batchOf(t, must("payroll", "run", "--program", "living_subsidy", "--period", m, "--user", "fin.wu"))
		must("project", "--once")
		must("payroll", "approve", batch, "--user", "fin.li")
	}
	exec("d", domain.RecordDeath{DateOfDeath: domain.MustDate("2025-01-15")})
	must("project", "--once")
	out := must("payroll", "claims", "--program", "living_subsidy", "--user", "fin.wu")
	ids := regexp.MustCompile(`overpayment claim (ovp-\S+): 110.00 for (2025-0[23])`).FindAllStringSubmatch(out, -1)
	if len(ids) != 2 || !strings.Contains(out, "2 claims recorded") {
		t.Fatalf("claims:\n%s", out)
	}
	must("project", "--once")
	if again := must("payroll", "claims", "--program", "living_subsidy", "--user", "fin.wu"); !strings.Contains(again, "0 claims recorded") {
		t.Fatalf("claims twice:\n%s", again)
	}
	must("project", "--once")
	feb := ids[0][1]
	must("payroll", "recover", feb, "--amount", "60.00", "--user", "fin.wu")
	must("project", "--once")
	if out, err := run1("payroll", "write-off", feb, "--amount", "60.00", "--user", "fin.wu", "--reason", "hardship"); err == nil {
		t.Fatalf("writing off more than is left: %s", out)
	}
	if out, err := run1("payroll", "write-off", feb, "--amount", "50.00", "--user", "fin.wu"); err == nil {
		t.Fatalf("a write-off without a reason: %s", out)
	}
	must("payroll", "write-off", feb, "--amount", "50.00", "--user", "fin.wu", "--reason", "hardship")
	must("project", "--once")
	months := must("payroll", "months", "--program", "living_subsidy", "--year", "2025")
	if !strings.Contains(months, "2025-02,110.00,1,110.00,1,110.00,60.00,50.00") || !strings.Contains(months, "2025-03,110.00,1,110.00,1,110.00,0.00,0.00") {
		t.Fatalf("program months:\n%s", months)
	}
	var owed string
	if err := db.Pool.QueryRow(ctx, `SELECT overpayment_owed::text FROM entitlements WHERE program = 'living_subsidy'`).Scan(&owed); err != nil || owed != "110.00" {
		t.Fatalf("overpayment owed on the entitlement: %s, %v; want 110.00 (220.00 claimed, 60.00 recovered, 50.00 written off)", owed, err)
	}
}
