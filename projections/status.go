package projections

import (
	"context"
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
	EventsApplied int64           `json:"events_applied"`
	LagEvents     int64           `json:"lag_events"` // capped at LagCap
	LagCapped     bool            `json:"lag_capped,omitempty"`
	LagSeconds    float64         `json:"lag_seconds"` // age of the oldest event not yet applied
	AppliedBy     string          `json:"applied_by,omitempty"`
	UpdatedAt     time.Time       `json:"updated_at,omitzero"`
	Parked        []Parked        `json:"parked,omitempty"`
}

// Statuses reports every projection: checkpoint, lag in events and
// seconds, and parked events.
func Statuses(ctx context.Context, q Querier, store domain.EventStore, projs []Projection, now time.Time) ([]Status, error) {
	parked, err := ParkedEvents(ctx, q)
	if err != nil {
		return nil, err
	}
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
		if s.LagEvents, s.LagCapped, s.LagSeconds, err = lag(ctx, store, s.Checkpoint, now); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// lag counts the events after pos (up to LagCap) and the age of the first.
func lag(ctx context.Context, store domain.EventStore, pos domain.Position, now time.Time) (int64, bool, float64, error) {
	var n int64
	var secs float64
	for n < LagCap {
		evs, err := store.ReadAll(ctx, pos, 10_000, domain.Filter{})
		if err != nil {
			return 0, false, 0, err
		}
		if n == 0 && len(evs) > 0 {
			secs = max(now.Sub(evs[0].RecordedAt).Seconds(), 0)
		}
		n += int64(len(evs))
		if len(evs) < 10_000 {
			return n, false, secs, nil
		}
		pos = evs[len(evs)-1].Position
	}
	return n, true, secs, nil
}
