package httpapi_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Duplicates in flight, in one process and across two; an owner that dies
// between its append and its answer; outcomes that are not stored.
// Faults are triggered when the test has seen the requests get that far
// (counted in flight, or inside the store), never after a delay.

// countingStore wraps an event store: it counts, per stream, the reads
// and the appends that reached the store, and lets a test hold or fail an
// append before it reaches the store or after it returned.
type countingStore struct {
	domain.EventStore

	mu      sync.Mutex
	reads   map[string]int
	appends map[string]int
	// before runs before an append reaches the store; an error fails the
	// append instead. after runs once the append returned successfully; an
	// error replaces its result. Set them before the first request.
	before func(ctx context.Context, stream string) error
	after  func(ctx context.Context, stream string, res domain.AppendResult) error
}

func (s *countingStore) ReadStream(ctx context.Context, stream string, dir domain.Direction, from uint64, limit int) ([]domain.RecordedEvent, error) {
	s.mu.Lock()
	s.reads[stream]++
	s.mu.Unlock()
	return s.EventStore.ReadStream(ctx, stream, dir, from, limit)
}

func (s *countingStore) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	if s.before != nil {
		if err := s.before(ctx, stream); err != nil {
			return domain.AppendResult{}, err
		}
	}
	s.mu.Lock()
	s.appends[stream]++
	s.mu.Unlock()
	res, err := s.EventStore.Append(ctx, stream, expected, events...)
	if err == nil && s.after != nil {
		if err := s.after(ctx, stream, res); err != nil {
			return domain.AppendResult{}, err
		}
	}
	return res, err
}

// counts returns how many reads and appends of stream reached the store.
func (s *countingStore) counts(stream string) (reads, appends int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[stream], s.appends[stream]
}

// instance is another ledger process on l's schema: a pool of its own
// whose sessions carry an application_name of their own (so a test can
// kill them), its own HTTP server and in-process state, and its store
// wrapped in a countingStore. Users and tokens are l's; l's projection
// runner keeps the read models.
type instance struct {
	*ledger // Do sends to this instance
	Handler http.Handler
	Pool    *pgxpool.Pool
	App     string // the application_name of its sessions
	Store   *countingStore
}

