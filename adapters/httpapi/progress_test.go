package httpapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// stoppingStore fails the n-th append it sees and every one after: the
// process died there.
type stoppingStore struct {
	domain.EventStore
	mu sync.Mutex
	n  int
}

var errStopped = errors.New("process stopped")

func (s *stoppingStore) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	s.mu.Lock()
	s.n--
	stop := s.n <= 0
	s.mu.Unlock()
	if stop {
		return domain.AppendResult{}, errStopped
	}
	return s.EventStore.Append(ctx, stream, expected, events...)
}

// A batch whose approval stopped midway shows its progress over HTTP, and
// the resume route finishes it — on both stores.
func TestBatchProgressOverHTTP(t *testing.T) {
	for _, kind := range []string{"postgres", "esdb"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			l := start(t, kind)
			l.addUser("finance2", "finance")
			_, after := l.livingPersons(30, 90)
			l.caughtUp(after)
			batch := l.draftOK("2025-01")["batch_id"].(string)
			// Another process approves with small chunks and dies after
			// its control event and three of its payment appends.
			stopping := &stoppingStore{EventStore: l.Store, n: 5}
			pay := app.NewPayroll(stopping, projections.ReadModels{Q: l.DB.Pool, Store: l.Store, Wait: time.Minute}, nil).WithChunkBytes(1 << 10).WithWorkers(1) // no append of another shard in flight when it stops
			meta := domain.CommandMeta{CommandID: "test:approve", Actor: "finance2", Role: "finance", Now: time.Now()}
			if _, err := pay.Approve(context.Background(), meta, batch); !errors.Is(err, errStopped) {
				t.Fatalf("approve: %v, want it stopped", err)
			}
			r := l.Do("GET", "/v1/payroll/batches/"+batch, "finance", "", nil)
			rep := r.JSON(t)
			p, _ := rep["progress"].(map[string]any)
			if r.Status != http.StatusOK || rep["state"] != "issuing" || p["step"] != "issuing" || fmt.Sprint(p["total"]) != "30" ||
				fmt.Sprint(p["done"]) == "0" || fmt.Sprint(p["done"]) == "30" {
				t.Fatalf("a batch stopped midway: %d %s", r.Status, r.Body)
			}
			r = l.Do("POST", "/v1/payroll/batches/"+batch+"/resume", "finance", key(), nil)
			for r.Status == http.StatusServiceUnavailable { // the read models catching up
				r = l.Do("POST", "/v1/payroll/batches/"+batch+"/resume", "finance", key(), nil)
			}
			if r.Status != http.StatusOK || r.JSON(t)["state"] != "approved" {
				t.Fatalf("resume: %d %s", r.Status, r.Body)
			}
			r = l.Do("GET", "/v1/payroll/batches/"+batch, "finance", "", nil)
			if rep = r.JSON(t); rep["state"] != "approved" || rep["progress"] != nil || rep["approved_by"] != "finance2" {
				t.Fatalf("after resuming: %s", r.Body)
			}
			if paid := l.paidMonths(batch); len(paid) != 30 {
				t.Fatalf("%d months paid, want 30", len(paid))
			}
			l.neverTwice()
		})
	}
}
