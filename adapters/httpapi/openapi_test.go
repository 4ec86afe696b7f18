package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	validationerrors "github.com/pb33f/libopenapi-validator/errors"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/domain"
)

// The OpenAPI document describes exactly the routes of routes.go, with
// their roles, and holds together.
func TestOpenAPIDocument(t *testing.T) {
	doc := loadOpenAPI(t)
	if v, _ := doc.root["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi %q, want 3.1.x", v)
	}
	if _, ok := doc.root["security"]; ok {
		t.Errorf("top-level security would apply to the public routes too; declare it per operation")
	}
	if s := doc.at("#/components/securitySchemes/bearerAuth"); s["type"] != "http" || s["scheme"] != "bearer" {
		t.Errorf("securitySchemes.bearerAuth = %v, want an http bearer scheme", s)
	}

	// The same (method, path) set as Routes(), with the same roles.
	routes := map[string]httpapi.RouteInfo{}
	for _, rt := range httpapi.Routes() {
		routes[rt.Method+" "+rt.Pattern] = rt
	}
	ops := doc.operations()
	for _, name := range slices.Sorted(maps.Keys(routes)) {
		if _, ok := ops[name]; !ok {
			t.Errorf("route %s is not documented", name)
		}
	}
	opIDs := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(ops)) {
		op := ops[name]
		rt, ok := routes[name]
		if !ok {
			t.Errorf("%s is documented but is no route", name)
			continue
		}
		if id, _ := op.op["operationId"].(string); id == "" {
			t.Errorf("%s: no operationId", name)
		} else if other, dup := opIDs[id]; dup {
			t.Errorf("%s: operationId %q is also %s's", name, id, other)
		} else {
			opIDs[id] = name
		}
		checkSecurity(t, name, rt, op)
		checkParameters(t, name, op)
		checkResponses(t, doc, name, rt, op)
	}
	// Every object schema is closed, requests' and responses' alike: the
	// server rejects unknown fields, and a field it adds to an answer must
	// be documented (the validator then finds it undeclared).
	doc.closedObjects(t, "openapi.json", doc.root, map[string]bool{})

	// Every $ref resolves, and every component is used.
	used := map[string]bool{}
	walkRefs(doc.root, func(ref string) {
		used[ref] = true
		if !strings.HasPrefix(ref, "#/") {
			t.Errorf("$ref %q is not local", ref)
		} else if _, ok := doc.resolvePointer(ref); !ok {
			t.Errorf("$ref %q does not resolve", ref)
		}
	})
	for _, kind := range []string{"schemas", "parameters", "responses", "headers"} {
		for name := range doc.at("#/components/" + kind) {
			if ref := "#/components/" + kind + "/" + name; !used[ref] {
				t.Errorf("%s is never used", ref)
			}
		}
	}

	// Enumerations the domain owns.
	var codes []string
	for _, p := range domain.Catalog() {
		codes = append(codes, string(p.Code))
	}
	if got := doc.enum("ProgramCode"); !slices.Equal(sortedStrs(got), sortedStrs(codes)) {
		t.Errorf("ProgramCode enum %v, want the catalog's %v", got, codes)
	}
	parses := map[string]func(string) error{
		"HouseholdClass":     func(s string) error { _, err := domain.ParseHouseholdClass("f", s); return err },
		"DisabilityCategory": func(s string) error { _, err := domain.ParseCategory("f", s); return err },
	}
	for schema, parse := range parses {
		for _, v := range doc.enum(schema) {
			if err := parse(v); err != nil {
				t.Errorf("%s enum value %q: %v", schema, v, err)
			}
		}
	}
	reasons := map[string]func(string) error{
		"RevokeCertificateRequest":    func(s string) error { _, err := domain.ParseRevocationReason("f", s); return err },
		"SuspendEntitlementRequest":   func(s string) error { _, err := domain.ParseSuspensionReason("f", s); return err },
		"TerminateEntitlementRequest": func(s string) error { _, err := domain.ParseTerminationReason("f", s); return err },
	}
	for schema, parse := range reasons {
		for _, v := range doc.stringsAt("#/components/schemas/" + schema + "/properties/reason_code/enum") {
			if err := parse(v); err != nil {
				t.Errorf("%s reason_code %q: %v", schema, v, err)
			}
		}
	}
}

