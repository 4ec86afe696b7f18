package httpapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// logState carries the request's logger and, once known, its user and
// the error it failed with.
type logState struct {
	log  *slog.Logger
	user User
	err  error
}

type logKey struct{}

func logFrom(ctx context.Context) *slog.Logger {
	if st, ok := ctx.Value(logKey{}).(*logState); ok {
		return st.log
	}
	return slog.Default()
}

// setLogError records the error a request failed with, for its log line.
func setLogError(ctx context.Context, err error) {
	if st, ok := ctx.Value(logKey{}).(*logState); ok {
		st.err = err
	}
}

func setLogUser(ctx context.Context, u User) {
	if st, ok := ctx.Value(logKey{}).(*logState); ok {
		st.user = u
	}
}

// logRequests logs one line per request: method, route (the pattern,
// e.g. /v1/persons/{id}, so that lines of one endpoint group together),
// path (ID and certificate numbers masked; never the query string, which
// could hold personal data), status, duration in milliseconds, bytes,
// request ID, user and role, and for a request that failed on the
// ledger's side (a 5xx) the error, at level warn.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		reqID := middleware.GetReqID(r.Context())
		st := &logState{log: s.Log.With(slog.String("request_id", reqID))}
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		ww.Header().Set("X-Request-ID", reqID)
		next.ServeHTTP(ww, r.WithContext(context.WithValue(r.Context(), logKey{}, st)))
		route := "" // no route matched: a 404 or 405
		if rc := chi.RouteContext(r.Context()); rc != nil {
			route = rc.RoutePattern()
		}
		attrs := []any{
			slog.String("method", r.Method), slog.String("route", route), slog.String("path", redactPath(r.URL.Path)), slog.Int("status", ww.Status()),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000), slog.Int("bytes", ww.BytesWritten()),
		}
		if st.user.Name != "" {
			attrs = append(attrs, slog.String("user", st.user.Name), slog.String("role", string(st.user.Role)))
		}
		if st.err != nil && ww.Status() >= 500 {
			st.log.Warn("request", append(attrs, slog.String("error", st.err.Error()))...)
			return
		}
		st.log.Info("request", attrs...)
	})
}

// requestMetrics counts requests and their latency by route and status.
type requestMetrics struct {
	mu      sync.Mutex
	count   map[[2]string]int64
	seconds map[string]*histogram
}

var buckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}

type histogram struct {
	counts []int64 // per bucket, cumulative when written
	sum    float64
	n      int64
}

func newRequestMetrics() *requestMetrics {
	return &requestMetrics{count: map[[2]string]int64{}, seconds: map[string]*histogram{}}
}

func (m *requestMetrics) instrument(route string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		secs := time.Since(start).Seconds()
		m.mu.Lock()
		defer m.mu.Unlock()
		m.count[[2]string{route, fmt.Sprint(ww.Status())}]++
		h := m.seconds[route]
		if h == nil {
			h = &histogram{counts: make([]int64, len(buckets))}
			m.seconds[route] = h
		}
		for i, b := range buckets {
			if secs <= b {
				h.counts[i]++
				break
			}
		}
		h.sum += secs
		h.n++
	})
}

func (m *requestMetrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()
	fmt.Fprintln(w, "# HELP ledger_http_requests_total HTTP requests by route and status.")
	fmt.Fprintln(w, "# TYPE ledger_http_requests_total counter")
	keys := make([][2]string, 0, len(m.count))
	for k := range m.count {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1] < keys[j][0]+keys[j][1] })
	for _, k := range keys {
		fmt.Fprintf(w, "ledger_http_requests_total{route=%q,status=%q} %d\n", k[0], k[1], m.count[k])
	}
	fmt.Fprintln(w, "# HELP ledger_http_request_duration_seconds HTTP request latency by route.")
	fmt.Fprintln(w, "# TYPE ledger_http_request_duration_seconds histogram")
	routes := make([]string, 0, len(m.seconds))
	for r := range m.seconds {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	for _, r := range routes {
		h := m.seconds[r]
		var cum int64
		for i, b := range buckets {
			cum += h.counts[i]
			fmt.Fprintf(w, "ledger_http_request_duration_seconds_bucket{route=%q,le=\"%g\"} %d\n", r, b, cum)
		}
		fmt.Fprintf(w, "ledger_http_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", r, h.n)
		fmt.Fprintf(w, "ledger_http_request_duration_seconds_sum{route=%q} %g\n", r, h.sum)
		fmt.Fprintf(w, "ledger_http_request_duration_seconds_count{route=%q} %d\n", r, h.n)
	}
}
