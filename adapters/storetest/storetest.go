// Package storetest is the contract suite for the event-store port. Every
// adapter runs the same cases with one call:
//
//	func TestContract(t *testing.T) { storetest.Run(t, storetest.Harness{New: ...}) }
//
// Tests name their streams with a per-test prefix and filter global reads
// by it, so the suite also runs against a shared, non-empty server (a real
// EventStoreDB) without seeing other tests' events.
//
// A store whose AppendMany is one transaction (PostgreSQL) also runs
// RunBulkAtomic: a refused bulk append writes nothing at all.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/lushan-dpf/ledger/domain"
)

// Harness tells the suite how to get a store.
type Harness struct {
	// New returns a store for one test. It may be shared between tests.
	New func(t *testing.T) domain.EventStore

	// HoldAppend, when set, starts appending ev to stream in a transaction
	// that stays open until commit is called. The gap test uses it to
	// commit a later append while an earlier one is still in flight.
	// Stores without transactions spanning calls (EventStoreDB) leave it nil.
	HoldAppend func(t *testing.T, s domain.EventStore, stream string, ev domain.EventData) (commit func() error)

	// Fresh is true when New returns a store whose global log is empty (a
	// store per test), so the suite may check Head against the whole log.
	Fresh bool
}

// Run runs the whole suite.
func Run(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"AppendAndReadBack", testAppendAndReadBack},
		{"ExpectedRevision", testExpectedRevision},
		{"ConcurrentAppendsOneWins", testConcurrentAppendsOneWins},
		{"ConcurrentStreamCreationOneWins", testConcurrentStreamCreation},
		{"IdempotentRetry", testIdempotentRetry},
		{"ReadStreamDirectionsAndLimits", testReadStream},
		{"ReadMissingStream", testReadMissingStream},
		{"GlobalOrder", testGlobalOrder},
		{"Head", testHead},
		{"FilterByStreamPrefix", testFilter},
		{"SubscribeCatchUpThenLive", testSubscribeCatchUpThenLive},
		{"SubscribeResumeFromCheckpoint", testSubscribeResume},
		{"SubscribeWhileWritersAppend", testSubscribeConcurrentWriters},
		{"BulkAppendNewStreams", testBulkNewStreams},
		{"BulkMixedExistingAndNewStreams", testBulkMixed},
		{"BulkWrongExpectedRevision", testBulkWrongExpected},
		{"BulkIdempotentRetry", testBulkIdempotentRetry},
		{"BulkGlobalOrderAndSubscription", testBulkSubscribe},
		{"BulkRejectsBadInput", testBulkBadInput},
	}
	if _, ok := h.New(t).(domain.DataReader); ok {
		cases = append(cases, struct {
			name string
			fn   func(t *testing.T, h Harness)
		}{"ReadAllDataReadsWhatReadAllReads", testReadAllData})
	}
	if h.HoldAppend != nil {
		cases = append(cases, struct {
			name string
			fn   func(t *testing.T, h Harness)
		}{"GapSafeHorizon", testGapSafeHorizon}, struct {
			name string
			fn   func(t *testing.T, h Harness)
		}{"HeadCountsHeldBackEvents", testHeadCountsHeldBack})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h)
		})
	}
}

// ns is a per-test stream namespace.
type ns struct {
	prefix string
}

func newNS() ns {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return ns{prefix: "t" + hex.EncodeToString(b[:])}
}

// stream returns a stream name in the namespace; category "t<hex>".
func (n ns) stream(id string) string { return n.prefix + "-" + id }
func (n ns) filter() domain.Filter   { return domain.Filter{StreamPrefixes: []string{n.prefix + "-"}} }

type payload struct {
	N    int    `json:"n"`
	Text string `json:"text"`
}

func event(typ string, n int) domain.EventData {
	data, _ := json.Marshal(payload{N: n, Text: "事件 " + fmt.Sprint(n)})
	meta, _ := json.Marshal(map[string]any{"actor": "contract", "n": n})
	return domain.EventData{ID: uuid.New(), Type: typ, Data: data, Metadata: meta}
}