// checkSecurity: authenticated operations need the bearer scheme and list
// exactly the route's roles in x-roles; public ones have neither.
func checkSecurity(t *testing.T, name string, rt httpapi.RouteInfo, op operation) {
	t.Helper()
	sec, hasSec := op.op["security"]
	xr, hasRoles := op.op["x-roles"]
	if rt.Roles == nil {
		// Public: an empty security requirement (anonymous allowed), said
		// explicitly, so that linters see every operation's security.
		if !reflect.DeepEqual(sec, []any{map[string]any{}}) || hasRoles {
			t.Errorf("%s is public: want security [{}] and no x-roles, got %v (present %v) and %v", name, sec, hasSec, xr)
		}
		return
	}
	if !reflect.DeepEqual(sec, []any{map[string]any{"bearerAuth": []any{}}}) {
		t.Errorf("%s: security %v, want [{bearerAuth: []}]", name, sec)
	}
	var got []string
	for _, r := range jsonArray(xr) {
		s, _ := r.(string)
		got = append(got, s)
	}
	var want []string
	for _, r := range rt.Roles {
		want = append(want, string(r))
	}
	if !slices.Equal(sortedStrs(got), sortedStrs(want)) || len(slices.Compact(sortedStrs(got))) != len(got) {
		t.Errorf("%s: x-roles %v, want %v", name, xr, want)
	}
}

// checkParameters: the path's parameters are declared, and commands (and
// only commands) require an Idempotency-Key.
func checkParameters(t *testing.T, name string, op operation) {
	t.Helper()
	method, path, _ := strings.Cut(name, " ")
	inPath := map[string]bool{}
	hasKey := false
	for _, p := range op.params {
		switch {
		case p["in"] == "path":
			inPath[p["name"].(string)] = true
			if p["required"] != true {
				t.Errorf("%s: path parameter %v is not required", name, p["name"])
			}
		case p["in"] == "header" && strings.EqualFold(fmt.Sprint(p["name"]), "Idempotency-Key"):
			hasKey = true
			if p["required"] != true {
				t.Errorf("%s: the Idempotency-Key header is not required", name)
			}
		}
		if p["schema"] == nil {
			t.Errorf("%s: parameter %v has no schema", name, p["name"])
		}
	}
	for _, m := range regexp.MustCompile(`\{([^}]+)\}`).FindAllStringSubmatch(path, -1) {
		if !inPath[m[1]] {
			t.Errorf("%s: path parameter {%s} is not declared", name, m[1])
		}
		delete(inPath, m[1])
	}
	for p := range inPath {
		t.Errorf("%s: declares path parameter %s, which is not in the path", name, p)
	}
	if isCommandRoute(method, path) != hasKey {
		t.Errorf("%s: declares an Idempotency-Key header: %v; is a command: %v", name, hasKey, isCommandRoute(method, path))
	}
}

// checkResponses: a success, and the problems every authenticated
// operation and every command can answer.
func checkResponses(t *testing.T, doc *openAPI, name string, rt httpapi.RouteInfo, op operation) {
	t.Helper()
	resp := jsonObject(op.op["responses"])
	want := []string{}
	if rt.Roles != nil {
		want = append(want, "400", "401", "403", "500", "503") // 503: the database may be unavailable
	}
	if isCommandRoute(rt.Method, rt.Pattern) {
		want = append(want, "409", "413")
	}
	if strings.Contains(rt.Pattern, "{id}") {
		want = append(want, "404")
		if isCommandRoute(rt.Method, rt.Pattern) {
			want = append(want, "422") // the person's state or a program rule may forbid it
		}
	}
	for _, code := range want {
		if _, ok := resp[code]; !ok {
			t.Errorf("%s: no %s response", name, code)
		}
	}
	success := 0
	for code, r := range resp {
		r := doc.resolve(r)
		if strings.HasPrefix(code, "2") {
			success++
			continue
		}
		if _, ok := jsonObject(r["content"])["application/problem+json"]; !ok {
			t.Errorf("%s: response %s is not application/problem+json", name, code)
		}
	}
	if success != 1 {
		t.Errorf("%s: %d success responses, want 1", name, success)
	}
	if r, ok := resp["503"]; ok {
		if _, ok := jsonObject(doc.resolve(r)["headers"])["Retry-After"]; !ok {
			t.Errorf("%s: the 503 response does not declare Retry-After", name)
		}
	}
	if rt.Roles != nil {
		if _, ok := jsonObject(doc.resolve(resp["401"])["headers"])["WWW-Authenticate"]; !ok {
			t.Errorf("%s: the 401 response does not declare WWW-Authenticate", name)
		}
	}
}

