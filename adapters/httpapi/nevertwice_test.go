package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// livingPersons sets n persons up for the living subsidy from 2025-01-01
// (certificate, grant approved) and returns their IDs and the position of
// the last write.
func (l *ledger) livingPersons(n, seq int) ([]string, string) {
	l.t.Helper()
	var pids []string
	after := ""
	for i := range n {
		idNum := idNumber(l.t, fmt.Sprintf("1962-0%d-1%d", 1+i%9, i%10), seq+i)
		pid := l.register(idNum, fmt.Sprint("受益人", i), "星子镇", true)
		for _, s := range []struct {
			path, as string
			body     map[string]any
		}{
			{"/certificate", "clerk", map[string]any{"certificate_number": idNum + "42", "issued_on": "2019-03-01", "valid_until": "2029-02-28"}},
			{"/grants", "clerk", map[string]any{"proposal_id": "ls-1", "program": "living_subsidy", "effective_from": "2025-01-01"}},
			{"/grants/ls-1/approve", "approver", nil},
		} {
			r := l.Do("POST", "/v1/persons/"+pid+s.path, s.as, key(), s.body)
			if r.Status != http.StatusOK {
				l.t.Fatalf("%s: %d %s", s.path, r.Status, r.Body)
			}
			after = r.JSON(l.t)["position"].(string)
		}
		pids = append(pids, pid)
	}
	return pids, after
}

// draftOK drafts period as finance and returns the batch.
func (l *ledger) draftOK(period string) map[string]any {
	l.t.Helper()
	r := l.draft("finance", key(), map[string]any{"program": "living_subsidy", "period": period})
	if r.Status != http.StatusCreated {
		l.t.Fatalf("draft %s: %d %s", period, r.Status, r.Body)
	}
	return r.JSON(l.t)
}

func (l *ledger) approveOK(batch string) {
	l.t.Helper()
	r := l.Do("POST", "/v1/payroll/batches/"+batch+"/approve", "finance2", key(), nil)
	for r.Status == http.StatusServiceUnavailable { // the read models catching up with the draft
		r = l.Do("POST", "/v1/payroll/batches/"+batch+"/approve", "finance2", key(), nil)
	}
	if r.Status != http.StatusOK {
		l.t.Fatalf("approve %s: %d %s", batch, r.Status, r.Body)
	}
}

// paidMonths counts, per person and month, the lines of the batches that
// paid and kept the money (issued or settled).
func (l *ledger) paidMonths(batches ...string) map[string]int {
	l.t.Helper()
	out := map[string]int{}
	for _, b := range batches {
		r := l.Do("GET", "/v1/payroll/batches/"+b, "finance", "", nil)
		for _, x := range r.JSON(l.t)["lines"].([]any) {
			line := x.(map[string]any)
			if line["status"] == "issued" || line["status"] == "settled" {
				out[fmt.Sprint(line["person_id"], " ", line["period"])]++
			}
		}
	}
	return out
}

// neverTwice asks the API's never-twice check.
func (l *ledger) neverTwice() {
	l.t.Helper()
	r := l.Do("GET", "/v1/payroll/never-twice?program=living_subsidy", "auditor", "", nil)
	if r.Status != http.StatusOK || len(r.JSON(l.t)["overpaid"].([]any)) != 0 {
		l.t.Fatalf("never twice: %d %s", r.Status, r.Body)
	}
}

