package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/domain"
)

// A finance officer's month on the command line: a grant approved in March
// effective from January is paid with arrears; the bank file goes out in
// GB18030; the bank's return settles one person, fails another and misses
// a third; the same return imported twice changes nothing; the failed
// payments are re-issued in a follow-up batch for the same period.
func TestPayrollExportAndReconcile(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			payrollExportAndReconcile(t, newCLILedger(t, store))
		})
	}
}

func payrollExportAndReconcile(t *testing.T, l *cliLedger) {
	s, run1, must := l.store, l.run, l.must
	v, _ := vault.New(devAccountKey)
	var pids []domain.PersonID
	for i, birth := range []string{"1950-02-03", "1962-07-30", "1971-11-11"} {
		r := l.resident(birth, 21+i)
		pids = append(pids, r.PID)
		acct, _ := domain.ParseBankAccountNumber("account_number", fmt.Sprintf("62284800123456789%02d", i))
		sealed, _ := v.Seal(acct.Digits())
		l.enrol(r, birth, fmt.Sprint("居民", i), "温泉镇", domain.CategoryPhysical, 2,
			domain.RecordBankAccount{Account: domain.BankAccount{AccountName: fmt.Sprint("居民", i), Bank: "农业银行", AccountMasked: acct.Masked(), AccountSealed: sealed}},
			livingSubsidyFrom("2025-01-01"))
	}
	dir := t.TempDir()
	must("project", "--once")
	out := must("payroll", "run", "--program", "living_subsidy", "--period", "2025-03", "--user", "fin.wu")
	if !strings.Contains(out, "9 lines, total 990.00 (regular 3, arrears 6, reissue 0)") {
		t.Fatalf("run: %s", out)
	}
	batch := batchOf(t, out)
	must("project", "--once")
	if _, _, err := run1("payroll", "export", batch, "--user", "fin.wu", "--out", filepath.Join(dir, "x.csv")); err == nil || !strings.Contains(err.Error(), "only an approved batch") {
		t.Fatalf("export before approval: %v", err)
	}
	must("payroll", "approve", batch, "--user", "fin.li")
	must("project", "--once")
	file := filepath.Join(dir, "pay.csv")
	out = must("payroll", "export", batch, "--user", "fin.wu", "--format", "csv", "--encoding", "gb18030", "--out", file)
	if !strings.Contains(out, "9 payments, total 990.00") {
		t.Fatalf("export: %s", out)
	}
	raw, _ := os.ReadFile(file)
	text, err := simplifiedchinese.GB18030.NewDecoder().Bytes(raw)
	if err != nil {
		t.Fatal(err)
	}
	csvText := string(text)
	if !strings.Contains(csvText, "付款参考号") || !strings.Contains(csvText, "6228480012345678900") || !strings.Contains(csvText, "合计(Total),9,,990.00") {
		t.Fatalf("payment file:\n%s", csvText)
	}
	// References fit a bank's 32-character remark field; memos are in
	// Chinese.
	ref := domain.LineReference(batch, domain.PersonID(pids[0]), per(t, "2025-03"))
	if len(ref) != 32 || !strings.Contains(csvText, ref+",") || !strings.Contains(csvText, ",2025年3月 困难残疾人生活补贴\r\n") ||
		!strings.Contains(csvText, ",2025年1月 困难残疾人生活补贴（补发）\r\n") {
		t.Fatalf("payment file lacks the reference %s or Chinese memos:\n%s", ref, csvText)
	}
	// XLSX needs no other flag.
	xlsx := filepath.Join(dir, "pay.xlsx")
	must("project", "--once")
	if out = must("payroll", "export", batch, "--user", "fin.wu", "--format", "xlsx", "--out", xlsx); !strings.Contains(out, "9 payments, total 990.00") {
		t.Fatalf("export as xlsx: %s", out)
	}
	if raw, _ := os.ReadFile(xlsx); !bytes.HasPrefix(raw, []byte("PK\x03\x04")) {
		t.Fatalf("%s is not a workbook", xlsx)
	}

	// The bank's return: person 0 settled (3 lines), person 1 failed (3
	// lines), person 2 missing; plus an unknown reference and a duplicate.
	var ret strings.Builder
	ret.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
	for _, p := range []string{"2025-01", "2025-02", "2025-03"} {
		fmt.Fprintf(&ret, "%s,110.00,成功,,B%s\r\n", domain.LineReference(batch, domain.PersonID(pids[0]), per(t, p)), p)
		fmt.Fprintf(&ret, "%s,110.00,失败,账户已销户,\r\n", domain.LineReference(batch, domain.PersonID(pids[1]), per(t, p)))
	}
	fmt.Fprintf(&ret, "%s,110.00,成功,,B-dup\r\n", domain.LineReference(batch, domain.PersonID(pids[0]), per(t, "2025-01")))
	ret.WriteString("NOT-A-REFERENCE,5.00,成功,,\r\n")
	retGB, _ := simplifiedchinese.GB18030.NewEncoder().String(ret.String())
	retFile := filepath.Join(dir, "return.csv")
	_ = os.WriteFile(retFile, []byte(retGB), 0o600)
	out = must("reconcile", batch, "--file", retFile, "--user", "fin.wu", "--report", filepath.Join(dir, "report.csv"))
	first := out
	for _, want := range []string{"settled                 3          330.00", "failed                  3          330.00",
		"unknown reference       1            5.00", "duplicate line          1          110.00", "missing from file       3          330.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("reconcile report lacks %q:\n%s", want, out)
		}
	}
	out = must("payroll", "report", batch)
	for _, want := range []string{"settled           3          330.00", "failed            3          330.00", "outstanding       3          330.00"} {
		if !strings.Contains(out, want) {
			t.Errorf("batch report lacks %q:\n%s", want, out)
		}
	}
	before := headOf(t, s)
	out = must("reconcile", batch, "--file", retFile, "--user", "fin.wu")
	classified, _, _ := strings.Cut(first, "applied at")
	if !strings.HasPrefix(out, "this return file was already imported into batch "+batch+"; nothing changed\n") ||
		!strings.HasSuffix(out, classified) || headOf(t, s) != before {
		t.Fatalf("the same file twice: %s (log head %s → %s); want the first classification:\n%s", out, before, headOf(t, s), first)
	}
	// A malformed return file is refused whole, naming its lines.
	bad := filepath.Join(dir, "bad.csv")
	_ = os.WriteFile(bad, []byte("参考号,金额,状态\r\nA,1.005,成功\r\nB,-3.00,成功\r\n"), 0o600)
	_, errOut, err := run1("reconcile", batch, "--file", bad, "--user", "fin.wu")
	if err == nil || !strings.Contains(errOut, "line 2") || !strings.Contains(errOut, "line 3") || headOf(t, s) != before {
		t.Fatalf("malformed file: %v\n%s", err, errOut)
	}

	must("project", "--once")
	out = must("payroll", "months", "--program", "living_subsidy", "--year", "2025")
	// Paid in March: 990.00 issued less 330.00 failed; 330.00 still at the bank.
	if !strings.Contains(out, "2025-03,660.00,6,330.00,3,0.00,0.00,0.00") {
		t.Errorf("program months:\n%s", out)
	}

	// Follow-up batch for March: person 1's failed months are re-issued.
	must("project", "--once")
	out = must("payroll", "run", "--program", "living_subsidy", "--period", "2025-03", "--user", "fin.wu")
	if !strings.Contains(out, ": 3 lines, total 330.00 (regular 0, arrears 0, reissue 3)") || batchOf(t, out) == batch {
		t.Fatalf("follow-up run: %s", out)
	}
}

// batchOf returns the batch a `payroll run` drafted, from its output.
func batchOf(t testing.TB, out string) string {
	t.Helper()
	m := regexp.MustCompile(`drafted (\S+): `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no batch drafted: %s", out)
	}
	return m[1]
}

// headOf is the head of the store's log: it moves when anything is
// appended.
func headOf(t *testing.T, s domain.EventStore) domain.Position {
	t.Helper()
	head, err := s.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return head
}
