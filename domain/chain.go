package domain

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strconv"
	"strings"
	"sync"

	"github.com/google/uuid"
)

// LinkFault says why a link of a stream's hash chain is broken.
type LinkFault string

const (
	// FaultRevisionGap: the event's revision is not the one after the
	// stream's previous event (an event is missing, or out of place).
	FaultRevisionGap LinkFault = "revision_gap"
	// FaultMetadata: the event's metadata cannot be decoded, so neither
	// its hash nor its prev_hash can be read.
	FaultMetadata LinkFault = "unreadable_metadata"
	// FaultPrevHash: prev_hash is not the hash of the stream's previous
	// event (or is not empty on a stream's first event). The previous
	// event was changed and re-hashed, or this one was moved.
	FaultPrevHash LinkFault = "prev_hash_mismatch"
	// FaultContentHash: the stored hash is not the hash of the event's
	// stored bytes (ComputeHash): its type, data or metadata was changed,
	// or the metadata is not byte for byte the form Seal wrote (re-encoded,
	// keys added or repeated), which would let a reader other than this
	// code see different values under an intact hash.
	FaultContentHash LinkFault = "hash_mismatch"
	// FaultWrongStream: the event names the stream it belongs in (a
	// registration its person's, a payroll event its program and month's,
	// a notice its department's, a budget its program's) and it stands in
	// another: the stream was renamed, or events were moved between
	// streams together with their chain.
	FaultWrongStream LinkFault = "wrong_stream"
)

// BrokenLink is the first event of a stream whose link in the chain does
// not hold. Events after it in the same stream are not judged: one edit
// would otherwise report every later event too.
type BrokenLink struct {
	Stream   string    `json:"stream"`
	Revision uint64    `json:"revision"`
	EventID  uuid.UUID `json:"event_id"`
	Position Position  `json:"position"`
	Fault    LinkFault `json:"fault"`
	Detail   string    `json:"detail"`
}

func (b BrokenLink) String() string {
	return fmt.Sprintf("%s@%d (event %s at %s): %s: %s", b.Stream, b.Revision, b.EventID, b.Position, b.Fault, b.Detail)
}

// Digest is a single hash over the whole log up to and including the
// event at Position (see ChainChecker). The digest of an empty log is the
// SHA-256 of nothing, at Start.
type Digest struct {
	Position Position `json:"position"`
	Events   int64    `json:"events"`
	Hex      string   `json:"hex"`
}

func (d Digest) String() string { return fmt.Sprintf("digest at %s: %s", d.Position, d.Hex) }

// ParseDigest checks that s is a digest as Digest.Hex writes it (64
// hexadecimal digits; either case is accepted) and returns it in lower case.
func ParseDigest(field, s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if b, err := hex.DecodeString(s); err != nil || len(b) != sha256.Size {
		return "", Invalid(field, "%q is not a digest: want 64 hexadecimal digits", s)
	}
	return s, nil
}

// InspectedEvent is an event with the work done that a chain check needs
// of it alone: its metadata decoded, its hash recomputed from its stored
// bytes, and the hash of those bytes for the digest. Inspect is pure and
// independent of other events, so a reader may inspect a page of events on
// several cores before adding them, in global order, to a ChainChecker.
type InspectedEvent struct {
	Event     RecordedEvent
	meta      Metadata
	metaErr   error
	computed  string   // ComputeHash over the stored bytes ("" if metaErr)
	content   [32]byte // SHA-256 of type NUL data NUL metadata as stored
	resealed  bool     // the metadata is not the bytes Seal would have written
	stream    string   // the stream the event names as its own, if it names one
	decodeErr error    // the event's data could not be decoded to find it
}

// Inspect prepares ev for ChainChecker.AddInspected.
func Inspect(ev RecordedEvent) InspectedEvent {
	ie := InspectedEvent{Event: ev}
	h := sha256.New()
	h.Write([]byte(ev.Type))
	h.Write([]byte{0})
	h.Write(ev.Data)
	h.Write([]byte{0})
	h.Write(ev.Metadata)
	h.Sum(ie.content[:0])
	ie.meta, ie.metaErr = DecodeMetadata(ev.Metadata)
	if ie.metaErr == nil {
		ie.computed, ie.metaErr = ComputeHash(ev.Type, ev.Data, ie.meta)
	}
	if ie.metaErr == nil {
		sealed, err := json.Marshal(ie.meta)
		ie.resealed = err != nil || !bytes.Equal(sealed, ev.Metadata)
	}
	ie.stream, ie.decodeErr = homeStream(ev)
	return ie
}

