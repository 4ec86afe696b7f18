package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// Reading requests: JSON bodies decoded strictly, path and query
// parameters, and the field parsers that turn their strings into domain
// values. Every error names the field (*domain.FieldError).

// maxBody bounds request bodies.
const maxBody = 1 << 20

// decodeJSON reads a JSON request body into v, strictly: one object, no
// unknown fields, right types. Errors are *domain.FieldError naming the
// field, or errBodyTooLarge.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return domain.Invalid("body", "holds more than one JSON value")
	}
	return nil
}

// checkContentType accepts a JSON body or one sent without a content type.
func checkContentType(r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return domain.Invalid("content_type", "must be application/json, not %q", ct)
	}
	return nil
}

func jsonError(err error) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var fe *domain.FieldError
	switch {
	case errors.As(err, &mbe):
		return errBodyTooLarge
	case errors.Is(err, io.EOF):
		return domain.Invalid("body", "is empty; expected a JSON object")
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return domain.Invalid("body", "is not valid JSON")
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "body"
		}
		return domain.Invalid(field, "must be a JSON %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)
	case errors.As(err, &fe):
		return err
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return domain.Invalid(name, "is not a known field")
	default:
		return domain.Invalid("body", "cannot be read: %v", err)
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "string"
	case "int", "int64", "int32", "uint64":
		return "integer"
	case "bool":
		return "boolean"
	case "slice":
		return "array"
	case "struct", "map":
		return "object"
	}
	return k
}

// decodeBody decodes a command body strictly into v.
func decodeBody(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(new(json.RawMessage)); !errors.Is(err, io.EOF) {
		return domain.Invalid("body", "holds more than one JSON value")
	}
	return nil
}

// personParam parses the {id} path parameter.
func personParam(r *http.Request) (domain.PersonID, error) {
	return domain.ParsePersonID("id", chi.URLParam(r, "id"))
}

// parser collects the first field error while parsing a request's fields.
type parser struct{ err error }

func (p *parser) date(field, s string) domain.Date {
	if p.err != nil {
		return domain.Date{}
	}
	if s == "" {
		p.err = domain.Invalid(field, "is required (YYYY-MM-DD)")
		return domain.Date{}
	}
	d, err := domain.ParseDate(field, s)
	p.err = err
	return d
}

func (p *parser) optDate(field, s string) domain.Date {
	if s == "" {
		return domain.Date{}
	}
	return p.date(field, s)
}

func (p *parser) money(field, s string) domain.Money {
	if p.err != nil || s == "" {
		return domain.Money{}
	}
	m, err := domain.ParseMoney(field, s)
	p.err = err
	return m
}

func (p *parser) program(field, s string) domain.ProgramCode {
	if p.err != nil {
		return ""
	}
	c, err := domain.ParseProgramCode(field, s)
	p.err = err
	return c
}

// boolParam reads an optional true/false query parameter (false when
// absent).
func boolParam(r *http.Request, name string) (bool, error) {
	switch raw := r.URL.Query().Get(name); raw {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, domain.Invalid(name, "%q is not true or false", raw)
	}
}

func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		return 0, domain.Invalid(name, "%q is not a whole number from %d to %d", raw, lo, hi)
	}
	return n, nil
}
