package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
)

// typedBody is a raw request body sent with its own Content-Type.
type typedBody struct {
	contentType string
	body        string
}

// sendTyped sends body raw with its content type, as user as.
func sendTyped(t *testing.T, l *ledger, method, path, as, key string, b typedBody) response {
	t.Helper()
	req, err := http.NewRequest(method, l.URL+path, strings.NewReader(b.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", b.contentType)
	if as != "" {
		req.Header.Set("Authorization", "Bearer "+l.Tokens[httpapi.Role(as)])
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// withFields returns a copy of m with the fields of set (nil values delete).
func withFields(m map[string]any, set map[string]any) map[string]any {
	out := make(map[string]any, len(m)+len(set))
	for k, v := range m {
		out[k] = v
	}
	for k, v := range set {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func jsonText(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Bad requests: each gets its exact status and problem code (and field or
// rule), as application/problem+json that leaks no internals, and changes
// nothing in the event store.
func TestBadInput(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	l.Tokens["intruder"] = "not-a-token-anyone-was-given"

	// Fixtures, through the API.
	// p1: grade 3 physical certificate, on dibao, a pending living_subsidy
	// proposal by clerk.
	id1 := idNumber(t, "1970-03-15", 11)
	p1 := registerWith(t, l, id1, "王小明", true)
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+p1+"/certificate", "clerk", uniqueKey(), map[string]any{
		"certificate_number": id1 + "43", "issued_on": "2020-05-01", "valid_until": "2030-04-30"})
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+p1+"/grants", "clerk", uniqueKey(), map[string]any{
		"proposal_id": "pr-clerk", "program": "living_subsidy", "effective_from": "2024-06-01"})
	// p2: grade 2, on dibao, a pending proposal by admin (the one role that
	// may both propose and approve).
	id2 := idNumber(t, "1960-01-01", 12)
	p2 := registerWith(t, l, id2, "李秀兰", true)
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+p2+"/certificate", "clerk", uniqueKey(), map[string]any{
		"certificate_number": id2 + "42", "issued_on": "2020-05-01", "valid_until": "2030-04-30"})
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+p2+"/grants", "admin", uniqueKey(), map[string]any{
		"proposal_id": "pr-admin", "program": "living_subsidy", "effective_from": "2024-06-01"})
	// p3: died on 2024-08-01, with a certificate.
	id3 := idNumber(t, "1950-07-07", 13)
	p3 := registerWith(t, l, id3, "张德福", true)
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+p3+"/certificate", "clerk", uniqueKey(), map[string]any{
		"certificate_number": id3 + "41", "issued_on": "2020-05-01", "valid_until": "2030-04-30"})
	mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+p3+"/death", "clerk", uniqueKey(), map[string]any{"date_of_death": "2024-08-01"})
	// p4: born 2005, too old for the child programs.
	id4 := idNumber(t, "2005-06-01", 14)
	p4 := registerWith(t, l, id4, "赵小龙", false)

	// A budget of 2031 proposed by finance, waiting for another user.
	mustDo(t, l, http.StatusOK, "POST", "/v1/budgets", "finance", uniqueKey(), map[string]any{
		"program": "care_subsidy", "fiscal_year": 2031, "amount": "2400000.00"})

	unknown := "0123456789abcdef0123" // well-formed, never registered
	idUnknown := idNumber(t, "1980-01-01", 21)
	badCheck := idUnknown[:17] + map[bool]string{true: "1", false: "0"}[idUnknown[17] == '0']
	future := idNumber(t, "2025-06-01", 22) // born after "today" (2025-03-10)

	reg := func(set map[string]any) map[string]any {
		return withFields(registration(idNumber(t, "1985-05-05", 23), "孙丽", false), set)
	}
	grant := func(set map[string]any) map[string]any {
		return withFields(map[string]any{"proposal_id": "pr-x", "program": "living_subsidy", "effective_from": "2024-06-01"}, set)
	}
	oneOff := func(set map[string]any) map[string]any {
		return withFields(map[string]any{"grant_id": "g-1", "program": "device_subsidy", "amount": "300.00", "effective_on": "2024-06-01"}, set)
	}
	inKind := func(set map[string]any) map[string]any {
		return withFields(map[string]any{"issue_id": "i-1", "item": "轮椅", "quantity": 1, "unit_value": "800.00", "effective_on": "2024-06-01"}, set)
	}
	huge := `{"reason": "` + strings.Repeat("x", 1<<20) + `"}`
	k := uniqueKey // every command case gets a fresh key

	cases := []struct {
		name, method, path, as, key string
		body                        any
		status                      int
		code, field, rule, detail   string
	}{
		// Registration: identity numbers, JSON shape, dates, household.
		{name: "register: bad ID checksum", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"id_number": badCheck}), status: 400, code: "invalid_id_number", field: "id_number"},
		{name: "register: 15-character ID with letters", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"id_number": "360429700315AB1"}), status: 400, code: "invalid_id_number", field: "id_number",
			detail: `id_number: character 13 is "A"; an ID number holds only digits (and X as its 18th character)`},
		{name: "register: 17-character ID", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"id_number": idUnknown[:17]}), status: 400, code: "invalid_id_number", field: "id_number",
			detail: "id_number: has 17 characters (spaces not counted); an ID number has 18 (a first-generation one 15): check for a missing or extra digit"},
		{name: "register: ID born after today", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"id_number": future}), status: 400, code: "invalid_id_number", field: "id_number",
			detail: "id_number: holds a birth date after today"},
		{name: "register: a township not in the register", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"township": "火星镇"}), status: 400, code: "invalid_township", field: "township"},
		{name: "register: an ID number typed as the township", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"township": idUnknown}), status: 400, code: "invalid_township", field: "township",
			detail: "township: looks like an ID number, not a township: type the township's name, e.g. 白鹿镇"},
		{name: "register: missing ID", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"id_number": nil}), status: 400, code: "invalid_id_number", field: "id_number",
			detail: "id_number: is required"},
		{name: "register: duplicate", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: registration(id1, "王小明", true), status: 409, code: "conflict",
			detail: "person " + p1 + " is already registered"},
		{name: "register: unknown field", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"nickname": "丽丽"}), status: 400, code: "invalid_nickname", field: "nickname",
			detail: "nickname: is not a known field"},
		{name: "register: name is a number", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"name": 42}), status: 400, code: "invalid_name", field: "name",
			detail: "name: must be a JSON string, not number"},
		{name: "register: household is a string", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"household": "none"}), status: 400, code: "invalid_household", field: "household"},
		{name: "register: dibao is a string", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"household": map[string]any{"class": "none", "dibao": "yes"}}), status: 400,
			code: "invalid_household_dibao", field: "household.dibao"},
		{name: "register: invalid household class", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"household": map[string]any{"class": "wealthy"}}), status: 400,
			code: "invalid_household_class", field: "household.class"},
		{name: "register: name with a leading space", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"name": " 孙丽"}), status: 400, code: "invalid_name", field: "name",
			detail: "name: has leading or trailing spaces"},
		{name: "register: date 2024-02-30", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"registered_on": "2024-02-30"}), status: 400, code: "invalid_registered_on", field: "registered_on",
			detail: `registered_on: "2024-02-30" is not a date in the form YYYY-MM-DD`},
		{name: "register: date 2024/01/01", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"registered_on": "2024/01/01"}), status: 400, code: "invalid_registered_on", field: "registered_on"},
		{name: "register: registered before birth", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: reg(map[string]any{"registered_on": "1980-01-01"}), status: 400, code: "invalid_registered_on", field: "registered_on"},
		{name: "register: malformed JSON", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: `{"id_number": "` + idUnknown + `", "name": `, status: 400, code: "invalid_body", field: "body"},
		{name: "register: not JSON at all", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: `id_number=` + idUnknown, status: 400, code: "invalid_body", field: "body"},
		{name: "register: empty body", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: "", status: 400, code: "invalid_body", field: "body", detail: "body: is empty; expected a JSON object"},
		{name: "register: JSON array", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: `[]`, status: 400, code: "invalid_body", field: "body"},
		{name: "register: two JSON values", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: jsonText(t, reg(nil)) + jsonText(t, reg(nil)), status: 400, code: "invalid_body", field: "body",
			detail: "body: holds more than one JSON value"},
		{name: "register: a stray bracket after the object", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: jsonText(t, reg(nil)) + " ]", status: 400, code: "invalid_body", field: "body"},
		{name: "register: missing Idempotency-Key", method: "POST", path: "/v1/persons", as: "clerk", key: "",
			body: reg(nil), status: 400, code: "invalid_idempotency_key", field: "Idempotency-Key"},
		{name: "register: overlong Idempotency-Key", method: "POST", path: "/v1/persons", as: "clerk", key: strings.Repeat("k", 201),
			body: reg(nil), status: 400, code: "invalid_idempotency_key", field: "Idempotency-Key",
			detail: "Idempotency-Key: must be at most 200 printable ASCII characters"},
		{name: "register: non-ASCII Idempotency-Key", method: "POST", path: "/v1/persons", as: "clerk", key: "clé-1",
			body: reg(nil), status: 400, code: "invalid_idempotency_key", field: "Idempotency-Key"},
		{name: "register: wrong content type", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: typedBody{"text/plain", jsonText(t, reg(nil))}, status: 400, code: "invalid_content_type", field: "content_type"},
		{name: "register: body over 1 MiB", method: "POST", path: "/v1/persons", as: "clerk", key: k(),
			body: huge, status: 413, code: "body_too_large"},
		{name: "register: no token", method: "POST", path: "/v1/persons", as: "", key: k(),
			body: reg(nil), status: 401, code: "unauthenticated"},
		{name: "register: unknown token", method: "POST", path: "/v1/persons", as: "intruder", key: k(),
			body: reg(nil), status: 401, code: "unauthenticated"},
		{name: "register: finance may not", method: "POST", path: "/v1/persons", as: "finance", key: k(),
			body: reg(nil), status: 403, code: "forbidden"},
		{name: "register: auditor may not", method: "POST", path: "/v1/persons", as: "auditor", key: k(),
			body: reg(nil), status: 403, code: "forbidden"},

		// Certificates.
		{name: "certificate: another person's number", method: "POST", path: "/v1/persons/" + p1 + "/certificate", as: "clerk", key: k(),
			body:   map[string]any{"certificate_number": id2 + "42", "issued_on": "2021-01-01", "valid_until": "2031-01-01"},
			status: 400, code: "invalid_certificate_number", field: "certificate_number",
			detail: "certificate_number: belongs to another ID number than the person's"},
		{name: "certificate: bad category digit", method: "POST", path: "/v1/persons/" + p1 + "/certificate", as: "clerk", key: k(),
			body:   map[string]any{"certificate_number": id1 + "83", "issued_on": "2021-01-01", "valid_until": "2031-01-01"},
			status: 400, code: "invalid_certificate_number", field: "certificate_number"},
		{name: "certificate: valid_until before issued_on", method: "POST", path: "/v1/persons/" + p1 + "/certificate", as: "clerk", key: k(),
			body:   map[string]any{"certificate_number": id1 + "43", "issued_on": "2021-01-01", "valid_until": "2020-01-01"},
			status: 400, code: "invalid_valid_until", field: "valid_until"},
		{name: "regrade: grade 5", method: "POST", path: "/v1/persons/" + p1 + "/certificate/regrade", as: "clerk", key: k(),
			body: map[string]any{"grade": 5, "effective_on": "2024-06-01"}, status: 400, code: "invalid_grade", field: "grade"},
		{name: "regrade: grade as a string", method: "POST", path: "/v1/persons/" + p1 + "/certificate/regrade", as: "clerk", key: k(),
			body: map[string]any{"grade": "2", "effective_on": "2024-06-01"}, status: 400, code: "invalid_grade", field: "grade",
			detail: "grade: must be a JSON integer, not string"},
		{name: "regrade: unknown category", method: "POST", path: "/v1/persons/" + p1 + "/certificate/regrade", as: "clerk", key: k(),
			body: map[string]any{"grade": 2, "category": "purple", "effective_on": "2024-06-01"}, status: 400, code: "invalid_category", field: "category"},
		{name: "revoke: invalid reason code", method: "POST", path: "/v1/persons/" + p1 + "/certificate/revoke", as: "clerk", key: k(),
			body: map[string]any{"reason_code": "lost", "effective_on": "2024-06-01"}, status: 400, code: "invalid_reason_code", field: "reason_code"},

		// Household, death, move.
		{name: "household: invalid class", method: "POST", path: "/v1/persons/" + p1 + "/household", as: "clerk", key: k(),
			body:   map[string]any{"household": map[string]any{"class": "middle"}, "effective_on": "2024-06-01"},
			status: 400, code: "invalid_household_class", field: "household.class"},
		{name: "death: date 2024/08/01", method: "POST", path: "/v1/persons/" + p1 + "/death", as: "clerk", key: k(),
			body: map[string]any{"date_of_death": "2024/08/01"}, status: 400, code: "invalid_date_of_death", field: "date_of_death"},
		{name: "death: missing date", method: "POST", path: "/v1/persons/" + p1 + "/death", as: "clerk", key: k(),
			body: map[string]any{}, status: 400, code: "invalid_date_of_death", field: "date_of_death"},
		{name: "death: date in the future beyond a year", method: "POST", path: "/v1/persons/" + p1 + "/death", as: "clerk", key: k(),
			body: map[string]any{"date_of_death": "2027-01-01"}, status: 400, code: "invalid_date_of_death", field: "date_of_death"},
		{name: "death: unknown person", method: "POST", path: "/v1/persons/" + unknown + "/death", as: "clerk", key: k(),
			body: map[string]any{"date_of_death": "2024-08-01"}, status: 404, code: "not_found"},
		{name: "death: malformed person ID in the path", method: "POST", path: "/v1/persons/not-a-person/death", as: "clerk", key: k(),
			body: map[string]any{"date_of_death": "2024-08-01"}, status: 400, code: "invalid_id", field: "id"},
		{name: "retract death: clerk may not", method: "POST", path: "/v1/persons/" + p3 + "/death/retract", as: "clerk", key: k(),
			body: map[string]any{"reason": "recorded for the wrong person"}, status: 403, code: "forbidden"},
		{name: "retract death: no reason", method: "POST", path: "/v1/persons/" + p3 + "/death/retract", as: "approver", key: k(),
			body: map[string]any{}, status: 400, code: "invalid_reason", field: "reason"},
		{name: "move: effective date 367 days ahead", method: "POST", path: "/v1/persons/" + p1 + "/move", as: "clerk", key: k(),
			body: map[string]any{"township": "白鹿镇", "effective_on": "2026-03-12"}, status: 400, code: "invalid_effective_on", field: "effective_on",
			detail: "effective_on: 2026-03-12 is more than 366 days after today (2025-03-10)"},
		{name: "move: to a township not in the register", method: "POST", path: "/v1/persons/" + p1 + "/move", as: "clerk", key: k(),
			body: map[string]any{"township": "火星镇", "effective_on": "2024-06-01"}, status: 400, code: "invalid_township", field: "township"},
		{name: "move: to the same township", method: "POST", path: "/v1/persons/" + p1 + "/move", as: "clerk", key: k(),
			body: map[string]any{"township": "星子镇", "effective_on": "2024-06-01"}, status: 409, code: "conflict",
			detail: "the person already lives in 星子镇"},
		{name: "move: after death", method: "POST", path: "/v1/persons/" + p3 + "/move", as: "clerk", key: k(),
			body: map[string]any{"township": "白鹿镇", "effective_on": "2024-09-01"}, status: 422, code: "rule_violation", rule: "deceased",
			detail: "MovePerson: the person died on 2024-08-01; only RetractDeath is allowed"},

		// Grants and proposals.
		{name: "grant: unknown program", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"program": "golden_parachute"}), status: 400, code: "invalid_program", field: "program",
			detail: `program: unknown program "golden_parachute"`},
		{name: "grant: one-off program", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"program": "device_subsidy"}), status: 400, code: "invalid_program", field: "program"},
		{name: "grant: effective_from 2024-02-30", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"effective_from": "2024-02-30"}), status: 400, code: "invalid_effective_from", field: "effective_from"},
		{name: "grant: effective_from too far ahead", method: "POST", path: "/v1/persons/" + p2 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"program": "care_subsidy", "effective_from": "2027-01-01"}), status: 400, code: "invalid_effective_from", field: "effective_from"},
		{name: "grant: amount on a catalog-rate program", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"amount": "120.00"}), status: 400, code: "invalid_amount", field: "amount"},
		{name: "grant: vehicle plate on living_subsidy", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"attributes": map[string]any{"vehicle_plate": "赣G12345"}}), status: 400,
			code: "invalid_attributes_vehicle_plate", field: "attributes.vehicle_plate"},
		{name: "grant: proposal ID with a space", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"proposal_id": "pr 2"}), status: 400, code: "invalid_proposal_id", field: "proposal_id"},
		{name: "grant: care_subsidy for grade 3", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"program": "care_subsidy"}), status: 422, code: "rule_violation", rule: "grade_required",
			detail: "care_subsidy requires grade 1 or 2 on 2024-06-01"},
		{name: "grant: after death", method: "POST", path: "/v1/persons/" + p3 + "/grants", as: "clerk", key: k(),
			body: grant(map[string]any{"effective_from": "2024-09-01"}), status: 422, code: "rule_violation", rule: "deceased",
			detail: "ProposeGrant: the person died on 2024-08-01; only RetractDeath is allowed"},
		{name: "grant: second pending proposal", method: "POST", path: "/v1/persons/" + p1 + "/grants", as: "clerk", key: k(),
			body: grant(nil), status: 409, code: "conflict",
			detail: "proposal pr-clerk for living_subsidy is already waiting for approval"},
		{name: "grant: unknown person", method: "POST", path: "/v1/persons/" + unknown + "/grants", as: "clerk", key: k(),
			body: grant(nil), status: 404, code: "not_found"},
		{name: "approve: own proposal", method: "POST", path: "/v1/persons/" + p2 + "/grants/pr-admin/approve", as: "admin", key: k(),
			body: nil, status: 422, code: "rule_violation", rule: "maker_checker",
			detail: "admin proposed pr-admin and may not approve it: another user must"},
		{name: "approve: clerk may not", method: "POST", path: "/v1/persons/" + p1 + "/grants/pr-clerk/approve", as: "clerk", key: k(),
			body: nil, status: 403, code: "forbidden"},
		{name: "approve: unknown proposal", method: "POST", path: "/v1/persons/" + p1 + "/grants/pr-none/approve", as: "approver", key: k(),
			body: nil, status: 404, code: "not_found"},
		{name: "approve: unknown field", method: "POST", path: "/v1/persons/" + p1 + "/grants/pr-clerk/approve", as: "approver", key: k(),
			body: map[string]any{"approved": true}, status: 400, code: "invalid_approved", field: "approved"},
		{name: "reject: without a reason", method: "POST", path: "/v1/persons/" + p1 + "/grants/pr-clerk/reject", as: "approver", key: k(),
			body: map[string]any{}, status: 400, code: "invalid_reason", field: "reason"},

		// Entitlements.
		{name: "suspend: invalid reason code", method: "POST", path: "/v1/persons/" + p1 + "/entitlements/living_subsidy/suspend", as: "clerk", key: k(),
			body: map[string]any{"effective_on": "2024-09-01", "reason_code": "bored"}, status: 400, code: "invalid_reason_code", field: "reason_code"},
		{name: "suspend: unknown program in the path", method: "POST", path: "/v1/persons/" + p1 + "/entitlements/bogus/suspend", as: "clerk", key: k(),
			body: map[string]any{"effective_on": "2024-09-01", "reason_code": "under_review"}, status: 400, code: "invalid_program", field: "program"},
		{name: "terminate: reason death is recorded with RecordDeath", method: "POST", path: "/v1/persons/" + p1 + "/entitlements/living_subsidy/terminate", as: "clerk", key: k(),
			body: map[string]any{"effective_to": "2024-09-30", "reason_code": "death"}, status: 400, code: "invalid_reason_code", field: "reason_code"},
		{name: "terminate: unknown reason code", method: "POST", path: "/v1/persons/" + p1 + "/entitlements/living_subsidy/terminate", as: "clerk", key: k(),
			body: map[string]any{"effective_to": "2024-09-30", "reason_code": "whim"}, status: 400, code: "invalid_reason_code", field: "reason_code"},
		{name: "resume: entitlement not held", method: "POST", path: "/v1/persons/" + p1 + "/entitlements/living_subsidy/resume", as: "clerk", key: k(),
			body: map[string]any{"effective_on": "2024-09-01"}, status: 409, code: "conflict",
			detail: "cannot resume living_subsidy: the person holds no such entitlement"},

		// One-off grants and in-kind issues.
		{name: "one-off: negative amount", method: "POST", path: "/v1/persons/" + p1 + "/one-off-grants", as: "clerk", key: k(),
			body: oneOff(map[string]any{"amount": "-5.00"}), status: 400, code: "invalid_amount", field: "amount",
			detail: `amount: "-5.00" is negative; amounts must be zero or more`},
		{name: "one-off: three decimals", method: "POST", path: "/v1/persons/" + p1 + "/one-off-grants", as: "clerk", key: k(),
			body: oneOff(map[string]any{"amount": "10.005"}), status: 400, code: "invalid_amount", field: "amount"},
		{name: "one-off: zero amount", method: "POST", path: "/v1/persons/" + p1 + "/one-off-grants", as: "clerk", key: k(),
			body: oneOff(map[string]any{"amount": "0.00"}), status: 400, code: "invalid_amount", field: "amount"},
		{name: "one-off: amount as a JSON number", method: "POST", path: "/v1/persons/" + p1 + "/one-off-grants", as: "clerk", key: k(),
			body:   `{"grant_id": "g-1", "program": "device_subsidy", "amount": 300.5, "effective_on": "2024-06-01"}`,
			status: 400, code: "invalid_amount", field: "amount", detail: "amount: must be a JSON string, not number"},
		{name: "one-off: missing amount", method: "POST", path: "/v1/persons/" + p1 + "/one-off-grants", as: "clerk", key: k(),
			body: oneOff(map[string]any{"amount": nil}), status: 400, code: "invalid_amount", field: "amount"},
		{name: "one-off: monthly program", method: "POST", path: "/v1/persons/" + p1 + "/one-off-grants", as: "clerk", key: k(),
			body: oneOff(map[string]any{"program": "living_subsidy"}), status: 400, code: "invalid_program", field: "program"},
		{name: "one-off: child_rehab_training at 19", method: "POST", path: "/v1/persons/" + p4 + "/one-off-grants", as: "clerk", key: k(),
			body: oneOff(map[string]any{"program": "child_rehab_training", "effective_on": "2025-02-01"}), status: 422, code: "rule_violation",
			rule: "age_limit", detail: "child_rehab_training requires age 0–15 on 2025-02-01 (age 19)"},
		{name: "one-off: after death", method: "POST", path: "/v1/persons/" + p3 + "/one-off-grants", as: "clerk", key: k(),
			body: oneOff(map[string]any{"effective_on": "2024-09-01"}), status: 422, code: "rule_violation", rule: "deceased"},
		{name: "in-kind: quantity 0", method: "POST", path: "/v1/persons/" + p1 + "/in-kind-issues", as: "clerk", key: k(),
			body: inKind(map[string]any{"quantity": 0}), status: 400, code: "invalid_quantity", field: "quantity",
			detail: "quantity: 0 is not 1 to 1000"},
		{name: "in-kind: quantity as a string", method: "POST", path: "/v1/persons/" + p1 + "/in-kind-issues", as: "clerk", key: k(),
			body: inKind(map[string]any{"quantity": "2"}), status: 400, code: "invalid_quantity", field: "quantity",
			detail: "quantity: must be a JSON integer, not string"},
		{name: "in-kind: fractional quantity", method: "POST", path: "/v1/persons/" + p1 + "/in-kind-issues", as: "clerk", key: k(),
			body: inKind(map[string]any{"quantity": 1.5}), status: 400, code: "invalid_quantity", field: "quantity"},
		{name: "in-kind: unit value with a digit separator", method: "POST", path: "/v1/persons/" + p1 + "/in-kind-issues", as: "clerk", key: k(),
			body: inKind(map[string]any{"unit_value": "1,200.00"}), status: 400, code: "invalid_unit_value", field: "unit_value"},

		// Queries.
		{name: "person: unknown ID", method: "GET", path: "/v1/persons/" + unknown, as: "clerk",
			status: 404, code: "not_found"},
		{name: "person: malformed ID", method: "GET", path: "/v1/persons/12345", as: "clerk",
			status: 400, code: "invalid_id", field: "id"},
		{name: "person: upper-case hex ID", method: "GET", path: "/v1/persons/" + strings.ToUpper(p1), as: "clerk",
			status: 400, code: "invalid_id", field: "id"},
		{name: "person: bad after position", method: "GET", path: "/v1/persons/" + p1 + "?after=yesterday", as: "clerk",
			status: 400, code: "invalid_after", field: "after", detail: `after: "yesterday" is not a position in the form COMMIT/PREPARE`},
		{name: "person: after position with trailing text", method: "GET", path: "/v1/persons/" + p1 + "?after=1/2/3", as: "clerk",
			status: 400, code: "invalid_after", field: "after"},
		{name: "person: no token", method: "GET", path: "/v1/persons/" + p1, as: "",
			status: 401, code: "unauthenticated"},
		{name: "entitlements: as_of 2024-13-01", method: "GET", path: "/v1/persons/" + p1 + "/entitlements?as_of=2024-13-01", as: "clerk",
			status: 400, code: "invalid_as_of", field: "as_of"},
		{name: "entitlements: as_of 2024/01/01", method: "GET", path: "/v1/persons/" + p1 + "/entitlements?as_of=2024/01/01", as: "clerk",
			status: 400, code: "invalid_as_of", field: "as_of"},
		{name: "entitlements: unknown person", method: "GET", path: "/v1/persons/" + unknown + "/entitlements", as: "clerk",
			status: 404, code: "not_found"},
		{name: "history: clerk may not read", method: "GET", path: "/v1/persons/" + p1 + "/history", as: "clerk",
			status: 403, code: "forbidden"},
		{name: "history: unknown person", method: "GET", path: "/v1/persons/" + unknown + "/history", as: "auditor",
			status: 404, code: "not_found"},
		{name: "payments: approver may not read", method: "GET", path: "/v1/persons/" + p1 + "/payments", as: "approver",
			status: 403, code: "forbidden"},
		{name: "spending: bad group_by", method: "GET", path: "/v1/spending?group_by=week", as: "finance",
			status: 400, code: "invalid_group_by", field: "group_by"},
		{name: "spending: year out of range", method: "GET", path: "/v1/spending?year=1999", as: "finance",
			status: 400, code: "invalid_year", field: "year"},
		{name: "programs: year not a number", method: "GET", path: "/v1/programs?year=twenty", as: "clerk",
			status: 400, code: "invalid_year", field: "year"},
		{name: "expiring certificates: unknown township", method: "GET", path: "/v1/certificates/expiring?township=%E7%81%AB%E6%98%9F%E9%95%87", as: "clerk",
			status: 400, code: "invalid_township", field: "township"},
		{name: "expiring certificates: 400 days ahead", method: "GET", path: "/v1/certificates/expiring?within=400", as: "clerk",
			status: 400, code: "invalid_within", field: "within"},
		{name: "townships: all=yes", method: "GET", path: "/v1/townships?all=yes", as: "clerk",
			status: 400, code: "invalid_all", field: "all"},
		{name: "search: neither name nor township", method: "GET", path: "/v1/persons", as: "clerk",
			status: 400, code: "invalid_name", field: "name"},
		{name: "search: blank name", method: "GET", path: "/v1/persons?name=%20%20", as: "clerk",
			status: 400, code: "invalid_name", field: "name"},
		{name: "search: limit 0", method: "GET", path: "/v1/persons?name=wang&limit=0", as: "clerk",
			status: 400, code: "invalid_limit", field: "limit"},
		{name: "search: limit 501", method: "GET", path: "/v1/persons?township=xingzi&limit=501", as: "clerk",
			status: 400, code: "invalid_limit", field: "limit", detail: `limit: "501" is not a whole number from 1 to 500`},
		{name: "search: negative offset", method: "GET", path: "/v1/persons?name=wang&offset=-1", as: "clerk",
			status: 400, code: "invalid_offset", field: "offset"},
		{name: "lookup: both id_number and certificate_number", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: map[string]any{"id_number": id1, "certificate_number": id1 + "43"}, status: 400, code: "invalid_id_number", field: "id_number"},
		{name: "lookup: neither", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: map[string]any{}, status: 400, code: "invalid_id_number", field: "id_number"},
		{name: "lookup: bad ID checksum", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: map[string]any{"id_number": badCheck}, status: 400, code: "invalid_id_number", field: "id_number"},
		{name: "lookup: malformed certificate number", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: map[string]any{"certificate_number": id1}, status: 400, code: "invalid_certificate_number", field: "certificate_number"},
		{name: "lookup: ID number as a number", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: `{"id_number": 360429197003151234}`, status: 400, code: "invalid_id_number", field: "id_number"},
		{name: "lookup: unknown person", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: map[string]any{"id_number": idUnknown}, status: 404, code: "not_found"},
		{name: "lookup: unknown field", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: map[string]any{"id_number": id1, "name": "王小明"}, status: 400, code: "invalid_name", field: "name"},
		{name: "lookup: wrong content type", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: typedBody{"application/x-www-form-urlencoded", "id_number=" + id1}, status: 400, code: "invalid_content_type", field: "content_type"},
		{name: "lookup: empty body", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: "", status: 400, code: "invalid_body", field: "body"},
		{name: "lookup: two JSON values", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: `{"id_number": "` + id1 + `"} {}`, status: 400, code: "invalid_body", field: "body"},
		{name: "lookup: body over 1 MiB", method: "POST", path: "/v1/persons/lookup", as: "clerk",
			body: huge, status: 413, code: "body_too_large"},

		// Budgets (maker-checker).
		{name: "budget: no amount", method: "POST", path: "/v1/budgets", as: "finance", key: k(),
			body: map[string]any{"program": "care_subsidy", "fiscal_year": 2032}, status: 400, code: "invalid_amount", field: "amount"},
		{name: "budget: year 1999", method: "POST", path: "/v1/budgets", as: "finance", key: k(),
			body: map[string]any{"program": "care_subsidy", "fiscal_year": 1999, "amount": "1.00"}, status: 400, code: "invalid_fiscal_year", field: "fiscal_year"},
		{name: "budget: unknown program", method: "POST", path: "/v1/budgets", as: "finance", key: k(),
			body: map[string]any{"program": "pension", "fiscal_year": 2032, "amount": "1.00"}, status: 400, code: "invalid_program", field: "program"},
		{name: "budget: a second proposal while one waits", method: "POST", path: "/v1/budgets", as: "finance", key: k(),
			body: map[string]any{"program": "care_subsidy", "fiscal_year": 2031, "amount": "2500000.00"}, status: 409, code: "conflict"},
		{name: "budget: clerk may not propose", method: "POST", path: "/v1/budgets", as: "clerk", key: k(),
			body: map[string]any{"program": "care_subsidy", "fiscal_year": 2032, "amount": "1.00"}, status: 403, code: "forbidden"},
		{name: "budget approve: by the proposer", method: "POST", path: "/v1/budgets/care_subsidy/2031/approve", as: "finance", key: k(),
			status: 422, code: "rule_violation", rule: "maker_checker"},
		{name: "budget approve: nothing waiting", method: "POST", path: "/v1/budgets/care_subsidy/2030/approve", as: "admin", key: k(),
			status: 404, code: "not_found"},
		{name: "budget approve: year not a number", method: "POST", path: "/v1/budgets/care_subsidy/next/approve", as: "admin", key: k(),
			status: 400, code: "invalid_year", field: "year"},
		{name: "budget reject: no reason", method: "POST", path: "/v1/budgets/care_subsidy/2031/reject", as: "admin", key: k(),
			body: map[string]any{}, status: 400, code: "invalid_reason", field: "reason"},

		// Roster cross-checks.
		{name: "roster: unknown source", method: "POST", path: "/v1/rosters/police/imports", as: "clerk", key: k(),
			body: typedBody{"text/csv", "姓名,身份证号,类别\r\n王小明," + id1 + ",低保\r\n"}, status: 400, code: "invalid_source", field: "source"},
		{name: "roster: a bad ID number on line 3", method: "POST", path: "/v1/rosters/civil_affairs/imports?as_of=2025-03-01", as: "clerk", key: k(),
			body:   typedBody{"text/csv", "姓名,身份证号,类别\r\n王小明," + id1 + ",低保\r\n孙丽," + badCheck + ",低保\r\n"},
			status: 400, code: "invalid_roster_file", field: "file"},
		{name: "roster: no category column", method: "POST", path: "/v1/rosters/civil_affairs/imports?as_of=2025-03-01", as: "clerk", key: k(),
			body: typedBody{"text/csv", "姓名,身份证号\r\n王小明," + id1 + "\r\n"}, status: 400, code: "invalid_roster_file", field: "file"},
		{name: "roster: as_of in the future", method: "POST", path: "/v1/rosters/civil_affairs/imports?as_of=2025-04-01", as: "clerk", key: k(),
			body: typedBody{"text/csv", "姓名,身份证号,类别\r\n王小明," + id1 + ",低保\r\n"}, status: 400, code: "invalid_as_of", field: "as_of"},
		{name: "roster: as_of 2025/03/01", method: "POST", path: "/v1/rosters/civil_affairs/imports?as_of=2025/03/01", as: "clerk", key: k(),
			body: typedBody{"text/csv", "姓名,身份证号,类别\r\n王小明," + id1 + ",低保\r\n"}, status: 400, code: "invalid_as_of", field: "as_of"},
		{name: "roster: approver may not import", method: "POST", path: "/v1/rosters/civil_affairs/imports", as: "approver", key: k(),
			body: typedBody{"text/csv", "姓名,身份证号,类别\r\n王小明," + id1 + ",低保\r\n"}, status: 403, code: "forbidden"},
		{name: "roster imports: unknown source", method: "GET", path: "/v1/rosters/imports?source=police", as: "clerk",
			status: 400, code: "invalid_source", field: "source"},
		{name: "roster differences: malformed import ID", method: "GET", path: "/v1/rosters/imports/latest/differences", as: "clerk",
			status: 400, code: "invalid_import", field: "import"},
		{name: "roster differences: review=yes", method: "GET", path: "/v1/rosters/imports/0123456789abcdef/differences?review=yes", as: "clerk",
			status: 400, code: "invalid_review", field: "review"},
		{name: "roster differences: unknown township", method: "GET", path: "/v1/rosters/imports/0123456789abcdef/differences?township=%E7%81%AB%E6%98%9F%E9%95%87",
			as: "clerk", status: 400, code: "invalid_township", field: "township"},
		{name: "change approve: no such proposal", method: "POST", path: "/v1/persons/" + p1 + "/changes/roster-0123456789abcdef/approve", as: "approver", key: k(),
			status: 404, code: "not_found"},
		{name: "change approve: a grant proposal", method: "POST", path: "/v1/persons/" + p1 + "/changes/pr-clerk/approve", as: "approver", key: k(),
			status: 409, code: "conflict"},
		{name: "change reject: no reason", method: "POST", path: "/v1/persons/" + p1 + "/changes/pr-clerk/reject", as: "approver", key: k(),
			body: map[string]any{}, status: 400, code: "invalid_reason", field: "reason"},
		{name: "change approve: clerk may not", method: "POST", path: "/v1/persons/" + p1 + "/changes/pr-clerk/approve", as: "clerk", key: k(),
			status: 403, code: "forbidden"},

		// Routing.
		{name: "unknown route", method: "GET", path: "/v1/nothing-here", as: "clerk", status: 404, code: "not_found"},
		{name: "method not allowed", method: "DELETE", path: "/v1/persons/" + p1, as: "clerk", status: 405, code: "method_not_allowed"},

		// History time travel.
		{name: "history: known_at 2024-06-31", method: "GET", path: "/v1/persons/" + p1 + "/history?known_at=2024-06-31", as: "auditor",
			status: 400, code: "invalid_known_at", field: "known_at"},
		{name: "history: known_at without a zone", method: "GET", path: "/v1/persons/" + p1 + "/history?known_at=2024-06-30T10:00:00", as: "auditor",
			status: 400, code: "invalid_known_at", field: "known_at"},
		{name: "history: known_at empty", method: "GET", path: "/v1/persons/" + p1 + "/history?known_at=&as_of=2024-03-15", as: "auditor",
			status: 400, code: "invalid_known_at", field: "known_at"},
		{name: "history: as_of 2024/03/15", method: "GET", path: "/v1/persons/" + p1 + "/history?known_at=2024-06-30&as_of=2024/03/15", as: "auditor",
			status: 400, code: "invalid_as_of", field: "as_of"},
		{name: "history: as_of a timestamp", method: "GET", path: "/v1/persons/" + p1 + "/history?as_of=2024-03-15T00:00:00Z", as: "auditor",
			status: 400, code: "invalid_as_of", field: "as_of"},
		{name: "history: time travel on an unknown person", method: "GET", path: "/v1/persons/" + unknown + "/history?as_of=2024-03-15", as: "auditor",
			status: 404, code: "not_found"},
		{name: "history: time travel as a clerk", method: "GET", path: "/v1/persons/" + p1 + "/history?as_of=2024-03-15", as: "clerk",
			status: 403, code: "forbidden"},
	}

	// Full ID and certificate numbers that no response may repeat.
	secrets := []string{id1, id2, id3, id4, idUnknown, badCheck, future}
	leaks := []string{"SQLSTATE", "goroutine", ".go:", "panic", "pgx", "pgconn", "runtime/", "syntax error at"}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := eventCount(t, l)
			var r response
			if b, ok := tc.body.(typedBody); ok {
				r = sendTyped(t, l, tc.method, tc.path, tc.as, tc.key, b)
			} else {
				r = l.Do(tc.method, tc.path, tc.as, tc.key, tc.body)
			}
			if after := eventCount(t, l); after != before {
				t.Errorf("the event store changed: %d events before, %d after", before, after)
			}
			if r.Status != tc.status {
				t.Errorf("status %d, want %d; body %s", r.Status, tc.status, r.Body)
			}
			p := r.Problem(t) // checks the content type
			if p.Status != r.Status {
				t.Errorf("problem status %d, response status %d", p.Status, r.Status)
			}
			if p.Code != tc.code || p.Field != tc.field || p.Rule != tc.rule {
				t.Errorf("code %q field %q rule %q, want %q %q %q; detail %q", p.Code, p.Field, p.Rule, tc.code, tc.field, tc.rule, p.Detail)
			}
			if tc.detail != "" && p.Detail != tc.detail {
				t.Errorf("detail %q, want %q", p.Detail, tc.detail)
			}
			if p.Detail == "" || p.Title == "" || p.Type == "" {
				t.Errorf("problem without type, title or detail: %s", r.Body)
			}
			body := string(r.Body)
			for _, s := range leaks {
				if strings.Contains(body, s) {
					t.Errorf("the response shows %q: %s", s, body)
				}
			}
			for _, s := range secrets {
				if strings.Contains(body, s) {
					t.Errorf("the response repeats a full ID number: %s", body)
				}
			}
		})
	}
	if len(cases) < 35 {
		t.Errorf("only %d cases", len(cases))
	}
	// The fixtures are as set up: registered, certificate, proposal.
	r := mustDo(t, l, http.StatusOK, "GET", "/v1/persons/"+p1+"/history", "auditor", "", nil)
	if n := len(r.JSON(t)["events"].([]any)); n != 3 {
		t.Errorf("p1 has %d events, want 3: %s", n, r.Body)
	}
}

