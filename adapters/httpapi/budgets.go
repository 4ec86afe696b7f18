package httpapi

import (
	"bytes"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// budgetDecisionJSON is a program's budget for a year and where it stands.
type budgetDecisionJSON struct {
	Program    domain.ProgramCode `json:"program"`
	FiscalYear int                `json:"fiscal_year"`
	Amount     *domain.Money      `json:"amount,omitempty"`
	Status     string             `json:"status"` // pending, allocated or rejected
	Position   string             `json:"position"`
}

// proposeBudget proposes a year's budget: POST /v1/budgets
// {program, fiscal_year, amount, reason?}; another finance user approves it.
func (s *server) proposeBudget(w http.ResponseWriter, r *http.Request) {
	s.idempotent(w, r, http.StatusOK, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
		var req struct {
			Program    string `json:"program"`
			FiscalYear int    `json:"fiscal_year"`
			Amount     string `json:"amount"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		program := p.program("program", req.Program)
		amount := p.money("amount", req.Amount)
		if p.err == nil && req.Amount == "" {
			p.err = domain.Invalid("amount", "is required, e.g. \"3600000.00\"")
		}
		if p.err != nil {
			return nil, "", p.err
		}
		meta.Reason = req.Reason
		c := domain.ProposeBudget{AllocateBudget: domain.AllocateBudget{Program: program, FiscalYear: req.FiscalYear, Amount: amount}, ProposedBy: u.Name}
		res, _, err := s.budgets.Propose(r.Context(), meta, c)
		if err != nil {
			return nil, "", err
		}
		return budgetDecisionJSON{Program: program, FiscalYear: req.FiscalYear, Amount: &amount, Status: "pending", Position: res.Position.String()}, "", nil
	})
}

// decideBudget approves (allocates) or rejects the year's waiting budget:
// POST /v1/budgets/{program}/{year}/approve|reject.
func (s *server) decideBudget(approve bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.idempotent(w, r, http.StatusOK, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
			var req reasonField
			if !approve || len(bytes.TrimSpace(body)) > 0 { // an approval's body is optional
				if err := decodeBody(body, &req); err != nil {
					return nil, "", err
				}
			}
			var p parser
			program := p.program("program", chi.URLParam(r, "program"))
			if p.err != nil {
				return nil, "", p.err
			}
			year, err := strconv.Atoi(chi.URLParam(r, "year"))
			if err != nil || year < 2000 || year > 2100 {
				return nil, "", domain.Invalid("year", "%q is not a year from 2000 to 2100", chi.URLParam(r, "year"))
			}
			meta.Reason = req.Reason
			var res domain.AppendResult
			status := "allocated"
			if approve {
				res, _, err = s.budgets.Approve(r.Context(), meta, domain.ApproveBudget{Program: program, FiscalYear: year, ApprovedBy: u.Name})
			} else {
				status = "rejected"
				res, _, err = s.budgets.Reject(r.Context(), meta, domain.RejectBudget{Program: program, FiscalYear: year, RejectedBy: u.Name, Reason: req.Reason})
			}
			if err != nil {
				return nil, "", err
			}
			return budgetDecisionJSON{Program: program, FiscalYear: year, Status: status, Position: res.Position.String()}, "", nil
		})
	}
}