func (l *ledger) instance(t *testing.T, inFlightWait time.Duration) *instance {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(l.DB.URL)
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	app := "ledger-test-" + hex.EncodeToString(b[:])
	cfg.ConnConfig.RuntimeParams["application_name"] = app
	cfg.MaxConns = 8
	pool, err := postgres.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	raw := pgstore.New(pool, pgstore.WithPollInterval(20*time.Millisecond))
	t.Cleanup(raw.Close)
	store := &countingStore{EventStore: raw, reads: map[string]int{}, appends: map[string]int{}}
	h := httpapi.NewServer(onPool(pool, httpapi.Deps{
		Log: testLog(l.Logs), Store: store, LookupKey: testKey, Vault: testVault(t), Version: "test",
		Now: func() time.Time { return l.now }, InFlightWait: inFlightWait,
		Projections: func(ctx context.Context) ([]projections.Status, error) {
			return projections.Statuses(ctx, l.DB.Pool, l.Store, projections.All(), time.Now())
		},
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cp := *l
	cp.URL = srv.URL
	return &instance{ledger: &cp, Handler: h, Pool: pool, App: app, Store: store}
}

// waitUntil waits for cond, which the requests of the test make true; it
// fails the test if they have not after 30 seconds.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not after 30s: %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// received waits for a value the requests of the test send.
func received[T any](t *testing.T, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(30 * time.Second):
		t.Fatalf("not after 30s: %s", what)
		panic("unreachable")
	}
}

// holdFirstAppend makes the first append wait, before it reaches the
// store, until release is closed; entered is closed when it waits.
func holdFirstAppend() (before func(context.Context, string) error, entered, release chan struct{}) {
	entered, release = make(chan struct{}), make(chan struct{})
	var once sync.Once
	return func(ctx context.Context, _ string) error {
		first := false
		once.Do(func() { first = true })
		if !first {
			return nil
		}
		close(entered)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, entered, release
}

// sendAll sends n identical requests at once, request i to targets[i %
// len(targets)], and returns the answers.
func sendAll(n int, targets []*instance, path, key string, body any) []response {
	out := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { out[i] = targets[i%len(targets)].Do("POST", path, "clerk", key, body) })
	}
	wg.Wait()
	return out
}

// sameAnswers checks that every answer is the first one's (status, body,
// Location) and that exactly one ran the command: the others are marked
// replayed.
func sameAnswers(t *testing.T, got []response, status int) {
	t.Helper()
	ran := 0
	for i, r := range got {
		if r.Status != status || !bytes.Equal(r.Body, got[0].Body) || r.Header.Get("Location") != got[0].Header.Get("Location") {
			t.Errorf("answer %d: %d %q %s, want %d %q %s", i, r.Status, r.Header.Get("Location"), r.Body, status, got[0].Header.Get("Location"), got[0].Body)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("answer %d: Content-Type %q", i, ct)
		}
		switch r.Header.Get("Idempotent-Replayed") {
		case "":
			ran++
		case "true":
		default:
			t.Errorf("answer %d: Idempotent-Replayed %q", i, r.Header.Get("Idempotent-Replayed"))
		}
	}
	if ran != 1 {
		t.Errorf("%d answers are not marked replayed, want exactly 1 (the request that ran)", ran)
	}
}

// 50 identical requests in flight in one process: one runs the command,
// holding one database connection (the lock session) while it waits in
// the store; the 49 others wait for its answer, holding none, and get it.
func TestIdempotencyDuplicatesInFlight(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	pid := registerWith(t, l, idNumber(t, "1975-01-02", 52), "孙立", false)
	cases := []struct {
		name, path string
		body       any
		status     int
		stream     string
	}{
		{"register", "/v1/persons", registration(idNumber(t, "1976-02-03", 53), "冯雪", false), http.StatusCreated, ""},
		{"move", "/v1/persons/" + pid + "/move", map[string]any{"township": "白鹿镇", "effective_on": "2024-06-01"}, http.StatusOK, "person-" + pid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := l.instance(t, 0)
			before, entered, release := holdFirstAppend()
			a.Store.before = before
			if r := a.Do("GET", "/v1/projections", "clerk", "", nil); r.Status != http.StatusOK { // the token is known now
				t.Fatalf("GET /v1/projections: %d %s", r.Status, r.Body)
			}
			idle := a.Pool.Stat().AcquiredConns()
			k := uniqueKey()
			n := eventCount(t, l)

			var got []response
			done := make(chan struct{})
			go func() { defer close(done); got = sendAll(50, []*instance{a}, tc.path, k, tc.body) }()
			<-entered
			waitUntil(t, "50 requests in flight", func() bool { return httpapi.InFlight(a.Handler, "clerk", k) == 50 })
			if held := a.Pool.Stat().AcquiredConns() - idle; held != 1 {
				t.Errorf("50 requests in flight hold %d connections, want 1", held)
			}
			close(release)
			<-done

			sameAnswers(t, got, tc.status)
			stream := tc.stream
			if stream == "" {
				stream = "person-" + got[0].JSON(t)["person_id"].(string)
			}
			if reads, appends := a.Store.counts(stream); reads != 1 || appends != 1 {
				t.Errorf("the command ran %d times (appended %d times), want once", reads, appends)
			}
			if added := eventCount(t, l) - n; added != 1 {
				t.Errorf("appended %d events, want 1", added)
			}
		})
	}
}

