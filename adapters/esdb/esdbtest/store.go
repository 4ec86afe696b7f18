package esdbtest

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// Expected-version sentinels, with the numeric values the real server uses
// internally (EventStore.Core.Data.ExpectedVersion). The write checks below
// are a transcription of IndexWriter.CheckCommit and rely on NoStream (-1)
// comparing below every real revision.
const (
	expectedNoStream     int64 = -1
	expectedAny          int64 = -2
	expectedStreamExists int64 = -4

	// deletedStream is EventNumber.DeletedStream (long.MaxValue): the event
	// number of a tombstone record and the $tb value written by a soft delete.
	deletedStream int64 = math.MaxInt64

	// firstPosition is the position of the first record in a fresh log. A real
	// node starts with an epoch record, so its first user event is never at 0;
	// we imitate that so that 0 is never a valid event position.
	firstPosition uint64 = 128
	// recordOverhead approximates the fixed size of a prepare record; positions
	// advance like byte offsets in a transaction file.
	recordOverhead uint64 = 64

	tombstoneEventType = "$streamDeleted"
	metadataEventType  = "$metadata"
)

// record is one event in the global log. Records are immutable once appended,
// so pointers to them can be shared with readers outside the lock.
type record struct {
	stream    string
	revision  uint64 // math.MaxInt64 for a tombstone
	id        uuid.UUID
	eventType string
	isJSON    bool
	data      []byte
	metadata  []byte
	created   int64 // .NET ticks (100ns) since the Unix epoch
	position  uint64
}

// streamInfo is the per-stream index.
type streamInfo struct {
	events    []*record // index == revision
	tombstone *record
	// truncateBefore is the $tb value of the stream's latest metadata event
	// ($$stream); deletedStream means soft-deleted. 0 means "not set".
	truncateBefore int64
}

func (s *streamInfo) last() int64 {
	if s == nil {
		return -1
	}
	return int64(len(s.events)) - 1
}

// proposed is an event received in an Append request.
type proposed struct {
	id        uuid.UUID
	eventType string
	isJSON    bool
	data      []byte
	metadata  []byte
}

type decision int

const (
	decisionOK decision = iota
	decisionIdempotent
	decisionWrongExpectedVersion
	decisionDeleted
)

type commitCheck struct {
	decision    decision
	current     int64   // current last revision, -1 when the stream has no events
	softDeleted bool    // the write un-deletes a soft-deleted stream
	idempotent  *record // last event of the already-written batch
}

// writeResult is what Append/Delete/Tombstone report back.
type writeResult struct {
	check    commitCheck
	revision int64  // last revision after the write (-1: no stream)
	position uint64 // position of the last written record
}

type store struct {
	mu      sync.Mutex
	log     []*record
	streams map[string]*streamInfo
	ids     map[uuid.UUID]*record // event id -> last record written with it
	nextPos uint64
	changed chan struct{} // closed (and replaced) on every write
	dropped chan struct{} // closed (and replaced) by dropSubscriptions
	now     func() time.Time
}

func newStore(now func() time.Time) *store {
	return &store{
		streams: map[string]*streamInfo{},
		ids:     map[uuid.UUID]*record{},
		nextPos: firstPosition,
		changed: make(chan struct{}),
		dropped: make(chan struct{}),
		now:     now,
	}
}

func isMetaStream(name string) bool { return strings.HasPrefix(name, "$$") }

// ---- writes ---------------------------------------------------------------

