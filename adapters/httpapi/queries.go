package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Read your writes: a query with ?after=COMMIT/PREPARE (or the header
// X-Ledger-After) waits until every running projection has applied the log
// up to that position — the position a command returned — for at most
// maxWait, then answers 503 projections_behind.

const maxWait = 5 * time.Second

var errWaitTimeout = errors.New("the read models have not yet reached the requested position; retry shortly")

func (s *server) waitFor(r *http.Request) error {
	raw := r.URL.Query().Get("after")
	if raw == "" {
		raw = r.Header.Get("X-Ledger-After")
	}
	if raw == "" {
		return nil
	}
	pos, err := domain.ParsePosition("after", raw)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), maxWait)
	defer cancel()
	var failed error // the last query's failure, if the last query failed
	for {
		// Every projection exists, and every running one has reached pos
		// (a parked one never will; status and /readyz show it).
		reached, err := s.ReadModels.Reached(ctx, pos)
		if err == nil && reached {
			return nil
		}
		failed = nil
		if err != nil && ctx.Err() == nil {
			failed = err
		}
		select {
		case <-ctx.Done():
			if r.Context().Err() != nil {
				return r.Context().Err()
			}
			if failed != nil {
				return fmt.Errorf("wait for the read models: %w", failed)
			}
			return errWaitTimeout
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// query runs fn after the read-your-writes wait and writes its result.
func (s *server) query(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context) (any, error)) {
	if err := s.waitFor(r); err != nil {
		writeError(w, r, err)
		return
	}
	v, err := fn(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type personJSON struct {
	PersonID     domain.PersonID `json:"person_id"`
	IDNumber     string          `json:"id_number"` // masked: first 6 + last 4
	Name         string          `json:"name"`
	Gender       domain.Gender   `json:"gender,omitempty"`     // absent once erased
	BirthDate    *domain.Date    `json:"birth_date,omitempty"` // absent once erased
	Township     string          `json:"township"`
	HouseholdID  string          `json:"household_id"`
	Household    householdJSON   `json:"household"`
	Certificate  *certJSON       `json:"certificate,omitempty"`
	DeceasedOn   *domain.Date    `json:"deceased_on,omitempty"`
	RegisteredOn domain.Date     `json:"registered_on"`
	ErasedOn     *domain.Date    `json:"erased_on,omitempty"`
}

type certJSON struct {
	Number     string                    `json:"number"` // masked
	Category   domain.DisabilityCategory `json:"category"`
	Grade      domain.DisabilityGrade    `json:"grade"`
	IssuedOn   domain.Date               `json:"issued_on"`
	ValidUntil domain.Date               `json:"valid_until"`
	Revoked    bool                      `json:"revoked"`
}

func personOf(p projections.PersonRow) personJSON {
	out := personJSON{
		PersonID: p.PersonID, IDNumber: p.IDMasked, Name: p.Name, Gender: p.Gender,
		Township: p.Township, HouseholdID: p.HouseholdID, RegisteredOn: p.RegisteredOn,
		Household: householdJSON{Class: string(p.Household.Class), Dibao: p.Household.Dibao, Tekun: p.Household.Tekun, WorkInjuryNursing: p.Household.WorkInjuryNursing},
	}
	if out.Household.Class == "" {
		out.Household.Class = "none"
	}
	if p.CertificateCategory != 0 {
		out.Certificate = &certJSON{Number: p.CertificateNumberMasked, Category: p.CertificateCategory, Grade: p.CertificateGrade,
			IssuedOn: p.CertificateIssuedOn, ValidUntil: p.CertificateValidUntil, Revoked: p.CertificateRevoked}
	}
	if !p.DeceasedOn.IsZero() {
		d := p.DeceasedOn
		out.DeceasedOn = &d
	}
	if !p.BirthDate.IsZero() {
		b := p.BirthDate
		out.BirthDate = &b
	}
	if !p.ErasedOn.IsZero() {
		e := p.ErasedOn
		out.IDNumber, out.Name, out.Gender, out.BirthDate, out.ErasedOn = domain.ErasedText, domain.ErasedText, "", nil, &e
		if out.Certificate != nil {
			out.Certificate.Number = domain.ErasedText
		}
	}
	return out
}

// lookupPerson finds a person by resident ID or certificate number, sent
// in the body so the number never appears in a URL or an access log.
func (s *server) lookupPerson(w http.ResponseWriter, r *http.Request) {
	var req struct {
		IDNumber          string `json:"id_number"`
		CertificateNumber string `json:"certificate_number"`
	}
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	var id domain.ResidentID
	var err error
	switch {
	case req.IDNumber != "" && req.CertificateNumber != "":
		err = domain.Invalid("id_number", "give either id_number or certificate_number, not both")
	case req.IDNumber != "":
		id, err = domain.ParseResidentID("id_number", req.IDNumber)
	case req.CertificateNumber != "":
		var n domain.CertificateNumber
		if n, err = domain.ParseCertificateNumber("certificate_number", req.CertificateNumber); err == nil {
			id = n.ResidentID()
		}
	default:
		err = domain.Invalid("id_number", "is required (or certificate_number)")
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		p, err := s.ReadModels.PersonByHash(ctx, s.LookupKey.Hash(id))
		if err != nil {
			return nil, err
		}
		return personOf(p), nil
	})
}

func (s *server) searchPersons(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, township := strings.TrimSpace(q.Get("name")), strings.TrimSpace(q.Get("township"))
	limit, err := intParam(r, "limit", 50, 1, 500)
	switch {
	case err != nil:
	case !utf8.ValidString(name):
		err = domain.Invalid("name", "is not valid UTF-8 text (percent-encode the name's UTF-8 bytes)")
	case !utf8.ValidString(township):
		err = domain.Invalid("township", "is not valid UTF-8 text (percent-encode the township's UTF-8 bytes)")
	}
	if err == nil && name == "" && township == "" {
		err = domain.Invalid("name", "give name and/or township to search by")
	}
	offset := 0
	if err == nil {
		offset, err = intParam(r, "offset", 0, 0, 1_000_000)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		rows, err := s.ReadModels.SearchPersons(ctx, name, township, limit+1, offset)
		if err != nil {
			return nil, err
		}
		out := struct {
			Persons []personJSON `json:"persons"`
			Limit   int          `json:"limit"`
			Offset  int          `json:"offset"`
			More    bool         `json:"more"`
		}{Persons: []personJSON{}, Limit: limit, Offset: offset}
		for i, p := range rows {
			if i == limit {
				out.More = true
				break
			}
			out.Persons = append(out.Persons, personOf(p))
		}
		return out, nil
	})
}

func (s *server) getPerson(w http.ResponseWriter, r *http.Request) {
	pid, err := personParam(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		p, err := s.ReadModels.PersonByID(ctx, pid)
		if err != nil {
			return nil, err
		}
		return personOf(p), nil
	})
}