// TestIDNumbersAsTyped: an ID number typed with full-width digits and
// spaces registers the person under the plain number: a look-up by the
// plain number (or its certificate number typed the same way) finds them,
// and registering the plain number again is refused as a duplicate.
func TestIDNumbersAsTyped(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	plain := idNumber(t, "1966-06-06", 31)
	var typed strings.Builder
	for i, r := range plain {
		if i == 6 || i == 14 {
			typed.WriteRune('\u3000') // the full-width space of a Chinese input method
		}
		typed.WriteRune(r - '0' + '０')
	}
	reg := mustDo(t, l, http.StatusCreated, "POST", "/v1/persons", "clerk", uniqueKey(), registration(" "+typed.String()+" ", "周桂英", true)).JSON(t)
	pid := reg["person_id"].(string)
	found := mustDo(t, l, http.StatusOK, "POST", "/v1/persons/lookup?after="+reg["position"].(string), "clerk", "", map[string]any{"id_number": plain}).JSON(t)
	if found["person_id"] != pid || found["id_number"] != plain[:6]+"********"+plain[14:] {
		t.Errorf("look-up by the plain number found %v, want person %s with the number masked", found, pid)
	}
	cert := mustDo(t, l, http.StatusOK, "POST", "/v1/persons/"+pid+"/certificate", "clerk", uniqueKey(), map[string]any{
		"certificate_number": typed.String() + " ４２", "issued_on": "2020-05-01", "valid_until": "2030-04-30"}).JSON(t)
	byCert := mustDo(t, l, http.StatusOK, "POST", "/v1/persons/lookup?after="+cert["position"].(string), "clerk", "", map[string]any{"certificate_number": plain + "42"}).JSON(t)
	if byCert["person_id"] != pid {
		t.Errorf("look-up by the certificate number found %v, want %s", byCert["person_id"], pid)
	}
	again := l.Do("POST", "/v1/persons", "clerk", uniqueKey(), registration(plain, "周桂英", true))
	if again.Status != http.StatusConflict {
		t.Errorf("the plain number registered again: %d %s, want 409", again.Status, again.Body)
	}
}

