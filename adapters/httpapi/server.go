// Package httpapi is the ledger's HTTP API on chi: routes (routes.go, each
// with the roles it allows), handlers that query read models and append
// commands through the domain, RFC 9457 problem responses, bearer-token
// authentication, idempotency keys and read-your-writes waits.
package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Deps are the server's collaborators (ports.go).
type Deps struct {
	Log   *slog.Logger
	Store domain.EventStore
	// ReadModels answers the queries and the payroll use cases' reads
	// (projections.ReadModels).
	ReadModels ReadModels
	// Idempotency keeps the answers of commands (postgres.Idempotency).
	Idempotency IdempotencyStore
	// Users resolves bearer tokens when Auth is nil (postgres.Users).
	Users UserStore
	// Database is pinged by /readyz (the request pool).
	Database  Pinger
	LookupKey domain.LookupKey
	Vault     *vault.Vault // seals bank account numbers
	Version   string
	Now       func() time.Time // default time.Now
	// Metrics writes process metrics (projection progress) in the
	// Prometheus text format; request metrics are added by the server.
	Metrics func(w io.Writer)
	// Registry holds the process's collectors (Go runtime, process, build,
	// connection pools); the server adds its request metrics to it and
	// serves it, with Metrics, at /metrics. Default: a new registry.
	Registry *prometheus.Registry
	// Projections reports the read models' state (checkpoint, lag, parked).
	Projections func(ctx context.Context) ([]projections.Status, error)
	// Auth resolves bearer tokens; default: Users, each valid token
	// remembered for 30 seconds.
	Auth Authenticator
	// InFlightWait is how long a command request waits for a duplicate in
	// flight (same user, Idempotency-Key and body) to answer before it
	// answers 503 command_in_progress; default DefaultInFlightWait.
	InFlightWait time.Duration
}

type server struct {
	Deps
	handler *app.Persons
	pay     *app.Payroll
	rosters *app.Rosters
	budgets *app.Budgets
	idem    IdempotencyStore
	flights flights
	metrics *requestMetrics
	// metricsHandler serves the registry and the process metrics.
	metricsHandler http.Handler
}

// api is the handler NewServer returns.
type api struct {
	http.Handler
	s *server
}

// NewServer returns the API's handler.
func NewServer(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.InFlightWait <= 0 {
		d.InFlightWait = DefaultInFlightWait
	}
	if d.Auth == nil && d.Users != nil {
		d.Auth = newCachedUsers(d.Users)
	}
	if d.Registry == nil {
		d.Registry = prometheus.NewRegistry()
	}
	s := &server{Deps: d, metrics: newRequestMetrics(d.Registry)}
	gather := prometheus.Gatherers{d.Registry}
	if d.Metrics != nil {
		gather = append(gather, textGatherer(d.Metrics))
	}
	s.metricsHandler = promhttp.HandlerFor(gather, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(d.Log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError})
	if d.Store != nil {
		s.handler = app.NewPersons(d.Store)
		var sealer app.Sealer
		if d.Vault != nil {
			sealer = d.Vault
		}
		s.pay = app.NewPayroll(d.Store, d.ReadModels, sealer)
		s.rosters = app.NewRosters(d.Store, s.handler, d.LookupKey)
		s.budgets = app.NewBudgets(d.Store)
	}
	s.idem = d.Idempotency
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	r.Use(s.logRequests)
	r.Use(middleware.Recoverer)
	r.Use(middleware.Timeout(30 * time.Second))
	r.NotFound(handleNotFound)
	r.MethodNotAllowed(func(w http.ResponseWriter, req *http.Request) {
		// The methods the path has, as the Allow header of a 405 must say.
		var allowed []string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if r.Match(chi.NewRouteContext(), m, req.URL.Path) {
				allowed = append(allowed, m)
			}
		}
		w.Header().Set("Allow", strings.Join(allowed, ", "))
		handleMethodNotAllowed(w, req)
	})
	for _, rt := range s.routes() {
		h := http.Handler(rt.handler)
		if rt.roles != nil {
			h = requireRoles(s.Auth, rt.roles, h)
		}
		r.Method(rt.method, rt.pattern, s.metrics.instrument(rt.method, rt.pattern, h))
	}
	return &api{Handler: r, s: s}
}

// cachedUsers adapts a UserStore to Authenticator, remembering a valid
// token for tokenTTL so a request costs no extra query: a disabled user's
// token stops working within that time.
type cachedUsers struct {
	users UserStore
	mu    sync.Mutex
	cache map[[32]byte]cachedUser
}

type cachedUser struct {
	user    User
	expires time.Time
}

const tokenTTL = 30 * time.Second

func newCachedUsers(u UserStore) *cachedUsers {
	return &cachedUsers{users: u, cache: map[[32]byte]cachedUser{}}
}

func (p *cachedUsers) Authenticate(ctx context.Context, token string) (User, error) {
	k := sha256.Sum256([]byte(token))
	now := time.Now()
	p.mu.Lock()
	c, ok := p.cache[k]
	p.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.user, nil
	}
	name, role, err := p.users.Lookup(ctx, token)
	if err != nil {
		if errors.Is(err, domain.ErrNotFound) {
			return User{}, ErrUnauthenticated
		}
		return User{}, err
	}
	u := User{Name: name, Role: Role(role)}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.cache) > 10_000 {
		clear(p.cache)
	}
	p.cache[k] = cachedUser{user: u, expires: now.Add(tokenTTL)}
	return u, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func handleHealthz(version string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": version})
	}
}

func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	body := map[string]any{"status": "ready"}
	if s.Database != nil {
		if err := s.Database.Ping(ctx); err != nil {
			s.Log.Warn("readiness: database unreachable", slog.String("error", err.Error()))
			problem(w, http.StatusServiceUnavailable, "database_unavailable", "the database does not answer")
			return
		}
		body["database"] = "ok"
	}
	if s.Store != nil {
		if _, err := s.Store.ReadAll(ctx, domain.Start, 1, domain.Filter{}); err != nil {
			s.Log.Warn("readiness: event store unreachable", slog.String("error", err.Error()))
			problem(w, http.StatusServiceUnavailable, "eventstore_unavailable", "the event store does not answer")
			return
		}
		body["eventstore"] = "ok"
	}
	if s.Projections != nil {
		st, err := s.Projections(ctx)
		if err != nil {
			s.Log.Warn("readiness: projection status", slog.String("error", err.Error()))
			problem(w, http.StatusServiceUnavailable, "projections_unavailable", "the projection status cannot be read")
			return
		}
		body["projections"] = st
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.metricsHandler.ServeHTTP(w, r)
}

func handleNotFound(w http.ResponseWriter, r *http.Request) {
	problem(w, http.StatusNotFound, "not_found", "no such resource: "+redactPath(r.URL.Path))
}

func handleMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	problem(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+redactPath(r.URL.Path))
}

// redactPath masks every segment of path that is an ID or certificate
// number (someone put one in a URL, such as /v1/persons/<ID number>), so
// that neither answers nor the request log repeat it.
func redactPath(path string) string {
	if !strings.ContainsAny(path, "0123456789") {
		return path
	}
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		digits := 0
		for _, r := range seg {
			if unicode.IsDigit(r) {
				digits++
			}
		}
		if digits < 15 { // not even a first-generation number
			continue
		}
		if id, err := domain.ParseResidentID("", seg); err == nil {
			segs[i] = id.Masked()
		} else if n, err := domain.ParseCertificateNumber("", seg); err == nil {
			segs[i] = n.Masked()
		}
	}
	return strings.Join(segs, "/")
}