// The same across two processes on one database: the request that owns the
// key runs the command; the other process's requests wait for the owner's
// stored answer.
func TestIdempotencyDuplicatesAcrossInstances(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	a, b := l.instance(t, 0), l.instance(t, 0)
	before, entered, release := holdFirstAppend()
	a.Store.before, b.Store.before = before, before // whichever owns the key is held
	k := uniqueKey()
	n := eventCount(t, l)

	var got []response
	done := make(chan struct{})
	go func() {
		defer close(done)
		got = sendAll(50, []*instance{a, b}, "/v1/persons", k, registration(idNumber(t, "1977-03-04", 54), "蒋涛", false))
	}()
	<-entered
	waitUntil(t, "50 requests in flight in the two processes", func() bool {
		return httpapi.InFlight(a.Handler, "clerk", k)+httpapi.InFlight(b.Handler, "clerk", k) == 50
	})
	close(release)
	<-done

	sameAnswers(t, got, http.StatusCreated)
	stream := "person-" + got[0].JSON(t)["person_id"].(string)
	readsA, appendsA := a.Store.counts(stream)
	readsB, appendsB := b.Store.counts(stream)
	if readsA+readsB != 1 || appendsA+appendsB != 1 {
		t.Errorf("the command ran %d+%d times (appended %d+%d times), want once", readsA, readsB, appendsA, appendsB)
	}
	if added := eventCount(t, l) - n; added != 1 {
		t.Errorf("appended %d events, want 1", added)
	}
}

var errInstanceDied = errors.New("test: the instance died before it answered")

// The process running a command dies after its append and before it
// stores the answer: its sessions end, and its lock on the key with them.
// A retry in another process runs the command again, which recognises its
// command ID and answers with the first result — appending nothing — and
// that answer is stored.
func TestIdempotencyOwnerDiesBetweenAppendAndAnswer(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	a, b := l.instance(t, 0), l.instance(t, 0)
	appended := make(chan domain.AppendResult, 1)
	release := make(chan struct{})
	a.Store.after = func(ctx context.Context, _ string, res domain.AppendResult) error {
		appended <- res
		<-release
		return errInstanceDied
	}
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free) // before a's server closes, which waits for the held request

	k := uniqueKey()
	body := registration(idNumber(t, "1978-04-05", 55), "沈梅", false)
	n := eventCount(t, l)
	firstDone := make(chan response, 1)
	go func() { firstDone <- a.Do("POST", "/v1/persons", "clerk", k, body) }()
	res := received(t, "the first request's append", appended)

	kill(t, l.DB.Pool, a.App)
	idem := postgres.NewIdempotency(l.DB.Pool)
	if st, found, err := idem.Lookup(context.Background(), "clerk", k); err != nil || !found || st.Status != 0 {
		t.Fatalf("after the owner died: %+v %v %v, want the claim without an outcome", st, found, err)
	}

	retry := mustDo(t, b.ledger, http.StatusCreated, "POST", "/v1/persons", "clerk", k, body)
	var answer struct {
		PersonID string `json:"person_id"`
		Position string `json:"position"`
		Revision uint64 `json:"revision"`
	}
	if err := json.Unmarshal(retry.Body, &answer); err != nil {
		t.Fatal(err)
	}
	if answer.Position != res.Position.String() || answer.Revision != res.NextExpected {
		t.Errorf("retry answered position %s revision %d, want the first append's %s %d", answer.Position, answer.Revision, res.Position, res.NextExpected)
	}
	stream := "person-" + answer.PersonID
	evs, err := l.Store.ReadStream(context.Background(), stream, domain.Forwards, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Position != res.Position || evs[0].Revision != answer.Revision {
		t.Errorf("%s holds %d events, want the first append's one at %s", stream, len(evs), res.Position)
	}
	if got := retry.Header.Get("Location"); got != "/v1/persons/"+answer.PersonID {
		t.Errorf("Location %q", got)
	}
	if _, appends := b.Store.counts(stream); appends != 0 {
		t.Errorf("the retry appended %d times; the command should have recognised its first run", appends)
	}
	if added := eventCount(t, l) - n; added != 1 {
		t.Errorf("appended %d events, want 1", added)
	}

	// The dead process's request ends without storing anything; the
	// retry's answer is the key's.
	free()
	if first := received(t, "the dead instance's answer", firstDone); first.Status == http.StatusCreated {
		t.Errorf("the instance whose append failed after it died answered 201")
	}
	for _, in := range []*instance{a, b} {
		r := mustDo(t, in.ledger, http.StatusCreated, "POST", "/v1/persons", "clerk", k, body)
		if !bytes.Equal(r.Body, retry.Body) || r.Header.Get("Idempotent-Replayed") != "true" || r.Header.Get("Location") != retry.Header.Get("Location") {
			t.Errorf("later retry: %v %s, want the stored %s", r.Header, r.Body, retry.Body)
		}
	}
}

