package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// Payroll for finance officers, on the use cases of app.Payroll: draft a
// batch for a program and period, approve or reject it (another user than
// the drafter), export its payment file, upload the bank's return file,
// record overpayment claims and their recoveries, and read the batch
// report. Every command takes an Idempotency-Key.

type batchResult struct {
	BatchID  string             `json:"batch_id"`
	Program  domain.ProgramCode `json:"program"`
	Period   domain.Period      `json:"period"`
	State    string             `json:"state"`
	Count    int                `json:"count"`
	Total    domain.Money       `json:"total"`
	Regular  *domain.CountTotal `json:"regular,omitempty"`
	Arrears  *domain.CountTotal `json:"arrears,omitempty"`
	Reissue  *domain.CountTotal `json:"reissue,omitempty"`
	Withheld *domain.CountTotal `json:"withheld,omitempty"`
	// DecidedBy is the approver or the rejecter.
	DecidedBy string `json:"decided_by,omitempty"`
	Claims    int    `json:"overpayment_claims_recorded"`
	Position  string `json:"position,omitempty"`
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
		period, err := domain.ParsePeriod("period", req.Period)
		if err != nil {
			return nil, "", err
		}
		paidOn := p.optDate("paid_on", req.PaidOn)
		if p.err != nil {
			return nil, "", p.err
		}
		meta.Reason = req.Reason
		res, err := s.pay.Draft(r.Context(), meta, app.DraftRequest{Program: program, Period: period, PaidOn: paidOn})
		if err != nil {
			return nil, "", err
		}
		b := res.Batch
		return batchResult{BatchID: b.BatchID, Program: b.Program, Period: b.Period, State: domain.BatchStateDrafted, Count: b.Lines.Count, Total: b.Lines.Total,
				Regular: &b.Regular, Arrears: &b.Arrears, Reissue: &b.Reissue, Claims: len(res.Claims), Position: res.Position.String()},
			"/v1/payroll/batches/" + b.BatchID, nil
	})
}

func (s *server) decidePayroll(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.idempotent(w, r, http.StatusOK, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
			id := chi.URLParam(r, "batch")
			program, period, err := domain.ParseBatchID("batch", id)
			if err != nil {
				return nil, "", err
			}
			var req reasonField
			if len(strings.TrimSpace(string(body))) > 0 {
				if err := decodeBody(body, &req); err != nil {
					return nil, "", err
				}
			}
			meta.Reason = req.Reason
			out := batchResult{BatchID: id, Program: program, Period: period}
			switch verb {
			case "approve":
				res, err := s.pay.Approve(r.Context(), meta, id)
				if err != nil {
					return nil, "", err
				}
				out.State, out.DecidedBy, out.Count, out.Total, out.Withheld = domain.BatchStateApproved, res.ApprovedBy, res.Issued.Count, res.Issued.Total, &res.Withheld
				out.Position = res.Position.String()
			case "reject":
				res, err := s.pay.Reject(r.Context(), meta, id, req.Reason)
				if err != nil {
					return nil, "", err
				}
				out.State, out.DecidedBy, out.Count, out.Total = domain.BatchStateRejected, res.RejectedBy, res.Released.Count, res.Released.Total
				out.Position = res.Position.String()
			case "resume":
				if _, err := s.pay.Resume(r.Context(), meta, id); err != nil {
					return nil, "", err
				}
				b, err := s.pay.Batch(r.Context(), id)
				if err != nil {
					return nil, "", err
				}
				out.State = b.State
				if b.Drafted != nil {
					out.Count, out.Total = b.Drafted.Lines.Count, b.Drafted.Lines.Total
				}
			}
			return out, "", nil
		})
	}
}

// getBatch is the batch report, from the event store: every line with its
// status, and expected / settled / failed / outstanding counts and totals.
func (s *server) getBatch(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "batch")
	if _, _, err := domain.ParseBatchID("batch", id); err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) { return s.pay.Report(ctx, id) })
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
		months, err := s.ReadModels.ProgramMonths(ctx, program, year)
		if err != nil {
			return nil, err
		}
		return map[string]any{"program": program, "year": year, "months": months}, nil
	})
}