type paidJSON struct {
	Period   domain.Period `json:"period"`
	Paid     domain.Money  `json:"paid"`
	Payments int           `json:"payments"`
}

type entitlementJSON struct {
	Program         domain.ProgramCode       `json:"program"`
	Status          domain.EntitlementStatus `json:"status"`
	Rate            domain.Money             `json:"rate"`        // per period, on as_of or today
	RateSource      string                   `json:"rate_source"` // catalog or grant
	EffectiveFrom   domain.Date              `json:"effective_from"`
	EffectiveTo     *domain.Date             `json:"effective_to,omitempty"`
	SuspendedFrom   *domain.Date             `json:"suspended_from,omitempty"`
	ReasonCode      string                   `json:"reason_code,omitempty"`
	LastPeriodPaid  string                   `json:"last_period_paid,omitempty"`
	PaidTotal       domain.Money             `json:"paid_total"`
	ArrearsOwed     domain.Money             `json:"arrears_owed"`
	OverpaymentOwed domain.Money             `json:"overpayment_owed"`
	PaidPerMonth    []paidJSON               `json:"paid_per_month"`
}

func datePtr(d domain.Date) *domain.Date {
	if d.IsZero() {
		return nil
	}
	return &d
}

// getEntitlements answers from the read models: today's state, or with
// ?as_of=YYYY-MM-DD the state on that business date, derived from the
// recorded history of decisions.
func (s *server) getEntitlements(w http.ResponseWriter, r *http.Request) {
	pid, err := personParam(r)
	var asOf domain.Date
	if err == nil && r.URL.Query().Get("as_of") != "" {
		asOf, err = domain.ParseDate("as_of", r.URL.Query().Get("as_of"))
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		rows, err := s.ReadModels.EntitlementsWithPaid(ctx, pid)
		if err != nil {
			return nil, err
		}
		if len(rows) == 0 { // none, or no such person?
			if _, err := s.ReadModels.PersonByID(ctx, pid); err != nil {
				return nil, err
			}
		}
		var history []projections.HistoryRow
		if !asOf.IsZero() {
			if history, err = s.ReadModels.EntitlementHistory(ctx, pid); err != nil {
				return nil, err
			}
		}
		on := asOf
		if on.IsZero() {
			on = domain.DateOf(s.Now())
		}
		out := []entitlementJSON{}
		for _, e := range rows {
			j := entitlementJSON{
				Program: e.Program, Status: e.Status, EffectiveFrom: e.EffectiveFrom, EffectiveTo: datePtr(e.EffectiveTo),
				SuspendedFrom: datePtr(e.SuspendedFrom), ReasonCode: e.ReasonCode, PaidTotal: e.PaidTotal,
				ArrearsOwed: e.ArrearsOwed, OverpaymentOwed: e.OverpaymentOwed, Rate: e.Amount, RateSource: "grant",
			}
			if !e.LastPeriodPaid.IsZero() {
				j.LastPeriodPaid = e.LastPeriodPaid.String()
			}
			if !asOf.IsZero() {
				st, ok := statusOn(history, e.Program, asOf)
				if !ok {
					continue // not yet granted on that date
				}
				j.Status, j.EffectiveFrom, j.EffectiveTo, j.SuspendedFrom, j.ReasonCode, j.Rate = st.status, st.from, datePtr(st.to), datePtr(st.suspended), st.reason, st.amount
			}
			if j.Rate.IsZero() {
				if rate, ok := mustProgram(e.Program).RateOn(on); ok {
					j.Rate, j.RateSource = rate, "catalog"
				}
			}
			j.PaidPerMonth = []paidJSON{}
			for _, p := range e.PaidPerMonth {
				j.PaidPerMonth = append(j.PaidPerMonth, paidJSON{Period: p.Period, Paid: p.Paid, Payments: p.Payments})
			}
			out = append(out, j)
		}
		resp := map[string]any{"person_id": pid, "entitlements": out}
		if !asOf.IsZero() {
			resp["as_of"] = asOf
		}
		return resp, nil
	})
}