func events(from, count int) []domain.EventData {
	out := make([]domain.EventData, count)
	for i := range out {
		out[i] = event("test.Happened.v1", from+i)
	}
	return out
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustAppend(t *testing.T, s domain.EventStore, stream string, exp domain.ExpectedRevision, evs ...domain.EventData) domain.AppendResult {
	t.Helper()
	res, err := s.Append(ctxFor(t), stream, exp, evs...)
	if err != nil {
		t.Fatalf("append %s expecting %s: %v", stream, exp, err)
	}
	return res
}

func readStream(t *testing.T, s domain.EventStore, stream string) []domain.RecordedEvent {
	t.Helper()
	evs, err := s.ReadStream(ctxFor(t), stream, domain.Forwards, 0, 0)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return evs
}

func payloadN(t *testing.T, e domain.RecordedEvent) int {
	t.Helper()
	var p payload
	if err := json.Unmarshal(e.Data, &p); err != nil {
		t.Fatalf("decode %s@%d: %v", e.Stream, e.Revision, err)
	}
	return p.N
}

func numbers(t *testing.T, evs []domain.RecordedEvent) []int {
	out := make([]int, len(evs))
	for i, e := range evs {
		out[i] = payloadN(t, e)
	}
	return out
}

func ids(evs []domain.RecordedEvent) []uuid.UUID {
	out := make([]uuid.UUID, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func testAppendAndReadBack(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	st := n.stream("a")
	in := events(0, 3)
	res := mustAppend(t, s, st, domain.NoStream(), in[:2]...)
	if res.NextExpected != 1 {
		t.Fatalf("after 2 events NextExpected = %d, want 1", res.NextExpected)
	}
	res2 := mustAppend(t, s, st, domain.Exact(1), in[2])
	if res2.NextExpected != 2 {
		t.Fatalf("after 3 events NextExpected = %d, want 2", res2.NextExpected)
	}
	if !res.Position.Less(res2.Position) {
		t.Fatalf("positions not increasing: %s then %s", res.Position, res2.Position)
	}
	got := readStream(t, s, st)
	if len(got) != 3 {
		t.Fatalf("read %d events, want 3", len(got))
	}
	for i, e := range got {
		if e.ID != in[i].ID || e.Type != in[i].Type || e.Stream != st || e.Revision != uint64(i) {
			t.Errorf("event %d = {%s %s %s %d}, want {%s %s %s %d}", i, e.ID, e.Type, e.Stream, e.Revision, in[i].ID, in[i].Type, st, i)
		}
		assertJSONEqual(t, "data", e.Data, in[i].Data)
		assertJSONEqual(t, "metadata", e.Metadata, in[i].Metadata)
		if e.RecordedAt.IsZero() {
			t.Errorf("event %d has no recorded time", i)
		}
	}
	if got[2].Position != res2.Position {
		t.Errorf("last event position %s, append reported %s", got[2].Position, res2.Position)
	}
}

func assertJSONEqual(t *testing.T, what string, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s is not JSON: %v", what, err)
	}
	_ = json.Unmarshal(want, &w)
	gj, _ := json.Marshal(g)
	wj, _ := json.Marshal(w)
	if string(gj) != string(wj) {
		t.Errorf("%s = %s, want %s", what, gj, wj)
	}
}

func testExpectedRevision(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	ctx := ctxFor(t)
	st := n.stream("x")

	// Exact on a missing stream.
	_, err := s.Append(ctx, st, domain.Exact(0), event("t.A.v1", 0))
	assertWrongVersion(t, err, false, 0)

	mustAppend(t, s, st, domain.NoStream(), events(0, 3)...) // revisions 0..2

	cases := []struct {
		name string
		exp  domain.ExpectedRevision
	}{
		{"no stream on existing", domain.NoStream()},
		{"exact too low", domain.Exact(1)},
		{"exact too high", domain.Exact(5)},
	}
	for _, c := range cases {
		_, err := s.Append(ctx, st, c.exp, event("t.A.v1", 99))
		if !errors.Is(err, domain.ErrConcurrency) {
			t.Errorf("%s: err = %v, want ErrConcurrency", c.name, err)
			continue
		}
		assertWrongVersion(t, err, true, 2)
	}
	if got := readStream(t, s, st); len(got) != 3 {
		t.Fatalf("rejected appends changed the stream: %d events, want 3", len(got))
	}

	res := mustAppend(t, s, st, domain.AnyRevision(), event("t.A.v1", 3))
	if res.NextExpected != 3 {
		t.Errorf("any: NextExpected = %d, want 3", res.NextExpected)
	}
	res = mustAppend(t, s, n.stream("fresh"), domain.AnyRevision(), event("t.A.v1", 0))
	if res.NextExpected != 0 {
		t.Errorf("any on new stream: NextExpected = %d, want 0", res.NextExpected)
	}
}

func assertWrongVersion(t *testing.T, err error, exists bool, actual uint64) {
	t.Helper()
	if !errors.Is(err, domain.ErrWrongExpectedVersion) {
		t.Fatalf("err = %v, want ErrWrongExpectedVersion", err)
	}
	var wev *domain.WrongExpectedVersionError
	if !errors.As(err, &wev) {
		t.Fatalf("err %v is not a *WrongExpectedVersionError", err)
	}
	if wev.ActualExists != exists || (exists && wev.Actual != actual) {
		t.Errorf("actual = (%d, exists %v), want (%d, exists %v)", wev.Actual, wev.ActualExists, actual, exists)
	}
}

func testConcurrentAppendsOneWins(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	st := n.stream("race")
	mustAppend(t, s, st, domain.NoStream(), event("t.A.v1", 0))
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Append(ctxFor(t), st, domain.Exact(0), event("t.A.v1", 100+i), event("t.A.v1", 200+i))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, domain.ErrConcurrency):
			t.Errorf("loser got %v, want ErrConcurrency", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d writers won, want exactly 1", wins)
	}
	got := readStream(t, s, st)
	if len(got) != 3 {
		t.Fatalf("stream has %d events, want 3", len(got))
	}
	if a, b := payloadN(t, got[1]), payloadN(t, got[2]); b-a != 100 {
		t.Errorf("the winner's two events were split: %d, %d", a, b)
	}
}

func testConcurrentStreamCreation(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	st := n.stream("new")
	const writers = 8
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = s.Append(ctxFor(t), st, domain.NoStream(), event("t.A.v1", i))
		}()
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else if !errors.Is(err, domain.ErrConcurrency) {
			t.Errorf("loser got %v, want ErrConcurrency", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d creators won, want exactly 1", wins)
	}
	if got := readStream(t, s, st); len(got) != 1 {
		t.Fatalf("stream has %d events, want 1", len(got))
	}
}

func testIdempotentRetry(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	ctx := ctxFor(t)
	st := n.stream("retry")
	first := events(0, 2)
	orig := mustAppend(t, s, st, domain.NoStream(), first...)

	for _, exp := range []domain.ExpectedRevision{domain.NoStream(), domain.AnyRevision()} {
		res, err := s.Append(ctx, st, exp, first...)
		if err != nil {
			t.Fatalf("retry expecting %s: %v", exp, err)
		}
		if res != orig {
			t.Errorf("retry expecting %s returned %+v, want the original %+v", exp, res, orig)
		}
	}
	// Retried after the stream moved on: still recognised.
	mustAppend(t, s, st, domain.Exact(1), event("t.A.v1", 2))
	res, err := s.Append(ctx, st, domain.NoStream(), first...)
	if err != nil || res != orig {
		t.Errorf("late retry = %+v, %v; want %+v, nil", res, err, orig)
	}
	if got := readStream(t, s, st); len(got) != 3 {
		t.Fatalf("retries duplicated events: %d in stream, want 3", len(got))
	}

	// Concurrent retries of the same command: one append, all succeed.
	st2 := n.stream("retry2")
	same := events(10, 2)
	var wg sync.WaitGroup
	results := make([]domain.AppendResult, 6)
	errs := make([]error, 6)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = s.Append(ctxFor(t), st2, domain.NoStream(), same...)
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Errorf("concurrent retry %d: %v", i, errs[i])
		} else if results[i] != results[0] {
			t.Errorf("concurrent retry %d returned %+v, others %+v", i, results[i], results[0])
		}
	}
	if got := readStream(t, s, st2); len(got) != 2 {
		t.Fatalf("concurrent retries appended %d events, want 2", len(got))
	}
}

