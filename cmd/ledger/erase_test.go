package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// Erasure, end to end on both stores: a person registered, paid (the bank
// settles the month), told of in a civil-affairs notice with their full
// ID number, and then dies. The erasure is refused to a non-admin and
// before retention ends; once it has ended it is recorded and the
// person's key deleted: every earlier event is still there byte for byte
// and `ledger verify` passes, but the ID number, name and account number
// are nowhere in the event store, the read models or the logs; the
// notice issued before still matches the hash recorded for it.
func TestErasePerson(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			erasePerson(t, newCLILedger(t, store))
		})
	}
}

func erasePerson(t *testing.T, l *cliLedger) {
	ctx := context.Background()
	var logs bytes.Buffer
	must := func(args ...string) string {
		t.Helper()
		out, errOut, err := l.run(args...)
		logs.WriteString(errOut)
		if err != nil {
			t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
		}
		return out
	}
	v, _ := vault.New(devAccountKey)
	r := l.resident("1950-02-03", 31)
	const name = "欧阳淑芬"
	acct, _ := domain.ParseBankAccountNumber("account_number", "6228480012345678931")
	sealed, _ := v.Seal(acct.Digits())
	l.enrol(r, "erase", name, "温泉镇", domain.CategoryPhysical, 2,
		domain.RecordBankAccount{Account: domain.BankAccount{AccountName: name, Bank: "农业银行", AccountMasked: acct.Masked(), AccountSealed: sealed}},
		livingSubsidyFrom("2024-12-01"))

	// Paid for December 2024, and the bank settles it.
	must("project", "--once")
	batch := batchOf(t, must("payroll", "run", "--program", "living_subsidy", "--period", "2024-12", "--user", "fin.wu"))
	must("project", "--once")
	must("payroll", "approve", batch, "--user", "fin.li")
	must("project", "--once")
	dir := t.TempDir()
	must("payroll", "export", batch, "--user", "fin.wu", "--format", "csv", "--out", filepath.Join(dir, "pay.csv"))
	ret := filepath.Join(dir, "return.csv")
	ref := domain.LineReference(batch, r.PID, per(t, "2024-12"))
	_ = os.WriteFile(ret, []byte("参考号,金额,状态,失败原因,银行流水号\r\n"+ref+",100.00,成功,,B1\r\n"), 0o600)
	if out := must("reconcile", batch, "--file", ret, "--user", "fin.wu"); !strings.Contains(out, "settled                 1          100.00") {
		t.Fatalf("reconcile:\n%s", out)
	}
	// The death is recorded yesterday: a notice covers days already over.
	yesterday := time.Now().In(domain.BusinessZone).AddDate(0, 0, -1)
	l.execAs(r.PID, domain.CommandMeta{CommandID: "erase-death", Actor: "clerk", Role: "clerk", Now: yesterday},
		domain.RecordDeath{DateOfDeath: domain.MustDate("2025-01-10")})

	// Civil affairs is told of the death with the full ID number.
	must("project", "--once")
	day := domain.BusinessDate(yesterday)
	notice := must("report", "changes", "--from", day.AddDays(-3).String(), "--to", day.String(), "--department", "civil_affairs",
		"--format", "csv", "--user", "clerk.zhou")
	if !strings.Contains(notice, r.ID.Number()) || !strings.Contains(notice, name) {
		t.Fatalf("the notice does not carry the full ID number and name:\n%s", notice)
	}
	sum := sha256.Sum256([]byte(notice))
	notices, err := app.NewNotices(l.store).State(ctx, domain.DepartmentCivilAffairs)
	if err != nil || len(notices.Notices) != 1 || notices.Notices[0].FileSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("notice recorded as %+v (%v); want sha256 %x", notices.Notices, err, sum)
	}

	// Only an admin may erase, and not before retention ends.
	if _, errOut, err := l.run("person", "erase", string(r.PID), "--user", "clerk.zhou", "--reason", "request 2026-01"); err == nil ||
		!strings.Contains(err.Error(), "no user clerk.zhou") {
		t.Fatalf("erase by an unknown user: %v\n%s", err, errOut)
	}
	must("user", "add", "clerk.zhou", "--role", "clerk")
	must("user", "add", "admin.wu", "--role", "admin")
	if _, _, err := l.run("person", "erase", string(r.PID), "--user", "clerk.zhou", "--reason", "request 2026-01"); err == nil ||
		!strings.Contains(err.Error(), "has role clerk; only admin") {
		t.Fatalf("erase by a clerk: %v", err)
	}
	if _, _, err := l.run("person", "erase", string(r.PID), "--user", "admin.wu"); !isUsage(err) || !strings.Contains(err.Error(), "--reason is required") {
		t.Fatalf("erase without a reason: %v", err)
	}
	var backup string // the key as a PostgreSQL backup taken now holds it
	if err := l.db.Pool.QueryRow(ctx, `SELECT sealed_key FROM person_keys WHERE person_id = $1`, string(r.PID)).Scan(&backup); err != nil {
		t.Fatal(err)
	}
	before := readLog(t, l.store)
	if _, _, err := l.run("person", "erase", string(r.PID), "--user", "admin.wu", "--reason", "request 2026-01"); err == nil ||
		!strings.Contains(err.Error(), "kept until 2055-12-31") {
		t.Fatalf("erase within retention: %v", err)
	}
	if after := readLog(t, l.store); len(after) != len(before) {
		t.Fatalf("a refused erasure appended %d events", len(after)-len(before))
	}

	// Thirty years on.
	meta := domain.CommandMeta{CommandID: "erasure-1", Actor: "admin.wu", Role: "admin", Reason: "request 2056-003", Now: time.Date(2056, 1, 2, 9, 0, 0, 0, domain.BusinessZone)}
	if _, err := l.persons.Erase(ctx, r.PID, meta, "request 2056-003"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.persons.Erase(ctx, r.PID, meta, "request 2056-003"); err != nil {
		t.Fatalf("the same erasure again: %v", err)
	}
	meta.CommandID = "erasure-2"
	if _, err := l.persons.Erase(ctx, r.PID, meta, "again"); err == nil || !strings.Contains(err.Error(), "erased on 2056-01-02 already") {
		t.Fatalf("a second erasure: %v", err)
	}
	after := readLog(t, l.store)
	if len(after) != len(before)+1 || after[len(after)-1].Type != domain.TypePersonErased {
		t.Fatalf("the erasure appended %d events", len(after)-len(before))
	}
	for i, ev := range before {
		if a := after[i]; a.ID != ev.ID || !bytes.Equal(a.Data, ev.Data) || !bytes.Equal(a.Metadata, ev.Metadata) {
			t.Fatalf("event %s@%d changed with the erasure", ev.Stream, ev.Revision)
		}
	}
	must("project", "--once")
	if out := must("verify"); !strings.Contains(out, "digest") {
		t.Errorf("verify: %s", out)
	}
	hist := must("history", string(r.PID))
	if !strings.Contains(hist, "personal data erased on 2056-01-02") || !strings.Contains(hist, "ID and name erased") {
		t.Errorf("history after erasure:\n%s", hist)
	}
	// PostgreSQL restored from the backup brings the key back; the
	// erasures the log records are applied again.
	if _, err := l.db.Pool.Exec(ctx, `UPDATE person_keys SET sealed_key = $2, erased_at = NULL WHERE person_id = $1`, string(r.PID), backup); err != nil {
		t.Fatal(err)
	}
	if hist := must("history", string(r.PID)); !strings.Contains(hist, r.ID.Masked()) {
		t.Fatalf("the restored key does not open the data again (the test restores nothing):\n%s", hist)
	}
	if out := must("person", "reapply-erasures"); !strings.Contains(out, "1 erasures in the log") {
		t.Errorf("reapply-erasures: %s", out)
	}
	if hist := must("history", string(r.PID)); strings.Contains(hist, r.ID.Masked()) || !strings.Contains(hist, "ID and name erased") {
		t.Errorf("history after the erasures were applied again:\n%s", hist)
	}

	// Nothing of the person is left to read.
	secrets := []string{r.ID.Number(), r.ID.Masked(), name, acct.Digits(), acct.Masked()}
	var stored strings.Builder
	for _, ev := range after {
		stored.Write(ev.Data)
		stored.Write(ev.Metadata)
	}
	stored.WriteString(dumpTables(t, l))
	stored.WriteString(logs.String())
	for _, s := range secrets {
		if strings.Contains(stored.String(), s) {
			t.Errorf("%q is still readable after the erasure", s)
		}
	}
	// The notice issued before the erasure still proves itself by its hash;
	// the archive no longer hands out a copy, which would need the erased
	// data.
	notices, err = app.NewNotices(l.store).State(ctx, domain.DepartmentCivilAffairs)
	if err != nil || notices.Notices[0].FileSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("after the erasure the notice is recorded as %+v (%v)", notices.Notices, err)
	}
	src := reports.NoticeSource{Changelog: projections.ReadModels{Q: l.db.Pool, Store: l.store, Wait: 10 * time.Second}, Store: l.store}
	if _, err := app.NewNotices(l.store).Regenerate(ctx, src, notices.Notices[0]); !errors.Is(err, app.ErrChangesDiffer) {
		t.Errorf("the archive produced the notice again after the erasure: %v", err)
	}
}