// homeStreamTypes are the event types whose data names the stream they
// belong in.
var homeStreamTypes = map[string]bool{
	TypePersonRegistered: true, TypePersonRegisteredV1: true,
	TypeBatchOpened: true, TypeLinesReserved: true, TypeBudgetAllocated: true, TypeBudgetProposed: true, TypeChangeNoticeIssued: true,
	TypeRosterImported: true,
}

// homeRegistry decodes the events of homeStreamTypes.
var homeRegistry = sync.OnceValue(NewLedgerRegistry)

// homeStream returns the stream ev's data says it belongs in, or "" when
// its type does not say. A stream's later events are bound to it by the
// chain, so checking the events that name their stream binds whole
// streams to their names.
func homeStream(ev RecordedEvent) (string, error) {
	if !homeStreamTypes[ev.Type] {
		return "", nil
	}
	e, err := homeRegistry().Decode(ev.Type, ev.Data)
	if err != nil {
		return "", err
	}
	switch e := e.(type) {
	case *PersonRegistered:
		return e.PersonID.Stream(), nil
	case *BatchOpened:
		return PayrollStream(e.Program), nil
	case *LinesReserved:
		if len(e.Lines) > 0 {
			return PaymentsStream(e.Program, PaymentShard(e.Lines[0].PersonID)), nil
		}
	case *BudgetAllocated:
		return ProgramStream(e.Program), nil
	case *BudgetProposed:
		return ProgramStream(e.Program), nil
	case *RosterImported:
		return RosterStream(e.Source), nil
	case *ChangeNoticeIssued:
		return NoticeStream(e.Department), nil
	}
	return "", nil
}

// ChainChecker checks the hash chains of a whole log, fed its events in
// global order (as ReadAll returns them), without holding the log: per
// stream it keeps the last hash and the next revision expected.
//
// A link holds when the event's revision is the stream's next (0 for its
// first event), its metadata decodes, its prev_hash is the previous
// event's hash ("" for the first), and its stored hash equals ComputeHash
// over its stored type, data and metadata. The first link of a stream that
// does not hold is reported, and the stream is not judged after it.
//
// The checker also keeps a running digest of the log: the SHA-256 over,
// for each event in global order, the bytes
//
//	COMMIT "/" PREPARE NUL STREAM NUL REVISION NUL EVENT-ID NUL CONTENT LF
//
// where COMMIT, PREPARE and REVISION are decimal, EVENT-ID is the UUID in
// its lower-case hyphenated form, NUL is a zero byte, LF a newline, and
// CONTENT is the lower-case hex SHA-256 of the event's stored bytes:
// TYPE NUL DATA NUL METADATA. The metadata bytes hold the event's stored
// hash and prev_hash, so the digest at the event at position P commits to
// every stored byte of every event up to and including P, and to where
// each one stands in the log; any edit, insertion, removal or reordering
// of those events changes it, even one that re-hashes a stream's chain.
type ChainChecker struct {
	streams map[string]streamLink
	broken  []BrokenLink
	digest  hash.Hash
	buf     []byte
	events  int64
	last    Position
}

// streamLink is what the checker remembers of one stream.
type streamLink struct {
	last   [sha256.Size]byte // hash of the last event, once next > 0
	next   uint64            // the revision expected next
	broken bool
}

// NewChainChecker returns a checker that has seen no event.
func NewChainChecker() *ChainChecker {
	return &ChainChecker{streams: map[string]streamLink{}, digest: sha256.New()}
}

// Add checks the next event of the log.
func (c *ChainChecker) Add(ev RecordedEvent) { c.AddInspected(Inspect(ev)) }