func testReadStream(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	ctx := ctxFor(t)
	st := n.stream("r")
	mustAppend(t, s, st, domain.NoStream(), events(0, 10)...)
	cases := []struct {
		name  string
		dir   domain.Direction
		from  uint64
		limit int
		want  []int
	}{
		{"forwards all", domain.Forwards, 0, 0, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{"forwards from 7", domain.Forwards, 7, 0, []int{7, 8, 9}},
		{"forwards limit", domain.Forwards, 2, 3, []int{2, 3, 4}},
		{"forwards past end", domain.Forwards, 10, 5, []int{}},
		{"backwards from end", domain.Backwards, domain.StreamEnd, 3, []int{9, 8, 7}},
		{"backwards from 4", domain.Backwards, 4, 0, []int{4, 3, 2, 1, 0}},
		{"backwards beyond end", domain.Backwards, 50, 2, []int{9, 8}},
	}
	for _, c := range cases {
		evs, err := s.ReadStream(ctx, st, c.dir, c.from, c.limit)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		got := numbers(t, evs)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
		for _, e := range evs {
			if int(e.Revision) != payloadN(t, e) {
				t.Errorf("%s: revision %d holds event %d", c.name, e.Revision, payloadN(t, e))
			}
		}
	}
}

func testReadMissingStream(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	for _, dir := range []domain.Direction{domain.Forwards, domain.Backwards} {
		_, err := s.ReadStream(ctxFor(t), n.stream("nobody"), dir, 0, 10)
		if !errors.Is(err, domain.ErrStreamNotFound) || !errors.Is(err, domain.ErrNotFound) {
			t.Errorf("direction %d: err = %v, want ErrStreamNotFound", dir, err)
		}
	}
}

func readAllOf(t *testing.T, s domain.EventStore, from domain.Position, f domain.Filter) []domain.RecordedEvent {
	t.Helper()
	var out []domain.RecordedEvent
	for {
		evs, err := s.ReadAll(ctxFor(t), from, 100, f)
		if err != nil {
			t.Fatalf("read $all: %v", err)
		}
		out = append(out, evs...)
		if len(evs) < 100 {
			return out
		}
		from = evs[len(evs)-1].Position
	}
}

// readAllN reads $all until it holds want events. A store may hold back a
// committed event while an older transaction is still in flight (the
// PostgreSQL store's read horizon), so $all can lag an append briefly.
func readAllN(t *testing.T, s domain.EventStore, from domain.Position, f domain.Filter, want int) []domain.RecordedEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs := readAllOf(t, s, from, f)
		if len(evs) >= want || time.Now().After(deadline) {
			return evs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func testGlobalOrder(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	a, b := n.stream("a"), n.stream("b")
	mustAppend(t, s, a, domain.NoStream(), events(0, 2)...)
	mustAppend(t, s, b, domain.NoStream(), events(2, 1)...)
	mustAppend(t, s, a, domain.Exact(1), events(3, 2)...)
	mustAppend(t, s, b, domain.Exact(0), events(5, 1)...)

	all := readAllN(t, s, domain.Start, n.filter(), 6)
	if got := numbers(t, all); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("global order %v, want [0 1 2 3 4 5]", got)
	}
	for i := 1; i < len(all); i++ {
		if !all[i-1].Position.Less(all[i].Position) {
			t.Fatalf("positions not increasing at %d: %s then %s", i, all[i-1].Position, all[i].Position)
		}
	}
	rest := readAllOf(t, s, all[2].Position, n.filter())
	if got := numbers(t, rest); !slices.Equal(got, []int{3, 4, 5}) {
		t.Errorf("after position of event 2: %v, want [3 4 5]", got)
	}
	two, err := s.ReadAll(ctxFor(t), domain.Start, 2, n.filter())
	if err != nil || len(two) != 2 {
		t.Fatalf("limit 2: %d events, %v", len(two), err)
	}
	if none := readAllOf(t, s, all[5].Position, n.filter()); len(none) != 0 {
		t.Errorf("after the last event: %d events, want 0", len(none))
	}
}

// testReadAllData: a store that is a domain.DataReader reads the same
// events in the same order with ReadAllData as with ReadAll, with their
// stream, revision, position, type and data, and nothing else.
func testReadAllData(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	dr := s.(domain.DataReader) // Run adds the test for such stores only
	first := mustAppend(t, s, n.stream("a"), domain.NoStream(), events(0, 1)...)
	mustAppend(t, s, n.stream("b"), domain.NoStream(), events(1, 2)...)
	mustAppend(t, s, n.stream("a"), domain.Exact(0), events(3, 2)...)
	want := readAllN(t, s, first.Position, n.filter(), 4)
	ours := func(evs []domain.RecordedEvent) []domain.RecordedEvent {
		return slices.DeleteFunc(evs, func(e domain.RecordedEvent) bool { return !n.filter().Matches(e.Stream, e.Type) })
	}
	var got []domain.RecordedEvent
	for pos := first.Position; len(ours(slices.Clone(got))) < len(want); {
		page, err := dr.ReadAllData(ctxFor(t), pos, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got, pos = append(got, page...), page[len(page)-1].Position
	}
	got = ours(got)
	if len(got) != len(want) {
		t.Fatalf("ReadAllData read %d of our events, ReadAll %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Stream != w.Stream || g.Revision != w.Revision || g.Position != w.Position || g.Type != w.Type || !bytes.Equal(g.Data, w.Data) {
			t.Errorf("event %d: ReadAllData %s@%d %s %s %s, ReadAll %s@%d %s %s %s", i,
				g.Stream, g.Revision, g.Position, g.Type, g.Data, w.Stream, w.Revision, w.Position, w.Type, w.Data)
		}
		if g.ID != uuid.Nil || g.Metadata != nil || !g.RecordedAt.IsZero() {
			t.Errorf("event %d: ReadAllData filled what it leaves out: %v %q %s", i, g.ID, g.Metadata, g.RecordedAt)
		}
	}
}

func testFilter(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	mustAppend(t, s, n.stream("x"), domain.NoStream(), events(0, 1)...)
	mustAppend(t, s, n.prefix+"other-1", domain.NoStream(), events(1, 1)...)
	mustAppend(t, s, n.stream("y"), domain.NoStream(), events(2, 1)...)
	both := domain.Filter{StreamPrefixes: []string{n.prefix + "-", n.prefix + "other-"}}
	readAllN(t, s, domain.Start, both, 3) // wait until all three are visible
	if got := numbers(t, readAllOf(t, s, domain.Start, n.filter())); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("prefix %q- passed %v, want [0 2]", n.prefix, got)
	}
	if got := numbers(t, readAllOf(t, s, domain.Start, both)); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("two prefixes passed %v, want [0 1 2]", got)
	}
}

