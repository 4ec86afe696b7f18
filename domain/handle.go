package domain

import (
	"context"
	"errors"
	"fmt"

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
}

// NewHandler returns a handler over store with the beneficiary registry.
func NewHandler(store EventStore) *Handler {
	return &Handler{Store: store, Registry: NewBeneficiaryRegistry(), Retries: 3}
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
		l, err := h.Load(ctx, id)
		if err != nil {
			return AppendResult{}, fmt.Errorf("load %s: %w", id.Stream(), err)
		}
		if res, ok := alreadyExecuted(l, firstID); ok {
			return res, nil
		}
		events, err := Decide(l.State, cmd, meta.Now)
		if err != nil {
			return AppendResult{}, err
		}
		data, err := Seal(meta, l.LastHash, events)
		if err != nil {
			return AppendResult{}, err
		}
		res, err := h.Store.Append(ctx, id.Stream(), ExpectNext(l.Exists, l.Revision), data...)
		if errors.Is(err, ErrConcurrency) && attempt < retries {
			continue // another command got there first: decide again on the new state
		}
		return res, err
	}
}

// alreadyExecuted finds the events of a command that already ran.
func alreadyExecuted(l Loaded, firstID uuid.UUID) (AppendResult, bool) {
	for i, e := range l.Events {
		if e.ID != firstID {
			continue
		}
		last := i
		for last+1 < len(l.Events) && l.Events[last+1].Meta.CommandID == e.Meta.CommandID {
			last++
		}
		return AppendResult{NextExpected: l.Events[last].Revision, Position: l.Events[last].Position}, true
	}
	return AppendResult{}, false
}
