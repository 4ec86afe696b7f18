package esdbstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	esdbstore "github.com/lushan-dpf/ledger/adapters/esdb"
	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/storetest"
	"github.com/lushan-dpf/ledger/domain"
)

var quiet = slog.New(slog.DiscardHandler)

// counting is a slog handler that counts records by message.
type counting struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counting) Enabled(context.Context, slog.Level) bool { return true }
func (c *counting) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *counting) WithGroup(string) slog.Handler            { return c }
func (c *counting) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[r.Message]++
	return nil
}

func (c *counting) count(msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[msg]
}

func open(t *testing.T, conn string) *esdbstore.Store {
	t.Helper()
	return openIn(t, conn, "")
}

// The contract suite, over the real client and the real gRPC protocol,
// against the in-process test server.
func TestContract(t *testing.T) {
	srv := esdbtest.Start(t)
	s := open(t, srv.ConnectionString())
	storetest.Run(t, storetest.Harness{New: func(t *testing.T) domain.EventStore { return s }})
}

func TestOpenRejectsABadConnectionString(t *testing.T) {
	_, err := esdbstore.Open("esdb://", quiet)
	var fe *domain.FieldError
	if !errors.As(err, &fe) || fe.Field != "eventstore" {
		t.Fatalf("err = %v, want a field error on eventstore", err)
	}
}

func ev(n int) domain.EventData {
	return domain.EventData{
		ID: uuid.New(), Type: "test.Counted.v1",
		Data: fmt.Appendf(nil, `{"n":%d}`, n), Metadata: []byte(`{"actor":"test"}`),
	}
}

func number(t *testing.T, e domain.RecordedEvent) int {
	var n int
	if _, err := fmt.Sscanf(string(e.Data), `{"n":%d}`, &n); err != nil {
		t.Fatalf("event data %s: %v", e.Data, err)
	}
	return n
}

// recvEvent receives the next event (skipping CaughtUp, which it reports).
func recv(t *testing.T, sub domain.Subscription, timeout time.Duration) (domain.SubscriptionMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return sub.Recv(ctx)
}

// The real client's subscription from the start after 10,000 appended
// events delivers all of them in order, then caught-up, then a live event.
func TestSubscribeFromStartAfterTenThousandEvents(t *testing.T) {
	srv := esdbtest.Start(t)
	s := open(t, srv.ConnectionString())
	ctx := context.Background()
	const total = 10_000
	for i := 0; i < total; i += 100 {
		batch := make([]domain.EventData, 100)
		for j := range batch {
			batch[j] = ev(i + j)
		}
		exp := domain.NoStream()
		if i > 0 {
			exp = domain.Exact(uint64(i - 1))
		}
		if _, err := s.Append(ctx, "count-1", exp, batch...); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := s.SubscribeAll(ctx, domain.Start, domain.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for i := range total {
		m, err := recv(t, sub, 10*time.Second)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if m.Event == nil {
			t.Fatalf("message %d is not an event (caught up too early?)", i)
		}
		if got := number(t, *m.Event); got != i {
			t.Fatalf("event %d carries %d", i, got)
		}
	}
	m, err := recv(t, sub, 10*time.Second)
	if err != nil || !m.CaughtUp {
		t.Fatalf("after %d events: %+v, %v; want caught-up", total, m, err)
	}
	if _, err := s.Append(ctx, "count-1", domain.Exact(total-1), ev(total)); err != nil {
		t.Fatal(err)
	}
	m, err = recv(t, sub, 10*time.Second)
	if err != nil || m.Event == nil || number(t, *m.Event) != total {
		t.Fatalf("live event: %+v, %v", m, err)
	}
}

// collect receives events until it has want of them or times out.
func collect(t *testing.T, sub domain.Subscription, want int, timeout time.Duration) []domain.RecordedEvent {
	t.Helper()
	var out []domain.RecordedEvent
	deadline := time.Now().Add(timeout)
	for len(out) < want {
		m, err := recv(t, sub, time.Until(deadline))
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), want, err)
		}
		if m.Event != nil {
			out = append(out, *m.Event)
		}
	}
	return out
}