// checkCommit is IndexWriter.CheckCommit from the EventStoreDB server
// (src/EventStore.Core/Services/Storage/ReaderIndex/IndexWriter.cs), minus the
// replication states. Caller holds st.mu.
func (st *store) checkCommit(stream string, expected int64, ids []uuid.UUID) commitCheck {
	s := st.streams[stream]
	if s != nil && s.tombstone != nil {
		return commitCheck{decision: decisionDeleted, current: deletedStream}
	}
	cur := s.last()
	soft := s != nil && s.truncateBefore == deletedStream

	if expected == expectedStreamExists {
		if soft {
			return commitCheck{decision: decisionDeleted, current: cur}
		}
		if cur < 0 && st.streams[metaStreamOf(stream)].last() < 0 {
			return commitCheck{decision: decisionWrongExpectedVersion, current: cur}
		}
	}

	// Idempotency for "any"/"stream exists": every id must already be in this
	// stream; the first unknown id means "not a retry", a later unknown id is
	// "corrupted idempotency", reported as wrong expected version.
	if expected == expectedAny || expected == expectedStreamExists {
		var last *record
		for i, id := range ids {
			r := st.ids[id]
			if r == nil || r.stream != stream {
				if i == 0 {
					return commitCheck{decision: decisionOK, current: cur, softDeleted: soft}
				}
				return commitCheck{decision: decisionWrongExpectedVersion, current: cur}
			}
			last = r
		}
		if last == nil { // no events in the request
			return commitCheck{decision: decisionOK, current: cur, softDeleted: soft}
		}
		return commitCheck{decision: decisionIdempotent, current: cur, idempotent: last}
	}

	if expected < cur {
		n := expected
		for i, id := range ids {
			n++
			if r := st.ids[id]; r != nil && r.stream == stream && int64(r.revision) == n {
				continue
			}
			if n <= cur && s.events[n].id == id {
				continue
			}
			if i == 0 {
				if expected == expectedNoStream && soft {
					return commitCheck{decision: decisionOK, current: cur, softDeleted: true}
				}
				return commitCheck{decision: decisionWrongExpectedVersion, current: cur}
			}
			return commitCheck{decision: decisionWrongExpectedVersion, current: cur} // corrupted idempotency
		}
		if n == expected { // no events in the request
			return commitCheck{decision: decisionWrongExpectedVersion, current: cur}
		}
		return commitCheck{decision: decisionIdempotent, current: cur, idempotent: s.events[n]}
	}

	if expected > cur {
		return commitCheck{decision: decisionWrongExpectedVersion, current: cur}
	}
	return commitCheck{decision: decisionOK, current: cur, softDeleted: soft}
}

func metaStreamOf(stream string) string { return "$$" + stream }

// appendEvents implements the Append RPC's storage side.
func (st *store) appendEvents(stream string, expected int64, events []proposed) writeResult {
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		ids[i] = e.id
	}

	st.mu.Lock()
	defer st.mu.Unlock()

	check := st.checkCommit(stream, expected, ids)
	switch check.decision {
	case decisionIdempotent:
		return writeResult{check: check, revision: int64(check.idempotent.revision), position: check.idempotent.position}
	case decisionWrongExpectedVersion, decisionDeleted:
		return writeResult{check: check}
	}

	res := writeResult{check: check, revision: check.current}
	if len(events) == 0 {
		// The real server writes an empty, committed prepare: it takes log
		// space and its position is reported, but no event appears anywhere.
		res.position = st.nextPos
		st.nextPos += recordOverhead
	}
	for _, e := range events {
		r := st.write(stream, uint64(res.revision+1), e)
		res.revision = int64(r.revision)
		res.position = r.position
	}
	if check.softDeleted {
		// StorageWriterService.SoftUndeleteStream: rewrite the metadata with
		// $tb = first new revision, keeping the older events hidden.
		st.softUndelete(stream, check.current+1)
	}
	st.notifyLocked()
	return res
}

// deleteStream implements the Delete (soft) and Tombstone RPCs, following
// StorageWriterService.Handle(WriteDelete).
func (st *store) deleteStream(stream string, expected int64, hard bool) writeResult {
	st.mu.Lock()
	defer st.mu.Unlock()

	check := st.checkCommit(stream, expected, []uuid.UUID{uuid.New()})
	if check.decision != decisionOK {
		// A fresh id can't be idempotent; treat anything else as reported.
		return writeResult{check: check}
	}

	var r *record
	if hard {
		s := st.streamLocked(stream)
		r = st.newRecord(stream, uint64(deletedStream), proposed{id: uuid.New(), eventType: tombstoneEventType})
		s.tombstone = r
		st.ids[r.id] = r
	} else {
		if st.streams[stream].last() < 0 && st.streams[metaStreamOf(stream)].last() < 0 {
			return writeResult{check: commitCheck{decision: decisionWrongExpectedVersion, current: -1}}
		}
		data := []byte(`{"$tb":9223372036854775807}`)
		r = st.writeNext(metaStreamOf(stream), proposed{id: uuid.New(), eventType: metadataEventType, isJSON: true, data: data})
	}
	st.notifyLocked()
	return writeResult{check: check, revision: check.current, position: r.position}
}