// TestHTTPDetails: a 405 says which methods the path allows; the Bearer
// scheme is case-insensitive; a query parameter that is not UTF-8 is a
// 400 naming it; and an ID number put in a URL is repeated neither in the
// answer nor in the request log.
func TestHTTPDetails(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	pid := registerWith(t, l, idNumber(t, "1977-07-07", 32), "吴芳", false)

	r := l.Do("DELETE", "/v1/persons/"+pid, "clerk", "", nil)
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET" {
		t.Errorf("DELETE on a person: %d, Allow %q; want 405 with Allow: GET", r.Status, r.Header.Get("Allow"))
	}
	r = l.Do("PUT", "/v1/persons", "clerk", "", nil)
	if r.Status != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, POST" {
		t.Errorf("PUT on /v1/persons: %d, Allow %q; want 405 with Allow: GET, POST", r.Status, r.Header.Get("Allow"))
	}

	for _, scheme := range []string{"bearer", "BEARER", "Bearer"} {
		req, _ := http.NewRequest("GET", l.URL+"/v1/persons/"+pid, nil)
		req.Header.Set("Authorization", scheme+" "+l.Tokens["clerk"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized {
			t.Errorf("Authorization: %s TOKEN was refused", scheme)
		}
	}

	r = l.Do("GET", "/v1/persons?name=%ff", "clerk", "", nil)
	if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"name"`) {
		t.Errorf("name=%%ff: %d %s; want 400 naming the field", r.Status, r.Body)
	}

	idNum := idNumber(t, "1981-08-08", 33)
	for _, path := range []string{"/v1/persons/" + idNum, "/v1/persons/" + idNum + "/entitlements", "/v1/persons/" + idNum + "41", "/v1/nothing/" + idNum} {
		r = l.Do("GET", path, "clerk", "", nil)
		if r.Status < 400 || strings.Contains(string(r.Body), idNum[6:14]) {
			t.Errorf("GET %s: %d %s; want an error that does not repeat the number", path, r.Status, r.Body)
		}
	}
	if logs := l.Logs.String(); strings.Contains(logs, idNum[6:14]) || !strings.Contains(logs, idNum[:6]+"********"+idNum[14:]) {
		t.Errorf("the request log repeats the ID number or does not show it masked:\n%s", logs)
	}
}
