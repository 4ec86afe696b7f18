package domain

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
)

// The event-store port. The domain consumes it, adapters implement it:
// adapters/pgstore (PostgreSQL, the embedded default) and adapters/esdb
// (EventStoreDB). Both pass the contract suite in adapters/storetest.

// Store errors. They wrap the domain's error kinds so callers can test for
// either the specific or the general case.
var (
	// ErrWrongExpectedVersion: an append's expected revision did not match.
	ErrWrongExpectedVersion = fmt.Errorf("wrong expected version: %w", ErrConcurrency)
	// ErrStreamNotFound: the stream has no events.
	ErrStreamNotFound = fmt.Errorf("stream: %w", ErrNotFound)
	// ErrStreamDeleted: the stream was deleted (EventStoreDB only; the
	// ledger itself never deletes).
	ErrStreamDeleted = fmt.Errorf("stream deleted: %w", ErrNotFound)
)

// ExpectedRevision is the state a stream must be in for an append to succeed.
// Build it with NoStream, Exact or AnyRevision; the zero value is NoStream.
type ExpectedRevision struct {
	kind     revisionKind
	revision uint64
}

type revisionKind uint8

const (
	revisionNoStream revisionKind = iota
	revisionExact
	revisionAny
)

// NoStream expects the stream not to exist yet.
func NoStream() ExpectedRevision { return ExpectedRevision{kind: revisionNoStream} }

// Exact expects the stream's last event to have revision r (0-based).
func Exact(r uint64) ExpectedRevision { return ExpectedRevision{kind: revisionExact, revision: r} }

// AnyRevision appends whatever the stream's state. The ledger's own commands
// never use it; it exists for tools and tests.
func AnyRevision() ExpectedRevision { return ExpectedRevision{kind: revisionAny} }

// ExpectNext returns the expectation for appending after a stream whose
// current revision is cur, where exists tells whether it has any events.
func ExpectNext(exists bool, cur uint64) ExpectedRevision {
	if !exists {
		return NoStream()
	}
	return Exact(cur)
}

func (e ExpectedRevision) IsNoStream() bool { return e.kind == revisionNoStream }
func (e ExpectedRevision) IsAny() bool      { return e.kind == revisionAny }

// Revision returns the exact revision and true, or 0 and false for
// NoStream and AnyRevision.
func (e ExpectedRevision) Revision() (uint64, bool) {
	return e.revision, e.kind == revisionExact
}

func (e ExpectedRevision) String() string {
	switch e.kind {
	case revisionNoStream:
		return "no-stream"
	case revisionAny:
		return "any"
	default:
		return fmt.Sprintf("%d", e.revision)
	}
}

// WrongExpectedVersionError says what the stream's state was. It matches
// ErrWrongExpectedVersion and ErrConcurrency with errors.Is.
type WrongExpectedVersionError struct {
	Stream   string
	Expected ExpectedRevision
	// Actual is the stream's current revision; ActualExists is false when
	// the stream does not exist (or the adapter could not tell).
	Actual       uint64
	ActualExists bool
}

func (e *WrongExpectedVersionError) Error() string {
	actual := "no stream"
	if e.ActualExists {
		actual = fmt.Sprintf("revision %d", e.Actual)
	}
	return fmt.Sprintf("append %s: expected %s, stream is at %s", e.Stream, e.Expected, actual)
}

func (e *WrongExpectedVersionError) Is(target error) bool {
	return target == ErrWrongExpectedVersion || target == ErrConcurrency
}

// Position is a place in the global log. Positions are totally ordered by
// (Commit, Prepare). On EventStoreDB they are the $all commit and prepare
// positions; on PostgreSQL Commit is the writing transaction's ID and Prepare
// the row's sequence number, which together order events by commit. The zero
// Position is the start of the log: reading "from" a position returns the
// events strictly after it.
type Position struct {
	Commit  uint64 `json:"commit"`
	Prepare uint64 `json:"prepare"`
}

// Start is the position before the first event.
var Start = Position{}

func (p Position) IsStart() bool { return p == Start }

// Compare returns -1, 0 or +1.
func (p Position) Compare(o Position) int {
	if p.Commit != o.Commit {
		return cmp.Compare(p.Commit, o.Commit)
	}
	return cmp.Compare(p.Prepare, o.Prepare)
}

// Less reports p < o.
func (p Position) Less(o Position) bool { return p.Compare(o) < 0 }

func (p Position) String() string { return fmt.Sprintf("%d/%d", p.Commit, p.Prepare) }

// ParsePosition parses the "commit/prepare" form String returns.
func ParsePosition(field, s string) (Position, error) {
	var p Position
	var rest string
	if n, _ := fmt.Sscanf(s, "%d/%d%s", &p.Commit, &p.Prepare, &rest); n != 2 {
		return Position{}, Invalid(field, "%q is not a position in the form COMMIT/PREPARE", s)
	}
	return p, nil
}

