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
	"sync"
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
// A stream of more than a page is read and decoded a page ahead of the
// fold, so that the store's reading, the decoding and the folding of a
// long stream run at once; the pages are folded in order, and an error
// stops the fold where it occurred, after the events before it.
func (s *stream[S]) catchUp(ctx context.Context, store domain.EventStore, reg *domain.Registry) error {
	from := uint64(0)
	if s.exists {
		from = s.revision + 1
	}
	first := readDecoded(ctx, store, reg, s.name, from)
	if err := s.foldPage(first); err != nil || !first.more {
		return err
	}
	pages := make(chan decodedPage, 1)
	next := s.revision + 1
	go func() {
		defer close(pages)
		for from := next; ; {
			p := readDecoded(ctx, store, reg, s.name, from)
			pages <- p
			if p.err != nil || !p.more {
				return
			}
			from = p.envs[len(p.envs)-1].Revision + 1
		}
	}()
	var err error
	for p := range pages {
		if err == nil {
			err = s.foldPage(p)
		}
	}
	return err
}

// decodedPage is a page of a stream read and decoded: its events up to
// the first that failed to read or decode, and that failure; more when
// the stream may hold events after it.
type decodedPage struct {
	envs []domain.Envelope
	err  error
	more bool
}

func readDecoded(ctx context.Context, store domain.EventStore, reg *domain.Registry, name string, from uint64) decodedPage {
	recs, err := store.ReadStream(ctx, name, domain.Forwards, from, readPage)
	if errors.Is(err, domain.ErrStreamNotFound) {
		return decodedPage{}
	}
	if err != nil {
		return decodedPage{err: fmt.Errorf("read %s: %w", name, err)}
	}
	p := decodedPage{envs: make([]domain.Envelope, 0, len(recs)), more: len(recs) == readPage}
	for _, rec := range recs {
		env, err := reg.DecodeEnvelope(rec)
		if err != nil {
			p.err, p.more = err, false
			break
		}
		p.envs = append(p.envs, env)
	}
	return p
}

