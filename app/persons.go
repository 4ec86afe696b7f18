package app

import (
	"context"
	"fmt"
	"maps"
	"sync"

	"github.com/google/uuid"

	"github.com/lushan-dpf/ledger/domain"
)

// Persons is the use cases of a person's record — registering, the
// disability certificate, grants and their maker-checker approval,
// suspensions, terminations, moves and deaths: every domain.Command, run
// through the one command loop (decide) with the one retry policy, on the
// person's own stream.
type Persons struct {
	x runtime
	// payments reads and appends to the payment shards: a death retracted
	// cancels the overpayment claims it produced (cancelClaims).
	payments runtime
	// states caches folded streams (nil: none). A cached fold is only a
	// starting point: a command still reads the stream from the revision
	// after it, so it decides on the stream as it stands — the cache only
	// saves decoding and folding the events it had seen.
	states *foldCache
}

// PersonCache is how many folded person streams NewPersons keeps.
const PersonCache = 10_000

// NewPersons returns the person use cases over a store, with a cache of
// PersonCache folded streams.
func NewPersons(store domain.EventStore) *Persons {
	return &Persons{x: newRuntime(store, domain.NewBeneficiaryRegistry()), payments: newRuntime(store, domain.NewLedgerRegistry()),
		states: newFoldCache(PersonCache)}
}

// WithPolicy returns p retrying lost races as pol says.
func (p *Persons) WithPolicy(pol Policy) *Persons {
	q := *p
	q.x.policy, q.payments.policy = pol, pol
	return &q
}

// person is a person's stream folded, with what recognises a command run
// again: for the first event ID of every command in the stream, the
// result its append had.
type person struct {
	domain.Beneficiary
	commands map[uuid.UUID]domain.AppendResult
	shared   bool      // commands is shared with a cached fold: copy it before it changes
	lastCmd  string    // command ID of the last event
	lastKey  uuid.UUID // first event ID of that command
}

func newPerson() person { return person{commands: map[uuid.UUID]domain.AppendResult{}} }

func evolvePerson(p *person, env domain.Envelope) {
	// Evolve returns a new state and leaves the one it is given as it was,
	// so a cached fold's state is never changed through a copy of it.
	p.Beneficiary = domain.Evolve(p.Beneficiary, env.Event)
	if p.shared {
		p.commands, p.shared = maps.Clone(p.commands), false
	}
	if env.Meta.CommandID != p.lastCmd || p.lastCmd == "" {
		p.lastCmd, p.lastKey = env.Meta.CommandID, env.ID
	}
	p.commands[p.lastKey] = domain.AppendResult{NextExpected: env.Revision, Position: env.Position}
}

// Execute runs cmd against the person's stream and returns where its
// events landed. A command ID that already ran returns the original
// result and appends nothing, even if the command would now be refused
// (e.g. RegisterPerson for a person it registered).
//
// A death retracted (domain.RetractDeath) reinstates what the death ended;
// Execute then cancels, in each payment shard of the person's programs,
// what the claims the death produced still ask (cancelClaims), and returns
// the position of the last cancellation. Run again after a crash between
// the two, the command finds the retraction done and finishes the
// cancellations.
func (p *Persons) Execute(ctx context.Context, id domain.PersonID, meta domain.CommandMeta, cmd domain.Command) (domain.AppendResult, error) {
	if err := meta.Validate(); err != nil {
		return domain.AppendResult{}, err
	}
	first := domain.EventID(meta.CommandID, 0)
	s := p.states.get(id.Stream())
	var replayed *domain.AppendResult
	res, _, err := decide(ctx, &p.x, s, meta, once(""), func(st person) ([]domain.Event, error) {
		if r, ok := st.commands[first]; ok {
			replayed = &r // this command ran already
			return nil, nil
		}
		return domain.Decide(st.Beneficiary, cmd, meta.Now)
	})
	p.states.put(s)
	if replayed != nil {
		res, err = *replayed, nil
	}
	if err != nil {
		return res, err
	}
	switch cmd.(type) {
	case domain.RetractDeath, *domain.RetractDeath:
		at, err := p.cancelClaims(ctx, meta, id, s.state.Beneficiary)
		if err != nil {
			return res, fmt.Errorf("death retracted; cancelling the claims it produced: %w (run the same command again to finish)", err)
		}
		if res.Position.Less(at) {
			res.Position = at
		}
	}
	return res, nil
}

// Loaded is a person's stream folded, with its events.
type Loaded struct {
	State    domain.Beneficiary
	Exists   bool
	Revision uint64 // of the last event, when Exists
	LastHash string // Hash of the last event; "" for a new stream
	Events   []domain.Envelope
}

// Load reads and folds a person's whole stream, keeping its events. A
// person with no stream loads as the zero state with Exists false.
func (p *Persons) Load(ctx context.Context, id domain.PersonID) (Loaded, error) {
	var l Loaded
	s := newStream(id.Stream(), l, func(l *Loaded, env domain.Envelope) {
		l.State = domain.Evolve(l.State, env.Event)
		l.Events = append(l.Events, env)
	})
	if err := s.catchUp(ctx, p.x.store, p.x.reg); err != nil {
		return Loaded{}, err
	}
	l = s.state
	l.Exists, l.Revision, l.LastHash = s.exists, s.revision, s.lastHash
	return l, nil
}

// foldCache is a bounded map of folded person streams, safe for
// concurrent use. When full it forgets a tenth of its entries, chosen at
// random.
type foldCache struct {
	mu  sync.Mutex
	max int
	m   map[string]stream[person]
}

func newFoldCache(max int) *foldCache {
	return &foldCache{max: max, m: make(map[string]stream[person])}
}

// get returns a copy of the stream's cached fold to go on from, or a new
// fold of it.
func (c *foldCache) get(name string) *stream[person] {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[name]
	if !ok {
		return newStream(name, newPerson(), evolvePerson)
	}
	s.state.shared = true
	return &s
}

// put keeps a fold of a stream that exists, unless a fold further along
// is kept already.
func (c *foldCache) put(s *stream[person]) {
	if !s.exists {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old, ok := c.m[s.name]
	if ok && old.revision > s.revision {
		return // a concurrent command folded further already
	}
	if !ok && len(c.m) >= c.max {
		n := max(c.max/10, 1)
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	s.state.shared = true // the caller's copy and the kept one share commands
	c.m[s.name] = *s
}

// State returns a person's stream folded (the zero state when it does not
// exist), going on from the cached fold when there is one.
func (p *Persons) State(ctx context.Context, id domain.PersonID) (domain.Beneficiary, error) {
	s := p.states.get(id.Stream())
	if err := s.catchUp(ctx, p.x.store, p.x.reg); err != nil {
		return domain.Beneficiary{}, err
	}
	p.states.put(s)
	return s.state.Beneficiary, nil
}