// kill terminates every session of the application app, as if its process
// had died, and returns once they have ended.
func kill(t *testing.T, pool *pgxpool.Pool, app string) {
	t.Helper()
	var n, ended int
	err := pool.QueryRow(context.Background(),
		`SELECT count(*), count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity WHERE application_name = $1`,
		app).Scan(&n, &ended)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || ended != n {
		t.Fatalf("%d of %d sessions of %s ended", ended, n, app)
	}
}

// Outcomes a retry may change are not stored: the key stays bound to the
// request, and the next retry runs the command again.
func TestIdempotencyTransientOutcomesAreNotStored(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	cases := []struct {
		name   string
		err    error
		times  int // appends to fail
		status int
		code   string
	}{
		{"unavailable", fmt.Errorf("append: %w", domain.ErrUnavailable), 1, http.StatusServiceUnavailable, ""},
		{"lost race", fmt.Errorf("append: %w", domain.ErrConcurrency), app.DefaultPolicy.Conflicts + 1, http.StatusConflict, "concurrency_conflict"}, // every attempt the retry policy allows loses
		{"unexpected", errors.New("test: the disk is on fire"), 1, http.StatusInternalServerError, "internal"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := l.instance(t, 0)
			var mu sync.Mutex
			failures := tc.times
			a.Store.before = func(context.Context, string) error {
				mu.Lock()
				defer mu.Unlock()
				if failures == 0 {
					return nil
				}
				failures--
				return tc.err
			}
			k := uniqueKey()
			body := registration(idNumber(t, "1979-05-06", 56+i), "韩冰", false)
			failed := a.Do("POST", "/v1/persons", "clerk", k, body)
			if failed.Status != tc.status {
				t.Fatalf("first attempt: %d %s, want %d", failed.Status, failed.Body, tc.status)
			}
			if tc.code != "" && failed.Problem(t).Code != tc.code {
				t.Errorf("code %q, want %q", failed.Problem(t).Code, tc.code)
			}
			if tc.status == http.StatusServiceUnavailable && failed.Header.Get("Retry-After") == "" {
				t.Errorf("a 503 without Retry-After")
			}
			st, found, err := postgres.NewIdempotency(l.DB.Pool).Lookup(context.Background(), "clerk", k)
			if err != nil || !found || st.Status != 0 {
				t.Fatalf("after a %d: %+v %v %v, want the claim without an outcome", tc.status, st, found, err)
			}
			// Still bound to its request.
			if r := a.Do("POST", "/v1/persons", "clerk", k, registration(idNumber(t, "1979-05-06", 56+i), "韩冰冰", false)); r.Status != http.StatusConflict || r.Problem(t).Code != "idempotency_key_reused" {
				t.Errorf("another body with the key: %d %s, want 409 idempotency_key_reused", r.Status, r.Body)
			}

			retry := mustDo(t, a.ledger, http.StatusCreated, "POST", "/v1/persons", "clerk", k, body)
			if retry.Header.Get("Idempotent-Replayed") != "" {
				t.Errorf("the retry after a %d is marked replayed: it should have run", tc.status)
			}
			if _, appends := a.Store.counts("person-" + retry.JSON(t)["person_id"].(string)); appends != 1 {
				t.Errorf("%d appends reached the store, want 1", appends)
			}
			again := mustDo(t, a.ledger, http.StatusCreated, "POST", "/v1/persons", "clerk", k, body)
			if !bytes.Equal(again.Body, retry.Body) || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("after the success: %v %s, want the stored %s", again.Header, again.Body, retry.Body)
			}
		})
	}
}

