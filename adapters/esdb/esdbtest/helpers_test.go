package esdbtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
)

// testLogger forwards client log lines to t.Logf until the test is over (the
// client's goroutines keep logging after Close, and t.Logf after the end of a
// test panics).
type testLogger struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func (l *testLogger) log(level esdb.LogLevel, format string, args ...interface{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.done && testing.Verbose() {
		l.t.Logf("client %s: "+format, append([]any{level}, args...)...)
	}
}

func newClient(t testing.TB, srv *Server) *esdb.Client {
	t.Helper()
	lg := &testLogger{t: t}
	t.Cleanup(func() { lg.mu.Lock(); lg.done = true; lg.mu.Unlock() }) // runs last
	cfg, err := esdb.ParseConnectionString(srv.ConnectionString())
	if err != nil {
		t.Fatalf("parse connection string: %v", err)
	}
	cfg.Logger = lg.log
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ev(eventType string) esdb.EventData {
	id := uuid.New()
	return esdb.EventData{
		EventID:     id,
		EventType:   eventType,
		ContentType: esdb.ContentTypeJson,
		Data:        []byte(fmt.Sprintf(`{"id":%q}`, id)),
		Metadata:    []byte(`{"m":1}`),
	}
}

func evs(eventType string, n int) []esdb.EventData {
	out := make([]esdb.EventData, n)
	for i := range out {
		out[i] = ev(eventType)
	}
	return out
}

func mustAppend(t testing.TB, c *esdb.Client, stream string, exp esdb.ExpectedRevision, events ...esdb.EventData) *esdb.WriteResult {
	t.Helper()
	res, err := c.AppendToStream(ctxT(t), stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, events...)
	if err != nil {
		t.Fatalf("append to %s: %v", stream, err)
	}
	return res
}

func errCode(t testing.TB, err error) esdb.ErrorCode {
	t.Helper()
	var e *esdb.Error
	if !errors.As(err, &e) {
		t.Fatalf("expected *esdb.Error, got %T: %v", err, err)
	}
	return e.Code()
}

func collect(t testing.TB, rs *esdb.ReadStream, err error) ([]*esdb.RecordedEvent, error) {
	t.Helper()
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*esdb.RecordedEvent
	for {
		e, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, e.OriginalEvent())
	}
}

func readStream(t testing.TB, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) ([]*esdb.RecordedEvent, error) {
	t.Helper()
	rs, err := c.ReadStream(ctxT(t), stream, opts, count)
	return collect(t, rs, err)
}

func mustReadStream(t testing.TB, c *esdb.Client, stream string, opts esdb.ReadStreamOptions, count uint64) []*esdb.RecordedEvent {
	t.Helper()
	out, err := readStream(t, c, stream, opts, count)
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	return out
}

func mustReadAll(t testing.TB, c *esdb.Client, opts esdb.ReadAllOptions, count uint64) []*esdb.RecordedEvent {
	t.Helper()
	rs, err := c.ReadAll(ctxT(t), opts, count)
	out, err := collect(t, rs, err)
	if err != nil {
		t.Fatalf("read $all: %v", err)
	}
	return out
}

func revisions(events []*esdb.RecordedEvent) []uint64 {
	out := make([]uint64, len(events))
	for i, e := range events {
		out[i] = e.EventNumber
	}
	return out
}

func ids(events []*esdb.RecordedEvent) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.EventID
	}
	return out
}

func dataIDs(events []esdb.EventData) []uuid.UUID {
	out := make([]uuid.UUID, len(events))
	for i, e := range events {
		out[i] = e.EventID
	}
	return out
}

func equalIDs(a, b []uuid.UUID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// recvSub receives the next subscription event, failing the test after d.
func recvSub(t testing.TB, sub *esdb.Subscription, d time.Duration) *esdb.SubscriptionEvent {
	t.Helper()
	ch := make(chan *esdb.SubscriptionEvent, 1)
	go func() { ch <- sub.Recv() }()
	select {
	case e := <-ch:
		return e
	case <-time.After(d):
		t.Fatalf("no subscription event within %v", d)
		return nil
	}
}

// nextEvent skips checkpoints and returns the next event; it fails on
// anything else.
func nextEvent(t testing.TB, sub *esdb.Subscription) *esdb.RecordedEvent {
	t.Helper()
	for {
		e := recvSub(t, sub, 10*time.Second)
		switch {
		case e.EventAppeared != nil:
			return e.EventAppeared.OriginalEvent()
		case e.CheckPointReached != nil:
			continue
		default:
			t.Fatalf("expected an event, got %s", describe(e))
		}
	}
}

func describe(e *esdb.SubscriptionEvent) string {
	switch {
	case e == nil:
		return "<nil>"
	case e.EventAppeared != nil:
		o := e.EventAppeared.OriginalEvent()
		return fmt.Sprintf("event %s@%d (%s) pos %d", o.StreamID, o.EventNumber, o.EventType, o.Position.Commit)
	case e.CheckPointReached != nil:
		return fmt.Sprintf("checkpoint %d", e.CheckPointReached.Commit)
	case e.CaughtUp != nil:
		return "caught up"
	case e.FellBehind != nil:
		return "fell behind"
	case e.SubscriptionDropped != nil:
		return fmt.Sprintf("dropped: %v", e.SubscriptionDropped.Error)
	}
	return "empty"
}

func expectCaughtUp(t testing.TB, sub *esdb.Subscription) {
	t.Helper()
	for {
		e := recvSub(t, sub, 10*time.Second)
		if e.CaughtUp != nil {
			return
		}
		if e.CheckPointReached != nil {
			continue
		}
		t.Fatalf("expected caught up, got %s", describe(e))
	}
}

func uniqueStream(prefix string) string {
	return prefix + "-" + strings.ReplaceAll(uuid.NewString()[:8], "-", "")
}