type exportJSON struct {
	BatchID  string       `json:"batch_id"`
	Format   string       `json:"format"`
	Encoding string       `json:"encoding"`
	Count    int          `json:"count"`
	Total    domain.Money `json:"total"`
	SHA256   string       `json:"file_sha256"`
	File     string       `json:"file"` // where to download it
	Position string       `json:"position"`
}

// exportBatch records an approved batch's bank payment file and answers
// where to download it.
func (s *server) exportBatch(w http.ResponseWriter, r *http.Request) {
	s.idempotent(w, r, http.StatusCreated, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
		id := chi.URLParam(r, "batch")
		var req struct {
			Format   string `json:"format"`
			Encoding string `json:"encoding"`
		}
		if len(strings.TrimSpace(string(body))) > 0 {
			if err := decodeBody(body, &req); err != nil {
				return nil, "", err
			}
		}
		res, err := s.pay.Export(r.Context(), meta, app.ExportRequest{BatchID: id, Format: req.Format, Encoding: req.Encoding})
		if err != nil {
			return nil, "", err
		}
		loc := "/v1/payroll/batches/" + id + "/exports/" + res.SHA256
		out := exportJSON{BatchID: id, Format: res.Format, Encoding: res.Encoding, Count: res.Count, Total: res.Total, SHA256: res.SHA256, File: loc,
			Position: res.Position.String()}
		return out, loc, nil
	})
}

