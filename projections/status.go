package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// LagCap bounds how many events Status counts behind a checkpoint.
const LagCap = 1_000_000

// Status is one projection's state for operators.
type Status struct {
	Name          string          `json:"name"`
	Version       int             `json:"version"`        // of the code
	StoredVersion int             `json:"stored_version"` // of the tables; 0 if not created yet
	State         string          `json:"state"`          // running, parked, not_created, rebuild_pending
	Checkpoint    domain.Position `json:"checkpoint"`
	Head          domain.Position `json:"head"` // the last event committed to the log
	EventsApplied int64           `json:"events_applied"`
	// LagEvents counts the events committed after the checkpoint, also
	// those the store does not deliver yet because an older append is
	// still in flight; capped at LagCap.
	LagEvents  int64   `json:"lag_events"`
	LagCapped  bool    `json:"lag_capped,omitempty"`
	LagSeconds float64 `json:"lag_seconds"` // age of the oldest event not yet applied
	// HeldBackEvents counts those of LagEvents that the projection cannot
	// get yet: they were committed after an append that is still in
	// flight (HeldBy), and the store delivers nothing past it until it
	// ends, so that no event can later appear before one already applied.
	HeldBackEvents int64                  `json:"held_back_events"`
	HeldBy         *domain.AppendInFlight `json:"held_back_by,omitempty"`
	AppliedBy      string                 `json:"applied_by,omitempty"`
	UpdatedAt      time.Time              `json:"updated_at,omitzero"`
	Parked         []Parked               `json:"parked,omitempty"`
}

// HeldBack describes what holds the projection's next events back, e.g.
// "3 events held back by an append in flight since 12:03:04 (pid 1234)";
// "" when nothing does.
func (s Status) HeldBack() string {
	if s.HeldBackEvents == 0 {
		return ""
	}
	return heldBackText(s.HeldBackEvents, s.HeldBy)
}

func heldBackText(n int64, by *domain.AppendInFlight) string {
	what := "events"
	if n == 1 {
		what = "event"
	}
	return fmt.Sprintf("%d %s held back by %s", n, what, holderText(by))
}

// Statuses reports every projection: checkpoint, lag in events and
// seconds — measured against the head of the log, so events committed but
// held back behind an append in flight count — and parked events.
func Statuses(ctx context.Context, q Querier, store domain.EventStore, projs []Projection, now time.Time) ([]Status, error) {
	parked, err := ParkedEvents(ctx, q)
	if err != nil {
		return nil, err
	}
	head, err := store.Head(ctx)
	if err != nil {
		return nil, fmt.Errorf("projection status: %w", err)
	}
	lags := map[domain.Position]lagInfo{} // projections often share a checkpoint
	out := make([]Status, 0, len(projs))
	for _, p := range projs {
		c, found, err := LoadCheckpoint(ctx, q, p.Name())
		if err != nil {
			return nil, err
		}
		s := Status{Name: p.Name(), Version: p.Version()}
		switch {
		case !found:
			s.State = "not_created"
		case c.Version != p.Version():
			s.State = "rebuild_pending"
		default:
			s.State = c.Status
		}
		if found {
			s.StoredVersion, s.Checkpoint, s.EventsApplied = c.Version, c.Position, c.EventsApplied
			s.AppliedBy, s.UpdatedAt = c.AppliedBy, c.UpdatedAt
		}
		for _, pk := range parked {
			if pk.Name == p.Name() {
				s.Parked = append(s.Parked, pk)
			}
		}
		l, ok := lags[s.Checkpoint]
		if !ok {
			if l, err = lag(ctx, store, s.Checkpoint, head, now); err != nil {
				return nil, fmt.Errorf("projection status: %w", err)
			}
			lags[s.Checkpoint] = l
		}
		s.Head = head
		s.LagEvents, s.LagCapped, s.LagSeconds = l.events, l.capped, l.seconds
		s.HeldBackEvents, s.HeldBy = l.heldBack, l.heldBy
		out = append(out, s)
	}
	return out, nil
}

// lagInfo is what is committed after a checkpoint and not applied yet.
type lagInfo struct {
	events   int64 // up to LagCap
	capped   bool
	seconds  float64 // age of the first of them
	heldBack int64   // of events, those the store does not deliver yet
	heldBy   *domain.AppendInFlight
}

// lag measures what is committed after pos. A store that may hold events
// back (domain.BacklogReporter) counts them itself; any other delivers
// every committed event to ReadAll, which counts them then.
func lag(ctx context.Context, store domain.EventStore, pos, head domain.Position, now time.Time) (lagInfo, error) {
	if !pos.Less(head) {
		return lagInfo{}, nil
	}
	age := func(t time.Time) float64 {
		if t.IsZero() {
			return 0
		}
		return max(now.Sub(t).Seconds(), 0)
	}
	if br, ok := store.(domain.BacklogReporter); ok {
		b, err := br.Backlog(ctx, pos, LagCap)
		if err != nil {
			return lagInfo{}, err
		}
		return lagInfo{events: b.Events, capped: b.Capped, seconds: age(b.Oldest), heldBack: b.HeldBack, heldBy: b.HeldBy}, nil
	}
	var l lagInfo
	for l.events < LagCap {
		evs, err := store.ReadAll(ctx, pos, 10_000, domain.Filter{})
		if err != nil {
			return lagInfo{}, err
		}
		if l.events == 0 && len(evs) > 0 {
			l.seconds = age(evs[0].RecordedAt)
		}
		l.events += int64(len(evs))
		if len(evs) < 10_000 {
			if l.events == 0 {
				// Head is past pos but ReadAll has nothing: the store holds
				// at least the event at Head back, and cannot say more.
				l.events, l.heldBack = 1, 1
			}
			return l, nil
		}
		pos = evs[len(evs)-1].Position
	}
	l.capped = true
	return l, nil
}