// Killing the server mid-subscription and restarting it loses and
// duplicates nothing: the adapter re-subscribes from the last position it
// delivered.
func TestServerRestartMidSubscriptionLosesAndDuplicatesNothing(t *testing.T) {
	srv := esdbtest.Start(t)
	logs := &counting{n: map[string]int{}}
	s, err := esdbstore.Open(srv.ConnectionString(), slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	appendN := func(from, n int) {
		for i := from; i < from+n; i++ {
			for {
				_, err := s.Append(ctx, fmt.Sprintf("kill-%d", i%5), domain.AnyRevision(), ev(i))
				if err == nil {
					break
				}
				time.Sleep(50 * time.Millisecond) // the server is down: retry
			}
		}
	}
	appendN(0, 300)
	sub, err := s.SubscribeAll(ctx, domain.Start, domain.Filter{StreamPrefixes: []string{"kill-"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := collect(t, sub, 150, 20*time.Second)

	srv.Stop()
	time.Sleep(200 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	appendN(300, 200)
	// Receive up to 500 first, so the subscription is re-established and
	// live when it is dropped: a drop while it is still reconnecting would
	// hit nothing.
	got = append(got, collect(t, sub, 500-len(got), 60*time.Second)...)
	srv.DropSubscriptions() // and a drop while the server stays up
	appendN(500, 100)
	got = append(got, collect(t, sub, 600-len(got), 60*time.Second)...)

	// Nothing more arrives: no duplicates trailing behind.
	if m, err := recv(t, sub, 500*time.Millisecond); err == nil && m.Event != nil {
		t.Fatalf("extra event after all 600: %d", number(t, *m.Event))
	}
	nums := make([]int, len(got))
	for i, e := range got {
		nums[i] = number(t, e)
	}
	want := make([]int, 600)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(nums, want) {
		t.Fatalf("received %d events, not 0..599 once each in order: first mismatch at %d", len(nums), firstMismatch(nums, want))
	}
	if n := logs.count("eventstoredb subscription dropped; re-subscribing"); n < 2 {
		t.Fatalf("the subscription was re-established %d times, want at least 2 (stop and drop)", n)
	}
}

func firstMismatch(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// Appends in flight while the server stops either succeed once or fail
// with an error the caller retries with the same event IDs: afterwards
// every event is in the stream exactly once.
func TestAppendsInFlightDuringRestartAreRetriedSafely(t *testing.T) {
	srv := esdbtest.Start(t)
	s := open(t, srv.ConnectionString())
	ctx := context.Background()
	const writers, each = 4, 50
	var wg sync.WaitGroup
	var mu sync.Mutex
	failures := 0
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("flight-%d", w)
			exp := domain.NoStream()
			for i := range each {
				e := ev(w*1000 + i) // same ID on every retry
				for {
					res, err := s.Append(ctx, stream, exp, e)
					if err == nil {
						exp = domain.Exact(res.NextExpected)
						break
					}
					mu.Lock()
					failures++
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(30 * time.Millisecond)
	srv.Stop()
	time.Sleep(300 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if failures == 0 {
		t.Log("no append failed during the restart (the window was missed); the test still checks the streams")
	}
	for w := range writers {
		evs, err := s.ReadStream(ctx, fmt.Sprintf("flight-%d", w), domain.Forwards, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != each {
			t.Fatalf("writer %d: %d events in the stream, want %d exactly once", w, len(evs), each)
		}
		for i, e := range evs {
			if number(t, e) != w*1000+i {
				t.Fatalf("writer %d: event %d carries %d", w, i, number(t, e))
			}
		}
	}
}

// After an outage longer than the client's rediscovery budget the official
// client refuses every later call for good; the store replaces it, so the
// ledger works again once the server is back.
func TestStoreRecoversAfterTheClientGivesUp(t *testing.T) {
	srv := esdbtest.Start(t)
	conn := fmt.Sprintf("esdb://%s?tls=false&discoveryInterval=20&maxDiscoverAttempts=2", srv.Addr())
	s := open(t, conn)
	ctx := context.Background()
	if _, err := s.Append(ctx, "outage-1", domain.NoStream(), ev(0)); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	for i := range 3 { // exhaust the client's budget while the server is down
		if _, err := s.Append(ctx, "outage-1", domain.Exact(0), ev(100+i)); err == nil {
			t.Fatal("append succeeded while the server was down")
		}
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	e := ev(1)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Append(ctx, "outage-1", domain.Exact(0), e)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the store never recovered after the outage: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs, err := s.ReadStream(ctx, "outage-1", domain.Forwards, 0, 0)
	if err != nil || len(evs) != 2 {
		t.Fatalf("after recovery: %d events, %v", len(evs), err)
	}
}

// While the server is down every call fails with an error that matches
// domain.ErrUnavailable (the HTTP API answers 503, the projection runner
// waits) and still carries the client's error; deterministic failures and
// the caller's own cancellation do not.
func TestServerDownIsUnavailable(t *testing.T) {
	srv := esdbtest.Start(t)
	s := open(t, fmt.Sprintf("esdb://%s?tls=false&discoveryInterval=20&maxDiscoverAttempts=2", srv.Addr()))
	ctx := context.Background()
	first, err := s.Append(ctx, "down-1", domain.NoStream(), ev(0))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Append(ctx, "down-1", domain.NoStream(), ev(1))
	if !errors.Is(err, domain.ErrConcurrency) || errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("append at a wrong revision: %v; want a concurrency error, not unavailable", err)
	}
	srv.Stop()
	_, appendErr := s.Append(ctx, "down-1", domain.Exact(first.NextExpected), ev(2))
	_, readErr := s.ReadStream(ctx, "down-1", domain.Forwards, 0, 0)
	_, allErr := s.ReadAll(ctx, domain.Start, 10, domain.Filter{})
	for name, err := range map[string]error{"append": appendErr, "read stream": readErr, "read $all": allErr} {
		var ce *esdb.Error
		if !errors.Is(err, domain.ErrUnavailable) || !errors.As(err, &ce) {
			t.Errorf("%s with the server down: %v; want domain.ErrUnavailable wrapping the client's *esdb.Error", name, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.ReadStream(cancelled, "down-1", domain.Forwards, 0, 0); err == nil || errors.Is(err, domain.ErrUnavailable) {
		t.Errorf("read with the caller's context cancelled: %v; want an error that is not unavailable", err)
	}
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
}

// Head is the last event of $all that is not a system event: EventStoreDB
// writes its own ($-types, $-streams) at the end of $all all the time.
func TestHeadSkipsSystemEvents(t *testing.T) {
	srv := esdbtest.Start(t)
	s := open(t, srv.ConnectionString())
	ctx := context.Background()
	if h, err := s.Head(ctx); err != nil || h != domain.Start {
		t.Fatalf("Head of an empty log = %s, %v; want the start", h, err)
	}
	res, err := s.Append(ctx, "head-1", domain.NoStream(), ev(1))
	if err != nil {
		t.Fatal(err)
	}
	// More system events after it than one page of the backwards read.
	for i := range 150 {
		sys := ev(100 + i)
		sys.Type = "$test.Marker"
		if _, err := s.Append(ctx, "head-sys", domain.AnyRevision(), sys); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := s.Head(ctx); err != nil || h != res.Position {
		t.Fatalf("Head = %s, %v; want the last ledger event's %s", h, err, res.Position)
	}
	// Only system events: the log is empty as far as the ledger goes.
	empty := open(t, esdbtest.Start(t).ConnectionString())
	sys := ev(0)
	sys.Type = "$test.Marker"
	if _, err := empty.Append(ctx, "head-sys", domain.NoStream(), sys); err != nil {
		t.Fatal(err)
	}
	if h, err := empty.Head(ctx); err != nil || h != domain.Start {
		t.Fatalf("Head of a log of system events = %s, %v; want the start", h, err)
	}
}

// An append over the server's maximum append size fails with an error
// that says so in the ledger's words, not the client's "[ErrorCode 0]".
func TestAppendTooLargeIsNamed(t *testing.T) {
	srv := esdbtest.Start(t)
	s := open(t, srv.ConnectionString())
	big := func(i int) domain.EventData {
		e := ev(i)
		e.Data = []byte(`{"x":"` + strings.Repeat("a", 600<<10) + `"}`)
		return e
	}
	_, err := s.Append(context.Background(), "too-large", domain.NoStream(), big(1), big(2))
	var tl *esdbstore.AppendTooLargeError
	if !errors.As(err, &tl) || tl.Events != 2 || tl.Bytes < 1200<<10 || strings.Contains(err.Error(), "ErrorCode") {
		t.Fatalf("append of 1.2 MiB: %v", err)
	}
	if _, err := s.ReadStream(context.Background(), "too-large", domain.Forwards, 0, 0); !errors.Is(err, domain.ErrStreamNotFound) {
		t.Fatalf("the refused append wrote something: %v", err)
	}
}