// EventData is an event to append: already encoded, with its envelope
// metadata (see Envelope) serialised as JSON.
type EventData struct {
	ID       uuid.UUID
	Type     string
	Data     []byte // JSON
	Metadata []byte // JSON
}

// RecordedEvent is an event as stored.
type RecordedEvent struct {
	ID         uuid.UUID
	Stream     string
	Revision   uint64 // 0-based position within Stream
	Position   Position
	Type       string
	Data       []byte
	Metadata   []byte
	RecordedAt time.Time // the store's own timestamp
}

// AppendResult tells where an append landed.
type AppendResult struct {
	// NextExpected is the stream's revision after the append: pass
	// Exact(NextExpected) to append after it.
	NextExpected uint64
	// Position is the global position of the last event appended.
	Position Position
}

// Direction of a stream read.
type Direction uint8

const (
	Forwards Direction = iota
	Backwards
)

// StreamEnd as a read's from revision means "from the last event" (used
// with Backwards).
const StreamEnd = uint64(math.MaxUint64)

// Filter restricts global reads and subscriptions. The zero Filter passes
// every ledger event. System events (types starting with "$", EventStoreDB
// only) never pass.
type Filter struct {
	// StreamPrefixes, when set, passes only events whose stream name starts
	// with one of them (e.g. "person-").
	StreamPrefixes []string
}

// Matches reports whether an event in stream passes the filter.
func (f Filter) Matches(stream, eventType string) bool {
	if len(eventType) > 0 && eventType[0] == '$' {
		return false
	}
	if len(f.StreamPrefixes) == 0 {
		return true
	}
	for _, p := range f.StreamPrefixes {
		if len(stream) >= len(p) && stream[:len(p)] == p {
			return true
		}
	}
	return false
}

// EventStore is the port the ledger needs from an event store.
type EventStore interface {
	// Append writes events to stream atomically if the stream is at the
	// expected revision, else returns an error matching ErrConcurrency.
	// Appending events whose IDs were all already appended to this stream
	// in one earlier append is a no-op that returns that append's result,
	// so a retried command appends nothing new.
	Append(ctx context.Context, stream string, expected ExpectedRevision, events ...EventData) (AppendResult, error)

	// ReadStream returns up to limit events of stream starting at revision
	// from, in the given direction (from = StreamEnd with Backwards reads
	// from the last event). A stream with no events returns
	// ErrStreamNotFound.
	ReadStream(ctx context.Context, stream string, dir Direction, from uint64, limit int) ([]RecordedEvent, error)

	// ReadAll returns up to limit events of the global log strictly after
	// position from, in global order. A store may hold back a committed
	// event until every older write in flight has finished (the PostgreSQL
	// store does, so that nothing is ever inserted before an event a reader
	// has seen); $all can therefore lag a just-returned Append briefly.
	ReadAll(ctx context.Context, from Position, limit int, filter Filter) ([]RecordedEvent, error)

	// SubscribeAll delivers the global log strictly after position from:
	// first the stored events (catch-up), then one CaughtUp message once
	// every event committed so far was delivered, then new events as they
	// are committed, until ctx ends or Close is called.
	SubscribeAll(ctx context.Context, from Position, filter Filter) (Subscription, error)

	// Head returns the position of the last event committed to the global
	// log, or Start when the log is empty. It counts every committed event,
	// also one that ReadAll and SubscribeAll do not deliver yet because an
	// older append is still in flight: a consumer whose checkpoint is at or
	// after Head has applied everything committed before the call.
	Head(ctx context.Context) (Position, error)

	// PersonalKeys returns the keys that seal the personal data of the
	// events appended to this store and open it when they are read (see
	// PersonalKeys); nil for a store that keeps none, which cannot take
	// an event with personal data.
	PersonalKeys() PersonalKeys

	// AppendMany is the bulk path (seeding, imports): it appends to many
	// streams in one call and returns one result per StreamAppend, in the
	// order given. A stream may appear once per call.
	//
	// Each StreamAppend behaves as an Append of its own: its events are
	// written together or not at all, only if its stream is at the
	// expected revision, and idempotently — a stream whose events were all
	// already appended to it together is not written again and gets that
	// append's result. Retrying a call, or repeating some of its streams
	// in a later call, therefore appends only what is new.
	//
	// Across streams the two stores differ:
	//   - PostgreSQL writes the whole call in one transaction: every
	//     stream is checked at its expected revision, and a mismatch fails
	//     the call with a *WrongExpectedVersionError naming that stream and
	//     leaves nothing of it written. The call's events are contiguous in
	//     the global log, in the order given.
	//   - EventStoreDB has no transaction spanning streams: the streams are
	//     appended one by one, several at a time, and the call returns the
	//     error of the first stream (in the order given) that failed.
	//     Streams appended before the failure — and some after it, already
	//     in flight — stay appended, and events of different streams may
	//     interleave in $all with each other and with other writers.
	// On both, retrying a failed call with the same events is safe.
	AppendMany(ctx context.Context, appends []StreamAppend) ([]AppendResult, error)
}