// foldPage folds a page's events and returns its error.
func (s *stream[S]) foldPage(p decodedPage) error {
	for _, env := range p.envs {
		s.evolve(&s.state, env)
		s.exists, s.revision, s.lastHash = true, env.Revision, env.Meta.Hash
	}
	return p.err
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
	events, err := x.sealPersonal(ctx, s.name, events)
	if err != nil {
		return domain.AppendResult{}, err
	}
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
//
// Each event is sealed as if appended alone, with the step name of the
// revision it follows (atRevision), so its ID and hash do not depend on
// how the events are grouped into appends. While one append is in
// flight, the events before it are folded and the next append is sealed
// for the revision the stream will stand at once it lands: the store and
// the command work at once instead of taking turns. A sealed append that
// is not sent (the one before it lost a race or failed) is dropped.
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
		if events, err = x.sealPersonal(ctx, s.name, events); err != nil {
			return last, err
		}
		z := &sealer{meta: meta, step: atRevision(prefix), events: events, limit: x.appendLimit(),
			at: chainEnd{exists: s.exists, revision: s.revision, hash: s.lastHash}}
		next, err := z.pack()
		if err != nil {
			return last, err
		}
		lost := false
		var landed *sealedAppend // appended, not yet folded
		for next != nil {
			cur := next
			next = nil
			var wg sync.WaitGroup
			var sealErr error
			wg.Add(1)
			go func(folding *sealedAppend) {
				defer wg.Done()
				if folding != nil {
					s.fold(folding)
				}
				next, sealErr = z.pack()
			}(landed)
			res, err := x.store.Append(ctx, s.name, domain.ExpectNext(cur.from.exists, cur.from.revision), cur.data...)
			wg.Wait()
			if landed != nil {
				for _, ev := range landed.events {
					if done != nil {
						done(ev)
					}
				}
				landed = nil
			}
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
			cur.res, last = res, res.Position
			if sealErr != nil || res.NextExpected != cur.to.revision {
				// The next append was sealed for where the stream would
				// stand, not where it stands (or not sealed at all): plan
				// again from here.
				s.fold(cur)
				for _, ev := range cur.events {
					if done != nil {
						done(ev)
					}
				}
				if sealErr != nil {
					return last, sealErr
				}
				lost = true
				break
			}
			landed = cur
		}
		if landed != nil {
			s.fold(landed)
			for _, ev := range landed.events {
				if done != nil {
					done(ev)
				}
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

// chainEnd is where a stream stands: whether it exists, its last
// revision and the hash of its last event.
type chainEnd struct {
	exists   bool
	revision uint64
	hash     string
}

// sealedAppend is one append of process: its events, sealed to follow the
// stream at from and, once landed at res, leaving it at to.
type sealedAppend struct {
	events   []domain.Event
	data     []domain.EventData
	meta     []domain.Metadata // each event's, as data holds it
	from, to chainEnd
	size     int // bytes of data and metadata
	res      domain.AppendResult
}

// sealer seals the events of a process one at a time, each at the
// revision the one before it leaves, and groups them into appends of at
// most limit bytes (an event larger than limit goes alone).
type sealer struct {
	meta    domain.CommandMeta
	step    func(rev uint64, exists bool) string
	events  []domain.Event
	limit   int
	at      chainEnd      // where the events sealed so far leave the stream
	pending *sealedAppend // one event sealed that did not fit the last append
}

// pack returns the next append, or nil when every event is sealed.
func (z *sealer) pack() (*sealedAppend, error) {
	var out *sealedAppend
	for {
		if z.pending == nil {
			if len(z.events) == 0 {
				return out, nil
			}
			one, err := z.seal(z.events[0])
			if err != nil {
				return nil, err
			}
			z.events, z.pending = z.events[1:], one
		}
		one := z.pending
		if out == nil {
			out = one
		} else {
			if out.size+one.size > z.limit {
				return out, nil
			}
			out.events = append(out.events, one.events...)
			out.data = append(out.data, one.data...)
			out.meta = append(out.meta, one.meta...)
			out.to, out.size = one.to, out.size+one.size
		}
		z.pending = nil
	}
}

// seal seals one event to follow the events sealed before it.
func (z *sealer) seal(ev domain.Event) (*sealedAppend, error) {
	data, err := domain.SealStep(z.meta, z.step(z.at.revision, z.at.exists), z.at.hash, []domain.Event{ev})
	if err != nil {
		return nil, err
	}
	md, err := domain.DecodeMetadata(data[0].Metadata)
	if err != nil {
		return nil, err
	}
	to := chainEnd{exists: true, revision: z.at.revision + 1, hash: md.Hash}
	if !z.at.exists {
		to.revision = 0
	}
	a := &sealedAppend{events: []domain.Event{ev}, data: data, meta: []domain.Metadata{md}, from: z.at, to: to,
		size: len(data[0].Data) + len(data[0].Metadata)}
	z.at = to
	return a, nil
}

// fold folds an append that landed into the stream's state, with its
// metadata as stored and its events as decided (see append).
func (s *stream[S]) fold(a *sealedAppend) {
	first := a.res.NextExpected + 1 - uint64(len(a.data))
	for i, d := range a.data {
		env := domain.Envelope{ID: d.ID, Stream: s.name, Revision: first + uint64(i), Position: a.res.Position, Type: d.Type,
			Event: domain.AsDecoded(a.events[i]), Meta: a.meta[i]}
		s.evolve(&s.state, env)
		s.exists, s.revision, s.lastHash = true, env.Revision, env.Meta.Hash
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
	chunk   int  // bytes of lines per event of a long step
	pack    bool // a long step's events share appends up to domain.MaxAppendBytes
	workers int  // payment shards worked on at once
}

// newRuntime is a use case's runtime with the defaults: the one retry
// policy, chunks of domain.MaxChunkBytes, one worker.
func newRuntime(store domain.EventStore, reg *domain.Registry) runtime {
	reg.WithKeys(store.PersonalKeys())
	return runtime{store: store, reg: reg, policy: DefaultPolicy, chunk: domain.MaxChunkBytes, workers: 1, pack: true}
}

// sealPersonal seals the personal data of events bound for stream with
// the store's keys (domain.SealPersonal); the events keep their data in
// clear for folding.
func (x *runtime) sealPersonal(ctx context.Context, stream string, events []domain.Event) ([]domain.Event, error) {
	person, _ := domain.PersonIDFromStream(stream)
	return domain.SealPersonal(ctx, x.store.PersonalKeys(), person, events)
}

// appendLimit is how many bytes of events one append of a long step may
// carry: domain.MaxAppendBytes, or one event each when the events are
// written smaller than the default (WithChunkBytes: a store that takes
// smaller appends).
func (x *runtime) appendLimit() int {
	if x.pack && x.chunk >= domain.MaxChunkBytes {
		return domain.MaxAppendBytes
	}
	return 0
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
