package domain_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

// chainLog builds a global log the way the command path writes it: each
// append seals its events onto the stream's chain.
type chainLog struct {
	evs  []domain.RecordedEvent
	last map[string]string
	revs map[string]uint64
}

func newChainLog() *chainLog {
	return &chainLog{last: map[string]string{}, revs: map[string]uint64{}}
}

func (l *chainLog) append(t testing.TB, stream string, texts ...string) {
	t.Helper()
	evs := make([]domain.Event, len(texts))
	for i, s := range texts {
		evs[i] = noted{Text: s, On: domain.MustDate("2025-01-01")}
	}
	data, err := domain.Seal(meta(fmt.Sprintf("cmd-%d", len(l.evs))), l.last[stream], evs)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range data {
		n := uint64(len(l.evs) + 1)
		l.evs = append(l.evs, domain.RecordedEvent{
			ID: d.ID, Stream: stream, Revision: l.revs[stream], Position: domain.Position{Commit: 700 + n/2, Prepare: n},
			Type: d.Type, Data: d.Data, Metadata: d.Metadata,
		})
		l.revs[stream]++
		md, _ := domain.DecodeMetadata(d.Metadata)
		l.last[stream] = md.Hash
	}
}

// sample: two persons' streams interleaved with a payroll stream.
func sampleLog(t testing.TB) *chainLog {
	l := newChainLog()
	l.append(t, "person-a", "registered")
	l.append(t, "person-b", "registered")
	l.append(t, "person-a", "certificate", "granted")
	l.append(t, "payroll-x", "drafted", "issued 1", "issued 2")
	l.append(t, "person-b", "moved")
	l.append(t, "person-a", "suspended")
	l.append(t, "payroll-x", "settled")
	return l
}

func check(evs []domain.RecordedEvent) *domain.ChainChecker {
	c := domain.NewChainChecker()
	for _, ev := range evs {
		c.Add(ev)
	}
	return c
}

// copyLog copies the events deeply enough that edits to one's bytes do
// not reach the other.
func copyLog(evs []domain.RecordedEvent) []domain.RecordedEvent {
	out := make([]domain.RecordedEvent, len(evs))
	for i, e := range evs {
		e.Data = append([]byte(nil), e.Data...)
		e.Metadata = append([]byte(nil), e.Metadata...)
		out[i] = e
	}
	return out
}

func indexOf(t testing.TB, evs []domain.RecordedEvent, stream string, rev uint64) int {
	t.Helper()
	for i, e := range evs {
		if e.Stream == stream && e.Revision == rev {
			return i
		}
	}
	t.Fatalf("no event %s@%d", stream, rev)
	return -1
}

// reseal rewrites an event's data and re-hashes it as a forger would,
// keeping its prev_hash: its own link then holds.
func reseal(t testing.TB, ev *domain.RecordedEvent, data string) {
	t.Helper()
	md, err := domain.DecodeMetadata(ev.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	ev.Data = []byte(data)
	if md.Hash, err = domain.ComputeHash(ev.Type, ev.Data, md); err != nil {
		t.Fatal(err)
	}
	ev.Metadata, _ = json.Marshal(md)
}

func TestChainCheckerPassesAnUntouchedLog(t *testing.T) {
	l := sampleLog(t)
	c := check(l.evs)
	if b := c.Broken(); len(b) != 0 {
		t.Fatalf("untouched log has broken links: %v", b)
	}
	if c.Events() != 10 || c.Streams() != 3 {
		t.Errorf("checked %d events in %d streams, want 10 in 3", c.Events(), c.Streams())
	}
	d := c.Digest()
	if d.Position != l.evs[len(l.evs)-1].Position || d.Events != 10 || len(d.Hex) != 64 {
		t.Errorf("digest %+v: want it at the last event's position, over 10 events", d)
	}
	if again := check(copyLog(l.evs)).Digest(); again != d {
		t.Errorf("the same log digested twice: %v then %v", d, again)
	}
	if !strings.HasPrefix(d.String(), "digest at "+d.Position.String()+": ") {
		t.Errorf("Digest.String() = %q", d.String())
	}
}

// The digest is defined in ChainChecker's doc comment; this computes it
// from that definition alone, so a change to either shows.
func TestDigestFollowsItsDefinition(t *testing.T) {
	l := sampleLog(t)
	h := sha256.New()
	for _, e := range l.evs {
		content := sha256.Sum256([]byte(e.Type + "\x00" + string(e.Data) + "\x00" + string(e.Metadata)))
		fmt.Fprintf(h, "%d/%d\x00%s\x00%d\x00%s\x00%x\n", e.Position.Commit, e.Position.Prepare, e.Stream, e.Revision, e.ID, content)
	}
	if got, want := check(l.evs).Digest().Hex, hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("digest %s, want %s by the documented definition", got, want)
	}
	empty := domain.NewChainChecker().Digest()
	if empty.Hex != "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" || !empty.Position.IsStart() || empty.Events != 0 {
		t.Errorf("digest of an empty log: %+v, want SHA-256 of nothing at the start", empty)
	}
}

