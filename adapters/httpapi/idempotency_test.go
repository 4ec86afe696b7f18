package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/domain"
)

// Idempotency-Key on commands: a retried request gets the first response
// and appends nothing; a key reused for another request is refused; keys
// are per user; a command's refusal is replayed like its success;
// concurrent retries append once. Duplicates in flight, transient outcomes
// and owners that die are in idempotency_inflight_test.go.

var idemKeys atomic.Int64

// uniqueKey returns a fresh Idempotency-Key; safe for parallel tests.
func uniqueKey() string {
	return fmt.Sprintf("k-%d-%d", time.Now().UnixNano(), idemKeys.Add(1))
}

// eventCount is l.EventCount once every committed event is readable. The
// store reads $all below the read horizon, which any open transaction in
// the cluster (another test's, a projection's) holds back, so a count taken
// right after a command may miss its events for a moment.
func eventCount(t *testing.T, l *ledger) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var committed int
		if err := l.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&committed); err != nil {
			t.Fatalf("count events: %v", err)
		}
		n := l.EventCount()
		if n == committed {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store reads %d events of %d committed after 10s", n, committed)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// mustDo sends a request that must answer want.
func mustDo(t *testing.T, l *ledger, want int, method, path, as, key string, body any) response {
	t.Helper()
	r := l.Do(method, path, as, key, body)
	if r.Status != want {
		t.Fatalf("%s %s as %s: %d, want %d: %s", method, path, as, r.Status, want, r.Body)
	}
	return r
}

// registration is the body of POST /v1/persons for idNum.
func registration(idNum, name string, dibao bool) map[string]any {
	return map[string]any{
		"id_number": idNum, "name": name, "township": "星子镇",
		"household": map[string]any{"class": "none", "dibao": dibao}, "registered_on": "2024-01-05",
	}
}

// registerWith registers a person as clerk and returns the person ID.
func registerWith(t *testing.T, l *ledger, idNum, name string, dibao bool) string {
	t.Helper()
	r := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", "clerk", uniqueKey(), registration(idNum, name, dibao))
	return r.JSON(t)["person_id"].(string)
}

func TestIdempotencyReplay(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	k := uniqueKey()
	body := registration(idNumber(t, "1971-02-03", 41), "陈明", false)

	first := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", "clerk", k, body)
	if first.Header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first response carries Idempotent-Replayed: %q", first.Header.Get("Idempotent-Replayed"))
	}
	n := eventCount(t, l)

	// Repeated twice: the first response again, nothing appended (a new
	// registration would be a 409 by now).
	for range 2 {
		again := l.Do("POST", "/v1/persons", "clerk", k, body)
		if again.Status != first.Status || !bytes.Equal(again.Body, first.Body) {
			t.Errorf("replay: %d %s, want %d %s", again.Status, again.Body, first.Status, first.Body)
		}
		if got := again.Header.Get("Idempotent-Replayed"); got != "true" {
			t.Errorf("replay: Idempotent-Replayed %q, want true", got)
		}
		if got, want := again.Header.Get("Location"), first.Header.Get("Location"); got != want {
			t.Errorf("replay: Location %q, want %q as on the first response", got, want)
		}
		if ct := again.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("replay: Content-Type %q", ct)
		}
	}
	if got := eventCount(t, l); got != n {
		t.Errorf("replays appended %d events", got-n)
	}

	// The same for a 200 command on the person.
	pid := first.JSON(t)["person_id"].(string)
	k2 := uniqueKey()
	move := map[string]any{"township": "白鹿镇", "effective_on": "2024-06-01"}
	moved := mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+pid+"/move", "clerk", k2, move)
	n = eventCount(t, l)
	again := mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+pid+"/move", "clerk", k2, move)
	if !bytes.Equal(again.Body, moved.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("move replay: %v %s, want %s", again.Header, again.Body, moved.Body)
	}
	if got := eventCount(t, l); got != n {
		t.Errorf("move replay appended %d events", got-n)
	}
}

