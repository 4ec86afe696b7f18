package main

import (
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

func TestPayrollCommands(t *testing.T) {
	l := newCLILedger(t, "pg")
	ctx, db := l.ctx, l.db
	for i, birth := range []string{"1950-02-03", "1962-07-30"} {
		l.enrol(l.resident(birth, 11+i), birth, "赵敏", "白鹿镇", domain.CategoryVisual, 2, livingSubsidyFrom("2025-01-01"))
	}
	run1 := func(args ...string) (string, error) {
		out, _, err := l.run(args...)
		return out, err
	}
	if _, err := run1("project", "--once"); err != nil {
		t.Fatal(err)
	}
	out, err := run1("payroll", "run", "--program", "living_subsidy", "--period", "2025-02", "--user", "fin.wu")
	if err != nil || !strings.Contains(out, ": 4 lines, total 440.00 (regular 2, arrears 2, reissue 0)") {
		t.Fatalf("run: %v\n%s", err, out)
	}
	batch := batchOf(t, out)
	if _, err := run1("project", "--once"); err != nil {
		t.Fatal(err)
	}
	if _, err := run1("payroll", "approve", batch, "--user", "fin.wu"); err == nil || !strings.Contains(err.Error(), "may not approve") {
		t.Fatalf("self-approval: %v", err)
	}
	if out, err = run1("payroll", "approve", batch, "--user", "fin.li"); err != nil || !strings.Contains(out, "approved "+batch+" by fin.li: 4 payments issued, total 440.00") {
		t.Fatalf("approve: %v %s", err, out)
	}
	if _, err := run1("project", "--once"); err != nil {
		t.Fatal(err)
	}
	if _, err = run1("payroll", "run", "--program", "living_subsidy", "--period", "2025-02", "--user", "fin.wu"); err == nil || !strings.Contains(err.Error(), "nothing is owed") {
		t.Fatalf("the same run again: %v", err)
	}
	var paid string
	if err := db.Pool.QueryRow(ctx, `SELECT sum(amount)::text FROM payments`).Scan(&paid); err != nil || paid != "440.00" {
		t.Fatalf("payments register holds %s, %v; want 440.00", paid, err)
	}
	for _, args := range [][]string{
		{"payroll", "run", "--program", "condolence", "--period", "2025-02", "--user", "u"},
		{"payroll", "run", "--program", "living_subsidy", "--period", "2025-13", "--user", "u"},
		{"payroll", "run", "--program", "living_subsidy", "--period", "2025-02"},
		{"payroll", "approve", "not-a-batch", "--user", "u"},
		{"payroll", "frobnicate"},
	} {
		if _, err := run1(args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}