// collector drains a subscription in the background.
type collector struct {
	mu       sync.Mutex
	events   []domain.RecordedEvent
	caughtUp int
	err      error
	sub      domain.Subscription
	done     chan struct{}
}

func collect(t *testing.T, s domain.EventStore, from domain.Position, f domain.Filter) *collector {
	t.Helper()
	sub, err := s.SubscribeAll(ctxFor(t), from, f)
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	c := &collector{sub: sub, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			m, err := sub.Recv(context.Background())
			c.mu.Lock()
			if err != nil {
				c.err = err
				c.mu.Unlock()
				return
			}
			if m.CaughtUp {
				c.caughtUp++
			} else if m.Event != nil {
				c.events = append(c.events, *m.Event)
			}
			c.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *collector) stop() {
	_ = c.sub.Close()
	<-c.done
}

func (c *collector) snapshot() ([]domain.RecordedEvent, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.events), c.caughtUp
}

// waitFor polls until cond holds for the collected events or fails.
func (c *collector) waitFor(t *testing.T, what string, cond func(evs []domain.RecordedEvent, caughtUp int) bool) []domain.RecordedEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, cu := c.snapshot()
		if cond(evs, cu) {
			return evs
		}
		if time.Now().After(deadline) {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			t.Fatalf("timed out waiting for %s: have %d events, caught up %d times, err %v", what, len(evs), cu, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testSubscribeCatchUpThenLive(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	st := n.stream("s")
	mustAppend(t, s, st, domain.NoStream(), events(0, 5)...)
	c := collect(t, s, domain.Start, n.filter())
	evs := c.waitFor(t, "catch-up", func(evs []domain.RecordedEvent, cu int) bool { return cu > 0 })
	if got := numbers(t, evs); !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("caught up with %v, want [0 1 2 3 4]", got)
	}
	mustAppend(t, s, st, domain.Exact(4), events(5, 2)...)
	evs = c.waitFor(t, "live events", func(evs []domain.RecordedEvent, _ int) bool { return len(evs) >= 7 })
	time.Sleep(50 * time.Millisecond)
	evs, _ = c.snapshot()
	if got := numbers(t, evs); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6}) {
		t.Fatalf("received %v, want [0 .. 6] exactly once", got)
	}
}

func testSubscribeResume(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	st := n.stream("s")
	mustAppend(t, s, st, domain.NoStream(), events(0, 10)...)

	sub, err := s.SubscribeAll(ctxFor(t), domain.Start, n.filter())
	if err != nil {
		t.Fatalf("subscribe: %v", err)
	}
	var seen []domain.RecordedEvent
	for len(seen) < 4 {
		m, err := sub.Recv(ctxFor(t))
		if err != nil {
			t.Fatalf("recv: %v", err)
		}
		if m.Event != nil {
			seen = append(seen, *m.Event)
		}
	}
	_ = sub.Close()
	checkpoint := seen[len(seen)-1].Position

	mustAppend(t, s, st, domain.Exact(9), events(10, 3)...)
	c := collect(t, s, checkpoint, n.filter())
	rest := c.waitFor(t, "the rest", func(evs []domain.RecordedEvent, cu int) bool { return cu > 0 && len(evs) >= 9 })
	all := append(seen, rest...)
	if got := numbers(t, all); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("before and after resuming: %v, want 0..12 exactly once", got)
	}
}

func testSubscribeConcurrentWriters(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	c := collect(t, s, domain.Start, n.filter())
	const writers, each = 4, 40
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := n.stream(fmt.Sprint("w", w))
			exp := domain.NoStream()
			for i := range each {
				res, err := s.Append(ctxFor(t), st, exp, event("t.A.v1", w*1000+i))
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				exp = domain.Exact(res.NextExpected)
			}
		}()
	}
	wg.Wait()
	got := c.waitFor(t, "every appended event", func(evs []domain.RecordedEvent, _ int) bool { return len(evs) >= writers*each })
	time.Sleep(100 * time.Millisecond)
	got, _ = c.snapshot()
	want := readAllOf(t, s, domain.Start, n.filter())
	if len(want) != writers*each {
		t.Fatalf("$all has %d events, want %d", len(want), writers*each)
	}
	if !slices.Equal(ids(got), ids(want)) {
		t.Fatalf("subscription delivered %d events, not the %d of $all in $all's order", len(got), len(want))
	}
	// Within each stream, revisions arrive in order.
	next := map[string]uint64{}
	for _, e := range got {
		if e.Revision != next[e.Stream] {
			t.Fatalf("%s: revision %d arrived when %d was due", e.Stream, e.Revision, next[e.Stream])
		}
		next[e.Stream]++
	}
}

func testGapSafeHorizon(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	c := collect(t, s, domain.Start, n.filter())
	c.waitFor(t, "caught up on an empty log", func(_ []domain.RecordedEvent, cu int) bool { return cu > 0 })

	mustAppend(t, s, n.stream("before"), domain.NoStream(), event("t.A.v1", 0))
	c.waitFor(t, "the first event", func(evs []domain.RecordedEvent, _ int) bool { return len(evs) == 1 })

	// A starts first and stays open; B commits while A is in flight.
	commitA := h.HoldAppend(t, s, n.stream("slow"), event("t.A.v1", 1))
	mustAppend(t, s, n.stream("fast"), domain.NoStream(), event("t.A.v1", 2))
	time.Sleep(300 * time.Millisecond) // give the subscriber every chance to run ahead
	during, _ := c.snapshot()

	if err := commitA(); err != nil {
		t.Fatalf("commit held append: %v", err)
	}
	mustAppend(t, s, n.stream("after"), domain.NoStream(), event("t.A.v1", 3))
	final := c.waitFor(t, "all four events", func(evs []domain.RecordedEvent, _ int) bool { return len(evs) >= 4 })
	time.Sleep(50 * time.Millisecond)
	final, _ = c.snapshot()

	want := readAllOf(t, s, domain.Start, n.filter())
	if !slices.Equal(ids(final), ids(want)) {
		t.Fatalf("subscriber saw %v, $all holds %v", numbers(t, final), numbers(t, want))
	}
	if len(final) != 4 {
		t.Fatalf("subscriber saw %d events, want 4", len(final))
	}
	// What was delivered while A was open must be a prefix of the final
	// order: nothing may later appear before an event already delivered.
	if !slices.Equal(ids(during), ids(final[:len(during)])) {
		t.Fatalf("events delivered during the open transaction %v are not a prefix of %v", numbers(t, during), numbers(t, final))
	}
	// And a reader resuming from any delivered checkpoint sees the rest.
	for i, e := range final {
		rest := readAllOf(t, s, e.Position, n.filter())
		if !slices.Equal(ids(rest), ids(final[i+1:])) {
			t.Fatalf("resuming after event %d read %v, want %v", i, numbers(t, rest), numbers(t, final[i+1:]))
		}
	}
}

