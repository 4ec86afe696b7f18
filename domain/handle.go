package domain

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"github.com/google/uuid"
)

// Handler executes beneficiary commands: it loads the person's stream,
// decides, seals the events into the stream's hash chain and appends them
// at the exact revision it loaded. It uses the event-store port and does no
// I/O of its own.
type Handler struct {
	Store    EventStore
	Registry *Registry
	// Retries is how many times a command is decided again after losing a
	// race for its stream (default 3).
	Retries int

	// states caches folded streams for Execute (nil: none). A cached state
	// is only a starting point: Execute still reads the stream, from the
	// revision after the cached one, so it decides on the stream as it
	// stands — it only saves decoding and folding the events it had seen.
	states *stateCache
}

// DefaultStateCache is how many folded person streams NewHandler keeps.
const DefaultStateCache = 10_000

// NewHandler returns a handler over store with the beneficiary registry
// and a cache of DefaultStateCache folded streams.
func NewHandler(store EventStore) *Handler {
	return &Handler{Store: store, Registry: NewBeneficiaryRegistry(), Retries: 3, states: newStateCache(DefaultStateCache)}
}

// folded is a stream folded up to a revision, with what Execute needs to
// recognise a command that already ran: for the first event ID of every
// command in the stream, the result its append had.
type folded struct {
	state    Beneficiary
	exists   bool
	revision uint64
	lastHash string
	commands map[uuid.UUID]AppendResult // shared between states: never modified, only copied
	lastCmd  string                     // command ID of the last event
	lastKey  uuid.UUID                  // first event ID of that command
}

// fold applies recorded events to f and returns the result; f is not
// modified (its state is persistent, its map copied before it changes).
func (h *Handler) fold(f folded, recs []RecordedEvent) (folded, error) {
	if len(recs) == 0 {
		return f, nil
	}
	cmds := make(map[uuid.UUID]AppendResult, len(f.commands)+len(recs))
	maps.Copy(cmds, f.commands)
	f.commands = cmds
	for _, rec := range recs {
		env, err := h.Registry.DecodeEnvelope(rec)
		if err != nil {
			return f, err
		}
		f.state = Evolve(f.state, env.Event)
		f.exists, f.revision, f.lastHash = true, rec.Revision, env.Meta.Hash
		if env.Meta.CommandID != f.lastCmd || f.lastCmd == "" {
			f.lastCmd, f.lastKey = env.Meta.CommandID, rec.ID
		}
		cmds[f.lastKey] = AppendResult{NextExpected: rec.Revision, Position: rec.Position}
	}
	return f, nil
}

// loadForCommand folds the person's stream, starting from the cached
// fold when there is one and reading only the events after it.
func (h *Handler) loadForCommand(ctx context.Context, id PersonID) (folded, error) {
	stream := id.Stream()
	f, cached := h.states.get(stream)
	from := uint64(0)
	if cached {
		from = f.revision + 1
	}
	recs, err := h.Store.ReadStream(ctx, stream, Forwards, from, 0)
	if errors.Is(err, ErrStreamNotFound) {
		h.states.drop(stream)
		return folded{}, nil
	}
	if err != nil {
		return folded{}, err
	}
	if f, err = h.fold(f, recs); err != nil {
		return folded{}, err
	}
	if f.exists {
		h.states.put(stream, f)
	}
	return f, nil
}

// stateCache is a bounded map of folded streams, safe for concurrent use.
// When full it forgets a tenth of its entries, chosen at random.
type stateCache struct {
	mu  sync.Mutex
	max int
	m   map[string]folded
}

func newStateCache(max int) *stateCache {
	return &stateCache{max: max, m: make(map[string]folded)}
}

func (c *stateCache) get(stream string) (folded, bool) {
	if c == nil {
		return folded{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.m[stream]
	return f, ok
}

func (c *stateCache) put(stream string, f folded) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.m[stream]; ok && old.revision > f.revision {
		return // a concurrent command folded further already
	}
	if _, ok := c.m[stream]; !ok && len(c.m) >= c.max {
		n := max(c.max/10, 1)
		for k := range c.m {
			delete(c.m, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.m[stream] = f
}

func (c *stateCache) drop(stream string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, stream)
}

// Loaded is a stream folded into state.
type Loaded struct {
	State    Beneficiary
	Exists   bool
	Revision uint64 // of the last event, when Exists
	LastHash string // Hash of the last event; "" for a new stream
	Events   []Envelope
}

// Load reads and folds a person's stream. A person with no stream loads as
// the zero state with Exists false.
func (h *Handler) Load(ctx context.Context, id PersonID) (Loaded, error) {
	var l Loaded
	evs, err := h.Store.ReadStream(ctx, id.Stream(), Forwards, 0, 0)
	if errors.Is(err, ErrStreamNotFound) {
		return l, nil
	}
	if err != nil {
		return l, err
	}
	for _, rec := range evs {
		env, err := h.Registry.DecodeEnvelope(rec)
		if err != nil {
			return l, err
		}
		l.State = Evolve(l.State, env.Event)
		l.Events = append(l.Events, env)
		l.Exists, l.Revision, l.LastHash = true, rec.Revision, env.Meta.Hash
	}
	return l, nil
}

// Execute runs cmd against the person's stream and returns where its
// events landed. Executing a command ID that already ran returns the
// original result and appends nothing, even if the command would now be
// refused (e.g. RegisterPerson for a person it registered).
func (h *Handler) Execute(ctx context.Context, id PersonID, meta CommandMeta, cmd Command) (AppendResult, error) {
	if err := meta.Validate(); err != nil {
		return AppendResult{}, err
	}
	firstID := EventID(meta.CommandID, 0)
	retries := max(h.Retries, 0)
	for attempt := 0; ; attempt++ {
		f, err := h.loadForCommand(ctx, id)
		if err != nil {
			return AppendResult{}, fmt.Errorf("load %s: %w", id.Stream(), err)
		}
		if res, ok := f.commands[firstID]; ok {
			return res, nil // this command ran already
		}
		events, err := Decide(f.state, cmd, meta.Now)
		if err != nil {
			return AppendResult{}, err
		}
		data, err := Seal(meta, f.lastHash, events)
		if err != nil {
			return AppendResult{}, err
		}
		res, err := h.Store.Append(ctx, id.Stream(), ExpectNext(f.exists, f.revision), data...)
		if errors.Is(err, ErrConcurrency) && attempt < retries {
			continue // another command got there first: decide again on the new state
		}
		return res, err
	}
}