// StreamAppend is one stream's part of a bulk append (AppendMany): the
// events to append to Stream if it is at revision Expected.
type StreamAppend struct {
	Stream   string
	Expected ExpectedRevision
	Events   []EventData
}

// ValidateAppends checks the shape of a bulk append before anything is
// written: every stream named, and only once, each with at least one
// event, and every event with an ID and a type. Errors name the field as
// appends[i].stream or appends[i].events.
func ValidateAppends(appends []StreamAppend) error {
	seen := make(map[string]int, len(appends))
	for i, a := range appends {
		if a.Stream == "" {
			return Invalid(fmt.Sprintf("appends[%d].stream", i), "is empty")
		}
		if j, dup := seen[a.Stream]; dup {
			return Invalid(fmt.Sprintf("appends[%d].stream", i), "%s is also appends[%d]; a stream may appear once per call", a.Stream, j)
		}
		seen[a.Stream] = i
		if len(a.Events) == 0 {
			return Invalid(fmt.Sprintf("appends[%d].events", i), "append %s: no events", a.Stream)
		}
		for k, e := range a.Events {
			if e.ID == uuid.Nil {
				return Invalid(fmt.Sprintf("appends[%d].events", i), "append %s: event %d has no ID", a.Stream, k)
			}
			if e.Type == "" {
				return Invalid(fmt.Sprintf("appends[%d].events", i), "append %s: event %d has no type", a.Stream, k)
			}
		}
	}
	return nil
}

// Subscription is a running subscription to the global log.
type Subscription interface {
	// Recv blocks until the next message or until ctx ends. A message not
	// returned because ctx ended is not lost: the next Recv returns it.
	// After a terminal error every Recv returns that error.
	Recv(ctx context.Context) (SubscriptionMessage, error)
	// Close stops the subscription and releases its resources.
	Close() error
}

// SubscriptionMessage is either an event or the news that the subscriber
// has caught up with the log (Event == nil, CaughtUp == true).
type SubscriptionMessage struct {
	Event    *RecordedEvent
	CaughtUp bool
}

// ErrSubscriptionClosed is returned by Recv after Close.
var ErrSubscriptionClosed = errors.New("subscription closed")

// BacklogReporter is an optional extension of EventStore for a store whose
// readers may hold committed events back (the PostgreSQL store: see
// ReadAll). Lag figures use it to count those events too, and to say what
// holds them back. A store without it delivers every committed event to
// ReadAll at once, so counting with ReadAll is truthful there.
type BacklogReporter interface {
	// Backlog describes the events committed after position after,
	// counting at most limit of them.
	Backlog(ctx context.Context, after Position, limit int) (Backlog, error)
}

// DataReader is an optional extension of EventStore for a store that
// can read the log without what a rebuild does not decode: ReadAllData
// reads like ReadAll with the zero Filter, the same events in the same
// order, but fills only Stream, Revision, Position, Type and Data (ID,
// Metadata and RecordedAt are zero). A rebuild of a million events reads
// about half the bytes that way. A store without it is read with ReadAll.
type DataReader interface {
	ReadAllData(ctx context.Context, from Position, limit int) ([]RecordedEvent, error)
}

// Backlog is what a store can tell about the events committed after a
// position.
type Backlog struct {
	Events int64     // committed events after the position, at most the limit asked for
	Capped bool      // there are more than Events
	Oldest time.Time // recorded-at of the first of them in global order; zero if none
	// HeldBack counts those of Events that ReadAll and SubscribeAll do not
	// deliver yet, because an older append is still in flight.
	HeldBack int64
	// HeldBy is the oldest append in flight holding them back, when
	// HeldBack > 0 and the store can tell.
	HeldBy *AppendInFlight
}

// AppendInFlight is an append whose transaction has not ended yet. Events
// committed after it wait for it to end before readers see them, so that
// none can later appear before an event a reader has already seen.
type AppendInFlight struct {
	// PID is the database session appending (a PostgreSQL backend process
	// ID); 0 when the store cannot tell (a prepared transaction).
	PID int `json:"pid,omitempty"`
	// Since is when its transaction began; zero when the store cannot tell
	// (the session belongs to another database role).
	Since time.Time `json:"since,omitzero"`
}

// String describes the append for operators, e.g. "an append in flight
// since 12:03:04 (pid 1234)", in China Standard Time.
func (a AppendInFlight) String() string {
	s := "an append in flight"
	if !a.Since.IsZero() {
		layout := "15:04:05"
		if time.Since(a.Since) > 20*time.Hour {
			layout = "2006-01-02 15:04:05"
		}
		s += " since " + a.Since.In(BusinessZone).Format(layout)
	}
	if a.PID != 0 {
		s += fmt.Sprintf(" (pid %d)", a.PID)
	}
	return s
}
