package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/domain"
)

func TestReportChanges(t *testing.T) {
	l := newCLILedger(t, "pg")
	ctx, db := l.ctx, l.db
	cst := time.FixedZone("CST", 8*3600)
	ids := map[string]domain.ResidentID{}
	n := 0
	for i, p := range []struct{ name, township, birth string }{{"赵敏", "白鹿镇", "1950-02-03"}, {"钱芳", "星子镇", "1962-07-30"}} {
		r := l.resident(p.birth, 11+i)
		id, hash := r.ID, r.Hash
		ids[p.name] = id
		for _, c := range []struct {
			when time.Time
			cmd  domain.Command
		}{
			{time.Date(2024, 11, 2, 9, 0, 0, 0, cst), domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: p.name, Township: p.township,
				Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-11-02")}},
			{time.Date(2024, 12, 2, 9, 0, 0, 0, cst), domain.RecordDeath{DateOfDeath: domain.MustDate("2024-12-01")}},
		} {
			n++
			meta := domain.CommandMeta{CommandID: "fixture-" + string(rune('a'+n)), Actor: "clerk", Role: "clerk", Now: c.when}
			l.execAs(r.PID, meta, c.cmd)
		}
	}
	run1 := l.run
	if _, _, err := run1("project", "--once"); err != nil {
		t.Fatal(err)
	}

	// Civil affairs, CSV on stdout, full ID numbers.
	out, errOut, err := run1("report", "changes", "--from", "2024-11-21", "--to", "2024-12-20", "--department", "civil_affairs",
		"--format", "csv", "--user", "clerk.zhou")
	if err != nil {
		t.Fatalf("report changes: %v\n%s", err, errOut)
	}
	if !strings.HasPrefix(out, "\ufeff月度变动通知(Monthly change notice) civil_affairs.2024-12-20.1") ||
		!strings.Contains(out, "白鹿镇,赵敏,"+ids["赵敏"].Number()+",死亡(person_died)") ||
		!strings.Contains(out, "星子镇,钱芳,"+ids["钱芳"].Number()+",死亡(person_died)") {
		t.Errorf("csv:\n%s", out)
	}
	if !strings.Contains(errOut, "change notice civil_affairs.2024-12-20.1 for civil_affairs (every township): 2024-11-21 to 2024-12-20, 2 rows, FULL ID numbers") ||
		!strings.Contains(errOut, "csv written to stdout, sha256 ") {
		t.Errorf("summary:\n%s", errOut)
	}

	// The townships' notice for 白鹿镇 as XLSX: --out is required.
	if _, _, err := run1("report", "changes", "--from", "2024-11-21", "--to", "2024-12-20", "--township", "白鹿镇", "--format", "xlsx", "--user", "u"); !isUsage(err) {
		t.Errorf("xlsx without --out: %v; want a usage error", err)
	}
	file := filepath.Join(t.TempDir(), "bailu.xlsx")
	if _, errOut, err = run1("report", "changes", "--from", "2024-11-21", "--to", "2024-12-20", "--township", "白鹿镇", "--format", "xlsx",
		"--out", file, "--user", "clerk.zhou"); err != nil {
		t.Fatalf("xlsx: %v\n%s", err, errOut)
	}
	x, err := excelize.OpenFile(file)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := x.GetRows("变动通知")
	x.Close()
	if err != nil || len(rows) != 4 || rows[3][1] != "赵敏" || rows[3][2] != ids["赵敏"].Masked() {
		t.Errorf("xlsx rows %q, %v", rows, err)
	}
	if !strings.Contains(errOut, "townships.2024-12-20.1 for the townships (白鹿镇)") || !strings.Contains(errOut, "masked ID numbers") {
		t.Errorf("summary:\n%s", errOut)
	}

	// The next civil affairs notice starts where the last ended.
	if _, errOut, err = run1("report", "changes", "--to", "2025-01-20", "--department", "civil_affairs", "--format", "csv", "--user", "clerk.zhou"); err != nil ||
		!strings.Contains(errOut, "civil_affairs.2025-01-20.2 for civil_affairs (every township): 2024-12-21 to 2025-01-20, 0 rows") {
		t.Errorf("next notice: %v\n%s", err, errOut)
	}

	// Bad input: usage errors naming the flag, or the decider's refusals.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--to", "2024-12-20", "--format", "csv"}, "user"},
		{[]string{"--from", "2024-11-21", "--format", "csv", "--user", "u"}, "to"},
		{[]string{"--to", "2024-12-32", "--format", "csv", "--user", "u"}, "to"},
		{[]string{"--to", "2024-12-20", "--format", "pdf", "--user", "u"}, "format"},
		{[]string{"--to", "2024-12-20", "--department", "police", "--format", "csv", "--user", "u"}, "department"},
		{[]string{"--to", "2999-01-01", "--department", "agriculture", "--from", "2024-11-21", "--format", "csv", "--user", "u"}, "to"},
		{[]string{"--to", "2024-12-20", "--department", "civil_affairs", "--from", "2024-11-21", "--format", "csv", "--user", "u"}, "notice_overlap"},
		{[]string{"--to", "2024-12-20", "--township", "白鹿", "--from", "2024-11-21", "--format", "csv", "--user", "u"}, "township"},
	} {
		_, _, err := run1(append([]string{"report", "changes"}, tc.args...)...)
		var fe *domain.FieldError
		var re *domain.RuleError
		switch {
		case err == nil:
			t.Errorf("%v succeeded", tc.args)
		case isUsage(err) && strings.HasPrefix(err.Error(), tc.want+":"):
		case errors.As(err, &fe) && fe.Field == tc.want:
		case errors.As(err, &re) && re.Rule == tc.want:
		default:
			t.Errorf("%v: %v; want an error on %s", tc.args, err, tc.want)
		}
	}
	var count int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE stream LIKE 'notices-%'`).Scan(&count); err != nil || count != 3 {
		t.Errorf("%d notices recorded, %v; want 3", count, err)
	}
}

func isUsage(err error) bool {
	var u usageError
	return errors.As(err, &u)
}