// readLog reads the whole log.
func readLog(t *testing.T, s domain.EventStore) []domain.RecordedEvent {
	t.Helper()
	var out []domain.RecordedEvent
	from := domain.Start
	for {
		page, err := s.ReadAll(context.Background(), from, 500, domain.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, page...)
		if len(page) < 500 {
			return out
		}
		from = page[len(page)-1].Position
	}
}

// dumpTables returns every row of every table of the test's schema as
// text (the event store's own table too, where its data is compressed
// bytes: readLog covers it).
func dumpTables(t *testing.T, l *cliLedger) string {
	t.Helper()
	ctx := context.Background()
	rows, err := l.db.Pool.Query(ctx, `SELECT table_schema, table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, fmt.Sprintf("%q.%q", schema, table))
	}
	rows.Close()
	var b strings.Builder
	for _, tbl := range tables {
		rows, err := l.db.Pool.Query(ctx, `SELECT t::text FROM `+tbl+` t`)
		if err != nil {
			t.Fatalf("%s: %v", tbl, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s)
			b.WriteByte('\n')
		}
		rows.Close()
	}
	if !slices.Contains(tables, fmt.Sprintf("%q.%q", l.db.Name, "persons")) || !slices.Contains(tables, fmt.Sprintf("%q.%q", l.db.Name, "person_keys")) {
		t.Fatalf("dumped %v: not the read models and the keys", tables)
	}
	return b.String()
}
