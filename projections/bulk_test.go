package projections_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// appendEnvelopes appends the events of envs to the store after the
// first `before` ones, one append each and in order, and waits until the
// log shows them all.
func appendEnvelopes(t *testing.T, b bundle, before int, envs []domain.Envelope) {
	t.Helper()
	ctx := context.Background()
	for i, env := range envs {
		meta := domain.CommandMeta{CommandID: fmt.Sprintf("cmd-%d", before+i), Actor: "fin", Role: "finance", Now: env.Meta.RecordedAt}
		data, err := domain.Seal(meta, "", []domain.Event{env.Event})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.Append(ctx, env.Stream, domain.AnyRevision(), data...); err != nil {
			t.Fatal(err)
		}
	}
	readLog(t, b, before+len(envs))
}

// TestRebuildEqualsIncrementalApply: a rebuild folds the log in memory
// and writes each key once (spending) or COPYs its rows (payments); the
// runner applies the same events in small batches. Both must give the
// same tables — whether the rebuild writes once at the end or many
// times (merging with what earlier writes wrote), and whether its writes
// COPY or insert — and Verify, which compares the live tables with a
// rebuild, must find nothing.
func TestRebuildEqualsIncrementalApply(t *testing.T) {
	t.Parallel()
	// Each log is generated up to n events (and then further).
	logs := map[string]struct {
		g   *payGen
		gen func(g *payGen, n int) []domain.Envelope
		n   int
	}{
		"random events":   {newPayGen(7, 3, 4, 12), func(g *payGen, n int) []domain.Envelope { return g.run(n, payPropertyWeights) }, 500},
		"monthly payroll": {newPayGen(8, 2, 3, 40), func(g *payGen, n int) []domain.Envelope { return g.payroll(n, false) }, 700},
	}
	limits := []struct {
		name                            string
		spendingMarks, paymentRows, min int
	}{
		{"one write, inserts", 0, 0, 0},
		{"one write, COPY", 0, 0, 1},
		{"a write every few pages, COPY", 50, 40, 1},
		{"a write every page, COPY or insert", 1, 1, 8},
	}
	projs := []projections.Projection{projections.SpendingProjection{}, projections.PaymentsProjection{}}
	for name, log := range logs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			g := log.g
			envs := log.gen(g, log.n)
			b := setup(t)
			appendEnvelopes(t, b, 0, envs)
			live := newRunner(b, projs...) // batches of 7 events
			if err := live.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			applied := map[string][]string{}
			for _, p := range projs {
				for _, table := range p.Tables() {
					applied[table] = prtest.Dump(t, b.db.Pool, table)
				}
			}
			spendCheckModel(t, g, b.db.Pool)
			for _, l := range limits {
				r := newRunner(b, projs...)
				r.RebuildBatch = 23
				projections.SetBulkLimits(r, l.spendingMarks, l.paymentRows, l.min)
				for name, v := range verifyAll(t, r, projs, 5) {
					if v.ProblemCount() != 0 || v.Events != int64(len(envs)) {
						t.Errorf("%s: verify %s after %d events: %+v", l.name, name, len(envs), v)
					}
				}
				for _, p := range projs {
					if err := r.Rebuild(ctx, p); err != nil {
						t.Fatalf("%s: %v", l.name, err)
					}
					for _, table := range p.Tables() {
						if got := prtest.Dump(t, b.db.Pool, table); !slices.Equal(got, applied[table]) {
							t.Errorf("%s: %s rebuilt differs from %s applied in batches\nrebuilt:\n%s\napplied:\n%s",
								l.name, table, table, prtest.Lines(got), prtest.Lines(applied[table]))
						}
					}
				}
				spendCheckModel(t, g, b.db.Pool)
			}
			// The live path goes on from the rebuilt tables: more events,
			// applied in batches, give the tables a rebuild of all gives.
			envs = slices.Clone(envs)
			more := log.gen(g, len(envs)+150)[len(envs):]
			appendEnvelopes(t, b, len(envs), more)
			if err := live.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
			spendCheckModel(t, g, b.db.Pool)
			for name, v := range verifyAll(t, newRunner(b, projs...), projs, 5) {
				if v.ProblemCount() != 0 {
					t.Errorf("after more events applied to the rebuilt tables: verify %s: %+v", name, v)
				}
			}
		})
	}
}

