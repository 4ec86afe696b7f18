package esdbtest

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestSubscribeToAllCatchUpThenLive(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)

	const total = 10_000
	var written []esdb.EventData
	for i := 0; i < total/100; i++ {
		batch := evs("Bulk", 100)
		mustAppend(t, c, uniqueStream("bulk"), esdb.NoStream{}, batch...)
		written = append(written, batch...)
	}

	sub, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	// Append concurrently with the catch-up: the switch to live must neither
	// skip nor duplicate anything.
	concurrent := evs("During", 50)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, e := range concurrent {
			if _, err := c.AppendToStream(ctxT(t), uniqueStream("during"), esdb.AppendToStreamOptions{}, e); err != nil {
				t.Errorf("concurrent append: %v", err)
				return
			}
		}
	}()

	var prev uint64
	for i := 0; i < total; i++ {
		e := nextEvent(t, sub)
		if e.EventID != written[i].EventID {
			t.Fatalf("event %d: got %s, want %s", i, e.EventID, written[i].EventID)
		}
		if e.Position.Commit <= prev {
			t.Fatalf("event %d: position %d after %d", i, e.Position.Commit, prev)
		}
		prev = e.Position.Commit
	}
	<-done
	var caughtUp bool
	got := 0
	for got < len(concurrent) {
		e := recvSub(t, sub, 10*time.Second)
		switch {
		case e.CaughtUp != nil:
			if caughtUp {
				t.Fatal("caught up twice")
			}
			caughtUp = true
		case e.EventAppeared != nil:
			o := e.EventAppeared.OriginalEvent()
			if o.EventID != concurrent[got].EventID {
				t.Fatalf("concurrent event %d: got %s (%s), want %s", got, o.EventID, o.EventType, concurrent[got].EventID)
			}
			got++
		default:
			t.Fatalf("unexpected %s", describe(e))
		}
	}
	if !caughtUp {
		expectCaughtUp(t, sub)
	}

	live := ev("Live")
	mustAppend(t, c, uniqueStream("live"), esdb.NoStream{}, live)
	if e := nextEvent(t, sub); e.EventID != live.EventID {
		t.Fatalf("live event: got %s, want %s", e.EventID, live.EventID)
	}
}

func TestSubscribeToAllFromPositionIsExclusive(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	s := uniqueStream("pos")
	mustAppend(t, c, s, esdb.NoStream{}, evs("E", 5)...)
	all := mustReadAll(t, c, esdb.ReadAllOptions{}, 100)

	sub, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: all[1].Position})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	for _, want := range all[2:] {
		if e := nextEvent(t, sub); e.EventID != want.EventID {
			t.Fatalf("got revision %d, want %d", e.EventNumber, want.EventNumber)
		}
	}
	expectCaughtUp(t, sub)

	// From End: only events appended afterwards.
	subEnd, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: esdb.End{}})
	if err != nil {
		t.Fatal(err)
	}
	defer subEnd.Close()
	expectCaughtUp(t, subEnd)
	e := ev("After")
	mustAppend(t, c, s, esdb.Any{}, e)
	if got := nextEvent(t, subEnd); got.EventID != e.EventID {
		t.Fatalf("from end: got %s", got.EventID)
	}
	if got := nextEvent(t, sub); got.EventID != e.EventID {
		t.Fatalf("from position, live: got %s", got.EventID)
	}
}