func TestIdempotencyKeyReused(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	k := uniqueKey()
	idNum := idNumber(t, "1972-03-04", 42)
	first := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", "clerk", k, registration(idNum, "周红", false))
	pid := first.JSON(t)["person_id"].(string)
	n := eventCount(t, l)

	reused := []struct {
		name, method, path string
		body               any
	}{
		{"another body", "POST", "/v1/persons", registration(idNumber(t, "1972-03-04", 43), "吴刚", false)},
		{"the same fields, another value", "POST", "/v1/persons", registration(idNum, "周红", true)},
		{"the same body on another route", "POST", "/v1/persons/" + pid + "/move", registration(idNum, "周红", false)},
		{"another command", "POST", "/v1/persons/" + pid + "/move", map[string]any{"township": "白鹿镇", "effective_on": "2024-06-01"}},
	}
	for _, tc := range reused {
		t.Run(tc.name, func(t *testing.T) {
			r := l.Do(tc.method, tc.path, "clerk", k, tc.body)
			if r.Status != http.StatusConflict {
				t.Fatalf("%d %s, want 409", r.Status, r.Body)
			}
			if p := r.Problem(t); p.Code != "idempotency_key_reused" {
				t.Errorf("code %q, want idempotency_key_reused", p.Code)
			}
			if r.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("a refused reuse is marked replayed")
			}
			if got := eventCount(t, l); got != n {
				t.Errorf("appended %d events", got-n)
			}
		})
	}
	// The key still answers its own request.
	again := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", "clerk", k, registration(idNum, "周红", false))
	if !bytes.Equal(again.Body, first.Body) {
		t.Errorf("replay after refused reuses: %s, want %s", again.Body, first.Body)
	}
}

func TestIdempotencyKeysArePerUser(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	k := uniqueKey()

	// The same key, each user's own change: both happen.
	a := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", "clerk", k, registration(idNumber(t, "1973-04-05", 44), "郑伟", false))
	n := eventCount(t, l)
	b := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", "clerk2", k, registration(idNumber(t, "1973-04-05", 45), "王芳", false))
	if b.Header.Get("Idempotent-Replayed") != "" || bytes.Equal(a.Body, b.Body) {
		t.Fatalf("clerk2's request was answered with clerk's: %s", b.Body)
	}
	if got := eventCount(t, l); got != n+1 {
		t.Errorf("clerk2's registration appended %d events, want 1", got-n)
	}
	if a.JSON(t)["person_id"] == b.JSON(t)["person_id"] {
		t.Errorf("two registrations gave the same person")
	}

	// The same key and body by another user is that user's own request, not
	// a replay of the first user's: here a duplicate registration.
	n = eventCount(t, l)
	r := l.Do("POST", "/v1/persons", "admin", k, registration(idNumber(t, "1973-04-05", 44), "郑伟", false))
	if r.Status != http.StatusConflict || r.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("admin repeating clerk's key and body: %d %v %s, want a 409 conflict of its own", r.Status, r.Header, r.Body)
	}
	if p := r.Problem(t); p.Code != "conflict" {
		t.Errorf("code %q, want conflict", p.Code)
	}
	if got := eventCount(t, l); got != n {
		t.Errorf("appended %d events", got-n)
	}
	// Each user's replay is still their own.
	for as, want := range map[string]response{"clerk": a, "clerk2": b} {
		body := registration(idNumber(t, "1973-04-05", 44), "郑伟", false)
		if as == "clerk2" {
			body = registration(idNumber(t, "1973-04-05", 45), "王芳", false)
		}
		r := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", as, k, body)
		if !bytes.Equal(r.Body, want.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("%s's replay: %s, want %s", as, r.Body, want.Body)
		}
	}
}

// A user named "clerk:dup" with key "1" is not user "clerk" with key
// "dup:1": the second change happens too, instead of being taken for the
// first one's retry.
func TestIdempotencyUserAndKeyDoNotRunTogether(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	tok, err := postgres.Users{Pool: l.DB.Pool}.Add(context.Background(), "clerk:dup", "clerk")
	if err != nil {
		t.Fatal(err)
	}
	l.Tokens["clerk:dup"] = tok
	pid := registerWith(t, l, idNumber(t, "1968-09-10", 50), "钱进", false)

	first := mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+pid+"/move", "clerk", "dup:1",
		map[string]any{"township": "白鹿镇", "effective_on": "2024-06-01"})
	n := eventCount(t, l)
	second := mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+pid+"/move", "clerk:dup", "1",
		map[string]any{"township": "华林镇", "effective_on": "2024-07-01"})
	if bytes.Equal(first.Body, second.Body) || eventCount(t, l) != n+1 {
		t.Fatalf("clerk:dup's move was taken for clerk's: %s (appended %d)", second.Body, eventCount(t, l)-n)
	}
	r := mustDo(t, l, http.StatusOK, "GET", "/v1/persons/"+pid+"/history", "auditor", "", nil)
	events := r.JSON(t)["events"].([]any)
	last := events[len(events)-1].(map[string]any)
	if last["actor"] != "clerk:dup" || last["summary"] != "moved from 白鹿镇 to 华林镇 on 2024-07-01" {
		t.Errorf("last event: %v", last)
	}
}