func head(t *testing.T, s domain.EventStore) domain.Position {
	t.Helper()
	p, err := s.Head(ctxFor(t))
	if err != nil {
		t.Fatalf("head: %v", err)
	}
	return p
}

// atOrAfter fails unless Head (got) counts the event at pos.
func atOrAfter(t *testing.T, what string, got, pos domain.Position) {
	t.Helper()
	if got.Less(pos) {
		t.Fatalf("%s: Head is %s, before the event at %s", what, got, pos)
	}
}

func testHead(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	before := head(t, s)
	if h.Fresh && before != domain.Start {
		t.Fatalf("Head of an empty log is %s, want the start", before)
	}
	a := mustAppend(t, s, n.stream("a"), domain.NoStream(), events(0, 2)...)
	afterA := head(t, s)
	atOrAfter(t, "after one append", afterA, a.Position)
	if !before.Less(afterA) {
		t.Fatalf("Head did not move on an append: %s, then %s", before, afterA)
	}
	b := mustAppend(t, s, n.stream("b"), domain.NoStream(), events(2, 1)...)
	afterB := head(t, s)
	atOrAfter(t, "after a second append", afterB, b.Position)
	if !afterA.Less(afterB) {
		t.Fatalf("Head did not move on the second append: %s, then %s", afterA, afterB)
	}
	res := mustAppendMany(t, s, []domain.StreamAppend{
		{Stream: n.stream("c"), Expected: domain.NoStream(), Events: events(3, 2)},
		{Stream: n.stream("a"), Expected: domain.Exact(a.NextExpected), Events: events(5, 1)},
	})
	afterMany := head(t, s)
	for _, r := range res {
		atOrAfter(t, "after a bulk append", afterMany, r.Position)
	}
	if !h.Fresh {
		return // other tests append to the same log
	}
	if afterA != a.Position || afterB != b.Position {
		t.Errorf("Head = %s and %s, want the appends' positions %s and %s", afterA, afterB, a.Position, b.Position)
	}
	// Head is where $all ends.
	all := readAllN(t, s, domain.Start, domain.Filter{}, 6)
	if len(all) != 6 {
		t.Fatalf("$all holds %d events, want 6", len(all))
	}
	if last := all[len(all)-1].Position; last != afterMany {
		t.Errorf("Head = %s, but $all ends at %s", afterMany, last)
	}
}

// testHeadCountsHeldBack: an event committed while an older append is in
// flight counts in Head even though readers do not get it yet.
func testHeadCountsHeldBack(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	first := mustAppend(t, s, n.stream("before"), domain.NoStream(), event("t.A.v1", 0))
	readAllN(t, s, domain.Start, n.filter(), 1)

	commitA := h.HoldAppend(t, s, n.stream("slow"), event("t.A.v1", 1))
	b := mustAppend(t, s, n.stream("fast"), domain.NoStream(), event("t.A.v1", 2))
	during := head(t, s)
	atOrAfter(t, "with an older append in flight", during, b.Position)
	if !first.Position.Less(during) {
		t.Fatalf("Head = %s with an event committed after %s", during, first.Position)
	}
	for _, e := range readAllOf(t, s, domain.Start, n.filter()) {
		if payloadN(t, e) == 2 {
			t.Fatalf("$all delivered the event committed behind the append in flight: nothing was held back")
		}
	}
	if err := commitA(); err != nil {
		t.Fatalf("commit held append: %v", err)
	}
	after := head(t, s)
	if after.Less(during) {
		t.Fatalf("Head went back from %s to %s", during, after)
	}
	all := readAllN(t, s, domain.Start, n.filter(), 3)
	if got := numbers(t, all); !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("$all after the commit: %v, want [0 1 2]", got)
	}
	atOrAfter(t, "after the commit", after, all[2].Position)
	if h.Fresh && after != all[2].Position {
		t.Errorf("Head = %s, but $all ends at %s", after, all[2].Position)
	}
}

// Bulk appends (AppendMany).

func mustAppendMany(t *testing.T, s domain.EventStore, appends []domain.StreamAppend) []domain.AppendResult {
	t.Helper()
	res, err := s.AppendMany(ctxFor(t), appends)
	if err != nil {
		t.Fatalf("append many (%d streams): %v", len(appends), err)
	}
	if len(res) != len(appends) {
		t.Fatalf("append many returned %d results for %d streams", len(res), len(appends))
	}
	return res
}

// checkStream asserts that stream holds exactly want, byte for byte, at
// revisions 0.., and that its last event is at position last.
func checkStream(t *testing.T, s domain.EventStore, stream string, want []domain.EventData, last domain.Position) {
	t.Helper()
	got := readStream(t, s, stream)
	if len(got) != len(want) {
		t.Fatalf("%s holds %d events, want %d", stream, len(got), len(want))
	}
	for k, e := range got {
		w := want[k]
		if e.ID != w.ID || e.Type != w.Type || e.Stream != stream || e.Revision != uint64(k) {
			t.Fatalf("%s event %d = {%s %s %s %d}, want {%s %s %s %d}", stream, k, e.ID, e.Type, e.Stream, e.Revision, w.ID, w.Type, stream, k)
		}
		// Hash chains cover the stored bytes, so both must come back as given.
		if string(e.Data) != string(w.Data) || string(e.Metadata) != string(w.Metadata) {
			t.Fatalf("%s event %d came back as %s / %s, appended as %s / %s", stream, k, e.Data, e.Metadata, w.Data, w.Metadata)
		}
	}
	if p := got[len(got)-1].Position; p != last {
		t.Errorf("%s: last event at %s, the append reported %s", stream, p, last)
	}
}