// The server serves the document byte for byte.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	want, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	r := l.Do("GET", "/v1/openapi.json", anonymous, "", nil)
	if r.Status != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /v1/openapi.json: %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	if !bytes.Equal(r.Body, want) {
		t.Errorf("GET /v1/openapi.json serves %d bytes that differ from openapi.json (%d bytes)", len(r.Body), len(want))
	}
}

// Every route answers a request its schema accepts with the documented
// status and a body its schema accepts; so do the problems a client meets.
func TestOpenAPIConformance(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	ops := doc.operations()
	l := start(t, "postgres")

	for _, rt := range httpapi.Routes() {
		name := rt.Method + " " + rt.Pattern
		build, op := routeRequests[name], ops[name]
		if op.op == nil {
			continue // TestOpenAPIDocument reports it
		}
		t.Run(name, func(t *testing.T) {
			l := l.forTest(t)
			f := newFixture(l)
			if build.prepare != nil {
				build.prepare(l, f)
			}
			as := anonymous
			if rt.Roles != nil {
				as = string(rt.Roles[0])
			}
			if build.body != nil {
				b := build.body(f)
				doc.checkRequestBody(t, op, b)
				build.body = func(*fixture) any { return b }
			} else if rb, ok := op.op["requestBody"]; ok && doc.resolve(rb)["required"] == true {
				t.Errorf("the request body is required, but the test sends none")
			}
			r := f.send(rt, build, as)
			if r.Status/100 != 2 {
				t.Errorf("as %s: %d %s", as, r.Status, r.Body)
			}
			doc.checkResponse(t, op, r)
			if r.Status == http.StatusCreated {
				var want string
				switch res := r.JSON(t); {
				case res["file"] != nil:
					want = fmt.Sprint(res["file"]) // an export: where to download the file
				case res["person_id"] != nil:
					want = fmt.Sprint("/v1/persons/", res["person_id"])
				case res["batch_id"] != nil:
					want = fmt.Sprint("/v1/payroll/batches/", res["batch_id"])
				}
				if got := r.Header.Get("Location"); want == "" || got != want {
					t.Errorf("201 with Location %q, want %q", got, want)
				}
			}
		})
	}

	// Problems.
	f := newFixture(l)
	ops["GET /v1/persons/{id}/history"].checkProblem(t, doc, l.Do("GET", "/v1/persons/"+f.pid+"/history", anonymous, "", nil), 401)
	ops["GET /v1/persons/{id}/history"].checkProblem(t, doc, l.Do("GET", "/v1/persons/"+f.pid+"/history", "clerk", "", nil), 403)
	ops["GET /v1/persons/{id}"].checkProblem(t, doc, l.Do("GET", "/v1/persons/00000000000000000000", "clerk", "", nil), 404)
	ops["GET /v1/persons/{id}"].checkProblem(t, doc, l.Do("GET", "/v1/persons/NOT-AN-ID", "clerk", "", nil), 400)
	ops["GET /v1/spending"].checkProblem(t, doc, l.Do("GET", "/v1/spending?group_by=week", "finance", "", nil), 400)
	ops["POST /v1/persons/{id}/move"].checkProblem(t, doc, l.Do("POST", "/v1/persons/"+f.pid+"/move", "clerk", "",
		map[string]any{"township": "蛟塘镇", "effective_on": "2024-06-01"}), 400) // no Idempotency-Key
	k := newKey()
	l.Do("POST", "/v1/persons/"+f.pid+"/move", "clerk", k, map[string]any{"township": "蛟塘镇", "effective_on": "2024-06-01"})
	ops["POST /v1/persons/{id}/move"].checkProblem(t, doc, l.Do("POST", "/v1/persons/"+f.pid+"/move", "clerk", k,
		map[string]any{"township": "温泉镇", "effective_on": "2024-06-01"}), 409) // the key reused for another change
	ops["POST /v1/persons/{id}/grants/{proposal}/approve"].checkProblem(t, doc, l.Do("POST",
		"/v1/persons/"+f.pid+"/grants/"+f.proposal+"/approve", "admin", newKey(), nil), 422) // admin proposed it
	ops["POST /v1/persons/lookup"].checkProblem(t, doc, l.Do("POST", "/v1/persons/lookup", "clerk", "",
		`{"id_number": "`+strings.Repeat("1", 1<<20)+`"}`), 413)
	ops["POST /v1/persons/{id}/certificate"].checkProblem(t, doc, l.Do("POST", "/v1/persons/"+f.pid+"/certificate", "clerk", newKey(),
		map[string]any{"certificate_number": f.idNum + "42", "issued_on": "2020-05-01", "valid_until": "2030-04-30", "colour": "red"}), 400)
	ops["POST /v1/persons/{id}/bank-account"].checkProblem(t, doc, l.Do("POST", "/v1/persons/"+f.pid+"/bank-account", "clerk", newKey(),
		map[string]any{"account_name": f.name, "bank": "中国农业银行", "account_number": "6228 48"}), 400) // too few digits

	// Payroll problems.
	batch := f.draftBatch("finance")
	ops["POST /v1/payroll/batches"].checkProblem(t, doc, l.draft("finance", newKey(),
		map[string]any{"program": "living_subsidy", "period": f.period}), 409) // the batch waits for approval
	ops["POST /v1/payroll/batches"].checkProblem(t, doc, l.Do("POST", "/v1/payroll/batches", "finance", newKey(),
		map[string]any{"program": "living_subsidy", "period": "2025-13"}), 400)
	ops["POST /v1/payroll/batches/{batch}/approve"].checkProblem(t, doc, l.Do("POST", "/v1/payroll/batches/"+batch+"/approve",
		"finance", newKey(), nil), 422) // the drafter
	ops["POST /v1/payroll/batches/{batch}/reject"].checkProblem(t, doc, l.Do("POST", "/v1/payroll/batches/"+batch+"/reject",
		"finance", newKey(), map[string]any{}), 400) // no reason
	ops["POST /v1/payroll/batches/{batch}/reject"].checkProblem(t, doc, l.Do("POST", "/v1/payroll/batches/"+batch+"/reject",
		"finance", newKey(), map[string]any{"reason": "wrong period"}), 200)
	ops["POST /v1/payroll/batches/{batch}/approve"].checkProblem(t, doc, l.Do("POST", "/v1/payroll/batches/"+batch+"/approve",
		"admin", newKey(), nil), 409) // already rejected
	ops["POST /v1/payroll/batches/{batch}/approve"].checkProblem(t, doc, l.Do("POST", "/v1/payroll/batches/living_subsidy.2019-01.aaaaaa/approve",
		"admin", newKey(), nil), 404)
	ops["GET /v1/payroll/batches/{batch}"].checkProblem(t, doc, l.Do("GET", "/v1/payroll/batches/"+batch, "auditor", "", nil), 200)
	ops["GET /v1/payroll/batches/{batch}"].checkProblem(t, doc, l.Do("GET", "/v1/payroll/batches/living_subsidy.2019-01.aaaaaa", "auditor", "", nil), 404)
	ops["GET /v1/payroll/batches/{batch}"].checkProblem(t, doc, l.Do("GET", "/v1/payroll/batches/living_subsidy.2025-03.01", "auditor", "", nil), 400)
}