// The finance officers' report, over HTTP and on both event stores:
// January then February drafted and both approved pays January once; a
// January batch with a failed line, a January re-issue and a February
// batch pay the failed month once; two drafts of different periods at
// the same moment pay every month once.
func TestNeverTwiceOverHTTP(t *testing.T) {
	for _, kind := range []string{"postgres", "esdb"} {
		t.Run(kind+"/january-then-february", func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			l.addUser("finance2", "finance")
			_, after := l.livingPersons(3, 60)
			l.caughtUp(after)
			jan, feb := l.draftOK("2025-01"), l.draftOK("2025-02")
			if fmt.Sprint(feb["count"]) != "3" || fmt.Sprint(feb["arrears"]) != "map[count:0 total:0.00]" {
				t.Fatalf("February pays January again: %v", feb)
			}
			l.approveOK(jan["batch_id"].(string))
			l.approveOK(feb["batch_id"].(string))
			paid := l.paidMonths(jan["batch_id"].(string), feb["batch_id"].(string))
			if len(paid) != 6 {
				t.Fatalf("%d months paid, want 6: %v", len(paid), paid)
			}
			for k, n := range paid {
				if n != 1 {
					t.Errorf("%s paid %d times", k, n)
				}
			}
			l.neverTwice()
		})
		t.Run(kind+"/failed-january-reissued-once", func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			l.addUser("finance2", "finance")
			pids, after := l.livingPersons(3, 70)
			l.caughtUp(after)
			jan := l.draftOK("2025-01")["batch_id"].(string)
			l.approveOK(jan)
			var ret strings.Builder
			ret.WriteString("参考号,金额,状态,失败原因\r\n")
			for i, pid := range pids {
				status := "成功"
				if i == 0 {
					status = "失败"
				}
				fmt.Fprintf(&ret, "%s,110.00,%s,\r\n", domain.LineReference(jan, domain.PersonID(pid), domain.NewDate(2025, time.January, 1).Period()), status)
			}
			r := l.Do("POST", "/v1/payroll/batches/"+jan+"/returns", "finance", key(), rawBody{ContentType: "text/csv", Data: []byte(ret.String())})
			if r.Status != http.StatusOK || fmt.Sprint(r.JSON(t)["totals"].(map[string]any)["failed"]) != "map[count:1 total:110.00]" {
				t.Fatalf("return: %d %s; want one line failed", r.Status, r.Body)
			}
			l.caughtUp(r.JSON(t)["position"].(string))
			reissue := l.draftOK("2025-01")
			feb := l.draftOK("2025-02")
			if fmt.Sprint(reissue["reissue"]) != "map[count:1 total:110.00]" || fmt.Sprint(feb["count"]) != "3" {
				t.Fatalf("re-issue %v, February %v: want the failed line re-issued once, February's three lines", reissue, feb)
			}
			l.approveOK(feb["batch_id"].(string))
			l.approveOK(reissue["batch_id"].(string))
			if n := l.paidMonths(jan, reissue["batch_id"].(string), feb["batch_id"].(string))[pids[0]+" 2025-01"]; n != 1 {
				t.Fatalf("the failed January paid by %d lines, want 1", n)
			}
			l.neverTwice()
		})
		t.Run(kind+"/different-periods-at-once", func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			l.addUser("finance2", "finance")
			_, after := l.livingPersons(4, 80)
			l.caughtUp(after)
			rs := make([]response, 3)
			var wg sync.WaitGroup
			for i, period := range []string{"2025-01", "2025-02", "2025-03"} {
				wg.Go(func() {
					rs[i] = l.draft("finance", key(), map[string]any{"program": "living_subsidy", "period": period})
				})
			}
			wg.Wait()
			var batches []string
			lines := 0
			for i, r := range rs {
				switch {
				case r.Status == http.StatusCreated:
					batches = append(batches, r.JSON(t)["batch_id"].(string))
					var n int
					fmt.Sscan(fmt.Sprint(r.JSON(t)["count"]), &n)
					lines += n
				case r.Status == http.StatusUnprocessableEntity && r.Problem(t).Rule == domain.RuleNothingToPay:
				default:
					t.Fatalf("draft %d: %d %s", i, r.Status, r.Body)
				}
			}
			if lines != 12 {
				t.Fatalf("%d lines drafted, want 12 (three months of four persons, each once)", lines)
			}
			for _, b := range batches {
				l.approveOK(b)
			}
			for k, n := range l.paidMonths(batches...) {
				if n != 1 {
					t.Errorf("%s paid %d times", k, n)
				}
			}
			l.neverTwice()
		})
	}
}

// 50 identical drafts in flight: one runs, every one answers the same
// batch, none fails.
func TestPayrollDraftDuplicatesInFlight(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	_, after := l.livingPersons(3, 90)
	l.caughtUp(after)
	k := key()
	body := map[string]any{"program": "living_subsidy", "period": "2025-03"}
	got := make([]response, 50)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = l.Do("POST", "/v1/payroll/batches", "finance", k, body) })
	}
	wg.Wait()
	ran := 0
	for i, r := range got {
		if r.Status != http.StatusCreated || !bytes.Equal(r.Body, got[0].Body) {
			t.Errorf("answer %d: %d %s, want 201 %s", i, r.Status, r.Body, got[0].Body)
		}
		if r.Header.Get("Idempotent-Replayed") == "" {
			ran++
		}
	}
	if ran != 1 {
		t.Errorf("%d answers not replayed, want 1", ran)
	}
	evs, err := l.Store.ReadStream(context.Background(), domain.PayrollStream(domain.ProgramLivingSubsidy), domain.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if opened := countType(evs, domain.TypeBatchOpened); opened != 1 {
		t.Errorf("%d batches opened, want 1", opened)
	}
}

