package web

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// Validation as one types: a form's fields carry htmx attributes (check)
// that post the form, a moment after typing stops or when the field is
// left, to /validate/{field}, which answers the field's error in plain
// words, or nothing. The rules are the domain's own parsers, the ones the
// command runs again when the form is sent; required fields and formats
// are also marked in the HTML, for browsers without script.

// fieldChecks are the rules by field name. An empty value passes: whether
// a field is required is the form's to say (the required attribute).
var fieldChecks = map[string]func(v string) error{
	"id_number": func(v string) error { _, err := domain.ParseResidentID("id_number", v); return err },
	"number":    func(v string) error { _, err := domain.ParseCertificateNumber("number", v); return err },
	"name":      func(v string) error { return domain.CheckText("name", v, 50) },
	"township":  func(v string) error { return domain.CheckText("township", v, 50) },
	"to_township": func(v string) error {
		return domain.CheckText("to_township", v, 50)
	},
	"amount": func(v string) error { _, err := domain.ParseMoney("amount", v); return err },
	"period": func(v string) error { _, err := domain.ParsePeriod("period", v); return err },
	"reason": func(v string) error {
		if utf8.RuneCountInString(v) > 500 {
			return domain.Invalid("reason", "is longer than 500 characters")
		}
		return nil
	},
}

func init() {
	for _, f := range []string{"registered_on", "effective_from", "effective_on", "effective_to", "date_of_death", "issued_on", "valid_until"} {
		fieldChecks[f] = func(v string) error { _, err := domain.ParseDate(f, v); return err }
	}
}

// validateField answers the error of the field named in the path, for the
// value the form posted, as a fragment of HTML (empty when it is fine).
func (k *desk) validateField(w http.ResponseWriter, r *http.Request) {
	field := chi.URLParam(r, "field")
	check, ok := fieldChecks[field]
	if !ok {
		http.Error(w, "no such field", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	v := strings.TrimSpace(r.PostFormValue(field))
	if v == "" {
		return
	}
	if err := check(v); err != nil {
		fmt.Fprintf(w, `<span class="error">%s</span>`, template.HTMLEscapeString(plainError(err)))
	}
}

// check is the attributes that validate a field as one types: name is the
// field's name, id its element's; the message goes into msg(id).
func check(name, id string) template.HTMLAttr {
	if _, ok := fieldChecks[name]; !ok {
		panic("web: no check for field " + name) // a template's mistake, found when it first renders
	}
	return template.HTMLAttr(fmt.Sprintf(`hx-post="/validate/%s" hx-trigger="input changed delay:400ms, change" hx-include="closest form" `+
		`hx-target="#%s-msg" hx-swap="innerHTML" hx-sync="this:replace" aria-describedby="%s-msg"`,
		template.HTMLEscapeString(name), template.HTMLEscapeString(id), template.HTMLEscapeString(id)))
}

// msg is where a field's message goes, read out when it changes.
func msg(id string) template.HTML {
	return template.HTML(fmt.Sprintf(`<span id="%s-msg" class="field-msg" aria-live="polite"></span>`, template.HTMLEscapeString(id)))
}