func TestFilteredSubscription(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	acct := uniqueStream("acct")
	mustAppend(t, c, acct, esdb.NoStream{}, evs("Deposited", 2)...)
	for i := 0; i < 3; i++ {
		mustAppend(t, c, uniqueStream("noise"), esdb.NoStream{}, evs("Noise", 5)...)
	}
	mustAppend(t, c, acct, esdb.Any{}, ev("Withdrawn"))
	mustAppend(t, c, uniqueStream("sys"), esdb.NoStream{}, esdb.EventData{EventType: "$system", ContentType: esdb.ContentTypeJson, Data: []byte("{}")})
	// 19 records scanned during catch-up.

	t.Run("stream prefix with checkpoints", func(t *testing.T) {
		sub, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{
			From:               esdb.Start{},
			Filter:             &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"acct-"}},
			MaxSearchWindow:    4,
			CheckpointInterval: 2, // checkpoint every 8 scanned records
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		var events []string
		var checkpoints []uint64
		for {
			e := recvSub(t, sub, 10*time.Second)
			if e.CaughtUp != nil {
				break
			}
			switch {
			case e.EventAppeared != nil:
				events = append(events, e.EventAppeared.OriginalEvent().EventType)
			case e.CheckPointReached != nil:
				checkpoints = append(checkpoints, e.CheckPointReached.Commit)
			default:
				t.Fatalf("unexpected %s", describe(e))
			}
		}
		if strings.Join(events, ",") != "Deposited,Deposited,Withdrawn" {
			t.Fatalf("filtered events: %v", events)
		}
		all := mustReadAll(t, c, esdb.ReadAllOptions{}, 100)
		// After records 8 and 16, and at the end of the catch-up (record 19).
		want := []uint64{all[7].Position.Commit, all[15].Position.Commit, all[18].Position.Commit}
		if !equalU64(checkpoints, want) {
			t.Fatalf("checkpoints %v, want %v", checkpoints, want)
		}
		// Live: 8 more non-matching records produce one checkpoint.
		mustAppend(t, c, uniqueStream("noise"), esdb.NoStream{}, evs("Noise", 8)...)
		e := recvSub(t, sub, 10*time.Second)
		if e.CheckPointReached == nil {
			t.Fatalf("expected a live checkpoint, got %s", describe(e))
		}
		// Resubscribing from a checkpoint continues after it.
		sub2, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{
			From:   *e.CheckPointReached,
			Filter: &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{"acct-"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer sub2.Close()
		expectCaughtUp(t, sub2)
		w := ev("Closed")
		mustAppend(t, c, acct, esdb.Any{}, w)
		if got := nextEvent(t, sub); got.EventID != w.EventID {
			t.Fatalf("live filtered event: %s", got.EventType)
		}
		if got := nextEvent(t, sub2); got.EventID != w.EventID {
			t.Fatalf("live filtered event after resubscribe: %s", got.EventType)
		}
	})

	t.Run("exclude system events", func(t *testing.T) {
		sub, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()})
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		n := 0
		for {
			e := recvSub(t, sub, 10*time.Second)
			if e.CaughtUp != nil {
				break
			}
			if e.EventAppeared != nil {
				if typ := e.EventAppeared.OriginalEvent().EventType; strings.HasPrefix(typ, "$") {
					t.Fatalf("system event %q delivered", typ)
				}
				n++
			}
		}
		if total := srv.EventCount(); n != total-1 {
			t.Fatalf("%d events delivered, want %d", n, total-1)
		}
	})
}

