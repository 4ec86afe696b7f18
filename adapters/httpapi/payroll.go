package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Payroll for finance officers: draft a batch for a program and period
// (from the read models, which must have caught up), approve or reject it
// (another user than the drafter), and read the batch report.

type batchResult struct {
	BatchID  string             `json:"batch_id"`
	Program  domain.ProgramCode `json:"program"`
	Period   domain.Period      `json:"period"`
	Count    int                `json:"count"`
	Total    domain.Money       `json:"total"`
	Position string             `json:"position"`
}

var errNotCaughtUp = errors.New("the read models have not caught up with the event log yet; retry shortly")

// caughtUp answers 503 unless every projection has applied the whole log:
// a draft computed from stale entitlements would pay the wrong people.
func (s *server) caughtUp(ctx context.Context) error {
	if s.Projections == nil {
		return nil
	}
	st, err := s.Projections(ctx)
	if err != nil {
		return err
	}
	for _, p := range st {
		if p.State != "running" || p.LagEvents > 0 {
			return errNotCaughtUp
		}
	}
	return nil
}

func (s *server) draftPayroll(w http.ResponseWriter, r *http.Request) {
	s.idempotent(w, r, http.StatusCreated, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
		var req struct {
			Program string `json:"program"`
			Period  string `json:"period"`
			PaidOn  string `json:"paid_on"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		program := p.program("program", req.Program)
		if p.err != nil {
			return nil, "", p.err
		}
		if prog, _ := domain.LookupProgram(program); prog.Shape != domain.ShapeMonthly {
			return nil, "", domain.Invalid("program", "%s is not paid monthly; payroll runs monthly programs", program)
		}
		period, err := domain.ParsePeriod("period", req.Period)
		if err != nil {
			return nil, "", err
		}
		paidOn := period.First().AddDays(19)
		if req.PaidOn != "" {
			paidOn = p.date("paid_on", req.PaidOn)
		}
		if p.err != nil {
			return nil, "", p.err
		}
		ctx := r.Context()
		if err := s.waitFor(r); err != nil {
			return nil, "", err
		}
		if err := s.caughtUp(ctx); err != nil {
			return nil, "", err
		}
		persons, err := projections.PayrollPersons(ctx, s.DB, program)
		if err != nil {
			return nil, "", err
		}
		pay := domain.NewPayroll(s.Store)
		state, err := pay.State(ctx, program, period)
		if err != nil {
			return nil, "", err
		}
		id := domain.BatchID(program, period, len(state.Batches)+1)
		meta.Reason = req.Reason
		res, b, err := pay.Draft(ctx, meta, domain.DraftPayroll{BatchID: id, Program: program, Period: period, PaidOn: paidOn, DraftedBy: u.Name, Persons: persons})
		if err != nil {
			return nil, "", err
		}
		return batchResult{BatchID: id, Program: program, Period: period, Count: b.Count, Total: b.Total, Position: res.Position.String()},
			"/v1/payroll/batches/" + id, nil
	})
}

func (s *server) decidePayroll(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.idempotent(w, r, http.StatusOK, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
			id := chi.URLParam(r, "batch")
			program, period, err := domain.ParseBatchID("batch", id)
			if err != nil {
				return nil, "", err
			}
			var req reasonField
			if len(bytes.TrimSpace(body)) > 0 {
				if err := decodeBody(body, &req); err != nil {
					return nil, "", err
				}
			}
			meta.Reason = req.Reason
			pay := domain.NewPayroll(s.Store)
			var res domain.AppendResult
			if approve {
				res, err = pay.Approve(r.Context(), meta, program, period, id)
			} else {
				res, err = pay.Reject(r.Context(), meta, program, period, id, req.Reason)
			}
			if err != nil {
				return nil, "", err
			}
			state, err := pay.State(r.Context(), program, period)
			if err != nil {
				return nil, "", err
			}
			b := state.Batches[id].Drafted
			return batchResult{BatchID: id, Program: program, Period: period, Count: b.Count, Total: b.Total, Position: res.Position.String()}, "", nil
		})
	}
}

// getBatch is the batch report, from the event store: every line with its
// status, and expected / settled / failed / outstanding counts and totals.
func (s *server) getBatch(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "batch")
	program, period, err := domain.ParseBatchID("batch", id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		state, err := domain.NewPayroll(s.Store).State(ctx, program, period)
		if err != nil {
			return nil, err
		}
		return state.Report(id)
	})
}

// getProgramMonths reports a program's year month by month: paid,
// outstanding at the bank, overpaid and claimed back.
func (s *server) getProgramMonths(w http.ResponseWriter, r *http.Request) {
	program, err := domain.ParseProgramCode("program", r.URL.Query().Get("program"))
	year := 0
	if err == nil {
		year, err = intParam(r, "year", domain.DateOf(s.Now()).Year(), 2000, 2100)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		months, err := projections.ProgramMonths(ctx, s.DB, program, year)
		if err != nil {
			return nil, err
		}
		return map[string]any{"program": program, "year": year, "months": months}, nil
	})
}

type reconcileJSON struct {
	BatchID         string                       `json:"batch_id"`
	AlreadyImported bool                         `json:"already_imported"`
	Position        string                       `json:"position,omitempty"`
	Totals          map[string]domain.CountTotal `json:"totals"`
	Exceptions      []reconcileExceptionJSON     `json:"exceptions"`
}

type reconcileExceptionJSON struct {
	Category  string       `json:"category"` // failed, amount_mismatch, unknown, duplicate, missing
	Line      int          `json:"line,omitempty"`
	Reference string       `json:"reference"`
	Amount    domain.Money `json:"amount"`
	Detail    string       `json:"detail,omitempty"`
}

// uploadReturn reconciles a bank return file sent as the raw request body
// (CSV or XLSX, UTF-8 or GB18030). A malformed file is refused whole (400,
// every bad line named); the same file again changes nothing.
func (s *server) uploadReturn(w http.ResponseWriter, r *http.Request) {
	u, _ := UserFrom(r.Context())
	if r.Header.Get("Idempotency-Key") == "" {
		writeError(w, r, errMissingKey)
		return
	}
	id := chi.URLParam(r, "batch")
	if _, _, err := domain.ParseBatchID("batch", id); err != nil {
		writeError(w, r, err)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bankfile.MaxReturnFileSize))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			problem(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the return file exceeds %d bytes", bankfile.MaxReturnFileSize))
			return
		}
		writeError(w, r, err)
		return
	}
	meta := domain.CommandMeta{Actor: u.Name, Role: string(u.Role), CorrelationID: middleware.GetReqID(r.Context()), Now: s.Now()}
	applied, err := bankfile.Reconcile(r.Context(), domain.NewPayroll(s.Store), meta, id, "return file", raw, domain.DateOf(meta.Now))
	var fe *bankfile.FileError
	if errors.As(err, &fe) {
		var lines []string
		for i, p := range fe.Problems {
			if i == 50 {
				lines = append(lines, fmt.Sprintf("and %d more", len(fe.Problems)-50))
				break
			}
			lines = append(lines, p.String())
		}
		writeProblem(w, Problem{Status: http.StatusBadRequest, Code: "invalid_return_file", Field: "file",
			Detail: "nothing was applied; fix these lines and send the file again: " + strings.Join(lines, "; ")})
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	t := applied.Totals
	out := reconcileJSON{BatchID: id, AlreadyImported: applied.AlreadyImported, Exceptions: []reconcileExceptionJSON{},
		Totals: map[string]domain.CountTotal{
			"expected": ct(t.Expected), "settled": ct(t.Settled), "failed": ct(t.Failed), "amount_mismatch": ct(t.AmountMismatch),
			"unknown": ct(t.Unknown), "duplicate": ct(t.Duplicate), "missing": ct(t.Missing),
		}}
	if !applied.AlreadyImported {
		out.Position = applied.Position.String()
	}
	for _, l := range applied.Failed {
		out.Exceptions = append(out.Exceptions, reconcileExceptionJSON{Category: "failed", Line: l.LineNo, Reference: l.Reference, Amount: l.Amount, Detail: l.Reason})
	}
	for _, m := range applied.AmountMismatch {
		out.Exceptions = append(out.Exceptions, reconcileExceptionJSON{Category: "amount_mismatch", Line: m.Line.LineNo, Reference: m.Line.Reference,
			Amount: m.Line.Amount, Detail: "issued " + m.Expected.String()})
	}
	for _, l := range applied.Unknown {
		out.Exceptions = append(out.Exceptions, reconcileExceptionJSON{Category: "unknown", Line: l.LineNo, Reference: l.Reference, Amount: l.Amount})
	}
	for _, dl := range applied.Duplicate {
		out.Exceptions = append(out.Exceptions, reconcileExceptionJSON{Category: "duplicate", Line: dl.Line.LineNo, Reference: dl.Line.Reference,
			Amount: dl.Line.Amount, Detail: fmt.Sprint("first on line ", dl.FirstLineNo)})
	}
	for _, m := range applied.Missing {
		out.Exceptions = append(out.Exceptions, reconcileExceptionJSON{Category: "missing", Reference: m.Reference, Amount: m.Amount})
	}
	writeJSON(w, http.StatusOK, out)
}

func ct(t bankfile.Tally) domain.CountTotal { return domain.CountTotal{Count: t.Count, Total: t.Total} }