// The digest at P covers the events up to P and nothing after: appending
// more events leaves it as it was.
func TestDigestAtAPositionIgnoresLaterEvents(t *testing.T) {
	l := sampleLog(t)
	c := domain.NewChainChecker()
	var at domain.Digest
	for i, ev := range l.evs {
		c.Add(ev)
		if i == 5 {
			at = c.Digest()
		}
	}
	if at.Position != l.evs[5].Position || at.Events != 6 {
		t.Fatalf("digest taken after the 6th event: %+v", at)
	}
	if prefix := check(l.evs[:6]).Digest(); prefix != at {
		t.Errorf("digest at %s within the whole log %s, over the log cut there %s", at.Position, at.Hex, prefix.Hex)
	}
	if c.Digest() == at {
		t.Error("the digest did not move with later events")
	}
}

// Every stored byte and every coordinate of an event is in the digest.
func TestDigestChangesWithAnyPartOfAnEvent(t *testing.T) {
	l := sampleLog(t)
	base := check(l.evs).Digest().Hex
	edits := map[string]func(e *domain.RecordedEvent){
		"position": func(e *domain.RecordedEvent) { e.Position.Prepare++ },
		"stream":   func(e *domain.RecordedEvent) { e.Stream += "x" },
		"revision": func(e *domain.RecordedEvent) { e.Revision++ },
		"event id": func(e *domain.RecordedEvent) { e.ID[0] ^= 1 },
		"type":     func(e *domain.RecordedEvent) { e.Type = "test.Other.v1" },
		"data": func(e *domain.RecordedEvent) {
			e.Data = []byte(strings.Replace(string(e.Data), "granted", "grantee", 1))
		},
		"data re-formatted": func(e *domain.RecordedEvent) {
			e.Data = []byte(strings.Replace(string(e.Data), ":", ": ", 1))
		},
		"stored hash": func(e *domain.RecordedEvent) {
			e.Metadata = []byte(strings.Replace(string(e.Metadata), `"hash":"`, `"hash":"0`, 1))
		},
		"recorded store time only": nil, // not hashed: the store's own clock
	}
	for name, edit := range edits {
		evs := copyLog(l.evs)
		i := indexOf(t, evs, "person-a", 2)
		if edit == nil {
			evs[i].RecordedAt = evs[i].RecordedAt.Add(1)
			if got := check(evs).Digest().Hex; got != base {
				t.Errorf("%s: digest changed", name)
			}
			continue
		}
		edit(&evs[i])
		if got := check(evs).Digest().Hex; got == base {
			t.Errorf("%s changed: digest stayed %s", name, got)
		}
	}
	// A forger who re-hashes the last event of a stream leaves every link
	// holding; the digest still changes.
	evs := copyLog(l.evs)
	i := indexOf(t, evs, "person-a", 3)
	reseal(t, &evs[i], `{"text":"forged","on":"2025-01-01"}`)
	c := check(evs)
	if len(c.Broken()) != 0 {
		t.Fatalf("a re-hashed last event breaks no link, but got %v", c.Broken())
	}
	if c.Digest().Hex == base {
		t.Error("a re-hashed last event left the digest unchanged")
	}
}

