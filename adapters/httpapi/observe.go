package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

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

// requestMetrics counts requests and their latency by method, route
// (the pattern, not the path) and status code, in the registry /metrics
// serves.
type requestMetrics struct {
	count   *prometheus.CounterVec
	seconds *prometheus.HistogramVec
}

// requestBuckets run past the longest request a client waits for (a
// command waits up to 30 s for a duplicate in flight or the read models).
var requestBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

func newRequestMetrics(reg prometheus.Registerer) *requestMetrics {
	m := &requestMetrics{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ledger_http_requests_total",
			Help: "HTTP requests by method, route and status code."}, []string{"method", "route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ledger_http_request_duration_seconds",
			Help: "HTTP request latency by method and route.", Buckets: requestBuckets}, []string{"method", "route"}),
	}
	reg.MustRegister(m.count, m.seconds)
	return m
}

func (m *requestMetrics) instrument(method, route string, next http.Handler) http.Handler {
	seconds := m.seconds.WithLabelValues(method, route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		seconds.Observe(time.Since(start).Seconds())
		m.count.WithLabelValues(method, route, strconv.Itoa(ww.Status())).Inc()
	})
}

// textGatherer gathers the metrics write writes in the Prometheus text
// format (the projection runner's and the read models' state), so that
// they are served with the registry's, in whichever format the scraper
// asks for.
func textGatherer(write func(io.Writer)) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var b bytes.Buffer
		write(&b)
		parser := expfmt.NewTextParser(model.UTF8Validation)
		families, err := parser.TextToMetricFamilies(&b)
		if err != nil {
			return nil, fmt.Errorf("process metrics: %w", err)
		}
		out := make([]*dto.MetricFamily, 0, len(families))
		for _, name := range slices.Sorted(maps.Keys(families)) {
			out = append(out, families[name])
		}
		return out, nil
	})
}