func mustProgram(code domain.ProgramCode) domain.Program {
	p, _ := domain.LookupProgram(code)
	return p
}

type asOfStatus struct {
	status    domain.EntitlementStatus
	from, to  domain.Date
	suspended domain.Date
	reason    string
	amount    domain.Money
}

// statusOn derives an entitlement's state on a business date from its
// recorded decisions: the last grant effective on or before the date, and
// the suspensions, resumptions and terminations of that grant in effect on
// it (judged by effective date, not by when they were recorded). The rule
// is domain.EntitlementStateOn, which the history's replay shares.
func statusOn(history []projections.HistoryRow, program domain.ProgramCode, on domain.Date) (asOfStatus, bool) {
	var decisions []domain.EntitlementDecision
	for _, h := range history {
		if h.Program == program {
			decisions = append(decisions, domain.EntitlementDecision{Kind: h.Change, EffectiveDate: h.EffectiveDate, Amount: h.Amount, ReasonCode: h.ReasonCode})
		}
	}
	st, ok := domain.EntitlementStateOn(program, decisions, on)
	if !ok {
		return asOfStatus{}, false
	}
	return asOfStatus{status: st.Status, from: st.EffectiveFrom, to: st.EffectiveTo, suspended: st.SuspendedFrom, reason: st.ReasonCode, amount: st.Amount}, true
}

type paymentJSON struct {
	Reference     string                    `json:"reference"`
	BatchID       string                    `json:"batch_id"`
	Program       domain.ProgramCode        `json:"program"`
	Period        domain.Period             `json:"period"`
	Kind          domain.PaymentKind        `json:"kind"`
	Amount        domain.Money              `json:"amount"`
	Township      string                    `json:"township"`
	PaidOn        domain.Date               `json:"paid_on"`
	Status        projections.PaymentStatus `json:"status"`
	StatusOn      domain.Date               `json:"status_on"`
	BankReference string                    `json:"bank_reference,omitempty"`
	Reason        string                    `json:"reason,omitempty"`
}

