package domain

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Event is a domain event: a fact in the past tense. EventType returns its
// stable, versioned type name, e.g. "beneficiary.PersonRegistered.v2". Type
// names are constants, never derived from Go type names, and never change
// once events of that type have been written.
type Event interface {
	EventType() string
}

// Effective is implemented by events that take effect on a business date
// other than the day they are recorded (a backdated grant, a death recorded
// late). The envelope copies it into Metadata.EffectiveDate.
type Effective interface {
	EffectiveOn() Date
}

// Metadata is the envelope every event carries besides its data. It is
// stored as the event's metadata (JSON) in either event store.
type Metadata struct {
	Actor         string    `json:"actor"`
	Role          string    `json:"role"`
	CommandID     string    `json:"command_id"`
	CorrelationID string    `json:"correlation_id"`
	CausationID   string    `json:"causation_id,omitempty"`
	RecordedAt    time.Time `json:"recorded_at"`             // system time
	EffectiveDate Date      `json:"effective_date,omitzero"` // business time
	Reason        string    `json:"reason,omitempty"`        // free text from the user
	SchemaVersion int       `json:"schema_version"`          // the N of the type's ".vN"
	PrevHash      string    `json:"prev_hash"`               // Hash of the stream's previous event; "" for the first
	Hash          string    `json:"hash"`                    // see ComputeHash
}

// CommandMeta is what the caller of a command supplies for the envelope.
type CommandMeta struct {
	// CommandID identifies the command; event IDs derive from it, so a
	// retried command produces the same events and the store appends
	// nothing new.
	CommandID     string
	Actor         string
	Role          string
	CorrelationID string // defaults to CommandID
	CausationID   string
	Reason        string
	Now           time.Time // recorded-at (system time)
}

// Validate checks the fields every command needs.
func (m CommandMeta) Validate() error {
	switch {
	case strings.TrimSpace(m.CommandID) == "":
		return Invalid("command_id", "is required")
	case len(m.CommandID) > 200:
		return Invalid("command_id", "is longer than 200 characters")
	case strings.TrimSpace(m.Actor) == "":
		return Invalid("actor", "is required")
	case strings.TrimSpace(m.Role) == "":
		return Invalid("role", "is required")
	case m.Now.IsZero():
		return Invalid("now", "is required")
	}
	return nil
}

// eventIDNamespace is the UUIDv5 namespace for event IDs. Never change it:
// it would make retried commands append their events a second time.
var eventIDNamespace = uuid.MustParse("6f1c3a52-8d0e-5b4a-9c61-2f7e0d9b3a10")

// EventID returns the deterministic ID of the i-th event produced by the
// command commandID.
func EventID(commandID string, i int) uuid.UUID {
	return uuid.NewSHA1(eventIDNamespace, []byte(commandID+"#"+strconv.Itoa(i)))
}

// Envelope is an event with its identity and metadata.
type Envelope struct {
	ID       uuid.UUID
	Stream   string
	Revision uint64
	Position Position
	Type     string
	Event    Event
	Meta     Metadata
}

// Seal wraps the events a command decided into envelopes, chaining their
// hashes from prevHash (the Hash of the stream's current last event, "" for
// a new stream), and encodes them for appending.
func Seal(meta CommandMeta, prevHash string, events []Event) ([]EventData, error) {
	return SealStep(meta, "", prevHash, events)
}

// SealStep is Seal for one of several appends a command makes (a payroll
// batch is drafted shard by shard): the event IDs derive from the command
// ID and step, so each append of the command has its own IDs and the same
// step of a retried command has the same ones. The metadata still names
// the command. Step "" is Seal.
func SealStep(meta CommandMeta, step string, prevHash string, events []Event) ([]EventData, error) {
	if err := meta.Validate(); err != nil {
		return nil, err
	}
	corr := meta.CorrelationID
	if corr == "" {
		corr = meta.CommandID
	}
	out := make([]EventData, 0, len(events))
	for i, ev := range events {
		typ := ev.EventType()
		ver, err := SchemaVersion(typ)
		if err != nil {
			return nil, err
		}
		data, err := encodeEvent(ev)
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", typ, err)
		}
		md := Metadata{
			Actor:         meta.Actor,
			Role:          meta.Role,
			CommandID:     meta.CommandID,
			CorrelationID: corr,
			CausationID:   meta.CausationID,
			RecordedAt:    meta.Now.UTC(),
			Reason:        meta.Reason,
			SchemaVersion: ver,
			PrevHash:      prevHash,
		}
		if e, ok := ev.(Effective); ok {
			md.EffectiveDate = e.EffectiveOn()
		}
		md.Hash, err = ComputeHash(typ, data, md)
		if err != nil {
			return nil, fmt.Errorf("hash %s: %w", typ, err)
		}
		mdJSON, err := json.Marshal(md)
		if err != nil {
			return nil, fmt.Errorf("encode metadata: %w", err)
		}
		idKey := meta.CommandID
		if step != "" {
			idKey += "/" + step
		}
		out = append(out, EventData{ID: EventID(idKey, i), Type: typ, Data: data, Metadata: mdJSON})
		prevHash = md.Hash
	}
	return out, nil
}