// getExport serves a recorded payment file: written again from the batch
// and the accounts (nothing is recorded), and refused if it no longer
// matches what was recorded.
func (s *server) getExport(w http.ResponseWriter, r *http.Request) {
	id, sum := chi.URLParam(r, "batch"), chi.URLParam(r, "sha256")
	if _, _, err := domain.ParseBatchID("batch", id); err != nil {
		writeError(w, r, err)
		return
	}
	res, err := s.pay.ExportedFile(r.Context(), id, sum)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ctype := "text/csv; charset=" + res.Encoding
	if res.Format == bankfile.XLSX.String() {
		ctype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", res.Name))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(res.File)
}

type reconcileJSON struct {
	BatchID         string                       `json:"batch_id"`
	AlreadyImported bool                         `json:"already_imported"`
	Position        string                       `json:"position,omitempty"`
	Totals          map[string]domain.CountTotal `json:"totals"`
	Exceptions      []reconcileExceptionJSON     `json:"exceptions"`
	// Claims are the overpayment claims late settlements caused.
	Claims []claimJSON `json:"overpayment_claims"`
}

type reconcileExceptionJSON struct {
	Category  string       `json:"category"` // failed, late_settled, amount_mismatch, unknown, duplicate, conflicting, contradicting, missing
	Line      int          `json:"line,omitempty"`
	Reference string       `json:"reference"`
	Amount    domain.Money `json:"amount"`
	Detail    string       `json:"detail,omitempty"`
}

// uploadReturn reconciles a bank return file sent as the raw request body
// (CSV or XLSX, UTF-8 or GB18030), under an Idempotency-Key like every
// command. A malformed file is refused whole (400, every bad line named);
// the same file again changes nothing and answers with its
// classification.
func (s *server) uploadReturn(w http.ResponseWriter, r *http.Request) {
	s.idempotentFile(w, r, http.StatusOK, bankfile.MaxReturnFileSize, func(raw []byte, u User, meta domain.CommandMeta) (any, string, error) {
		id := chi.URLParam(r, "batch")
		if _, _, err := domain.ParseBatchID("batch", id); err != nil {
			return nil, "", err
		}
		applied, err := s.pay.Reconcile(r.Context(), meta, app.ReconcileRequest{BatchID: id, Name: "return file", Raw: raw})
		if err != nil {
			return nil, "", err
		}
		out := reconcileJSON{BatchID: id, AlreadyImported: applied.AlreadyImported, Exceptions: []reconcileExceptionJSON{},
			Totals: map[string]domain.CountTotal{}, Claims: claimsJSON(applied.Claims)}
		for _, c := range applied.Tallies() {
			out.Totals[c.Name] = domain.CountTotal{Count: c.Count, Total: c.Total}
		}
		if !applied.Position.IsStart() {
			out.Position = applied.Position.String()
		}
		for _, r := range applied.Rows() {
			if r.Category.Exception {
				out.Exceptions = append(out.Exceptions, reconcileExceptionJSON{Category: r.Category.Name, Line: r.LineNo, Reference: r.Reference, Amount: r.Amount, Detail: r.Detail})
			}
		}
		return out, "", nil
	})
}

type claimJSON struct {
	ClaimID    string             `json:"claim_id"`
	PersonID   domain.PersonID    `json:"person_id"`
	Program    domain.ProgramCode `json:"program"`
	Period     domain.Period      `json:"period"`
	Amount     domain.Money       `json:"amount"`
	Remaining  *domain.Money      `json:"remaining,omitempty"`
	References []string           `json:"references,omitempty"`
}

func claimsJSON(claims []domain.OverpaymentClaimed) []claimJSON {
	out := []claimJSON{}
	for _, c := range claims {
		out = append(out, claimJSON{ClaimID: c.ClaimID, PersonID: c.PersonID, Program: c.Program, Period: c.Period, Amount: c.Amount, References: c.References})
	}
	return out
}

// recordClaims records an overpayment claim for every month of a program
// paid more than owed.
func (s *server) recordClaims(w http.ResponseWriter, r *http.Request) {
	s.idempotent(w, r, http.StatusOK, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
		var req struct {
			Program string `json:"program"`
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		program := p.program("program", req.Program)
		if p.err != nil {
			return nil, "", p.err
		}
		claims, err := s.pay.RecordClaims(r.Context(), meta, program)
		if err != nil {
			return nil, "", err
		}
		out := claimsJSON(claims)
		return map[string]any{"program": program, "claims": out}, "", nil
	})
}

// settleClaim records money recovered on a claim, or written off.
func (s *server) settleClaim(writeOff bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.idempotent(w, r, http.StatusOK, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
			var req struct {
				Amount string `json:"amount"`
				reasonField
			}
			if err := decodeBody(body, &req); err != nil {
				return nil, "", err
			}
			var p parser
			amount := p.money("amount", req.Amount)
			if p.err == nil && req.Amount == "" {
				p.err = domain.Invalid("amount", "is required, e.g. \"110.00\"")
			}
			if p.err != nil {
				return nil, "", p.err
			}
			meta.Reason = req.Reason
			res, err := s.pay.SettleClaim(r.Context(), meta, app.SettleClaimRequest{ClaimID: chi.URLParam(r, "claim"), Amount: amount, WriteOff: writeOff, Reason: req.Reason})
			if err != nil {
				return nil, "", err
			}
			c := res.Claim
			rem := c.Remaining()
			return map[string]any{"claim": claimJSON{ClaimID: c.ClaimID, PersonID: c.PersonID, Program: c.Program, Period: c.Period, Amount: c.Amount,
				Remaining: &rem, References: c.References}, "position": res.Position.String()}, "", nil
		})
	}
}

// getNeverTwice checks never-twice: every person's month of the monthly
// programs (or ?program=) paid more than owed beyond what was claimed
// back, with the lines and batches that paid it — what `ledger verify`
// reports.
func (s *server) getNeverTwice(w http.ResponseWriter, r *http.Request) {
	var programs []domain.ProgramCode
	if q := r.URL.Query().Get("program"); q != "" {
		var p parser
		programs = append(programs, p.program("program", q))
		if p.err != nil {
			writeError(w, r, p.err)
			return
		}
	}
	s.query(w, r, func(ctx context.Context) (any, error) { return s.pay.CheckNeverTwice(ctx, programs...) })
}
