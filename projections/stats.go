package projections

import (
	"fmt"
	"io"
	"sort"
	"sync"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// Stats is the runner's progress, for /metrics and readiness. Safe for
// concurrent use.
type Stats struct {
	mu       sync.Mutex
	leader   bool
	caughtUp bool
	per      map[string]*projectionStats
	// The runner's current run of transient failures (none: zero since).
	retryingSince time.Time
	retryAttempts int
	retriesTotal  int64
}

type projectionStats struct {
	applied     int64
	batches     int64
	parked      bool
	position    domain.Position
	lastEventAt time.Time
}

// NewStats returns empty stats.
func NewStats() *Stats { return &Stats{per: map[string]*projectionStats{}} }

func (s *Stats) get(name string) *projectionStats {
	p := s.per[name]
	if p == nil {
		p = &projectionStats{}
		s.per[name] = p
	}
	return p
}

func (s *Stats) setLeader(v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.leader = v
}

func (s *Stats) setCaughtUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.caughtUp = true
}

func (s *Stats) setRetrying(since time.Time, attempts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if attempts > s.retryAttempts {
		s.retriesTotal += int64(attempts - s.retryAttempts)
	}
	s.retryingSince, s.retryAttempts = since, attempts
}

// Retrying reports the runner's current run of transient failures: since
// when it has been waiting for the database (zero when it is not) and how
// many attempts failed.
func (s *Stats) Retrying() (since time.Time, attempts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retryingSince, s.retryAttempts
}

// TransientRetries is how many times the runner has waited out a
// transient failure, in all.
func (s *Stats) TransientRetries() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.retriesTotal
}

// CaughtUp reports whether the runner has caught up with the log once.
func (s *Stats) CaughtUp() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.caughtUp
}

func (s *Stats) setCheckpoint(c Checkpoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(c.Name)
	p.position, p.parked, p.lastEventAt = c.Position, c.Status == "parked", c.LastEventAt
}

func (s *Stats) setParked(name string, v bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.get(name).parked = v
}

func (s *Stats) applied(name string, n int, pos domain.Position, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.get(name)
	p.applied += int64(n)
	p.batches++
	p.position, p.lastEventAt = pos, at
}

// Position returns the oldest position among the projections that are not
// parked, and whether there is one: every projection has applied the log
// up to it.
func (s *Stats) Position() (domain.Position, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var min domain.Position
	found := false
	for _, p := range s.per {
		if p.parked {
			continue
		}
		if !found || p.position.Less(min) {
			min, found = p.position, true
		}
	}
	return min, found
}

// WritePrometheus writes the stats in the Prometheus text format.
func (s *Stats) WritePrometheus(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	fmt.Fprintln(w, "# HELP ledger_projection_runner_active 1 if this process holds the projection runner lock.")
	fmt.Fprintln(w, "# TYPE ledger_projection_runner_active gauge")
	fmt.Fprintf(w, "ledger_projection_runner_active %d\n", b2i(s.leader))
	fmt.Fprintln(w, "# HELP ledger_projection_caught_up 1 once the runner has caught up with the log.")
	fmt.Fprintln(w, "# TYPE ledger_projection_caught_up gauge")
	fmt.Fprintf(w, "ledger_projection_caught_up %d\n", b2i(s.caughtUp))
	fmt.Fprintln(w, "# HELP ledger_projection_runner_retrying_since_seconds When the runner began waiting out transient database failures (Unix time); 0 when it is not.")
	fmt.Fprintln(w, "# TYPE ledger_projection_runner_retrying_since_seconds gauge")
	since := "0"
	if !s.retryingSince.IsZero() {
		since = fmt.Sprintf("%.3f", float64(s.retryingSince.UnixMilli())/1000)
	}
	fmt.Fprintf(w, "ledger_projection_runner_retrying_since_seconds %s\n", since)
	fmt.Fprintln(w, "# HELP ledger_projection_runner_transient_retries_total Transient database failures the runner waited out.")
	fmt.Fprintln(w, "# TYPE ledger_projection_runner_transient_retries_total counter")
	fmt.Fprintf(w, "ledger_projection_runner_transient_retries_total %d\n", s.retriesTotal)
	names := make([]string, 0, len(s.per))
	for n := range s.per {
		names = append(names, n)
	}
	sort.Strings(names)
	metrics := []struct {
		name, help, typ string
		value           func(p *projectionStats) string
	}{
		{"ledger_projection_events_applied_total", "Events applied by this process.", "counter", func(p *projectionStats) string { return fmt.Sprint(p.applied) }},
		{"ledger_projection_batches_total", "Batches committed by this process.", "counter", func(p *projectionStats) string { return fmt.Sprint(p.batches) }},
		{"ledger_projection_parked", "1 if the projection is stopped at a parked event.", "gauge", func(p *projectionStats) string { return fmt.Sprint(b2i(p.parked)) }},
		{"ledger_projection_checkpoint_commit", "Commit part of the checkpoint position.", "gauge", func(p *projectionStats) string { return fmt.Sprint(p.position.Commit) }},
		{"ledger_projection_last_event_timestamp_seconds", "Recorded-at of the last event applied.", "gauge", func(p *projectionStats) string {
			if p.lastEventAt.IsZero() {
				return "0"
			}
			return fmt.Sprintf("%.3f", float64(p.lastEventAt.UnixMilli())/1000)
		}},
	}
	for _, m := range metrics {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", m.name, m.help, m.name, m.typ)
		for _, n := range names {
			fmt.Fprintf(w, "%s{projection=%q} %s\n", m.name, n, m.value(s.per[n]))
		}
	}
}