// ComputeHash returns the hex SHA-256 over the event's type, its data
// exactly as stored, and its metadata without Hash (as json.Marshal writes
// the Metadata struct, which is deterministic), separated by NUL bytes. The
// metadata includes PrevHash, so each event's hash covers its
// predecessor's and a stream forms a chain: altering any byte of a stored
// event — even re-formatting its JSON — breaks every hash after it. Both
// stores keep event data and metadata byte for byte.
func ComputeHash(typ string, data []byte, md Metadata) (string, error) {
	md.Hash = ""
	mdJSON, err := json.Marshal(md)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	h.Write([]byte(typ))
	h.Write([]byte{0})
	h.Write(data)
	h.Write([]byte{0})
	h.Write(mdJSON)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// VerifyHash recomputes a stored event's hash and checks it against the one
// in its metadata and against the expected previous hash.
func VerifyHash(ev RecordedEvent, prevHash string) (Metadata, error) {
	md, err := DecodeMetadata(ev.Metadata)
	if err != nil {
		return md, err
	}
	if md.PrevHash != prevHash {
		return md, fmt.Errorf("%s@%d: prev_hash %.12s does not match previous event's hash %.12s", ev.Stream, ev.Revision, md.PrevHash, prevHash)
	}
	want, err := ComputeHash(ev.Type, ev.Data, md)
	if err != nil {
		return md, fmt.Errorf("%s@%d: %w", ev.Stream, ev.Revision, err)
	}
	if want != md.Hash {
		return md, fmt.Errorf("%s@%d: hash %.12s does not match content (computed %.12s)", ev.Stream, ev.Revision, md.Hash, want)
	}
	return md, nil
}

// DecodeMetadata parses an event's stored metadata.
func DecodeMetadata(b []byte) (Metadata, error) {
	var md Metadata
	if err := json.Unmarshal(b, &md); err != nil {
		return md, fmt.Errorf("decode metadata: %w", err)
	}
	return md, nil
}

// AsDecoded returns e in the shape the registry decodes events to: e itself
// when it is a pointer, else a pointer to a copy of e. It is for code that
// folds the events it has just decided (values) without reading them back.
func AsDecoded(e Event) Event {
	v := reflect.ValueOf(e)
	if v.Kind() == reflect.Pointer {
		return e
	}
	p := reflect.New(v.Type())
	p.Elem().Set(v)
	return p.Interface().(Event)
}

// EventCategory returns the category of an event type name, the part
// before its first dot: "beneficiary" for "beneficiary.PersonDied.v1".
func EventCategory(typ string) string {
	category, _, _ := strings.Cut(typ, ".")
	return category
}

// SchemaVersion returns N from a type name ending in ".vN".
func SchemaVersion(typ string) (int, error) {
	i := strings.LastIndex(typ, ".v")
	if i < 0 {
		return 0, Invalid("type", "%q has no .vN version suffix", typ)
	}
	n, err := strconv.Atoi(typ[i+2:])
	if err != nil || n < 1 {
		return 0, Invalid("type", "%q has no .vN version suffix", typ)
	}
	return n, nil
}

// Registry decodes stored events by type name, upcasting older schema
// versions to the current one first.
//
// The one decoded shape: the registry decodes every event to a pointer to
// its struct (*PersonRegistered, *BatchOpened, …), and every consumer of
// events — folds, projections, time travel, the chain checker — switches
// on those pointers and on nothing else. Deciders return values; code that
// folds events it has just decided, without reading them back, turns them
// into the decoded shape first (AsDecoded).
type Registry struct {
	types     map[string]func() Event
	upcasters map[string]upcaster // by the type name they read
	// keys opens the personal data of the events decoded; nil leaves it
	// sealed (their fields in clear empty).
	keys PersonalKeys
}

// WithKeys has the registry open personal data with keys (see
// PersonalKeys) and returns it. Call it before the registry is shared.
func (r *Registry) WithKeys(keys PersonalKeys) *Registry {
	r.keys = keys
	return r
}

// Keys returns the keys the registry opens personal data with.
func (r *Registry) Keys() PersonalKeys { return r.keys }

type upcaster struct {
	to string
	fn func(data []byte) ([]byte, error)
}

// NewRegistry returns a registry of the given event prototypes; each
// function returns a new zero value of one event type, as a pointer to its
// struct (the decoded shape).
func NewRegistry(protos ...func() Event) *Registry {
	r := &Registry{types: map[string]func() Event{}, upcasters: map[string]upcaster{}}
	r.Add(protos...)
	return r
}

// Add registers more event prototypes.
func (r *Registry) Add(protos ...func() Event) {
	for _, p := range protos {
		e := p()
		if v := reflect.ValueOf(e); v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
			panic(fmt.Sprintf("domain: event prototype %T is not a pointer to a struct", e))
		}
		typ := e.EventType()
		if _, dup := r.types[typ]; dup {
			panic("domain: event type registered twice: " + typ)
		}
		r.types[typ] = p
	}
}