func (s *server) getPayments(w http.ResponseWriter, r *http.Request) {
	pid, err := personParam(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		if _, err := s.ReadModels.PersonByID(ctx, pid); err != nil {
			return nil, err
		}
		rows, err := s.ReadModels.PaymentsByPerson(ctx, pid)
		if err != nil {
			return nil, err
		}
		out := []paymentJSON{}
		for _, p := range rows {
			out = append(out, paymentJSON{Reference: p.Reference, BatchID: p.BatchID, Program: p.Program, Period: p.Period, Kind: p.Kind,
				Amount: p.Amount, Township: p.Township, PaidOn: p.PaidOn, Status: p.Status, StatusOn: p.StatusOn,
				BankReference: p.BankReference, Reason: p.Reason})
		}
		return map[string]any{"person_id": pid, "payments": out}, nil
	})
}

type historyJSON struct {
	Revision      uint64         `json:"revision"`
	Position      string         `json:"position"`
	Type          string         `json:"type"`
	EffectiveDate *domain.Date   `json:"effective_date,omitempty"`
	RecordedAt    time.Time      `json:"recorded_at"`
	Actor         string         `json:"actor"`
	Role          string         `json:"role"`
	Reason        string         `json:"reason,omitempty"`
	CommandID     string         `json:"command_id"`
	Hash          string         `json:"hash"`
	PrevHash      string         `json:"prev_hash"`
	Summary       string         `json:"summary"`
	Data          map[string]any `json:"data"`
}

// getHistory lists every event of a person's stream, read from the event
// store (not a read model), with the full ID number masked. With
// ?known_at= and/or ?as_of= it also replays the stream as the ledger knew
// it then (see history.go).
func (s *server) getHistory(w http.ResponseWriter, r *http.Request) {
	pid, err := personParam(r)
	var tt timeTravel
	if err == nil {
		tt, err = s.timeTravelParams(r)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		l, err := s.handler.Load(ctx, pid)
		if err != nil {
			return nil, err
		}
		if !l.Exists {
			return nil, domain.ErrPersonNotFound
		}
		if !tt.on {
			return HistoryDocument(pid, l.Events, nil), nil
		}
		replay, err := domain.Replay(l.Events, tt.knownAt, tt.asOf)
		if err != nil {
			return nil, err
		}
		return HistoryDocument(pid, l.Events, &replay), nil
	})
}

// maskedData is an event's data as JSON fields, with any full ID number
// replaced by its masked form.
func maskedData(ev domain.Event) map[string]any {
	b, _ := json.Marshal(ev)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if n, ok := m["id_number"].(string); ok && len(n) >= 10 {
		m["id_number"] = n[:6] + strings.Repeat("*", len(n)-10) + n[len(n)-4:]
	}
	return m
}

type programJSON struct {
	Code                domain.ProgramCode `json:"code"`
	Name                string             `json:"name"`
	NameEN              string             `json:"name_en"`
	Shape               domain.Shape       `json:"shape"`
	Rate                *domain.Money      `json:"rate,omitempty"` // catalog rate in force today
	Rates               []rateJSON         `json:"rates,omitempty"`
	Rules               []string           `json:"rules"` // in force today
	RequiresCertificate bool               `json:"requires_certificate"`
	Budget              *budgetJSON        `json:"budget,omitempty"`
}

type rateJSON struct {
	From   domain.Date  `json:"from,omitzero"`
	Amount domain.Money `json:"amount"`
}

type budgetJSON struct {
	FiscalYear int          `json:"fiscal_year"`
	Allocated  domain.Money `json:"allocated"`
	Spent      domain.Money `json:"spent"`
	Remaining  string       `json:"remaining"` // may be negative when overspent
}

func (s *server) getPrograms(w http.ResponseWriter, r *http.Request) {
	today := domain.DateOf(s.Now())
	year, err := intParam(r, "year", today.Year(), 2000, 2100)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		budgets, err := s.ReadModels.Budgets(ctx, year)
		if err != nil {
			return nil, err
		}
		byProgram := map[domain.ProgramCode]projections.BudgetRow{}
		for _, b := range budgets {
			byProgram[b.Program] = b
		}
		out := []programJSON{}
		for _, p := range domain.Catalog() {
			j := programJSON{Code: p.Code, Name: p.Name, NameEN: p.NameEN, Shape: p.Shape, RequiresCertificate: p.RequiresCertificate,
				Rules: p.RulesOn(today).Requirements()}
			if rate, ok := p.RateOn(today); ok {
				j.Rate = &rate
			}
			for _, rt := range p.Rates() {
				j.Rates = append(j.Rates, rateJSON{From: rt.From, Amount: rt.Amount})
			}
			if b, ok := byProgram[p.Code]; ok {
				j.Budget = &budgetJSON{FiscalYear: b.FiscalYear, Allocated: b.Allocated, Spent: b.Spent, Remaining: b.Remaining.StringFixed(2)}
			}
			out = append(out, j)
		}
		return map[string]any{"programs": out, "year": year}, nil
	})
}