func TestSubscribeToStream(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	s := uniqueStream("sub")
	batch := evs("E", 3)
	mustAppend(t, c, s, esdb.NoStream{}, batch...)
	mustAppend(t, c, uniqueStream("other"), esdb.NoStream{}, ev("Other"))

	fromStart, err := c.SubscribeToStream(ctxT(t), s, esdb.SubscribeToStreamOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer fromStart.Close()
	fromRev, err := c.SubscribeToStream(ctxT(t), s, esdb.SubscribeToStreamOptions{From: esdb.Revision(1)})
	if err != nil {
		t.Fatal(err)
	}
	defer fromRev.Close()
	for i := 0; i < 3; i++ {
		if e := nextEvent(t, fromStart); e.EventNumber != uint64(i) || e.EventID != batch[i].EventID {
			t.Fatalf("from start: got %d", e.EventNumber)
		}
	}
	if e := nextEvent(t, fromRev); e.EventNumber != 2 {
		t.Fatalf("from revision 1 (exclusive): got %d", e.EventNumber)
	}
	expectCaughtUp(t, fromStart)
	expectCaughtUp(t, fromRev)

	// A subscription to a stream that doesn't exist yet waits for it.
	later := uniqueStream("later")
	subLater, err := c.SubscribeToStream(ctxT(t), later, esdb.SubscribeToStreamOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer subLater.Close()
	expectCaughtUp(t, subLater)

	mustAppend(t, c, uniqueStream("other"), esdb.NoStream{}, ev("Other"))
	mustAppend(t, c, s, esdb.Revision(2), ev("Live"))
	mustAppend(t, c, later, esdb.NoStream{}, ev("First"))
	if e := nextEvent(t, fromStart); e.EventNumber != 3 || e.EventType != "Live" {
		t.Fatalf("live: %+v", e)
	}
	if e := nextEvent(t, fromRev); e.EventNumber != 3 {
		t.Fatalf("live: %+v", e)
	}
	if e := nextEvent(t, subLater); e.EventNumber != 0 || e.EventType != "First" {
		t.Fatalf("later stream: %+v", e)
	}

	// Tombstoning the stream ends its subscriptions with stream-deleted.
	if _, err := c.TombstoneStream(ctxT(t), s, esdb.TombstoneStreamOptions{}); err != nil {
		t.Fatal(err)
	}
	e := recvSub(t, fromStart, 10*time.Second)
	if e.SubscriptionDropped == nil || status.Code(e.SubscriptionDropped.Error) != codes.FailedPrecondition {
		t.Fatalf("after tombstone: %s", describe(e))
	}
}

func TestDropSubscriptions(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	sub, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	expectCaughtUp(t, sub)
	srv.DropSubscriptions()
	e := recvSub(t, sub, 10*time.Second)
	if e.SubscriptionDropped == nil || status.Code(e.SubscriptionDropped.Error) != codes.Unavailable {
		t.Fatalf("expected a drop with Unavailable, got %s", describe(e))
	}
	// The server keeps serving, on the same connection.
	w := ev("After")
	mustAppend(t, c, uniqueStream("s"), esdb.NoStream{}, w)
	sub2, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	if got := nextEvent(t, sub2); got.EventID != w.EventID {
		t.Fatalf("after drop: %s", got.EventID)
	}
}

func TestStopRestart(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)

	before := evs("Before", 5)
	mustAppend(t, c, uniqueStream("r"), esdb.NoStream{}, before...)
	sub, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: esdb.Start{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var last esdb.Position
	for i := range before {
		e := nextEvent(t, sub)
		if e.EventID != before[i].EventID {
			t.Fatalf("event %d", i)
		}
		last = e.Position
	}
	expectCaughtUp(t, sub)

	addr := srv.Addr()
	srv.Stop()
	e := recvSub(t, sub, 10*time.Second)
	if e.SubscriptionDropped == nil {
		t.Fatalf("expected a drop, got %s", describe(e))
	}
	if code := status.Code(e.SubscriptionDropped.Error); code != codes.Unavailable {
		t.Fatalf("drop error %v (code %v), want Unavailable", e.SubscriptionDropped.Error, code)
	}
	// While stopped, calls fail with ErrorUnavailable.
	if _, err := c.AppendToStream(ctxT(t), uniqueStream("down"), esdb.AppendToStreamOptions{}, ev("X")); errCode(t, err) != esdb.ErrorUnavailable {
		t.Fatalf("append while stopped: %v", err)
	}

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != addr {
		t.Fatalf("restarted on %s, was %s", srv.Addr(), addr)
	}
	// Same client: it rediscovers the node on the next call.
	start := time.Now()
	after := evs("After", 5)
	mustAppend(t, c, uniqueStream("r"), esdb.NoStream{}, after...)
	t.Logf("first append after restart took %v", time.Since(start))

	sub2, err := c.SubscribeToAll(ctxT(t), esdb.SubscribeToAllOptions{From: last})
	if err != nil {
		t.Fatal(err)
	}
	defer sub2.Close()
	for i := range after {
		if e := nextEvent(t, sub2); e.EventID != after[i].EventID {
			t.Fatalf("after restart, event %d: %s (%s)", i, e.EventID, e.EventType)
		}
	}
	expectCaughtUp(t, sub2)

	// The log survived the restart.
	if n := len(mustReadAll(t, c, esdb.ReadAllOptions{}, 100)); n != 10 {
		t.Fatalf("$all has %d events after restart, want 10", n)
	}
}

// TestStopRestartWithoutFailedCall covers the other reconnection path: no
// call fails while the server is down, so the client keeps its gRPC channel,
// which reconnects by itself on the next call, once it has noticed that the
// old connection is gone.
func TestStopRestartWithoutFailedCall(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	mustAppend(t, c, uniqueStream("r"), esdb.NoStream{}, ev("A"))
	srv.Stop()
	// The client's transport sees the EOF asynchronously; a call issued
	// before that fails once with ErrorUnavailable (no retry in the client).
	time.Sleep(100 * time.Millisecond)
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mustAppend(t, c, uniqueStream("r"), esdb.NoStream{}, ev("B"))
	t.Logf("first append after restart took %v", time.Since(start))
	if n := srv.EventCount(); n != 2 {
		t.Fatalf("%d events", n)
	}
}

// TestCallRacingTheDisconnect documents what a caller sees when it calls right
// after Stop+Restart: at most one failure (Unavailable, or an uncoded EOF
// when the old connection closes under the call), then the client
// rediscovers the node and works again.
func TestCallRacingTheDisconnect(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	mustAppend(t, c, uniqueStream("r"), esdb.NoStream{}, ev("A"))
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	_, err := c.AppendToStream(ctxT(t), uniqueStream("r"), esdb.AppendToStreamOptions{}, ev("B"))
	if err != nil {
		// The client says so in one of two ways: Unavailable, or, when the
		// old connection closes under the request, an uncoded EOF — the two
		// answers the adapter's translate reads as the server gone.
		if code := errCode(t, err); code != esdb.ErrorUnavailable && !(code == esdb.ErrorCodeUnknown && errors.Is(err, io.EOF)) {
			t.Fatalf("first call after restart: %v", err)
		}
		t.Logf("first call after restart failed as expected: %v", err)
	}
	mustAppend(t, c, uniqueStream("r"), esdb.NoStream{}, ev("C"))
}

// TestClientSurvivesOutage shows why ConnectionString sets discovery options:
// once a call has failed with Unavailable the client rediscovers the node on
// the next call, blocking that call for up to maxDiscoverAttempts ×
// discoveryInterval; with the client defaults (10 × 100 ms) it gives up after
// ~1 s and the client is closed for good.
func TestClientSurvivesOutage(t *testing.T) {
	// ~1 s (client defaults) < outage < ~5 s (ConnectionString), with margin
	// for a loaded machine.
	const outage = 2500 * time.Millisecond
	for _, tc := range []struct {
		name       string
		connString func(*Server) string
		survives   bool
	}{
		{"ConnectionString", (*Server).ConnectionString, true},
		{"client defaults", func(s *Server) string { return "esdb://" + s.Addr() + "?tls=false" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := Start(t)
			cfg, err := esdb.ParseConnectionString(tc.connString(srv))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Logger = esdb.NoopLogging()
			c, err := esdb.NewClient(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			mustAppend(t, c, uniqueStream("r"), esdb.NoStream{}, ev("A"))

			srv.Stop()
			time.Sleep(50 * time.Millisecond) // let the client see the disconnect
			_, err = c.AppendToStream(ctxT(t), uniqueStream("r"), esdb.AppendToStreamOptions{}, ev("B"))
			if errCode(t, err) != esdb.ErrorUnavailable {
				t.Fatalf("append while down: %v", err)
			}
			restarted := make(chan error, 1)
			go func() { time.Sleep(outage); restarted <- srv.Restart() }()
			start := time.Now()
			_, err = c.AppendToStream(ctxT(t), uniqueStream("r"), esdb.AppendToStreamOptions{}, ev("C"))
			t.Logf("append during the outage returned after %v: %v", time.Since(start), err)
			if err := <-restarted; err != nil {
				t.Fatal(err)
			}
			if tc.survives {
				if err != nil {
					t.Fatalf("append during the outage: %v", err)
				}
				return
			}
			if errCode(t, err) != esdb.ErrorUnavailable {
				t.Fatalf("append during the outage: %v", err)
			}
			_, err = c.AppendToStream(ctxT(t), uniqueStream("r"), esdb.AppendToStreamOptions{}, ev("D"))
			if errCode(t, err) != esdb.ErrorCodeConnectionClosed {
				t.Fatalf("append after the restart: %v", err)
			}
		})
	}
}
