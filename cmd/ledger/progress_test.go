package main

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// stoppingStore stops (fails) the n-th append it sees, and every one after:
// the process died there.
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

// An approval stopped midway shows its progress in `payroll report` and
// `project status`, and `payroll resume` finishes it — on both stores.
func TestAnApprovalStoppedMidwayShowsItsProgressAndResumes(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			t.Parallel()
			l := newCLILedger(t, store)
			l.registerPersons(0, 40)
			batch := l.draft("2025-01")
			l.must("project", "--once")
			// Another process approves with small chunks and dies after
			// its control event and three of its payment appends.
			stopping := &stoppingStore{EventStore: l.store, n: 5}
			// One worker: when the store stops it, no other shard's append is
			// still in flight to land after Approve returns (a cancelled append
			// can still commit), so the progress read next stays where it stopped.
			pay := app.NewPayroll(stopping, projections.ReadModels{Q: l.db.Pool, Store: l.store, Wait: time.Minute}, nil).WithChunkBytes(1 << 10).WithWorkers(1)
			meta := domain.CommandMeta{CommandID: "test:approve", Actor: "fin.li", Role: "finance", Now: time.Now()}
			if _, err := pay.Approve(context.Background(), meta, batch); !errors.Is(err, errStopped) {
				t.Fatalf("approve: %v, want it stopped", err)
			}
			progress := regexp.MustCompile(`issued (\d+) of 40 lines`)
			report := l.must("payroll", "report", batch)
			m := progress.FindStringSubmatch(report)
			if !strings.Contains(report, "(issuing, drafted by fin.wu, approved by fin.li") || m == nil || m[1] == "0" || m[1] == "40" {
				t.Fatalf("the report of a batch stopped midway:\n%s", report)
			}
			status := l.must("project", "status")
			if !strings.Contains(status, "PAYROLL BATCHES IN PROGRESS (1)") || !strings.Contains(status, batch+" (issuing, by fin.wu): issued "+m[1]+" of 40 lines") {
				t.Fatalf("project status does not show the batch stopped at %s of 40:\n%s", m[1], status)
			}
			l.must("project", "--once")
			if out := l.must("payroll", "resume", batch, "--user", "fin.zhou"); !strings.Contains(out, "was issuing; it is now approved") {
				t.Fatalf("resume: %s", out)
			}
			if report = l.must("payroll", "report", batch); !strings.Contains(report, "(approved, drafted by fin.wu, approved by fin.li") || strings.Contains(report, "in progress") {
				t.Fatalf("the report after resuming:\n%s", report)
			}
			if status = l.must("project", "status"); strings.Contains(status, "IN PROGRESS") {
				t.Fatalf("project status after resuming:\n%s", status)
			}
			if paid := l.paid(batch); len(paid) != 40 {
				t.Fatalf("%d months paid, want 40", len(paid))
			}
			l.verifyNeverTwice()
		})
	}
}
