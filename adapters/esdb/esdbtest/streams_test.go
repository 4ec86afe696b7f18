package esdbtest

import (
	"bytes"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
)

func TestAppendExpectedRevision(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	s := uniqueStream("acct")

	r0 := mustAppend(t, c, s, esdb.NoStream{}, ev("Opened"))
	if r0.NextExpectedVersion != 0 || r0.CommitPosition == 0 || r0.CommitPosition != r0.PreparePosition {
		t.Fatalf("first append: %+v", r0)
	}

	wrong := func(exp esdb.ExpectedRevision, stream string) {
		t.Helper()
		_, err := c.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: exp}, ev("X"))
		if err == nil {
			t.Fatalf("append with %T%v to %s: expected an error", exp, exp, stream)
		}
		if code := errCode(t, err); code != esdb.ErrorCodeWrongExpectedVersion {
			t.Fatalf("append with %T%v: code %v (%v)", exp, exp, code, err)
		}
	}
	wrong(esdb.NoStream{}, s)
	wrong(esdb.Revision(5), s)
	wrong(esdb.StreamExists{}, uniqueStream("missing"))
	wrong(esdb.Revision(0), uniqueStream("missing"))

	r1 := mustAppend(t, c, s, esdb.Revision(0), ev("Deposited"), ev("Deposited"))
	if r1.NextExpectedVersion != 2 || r1.CommitPosition <= r0.CommitPosition {
		t.Fatalf("exact append: %+v after %+v", r1, r0)
	}
	r2 := mustAppend(t, c, s, esdb.Any{}, ev("Withdrawn"))
	if r2.NextExpectedVersion != 3 {
		t.Fatalf("any append: %+v", r2)
	}
	r3 := mustAppend(t, c, s, esdb.StreamExists{}, ev("Closed"))
	if r3.NextExpectedVersion != 4 || r3.CommitPosition <= r2.CommitPosition {
		t.Fatalf("stream-exists append: %+v", r3)
	}
	// Any on a new stream creates it.
	if r := mustAppend(t, c, uniqueStream("new"), esdb.Any{}, ev("A")); r.NextExpectedVersion != 0 {
		t.Fatalf("any on new stream: %+v", r)
	}

	got := mustReadStream(t, c, s, esdb.ReadStreamOptions{}, 100)
	if want := []uint64{0, 1, 2, 3, 4}; !equalU64(revisions(got), want) {
		t.Fatalf("revisions %v, want %v", revisions(got), want)
	}
	if got[4].Position.Commit != r3.CommitPosition {
		t.Fatalf("read position %d != append position %d", got[4].Position.Commit, r3.CommitPosition)
	}
}

func equalU64(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestIdempotentAppend(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	s := uniqueStream("idem")

	batch := evs("E", 3)
	first := mustAppend(t, c, s, esdb.NoStream{}, batch...)
	count := srv.EventCount()

	// Same ids right after the same expected revision: original result, no write.
	again := mustAppend(t, c, s, esdb.NoStream{}, batch...)
	if *again != *first {
		t.Fatalf("retry with no_stream: %+v, original %+v", again, first)
	}
	e4 := ev("E")
	r4 := mustAppend(t, c, s, esdb.Revision(2), e4)
	if again := mustAppend(t, c, s, esdb.Revision(2), e4); *again != *r4 {
		t.Fatalf("retry with revision 2: %+v, original %+v", again, r4)
	}
	// Expected revision n and events n+1..n+k already have these ids.
	if again := mustAppend(t, c, s, esdb.Revision(0), batch[1:]...); *again != *first {
		t.Fatalf("retry of a suffix with revision 0: %+v, want %+v", again, first)
	}
	// Expected any: ids found in the stream.
	if again := mustAppend(t, c, s, esdb.Any{}, batch...); *again != *first {
		t.Fatalf("retry with any: %+v, original %+v", again, first)
	}
	if n := srv.EventCount(); n != count+1 {
		t.Fatalf("retries wrote events: %d records, want %d", n, count+1)
	}
	// A partial match (first id stored, second not) is "corrupted
	// idempotency", reported as wrong expected version.
	_, err := c.AppendToStream(ctx, s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Revision(1)}, batch[2], ev("E"))
	if code := errCode(t, err); code != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("partial retry: %v", err)
	}
	_, err = c.AppendToStream(ctx, s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.Any{}}, batch[0], ev("E"))
	if code := errCode(t, err); code != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("partial retry with any: %v", err)
	}
	got := mustReadStream(t, c, s, esdb.ReadStreamOptions{}, 100)
	if want := append(dataIDs(batch), e4.EventID); !equalIDs(ids(got), want) {
		t.Fatalf("stream ids %v, want %v", ids(got), want)
	}
}