func (s *server) getSpending(w http.ResponseWriter, r *http.Request) {
	year, err := intParam(r, "year", domain.DateOf(s.Now()).Year(), 2000, 2100)
	groupBy := r.URL.Query().Get("group_by")
	if groupBy == "" {
		groupBy = "month"
	}
	if err == nil && groupBy != "month" && groupBy != "township" && groupBy != "program" {
		err = domain.Invalid("group_by", "%q is not one of month, township, program", groupBy)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		rows, err := s.ReadModels.Spending(ctx, year, groupBy)
		if err != nil {
			return nil, err
		}
		type rowJSON struct {
			Program  domain.ProgramCode `json:"program,omitempty"`
			Month    string             `json:"month,omitempty"`
			Township string             `json:"township,omitempty"`
			Amount   domain.Money       `json:"amount_paid"`
			Payments int                `json:"payments"`
			Persons  int                `json:"persons"`
		}
		out := []rowJSON{}
		total := domain.Money{}
		for _, x := range rows {
			j := rowJSON{Program: x.Program, Township: x.Township, Amount: x.AmountPaid, Payments: x.Payments, Persons: x.Persons}
			if !x.Month.IsZero() {
				j.Month = x.Month.String()
			}
			total = total.Add(x.AmountPaid)
			out = append(out, j)
		}
		return map[string]any{"year": year, "group_by": groupBy, "rows": out, "total_paid": total}, nil
	})
}

func (s *server) getProjections(w http.ResponseWriter, r *http.Request) {
	s.query(w, r, func(ctx context.Context) (any, error) {
		if s.Projections == nil {
			return []projections.Status{}, nil
		}
		return s.Projections(ctx)
	})
}

// townshipJSON is a township of the register.
type townshipJSON struct {
	Code string       `json:"code"`
	Name string       `json:"name"`
	From *domain.Date `json:"from,omitempty"` // absent: since before the ledger's records
	To   *domain.Date `json:"to,omitempty"`   // absent: in force
}

// getTownships lists the township register: the townships in force today,
// or every one ever (all=true), by code.
func (s *server) getTownships(w http.ResponseWriter, r *http.Request) {
	all, err := boolParam(r, "all")
	if err != nil {
		writeError(w, r, err)
		return
	}
	today := domain.BusinessDate(s.Now())
	list := domain.TownshipsOn(today)
	if all {
		list = domain.Townships()
	}
	out := make([]townshipJSON, 0, len(list))
	for _, t := range list {
		j := townshipJSON{Code: t.Code, Name: t.Name}
		if !t.From.IsZero() {
			j.From = &t.From
		}
		if !t.To.IsZero() {
			j.To = &t.To
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"townships": out, "on": today})
}

// getExpiringCertificates lists the certificates lapsing in the next
// within days (default 60) from today, in one township or all: whom
// caseworkers call in for renewal.
func (s *server) getExpiringCertificates(w http.ResponseWriter, r *http.Request) {
	within, err := intParam(r, "within", 60, 0, 366)
	if err != nil {
		writeError(w, r, err)
		return
	}
	from := domain.BusinessDate(s.Now())
	township := r.URL.Query().Get("township")
	if township != "" {
		if _, err := domain.CheckTownship("township", township, from); err != nil {
			writeError(w, r, err)
			return
		}
	}
	to := from.AddDays(within)
	s.query(w, r, func(ctx context.Context) (any, error) {
		certs, err := s.ReadModels.ExpiringCertificates(ctx, from, to, township)
		if err != nil {
			return nil, err
		}
		if certs == nil {
			certs = []projections.ExpiringCertificate{}
		}
		for i := range certs {
			if certs[i].Programs == nil {
				certs[i].Programs = []string{}
			}
		}
		return map[string]any{"from": from, "to": to, "certificates": certs}, nil
	})
}
