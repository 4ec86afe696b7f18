// Package app is the ledger's application layer: every use case once —
// a person's commands (registering, certificates, grants, suspensions,
// deaths: Persons), drafting, approving, rejecting and exporting a
// payroll batch, reconciling a bank return file, recording and settling
// overpayment claims (Payroll), issuing change notices (Notices) — with
// one command loop (load, fold, recognise a replayed
// command, decide, seal, append at the exact revision, retry a lost race)
// and one retry policy. The CLI, the HTTP API and the seed translate their
// input and output and call it; the domain decides; the adapters store,
// read and write files.
package app

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/google/uuid"
	"github.com/lushan-dpf/ledger/domain"
)

// Policy is the one retry policy of commands: how often a command that
// lost a race for its stream (another writer appended first) is decided
// again on the stream as it now stands, and how long it waits before each
// new attempt (doubling from Backoff). The loser of a race always decides
// again on what the winner did, so no retry can decide twice.
type Policy struct {
	Conflicts int
	Backoff   time.Duration
}

// DefaultPolicy retries a lost race 20 times, waiting 1 ms, 2 ms, … up to
// 64 ms — enough for a few dozen writers racing for one stream.
var DefaultPolicy = Policy{Conflicts: 20, Backoff: time.Millisecond}

// wait sleeps before attempt n (1-based) of a command that lost a race.
func (p Policy) wait(ctx context.Context, n int) error {
	d := p.Backoff << min(n-1, 6)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stream is a stream folded into a state S, and where it stands: the
// state of every event up to revision.
type stream[S any] struct {
	name     string
	state    S
	exists   bool
	revision uint64
	lastHash string
	evolve   func(*S, domain.Envelope)
}

func newStream[S any](name string, init S, evolve func(*S, domain.Envelope)) *stream[S] {
	return &stream[S]{name: name, state: init, evolve: evolve}
}

// recorded is a stream's folded state with every event of it by ID, so
// that a command run again finds what it recorded: the ID of a command's
// first event derives from its command ID (domain.EventID).
type recorded[S any] struct {
	folded S
	byID   map[uuid.UUID]domain.Envelope
}

// newRecordedStream is newStream for a state folded by evolve that keeps
// its events by ID.
func newRecordedStream[S any](name string, init S, evolve func(S, domain.Event) S) *stream[recorded[S]] {
	return newStream(name, recorded[S]{folded: init, byID: map[uuid.UUID]domain.Envelope{}}, func(s *recorded[S], env domain.Envelope) {
		s.folded = evolve(s.folded, env.Event)
		s.byID[env.ID] = env
	})
}

// ranBefore returns the first event the command of meta recorded, if it
// ran already.
func (r recorded[S]) ranBefore(meta domain.CommandMeta) (domain.Envelope, bool) {
	env, ok := r.byID[domain.EventID(meta.CommandID, 0)]
	return env, ok
}

// catchUp folds the events appended since the stream was last read.
func (s *stream[S]) catchUp(ctx context.Context, store domain.EventStore, reg *domain.Registry) error {
	from := uint64(0)
	if s.exists {
		from = s.revision + 1
	}
	for {
		recs, err := store.ReadStream(ctx, s.name, domain.Forwards, from, readPage)
		if errors.Is(err, domain.ErrStreamNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", s.name, err)
		}
		for _, rec := range recs {
			env, err := reg.DecodeEnvelope(rec)
			if err != nil {
				return err
			}
			s.evolve(&s.state, env)
			s.exists, s.revision, s.lastHash = true, rec.Revision, env.Meta.Hash
		}
		if len(recs) < readPage {
			return nil
		}
		from = s.revision + 1
	}
}

// readPage is how many events a stream read fetches at a time: with a
// long step's events near domain.MaxChunkBytes each, a page is at most
// ~26 MB, which the fold decodes and lets go before it reads the next.
const readPage = 128

// append seals events into the stream's chain and appends them at the
// revision the stream was folded to, then folds them into the state with
// their metadata as stored. The events themselves are folded as decided,
// in the decoded shape (domain.AsDecoded), not decoded again from what
// was just encoded: a chunk of a long step
// holds thousands of lines, and decoding them back would double the cost
// of writing them (every event type round-trips through JSON unchanged,
// which the domain's encoding tests hold). step names the append among
// the command's appends (see domain.SealStep).
func (s *stream[S]) append(ctx context.Context, x *runtime, meta domain.CommandMeta, step string, events []domain.Event) (domain.AppendResult, error) {
	data, err := domain.SealStep(meta, step, s.lastHash, events)
	if err != nil {
		return domain.AppendResult{}, err
	}
	res, err := x.store.Append(ctx, s.name, domain.ExpectNext(s.exists, s.revision), data...)
	if err != nil {
		return res, err
	}
	first := res.NextExpected + 1 - uint64(len(data))
	for i, d := range data {
		md, err := domain.DecodeMetadata(d.Metadata)
		if err != nil {
			return res, fmt.Errorf("%s@%d: %w", s.name, first+uint64(i), err)
		}
		env := domain.Envelope{ID: d.ID, Stream: s.name, Revision: first + uint64(i), Position: res.Position, Type: d.Type,
			Event: domain.AsDecoded(events[i]), Meta: md}
		s.evolve(&s.state, env)
		s.exists, s.revision, s.lastHash = true, env.Revision, env.Meta.Hash
	}
	return res, nil
}

// decide is the command loop on one stream: catch up, decide, append at
// the exact revision; when another writer appended first, catch up and
// decide again, as the policy allows. fn returning no events ends the loop
// without appending (zero result).
func decide[S any](ctx context.Context, x *runtime, s *stream[S], meta domain.CommandMeta, step func(rev uint64, exists bool) string,
	fn func(S) ([]domain.Event, error)) (domain.AppendResult, []domain.Event, error) {
	for attempt := 0; ; attempt++ {
		if err := s.catchUp(ctx, x.store, x.reg); err != nil {
			return domain.AppendResult{}, nil, err
		}
		events, err := fn(s.state)
		if err != nil || len(events) == 0 {
			return domain.AppendResult{}, events, err
		}
		res, err := s.append(ctx, x, meta, step(s.revision, s.exists), events)
		if errors.Is(err, domain.ErrConcurrency) && attempt < x.policy.Conflicts {
			if err := x.policy.wait(ctx, attempt+1); err != nil {
				return domain.AppendResult{}, nil, err
			}
			continue // another writer got there first: decide again on what it did
		}
		if err != nil {
			return domain.AppendResult{}, nil, fmt.Errorf("append %s: %w", s.name, err)
		}
		return res, events, nil
	}
}

// process appends, chunk after chunk, the events plan says are still to
// be appended to a stream — a long step such as reserving or issuing a
// batch's lines in one payments shard. Each chunk goes at the exact
// revision after the previous one; when another writer appended in
// between, the stream is caught up and planned again, so what is appended
// is always decided on the stream as it stands. Stopped anywhere (a crash,
// a lost connection), it resumes by running again: plan then yields only
// what is left. It returns where its last append landed (Start: it
// appended nothing).
func process[S any](ctx context.Context, x *runtime, s *stream[S], meta domain.CommandMeta, prefix string,
	plan func(S) ([]domain.Event, error), done func(domain.Event)) (domain.Position, error) {
	var last domain.Position
	conflicts := 0
	for {
		if err := s.catchUp(ctx, x.store, x.reg); err != nil {
			return last, err
		}
		events, err := plan(s.state)
		if err != nil || len(events) == 0 {
			return last, err
		}
		lost := false
		for _, ev := range events {
			res, err := s.append(ctx, x, meta, atRevision(prefix)(s.revision, s.exists), []domain.Event{ev})
			if errors.Is(err, domain.ErrConcurrency) && conflicts < x.policy.Conflicts {
				conflicts++
				if err := x.policy.wait(ctx, conflicts); err != nil {
					return last, err
				}
				lost = true
				break // plan again on what the other writer did
			}
			if err != nil {
				return last, fmt.Errorf("append %s: %w", s.name, err)
			}
			last = res.Position
			if done != nil {
				done(ev)
			}
		}
		if !lost {
			// Every event planned is appended and folded: what the plan
			// said was left is done (planning again, over every line of
			// the shard, would find nothing).
			return last, nil
		}
	}
}

// atRevision is the step name of an append by the revision it follows, so
// that each append of a long process has its own event IDs and a retry of
// the same append has the same ones.
func atRevision(prefix string) func(uint64, bool) string {
	return func(rev uint64, exists bool) string {
		if !exists {
			return prefix + "@new"
		}
		return fmt.Sprintf("%s@%d", prefix, rev)
	}
}

// once is the step name of an append a command makes once.
func once(name string) func(uint64, bool) string { return func(uint64, bool) string { return name } }

// runtime is what every use case needs: the event store, the registry
// that decodes its events, and the retry policy.
type runtime struct {
	store   domain.EventStore
	reg     *domain.Registry
	policy  Policy
	chunk   int // bytes of lines per event of a long step
	workers int // payment shards worked on at once
}

// newRuntime is a use case's runtime with the defaults: the one retry
// policy, chunks of domain.MaxChunkBytes, one worker.
func newRuntime(store domain.EventStore, reg *domain.Registry) runtime {
	return runtime{store: store, reg: reg, policy: DefaultPolicy, chunk: domain.MaxChunkBytes, workers: 1}
}

// eachShard runs fn for every payment shard, x.workers of them at once.
// The first error cancels the others' context and is returned.
func (x *runtime) eachShard(ctx context.Context, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(x.workers, 1))
	for i := range domain.PaymentShards {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// counter counts the lines of a step done by shards working at once.
type counter struct{ n atomic.Int64 }

// add counts n more and returns the count so far.
func (c *counter) add(n int) int { return int(c.n.Add(int64(n))) }
