package httpapi

import (
	"bytes"
	"fmt"
	"net/http"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/reports"
)

// getAnnualSummary answers the annual summary of ?year= (required) as
// JSON, or with ?format=csv|xlsx as a file to download. Like every query
// it waits for ?after= first; docs/reports.md defines the figures.
func (s *server) getAnnualSummary(w http.ResponseWriter, r *http.Request) {
	today := domain.DateOf(s.Now())
	q := r.URL.Query()
	year, err := reports.AnnualParseYear("year", q.Get("year"), today)
	format := reports.AnnualJSON
	if err == nil && q.Has("format") {
		format, err = reports.AnnualParseFormat("format", q.Get("format"), reports.AnnualJSON, reports.AnnualCSV, reports.AnnualXLSX)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.waitFor(r); err != nil {
		writeError(w, r, err)
		return
	}
	summary, err := reports.Annual(r.Context(), s.ReadModels, year, today)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := reports.AnnualWrite(&buf, summary, format); err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", format.ContentType())
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if format != reports.AnnualJSON {
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s"`, reports.AnnualFilename(year, format)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