// TestRebuildStopsAtAFailedWrite: a write that fails — here the payments
// register's, on a settlement of a payment never issued, in a window
// after the first and before the last — ends the rebuild with its error,
// and leaves the live tables as they were and no shadow schema behind.
func TestRebuildStopsAtAFailedWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newPayGen(9, 2, 3, 20)
	issues := slices.Clone(g.payroll(600, true))
	l := issues[0].Event.(*domain.PaymentIssued).PaymentLine
	l.Reference = "never-issued"
	bad := g.log.Add("payroll-x", domain.PaymentSettled{PaymentLine: l, BankReference: "B", SettledOn: l.PaidOn})
	b := setup(t)
	appendEnvelopes(t, b, 0, issues[:200])
	projs := []projections.Projection{projections.PaymentsProjection{}}
	if err := newRunner(b, projs...).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	before := prtest.Dump(t, b.db.Pool, "payments")
	appendEnvelopes(t, b, 200, append([]domain.Envelope{bad}, issues[200:]...))
	r := newRunner(b, projs...)
	r.RebuildBatch = 50
	projections.SetBulkLimits(r, 0, 100, 1)
	err := r.Rebuild(ctx, projs[0])
	if !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), "never-issued") {
		t.Fatalf("rebuild ended with %v, want the settlement of a payment never issued", err)
	}
	if got := prtest.Dump(t, b.db.Pool, "payments"); !slices.Equal(got, before) {
		t.Errorf("the live payments changed:\n%s\nwant\n%s", prtest.Lines(got), prtest.Lines(before))
	}
	var shadows int
	if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, 'rb_payments_' || $1)`, schemaHash(b)).Scan(&shadows); err != nil || shadows != 0 {
		t.Errorf("%d shadow schemas left (%v)", shadows, err)
	}
}

// logOnly hides every method of the store but those of domain.EventStore
// (so it is not a domain.DataReader): the rebuild reads it with ReadAll.
type logOnly struct{ domain.EventStore }

// TestRebuildReadsTheLogWithOrWithoutMetadata: a bulk rebuild reads the
// PostgreSQL store without the events' metadata (domain.DataReader) and
// any other store with ReadAll; both give the same tables, count every
// event, and record the recorded-at of the last one, which only its
// metadata holds.
func TestRebuildReadsTheLogWithOrWithoutMetadata(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	if _, ok := domain.EventStore(b.store).(domain.DataReader); !ok {
		t.Fatal("the PostgreSQL store is not a domain.DataReader")
	}
	g := newPayGen(9, 2, 3, 12)
	envs := g.payroll(300, false)
	appendEnvelopes(t, b, 0, envs)
	lastAt := envs[len(envs)-1].Meta.RecordedAt
	var dumps [2][]string
	for i, store := range []domain.EventStore{b.store, logOnly{b.store}} {
		r := newRunner(b)
		r.Store, r.RebuildBatch = store, 23
		if err := r.Rebuild(ctx, projections.SpendingProjection{}); err != nil {
			t.Fatal(err)
		}
		c, _, err := projections.LoadCheckpoint(ctx, b.db.Pool, projections.SpendingProjection{}.Name())
		if err != nil {
			t.Fatal(err)
		}
		if c.EventsApplied != int64(len(envs)) || !c.LastEventAt.Equal(lastAt) {
			t.Errorf("store %d: checkpoint after %d events, the last recorded at %s: %+v", i, len(envs), lastAt, c)
		}
		dumps[i] = prtest.Dump(t, b.db.Pool, "spending")
	}
	if len(dumps[0]) == 0 || !slices.Equal(dumps[0], dumps[1]) {
		t.Errorf("spending rebuilt without metadata:\n%s\nwith it:\n%s", prtest.Lines(dumps[0]), prtest.Lines(dumps[1]))
	}
	spendCheckModel(t, g, b.db.Pool)
}

// pageLog records the pages a rebuild reads through ReadAll.
type pageLog struct {
	domain.EventStore
	mu     sync.Mutex
	limits []int
	bytes  []int
	events int
}

func (s *pageLog) ReadAll(ctx context.Context, from domain.Position, limit int, f domain.Filter) ([]domain.RecordedEvent, error) {
	recs, err := s.EventStore.ReadAll(ctx, from, limit, f)
	size := 0
	for _, r := range recs {
		size += len(r.Data) + len(r.Metadata)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limits, s.bytes, s.events = append(s.limits, limit), append(s.bytes, size), s.events+len(recs)
	return recs, err
}

// TestRebuildPagesAreBoundedInBytes: a rebuild asks for as many events as
// fit in RebuildPageBytes at the size of the events it has read, so large
// events (the payroll's chunks) make short pages; every event is still
// read once, and the tables are those of a rebuild in whole pages.
func TestRebuildPagesAreBoundedInBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	g := newPayGen(11, 2, 3, 12)
	envs := g.payroll(120, false)
	appendEnvelopes(t, b, 0, envs)
	var dumps [2][]string
	var pages *pageLog
	for i, pageBytes := range []int{0, 4000} {
		pages = &pageLog{EventStore: b.store}
		r := newRunner(b)
		r.Store, r.RebuildBatch, r.RebuildPageBytes = pages, 1000, pageBytes
		if err := r.Rebuild(ctx, projections.PaymentsProjection{}); err != nil {
			t.Fatal(err)
		}
		dumps[i] = prtest.Dump(t, b.db.Pool, "payments")
	}
	if len(dumps[0]) == 0 || !slices.Equal(dumps[0], dumps[1]) {
		t.Errorf("payments rebuilt in pages of 4,000 bytes:\n%s\nin whole pages:\n%s", prtest.Lines(dumps[1]), prtest.Lines(dumps[0]))
	}
	// The first page learns the size (100 events at most), the others
	// hold about 4,000 bytes: some events more than that at most. (The
	// swap's read of what came meanwhile finds nothing.)
	if pages.events != len(envs) || len(pages.limits) < 5 || pages.limits[0] != 100 {
		t.Fatalf("read %d events of %d in pages asking for %v", pages.events, len(envs), pages.limits)
	}
	for i, size := range pages.bytes[1:] {
		if size == 0 && i+2 == len(pages.bytes) {
			continue
		}
		if size > 6000 || pages.limits[i+1] >= 100 {
			t.Errorf("page %d asked for %d events and holds %d bytes, over the bound of 4,000", i+1, pages.limits[i+1], size)
		}
	}
}