func (op operation) checkProblem(t *testing.T, doc *openAPI, r response, status int) {
	t.Helper()
	if r.Status != status {
		t.Errorf("%s: %d %s, want %d", op.name, r.Status, r.Body, status)
		return
	}
	doc.checkResponse(t, op, r)
}

// checkResponse checks, with the OpenAPI validator (libopenapi-validator;
// every object schema is closed, so a field the server adds must be
// documented), that a
// response's status and content type are documented for the operation
// and that its body matches the documented schema.
func (doc *openAPI) checkResponse(t *testing.T, op operation, r response) {
	t.Helper()
	req := op.request(nil, "")
	res := &http.Response{StatusCode: r.Status, Header: r.Header, Body: io.NopCloser(bytes.NewReader(r.Body)), Request: req}
	if ok, errs := doc.v.ValidateHttpResponse(req, res); !ok {
		t.Errorf("%s answered %d, which does not match the document:\n%s\n%.600s", op.name, r.Status, validationErrors(errs), r.Body)
	}
}

// checkRequestBody checks that a body the test sends matches the
// operation's documented request body.
func (doc *openAPI) checkRequestBody(t *testing.T, op operation, body any) {
	t.Helper()
	data, ct := []byte(nil), "application/json"
	if raw, ok := body.(rawBody); ok {
		data, ct = raw.Data, raw.ContentType
	} else if b, err := json.Marshal(body); err != nil {
		t.Fatal(err)
	} else {
		data = b
	}
	if ok, errs := doc.v.GetRequestBodyValidator().ValidateRequestBody(op.request(data, ct)); !ok {
		t.Errorf("the test's request does not match the documented request body:\n%s", validationErrors(errs))
	}
}