// A command's own refusal (400, 404, 409, 422) is its definitive answer:
// the same key and body get it again, replayed, and the key stays bound to
// that body; a new key gets a fresh decision.
func TestIdempotencyRefusalIsReplayed(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	idNum := idNumber(t, "1964-05-06", 46)
	pid := registerWith(t, l, idNum, "黄丽", true)
	// Grade 3 physical: living_subsidy yes, care_subsidy no.
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+pid+"/certificate", "clerk", uniqueKey(), map[string]any{
		"certificate_number": idNum + "43", "issued_on": "2020-05-01", "valid_until": "2030-04-30"})

	steps := []struct {
		name     string
		path     string
		bad      any
		status   int
		code     string
		fixed    any
		fixedURL string // "" for path
	}{
		{
			name: "400 invalid field", path: "/v1/persons",
			bad: map[string]any{"id_number": idNumber(t, "1965-06-07", 47), "name": "林强", "township": "星子镇",
				"household": map[string]any{"class": "wealthy"}, "registered_on": "2024-01-05"},
			status: http.StatusBadRequest, code: "invalid_household_class",
			fixed: registration(idNumber(t, "1965-06-07", 47), "林强", false),
		},
		{
			name: "400 malformed JSON", path: "/v1/persons/" + pid + "/move",
			bad:    `{"township": "白鹿镇", "effective_on": `,
			status: http.StatusBadRequest, code: "invalid_body",
			fixed: map[string]any{"township": "白鹿镇", "effective_on": "2024-06-01"},
		},
		{
			name: "422 rule violation", path: "/v1/persons/" + pid + "/grants",
			bad:    map[string]any{"proposal_id": "p-care", "program": "care_subsidy", "effective_from": "2024-06-01"},
			status: http.StatusUnprocessableEntity, code: "rule_violation",
			fixed: map[string]any{"proposal_id": "p-living", "program": "living_subsidy", "effective_from": "2024-06-01"},
		},
		{
			name: "409 conflict", path: "/v1/persons/" + pid + "/household",
			bad:    map[string]any{"household": map[string]any{"class": "none", "dibao": true}, "effective_on": "2024-06-01"},
			status: http.StatusConflict, code: "conflict",
			fixed: map[string]any{"household": map[string]any{"class": "urban_needy", "dibao": true}, "effective_on": "2024-06-01"},
		},
		{
			name: "404 unknown person", path: "/v1/persons/0123456789abcdef0123/death",
			bad:    map[string]any{"date_of_death": "2024-07-01"},
			status: http.StatusNotFound, code: "not_found",
			fixed: map[string]any{"date_of_death": "2024-07-01"}, fixedURL: "/v1/persons/" + pid + "/death",
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			k := uniqueKey()
			n := eventCount(t, l)
			first := l.Do("POST", st.path, "clerk", k, st.bad)
			if first.Status != st.status || first.Problem(t).Code != st.code {
				t.Fatalf("first attempt: %d %s, want %d %s", first.Status, first.Body, st.status, st.code)
			}
			if first.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("the first refusal is marked replayed")
			}
			for attempt := range 2 {
				r := l.Do("POST", st.path, "clerk", k, st.bad)
				if r.Status != first.Status || !bytes.Equal(r.Body, first.Body) {
					t.Errorf("retry %d: %d %s, want the first answer %d %s", attempt, r.Status, r.Body, first.Status, first.Body)
				}
				if r.Header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("retry %d: Idempotent-Replayed %q, want true", attempt, r.Header.Get("Idempotent-Replayed"))
				}
				if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
					t.Errorf("retry %d: Content-Type %q, want application/problem+json", attempt, ct)
				}
			}
			if got := eventCount(t, l); got != n {
				t.Fatalf("refused command appended %d events", got-n)
			}
			url := st.path
			if st.fixedURL != "" {
				url = st.fixedURL
			}
			// The key is bound to the refused request.
			if r := l.Do("POST", url, "clerk", k, st.fixed); r.Status != http.StatusConflict || r.Problem(t).Code != "idempotency_key_reused" {
				t.Errorf("the corrected request with the refused one's key: %d %s, want 409 idempotency_key_reused", r.Status, r.Body)
			}
			// A new key is a new decision.
			ok := l.Do("POST", url, "clerk", uniqueKey(), st.fixed)
			if ok.Status != http.StatusOK && ok.Status != http.StatusCreated {
				t.Fatalf("corrected request with a new key: %d %s", ok.Status, ok.Body)
			}
			if ok.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("corrected request marked replayed")
			}
			if eventCount(t, l) == n {
				t.Errorf("corrected request appended nothing")
			}
		})
	}
}

