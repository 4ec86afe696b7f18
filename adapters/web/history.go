package web

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// The auditor's desk: a person's whole history from the event store —
// every event with who recorded it, when, why and its hash — and the
// person replayed as the ledger knew them at a moment (known at, system
// time) judged on a day (as of, business time): domain.Replay, the time
// travel the API's GET /v1/persons/{id}/history does.

// PersonLoader reads a person's stream (app.Persons implements it).
type PersonLoader interface {
	Load(ctx context.Context, id domain.PersonID) (app.Loaded, error)
}

// auditor says who may read histories, as in the API.
func auditor(role string) bool { return role == "auditor" || role == "admin" }

type historyEvent struct {
	Env     domain.Envelope
	Summary string
	Reason  string
	Later   bool // recorded after known-at
}

type historyData struct {
	Person        domain.PersonID
	KnownAt, AsOf string // as the form shows them
	Replay        *domain.AsKnown
	Events        []historyEvent
	Err           string
	LastHash      string
}

// knownAtLayout is the form's datetime-local value, China Standard Time.
const knownAtLayout = "2006-01-02T15:04"

func (k *desk) historyPage(w http.ResponseWriter, r *http.Request) {
	pid, ok := k.personParam(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	d := historyData{Person: pid, KnownAt: strings.TrimSpace(q.Get("known_at")), AsOf: strings.TrimSpace(q.Get("as_of"))}
	var knownAt time.Time
	var asOf domain.Date
	var err error
	if d.KnownAt != "" {
		if knownAt, err = time.ParseInLocation(knownAtLayout, d.KnownAt, domain.BusinessZone); err != nil {
			if knownAt, err = domain.ParseKnownAt("known_at", d.KnownAt); err != nil {
				d.Err = "“知道时间”格式不正确：请选择日期和时间。"
			}
		}
	}
	if d.AsOf != "" && d.Err == "" {
		if asOf, err = domain.ParseDate("as_of", d.AsOf); err != nil {
			d.Err = "“业务日期”格式不正确：请选择日期。"
		}
	}
	l, err := k.Loader.Load(r.Context(), pid)
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	if !l.Exists {
		k.fail(w, r, http.StatusNotFound, "未找到", "没有这个人员。")
		return
	}
	if d.Err == "" && (d.KnownAt != "" || d.AsOf != "") {
		if knownAt.IsZero() {
			knownAt = k.Now()
		}
		if asOf.IsZero() {
			asOf = domain.BusinessDate(knownAt)
		}
		replay, err := domain.Replay(l.Events, knownAt, asOf)
		if err != nil {
			k.failErr(w, r, err)
			return
		}
		d.Replay = &replay
		d.KnownAt, d.AsOf = knownAt.In(domain.BusinessZone).Format(knownAtLayout), asOf.String()
	}
	for _, env := range l.Events {
		d.Events = append(d.Events, historyEvent{Env: env, Summary: summaryText(env.Event), Reason: domain.MaskIDNumbers(env.Meta.Reason),
			Later: d.Replay != nil && env.Meta.RecordedAt.After(knownAt)})
	}
	d.LastHash = l.LastHash
	status := http.StatusOK
	if d.Err != "" {
		status = http.StatusBadRequest
	}
	k.render(w, r, status, "history", "历史记录", d)
}