func testBulkNewStreams(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	var appends []domain.StreamAppend
	for i := range 120 {
		appends = append(appends, domain.StreamAppend{Stream: n.stream(fmt.Sprint("p", i)), Expected: domain.NoStream(), Events: events(i*10, 1+i%5)})
	}
	// Data in a form json.Marshal would not write must survive unchanged.
	odd := event("test.Happened.v1", 9999)
	odd.Data = []byte(`{ "n" : 9999,  "text":"不 规范"   }`)
	appends[7].Events[0] = odd
	res := mustAppendMany(t, s, appends)
	seen := map[domain.Position]bool{}
	for i, a := range appends {
		if want := uint64(len(a.Events) - 1); res[i].NextExpected != want {
			t.Errorf("%s: NextExpected %d, want %d", a.Stream, res[i].NextExpected, want)
		}
		if seen[res[i].Position] {
			t.Errorf("%s: position %s reported for two streams", a.Stream, res[i].Position)
		}
		seen[res[i].Position] = true
		checkStream(t, s, a.Stream, a.Events, res[i].Position)
	}
	// The streams go on from where the bulk append left them.
	next := mustAppend(t, s, appends[3].Stream, domain.Exact(res[3].NextExpected), event("t.A.v1", 5000))
	if next.NextExpected != res[3].NextExpected+1 || !res[3].Position.Less(next.Position) {
		t.Errorf("append after the bulk append: %+v after %+v", next, res[3])
	}
}

func testBulkMixed(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	x, y, z := n.stream("x"), n.stream("y"), n.stream("z")
	mustAppend(t, s, x, domain.NoStream(), events(0, 3)...)
	mustAppend(t, s, y, domain.NoStream(), events(100, 1)...)
	mustAppend(t, s, z, domain.NoStream(), events(400, 2)...)
	appends := []domain.StreamAppend{
		{Stream: x, Expected: domain.Exact(2), Events: events(3, 2)},
		{Stream: n.stream("new1"), Expected: domain.NoStream(), Events: events(200, 3)},
		{Stream: y, Expected: domain.Exact(0), Events: events(101, 1)},
		{Stream: n.stream("new2"), Expected: domain.AnyRevision(), Events: events(300, 2)},
		{Stream: z, Expected: domain.AnyRevision(), Events: events(402, 1)},
	}
	res := mustAppendMany(t, s, appends)
	want := []struct {
		next    uint64
		numbers []int
	}{
		{4, []int{0, 1, 2, 3, 4}},
		{2, []int{200, 201, 202}},
		{1, []int{100, 101}},
		{1, []int{300, 301}},
		{2, []int{400, 401, 402}},
	}
	for i, a := range appends {
		if res[i].NextExpected != want[i].next {
			t.Errorf("%s: NextExpected %d, want %d", a.Stream, res[i].NextExpected, want[i].next)
		}
		got := readStream(t, s, a.Stream)
		if nums := numbers(t, got); !slices.Equal(nums, want[i].numbers) {
			t.Errorf("%s holds %v, want %v", a.Stream, nums, want[i].numbers)
		}
		if last := got[len(got)-1]; last.Position != res[i].Position || last.Revision != res[i].NextExpected {
			t.Errorf("%s: last event %d at %s, the append reported %d at %s", a.Stream, last.Revision, last.Position, res[i].NextExpected, res[i].Position)
		}
	}
}

func testBulkWrongExpected(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	ctx := ctxFor(t)
	a := n.stream("a")
	mustAppend(t, s, a, domain.NoStream(), events(0, 2)...) // revisions 0, 1
	cases := []struct {
		name    string
		appends []domain.StreamAppend
		stream  string // the one the error must name
		exists  bool
		actual  uint64
	}{
		{"exact too low among new streams", []domain.StreamAppend{
			{Stream: n.stream("b"), Expected: domain.NoStream(), Events: events(10, 2)},
			{Stream: a, Expected: domain.Exact(0), Events: events(2, 1)},
			{Stream: n.stream("c"), Expected: domain.NoStream(), Events: events(20, 1)},
		}, a, true, 1},
		{"no stream on an existing one", []domain.StreamAppend{
			{Stream: n.stream("d"), Expected: domain.NoStream(), Events: events(30, 1)},
			{Stream: a, Expected: domain.NoStream(), Events: events(2, 1)},
		}, a, true, 1},
		{"exact on a missing stream", []domain.StreamAppend{
			{Stream: n.stream("f"), Expected: domain.NoStream(), Events: events(40, 1)},
			{Stream: n.stream("e"), Expected: domain.Exact(3), Events: events(50, 1)},
		}, n.stream("e"), false, 0},
	}
	for _, c := range cases {
		_, err := s.AppendMany(ctx, c.appends)
		if !errors.Is(err, domain.ErrWrongExpectedVersion) || !errors.Is(err, domain.ErrConcurrency) {
			t.Fatalf("%s: err = %v, want ErrWrongExpectedVersion", c.name, err)
		}
		var wev *domain.WrongExpectedVersionError
		if !errors.As(err, &wev) {
			t.Fatalf("%s: err %v is not a *WrongExpectedVersionError", c.name, err)
		}
		if wev.Stream != c.stream || wev.ActualExists != c.exists || (c.exists && wev.Actual != c.actual) {
			t.Errorf("%s: error names %s at (%d, exists %v), want %s at (%d, exists %v)",
				c.name, wev.Stream, wev.Actual, wev.ActualExists, c.stream, c.actual, c.exists)
		}
	}
	// No store writes to a stream at the wrong revision.
	if got := numbers(t, readStream(t, s, a)); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("%s holds %v after refused appends, want [0 1]", a, got)
	}
	if _, err := s.ReadStream(ctx, n.stream("e"), domain.Forwards, 0, 0); !errors.Is(err, domain.ErrStreamNotFound) {
		t.Errorf("refused stream e exists: %v", err)
	}
	// Retrying the first call with the right revision succeeds on every
	// store, whatever the failed attempt left behind.
	fixed := slices.Clone(cases[0].appends)
	fixed[1].Expected = domain.Exact(1)
	res := mustAppendMany(t, s, fixed)
	for i, ap := range fixed {
		got := readStream(t, s, ap.Stream)
		if ap.Stream == a {
			if nums := numbers(t, got); !slices.Equal(nums, []int{0, 1, 2}) {
				t.Errorf("%s holds %v, want [0 1 2]", a, nums)
			}
		} else {
			checkStream(t, s, ap.Stream, ap.Events, res[i].Position)
		}
	}
}

