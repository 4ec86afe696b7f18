package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
)

// second is another API server on the ledger's schema with a pool of its
// own, whose sessions carry a name of their own, and a JSON log.
type second struct {
	*ledger
	app  string
	logs *syncBuffer
}

func startSecond(t *testing.T, l *ledger) *second {
	t.Helper()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	app := "http_" + hex.EncodeToString(rnd[:])
	cfg, err := postgres.PoolConfig(l.DB.URL, 2)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	pool, err := postgres.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := pgstore.New(pool)
	t.Cleanup(store.Close)
	logs := &syncBuffer{}
	srv := httptest.NewServer(httpapi.NewServer(onPool(pool, httpapi.Deps{
		Log: slog.New(slog.NewJSONHandler(logs, nil)), Store: store, LookupKey: testKey, Vault: testVault(t), Version: "test",
		Now: func() time.Time { return l.now },
	})))
	t.Cleanup(srv.Close)
	copied := *l
	copied.URL = srv.URL
	return &second{ledger: &copied, app: app, logs: logs}
}

// whileBlocked sends a request to s while the test holds an exclusive lock
// on table; once the request's database session waits for that lock, the
// test terminates the session (its own server's, found by its
// application_name) and returns the response.
func (s *second) whileBlocked(table string, send func() response) response {
	t := s.t
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	if _, err := tx.Exec(ctx, `LOCK TABLE `+table+` IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	got := make(chan response, 1)
	go func() { got <- send() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var pid int
		err := s.DB.Pool.QueryRow(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, s.app).Scan(&pid)
		if err == nil {
			var ok bool
			if err := s.DB.Pool.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
				t.Fatalf("terminate %d: %v %v", pid, ok, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the request never waited for the lock on %s", table)
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case r := <-got:
		return r
	case <-time.After(30 * time.Second):
		t.Fatal("no response after its database session was terminated")
		return response{}
	}
}

// logged returns the server's request log lines of the given status that
// carry an error.
func (s *second) logged(status int) []map[string]any {
	var out []map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(s.logs.String())))
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			s.t.Fatalf("log: %v", err)
		}
		if _, ok := m["error"]; ok && m["msg"] == "request" && m["status"] == float64(status) {
			out = append(out, m)
		}
	}
	return out
}

// checkUnavailable checks a 503 unavailable with Retry-After.
func checkUnavailable(t *testing.T, what string, r response) {
	t.Helper()
	if r.Status != http.StatusServiceUnavailable {
		t.Fatalf("%s: %d %s; want 503", what, r.Status, r.Body)
	}
	if p := r.Problem(t); p.Code != "unavailable" || p.Status != http.StatusServiceUnavailable {
		t.Errorf("%s: problem %+v; want code unavailable", what, p)
	}
	if got := r.Header.Get("Retry-After"); got != "2" {
		t.Errorf("%s: Retry-After %q, want 2", what, got)
	}
}

// A query or a command whose database session dies under it answers 503
// unavailable with Retry-After, not 500, and logs the cause; the same
// request afterwards succeeds.
func TestTransientDatabaseFailureAnswers503(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	s := startSecond(t, l)
	// No person needed: the query reads the persons table either way. Wait
	// for the runner to have created it.
	pid := "0123456789abcdef0123"
	for deadline := time.Now().Add(30 * time.Second); ; {
		r := s.Do("GET", "/v1/persons/"+pid, "clerk", "", nil)
		if r.Status == http.StatusNotFound {
			break
		}
		if r.Status != http.StatusServiceUnavailable || r.Problem(t).Code != "projections_not_ready" || time.Now().After(deadline) {
			t.Fatalf("get person: %d %s", r.Status, r.Body)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// A read-model query.
	r := s.whileBlocked("persons", func() response { return s.Do("GET", "/v1/persons/"+pid, "clerk", "", nil) })
	checkUnavailable(t, "query", r)
	lines := s.logged(http.StatusServiceUnavailable)
	if len(lines) != 1 || lines[0]["level"] != "WARN" || lines[0]["error"] == "" {
		t.Errorf("request log of the 503: %v; want one warning carrying the error", lines)
	}
	if r := s.Do("GET", "/v1/persons/"+pid, "clerk", "", nil); r.Status != http.StatusNotFound {
		t.Errorf("the same query afterwards: %d %s; want its answer, 404", r.Status, r.Body)
	}

	// A command: the event store's read of the stream dies.
	k := key()
	register := func() response {
		return s.Do("POST", "/v1/persons", "clerk", k, map[string]any{
			"id_number": idNumber(t, "1961-04-02", 502), "name": "吴敏", "township": "星子镇",
			"household": map[string]any{"class": "none", "dibao": false}, "registered_on": "2024-01-05",
		})
	}
	r = s.whileBlocked("streams", register)
	checkUnavailable(t, "command", r)
	if r := register(); r.Status != http.StatusCreated {
		t.Errorf("the same command with the same key afterwards: %d %s", r.Status, r.Body)
	}
	if got := len(s.logged(http.StatusInternalServerError)); got != 0 || len(s.logged(http.StatusServiceUnavailable)) != 2 {
		t.Errorf("%d requests answered 500, %d logged a 503 with its error; want 0 and 2", got, len(s.logged(http.StatusServiceUnavailable)))
	}
}

// With the database out of reach, authenticated requests and /readyz
// answer 503 with Retry-After.
func TestDatabaseOutOfReachAnswers503(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t) // only for its URL's settings
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", uint16(port)
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects lazily
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	store := pgstore.New(pool)
	t.Cleanup(store.Close)
	srv := httptest.NewServer(httpapi.NewServer(onPool(pool, httpapi.Deps{Log: slog.New(slog.DiscardHandler), Store: store, LookupKey: testKey, Vault: testVault(t)})))
	t.Cleanup(srv.Close)
	l := &ledger{t: t, URL: srv.URL, Tokens: map[httpapi.Role]string{httpapi.RoleClerk: "ldg_not-checkable-while-the-database-is-down"}}

	checkUnavailable(t, "query", l.Do("GET", "/v1/persons/0123456789abcdef0123", "clerk", "", nil))
	checkUnavailable(t, "command", l.Do("POST", "/v1/persons", "clerk", key(), map[string]any{"name": "x"}))
	r := l.Do("GET", "/readyz", "", "", nil)
	if r.Status != http.StatusServiceUnavailable || r.Problem(t).Code != "database_unavailable" || r.Header.Get("Retry-After") != "2" {
		t.Errorf("/readyz: %d %s, Retry-After %q; want 503 database_unavailable with Retry-After 2", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
}

// The 503s the read models answer while they are missing or behind carry
// Retry-After as well.
func TestReadModels503CarryRetryAfter(t *testing.T) {
	t.Parallel()
	db := pgtest.NewSchema(t) // migrated; no runner has created the read models
	store := pgstore.New(db.Pool)
	t.Cleanup(store.Close)
	srv := httptest.NewServer(httpapi.NewServer(onPool(db.Pool, httpapi.Deps{Log: slog.New(slog.DiscardHandler), Store: store, LookupKey: testKey, Vault: testVault(t)})))
	t.Cleanup(srv.Close)
	tok, err := postgres.Users{Pool: db.Pool}.Add(context.Background(), "clerk", "clerk")
	if err != nil {
		t.Fatal(err)
	}
	l := &ledger{t: t, URL: srv.URL, Tokens: map[httpapi.Role]string{httpapi.RoleClerk: tok}}
	for path, code := range map[string]string{
		"/v1/persons/0123456789abcdef0123":                    "projections_not_ready",
		"/v1/persons/0123456789abcdef0123?after=9000000000/1": "projections_behind",
	} {
		r := l.Do("GET", path, "clerk", "", nil)
		if r.Status != http.StatusServiceUnavailable || r.Problem(t).Code != code || r.Header.Get("Retry-After") != "2" {
			t.Errorf("GET %s: %d %s, Retry-After %q; want 503 %s with Retry-After 2", path, r.Status, r.Body, r.Header.Get("Retry-After"), code)
		}
	}
}
