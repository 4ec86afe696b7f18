package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// backdatedTermination records, through the event store with controlled
// recorded-at times: a person registered with a certificate and granted
// living_subsidy from 2024-01-01 (all recorded 2024-01-05), and on
// 2024-08-10 a termination effective 2024-02-29. It returns the person ID,
// the full ID number and the position of the last event.
func backdatedTermination(t *testing.T, store domain.EventStore, key domain.LookupKey, birth string) (domain.PersonID, string, domain.Position) {
	t.Helper()
	ctx := context.Background()
	h := app.NewPersons(store)
	id, err := domain.NewResidentID("360429", domain.MustDate(birth), 57)
	if err != nil {
		t.Fatal(err)
	}
	hash := key.Hash(id)
	pid := domain.PersonIDFromHash(hash)
	cert, err := domain.NewCertificateNumber(id, domain.CategoryPhysical, 3)
	if err != nil {
		t.Fatal(err)
	}
	var last domain.Position
	exec := func(cmdID, actor, role, reason, at string, c domain.Command) {
		t.Helper()
		now, err := time.ParseInLocation("2006-01-02 15:04", at, domain.BusinessZone)
		if err != nil {
			t.Fatal(err)
		}
		res, err := h.Execute(ctx, pid, domain.CommandMeta{CommandID: cmdID, Actor: actor, Role: role, Reason: reason, Now: now}, c)
		if err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
		last = res.Position
	}
	exec("tt-register", "clerk.zhou", "clerk", "", "2024-01-05 09:30", domain.RegisterPerson{
		IDNumber: id, IDHash: hash, Name: "陈秀英", Township: "星子镇", Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-05")})
	exec("tt-cert", "clerk.zhou", "clerk", "", "2024-01-05 09:40", domain.IssueCertificate{
		Number: cert, IssuedOn: domain.MustDate("2020-05-01"), ValidUntil: domain.MustDate("2030-04-30")})
	exec("tt-grant", "approver.chen", "approver", "", "2024-01-05 10:00", domain.GrantEntitlement{
		Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-01-01")})
	exec("tt-terminate", "clerk.wang", "clerk", "dibao ended in February; found in the August review", "2024-08-10 15:30",
		domain.TerminateEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveTo: domain.MustDate("2024-02-29"),
			ReasonCode: domain.TerminationNoLongerEligible})
	return pid, id.Number(), last
}

// An auditor asks what the ledger said on 2024-06-30 about 2024-03-15 and
// what it says now: active then, terminated now — the backdated correction
// recorded on 2024-08-10 is the difference. On both event stores; every
// response matches the OpenAPI document.
func TestHistoryTimeTravel(t *testing.T) {
	for _, kind := range []string{"postgres", "esdb"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			doc := loadOpenAPI(t)
			op := doc.operations()["GET /v1/persons/{id}/history"]
			pid, idNum, last := backdatedTermination(t, l.Store, testKey, "1948-11-02")
			base := "/v1/persons/" + string(pid) + "/history"

			get := func(query string) map[string]any {
				t.Helper()
				r := mustDo(t, l, http.StatusOK, "GET", base+query, "auditor", "", nil)
				doc.checkResponse(t, op, r)
				if strings.Contains(string(r.Body), idNum) {
					t.Errorf("%s: the response shows the full ID number", query)
				}
				return r.JSON(t)
			}
			ent := func(res map[string]any) map[string]any {
				t.Helper()
				ents, _ := res["entitlements"].([]any)
				if len(ents) != 1 {
					t.Fatalf("entitlements %v, want exactly living_subsidy", res["entitlements"])
				}
				return ents[0].(map[string]any)
			}

			// The plain history: every event with its times, actor, role,
			// reason and summary; no replay.
			plain := get("")
			events := plain["events"].([]any)
			if len(events) != 4 {
				t.Fatalf("%d events, want 4", len(events))
			}
			for _, k := range []string{"known_at", "as_of", "entitlements", "facts"} {
				if _, ok := plain[k]; ok {
					t.Errorf("the plain history has %q", k)
				}
			}
			term := events[3].(map[string]any)
			if term["type"] != domain.TypeEntitlementTerminated || term["effective_date"] != "2024-02-29" ||
				term["recorded_at"] != "2024-08-10T07:30:00Z" || term["actor"] != "clerk.wang" || term["role"] != "clerk" ||
				term["reason"] != "dibao ended in February; found in the August review" ||
				term["summary"] != "living_subsidy terminated: last day in force 2024-02-29 (no_longer_eligible)" {
				t.Errorf("the termination event: %v", term)
			}
			if s := events[2].(map[string]any)["summary"]; s != "living_subsidy granted from 2024-01-01 at the catalog rate" {
				t.Errorf("the grant's summary %q", s)
			}
			if s, _ := events[0].(map[string]any)["summary"].(string); !strings.HasPrefix(s, "registered in 星子镇 from 2024-01-05, ID 360429********") {
				t.Errorf("the registration's summary %q", s)
			}

			// What the ledger said on 2024-06-30 about 2024-03-15: active.
			then := get("?known_at=2024-06-30&as_of=2024-03-15")
			if then["known_at"] != "2024-06-30T23:59:59.999999999+08:00" || then["as_of"] != "2024-03-15" ||
				fmt.Sprint(then["events_known"]) != "3" || fmt.Sprint(then["events_recorded_later"]) != "1" {
				t.Errorf("known 2024-06-30: known_at %v as_of %v known %v later %v", then["known_at"], then["as_of"], then["events_known"], then["events_recorded_later"])
			}
			if e := ent(then); e["program"] != "living_subsidy" || e["status"] != "active" || e["effective_from"] != "2024-01-01" ||
				e["effective_to"] != nil || e["rate"] != "100.00" || e["rate_source"] != "catalog" || e["reason_code"] != nil {
				t.Errorf("known 2024-06-30, as of 2024-03-15: %v; want active from 2024-01-01 at the catalog 100.00", e)
			}
			if len(then["events"].([]any)) != 4 {
				t.Errorf("the replayed history still lists every event: %d", len(then["events"].([]any)))
			}

			// What it said on 2024-08-31 about the same day: terminated.
			want := map[string]any{"status": "terminated", "effective_from": "2024-01-01", "effective_to": "2024-02-29",
				"reason_code": "no_longer_eligible", "rate": "100.00", "rate_source": "catalog"}
			for _, q := range []string{
				"?known_at=2024-08-31&as_of=2024-03-15",
				"?known_at=2024-08-10T15:30:00%2B08:00&as_of=2024-03-15", // the instant it was recorded
				"?as_of=2024-03-15",                                      // known now
			} {
				e := ent(get(q))
				for k, v := range want {
					if e[k] != v {
						t.Errorf("%s: %s = %v, want %v (%v)", q, k, e[k], v, e)
					}
				}
			}
			if e := ent(get("?known_at=2024-08-10T15:29:59%2B08:00&as_of=2024-03-15")); e["status"] != "active" {
				t.Errorf("a second before the correction: %v", e)
			}
			if now := get("?as_of=2024-03-15"); now["known_at"] != "2025-03-10T09:00:00Z" {
				t.Errorf("known_at defaults to the server's now: %v", now["known_at"])
			}

			// known_at alone judges its own date: on 2024-06-30 the ledger
			// said active on 2024-06-30.
			own := get("?known_at=2024-06-30")
			if own["as_of"] != "2024-06-30" || ent(own)["status"] != "active" {
				t.Errorf("known_at alone: as_of %v, %v", own["as_of"], own["entitlements"])
			}
			facts, _ := own["facts"].(map[string]any)
			cert, _ := facts["certificate"].(map[string]any)
			if facts["registered"] != true || facts["township"] != "星子镇" || facts["deceased_on"] != nil ||
				cert["grade"] == nil || fmt.Sprint(cert["grade"]) != "3" || cert["revoked"] != false {
				t.Errorf("facts: %v", facts)
			}

			// Before registration was recorded the ledger knew nothing.
			none := get("?known_at=2024-01-04&as_of=2024-03-15")
			if len(none["entitlements"].([]any)) != 0 || none["facts"].(map[string]any)["registered"] != false {
				t.Errorf("known before registration: %v %v", none["entitlements"], none["facts"])
			}

			// The read models' as_of answer (today's knowledge) agrees with
			// the replay known now.
			r := mustDo(t, l, http.StatusOK, "GET", "/v1/persons/"+string(pid)+"/entitlements?as_of=2024-03-15&after="+last.String(), "auditor", "", nil)
			rm := r.JSON(t)["entitlements"].([]any)
			if len(rm) != 1 {
				t.Fatalf("read-model entitlements %s", r.Body)
			}
			e := rm[0].(map[string]any)
			for k, v := range want {
				if e[k] != v {
					t.Errorf("read model as_of 2024-03-15: %s = %v, want %v", k, e[k], v)
				}
			}
		})
	}
}

// A death recorded late: the ledger on 2024-06-30 said the person was alive
// and entitled in March; today it says they died on 2024-02-29 and the
// entitlement ended then.
func TestHistoryTimeTravelLateDeath(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	ctx := context.Background()
	h := app.NewPersons(l.Store)
	id, _ := domain.NewResidentID("360429", domain.MustDate("1939-02-14"), 61)
	hash := testKey.Hash(id)
	pid := domain.PersonIDFromHash(hash)
	cert, _ := domain.NewCertificateNumber(id, domain.CategoryVisual, 2)
	exec := func(cmdID, at string, c domain.Command) {
		t.Helper()
		now, _ := time.ParseInLocation("2006-01-02", at, domain.BusinessZone)
		if _, err := h.Execute(ctx, pid, domain.CommandMeta{CommandID: cmdID, Actor: "clerk", Role: "clerk", Now: now}, c); err != nil {
			t.Fatalf("%s: %v", c.CommandName(), err)
		}
	}
	exec("d-reg", "2024-01-05", domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "黄", Township: "温泉镇",
		Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-05")})
	exec("d-cert", "2024-01-05", domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2021-01-01"), ValidUntil: domain.MustDate("2031-01-01")})
	exec("d-grant", "2024-01-05", domain.GrantEntitlement{Program: domain.ProgramCareSubsidy, EffectiveFrom: domain.MustDate("2024-01-01")})
	exec("d-death", "2024-08-10", domain.RecordDeath{DateOfDeath: domain.MustDate("2024-02-29")})

	base := "/v1/persons/" + string(pid) + "/history"
	then := mustDo(t, l, http.StatusOK, "GET", base+"?known_at=2024-06-30&as_of=2024-03-15", "auditor", "", nil).JSON(t)
	e := then["entitlements"].([]any)[0].(map[string]any)
	if e["status"] != "active" || then["facts"].(map[string]any)["deceased_on"] != nil {
		t.Errorf("known 2024-06-30: %v, facts %v; want active and alive", e, then["facts"])
	}
	now := mustDo(t, l, http.StatusOK, "GET", base+"?as_of=2024-03-15", "auditor", "", nil).JSON(t)
	e = now["entitlements"].([]any)[0].(map[string]any)
	if e["status"] != "terminated" || e["effective_to"] != "2024-02-29" || e["reason_code"] != "death" ||
		now["facts"].(map[string]any)["deceased_on"] != "2024-02-29" {
		t.Errorf("known now: %v, facts %v; want terminated by the death on 2024-02-29", e, now["facts"])
	}
	events := now["events"].([]any)
	if s := events[len(events)-2].(map[string]any)["summary"]; s != "died on 2024-02-29" {
		t.Errorf("the death's summary %q", s)
	}
}
