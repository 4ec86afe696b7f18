package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/domain"
)

// A finance officer's month, through HTTP only, on both event stores: the
// caseworkers set two persons up for living_subsidy from January; finance
// drafts March (with January's and February's arrears), another finance
// user approves, the batch report and spending show the payments, and a
// second draft finds nothing left to pay.
func TestPayroll(t *testing.T) {
	for _, kind := range []string{"postgres", "esdb"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			l.addUser("finance2", "finance")
			payroll(t, l)
		})
	}
}

func payroll(t *testing.T, l *ledger) {
	// Two persons with certificates and bank accounts, granted
	// living_subsidy from 2025-01-01 by an approver.
	accounts := []string{"6228 4800 1234 5678 901", "6217-0012-3456-7890-12"}
	var pids []string
	var after string // the position of the last write
	for i, acct := range accounts {
		idNum := idNumber(t, "1961-07-0"+fmt.Sprint(i+1), 40+i)
		pid := l.register(idNum, fmt.Sprint("受益人", i+1), "星子镇", true)
		pids = append(pids, pid)
		steps := []struct {
			path, as string
			body     map[string]any
		}{
			{"/certificate", "clerk", map[string]any{"certificate_number": idNum + "42", "issued_on": "2019-03-01", "valid_until": "2029-02-28"}},
			{"/bank-account", "clerk", map[string]any{"account_name": fmt.Sprint("受益人", i+1), "bank": "中国农业银行", "account_number": acct}},
			{"/grants", "clerk", map[string]any{"proposal_id": "ls-1", "program": "living_subsidy", "effective_from": "2025-01-01", "reason": "application of 2024-12-20"}},
			{"/grants/ls-1/approve", "approver", nil},
		}
		for _, s := range steps {
			r := l.Do("POST", "/v1/persons/"+pid+s.path, s.as, key(), s.body)
			if r.Status != http.StatusOK {
				t.Fatalf("%s of person %d: %d %s", s.path, i+1, r.Status, r.Body)
			}
			after = r.JSON(t)["position"].(string)
		}
	}
	// Read the grants back: the draft is computed from the read models.
	for i, pid := range pids {
		r := l.Do("GET", "/v1/persons/"+pid+"/entitlements?after="+after, "finance", "", nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"program":"living_subsidy","status":"active"`) {
			t.Fatalf("entitlements of person %d: %d %s", i+1, r.Status, r.Body)
		}
	}
	for i, acct := range accounts {
		digits := strings.NewReplacer(" ", "", "-", "").Replace(acct)
		r := l.Do("GET", "/v1/persons/"+pids[i]+"/history", "auditor", "", nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), digits[:4]+strings.Repeat("*", len(digits)-8)+digits[len(digits)-4:]) {
			t.Errorf("history of person %d lacks the masked account: %d %s", i+1, r.Status, r.Body)
		}
		if strings.Contains(string(r.Body), digits) || strings.Contains(l.Logs.String(), digits) {
			t.Errorf("the account number of person %d appears in clear in the history or the server log", i+1)
		}
	}

	// Finance drafts March: January and February as arrears, March regular.
	draftKey := key()
	r := l.draft("finance", draftKey, map[string]any{"program": "living_subsidy", "period": "2025-03", "reason": "March run"})
	if r.Status != http.StatusCreated {
		t.Fatalf("draft: %d %s", r.Status, r.Body)
	}
	res := r.JSON(t)
	batch, _ := res["batch_id"].(string)
	if _, _, err := domain.ParseBatchID("batch", batch); err != nil || res["program"] != "living_subsidy" || res["period"] != "2025-03" ||
		fmt.Sprint(res["count"]) != "6" || res["total"] != "660.00" {
		t.Fatalf("draft: %s", r.Body)
	}
	if loc := r.Header.Get("Location"); loc != "/v1/payroll/batches/"+batch {
		t.Errorf("draft: Location %q", loc)
	}

	// The drafter may not approve; another finance user may.
	r = l.Do("POST", "/v1/payroll/batches/"+batch+"/approve", "finance", key(), nil)
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("approval by the drafter: %d %s", r.Status, r.Body)
	}
	if p := r.Problem(t); p.Code != "rule_violation" || p.Rule != domain.RuleMakerChecker {
		t.Errorf("approval by the drafter: %+v", p)
	}
	r = l.Do("POST", "/v1/payroll/batches/"+batch+"/approve", "finance2", key(), map[string]any{"reason": "checked against the register"})
	if r.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	res = r.JSON(t)
	if res["batch_id"] != batch || fmt.Sprint(res["count"]) != "6" || res["total"] != "660.00" {
		t.Errorf("approve: %s", r.Body)
	}
	after = res["position"].(string)

	// The batch report: approved, every line issued and outstanding.
	r = l.Do("GET", "/v1/payroll/batches/"+batch+"?after="+after, "finance", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("batch report: %d %s", r.Status, r.Body)
	}
	rep := r.JSON(t)
	if rep["state"] != "approved" || rep["drafted_by"] != "finance" || rep["paid_on"] != "2025-03-20" || rep["batch_id"] != batch {
		t.Errorf("batch report: %s", r.Body)
	}
	for name, want := range map[string]string{"expected": "6 660.00", "outstanding": "6 660.00", "settled": "0 0.00", "failed": "0 0.00", "reversed": "0 0.00"} {
		ct, _ := rep[name].(map[string]any)
		if got := fmt.Sprint(ct["count"], " ", ct["total"]); got != want {
			t.Errorf("batch report %s: %s, want %s", name, got, want)
		}
	}
	lines, _ := rep["lines"].([]any)
	if len(lines) != 6 {
		t.Fatalf("batch report has %d lines, want 6: %s", len(lines), r.Body)
	}
	kinds := map[string]int{}
	for _, x := range lines {
		line := x.(map[string]any)
		if line["status"] != "issued" || line["amount"] != "110.00" || line["township"] != "星子镇" {
			t.Errorf("line %v", line)
		}
		kinds[fmt.Sprint(line["person_id"], " ", line["period"], " ", line["kind"])]++
	}
	for _, pid := range pids {
		for period, kind := range map[string]string{"2025-01": "arrears", "2025-02": "arrears", "2025-03": "regular"} {
			if k := pid + " " + period + " " + kind; kinds[k] != 1 {
				t.Errorf("the report has %d lines %s, want 1", kinds[k], k)
			}
		}
	}
	// An auditor may read it too, a clerk may not.
	if r = l.Do("GET", "/v1/payroll/batches/"+batch, "auditor", "", nil); r.Status != http.StatusOK {
		t.Errorf("batch report as auditor: %d %s", r.Status, r.Body)
	}
	if r = l.Do("GET", "/v1/payroll/batches/"+batch, "clerk", "", nil); r.Status != http.StatusForbidden {
		t.Errorf("batch report as clerk: %d %s", r.Status, r.Body)
	}

	// The bank payment file: recorded once, downloaded as often as needed
	// (a download records nothing), in GB18030 by default.
	r = l.Do("POST", "/v1/payroll/batches/"+batch+"/exports", "finance", key(), map[string]any{})
	if r.Status != http.StatusCreated || fmt.Sprint(r.JSON(t)["count"]) != "6" || r.JSON(t)["encoding"] != "gb18030" {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	file := r.JSON(t)["file"].(string)
	if r.Header.Get("Location") != file {
		t.Errorf("export: Location %q, want %q", r.Header.Get("Location"), file)
	}
	exported := l.EventCount()
	var first []byte
	for range 2 {
		d := l.Do("GET", file, "finance", "", nil)
		if d.Status != http.StatusOK || d.Header.Get("Content-Type") != "text/csv; charset=gb18030" || !strings.Contains(d.Header.Get("Content-Disposition"), batch+".csv") {
			t.Fatalf("download: %d %v", d.Status, d.Header)
		}
		if first != nil && !bytes.Equal(first, d.Body) {
			t.Error("two downloads of one export differ")
		}
		first = d.Body
	}
	if n := l.EventCount(); n != exported {
		t.Errorf("downloading the file appended %d events", n-exported)
	}
	if d := l.Do("GET", "/v1/payroll/batches/"+batch+"/exports/"+strings.Repeat("0", 64), "finance", "", nil); d.Status != http.StatusNotFound {
		t.Errorf("an export never recorded: %d %s", d.Status, d.Body)
	}

	// The bank's return, uploaded: the first person settled, the second
	// failed; a malformed file changes nothing; the same file twice neither.
	var ret strings.Builder
	ret.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
	for _, x := range lines {
		line := x.(map[string]any)
		if line["person_id"] == pids[0] {
			fmt.Fprintf(&ret, "%s,110.00,成功,,B1\r\n", line["reference"])
		} else {
			fmt.Fprintf(&ret, "%s,110.00,失败,账户冻结,\r\n", line["reference"])
		}
	}
	upload := func(data string) response {
		return l.Do("POST", "/v1/payroll/batches/"+batch+"/returns", "finance", key(), rawBody{ContentType: "text/csv", Data: []byte(data)})
	}
	if r = upload("参考号,金额,状态\r\nX,1.005,成功\r\n"); r.Status != http.StatusBadRequest || r.Problem(t).Code != "invalid_return_file" ||
		!strings.Contains(r.Problem(t).Detail, "line 2") {
		t.Fatalf("malformed return file: %d %s", r.Status, r.Body)
	}
	r = upload(ret.String())
	if r.Status != http.StatusOK {
		t.Fatalf("upload: %d %s", r.Status, r.Body)
	}
	rec := r.JSON(t)
	totals := rec["totals"].(map[string]any)
	if fmt.Sprint(totals["settled"]) != "map[count:3 total:330.00]" || fmt.Sprint(totals["failed"]) != "map[count:3 total:330.00]" || rec["already_imported"] != false {
		t.Fatalf("reconciliation: %s", r.Body)
	}
	after = rec["position"].(string)
	// The same file again, under a new key: already imported, nothing
	// changed, with the classification of the first time.
	again := upload(ret.String())
	a := again.JSON(t)
	if again.Status != http.StatusOK || a["already_imported"] != true || fmt.Sprint(a["totals"]) != fmt.Sprint(rec["totals"]) ||
		fmt.Sprint(a["exceptions"]) != fmt.Sprint(rec["exceptions"]) || a["position"] != nil {
		t.Fatalf("the same file again: %d %s\nfirst: %s", again.Status, again.Body, r.Body)
	}
	r = l.Do("GET", "/v1/payroll/batches/"+batch+"?after="+after, "finance", "", nil)
	rep = r.JSON(t)
	for name, want := range map[string]string{"settled": "3 330.00", "failed": "3 330.00", "outstanding": "0 0.00"} {
		ct, _ := rep[name].(map[string]any)
		if got := fmt.Sprint(ct["count"], " ", ct["total"]); got != want {
			t.Errorf("batch report after the return %s: %s, want %s", name, got, want)
		}
	}

	// A follow-up batch for March re-issues exactly the failed payments.
	r = l.draft("finance", key(), map[string]any{"program": "living_subsidy", "period": "2025-03"})
	if r.Status != http.StatusCreated || r.JSON(t)["total"] != "330.00" || fmt.Sprint(r.JSON(t)["count"]) != "3" {
		t.Fatalf("follow-up draft: %d %s", r.Status, r.Body)
	}
	follow := r.JSON(t)["batch_id"].(string)
	r = l.Do("GET", "/v1/payroll/batches/"+follow, "finance", "", nil)
	for _, x := range r.JSON(t)["lines"].([]any) {
		if line := x.(map[string]any); line["kind"] != "reissue" || line["person_id"] != pids[1] {
			t.Errorf("follow-up line %v, want a reissue for the failed person", line)
		}
	}
	// While it waits for approval, a further draft is a conflict.
	if r = l.draft("finance", key(), map[string]any{"program": "living_subsidy", "period": "2025-03"}); r.Status != http.StatusConflict {
		t.Errorf("a draft while one waits: %d %s", r.Status, r.Body)
	}
	_ = domain.RuleNothingToPay

	// Spending for 2025, by program, shows what was paid.
	r = l.Do("GET", "/v1/spending?year=2025&group_by=program&after="+after, "finance", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("spending: %d %s", r.Status, r.Body)
	}
	sp := r.JSON(t)
	rows, _ := sp["rows"].([]any)
	if sp["total_paid"] != "330.00" || len(rows) != 1 { // 660.00 issued, 330.00 failed at the bank
		t.Fatalf("spending: %s", r.Body)
	}
	if row := rows[0].(map[string]any); row["program"] != "living_subsidy" || row["amount_paid"] != "330.00" ||
		fmt.Sprint(row["payments"]) != "3" || fmt.Sprint(row["persons"]) != "1" {
		t.Errorf("spending row %v", row)
	}
	// And each person's payments.
	for _, pid := range pids {
		r = l.Do("GET", "/v1/persons/"+pid+"/payments?after="+after, "finance", "", nil)
		if r.Status != http.StatusOK || len(r.JSON(t)["payments"].([]any)) != 3 {
			t.Errorf("payments of %s: %d %s", pid, r.Status, r.Body)
		}
	}
}

// addUser adds a user (a second finance user, say) unless there is one of
// that name already, and keeps its token in l.Tokens.
func (l *ledger) addUser(name, role string) {
	l.t.Helper()
	if _, ok := l.Tokens[httpapi.Role(name)]; ok {
		return
	}
	tok, err := postgres.Users{Pool: l.DB.Pool}.Add(context.Background(), name, role)
	if err != nil {
		l.t.Fatal(err)
	}
	l.Tokens[httpapi.Role(name)] = tok
}

// draft posts a payroll draft, retrying with the same Idempotency-Key for a
// while as long as the server answers that the read models are behind.
func (l *ledger) draft(as, key string, body any) response {
	l.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := l.Do("POST", "/v1/payroll/batches", as, key, body)
		if r.Status != http.StatusServiceUnavailable || time.Now().After(deadline) || r.Problem(l.t).Code != "projections_behind" {
			return r
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caughtUp waits until every projection runs and has applied the whole log
// (what a payroll draft requires), at least up to the position after.
func (l *ledger) caughtUp(after string) {
	l.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r := l.Do("GET", "/v1/projections?after="+url.QueryEscape(after), "admin", "", nil)
		if r.Status != http.StatusOK {
			l.t.Fatalf("projections: %d %s", r.Status, r.Body)
		}
		var st []struct {
			State     string `json:"state"`
			LagEvents int64  `json:"lag_events"`
		}
		if err := json.Unmarshal(r.Body, &st); err != nil {
			l.t.Fatal(err)
		}
		behind := len(st) == 0
		for _, s := range st {
			behind = behind || s.State != "running" || s.LagEvents > 0
		}
		if !behind {
			return
		}
		if time.Now().After(deadline) {
			l.t.Fatalf("the projections have not caught up: %s", r.Body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// periods hands out each ledger's living_subsidy periods for the payroll
// route tests, one per batch, later and later — 2024-04, 2024-05, … — so
// that each owes its own month to every fixture's person (granted from
// 2024-02): earlier months may be reserved by another test's batch still
// waiting for approval, which never pays a month twice.
var periods sync.Map // ledger URL → *atomic.Int64

func (l *ledger) freshPeriod() string {
	l.t.Helper()
	v, _ := periods.LoadOrStore(l.URL, new(atomic.Int64))
	n := v.(*atomic.Int64).Add(1) - 1
	if n >= 12 {
		l.t.Fatalf("more than 12 payroll periods drawn for one ledger")
	}
	p, _ := domain.ParsePeriod("period", "2024-04")
	for range n {
		p = p.Next()
	}
	return p.String()
}

var accountSeq atomic.Int64

// newAccountNumber returns a bank account number not used before in this
// process (its last four digits differ, so its masked form does too).
func newAccountNumber() string {
	return fmt.Sprintf("6228 4800 %011d", accountSeq.Add(1))
}
