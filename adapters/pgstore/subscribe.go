package pgstore

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/adapters/internal/feed"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// broadcast wakes every waiter at once: wait returns a channel that is
// closed by the next notify.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	defer b.mu.Unlock()
	close(b.ch)
	b.ch = make(chan struct{})
}

// listen holds one connection in LISTEN on the store's channel and wakes
// subscriptions on every notification, reconnecting with back-off. The
// connection is dedicated (pg.Dedicated), not the pool's. Started by
// the first subscription.
func (s *Store) listen() {
	s.startListen.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		s.stop = cancel
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			backoff := 100 * time.Millisecond
			for ctx.Err() == nil {
				err := s.listenOnce(ctx)
				if ctx.Err() != nil {
					return
				}
				s.log.Warn("event store listener lost its connection; subscriptions poll meanwhile",
					slog.String("error", err.Error()), slog.Duration("retry_in", backoff))
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				backoff = min(2*backoff, 5*time.Second)
			}
		}()
	})
}

// listenOnce listens on a connection of its own, not one of the pool's:
// appends by requests that hold every pooled connection must still wake
// the subscriptions, and the listener must not keep one from them.
func (s *Store) listenOnce(ctx context.Context) error {
	conn, err := pg.Dedicated(ctx, s.pool, "listen")
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+s.channel); err != nil {
		return err
	}
	s.wake.notify() // catch anything committed while not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		s.wake.notify()
	}
}

// SubscribeAll implements domain.EventStore.
func (s *Store) SubscribeAll(ctx context.Context, from domain.Position, filter domain.Filter) (domain.Subscription, error) {
	s.listen()
	ctx, cancel := context.WithCancel(ctx)
	f := feed.New(cancel, s.batch)
	go func() { f.Finish(s.pump(ctx, f, from, filter)) }()
	return f, nil
}

// maxReadFailures is how many consecutive failed reads a subscription
// tolerates (with back-off) before it ends with the error.
const maxReadFailures = 8

// pump reads $all after pos and sends it to f until ctx ends or reading
// fails for good; it returns the error that ends the subscription.
func (s *Store) pump(ctx context.Context, f *feed.Feed, pos domain.Position, filter domain.Filter) error {
	caughtUp := false
	failures := 0
	backoff := 50 * time.Millisecond
	for {
		woken := s.wake.wait() // before reading: a wake during the read is not missed
		evs, err := s.readAll(ctx, pos, s.batch, filter)
		if err != nil {
			if ctx.Err() != nil {
				return domain.ErrSubscriptionClosed
			}
			failures++
			if failures >= maxReadFailures {
				return fmt.Errorf("subscription read $all after %s: %w", pos, pg.Classify(ctx, err))
			}
			s.log.Warn("event store subscription read failed; retrying",
				slog.String("error", err.Error()), slog.Int("attempt", failures))
			if !feed.Sleep(ctx, backoff) {
				return domain.ErrSubscriptionClosed
			}
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		failures, backoff = 0, 50*time.Millisecond
		for i := range evs {
			if !f.Send(ctx, domain.SubscriptionMessage{Event: &evs[i]}) {
				return domain.ErrSubscriptionClosed
			}
			pos = evs[i].Position
		}
		if len(evs) == s.batch {
			continue // more to catch up
		}
		if !caughtUp {
			// Caught up means every committed event was delivered, not
			// just those below the horizon.
			held, err := s.heldBack(ctx, pos, filter)
			if err == nil && !held {
				caughtUp = true
				if !f.Send(ctx, domain.SubscriptionMessage{CaughtUp: true}) {
					return domain.ErrSubscriptionClosed
				}
			}
		}
		select {
		case <-woken:
		case <-time.After(s.poll):
		case <-ctx.Done():
			return domain.ErrSubscriptionClosed
		}
	}
}