func TestChainCheckerReportsTheFirstBrokenLinkPerStream(t *testing.T) {
	cases := []struct {
		name   string
		tamper func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent
		want   []string // stream@revision:fault, in global order
	}{
		{"data edited", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			i := indexOf(t, evs, "person-a", 1)
			evs[i].Data = []byte(strings.Replace(string(evs[i].Data), "certificate", "certificatE", 1))
			return evs
		}, []string{"person-a@1:hash_mismatch"}},
		{"two events of one stream edited: only the first is named", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			for _, rev := range []uint64{1, 2} {
				i := indexOf(t, evs, "person-a", rev)
				evs[i].Data = []byte(strings.Replace(string(evs[i].Data), `"on"`, ` "on"`, 1))
			}
			return evs
		}, []string{"person-a@1:hash_mismatch"}},
		{"edits in two streams: each is named", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			evs[indexOf(t, evs, "payroll-x", 2)].Type = "test.Noted.v2"
			i := indexOf(t, evs, "person-b", 0)
			evs[i].Metadata = []byte(strings.Replace(string(evs[i].Metadata), "wang.li", "li.wang", 1))
			return evs
		}, []string{"person-b@0:hash_mismatch", "payroll-x@2:hash_mismatch"}},
		{"an event re-hashed: its successor's prev_hash breaks", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			reseal(t, &evs[indexOf(t, evs, "person-a", 1)], `{"text":"forged","on":"2025-01-01"}`)
			return evs
		}, []string{"person-a@2:prev_hash_mismatch"}},
		{"an event removed", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			i := indexOf(t, evs, "payroll-x", 1)
			return append(evs[:i], evs[i+1:]...)
		}, []string{"payroll-x@2:revision_gap"}},
		{"a stream's first event removed", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			i := indexOf(t, evs, "person-b", 0)
			return append(evs[:i], evs[i+1:]...)
		}, []string{"person-b@1:revision_gap"}},
		{"metadata unreadable", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			evs[indexOf(t, evs, "person-a", 2)].Metadata = []byte(`{"hash":`)
			return evs
		}, []string{"person-a@2:unreadable_metadata"}},
		{"a first event claims a predecessor", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			reseal(t, &evs[indexOf(t, evs, "person-b", 0)], `{"text":"x","on":"2025-01-01"}`)
			i := indexOf(t, evs, "person-b", 0)
			md, _ := domain.DecodeMetadata(evs[i].Metadata)
			md.PrevHash = strings.Repeat("ab", 32)
			md.Hash, _ = domain.ComputeHash(evs[i].Type, evs[i].Data, md)
			evs[i].Metadata, _ = json.Marshal(md)
			return evs
		}, []string{"person-b@0:prev_hash_mismatch"}},
		{"metadata re-encoded with spaces: same values, other bytes", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			i := indexOf(t, evs, "person-a", 1)
			evs[i].Metadata = []byte(strings.ReplaceAll(string(evs[i].Metadata), `","`, `", "`))
			return evs
		}, []string{"person-a@1:hash_mismatch"}},
		{"metadata key repeated: SQL sees one actor, Go the other", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			i := indexOf(t, evs, "person-b", 1)
			md, _ := domain.DecodeMetadata(evs[i].Metadata)
			forged := strings.Replace(string(evs[i].Metadata), `"actor":"`+md.Actor+`"`, `"actor":"someone.else"`, 1)
			evs[i].Metadata = []byte(strings.TrimSuffix(forged, "}") + `,"Actor":"` + md.Actor + `"}`)
			return evs
		}, []string{"person-b@1:hash_mismatch"}},
		{"events of two streams swapped between them", func(t *testing.T, evs []domain.RecordedEvent) []domain.RecordedEvent {
			a, b := indexOf(t, evs, "person-a", 3), indexOf(t, evs, "person-b", 1)
			evs[a].Data, evs[b].Data = evs[b].Data, evs[a].Data
			evs[a].Metadata, evs[b].Metadata = evs[b].Metadata, evs[a].Metadata
			return evs
		}, []string{"person-b@1:prev_hash_mismatch", "person-a@3:prev_hash_mismatch"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := sampleLog(t)
			evs := c.tamper(t, copyLog(l.evs))
			var got []string
			for _, b := range check(evs).Broken() {
				got = append(got, b.Stream+"@"+strconv.FormatUint(b.Revision, 10)+":"+string(b.Fault))
			}
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("broken links %v, want %v", got, c.want)
			}
		})
	}
}

