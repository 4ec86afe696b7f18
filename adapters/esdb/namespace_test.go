package esdbstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	esdbstore "github.com/lushan-dpf/ledger/adapters/esdb"
	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/storetest"
	"github.com/lushan-dpf/ledger/domain"
)

func openIn(t *testing.T, conn, ns string) *esdbstore.Store {
	t.Helper()
	s, err := esdbstore.Open(conn, quiet, esdbstore.WithNamespace(ns))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// The contract suite holds for a namespaced store on a server that also
// holds other ledgers' streams: with no namespace, and in another one.
func TestContractInANamespace(t *testing.T) {
	srv := esdbtest.Start(t)
	ctx := context.Background()
	for _, other := range []string{"", "other"} {
		s := openIn(t, srv.ConnectionString(), other)
		for i := range 3 {
			if _, err := s.Append(ctx, fmt.Sprintf("person-%d", i), domain.AnyRevision(),
				domain.EventData{ID: domain.EventID(other+"seed", i), Type: "test.Seeded.v1", Data: []byte(`{}`), Metadata: []byte(`{}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	s := openIn(t, srv.ConnectionString(), "run-1")
	storetest.Run(t, storetest.Harness{New: func(t *testing.T) domain.EventStore { return s }})
}

// Two ledgers on one server, with the same stream names, see only their
// own events — by stream, through $all, at the head and by subscription —
// named as they appended them.
func TestNamespacesKeepLedgersApart(t *testing.T) {
	srv := esdbtest.Start(t)
	ctx := context.Background()
	stores := map[string]*esdbstore.Store{}
	for _, ns := range []string{"", "a", "b"} {
		stores[ns] = openIn(t, srv.ConnectionString(), ns)
	}
	heads := map[string]domain.Position{}
	for k, ns := range []string{"a", "", "b"} {
		for i := range k + 2 { // 2, 3 and 4 events, interleaved on the server
			res, err := stores[ns].Append(ctx, "payroll-living_subsidy", domain.AnyRevision(),
				domain.EventData{ID: domain.EventID("ns"+ns, i), Type: "test.Appended.v1", Data: fmt.Appendf(nil, `{"ns":%q}`, ns), Metadata: []byte(`{}`)})
			if err != nil {
				t.Fatal(err)
			}
			heads[ns] = res.Position
		}
	}
	for ns, want := range map[string]int{"a": 2, "": 3, "b": 4} {
		s := stores[ns]
		evs, err := s.ReadStream(ctx, "payroll-living_subsidy", domain.Forwards, 0, 100)
		if err != nil || len(evs) != want {
			t.Fatalf("namespace %q: stream has %d events (%v), want %d", ns, len(evs), err, want)
		}
		all, err := s.ReadAll(ctx, domain.Start, 100, domain.Filter{StreamPrefixes: []string{"payroll-"}})
		if err != nil || len(all) != want {
			t.Fatalf("namespace %q: $all has %d events (%v), want %d", ns, len(all), err, want)
		}
		for _, e := range append(evs, all...) {
			if e.Stream != "payroll-living_subsidy" || string(e.Data) != fmt.Sprintf(`{"ns":%q}`, ns) {
				t.Fatalf("namespace %q read %s %s", ns, e.Stream, e.Data)
			}
		}
		if head, err := s.Head(ctx); err != nil || head != heads[ns] {
			t.Fatalf("namespace %q: head %v (%v), want its last append %v", ns, head, err, heads[ns])
		}
		sub, err := s.SubscribeAll(ctx, domain.Start, domain.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		for got := 0; got < want; {
			m, err := sub.Recv(rctx)
			if err != nil {
				t.Fatalf("namespace %q: %d of %d events by subscription: %v", ns, got, want, err)
			}
			if m.Event == nil {
				continue
			}
			if m.Event.Stream != "payroll-living_subsidy" || string(m.Event.Data) != fmt.Sprintf(`{"ns":%q}`, ns) {
				t.Fatalf("namespace %q: subscription delivered %s %s", ns, m.Event.Stream, m.Event.Data)
			}
			got++
		}
		cancel()
		_ = sub.Close()
	}
	// Bad namespaces are refused, naming the setting.
	for _, bad := range []string{"with space", "a:b", "$all", "名字"} {
		_, err := esdbstore.Open(srv.ConnectionString(), quiet, esdbstore.WithNamespace(bad))
		if !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("namespace %q: %v, want invalid", bad, err)
		}
	}
}
