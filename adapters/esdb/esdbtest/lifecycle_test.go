package esdbtest

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

// handlerGoroutines counts goroutines currently inside a Streams handler.
func handlerGoroutines() int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if strings.Contains(string(g), "esdbtest.(*streamsService)") {
			n++
		}
	}
	return n
}

func waitNoHandlers(t *testing.T, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for handlerGoroutines() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d handler goroutines still running", handlerGoroutines())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestHandlersEnd(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	s := uniqueStream("big")
	payload := bytes.Repeat([]byte("x"), 4096)
	for i := 0; i < 10; i++ {
		batch := evs("Big", 100)
		for j := range batch {
			batch[j].Data = payload
		}
		mustAppend(t, c, s, esdb.Any{}, batch...)
	}

	open := func() []*esdb.Subscription {
		var subs []*esdb.Subscription
		for _, opts := range []esdb.SubscribeToAllOptions{
			{From: esdb.Start{}}, // never read: blocks in Send on flow control
			{From: esdb.End{}},
			{From: esdb.Start{}, Filter: esdb.ExcludeSystemEventsFilter()},
		} {
			sub, err := c.SubscribeToAll(ctxT(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			subs = append(subs, sub)
		}
		sub, err := c.SubscribeToStream(ctxT(t), s, esdb.SubscribeToStreamOptions{From: esdb.End{}})
		if err != nil {
			t.Fatal(err)
		}
		return append(subs, sub)
	}

	t.Run("client closes its subscriptions", func(t *testing.T) {
		subs := open()
		time.Sleep(100 * time.Millisecond)
		if n := handlerGoroutines(); n != len(subs) {
			t.Fatalf("%d handlers running, want %d", n, len(subs))
		}
		for _, sub := range subs {
			sub.Close()
		}
		waitNoHandlers(t, 5*time.Second)
	})

	t.Run("Stop ends every handler", func(t *testing.T) {
		subs := open()
		defer func() {
			for _, sub := range subs {
				sub.Close()
			}
		}()
		time.Sleep(100 * time.Millisecond)
		start := time.Now()
		srv.Stop()
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("Stop took %v", d)
		}
		if n := handlerGoroutines(); n != 0 {
			t.Fatalf("%d handlers still running after Stop", n)
		}
	})
}