func testBulkIdempotentRetry(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	var first []domain.StreamAppend
	for i := range 30 {
		first = append(first, domain.StreamAppend{Stream: n.stream(fmt.Sprint("r", i)), Expected: domain.NoStream(), Events: events(i*10, 1+i%3)})
	}
	orig := mustAppendMany(t, s, first)
	if again := mustAppendMany(t, s, first); !slices.Equal(again, orig) {
		t.Fatalf("retry returned %+v, want the original %+v", again, orig)
	}
	// Retried after one of the streams moved on: still recognised.
	mustAppend(t, s, first[0].Stream, domain.Exact(orig[0].NextExpected), event("t.A.v1", 9000))
	if late := mustAppendMany(t, s, first); !slices.Equal(late, orig) {
		t.Fatalf("late retry returned %+v, want the original %+v", late, orig)
	}
	// A call that repeats some streams of an earlier call appends only the
	// new ones.
	mixed := slices.Clone(first[10:20])
	var fresh []domain.StreamAppend
	for i := range 5 {
		fresh = append(fresh, domain.StreamAppend{Stream: n.stream(fmt.Sprint("m", i)), Expected: domain.NoStream(), Events: events(1000+i*10, 2)})
	}
	mixed = append(mixed, fresh...)
	res := mustAppendMany(t, s, mixed)
	if !slices.Equal(res[:10], orig[10:20]) {
		t.Errorf("repeated streams returned %+v, want their original results %+v", res[:10], orig[10:20])
	}
	for k, f := range fresh {
		checkStream(t, s, f.Stream, f.Events, res[10+k].Position)
	}
	// Concurrent retries of one call: written once, all succeed alike.
	var second []domain.StreamAppend
	for i := range 10 {
		second = append(second, domain.StreamAppend{Stream: n.stream(fmt.Sprint("c", i)), Expected: domain.NoStream(), Events: events(2000+i*10, 3)})
	}
	var wg sync.WaitGroup
	results := make([][]domain.AppendResult, 4)
	errs := make([]error, 4)
	for w := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w], errs[w] = s.AppendMany(ctxFor(t), second)
		}()
	}
	wg.Wait()
	for w := range results {
		if errs[w] != nil {
			t.Fatalf("concurrent call %d: %v", w, errs[w])
		}
		if !slices.Equal(results[w], results[0]) {
			t.Errorf("concurrent call %d returned %+v, another %+v", w, results[w], results[0])
		}
	}
	for i, a := range second {
		checkStream(t, s, a.Stream, a.Events, results[0][i].Position)
	}
	for i, a := range first[1:] {
		checkStream(t, s, a.Stream, a.Events, orig[i+1].Position)
	}
	// The stream that moved on holds its bulk events once, then the later one.
	got := readStream(t, s, first[0].Stream)
	if len(got) != len(first[0].Events)+1 || got[len(got)-1].ID == first[0].Events[0].ID {
		t.Fatalf("%s holds %d events, want its %d bulk events and one more", first[0].Stream, len(got), len(first[0].Events))
	}
	for k, e := range first[0].Events {
		if got[k].ID != e.ID {
			t.Fatalf("%s event %d is %s, want %s", first[0].Stream, k, got[k].ID, e.ID)
		}
	}
}

func testBulkSubscribe(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	c := collect(t, s, domain.Start, n.filter())
	c.waitFor(t, "caught up on an empty log", func(_ []domain.RecordedEvent, cu int) bool { return cu > 0 })
	var appends []domain.StreamAppend
	total := 0
	for i := range 40 {
		evs := events(i*10, 1+i%4)
		total += len(evs)
		appends = append(appends, domain.StreamAppend{Stream: n.stream(fmt.Sprint("s", i)), Expected: domain.NoStream(), Events: evs})
	}
	res := mustAppendMany(t, s, appends)
	c.waitFor(t, "every bulk-appended event", func(evs []domain.RecordedEvent, _ int) bool { return len(evs) >= total })
	time.Sleep(100 * time.Millisecond)
	got, _ := c.snapshot()
	all := readAllN(t, s, domain.Start, n.filter(), total)
	if len(all) != total {
		t.Fatalf("$all holds %d events, want %d", len(all), total)
	}
	if !slices.Equal(ids(got), ids(all)) {
		t.Fatalf("subscription delivered %d events, not the %d of $all in $all's order", len(got), len(all))
	}
	want := map[uuid.UUID]bool{}
	for _, a := range appends {
		for _, e := range a.Events {
			want[e.ID] = true
		}
	}
	lastAt := map[string]domain.Position{}
	next := map[string]uint64{}
	for i, e := range all {
		if !want[e.ID] {
			t.Fatalf("$all holds event %s that was not appended", e.ID)
		}
		delete(want, e.ID)
		if e.Revision != next[e.Stream] {
			t.Fatalf("%s: revision %d came when %d was due", e.Stream, e.Revision, next[e.Stream])
		}
		next[e.Stream]++
		lastAt[e.Stream] = e.Position
		if i > 0 && !all[i-1].Position.Less(e.Position) {
			t.Fatalf("positions not increasing at %d: %s then %s", i, all[i-1].Position, e.Position)
		}
	}
	for i, a := range appends {
		if lastAt[a.Stream] != res[i].Position {
			t.Errorf("%s: last event at %s in $all, the append reported %s", a.Stream, lastAt[a.Stream], res[i].Position)
		}
	}
}

