package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/adapters/roster"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// RosterQueries are the roster cross-checks' reads.
type RosterQueries interface {
	app.RosterReads
	RosterImports(ctx context.Context, source domain.RosterSource) ([]projections.RosterImportRow, error)
	RosterDifferences(ctx context.Context, importID, township string, review bool) ([]projections.RosterDifferenceRow, error)
}

// importRoster cross-checks the roster file in the body (CSV in UTF-8 or
// GB18030, or XLSX) with the ledger:
// POST /v1/rosters/{source}/imports?as_of=YYYY-MM-DD&file_name=NAME.
func (s *server) importRoster(w http.ResponseWriter, r *http.Request) {
	s.idempotentFile(w, r, http.StatusOK, roster.MaxFileSize, func(raw []byte, u User, meta domain.CommandMeta) (any, string, error) {
		src, err := domain.ParseRosterSource("source", chi.URLParam(r, "source"))
		if err != nil {
			return nil, "", err
		}
		q := r.URL.Query()
		asOf := domain.BusinessDate(meta.Now)
		if v := q.Get("as_of"); v != "" {
			if asOf, err = domain.ParseDate("as_of", v); err != nil {
				return nil, "", err
			}
		}
		name := strings.TrimSpace(q.Get("file_name"))
		if name == "" {
			name = string(src) + ".roster"
		} else if err := domain.CheckRosterFileName("file_name", name); err != nil {
			return nil, "", err
		}
		parsed, err := roster.Read(bytes.NewReader(raw), name, src, asOf)
		if err != nil {
			return nil, "", rosterFileError{err}
		}
		sum := sha256.Sum256(raw)
		res, err := s.rosters.Import(r.Context(), meta, s.ReadModels, app.RosterFile{Name: name, SHA256: sum[:], Roster: parsed}, nil)
		if err != nil {
			return nil, "", err
		}
		out := map[string]any{"import": res.Import, "already_imported": res.Replayed}
		if !res.Replayed {
			diffs := res.Differences
			if diffs == nil {
				diffs = []domain.RosterDifference{}
			}
			out["differences"] = diffs
			out["position"] = res.Position.String()
		}
		return out, "", nil
	})
}

// rosterFileError is a roster file that could not be read: a problem
// naming every bad line.
type rosterFileError struct{ error }

func (e rosterFileError) Unwrap() error { return e.error }

// getRosterImports lists the imports: GET /v1/rosters/imports?source=S.
func (s *server) getRosterImports(w http.ResponseWriter, r *http.Request) {
	var src domain.RosterSource
	if v := r.URL.Query().Get("source"); v != "" {
		var err error
		if src, err = domain.ParseRosterSource("source", v); err != nil {
			writeError(w, r, err)
			return
		}
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		if err := s.ReadModels.CaughtUp(ctx); err != nil {
			return nil, err
		}
		rows, err := s.ReadModels.RosterImports(ctx, src)
		if rows == nil {
			rows = []projections.RosterImportRow{}
		}
		return map[string]any{"imports": rows}, err
	})
}

// getRosterDifferences lists what an import found, per township:
// GET /v1/rosters/imports/{import}/differences?township=T&review=true.
func (s *server) getRosterDifferences(w http.ResponseWriter, r *http.Request) {
	id := chi.URLParam(r, "import")
	if _, err := domain.ParseRosterImportID("import", id); err != nil {
		writeError(w, r, err)
		return
	}
	township := r.URL.Query().Get("township")
	if township != "" {
		if _, err := domain.CheckTownship("township", township, domain.BusinessDate(s.Now())); err != nil {
			writeError(w, r, err)
			return
		}
	}
	review, err := boolParam(r, "review")
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		if err := s.ReadModels.CaughtUp(ctx); err != nil {
			return nil, err
		}
		rows, err := s.ReadModels.RosterDifferences(ctx, id, township, review)
		if rows == nil {
			rows = []projections.RosterDifferenceRow{}
		}
		return map[string]any{"import_id": id, "differences": rows}, err
	})
}

func (s *server) approveChange(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, u User) (domain.Command, string, error) {
		var req reasonField
		if len(bytes.TrimSpace(body)) > 0 {
			if err := decodeBody(body, &req); err != nil {
				return nil, "", err
			}
		}
		return domain.ApproveChange{ProposalID: chi.URLParam(r, "proposal"), ApprovedBy: u.Name}, req.Reason, nil
	})
}

func (s *server) rejectChange(w http.ResponseWriter, r *http.Request) {
	s.personCommand(w, r, func(body []byte, u User) (domain.Command, string, error) {
		var req reasonField
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		return domain.RejectChange{ProposalID: chi.URLParam(r, "proposal"), RejectedBy: u.Name, Reason: req.Reason}, req.Reason, nil
	})
}
