package httpapi

import (
	"net/http"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// Time travel on GET /v1/persons/{id}/history: ?known_at= (system time: an
// RFC 3339 timestamp, or a date meaning the end of that day in
// Asia/Shanghai) and ?as_of= (business date) replay the person's stream
// from the event store — not the read models — as the ledger knew it at
// known_at, judged on as_of (domain.Replay). known_at defaults to now;
// as_of to the date of known_at in Asia/Shanghai.

// timeTravel is a history request's known_at and as_of; on is false when
// neither was given.
type timeTravel struct {
	on      bool
	knownAt time.Time
	asOf    domain.Date
}

func (s *server) timeTravelParams(r *http.Request) (timeTravel, error) {
	var tt timeTravel
	q := r.URL.Query()
	rawKnown, rawAsOf := q.Get("known_at"), q.Get("as_of")
	if q.Has("known_at") {
		t, err := domain.ParseKnownAt("known_at", rawKnown)
		if err != nil {
			return tt, err
		}
		tt.on, tt.knownAt = true, t
	}
	if q.Has("as_of") {
		d, err := domain.ParseDate("as_of", rawAsOf)
		if err != nil {
			return tt, err
		}
		tt.on, tt.asOf = true, d
	}
	if !tt.on {
		return tt, nil
	}
	if tt.knownAt.IsZero() {
		tt.knownAt = s.Now()
	}
	if tt.asOf.IsZero() {
		tt.asOf = domain.BusinessDate(tt.knownAt)
	}
	return tt, nil
}

type historyEntitlementJSON struct {
	Program       domain.ProgramCode       `json:"program"`
	Status        domain.EntitlementStatus `json:"status"`
	Rate          domain.Money             `json:"rate"`        // per period on as_of
	RateSource    string                   `json:"rate_source"` // catalog, grant or none
	EffectiveFrom domain.Date              `json:"effective_from"`
	EffectiveTo   *domain.Date             `json:"effective_to,omitempty"`
	SuspendedFrom *domain.Date             `json:"suspended_from,omitempty"`
	ReasonCode    string                   `json:"reason_code,omitempty"`
	Attributes    *domain.GrantAttributes  `json:"attributes,omitempty"`
}

type historyOneOffJSON struct {
	GrantID     string                  `json:"grant_id"`
	Program     domain.ProgramCode      `json:"program"`
	Amount      domain.Money            `json:"amount"`
	EffectiveOn domain.Date             `json:"effective_on"`
	Attributes  *domain.GrantAttributes `json:"attributes,omitempty"`
}

type historyInKindJSON struct {
	IssueID     string             `json:"issue_id"`
	Program     domain.ProgramCode `json:"program"`
	Item        string             `json:"item"`
	Quantity    int                `json:"quantity"`
	UnitValue   domain.Money       `json:"unit_value"`
	Value       domain.Money       `json:"value"` // quantity × unit_value
	EffectiveOn domain.Date        `json:"effective_on"`
}

type historyFactsJSON struct {
	Registered   bool           `json:"registered"` // false: the ledger did not know the person at known_at
	Township     string         `json:"township,omitempty"`
	HouseholdID  string         `json:"household_id,omitempty"`
	Household    *householdJSON `json:"household,omitempty"`
	RegisteredOn *domain.Date   `json:"registered_on,omitempty"`
	Certificate  *certJSON      `json:"certificate,omitempty"`
	DeceasedOn   *domain.Date   `json:"deceased_on,omitempty"`
}

func attributesPtr(a domain.GrantAttributes) *domain.GrantAttributes {
	if a.IsZero() {
		return nil
	}
	return &a
}

// HistoryDocument is the JSON document of GET /v1/persons/{id}/history:
// every event of the person's stream, and, when replay is not nil, what
// the ledger knew at replay.KnownAt about replay.AsOf. `ledger history
// --format json` prints the same document.
func HistoryDocument(pid domain.PersonID, events []domain.Envelope, replay *domain.AsKnown) map[string]any {
	out := []historyJSON{}
	for _, e := range events {
		out = append(out, historyJSON{
			Revision: e.Revision, Position: e.Position.String(), Type: e.Type, EffectiveDate: datePtr(e.Meta.EffectiveDate),
			RecordedAt: e.Meta.RecordedAt, Actor: e.Meta.Actor, Role: e.Meta.Role, Reason: domain.MaskIDNumbers(e.Meta.Reason),
			CommandID: e.Meta.CommandID, Hash: e.Meta.Hash, PrevHash: e.Meta.PrevHash, Summary: domain.Summarize(e.Event),
			Data: maskedData(e.Event),
		})
	}
	doc := map[string]any{"person_id": pid, "events": out}
	if replay == nil {
		return doc
	}
	doc["known_at"] = replay.KnownAt
	doc["as_of"] = replay.AsOf
	doc["events_known"] = replay.EventsKnown
	doc["events_recorded_later"] = replay.EventsLater
	doc["facts"] = factsJSON(replay.Facts)
	ents := []historyEntitlementJSON{}
	for _, e := range replay.Entitlements {
		src := e.RateSource
		if src == "" {
			src = "none"
		}
		ents = append(ents, historyEntitlementJSON{
			Program: e.Program, Status: e.Status, Rate: e.Rate, RateSource: src, EffectiveFrom: e.EffectiveFrom,
			EffectiveTo: datePtr(e.EffectiveTo), SuspendedFrom: datePtr(e.SuspendedFrom), ReasonCode: e.ReasonCode,
			Attributes: attributesPtr(e.Attributes),
		})
	}
	doc["entitlements"] = ents
	oneOffs := []historyOneOffJSON{}
	for _, g := range replay.OneOffs {
		oneOffs = append(oneOffs, historyOneOffJSON{GrantID: g.GrantID, Program: g.Program, Amount: g.Amount,
			EffectiveOn: g.EffectiveOn, Attributes: attributesPtr(g.Attributes)})
	}
	doc["one_offs"] = oneOffs
	inKind := []historyInKindJSON{}
	for _, is := range replay.InKind {
		inKind = append(inKind, historyInKindJSON{IssueID: is.IssueID, Program: is.Program, Item: is.Item, Quantity: is.Quantity,
			UnitValue: is.UnitValue, Value: is.UnitValue.Mul(is.Quantity), EffectiveOn: is.EffectiveOn})
	}
	doc["in_kind"] = inKind
	return doc
}

func factsJSON(f domain.PersonFacts) historyFactsJSON {
	if !f.Registered {
		return historyFactsJSON{}
	}
	h := householdJSON{Class: string(f.Household.Class), Dibao: f.Household.Dibao, Tekun: f.Household.Tekun, WorkInjuryNursing: f.Household.WorkInjuryNursing}
	if h.Class == "" {
		h.Class = "none"
	}
	out := historyFactsJSON{Registered: true, Township: f.Township, HouseholdID: f.HouseholdID, Household: &h,
		RegisteredOn: datePtr(f.RegisteredOn)}
	if c := f.Certificate; c != nil {
		out.Certificate = &certJSON{Number: c.NumberMasked, Category: c.Category, Grade: c.Grade, IssuedOn: c.IssuedOn,
			ValidUntil: c.ValidUntil, Revoked: c.Revoked}
	}
	if f.Deceased {
		out.DeceasedOn = datePtr(f.DateOfDeath)
	}
	return out
}