func testBulkBadInput(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	ctx := ctxFor(t)
	good := func(id string) domain.StreamAppend {
		return domain.StreamAppend{Stream: n.stream(id), Expected: domain.NoStream(), Events: events(0, 2)}
	}
	noID := good("x")
	noID.Events[1].ID = uuid.Nil
	noType := good("x")
	noType.Events[0].Type = ""
	cases := []struct {
		name    string
		appends []domain.StreamAppend
		field   string
	}{
		{"a stream twice", []domain.StreamAppend{good("a"), good("b"), good("a")}, "appends[2].stream"},
		{"no stream name", []domain.StreamAppend{good("a"), {Expected: domain.NoStream(), Events: events(0, 1)}}, "appends[1].stream"},
		{"no events", []domain.StreamAppend{good("a"), {Stream: n.stream("b"), Expected: domain.NoStream()}}, "appends[1].events"},
		{"an event without ID", []domain.StreamAppend{good("a"), noID}, "appends[1].events"},
		{"an event without type", []domain.StreamAppend{noType, good("a")}, "appends[0].events"},
	}
	for _, c := range cases {
		_, err := s.AppendMany(ctx, c.appends)
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("%s: err = %v, want a field error on %s", c.name, err, c.field)
		}
	}
	for _, id := range []string{"a", "b", "x"} {
		if _, err := s.ReadStream(ctx, n.stream(id), domain.Forwards, 0, 0); !errors.Is(err, domain.ErrStreamNotFound) {
			t.Errorf("refused calls wrote stream %s: %v", id, err)
		}
	}
	res, err := s.AppendMany(ctx, nil)
	if err != nil || len(res) != 0 {
		t.Errorf("an empty call returned %v, %v; want no results and no error", res, err)
	}
}

// RunBulkAtomic runs the cases that hold only for a store whose AppendMany
// is one transaction (PostgreSQL): a refused call writes nothing at all,
// and a call's events are contiguous in $all, in the order given.
func RunBulkAtomic(t *testing.T, h Harness) {
	cases := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"BulkMismatchWritesNothing", testBulkMismatchWritesNothing},
		{"BulkDuplicateEventIDWritesNothing", testBulkDuplicateWritesNothing},
		{"BulkCallIsContiguousInGlobalOrder", testBulkContiguous},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.fn(t, h)
		})
	}
}

func testBulkMismatchWritesNothing(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	ctx := ctxFor(t)
	a := n.stream("a")
	mustAppend(t, s, a, domain.NoStream(), events(0, 2)...)
	var appends []domain.StreamAppend
	for i := range 200 {
		appends = append(appends, domain.StreamAppend{Stream: n.stream(fmt.Sprint("n", i)), Expected: domain.NoStream(), Events: events(100+i*10, 3)})
	}
	appends = append(appends,
		domain.StreamAppend{Stream: a, Expected: domain.Exact(1), Events: events(2, 1)},                // right
		domain.StreamAppend{Stream: n.stream("late"), Expected: domain.Exact(0), Events: events(9, 1)}) // missing stream
	_, err := s.AppendMany(ctx, appends)
	var wev *domain.WrongExpectedVersionError
	if !errors.As(err, &wev) || wev.Stream != n.stream("late") {
		t.Fatalf("err = %v, want a wrong expected version naming %s", err, n.stream("late"))
	}
	if all := readAllN(t, s, domain.Start, n.filter(), 2); !slices.Equal(numbers(t, all), []int{0, 1}) {
		t.Fatalf("after the refused call $all holds %v, want only [0 1]", numbers(t, all))
	}
	if _, err := s.ReadStream(ctx, n.stream("n0"), domain.Forwards, 0, 0); !errors.Is(err, domain.ErrStreamNotFound) {
		t.Errorf("stream n0 of the refused call exists: %v", err)
	}
	// The same call without the bad stream then goes through whole.
	res := mustAppendMany(t, s, appends[:len(appends)-1])
	if res[200].NextExpected != 2 {
		t.Errorf("%s: NextExpected %d, want 2", a, res[200].NextExpected)
	}
}

func testBulkDuplicateWritesNothing(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	ctx := ctxFor(t)
	taken := event("t.A.v1", 1)
	mustAppend(t, s, n.stream("owner"), domain.NoStream(), taken)
	twice := event("t.A.v1", 2)
	for _, c := range []struct {
		name    string
		appends []domain.StreamAppend
	}{
		{"one ID in two streams of the call", []domain.StreamAppend{
			{Stream: n.stream("b"), Expected: domain.NoStream(), Events: []domain.EventData{twice}},
			{Stream: n.stream("c"), Expected: domain.NoStream(), Events: []domain.EventData{event("t.A.v1", 3), twice}},
		}},
		{"an ID another stream holds", []domain.StreamAppend{
			{Stream: n.stream("d"), Expected: domain.NoStream(), Events: events(4, 2)},
			{Stream: n.stream("e"), Expected: domain.NoStream(), Events: []domain.EventData{taken}},
		}},
	} {
		_, err := s.AppendMany(ctx, c.appends)
		if !errors.Is(err, domain.ErrConflict) {
			t.Errorf("%s: err = %v, want ErrConflict", c.name, err)
		}
		for _, a := range c.appends {
			if _, err := s.ReadStream(ctx, a.Stream, domain.Forwards, 0, 0); !errors.Is(err, domain.ErrStreamNotFound) {
				t.Errorf("%s: stream %s exists after the refused call: %v", c.name, a.Stream, err)
			}
		}
	}
}

func testBulkContiguous(t *testing.T, h Harness) {
	s, n := h.New(t), newNS()
	mustAppend(t, s, n.stream("before"), domain.NoStream(), event("t.A.v1", -1))
	var appends []domain.StreamAppend
	var want []int
	for i := range 10 {
		evs := events(i*10, 1+i%3)
		for k := range evs {
			want = append(want, i*10+k)
		}
		// Names in descending order: the call's order, not the names', rules.
		appends = append(appends, domain.StreamAppend{Stream: n.stream(fmt.Sprint("s", 9-i)), Expected: domain.NoStream(), Events: evs})
	}
	res := mustAppendMany(t, s, appends)
	mustAppend(t, s, n.stream("after"), domain.NoStream(), event("t.A.v1", 1000))
	all := readAllN(t, s, domain.Start, n.filter(), len(want)+2)
	want = append(append([]int{-1}, want...), 1000)
	if got := numbers(t, all); !slices.Equal(got, want) {
		t.Fatalf("$all = %v, want the call's events together in call order: %v", got, want)
	}
	for i := range res {
		if res[i].Position.Commit != res[0].Position.Commit {
			t.Errorf("stream %d committed at %d, stream 0 at %d: not one transaction", i, res[i].Position.Commit, res[0].Position.Commit)
		}
	}
}
