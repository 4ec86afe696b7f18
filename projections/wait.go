package projections

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// waitPoll is how often WaitCaughtUp reads the checkpoints.
const waitPoll = 75 * time.Millisecond

// WaitCaughtUp waits until every projection in projs has applied every
// event committed to the log when it is called, for callers that decide on
// the read models (a payroll draft must not pay a person whose termination
// was recorded a minute ago). It takes the head of the log (store.Head,
// which counts events held back behind an append in flight) and polls the
// projections' checkpoints in q until each is at or after it: the runner
// applies every event to every projection, so a checkpoint passes every
// position.
//
// It returns nil once they are; a *LagError, matching domain.ErrUnavailable,
// if they are not within timeout (0: look once); a *ParkedError, also
// matching domain.ErrUnavailable, at once if one of them is parked; or the
// context's error.
func WaitCaughtUp(ctx context.Context, q Querier, store domain.EventStore, projs []Projection, timeout time.Duration) error {
	start := time.Now()
	head, err := store.Head(ctx)
	if err != nil {
		return fmt.Errorf("wait for the read models: %w", err)
	}
	var first *behind
	for {
		b, err := slowest(ctx, q, projs, head)
		if err != nil {
			return err
		}
		if b == nil {
			return nil
		}
		if first == nil {
			first = b
		}
		waited := time.Since(start)
		if waited >= timeout {
			return lagError(ctx, store, b, first, waited)
		}
		t := time.NewTimer(min(waitPoll, timeout-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("wait for the read models: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// behind is the projection furthest from the head.
type behind struct {
	name  string
	state string // running, not_created, rebuild_pending
	pos   domain.Position
}

// slowest returns the projection furthest behind head, nil if none is, or
// a *ParkedError if one is parked.
func slowest(ctx context.Context, q Querier, projs []Projection, head domain.Position) (*behind, error) {
	cps, err := Checkpoints(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("wait for the read models: %w", err)
	}
	byName := make(map[string]Checkpoint, len(cps))
	for _, c := range cps {
		byName[c.Name] = c
	}
	var out *behind
	for _, p := range projs {
		c, found := byName[p.Name()]
		b := behind{name: p.Name(), state: c.Status, pos: c.Position}
		switch {
		case !found:
			b.state, b.pos = "not_created", domain.Start
		case c.Status == "parked":
			return nil, parkedError(ctx, q, p.Name())
		case c.Version != p.Version():
			b.state = "rebuild_pending" // the runner rebuilds it before it goes on
		case !c.Position.Less(head):
			continue
		}
		if out == nil || b.pos.Less(out.pos) || (out.state == "running" && b.state != "running") {
			out = &b
		}
	}
	return out, nil
}

// LagError reports read models behind the event log: what a caller that
// must decide on them tells its user. It matches domain.ErrUnavailable.
type LagError struct {
	Projection string // the projection furthest behind
	// State is its state when it is not running yet: not_created or
	// rebuild_pending (the runner is building its tables); else "".
	State    string
	Events   int64         // committed events it has not applied yet (also held-back ones)
	Capped   bool          // there are more than Events (LagCap)
	Behind   time.Duration // age of the oldest of them
	HeldBack int64         // of Events, those held back behind an append in flight
	HeldBy   *domain.AppendInFlight
	// Stalled is true when the projection applied nothing while the caller
	// waited although nothing held it back: is the runner running?
	Stalled bool
	Waited  time.Duration
}

func (e *LagError) Error() string {
	var b strings.Builder
	switch {
	case e.State != "" && e.Events == 0:
		fmt.Fprintf(&b, "the read model %s is being built", e.Projection)
	default:
		what := "events"
		if e.Events == 1 {
			what = "event"
		}
		more := ""
		if e.Capped {
			more = "at least "
		}
		fmt.Fprintf(&b, "the read models are %s%d %s (%.1f s) behind the event log", more, e.Events, what, e.Behind.Seconds())
	}
	switch {
	case e.HeldBack > 0 && e.HeldBack >= e.Events:
		fmt.Fprintf(&b, "; held back by %s", holderText(e.HeldBy))
	case e.HeldBack > 0:
		fmt.Fprintf(&b, "; %d of them held back by %s", e.HeldBack, holderText(e.HeldBy))
	case e.Stalled:
		fmt.Fprintf(&b, "; they did not move in %.1f s: is the projection runner (ledger serve or ledger project) running?", e.Waited.Seconds())
	}
	b.WriteString("; retry shortly")
	return b.String()
}

func (e *LagError) Unwrap() error { return domain.ErrUnavailable }

func holderText(by *domain.AppendInFlight) string {
	if by == nil {
		return "an older append still in flight"
	}
	return by.String()
}

// lagError measures the lag of the projection furthest behind.
func lagError(ctx context.Context, store domain.EventStore, b, first *behind, waited time.Duration) error {
	head, err := store.Head(ctx)
	if err != nil {
		return fmt.Errorf("wait for the read models: %w", err)
	}
	l, err := lag(ctx, store, b.pos, head, time.Now())
	if err != nil {
		return fmt.Errorf("wait for the read models: %w", err)
	}
	e := &LagError{
		Projection: b.name, Events: l.events, Capped: l.capped, Behind: time.Duration(l.seconds * float64(time.Second)),
		HeldBack: l.heldBack, HeldBy: l.heldBy, Waited: waited,
	}
	if b.state != "running" {
		e.State = b.state
	}
	e.Stalled = l.heldBack == 0 && first.name == b.name && first.pos == b.pos && waited > 0
	return e
}

// ParkedError reports a read model stopped at an event it could not
// apply: it stays behind until an operator fixes the cause and runs
// `ledger project retry NAME`. It matches domain.ErrUnavailable.
type ParkedError struct {
	Projection string
	Event      *Parked // the event it stopped at, when known
}

func (e *ParkedError) Error() string {
	at := ""
	if e.Event != nil {
		at = fmt.Sprintf(" (%s at %s)", e.Event.EventType, e.Event.Position)
	}
	return fmt.Sprintf("the read model %s is stopped at an event it could not apply%s; an operator must fix it and run `ledger project retry %s`",
		e.Projection, at, e.Projection)
}

func (e *ParkedError) Unwrap() error { return domain.ErrUnavailable }

func parkedError(ctx context.Context, q Querier, name string) error {
	e := &ParkedError{Projection: name}
	parked, err := ParkedEvents(ctx, q)
	if err != nil {
		return fmt.Errorf("wait for the read models: %w", err)
	}
	for _, p := range parked {
		if p.Name == name {
			e.Event = &p
			break
		}
	}
	return e
}
