package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// The main tasks of a caseworker, a finance officer and an auditor,
// through HTTP only, on both event stores.
func TestEndToEnd(t *testing.T) {
	for _, kind := range []string{"postgres", "esdb"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			caseworker(t, l)
		})
	}
}

func caseworker(t *testing.T, l *ledger) {
	idNum := idNumber(t, "1958-04-12", 31)
	pid := l.register(idNum, "刘桂英", "星子镇", true)

	// Certificate: grade 2 physical.
	cert := idNum + "42"
	r := l.Do("POST", "/v1/persons/"+pid+"/certificate", "clerk", key(), map[string]any{
		"certificate_number": cert, "issued_on": "2020-05-01", "valid_until": "2030-04-30"})
	if r.Status != http.StatusOK {
		t.Fatalf("certificate: %d %s", r.Status, r.Body)
	}
	// Propose two grants; another user approves; the proposer may not.
	for i, prog := range []string{"living_subsidy", "care_subsidy"} {
		r = l.Do("POST", "/v1/persons/"+pid+"/grants", "clerk", key(), map[string]any{
			"proposal_id": fmt.Sprint("pr-", i), "program": prog, "effective_from": "2024-02-01", "reason": "application of 2024-01-20"})
		if r.Status != http.StatusOK {
			t.Fatalf("propose %s: %d %s", prog, r.Status, r.Body)
		}
	}
	r = l.Do("POST", "/v1/persons/"+pid+"/grants/pr-0/approve", "approver", key(), nil)
	if r.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	r = l.Do("POST", "/v1/persons/"+pid+"/grants/pr-1/approve", "approver", key(), map[string]any{})
	if r.Status != http.StatusOK {
		t.Fatalf("approve: %d %s", r.Status, r.Body)
	}
	after := r.JSON(t)["position"].(string)

	// Read own write: the look-up waits until the projections reached it.
	r = l.Do("POST", "/v1/persons/lookup?after="+after, "clerk", "", map[string]any{"id_number": idNum})
	if r.Status != http.StatusOK {
		t.Fatalf("lookup: %d %s", r.Status, r.Body)
	}
	p := r.JSON(t)
	if p["person_id"] != pid || p["name"] != "刘桂英" || strings.Contains(string(r.Body), idNum) || p["id_number"] != idNum[:6]+"********"+idNum[14:] {
		t.Fatalf("lookup by ID number: %s", r.Body)
	}
	r = l.Do("POST", "/v1/persons/lookup", "auditor", "", map[string]any{"certificate_number": cert})
	if r.Status != http.StatusOK || r.JSON(t)["person_id"] != pid {
		t.Fatalf("lookup by certificate: %d %s", r.Status, r.Body)
	}
	r = l.Do("GET", "/v1/persons/"+pid+"/entitlements?after="+after, "clerk", "", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("entitlements: %d %s", r.Status, r.Body)
	}
	ents := r.JSON(t)["entitlements"].([]any)
	if len(ents) != 2 {
		t.Fatalf("entitlements: %s", r.Body)
	}
	for _, e := range ents {
		e := e.(map[string]any)
		if e["status"] != "active" || e["rate"] != "110.00" || e["rate_source"] != "catalog" || e["effective_from"] != "2024-02-01" {
			t.Errorf("entitlement %v", e)
		}
	}

	// Suspension, then the state as of a past date.
	r = l.Do("POST", "/v1/persons/"+pid+"/entitlements/care_subsidy/suspend", "clerk", key(), map[string]any{
		"effective_on": "2024-09-01", "reason_code": "under_review"})
	if r.Status != http.StatusOK {
		t.Fatalf("suspend: %d %s", r.Status, r.Body)
	}
	after = r.JSON(t)["position"].(string)
	for asOf, want := range map[string]string{"2024-08-31": "active", "2024-09-15": "suspended"} {
		r = l.Do("GET", "/v1/persons/"+pid+"/entitlements?as_of="+asOf+"&after="+after, "clerk", "", nil)
		got := ""
		for _, e := range r.JSON(t)["entitlements"].([]any) {
			if e.(map[string]any)["program"] == "care_subsidy" {
				got, _ = e.(map[string]any)["status"].(string)
			}
		}
		if got != want {
			t.Errorf("care_subsidy as of %s: %q, want %q (%s)", asOf, got, want, r.Body)
		}
	}
	r = l.Do("GET", "/v1/persons/"+pid+"/entitlements?as_of=2024-01-15&after="+after, "clerk", "", nil)
	if n := len(r.JSON(t)["entitlements"].([]any)); n != 0 {
		t.Errorf("as of 2024-01-15 (before any grant): %d entitlements", n)
	}

	// Finance: payments paid for the person show up on their entitlements,
	// in spending, and in the payments register.
	pay := func(period string, ref string) string {
		p, _ := domain.ParsePeriod("period", period)
		data, err := domain.Seal(domain.CommandMeta{CommandID: "pay-" + ref, Actor: "finance", Role: "finance", Now: time.Now()}, "",
			[]domain.Event{domain.PaymentIssued{PaymentLine: domain.PaymentLine{Reference: ref, BatchID: "LS-" + period, PersonID: domain.PersonID(pid),
				Program: domain.ProgramLivingSubsidy, Period: p, Kind: domain.PaymentRegular, Amount: domain.MustMoney("100.00"), Township: "星子镇", PaidOn: p.First().AddDays(19)}}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := l.Store.Append(context.Background(), domain.PaymentsStream(domain.ProgramLivingSubsidy, domain.PaymentShard(domain.PersonID(pid))), domain.AnyRevision(), data...)
		if err != nil {
			t.Fatal(err)
		}
		return res.Position.String()
	}
	pay("2024-02", "LS-2024-02-1")
	after = pay("2024-03", "LS-2024-03-1")
	r = l.Do("GET", "/v1/persons/"+pid+"/payments?after="+after, "finance", "", nil)
	if r.Status != http.StatusOK || len(r.JSON(t)["payments"].([]any)) != 2 {
		t.Fatalf("payments: %d %s", r.Status, r.Body)
	}
	r = l.Do("GET", "/v1/spending?year=2024&group_by=township", "finance", "", nil)
	if r.Status != http.StatusOK || r.JSON(t)["total_paid"] != "200.00" {
		t.Fatalf("spending: %d %s", r.Status, r.Body)
	}
	r = l.Do("GET", "/v1/programs?year=2024", "finance", "", nil)
	if r.Status != http.StatusOK || !strings.Contains(string(r.Body), `"code":"living_subsidy"`) {
		t.Fatalf("programs: %d %s", r.Status, r.Body)
	}

	// Auditor: the full history from the event store, ID number masked.
	r = l.Do("GET", "/v1/persons/"+pid+"/history", "auditor", "", nil)
	if r.Status != http.StatusOK || strings.Contains(string(r.Body), idNum) {
		t.Fatalf("history: %d %s", r.Status, r.Body)
	}
	events := r.JSON(t)["events"].([]any)
	// registered, certificate, 2 proposals, 2 × (approved + granted), suspended
	if len(events) != 9 {
		t.Fatalf("history has %d events, want 9", len(events))
	}
	if s := events[8].(map[string]any)["summary"]; s != "care_subsidy suspended from 2024-09-01 (under_review)" {
		t.Errorf("last event summary %q", s)
	}
	first := events[0].(map[string]any)
	if first["type"] != domain.TypePersonRegistered || first["actor"] != "clerk" || first["role"] != "clerk" || first["prev_hash"] != "" {
		t.Errorf("first history event: %v", first)
	}
	// A clerk may not read the history.
	if r = l.Do("GET", "/v1/persons/"+pid+"/history", "clerk", "", nil); r.Status != http.StatusForbidden {
		t.Errorf("clerk reading history: %d", r.Status)
	}
	// The server logged every request, with user and role, and never the
	// resident ID number (not in paths, queries, bodies or errors).
	logs := l.Logs.String()
	if !strings.Contains(logs, "path=/v1/persons/lookup") || !strings.Contains(logs, "user=approver role=approver") {
		t.Errorf("request log lacks the look-up or the acting user:\n%s", logs)
	}
	// Lines of one endpoint group by its route, with the duration in
	// milliseconds.
	if !strings.Contains(logs, "route=/v1/persons/{id}/history path=/v1/persons/"+pid+"/history") ||
		!regexp.MustCompile(`route=/v1/persons/\{id\}/entitlements path=/v1/persons/[0-9a-f]{20}/entitlements status=200 duration_ms=[0-9.]+ bytes=`).MatchString(logs) {
		t.Errorf("request log lacks the route pattern or the duration in milliseconds:\n%s", logs)
	}
	if strings.Contains(logs, idNum) || strings.Contains(logs, idNum[:17]) || strings.Contains(logs, cert) {
		t.Errorf("a resident ID number appears in the server log")
	}
}
