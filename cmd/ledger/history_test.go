package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
)

// recordBackdatedTermination writes, with controlled recorded-at times, a
// person granted living_subsidy from 2024-01-01 (recorded 2024-01-05) whose
// termination effective 2024-02-29 was recorded on 2024-08-10. It returns
// the person ID and the full ID number.
func (l *cliLedger) recordBackdatedTermination() (domain.PersonID, string) {
	t := l.t
	t.Helper()
	r := l.resident("1951-09-23", 44)
	id, hash, pid := r.ID, r.Hash, r.PID
	cert, _ := domain.NewCertificateNumber(id, domain.CategoryPhysical, 3)
	exec := func(cmdID, actor, reason, at string, c domain.Command) {
		t.Helper()
		now, err := time.ParseInLocation("2006-01-02 15:04", at, domain.BusinessZone)
		if err != nil {
			t.Fatal(err)
		}
		l.execAs(pid, domain.CommandMeta{CommandID: cmdID, Actor: actor, Role: "clerk", Reason: reason, Now: now}, c)
	}
	exec("r", "clerk.zhou", "", "2024-01-05 09:30", domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "周", Township: "星子镇",
		Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-05")})
	exec("c", "clerk.zhou", "", "2024-01-05 09:40", domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-05-01"), ValidUntil: domain.MustDate("2030-04-30")})
	exec("g", "clerk.zhou", "", "2024-01-05 10:00", domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-01-01")})
	exec("x", "clerk.wang", "dibao ended\tin February", "2024-08-10 15:30", domain.TerminateEntitlement{Program: domain.ProgramLivingSubsidy,
		EffectiveTo: domain.MustDate("2024-02-29"), ReasonCode: domain.TerminationNoLongerEligible})
	return pid, id.Number()
}

// `ledger history` answers the auditor's question on both event stores:
// known on 2024-06-30, March was active; known now (or on 2024-08-31), it
// was terminated by the correction recorded on 2024-08-10.
func TestHistoryCommandTimeTravel(t *testing.T) {
	for _, kind := range []string{"pg", "esdb"} {
		t.Run(kind, func(t *testing.T) {
			l := newCLILedger(t, kind)
			vars := l.vars
			pid, idNum := l.recordBackdatedTermination()
			history := func(args ...string) string {
				t.Helper()
				var out, errOut bytes.Buffer
				if err := run(context.Background(), append([]string{"history"}, args...), getenvFrom(vars), &out, &errOut); err != nil {
					t.Fatalf("history %v: %v\n%s", args, err, errOut.String())
				}
				if strings.Contains(out.String(), idNum) {
					t.Errorf("history %v prints the full ID number", args)
				}
				return out.String()
			}
			active := regexp.MustCompile(`(?m)^living_subsidy +active +2024-01-01 +- +- +- +100\.00 +catalog$`)
			terminated := regexp.MustCompile(`(?m)^living_subsidy +terminated +2024-01-01 +2024-02-29 +- +no_longer_eligible +100\.00 +catalog$`)

			// Every event, aligned: the SUMMARY column starts at the same
			// place in the header and in each row.
			plain := history(string(pid))
			lines := strings.Split(plain, "\n")
			var header, termRow string
			for _, ln := range lines {
				switch {
				case strings.HasPrefix(ln, "REV "):
					header = ln
				case strings.HasPrefix(ln, "3 "):
					termRow = ln
				}
			}
			summary := "living_subsidy terminated: last day in force 2024-02-29 (no_longer_eligible)"
			for _, want := range []string{"EntitlementTerminated.v1", "2024-02-29", "2024-08-10T15:30:00+08:00", "clerk.wang", "dibao ended in February", summary} {
				if !strings.Contains(termRow, want) {
					t.Errorf("the termination row lacks %q: %q\n%s", want, termRow, plain)
				}
			}
			if col := runeIndex(header, "SUMMARY"); col < 0 || col != runeIndex(termRow, summary) {
				t.Errorf("the summary column is not aligned:\n%s", plain)
			}
			if !strings.Contains(plain, "living_subsidy granted from 2024-01-01 at the catalog rate") || active.MatchString(plain) || strings.Contains(plain, "as known at") {
				t.Errorf("plain history:\n%s", plain)
			}

			then := history(string(pid), "--known-at", "2024-06-30", "--as-of", "2024-03-15")
			if !active.MatchString(then) || terminated.MatchString(then) || !strings.Contains(then, "3 events recorded by then, 1 later") ||
				!regexp.MustCompile(`(?m)^3\* +EntitlementTerminated`).MatchString(then) ||
				!strings.Contains(then, "as known at 2024-06-30T23:59:59.999999999+08:00, on 2024-03-15") {
				t.Errorf("known 2024-06-30, as of 2024-03-15: want active\n%s", then)
			}
			for _, args := range [][]string{
				{string(pid), "--known-at", "2024-08-31", "--as-of", "2024-03-15"},
				{"--as-of", "2024-03-15", string(pid)}, // known now; flags before the person
				{string(pid), "--known-at", "2024-08-10T07:30:00Z", "--as-of", "2024-03-15"},
			} {
				if got := history(args...); !terminated.MatchString(got) || active.MatchString(got) {
					t.Errorf("%v: want terminated\n%s", args, got)
				}
			}
			// --known-at alone judges its own date.
			if got := history(string(pid), "--known-at", "2024-06-30T12:00:00+08:00"); !strings.Contains(got, "on 2024-06-30:") || !active.MatchString(got) {
				t.Errorf("--known-at alone:\n%s", got)
			}
			if got := history(string(pid), "--known-at", "2024-01-04", "--as-of", "2024-03-15"); !strings.Contains(got, "entitlements: none") ||
				!strings.Contains(got, "person: not yet known to the ledger") {
				t.Errorf("known before registration:\n%s", got)
			}

			// JSON: the API's document.
			var doc struct {
				KnownAt      string `json:"known_at"`
				AsOf         string `json:"as_of"`
				Events       []map[string]any
				Entitlements []map[string]any
			}
			out := history("--format", "json", string(pid), "--known-at", "2024-06-30", "--as-of", "2024-03-15")
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatalf("json: %v\n%s", err, out)
			}
			if doc.KnownAt != "2024-06-30T23:59:59.999999999+08:00" || doc.AsOf != "2024-03-15" || len(doc.Events) != 4 ||
				len(doc.Entitlements) != 1 || doc.Entitlements[0]["status"] != "active" || doc.Events[3]["summary"] != summary {
				t.Errorf("json document:\n%s", out)
			}
		})
	}
}

func runeIndex(s, sub string) int {
	i := strings.Index(s, sub)
	if i < 0 {
		return -1
	}
	return len([]rune(s[:i]))
}

// Bad input is refused with a usage error naming the flag, before touching
// the store; an unknown person is an error too.
func TestHistoryCommandErrors(t *testing.T) {
	db := pgtest.NewSchema(t)
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	cases := []struct {
		args []string
		exit int
		want string
	}{
		{[]string{}, 2, "name the person"},
		{[]string{"not-a-person"}, 2, "person_id"},
		{[]string{"0123456789abcdef0123", "--known-at", "2024-06-31"}, 2, "known-at"},
		{[]string{"0123456789abcdef0123", "--known-at", "yesterday"}, 2, "known-at"},
		{[]string{"0123456789abcdef0123", "--as-of", "2024/03/15"}, 2, "as-of"},
		{[]string{"0123456789abcdef0123", "--format", "xml"}, 2, "format"},
		{[]string{"0123456789abcdef0123", "extra"}, 2, `"extra"`},
		{[]string{"0123456789abcdef0123", "--colour"}, 2, "colour"},
		{[]string{"0123456789abcdef0123"}, 1, "not found"},
		{[]string{"0123456789abcdef0123", "--as-of", "2024-03-15"}, 1, "not found"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"history"}, c.args...), env, &out, &errOut)
		if err == nil || exitCode(err) != c.exit || !strings.Contains(err.Error(), c.want) {
			t.Errorf("history %v: err %v, exit %d; want exit %d naming %s", c.args, err, exitCode(err), c.exit, c.want)
		}
		if c.exit == 1 && !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("history %v: %v does not match ErrNotFound", c.args, err)
		}
		if out.Len() > 0 {
			t.Errorf("history %v printed %q", c.args, out.String())
		}
	}
}