// Upcast registers fn to turn data of type from into data of type to.
func (r *Registry) Upcast(from, to string, fn func(data []byte) ([]byte, error)) {
	r.upcasters[from] = upcaster{to: to, fn: fn}
}

// Types returns every current type name the registry decodes.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.types))
	for t := range r.types {
		out = append(out, t)
	}
	return out
}

// Decode returns the event of type typ encoded in data, upcast to the
// current version. An unknown type returns an error wrapping ErrInvalid.
func (r *Registry) Decode(typ string, data []byte) (Event, error) {
	for range 16 { // bound the upcast chain
		if newEvent, ok := r.types[typ]; ok {
			// Unknown fields are ignored: a schema may gain a field with a
			// safe zero value without a new version, and a reader that
			// predates it must still read the event.
			ev := newEvent()
			if f, ok := ev.(fastDecoder); ok && f.decodeJSON(data) {
				return ev, nil
			}
			ev = newEvent() // not in the form json.Marshal writes: read it as encoding/json does
			if err := json.Unmarshal(data, ev); err != nil {
				return nil, fmt.Errorf("decode %s: %w", typ, err)
			}
			if err := r.open(ev); err != nil {
				return nil, fmt.Errorf("decode %s: %w", typ, err)
			}
			return ev, nil
		}
		up, ok := r.upcasters[typ]
		if !ok {
			break
		}
		var err error
		if data, err = up.fn(data); err != nil {
			return nil, fmt.Errorf("upcast %s to %s: %w", typ, up.to, err)
		}
		typ = up.to
	}
	return nil, Invalid("type", "unknown event type %q", typ)
}

// open opens the personal data of a decoded event; a person's erasure
// makes the keys forget a key this process may still hold.
func (r *Registry) open(ev Event) error {
	if e, ok := ev.(*PersonErased); ok && r.keys != nil {
		r.keys.Forget(e.PersonID)
	}
	if o, ok := ev.(personalOpener); ok {
		return o.openPersonal(context.Background(), r.keys)
	}
	return nil
}

// DecodeEnvelope decodes a stored event with its metadata.
func (r *Registry) DecodeEnvelope(ev RecordedEvent) (Envelope, error) {
	e, err := r.Decode(ev.Type, ev.Data)
	if err != nil {
		return Envelope{}, fmt.Errorf("%s@%d: %w", ev.Stream, ev.Revision, err)
	}
	md, err := DecodeMetadata(ev.Metadata)
	if err != nil {
		return Envelope{}, fmt.Errorf("%s@%d: %w", ev.Stream, ev.Revision, err)
	}
	return Envelope{
		ID: ev.ID, Stream: ev.Stream, Revision: ev.Revision, Position: ev.Position,
		Type: e.EventType(), Event: e, Meta: md,
	}, nil
}
