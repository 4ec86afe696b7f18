package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

var testKey = domain.LookupKey("http-test-lookup-key-0123456789abcdef")

// ledger is a running API for a test: the real server on a loopback port,
// a real PostgreSQL schema, an event store, and the projection runner.
type ledger struct {
	t      *testing.T
	URL    string
	DB     *pgtest.Schema
	Store  domain.EventStore
	Tokens map[httpapi.Role]string // one user per role, named after it
	Logs   *syncBuffer             // everything the server logged
	now    time.Time
}

// storeKind selects the event store: "postgres" or "esdb" (the real client
// against the in-process protocol server).
func start(t *testing.T, storeKind string) *ledger {
	t.Helper()
	db := pgtest.NewSchema(t)
	quiet := slog.New(slog.DiscardHandler)
	var store domain.EventStore
	switch storeKind {
	case "postgres":
		s := pgstore.New(db.Pool, pgstore.WithPollInterval(20*time.Millisecond))
		t.Cleanup(s.Close)
		store = s
	case "esdb":
		store = esdbtest.NewLedger(t).Open(t, quiet, esdbtest.Keys(db.Pool))
	default:
		t.Fatalf("unknown store %q", storeKind)
	}
	l := &ledger{t: t, DB: db, Store: store, Tokens: map[httpapi.Role]string{}, Logs: &syncBuffer{}, now: time.Date(2025, 3, 10, 9, 0, 0, 0, time.UTC)}
	ctx, cancel := context.WithCancel(context.Background())
	runner := &projections.Runner{Pool: db.Pool, Store: store, Projections: projections.All(), Log: quiet, MaxWait: 10 * time.Millisecond}
	done := make(chan struct{})
	go func() { defer close(done); _ = runner.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	h := httpapi.NewServer(onPool(db.Pool, httpapi.Deps{
		Log: testLog(l.Logs), Store: store, LookupKey: testKey, Vault: testVault(t), Version: "test",
		Now: func() time.Time { return l.now },
		Projections: func(ctx context.Context) ([]projections.Status, error) {
			return projections.Statuses(ctx, db.Pool, store, projections.All(), time.Now())
		},
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { noPersonalNumbers(t, l.Logs.String()) })
	l.URL = srv.URL
	for _, role := range httpapi.Roles {
		tok, err := postgres.Users{Pool: db.Pool}.Add(context.Background(), string(role), string(role))
		if err != nil {
			t.Fatal(err)
		}
		l.Tokens[role] = tok
	}
	// A second clerk and approver, for maker-checker.
	for _, extra := range []struct{ name, role string }{{"clerk2", "clerk"}, {"approver2", "approver"}} {
		tok, err := postgres.Users{Pool: db.Pool}.Add(context.Background(), extra.name, extra.role)
		if err != nil {
			t.Fatal(err)
		}
		l.Tokens[httpapi.Role(extra.name)] = tok
	}
	return l
}

// onPool wires d's ports to pool as cmd/ledger does: the read models (over
// d.Store), the idempotency keys, the users and the readiness ping.
func onPool(pool *pgxpool.Pool, d httpapi.Deps) httpapi.Deps {
	d.ReadModels = projections.ReadModels{Q: pool, Store: d.Store}
	d.Idempotency = postgres.NewIdempotency(pool)
	d.Users = postgres.Users{Pool: pool}
	d.Database = pool
	return d
}

// response is a decoded HTTP response.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r response) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// Problem returns the problem document of an error response.
func (r response) Problem(t *testing.T) httpapi.Problem {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json; body %s", ct, r.Body)
	}
	var p httpapi.Problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("problem: %v", err)
	}
	return p
}

// Do sends a request as the user of role (a Role or an extra user name; ""
// for none). body may be nil, a string (sent raw) or a value (sent as JSON).
// key is the Idempotency-Key ("" for none).
func (l *ledger) Do(method, path, as string, key string, body any) response {
	l.t.Helper()
	var rd io.Reader
	contentType := "application/json"
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd, contentType = bytes.NewReader(b.Data), b.ContentType
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			l.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, l.URL+path, rd)
	if err != nil {
		l.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if as != "" {
		tok, ok := l.Tokens[httpapi.Role(as)]
		if !ok {
			l.t.Fatalf("no user %q", as)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

var keys atomic.Int64

// key returns a fresh idempotency key.
func key() string { return fmt.Sprintf("key-%d-%d", time.Now().UnixNano(), keys.Add(1)) }

// EventCount counts the events in the store (the whole log). On the
// PostgreSQL store it waits until the read horizon (held back by any other
// transaction in flight, also other tests') shows every committed event.
func (l *ledger) EventCount() int {
	l.t.Helper()
	if _, ok := l.Store.(*pgstore.Store); !ok {
		return l.readCount()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var committed int
		if err := l.DB.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&committed); err != nil {
			l.t.Fatal(err)
		}
		if n := l.readCount(); n == committed || time.Now().After(deadline) {
			return n
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (l *ledger) readCount() int {
	l.t.Helper()
	n := 0
	pos := domain.Start
	for {
		evs, err := l.Store.ReadAll(context.Background(), pos, 1000, domain.Filter{})
		if err != nil {
			l.t.Fatal(err)
		}
		n += len(evs)
		if len(evs) < 1000 {
			return n
		}
		pos = evs[len(evs)-1].Position
	}
}

// idNumber builds a valid resident ID number for tests.
func idNumber(t *testing.T, birth string, seq int) string {
	t.Helper()
	id, err := domain.NewResidentID("360429", domain.MustDate(birth), seq)
	if err != nil {
		t.Fatal(err)
	}
	return id.Number()
}

// register registers a person as a clerk and returns the person ID.
func (l *ledger) register(idNum, name, township string, dibao bool) string {
	l.t.Helper()
	r := l.Do("POST", "/v1/persons", "clerk", key(), map[string]any{
		"id_number": idNum, "name": name, "township": township,
		"household": map[string]any{"class": "none", "dibao": dibao}, "registered_on": "2024-01-05",
	})
	if r.Status != http.StatusCreated {
		l.t.Fatalf("register: %d %s", r.Status, r.Body)
	}
	return r.JSON(l.t)["person_id"].(string)
}

// testLog logs to buf, and to stderr as well when LEDGER_TEST_LOG is set.
func testLog(buf *syncBuffer) *slog.Logger {
	var w io.Writer = buf
	if os.Getenv("LEDGER_TEST_LOG") != "" {
		w = io.MultiWriter(buf, os.Stderr)
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// syncBuffer is a bytes.Buffer safe for concurrent writers and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testVault seals bank account numbers in tests.
func testVault(t *testing.T) *vault.Vault {
	v, err := vault.New("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// rawBody is a request body sent as is, with its content type.
type rawBody struct {
	ContentType string
	Data        []byte
}

// longNumber is a run of 15 to 19 digits standing alone, as ID numbers
// (18, a first-generation one 15, the last character possibly X) and bank
// account numbers (16 to 19) are; the digits inside hex hashes and person
// IDs do not stand alone, and a longer run (an all-digit SHA-256 or
// person ID of a test) is neither.
var longNumber = regexp.MustCompile(`(^|[^0-9A-Za-z])([0-9]{15,19}|[0-9]{17}[Xx])([^0-9A-Za-z]|$)`)

// noPersonalNumbers fails the test if the server's log holds anything
// that looks like a full ID or bank account number: every log line of
// every test that runs the server is checked.
func noPersonalNumbers(t *testing.T, logs string) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		if m := longNumber.FindStringSubmatch(line); m != nil {
			t.Errorf("the server logged what looks like an ID or account number (%d digits): %s", len(m[2]), line)
		}
	}
}