// A refusal stays the key's answer after the record changes so that the
// same body would now succeed; with a new key it does.
func TestIdempotencyRefusalOutlivesTheRecord(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	idNum := idNumber(t, "1962-03-04", 51)
	id, err := domain.ParseResidentID("id_number", idNum)
	if err != nil {
		t.Fatal(err)
	}
	pid := string(domain.PersonIDFromHash(testKey.Hash(id)))
	k := uniqueKey()
	death := map[string]any{"date_of_death": "2024-07-01"}

	refused := l.Do("POST", "/v1/persons/"+pid+"/death", "clerk", k, death)
	if refused.Status != http.StatusNotFound {
		t.Fatalf("death of a person not registered: %d %s, want 404", refused.Status, refused.Body)
	}
	if got := registerWith(t, l, idNum, "赵兰", false); got != pid {
		t.Fatalf("registered as %s, want %s", got, pid)
	}
	again := l.Do("POST", "/v1/persons/"+pid+"/death", "clerk", k, death)
	if again.Status != http.StatusNotFound || !bytes.Equal(again.Body, refused.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the same key after registering: %d %v %s, want the replayed 404 %s", again.Status, again.Header, again.Body, refused.Body)
	}
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+pid+"/death", "clerk", uniqueKey(), death)
}

func TestIdempotencyConcurrentRetries(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	idNum := idNumber(t, "1966-07-08", 48)
	pid := registerWith(t, l, idNum, "何静", false)

	cases := []struct {
		name   string
		path   string
		body   any
		status int
	}{
		{"register", "/v1/persons", registration(idNumber(t, "1967-08-09", 49), "罗军", false), http.StatusCreated},
		{"move", "/v1/persons/" + pid + "/move", map[string]any{"township": "白鹿镇", "effective_on": "2024-06-01"}, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 10
			k := uniqueKey()
			before := eventCount(t, l)
			var wg sync.WaitGroup
			var mu sync.Mutex
			var got []response
			gate := make(chan struct{})
			for range n {
				wg.Go(func() {
					<-gate
					r := l.Do("POST", tc.path, "clerk", k, tc.body)
					mu.Lock()
					got = append(got, r)
					mu.Unlock()
				})
			}
			close(gate)
			wg.Wait()

			var position string
			for i, r := range got {
				if r.Status != tc.status {
					t.Errorf("request %d: %d %s, want %d", i, r.Status, r.Body, tc.status)
					continue
				}
				p, _ := r.JSON(t)["position"].(string)
				if position == "" {
					position = p
				}
				if p == "" || p != position {
					t.Errorf("request %d: position %q, want %q as the others", i, p, position)
				}
			}
			if appended := eventCount(t, l) - before; appended != 1 {
				t.Errorf("%d identical concurrent requests appended %d events, want 1", n, appended)
			}
			// And a later retry replays the same.
			r := mustDo(t, l, tc.status, "POST", tc.path, "clerk", k, tc.body)
			if p := r.JSON(t)["position"]; p != position || r.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("retry after the race: position %v replayed %q, want %s true", p, r.Header.Get("Idempotent-Replayed"), position)
			}
		})
	}
}