// A request whose client leaves mid-command stores nothing, and does not
// hand its cancellation to the duplicate waiting for it: that one runs the
// command itself.
func TestIdempotencyCancelledRequestIsNotStored(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	a := l.instance(t, 0)
	before, entered, _ := holdFirstAppend() // never released: the client leaves
	a.Store.before = before
	k := uniqueKey()
	body := registration(idNumber(t, "1980-06-07", 60), "杨帆", false)

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := send(ctx, a.ledger, "/v1/persons", k, body)
		errc <- err
	}()
	<-entered
	dup := make(chan response, 1)
	go func() { dup <- a.Do("POST", "/v1/persons", "clerk", k, body) }()
	waitUntil(t, "the duplicate waiting", func() bool { return httpapi.InFlight(a.Handler, "clerk", k) == 2 })
	cancel()
	if err := received(t, "the cancelled request", errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled request: %v", err)
	}

	took := received(t, "the duplicate's answer", dup)
	if took.Status != http.StatusCreated || took.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("the duplicate of a cancelled request: %d %v %s, want a 201 of its own", took.Status, took.Header, took.Body)
	}
	stream := "person-" + took.JSON(t)["person_id"].(string)
	if _, appends := a.Store.counts(stream); appends != 1 {
		t.Errorf("%d appends reached the store, want 1", appends)
	}
	retry := mustDo(t, a.ledger, http.StatusCreated, "POST", "/v1/persons", "clerk", k, body)
	if !bytes.Equal(retry.Body, took.Body) || retry.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %v %s, want %s replayed", retry.Header, retry.Body, took.Body)
	}
}

// send posts body as clerk with key under ctx.
func send(ctx context.Context, l *ledger, path, key string, body any) (response, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return response{}, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", l.URL+path, bytes.NewReader(b))
	if err != nil {
		return response{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+l.Tokens["clerk"])
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{Status: resp.StatusCode, Header: resp.Header, Body: data}, err
}

// A duplicate waits at most the in-flight wait, in the owner's process or
// another, then answers 503 command_in_progress with Retry-After; the
// same key with another body is refused at once, not made to wait.
func TestIdempotencyWaitIsBounded(t *testing.T) {
	t.Parallel()
	l := start(t, "postgres")
	const wait = 300 * time.Millisecond
	a, b := l.instance(t, wait), l.instance(t, wait)
	before, entered, release := holdFirstAppend()
	a.Store.before = before
	var releaseOnce sync.Once
	free := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(free)
	k := uniqueKey()
	body := registration(idNumber(t, "1981-07-08", 61), "朱琳", false)
	firstDone := make(chan response, 1)
	go func() { firstDone <- a.Do("POST", "/v1/persons", "clerk", k, body) }()
	<-entered

	for name, in := range map[string]*instance{"same process": a, "other process": b} {
		asked := time.Now()
		r := in.Do("POST", "/v1/persons", "clerk", k, body)
		if waited := time.Since(asked); waited > 10*time.Second {
			t.Errorf("%s: a duplicate waited %v with an in-flight wait of %v", name, waited, wait)
		}
		if r.Status != http.StatusServiceUnavailable || r.Problem(t).Code != "command_in_progress" || r.Header.Get("Retry-After") == "" {
			t.Errorf("%s: duplicate of a request in flight: %d %v %s, want 503 command_in_progress with Retry-After", name, r.Status, r.Header, r.Body)
		}
		other := registration(idNumber(t, "1981-07-08", 62), "朱琳", false)
		if r := in.Do("POST", "/v1/persons", "clerk", k, other); r.Status != http.StatusConflict || r.Problem(t).Code != "idempotency_key_reused" {
			t.Errorf("%s: another body with the key in flight: %d %s, want 409 idempotency_key_reused", name, r.Status, r.Body)
		}
	}

	free()
	first := received(t, "the first request's answer", firstDone)
	if first.Status != http.StatusCreated {
		t.Fatalf("first request: %d %s", first.Status, first.Body)
	}
	r := mustDo(t, b.ledger, http.StatusCreated, "POST", "/v1/persons", "clerk", k, body)
	if !bytes.Equal(r.Body, first.Body) || r.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("after the first answered: %v %s, want %s replayed", r.Header, r.Body, first.Body)
	}
}
