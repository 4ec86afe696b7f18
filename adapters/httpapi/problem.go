package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Problem is an RFC 9457 problem document. Code is stable and meant for
// machines; Detail is for people; Field names the failing input field of
// a validation error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail,omitempty"`
	Field  string `json:"field,omitempty"`
	Rule   string `json:"rule,omitempty"`
}

// retryAfter is the Retry-After of every 503, in seconds: long enough for
// a dropped connection to be replaced or a restarting server to accept
// connections again, short enough that a clerk retrying by hand barely
// waits; the read models usually catch up with a command within it.
const retryAfter = 2

func writeProblem(w http.ResponseWriter, p Problem) {
	if p.Type == "" {
		p.Type = "https://ledger.invalid/problems/" + p.Code
	}
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	if p.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// problem writes a problem document.
func problem(w http.ResponseWriter, status int, code, detail string) {
	writeProblem(w, Problem{Status: status, Code: code, Detail: detail})
}

// Error codes for conditions the handlers detect themselves.
var (
	errBodyTooLarge = errors.New("body too large")
)

// writeError maps an error to its problem. Domain error kinds decide the
// status; a transient failure of the database or the event store
// (domain.ErrUnavailable: the adapters and the read models classify their
// errors at their boundary) is a 503 unavailable with Retry-After, read
// models not yet created (projections.ErrNotProjected) a 503
// projections_not_ready; anything unexpected is a 500 whose detail
// reveals nothing. The request's log line carries the error of either,
// with the request ID.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *domain.FieldError
	var re *domain.RuleError
	var ce *domain.ConflictError
	var wev *domain.WrongExpectedVersionError
	var ie *idempotencyError
	var fe2 *bankfile.FileError
	var tl *fileTooLarge
	var lagErr *projections.LagError
	var parkedErr *projections.ParkedError
	switch {
	case errors.As(err, &ie):
		problem(w, http.StatusConflict, ie.code, ie.detail)
	case errors.As(err, &fe2):
		var lines []string
		for i, p := range fe2.Problems {
			if i == 50 {
				lines = append(lines, fmt.Sprintf("and %d more", len(fe2.Problems)-50))
				break
			}
			lines = append(lines, p.String())
		}
		code := "invalid_return_file"
		if errors.As(err, new(rosterFileError)) {
			code = "invalid_roster_file"
		}
		writeProblem(w, Problem{Status: http.StatusBadRequest, Code: code, Field: "file",
			Detail: "nothing was applied; fix these lines and send the file again: " + strings.Join(lines, "; ")})
	case errors.As(err, &tl):
		problem(w, http.StatusRequestEntityTooLarge, "body_too_large", tl.Error())
	case errors.Is(err, errBodyTooLarge):
		problem(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the request body exceeds %d bytes", maxBody))
	case errors.As(err, &fe):
		writeProblem(w, Problem{Status: http.StatusBadRequest, Code: "invalid_" + fieldCode(fe.Field), Detail: fe.Error(), Field: fe.Field})
	case errors.As(err, &re):
		writeProblem(w, Problem{Status: http.StatusUnprocessableEntity, Code: "rule_violation", Detail: re.Message, Rule: re.Rule})
	case errors.As(err, &wev), errors.Is(err, domain.ErrConcurrency):
		problem(w, http.StatusConflict, "concurrency_conflict", "the record changed while the request was decided; retry it")
	case errors.As(err, &ce):
		problem(w, http.StatusConflict, "conflict", ce.Reason)
	case errors.Is(err, domain.ErrConflict):
		problem(w, http.StatusConflict, "conflict", err.Error())
	case errors.Is(err, domain.ErrNotFound):
		problem(w, http.StatusNotFound, "not_found", "no such record")
	case errors.Is(err, errWaitTimeout), errors.Is(err, projections.ErrChangelogBehind), errors.As(err, &lagErr), errors.As(err, &parkedErr):
		problem(w, http.StatusServiceUnavailable, "projections_behind", err.Error())
	case errors.Is(err, projections.ErrNotProjected):
		problem(w, http.StatusServiceUnavailable, "projections_not_ready", "the read models are still being created; retry shortly")
	case errors.Is(err, domain.ErrUnavailable):
		setLogError(r.Context(), err)
		problem(w, http.StatusServiceUnavailable, "unavailable", fmt.Sprintf(
			"the ledger's database or event store is unavailable right now; retry in %d seconds (a command with the same Idempotency-Key)", retryAfter))
	default:
		setLogError(r.Context(), err)
		logFrom(r.Context()).Error("request failed", slog.String("error", err.Error()))
		problem(w, http.StatusInternalServerError, "internal", "the ledger could not complete the request; the error is logged")
	}
}

// fieldCode makes a snake_case code suffix from a field name:
// "id_number" → "id_number", "Idempotency-Key" → "idempotency_key".
func fieldCode(field string) string {
	if field == "" {
		return "input"
	}
	return strings.ToLower(strings.NewReplacer(".", "_", "-", "_", "[", "_", "]", "").Replace(field))
}