// AddInspected checks the next event of the log, inspected beforehand.
func (c *ChainChecker) AddInspected(ie InspectedEvent) {
	ev := ie.Event
	c.events++
	c.last = ev.Position
	c.buf = strconv.AppendUint(c.buf[:0], ev.Position.Commit, 10)
	c.buf = append(c.buf, '/')
	c.buf = strconv.AppendUint(c.buf, ev.Position.Prepare, 10)
	c.buf = append(c.buf, 0)
	c.buf = append(c.buf, ev.Stream...)
	c.buf = append(c.buf, 0)
	c.buf = strconv.AppendUint(c.buf, ev.Revision, 10)
	c.buf = append(c.buf, 0)
	c.buf = append(c.buf, ev.ID.String()...)
	c.buf = append(c.buf, 0)
	c.buf = hex.AppendEncode(c.buf, ie.content[:])
	c.buf = append(c.buf, '\n')
	c.digest.Write(c.buf)

	st, seen := c.streams[ev.Stream]
	if st.broken {
		return
	}
	fault, detail := c.judge(ie, st, seen)
	if fault != "" {
		st.broken = true
		c.broken = append(c.broken, BrokenLink{Stream: ev.Stream, Revision: ev.Revision, EventID: ev.ID, Position: ev.Position, Fault: fault, Detail: detail})
	} else {
		hex.Decode(st.last[:], []byte(ie.computed)) //nolint:errcheck // ComputeHash writes 64 hex digits
		st.next++
	}
	c.streams[ev.Stream] = st
}

func (c *ChainChecker) judge(ie InspectedEvent, st streamLink, seen bool) (LinkFault, string) {
	ev, md := ie.Event, ie.meta
	switch {
	case ev.Revision != st.next && !seen:
		return FaultRevisionGap, fmt.Sprintf("the stream's first event has revision %d, not 0", ev.Revision)
	case ev.Revision != st.next:
		return FaultRevisionGap, fmt.Sprintf("expected revision %d after %d, found %d", st.next, st.next-1, ev.Revision)
	case ie.metaErr != nil:
		return FaultMetadata, ie.metaErr.Error()
	case st.next == 0 && md.PrevHash != "":
		return FaultPrevHash, fmt.Sprintf("prev_hash %s on the stream's first event, which has no predecessor", abbrev(md.PrevHash))
	case st.next > 0 && md.PrevHash != hex.EncodeToString(st.last[:]):
		return FaultPrevHash, fmt.Sprintf("prev_hash %s is not the hash %s of revision %d: that event was changed and re-hashed, or this one does not belong here",
			abbrev(md.PrevHash), abbrev(hex.EncodeToString(st.last[:])), st.next-1)
	case md.Hash != ie.computed:
		return FaultContentHash, fmt.Sprintf("stored hash %s does not match the event's stored type, data and metadata (they hash to %s): the event was changed",
			abbrev(md.Hash), abbrev(ie.computed))
	case ie.resealed:
		return FaultContentHash, "the stored metadata is not byte for byte the form it was sealed in (re-encoded, or keys added or repeated): the event was changed"
	case ie.decodeErr != nil:
		return FaultContentHash, fmt.Sprintf("the event's data cannot be decoded: %v", ie.decodeErr)
	case ie.stream != "" && ie.stream != ev.Stream:
		return FaultWrongStream, fmt.Sprintf("the event belongs in %s, not %s", ie.stream, ev.Stream)
	}
	return "", ""
}

// abbrev shortens a hash for messages; the full values are in the store.
func abbrev(h string) string {
	switch {
	case h == "":
		return `""`
	case len(h) > 12:
		return h[:12] + "…"
	}
	return strconv.Quote(h)
}

// Broken returns the broken links found so far, one per stream at most,
// in the order they were found (global order).
func (c *ChainChecker) Broken() []BrokenLink { return c.broken }

// Events returns how many events were checked.
func (c *ChainChecker) Events() int64 { return c.events }

// Streams returns how many streams were seen.
func (c *ChainChecker) Streams() int { return len(c.streams) }

// Digest returns the digest of the log up to and including the last event
// added (see ChainChecker).
func (c *ChainChecker) Digest() Digest {
	return Digest{Position: c.last, Events: c.events, Hex: hex.EncodeToString(c.digest.Sum(nil))}
}
