package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/reports"
)

// The monthly change notice over HTTP: POST issues one and answers the file
// itself; GET lists the notices issued. See docs/reports.md.

// changeNoticeJSON describes a notice issued. It is also what the
// idempotency store keeps of a POST: the file (which may carry full ID
// numbers) is never stored there, but produced again from the event and
// checked against its SHA-256 when the request is retried.
type changeNoticeJSON struct {
	NoticeID   string `json:"notice_id"`
	Department string `json:"department"` // "" for the townships' notice
	Township   string `json:"township"`   // "" for every township
	From       string `json:"from"`
	To         string `json:"to"`
	Format     string `json:"format"`
	Rows       int    `json:"rows"`
	FullIDs    bool   `json:"full_ids"`
	FileSHA256 string `json:"file_sha256"`
	IssuedBy   string `json:"issued_by"`
	IssuedOn   string `json:"issued_on"`
	Reissue    bool   `json:"reissue"`
	Filename   string `json:"filename"`
	Position   string `json:"position,omitempty"`
}

func changeNoticeOf(n domain.ChangeNoticeIssued) changeNoticeJSON {
	return changeNoticeJSON{
		NoticeID: n.NoticeID, Department: string(n.Department), Township: n.Township, From: n.From.String(), To: n.To.String(),
		Format: n.Format, Rows: n.Rows, FullIDs: n.FullIDs, FileSHA256: n.FileSHA256, IssuedBy: n.IssuedBy, IssuedOn: n.IssuedOn.String(),
		Reissue: n.Reissue, Filename: reports.ChangesFilename(n.NoticeID, reports.ChangesFormat(n.Format)),
	}
}

// issueChangeNotice issues a change notice: body {from?, to, township?,
// department?, format, reissue?, reason?}. It answers 200 with the file
// (Content-Disposition: attachment) and the notice in X-Ledger-* headers;
// the same Idempotency-Key and body answer the same file again.
func (s *server) issueChangeNotice(w http.ResponseWriter, r *http.Request) {
	var file []byte
	rec := &bufferedResponse{header: http.Header{}}
	s.idempotent(rec, r, http.StatusOK, func(body []byte, u User, meta domain.CommandMeta) (any, string, error) {
		var req struct {
			From       string `json:"from"`
			To         string `json:"to"`
			Township   string `json:"township"`
			Department string `json:"department"`
			Format     string `json:"format"`
			Reissue    bool   `json:"reissue"`
			reasonField
		}
		if err := decodeBody(body, &req); err != nil {
			return nil, "", err
		}
		var p parser
		cr := app.ChangesRequest{To: p.date("to", req.To), Township: req.Township, Reissue: req.Reissue}
		cr.From = p.optDate("from", req.From)
		if p.err != nil {
			return nil, "", p.err
		}
		var err error
		if cr.Department, err = domain.ParseDepartment("department", req.Department); err != nil {
			return nil, "", err
		}
		format := reports.DefaultChangesFormat(cr.Department)
		if req.Format != "" {
			if format, err = reports.ParseChangesFormat("format", req.Format); err != nil {
				return nil, "", err
			}
		}
		cr.Format = string(format)
		meta.Reason = req.Reason
		issued, err := app.NewNotices(s.Store).IssueChanges(r.Context(), s.noticeSource(), meta, cr)
		if err != nil {
			return nil, "", err
		}
		file = issued.File
		out := changeNoticeOf(issued.Notice)
		out.Position = issued.Result.Position.String()
		return out, "", nil
	})
	if rec.status != http.StatusOK {
		rec.copyTo(w)
		return
	}
	var n changeNoticeJSON
	if err := json.Unmarshal(rec.body.Bytes(), &n); err != nil {
		writeError(w, r, fmt.Errorf("change notice response: %w", err))
		return
	}
	if file == nil { // a retry answered from the idempotency store
		ev, err := s.findChangeNotice(r.Context(), n)
		if err == nil {
			file, err = app.NewNotices(s.Store).Regenerate(r.Context(), s.noticeSource(), ev)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
	}
	h := w.Header()
	if v := rec.header.Get("Idempotent-Replayed"); v != "" {
		h.Set("Idempotent-Replayed", v)
	}
	h.Set("Content-Type", reports.ChangesFormat(n.Format).ContentType())
	h.Set("Content-Disposition", `attachment; filename="`+n.Filename+`"`)
	h.Set("Content-Length", strconv.Itoa(len(file)))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Ledger-Position", n.Position)
	h.Set("X-Ledger-Notice-ID", n.NoticeID)
	h.Set("X-Ledger-Window", n.From+"/"+n.To)
	h.Set("X-Ledger-Rows", strconv.Itoa(n.Rows))
	h.Set("X-Ledger-File-SHA256", n.FileSHA256)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(file)
}

// findChangeNotice reads a notice's event back from its department's stream.
func (s *server) findChangeNotice(ctx context.Context, n changeNoticeJSON) (domain.ChangeNoticeIssued, error) {
	d, err := domain.ParseDepartment("department", n.Department)
	if err != nil {
		return domain.ChangeNoticeIssued{}, err
	}
	return app.NewNotices(s.Store).Find(ctx, d, n.NoticeID)
}

// noticeSource is what the server's change notices are made from.
func (s *server) noticeSource() reports.NoticeSource {
	return reports.NoticeSource{Changelog: s.ReadModels, Store: s.Store}
}

// getChangeNotices lists the notices issued, oldest first per recipient:
// ?department= a department code, or "townships" for the townships' own
// notices; none for all.
func (s *server) getChangeNotices(w http.ResponseWriter, r *http.Request) {
	var departments []domain.Department
	switch q := r.URL.Query().Get("department"); q {
	case "":
	case "townships":
		departments = []domain.Department{domain.DepartmentNone}
	default:
		d, err := domain.ParseDepartment("department", q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		departments = []domain.Department{d}
	}
	s.query(w, r, func(ctx context.Context) (any, error) {
		list, err := app.NewNotices(s.Store).List(ctx, departments...)
		if err != nil {
			return nil, err
		}
		out := make([]changeNoticeJSON, 0, len(list))
		for _, n := range list {
			out = append(out, changeNoticeOf(n))
		}
		return map[string]any{"notices": out}, nil
	})
}

// bufferedResponse holds a response so a handler can look at it before
// sending it (or something else).
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// copyTo sends the held response.
func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for k, v := range b.header {
		w.Header()[k] = v
	}
	if b.status == 0 {
		b.status = http.StatusOK
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
