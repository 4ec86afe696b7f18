// Package httpapi is the ledger's HTTP API on chi: routes, handlers and
// RFC 9457 problem responses.
package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lushan-dpf/ledger/projections"
)

// Pinger is what readiness needs from the database.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the server's collaborators.
type Deps struct {
	Log     *slog.Logger
	DB      Pinger
	Version string
	// Metrics writes the process's metrics in the Prometheus text format.
	Metrics func(w io.Writer)
	// Projections reports the read models' state (checkpoint, lag, parked).
	Projections func(ctx context.Context) ([]projections.Status, error)
}

// NewServer returns the API's handler.
func NewServer(d Deps) http.Handler {
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(middleware.Recoverer)
	addRoutes(r, d)
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type":   "https://ledger.invalid/problems/" + code,
		"title":  http.StatusText(status),
		"status": status,
		"code":   code,
		"detail": detail,
	})
}

func handleHealthz(version string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version})
	}
}

func handleReadyz(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.DB.Ping(ctx); err != nil {
			d.Log.Warn("readiness: database unreachable", slog.String("error", err.Error()))
			problem(w, http.StatusServiceUnavailable, "database_unavailable", "the database does not answer")
			return
		}
		body := map[string]any{"status": "ready"}
		if d.Projections != nil {
			st, err := d.Projections(ctx)
			if err != nil {
				d.Log.Warn("readiness: projection status", slog.String("error", err.Error()))
				problem(w, http.StatusServiceUnavailable, "projections_unavailable", "the projection status cannot be read")
				return
			}
			body["projections"] = st
		}
		writeJSON(w, http.StatusOK, body)
	}
}

func handleMetrics(d Deps) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if d.Metrics != nil {
			d.Metrics(w)
		}
	}
}

func handleNotFound(w http.ResponseWriter, r *http.Request) {
	problem(w, http.StatusNotFound, "not_found", "no such resource: "+r.URL.Path)
}

func handleMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	problem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
}