// A stream whose events name their stream cannot be moved, with its
// whole chain, under another name.
func TestChainCheckerBindsStreamsToTheirNames(t *testing.T) {
	id := domain.PersonID("a1b2c3d4e5f60718293a")
	reg := domain.PersonRegistered{PersonID: id, IDHash: string(id) + "0000", Name: "张三", Township: "星子镇",
		BirthDate: domain.MustDate("1980-01-01"), RegisteredOn: domain.MustDate("2024-01-02")}
	data, err := domain.Seal(meta("reg-1"), "", domain.SealForTest(t, domain.NewTestKeys(), id.Stream(), []domain.Event{reg}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stream string
		want   int
	}{{id.Stream(), 0}, {"person-0123456789abcdef0123", 1}} {
		ev := domain.RecordedEvent{ID: data[0].ID, Stream: c.stream, Position: domain.Position{Commit: 1, Prepare: 1},
			Type: data[0].Type, Data: data[0].Data, Metadata: data[0].Metadata}
		b := check([]domain.RecordedEvent{ev}).Broken()
		if len(b) != c.want {
			t.Fatalf("in %s: broken links %v, want %d", c.stream, b, c.want)
		}
		if c.want == 1 && (b[0].Fault != domain.FaultWrongStream || !strings.Contains(b[0].Detail, id.Stream())) {
			t.Errorf("in %s: %v, want a wrong_stream naming %s", c.stream, b[0], id.Stream())
		}
	}
}

func TestBrokenLinkNamesTheEvent(t *testing.T) {
	l := sampleLog(t)
	evs := copyLog(l.evs)
	i := indexOf(t, evs, "payroll-x", 1)
	evs[i].Data = []byte(`{"text":"issued 9","on":"2025-01-01"}`)
	b := check(evs).Broken()
	if len(b) != 1 {
		t.Fatalf("broken links %v, want one", b)
	}
	want := domain.BrokenLink{Stream: "payroll-x", Revision: 1, EventID: evs[i].ID, Position: evs[i].Position, Fault: domain.FaultContentHash}
	got := b[0]
	got.Detail = ""
	if got != want {
		t.Errorf("broken link %+v, want %+v", got, want)
	}
	if s := b[0].String(); !strings.Contains(s, "payroll-x@1") || !strings.Contains(s, evs[i].ID.String()) || !strings.Contains(s, evs[i].Position.String()) || !strings.Contains(s, "hash_mismatch") {
		t.Errorf("String() = %q: want stream@revision, event id, position and fault", s)
	}
}

func TestParseDigest(t *testing.T) {
	good := strings.Repeat("aB", 32)
	if got, err := domain.ParseDigest("expect_digest", " "+good+"\n"); err != nil || got != strings.ToLower(good) {
		t.Errorf("ParseDigest(%s) = %q, %v", good, got, err)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("a", 63), strings.Repeat("g", 64), strings.Repeat("a", 66)} {
		_, err := domain.ParseDigest("expect_digest", bad)
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != "expect_digest" || !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("ParseDigest(%q): %v, want an invalid-input error naming expect_digest", bad, err)
		}
	}
}

// BenchmarkChainCheck checks a log of LEDGER_BENCH_CHAIN_EVENTS events
// (default 10,000) over 1,000 streams, inspecting sequentially.
func BenchmarkChainCheck(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("LEDGER_BENCH_CHAIN_EVENTS")); err == nil && v > 0 {
		n = v
	}
	l := newChainLog()
	for i := range n {
		l.append(b, fmt.Sprintf("person-%05d", i%1000), fmt.Sprintf("event %d", i))
	}
	runs := 0
	for b.Loop() {
		c := check(l.evs)
		if len(c.Broken()) != 0 {
			b.Fatal(c.Broken())
		}
		runs++
	}
	b.ReportMetric(float64(n*runs)/b.Elapsed().Seconds(), "events/s")
}