func (st *store) softUndelete(stream string, recreateFrom int64) {
	meta := map[string]json.RawMessage{}
	if ms := st.streams[metaStreamOf(stream)]; ms.last() >= 0 {
		if err := json.Unmarshal(ms.events[len(ms.events)-1].data, &meta); err != nil {
			return // the server gives up silently on unparsable metadata too
		}
	}
	tb, _ := json.Marshal(recreateFrom)
	meta["$tb"] = tb
	data, err := json.Marshal(meta)
	if err != nil {
		return
	}
	st.writeNext(metaStreamOf(stream), proposed{id: uuid.New(), eventType: metadataEventType, isJSON: true, data: data})
}

func (st *store) streamLocked(name string) *streamInfo {
	s := st.streams[name]
	if s == nil {
		s = &streamInfo{}
		st.streams[name] = s
	}
	return s
}

func (st *store) writeNext(stream string, e proposed) *record {
	return st.write(stream, uint64(st.streams[stream].last()+1), e)
}

func (st *store) newRecord(stream string, revision uint64, e proposed) *record {
	r := &record{
		stream:    stream,
		revision:  revision,
		id:        e.id,
		eventType: e.eventType,
		isJSON:    e.isJSON,
		data:      nonNil(e.data),
		metadata:  nonNil(e.metadata),
		created:   st.now().UnixNano() / 100,
		position:  st.nextPos,
	}
	st.nextPos += recordOverhead + uint64(len(stream)+len(e.eventType)+len(e.data)+len(e.metadata))
	st.log = append(st.log, r)
	return r
}

func (st *store) write(stream string, revision uint64, e proposed) *record {
	s := st.streamLocked(stream)
	r := st.newRecord(stream, revision, e)
	s.events = append(s.events, r)
	st.ids[r.id] = r
	if isMetaStream(stream) {
		st.applyMetadata(stream[2:], r)
	}
	return r
}