func TestAppendZeroEvents(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	s := uniqueStream("empty")

	if _, err := c.AppendToStream(ctxT(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}}); err != nil {
		t.Fatalf("empty append: %v", err)
	}
	if _, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 10); errCode(t, err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("an empty append must not create the stream: %v", err)
	}
	mustAppend(t, c, s, esdb.NoStream{}, ev("A"))
	// Empty append with a stale expected revision is a wrong expected version.
	_, err := c.AppendToStream(ctxT(t), s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.NoStream{}})
	if errCode(t, err) != esdb.ErrorCodeWrongExpectedVersion {
		t.Fatalf("empty append with no_stream on existing stream: %v", err)
	}
}

func TestReadStream(t *testing.T) {
	created := time.Date(2024, 5, 6, 7, 8, 9, 123456700, time.UTC)
	srv := Start(t, WithClock(func() time.Time { return created }))
	c := newClient(t, srv)
	s := uniqueStream("read")

	batch := evs("Tick", 10)
	batch[0].ContentType = esdb.ContentTypeBinary
	batch[0].Data = []byte{0xb, 0xe, 0xe, 0xf}
	mustAppend(t, c, s, esdb.NoStream{}, batch...)
	mustAppend(t, c, uniqueStream("other"), esdb.NoStream{}, ev("Noise"))

	all := mustReadStream(t, c, s, esdb.ReadStreamOptions{}, 100)
	if !equalIDs(ids(all), dataIDs(batch)) {
		t.Fatal("forwards read returned other events")
	}
	e0 := all[0]
	if e0.StreamID != s || e0.EventType != "Tick" || e0.ContentType != "application/octet-stream" ||
		!bytes.Equal(e0.Data, batch[0].Data) || !bytes.Equal(e0.UserMetadata, batch[0].Metadata) ||
		!e0.CreatedDate.Equal(created) || e0.Position.Commit == 0 {
		t.Fatalf("event 0: %+v", e0)
	}
	if all[1].ContentType != "application/json" {
		t.Fatalf("content type %q", all[1].ContentType)
	}

	cases := []struct {
		name  string
		opts  esdb.ReadStreamOptions
		count uint64
		want  []uint64
	}{
		{"forwards from 3, count 4", esdb.ReadStreamOptions{From: esdb.Revision(3)}, 4, []uint64{3, 4, 5, 6}},
		{"forwards from 8", esdb.ReadStreamOptions{From: esdb.Revision(8)}, 100, []uint64{8, 9}},
		{"forwards past the end", esdb.ReadStreamOptions{From: esdb.Revision(50)}, 100, nil},
		{"forwards from end", esdb.ReadStreamOptions{From: esdb.End{}}, 100, nil},
		{"backwards from end, count 3", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 3, []uint64{9, 8, 7}},
		{"backwards from 2", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Revision(2)}, 100, []uint64{2, 1, 0}},
		{"backwards from start", esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.Start{}}, 100, []uint64{0}},
		{"count 0", esdb.ReadStreamOptions{}, 0, nil},
	}
	for _, tc := range cases {
		if got := revisions(mustReadStream(t, c, s, tc.opts, tc.count)); !equalU64(got, tc.want) {
			t.Errorf("%s: revisions %v, want %v", tc.name, got, tc.want)
		}
	}

	_, err := readStream(t, c, uniqueStream("missing"), esdb.ReadStreamOptions{}, 10)
	if errCode(t, err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("missing stream: %v", err)
	}
}

func TestTombstone(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	s := uniqueStream("tomb")
	mustAppend(t, c, s, esdb.NoStream{}, evs("A", 2)...)

	// Wrong expected revision on a tombstone is an error (FailedPrecondition
	// with exception=wrong-expected-version; the client maps it to Unknown).
	if _, err := c.TombstoneStream(ctx, s, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(7)}); err == nil {
		t.Fatal("tombstone with a wrong expected revision succeeded")
	}
	res, err := c.TombstoneStream(ctx, s, esdb.TombstoneStreamOptions{ExpectedRevision: esdb.Revision(1)})
	if err != nil || res.Position.Commit == 0 {
		t.Fatalf("tombstone: %+v %v", res, err)
	}
	if _, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 10); errCode(t, err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("read of a tombstoned stream: %v", err)
	}
	if _, err := readStream(t, c, s, esdb.ReadStreamOptions{Direction: esdb.Backwards, From: esdb.End{}}, 10); errCode(t, err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("backwards read of a tombstoned stream: %v", err)
	}
	for _, exp := range []esdb.ExpectedRevision{esdb.Any{}, esdb.NoStream{}, esdb.Revision(1), esdb.StreamExists{}} {
		_, err := c.AppendToStream(ctx, s, esdb.AppendToStreamOptions{ExpectedRevision: exp}, ev("B"))
		if errCode(t, err) != esdb.ErrorCodeStreamDeleted {
			t.Fatalf("append %T to a tombstoned stream: %v", exp, err)
		}
	}
	if _, err := c.TombstoneStream(ctx, s, esdb.TombstoneStreamOptions{}); errCode(t, err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("second tombstone: %v", err)
	}
	// The tombstone is a "$streamDeleted" record in $all.
	last := mustReadAll(t, c, esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}, 1)
	if len(last) != 1 || last[0].EventType != "$streamDeleted" || last[0].StreamID != s || last[0].Position != res.Position {
		t.Fatalf("last $all record: %+v", last)
	}
	// Subscribing to it fails like reading does.
	if _, err := c.SubscribeToStream(ctx, s, esdb.SubscribeToStreamOptions{From: esdb.Start{}}); errCode(t, err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("subscribe to a tombstoned stream: %v", err)
	}
}

