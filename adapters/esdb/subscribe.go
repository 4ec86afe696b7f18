package esdbstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/lushan-dpf/ledger/adapters/internal/feed"
	"github.com/lushan-dpf/ledger/domain"
)

// Back-off for re-establishing a dropped subscription.
const (
	minBackoff = 50 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// SubscribeAll implements domain.EventStore. It subscribes to $all
// explicitly from the given position — from the start when there is none,
// since the client's default is the end — with a server-side filter that
// excludes system events or, given stream prefixes, passes only those
// streams. A dropped subscription is re-established from the last
// position delivered (or checkpointed) with back-off, so the consumer sees
// neither a gap nor a duplicate.
func (s *Store) SubscribeAll(ctx context.Context, from domain.Position, filter domain.Filter) (domain.Subscription, error) {
	ctx, cancel := context.WithCancel(ctx)
	inner, err := s.subscribe(ctx, from, filter)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("subscribe $all after %s: %w", from, translate(ctx, err))
	}
	f := feed.New(cancel, 256)
	go func() { f.Finish(s.pump(ctx, f, inner, from, filter)) }()
	return f, nil
}

func (s *Store) subscribe(ctx context.Context, from domain.Position, filter domain.Filter) (*esdb.Subscription, error) {
	opts := esdb.SubscribeToAllOptions{From: esdb.Start{}}
	if !from.IsStart() {
		opts.From = esdb.Position{Commit: from.Commit, Prepare: from.Prepare}
	}
	switch {
	case len(filter.StreamPrefixes) > 0:
		prefixes := make([]string, len(filter.StreamPrefixes))
		for i, p := range filter.StreamPrefixes {
			prefixes[i] = s.server(p)
		}
		opts.Filter = &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: prefixes}
	case s.prefix != "":
		opts.Filter = &esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Prefixes: []string{s.prefix}}
	default:
		opts.Filter = esdb.ExcludeSystemEventsFilter()
	}
	c := s.cli()
	sub, err := c.SubscribeToAll(ctx, opts)
	s.check(c, err)
	return sub, err
}

// pump moves events from the client's subscription to f, and opens a new
// subscription after a drop; it returns the error that ends the feed.
func (s *Store) pump(ctx context.Context, f *feed.Feed, inner *esdb.Subscription, pos domain.Position, filter domain.Filter) error {
	caughtUp := false
	backoff := minBackoff
	for {
		// Close the client subscription when ctx ends, so Recv returns.
		stop := context.AfterFunc(ctx, func() { _ = inner.Close() })
		var dropped error
		for dropped == nil {
			ev := inner.Recv()
			switch {
			case ev.SubscriptionDropped != nil:
				dropped = ev.SubscriptionDropped.Error
				if dropped == nil {
					dropped = errors.New("dropped")
				}
			case ev.EventAppeared != nil:
				backoff = minBackoff
				r := ev.EventAppeared.OriginalEvent()
				if r == nil {
					continue
				}
				p := domain.Position{Commit: r.Position.Commit, Prepare: r.Position.Prepare}
				if !pos.IsStart() && !pos.Less(p) {
					continue // delivered before a re-subscription
				}
				pos = p
				if !s.passes(r, filter) {
					continue
				}
				e := s.recorded(r)
				if !f.Send(ctx, domain.SubscriptionMessage{Event: &e}) {
					stop()
					return domain.ErrSubscriptionClosed
				}
			case ev.CheckPointReached != nil:
				// Everything up to here was scanned: resume after it.
				if p := (domain.Position{Commit: ev.CheckPointReached.Commit, Prepare: ev.CheckPointReached.Prepare}); pos.Less(p) {
					pos = p
				}
			case ev.CaughtUp != nil:
				if !caughtUp {
					caughtUp = true
					if !f.Send(ctx, domain.SubscriptionMessage{CaughtUp: true}) {
						stop()
						return domain.ErrSubscriptionClosed
					}
				}
			}
		}
		stop()
		_ = inner.Close()
		if ctx.Err() != nil {
			return domain.ErrSubscriptionClosed
		}
		s.log.Warn("eventstoredb subscription dropped; re-subscribing",
			slog.String("after", pos.String()), slog.String("error", dropped.Error()), slog.Duration("retry_in", backoff))
		for {
			if !feed.Sleep(ctx, backoff) {
				return domain.ErrSubscriptionClosed
			}
			backoff = min(2*backoff, maxBackoff)
			var err error
			if inner, err = s.subscribe(ctx, pos, filter); err == nil {
				break
			}
			if ctx.Err() != nil {
				return domain.ErrSubscriptionClosed
			}
			s.log.Warn("eventstoredb re-subscribe failed", slog.String("after", pos.String()),
				slog.String("error", err.Error()), slog.Duration("retry_in", backoff))
		}
	}
}