func countType(evs []domain.RecordedEvent, typ string) int {
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// A payroll command whose process dies after an append — its batch half
// drafted, or drafted and its answer lost — retried with the same key and
// body on another instance answers the batch the first would have, and
// nothing is appended twice; later retries replay that answer.
func TestPayrollDraftOwnerDiesBetweenAppendAndAnswer(t *testing.T) {
	for _, dieAfter := range []string{"opened", "drafted"} {
		t.Run(dieAfter, func(t *testing.T) {
			t.Parallel()
			l := start(t, "postgres")
			_, after := l.livingPersons(3, 95)
			l.caughtUp(after)
			a, b := l.instance(t, 0), l.instance(t, 0)
			control := domain.PayrollStream(domain.ProgramLivingSubsidy)
			appended := make(chan domain.AppendResult, 1)
			release := make(chan struct{})
			seen := 0
			a.Store.after = func(ctx context.Context, stream string, res domain.AppendResult) error {
				if stream != control {
					return nil
				}
				if seen++; (dieAfter == "opened" && seen == 1) || (dieAfter == "drafted" && seen == 2) {
					appended <- res
					<-release
					return errInstanceDied
				}
				return nil
			}
			var once sync.Once
			free := func() { once.Do(func() { close(release) }) }
			t.Cleanup(free)
			k := key()
			body := map[string]any{"program": "living_subsidy", "period": "2025-02"}
			firstDone := make(chan response, 1)
			go func() { firstDone <- a.Do("POST", "/v1/payroll/batches", "finance", k, body) }()
			received(t, "the first draft's append", appended)
			kill(t, l.DB.Pool, a.App)

			retry := mustDo(t, b.ledger, http.StatusCreated, "POST", "/v1/payroll/batches", "finance", k, body)
			res := retry.JSON(t)
			if fmt.Sprint(res["count"]) != "6" || res["total"] != "660.00" || res["state"] != "drafted" {
				t.Fatalf("the retry answered %s", retry.Body)
			}
			evs, err := l.Store.ReadStream(context.Background(), control, domain.Forwards, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			if countType(evs, domain.TypeBatchOpened) != 1 || countType(evs, domain.TypeBatchDrafted) != 1 {
				t.Fatalf("the payroll stream holds %d events: want one batch opened and drafted once", len(evs))
			}
			free()
			if first := received(t, "the dead instance's answer", firstDone); first.Status == http.StatusCreated {
				t.Errorf("the instance that died answered 201")
			}
			// a is dead (its sessions are gone); b and a process started
			// since replay the stored answer.
			for _, in := range []*instance{b, l.instance(t, 0)} {
				r := mustDo(t, in.ledger, http.StatusCreated, "POST", "/v1/payroll/batches", "finance", k, body)
				if !bytes.Equal(r.Body, retry.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("later retry: %s, want the stored %s", r.Body, retry.Body)
				}
			}
		})
	}
}

// A draft over HTTP runs the payroll's one draft use case, as the command
// line does: it records the overpayment claims owed back first. Two
// persons are paid January and February; one's death is then recorded
// effective 2025-01-20, so February was not owed. March's draft over HTTP
// records that claim (and pays the living person only), and asking for
// claims afterwards finds none left to record.
func TestDraftOverHTTPRecordsOverpaymentClaims(t *testing.T) {
	l := start(t, "postgres")
	l.addUser("finance2", "finance")
	pids, after := l.livingPersons(2, 70)
	l.caughtUp(after)
	feb := l.draftOK("2025-02")
	l.approveOK(feb["batch_id"].(string))
	r := l.Do("POST", "/v1/persons/"+pids[0]+"/death", "clerk", key(), map[string]any{"date_of_death": "2025-01-20"})
	if r.Status != http.StatusOK {
		t.Fatalf("death: %d %s", r.Status, r.Body)
	}
	l.caughtUp(r.JSON(t)["position"].(string))
	mar := l.draftOK("2025-03")
	if fmt.Sprint(mar["overpayment_claims_recorded"]) != "1" || fmt.Sprint(mar["count"]) != "1" || mar["total"] != "110.00" {
		t.Fatalf("March's draft over HTTP: %v; want 1 claim recorded and 1 line of 110.00", mar)
	}
	r = l.Do("POST", "/v1/payroll/claims", "finance", key(), map[string]any{"program": "living_subsidy"})
	if claims, _ := r.JSON(t)["claims"].([]any); r.Status != http.StatusOK || len(claims) != 0 {
		t.Fatalf("claims after the draft: %d %s; want none left to record", r.Status, r.Body)
	}
}
