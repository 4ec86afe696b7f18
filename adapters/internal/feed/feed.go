// Package feed is the consumer side of an event-store subscription, shared
// by the adapters: a producer goroutine Sends messages and Finishes once;
// the consumer Recvs and Closes. It implements domain.Subscription.
package feed

import (
	"context"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

var _ domain.Subscription = (*Feed)(nil)

// Feed buffers subscription messages between a producer and a consumer.
type Feed struct {
	msgs   chan domain.SubscriptionMessage
	done   chan struct{} // closed by Finish; err is set before
	err    error
	cancel context.CancelFunc
	once   sync.Once
}

// New returns a feed whose Close calls cancel (which must stop the
// producer) and waits for the producer to Finish.
func New(cancel context.CancelFunc, buffer int) *Feed {
	return &Feed{
		msgs:   make(chan domain.SubscriptionMessage, buffer),
		done:   make(chan struct{}),
		cancel: cancel,
	}
}

// Send hands m to the consumer, waiting for buffer space. It returns false
// when ctx ended first; the producer should then Finish and return.
func (f *Feed) Send(ctx context.Context, m domain.SubscriptionMessage) bool {
	select {
	case f.msgs <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// Finish ends the feed with err (domain.ErrSubscriptionClosed when it was
// closed); the consumer receives what was sent before, then err. The
// producer calls it exactly once, when it returns.
func (f *Feed) Finish(err error) {
	if err == nil {
		err = domain.ErrSubscriptionClosed
	}
	f.err = err
	close(f.done)
}

// Recv implements domain.Subscription: messages in order, then the
// producer's final error. A message not returned because ctx ended stays
// for the next call.
func (f *Feed) Recv(ctx context.Context) (domain.SubscriptionMessage, error) {
	select {
	case m := <-f.msgs:
		return m, nil
	default:
	}
	select {
	case m := <-f.msgs:
		return m, nil
	case <-f.done:
		select { // drain what was sent before the end
		case m := <-f.msgs:
			return m, nil
		default:
			return domain.SubscriptionMessage{}, f.err
		}
	case <-ctx.Done():
		return domain.SubscriptionMessage{}, ctx.Err()
	}
}

// Close implements domain.Subscription.
func (f *Feed) Close() error {
	f.once.Do(f.cancel)
	<-f.done
	return nil
}

// Sleep waits d or until ctx ends; it reports whether the full d passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