// request is a request for the operation, its path parameters filled with
// a placeholder: enough for the validator to find the operation.
func (op operation) request(body []byte, contentType string) *http.Request {
	method, pattern, _ := strings.Cut(op.name, " ")
	path := regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(pattern, "p1")
	req := httptest.NewRequest(method, "http://ledger.invalid"+path, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func validationErrors(errs []*validationerrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "%s: %s", e.Message, e.Reason)
		for _, f := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n  %s: %s", f.FieldPath, f.Reason)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// openAPI is the parsed document.
type openAPI struct {
	root map[string]any
	v    validator.Validator // libopenapi-validator over the same document
}

// operation is one method of one path, with its parameters (the path's
// and its own) resolved.
type operation struct {
	name   string
	op     map[string]any
	params []map[string]any
}

func loadOpenAPI(t *testing.T) *openAPI {
	t.Helper()
	b, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	root, ok := parseJSON(t, b).(map[string]any)
	if !ok {
		t.Fatal("openapi.json is not a JSON object")
	}
	model, err := libopenapi.NewDocument(b)
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	v, errs := validator.NewValidator(model)
	if len(errs) > 0 {
		t.Fatalf("openapi.json: %v", errs)
	}
	return &openAPI{root: root, v: v}
}

func parseJSON(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%.300s", err, b)
	}
	if _, err := dec.Token(); err != io.EOF {
		t.Fatalf("more than one JSON value:\n%.300s", b)
	}
	return v
}

var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// operations returns the document's operations by "METHOD /path".
func (doc *openAPI) operations() map[string]operation {
	out := map[string]operation{}
	for path, item := range jsonObject(doc.root["paths"]) {
		item := jsonObject(item)
		for _, m := range httpMethods {
			op, ok := item[m]
			if !ok {
				continue
			}
			o := operation{name: strings.ToUpper(m) + " " + path, op: jsonObject(op)}
			for _, p := range append(jsonArray(item["parameters"]), jsonArray(o.op["parameters"])...) {
				o.params = append(o.params, doc.resolve(p))
			}
			out[o.name] = o
		}
	}
	return out
}

// resolve follows a $ref (transitively); anything else is returned as is.
func (doc *openAPI) resolve(v any) map[string]any {
	m := jsonObject(v)
	for i := 0; i < 10; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, _ := doc.resolvePointer(ref)
		m = jsonObject(target)
	}
	return m
}

// resolvePointer resolves a local JSON pointer such as
// "#/components/schemas/Person".
func (doc *openAPI) resolvePointer(ref string) (any, bool) {
	var cur any = doc.root
	for _, tok := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func (doc *openAPI) at(ref string) map[string]any {
	v, _ := doc.resolvePointer(ref)
	return jsonObject(v)
}

func (doc *openAPI) stringsAt(ref string) []string {
	v, _ := doc.resolvePointer(ref)
	var out []string
	for _, s := range jsonArray(v) {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

func (doc *openAPI) enum(schema string) []string {
	return doc.stringsAt("#/components/schemas/" + schema + "/enum")
}

// closedObjects reports object schemas reachable from v that declare
// properties and accept others too.
func (doc *openAPI) closedObjects(t *testing.T, where string, v any, seen map[string]bool) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		if ref, ok := v["$ref"].(string); ok {
			if seen[ref] {
				return
			}
			seen[ref] = true
			target, _ := doc.resolvePointer(ref)
			doc.closedObjects(t, where, target, seen)
		}
		if _, ok := v["properties"]; ok && v["additionalProperties"] != false {
			t.Errorf("%s: an object schema with properties %v lacks additionalProperties: false", where, slices.Sorted(maps.Keys(jsonObject(v["properties"]))))
		}
		for k, x := range v {
			if k != "$ref" && k != "examples" && k != "example" {
				doc.closedObjects(t, where, x, seen)
			}
		}
	case []any:
		for _, x := range v {
			doc.closedObjects(t, where, x, seen)
		}
	}
}

func walkRefs(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				fn(s)
			}
			walkRefs(x, fn)
		}
	case []any:
		for _, x := range v {
			walkRefs(x, fn)
		}
	}
}

func jsonObject(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func jsonArray(v any) []any {
	s, _ := v.([]any)
	return s
}

func sortedStrs(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