// applyMetadata honours the only stream-metadata property this double knows
// about: $tb (truncate before), used by soft delete.
func (st *store) applyMetadata(stream string, r *record) {
	var meta map[string]json.RawMessage
	tb := int64(0)
	if json.Unmarshal(r.data, &meta) == nil {
		if raw, ok := meta["$tb"]; ok {
			var n json.Number
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if dec.Decode(&n) == nil {
				if v, err := n.Int64(); err == nil && v > 0 {
					tb = v
				}
			}
		}
	}
	st.streamLocked(stream).truncateBefore = tb
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// notifyLocked wakes every subscription waiting for new records.
func (st *store) notifyLocked() {
	close(st.changed)
	st.changed = make(chan struct{})
}

func (st *store) dropSubscriptions() {
	st.mu.Lock()
	close(st.dropped)
	st.dropped = make(chan struct{})
	st.mu.Unlock()
}

// ---- reads ----------------------------------------------------------------

type streamReadResult int

const (
	readOK streamReadResult = iota
	readNoStream
	readDeleted
)

// visibleFrom returns the lowest visible revision of a stream, or a status.
// Caller holds st.mu.
func (st *store) visibleFrom(stream string) (int64, streamReadResult) {
	s := st.streams[stream]
	if s != nil && s.tombstone != nil {
		return 0, readDeleted
	}
	last := s.last()
	if last < 0 || s.truncateBefore == deletedStream {
		return 0, readNoStream
	}
	from := s.truncateBefore
	if isMetaStream(stream) && last > from {
		from = last // metadata streams have $maxCount = 1
	}
	return from, readOK
}

// readStream returns up to count events of a stream.
func (st *store) readStream(stream string, from int64, backwards bool, count uint64) ([]*record, streamReadResult) {
	st.mu.Lock()
	defer st.mu.Unlock()

	lo, res := st.visibleFrom(stream)
	if res != readOK {
		return nil, res
	}
	s := st.streams[stream]
	last := s.last()
	var out []*record
	if backwards {
		if from < 0 || from > last { // End, or past the end
			from = last
		}
		for rev := from; rev >= lo && uint64(len(out)) < count; rev-- {
			out = append(out, s.events[rev])
		}
		return out, readOK
	}
	if from < lo {
		from = lo
	}
	for rev := from; rev <= last && uint64(len(out)) < count; rev++ {
		out = append(out, s.events[rev])
	}
	return out, readOK
}

// indexAtOrAfter returns the log index of the first record whose position is
// >= pos. Caller holds st.mu.
func (st *store) indexAtOrAfter(pos uint64) int {
	return sort.Search(len(st.log), func(i int) bool { return st.log[i].position >= pos })
}

// indexAfter returns the log index of the first record whose position is > pos.
func (st *store) indexAfter(pos uint64) int {
	return sort.Search(len(st.log), func(i int) bool { return st.log[i].position > pos })
}

// readAll reads $all. from: nil = start (forwards) / end (backwards) per
// fromEnd; otherwise a position. Forwards reads include the record at the
// position (pre-position), backwards reads start strictly before it
// (post-position) — see README.
func (st *store) readAll(pos *uint64, fromEnd, backwards bool, count uint64, match func(*record) bool) []*record {
	st.mu.Lock()
	defer st.mu.Unlock()

	var out []*record
	if backwards {
		i := len(st.log) - 1
		if pos != nil {
			i = st.indexAtOrAfter(*pos) - 1
		} else if !fromEnd {
			i = -1 // backwards from Start: nothing before it
		}
		for ; i >= 0 && uint64(len(out)) < count; i-- {
			if match == nil || match(st.log[i]) {
				out = append(out, st.log[i])
			}
		}
		return out
	}
	i := 0
	if pos != nil {
		i = st.indexAtOrAfter(*pos)
	} else if fromEnd {
		i = len(st.log)
	}
	for ; i < len(st.log) && uint64(len(out)) < count; i++ {
		if match == nil || match(st.log[i]) {
			out = append(out, st.log[i])
		}
	}
	return out
}

// tail returns records log[from:from+max] plus the channels to wait on when
// there are none.
func (st *store) tail(from, max int) (recs []*record, changed, dropped <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if from < len(st.log) {
		end := min(len(st.log), from+max)
		recs = make([]*record, end-from)
		copy(recs, st.log[from:end])
	}
	return recs, st.changed, st.dropped
}

// streamTail is tail for a single stream: events from revision `from`,
// honouring $tb. deleted reports a tombstone once every event was consumed.
func (st *store) streamTail(stream string, from int64, max int) (recs []*record, next int64, deleted bool, changed, dropped <-chan struct{}) {
	st.mu.Lock()
	defer st.mu.Unlock()
	next = from
	if s := st.streams[stream]; s != nil {
		if s.truncateBefore > next {
			next = s.truncateBefore
			if next == deletedStream { // soft-deleted: nothing visible yet
				next = s.last() + 1
			}
		}
		for rev := next; rev <= s.last() && len(recs) < max; rev++ {
			recs = append(recs, s.events[rev])
			next = rev + 1
		}
		deleted = s.tombstone != nil && next > s.last()
	}
	return recs, next, deleted, st.changed, st.dropped
}

// allSubscriptionStart resolves where a $all subscription starts (log index).
func (st *store) allSubscriptionStart(pos *uint64, fromEnd bool) int {
	st.mu.Lock()
	defer st.mu.Unlock()
	switch {
	case fromEnd:
		return len(st.log)
	case pos != nil:
		return st.indexAfter(*pos)
	default:
		return 0
	}
}

// streamSubscriptionStart resolves the first revision a stream subscription
// delivers. fromRev < 0 means Start; fromEnd means End.
func (st *store) streamSubscriptionStart(stream string, fromRev int64, fromEnd bool) (int64, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := st.streams[stream]
	if s != nil && s.tombstone != nil {
		return 0, false
	}
	switch {
	case fromEnd:
		return s.last() + 1, true
	case fromRev >= 0:
		return fromRev + 1, true
	default:
		return 0, true
	}
}

func (st *store) count() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.log)
}