func TestSoftDelete(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	s := uniqueStream("soft")
	mustAppend(t, c, s, esdb.NoStream{}, evs("A", 2)...)

	if _, err := c.DeleteStream(ctx, uniqueStream("missing"), esdb.DeleteStreamOptions{}); err == nil {
		t.Fatal("deleting a missing stream succeeded")
	}
	res, err := c.DeleteStream(ctx, s, esdb.DeleteStreamOptions{ExpectedRevision: esdb.Revision(1)})
	if err != nil || res.Position.Commit == 0 {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if _, err := readStream(t, c, s, esdb.ReadStreamOptions{}, 10); errCode(t, err) != esdb.ErrorCodeResourceNotFound {
		t.Fatalf("read of a soft-deleted stream: %v", err)
	}
	// stream_exists on a soft-deleted stream reports it deleted.
	_, err = c.AppendToStream(ctx, s, esdb.AppendToStreamOptions{ExpectedRevision: esdb.StreamExists{}}, ev("B"))
	if errCode(t, err) != esdb.ErrorCodeStreamDeleted {
		t.Fatalf("stream_exists append to soft-deleted stream: %v", err)
	}
	// no_stream recreates it; revisions continue where they left off.
	r := mustAppend(t, c, s, esdb.NoStream{}, ev("B"))
	if r.NextExpectedVersion != 2 {
		t.Fatalf("recreate: %+v", r)
	}
	if got := revisions(mustReadStream(t, c, s, esdb.ReadStreamOptions{}, 10)); !equalU64(got, []uint64{2}) {
		t.Fatalf("after recreate: %v", got)
	}
	meta, err := c.GetStreamMetadata(ctx, s, esdb.ReadStreamOptions{})
	if err != nil || meta.TruncateBefore() == nil || *meta.TruncateBefore() != 2 {
		t.Fatalf("metadata after recreate: %+v %v", meta, err)
	}
}

// The real server's limits: an append over MaxAppendSize (1 MiB by
// default) is refused whole, and so is an event over 16 MiB whatever
// MaxAppendSize says.
func TestAppendLimits(t *testing.T) {
	srv := Start(t)
	c := newClient(t, srv)
	ctx := ctxT(t)
	big := func(n int) esdb.EventData {
		e := ev("Big")
		e.ContentType = esdb.ContentTypeBinary
		e.Data = bytes.Repeat([]byte("x"), n)
		return e
	}
	s := uniqueStream("limits")
	if _, err := c.AppendToStream(ctx, s, esdb.AppendToStreamOptions{}, big(600<<10), big(600<<10)); err == nil {
		t.Fatal("an append of 1.2 MiB passed the default 1 MiB limit")
	}
	if _, err := c.AppendToStream(ctx, s, esdb.AppendToStreamOptions{}, big(600<<10)); err != nil {
		t.Fatalf("an append of 600 KiB: %v", err)
	}

	unlimited := Start(t, WithMaxAppendSize(0))
	u := newClient(t, unlimited)
	if _, err := u.AppendToStream(ctx, uniqueStream("huge"), esdb.AppendToStreamOptions{}, big(MaxEventSize+1)); err == nil {
		t.Fatal("an event over 16 MiB was stored")
	}
	if _, err := u.AppendToStream(ctx, uniqueStream("large"), esdb.AppendToStreamOptions{}, big(8<<20)); err != nil {
		t.Fatalf("an event of 8 MiB without an append limit: %v", err)
	}
	if n := unlimited.EventCount(); n != 1 {
		t.Fatalf("%d events stored, want only the 8 MiB one", n)
	}
}
