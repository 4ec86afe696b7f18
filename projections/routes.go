package projections

import (
	"fmt"
	"maps"
	"slices"

	"github.com/lushan-dpf/ledger/domain"
)

// Interest is what a read model declares about the events it reads: the
// event categories it reads (as domain.EventCategory names them), the
// types of those it handles — the keys of its routing table, the same
// table Apply dispatches through — and the types it deliberately leaves
// out. TestEveryEventTypeIsHandledOrIgnored holds every read model of All
// to it: each type the ledger's registry decodes in a category the model
// reads must be handled or ignored by name, so a new event type fails the
// test until each interested read model has decided what to do with it.
type Interest struct {
	// AnyType is set by a read model that treats every event alike,
	// whatever its type (the event index); it has no routing table.
	AnyType    bool
	Categories []string
	Handles    []string
	Ignores    []string
}

// Interested is implemented by every read model of All.
type Interested interface {
	Interest() Interest
}

// routes is a read model's routing table: for each event type it
// projects, the handler that folds an event of that type into the batch
// state S; the event categories it reads; and the types of those it
// leaves out. Handlers receive the event as the registry decodes it, a
// pointer to its struct.
type routes[S any] struct {
	categories []string
	handlers   map[string]func(S, *domain.Envelope) error
	ignores    []string
}

// route is one entry of a routing table.
type route[S any] struct {
	typ string
	fn  func(S, *domain.Envelope) error
}

// on returns the route of the events of type E, decoded as *E. The type
// name comes from the event type itself, so no handler can be filed under
// another type's name.
func on[S any, E any, P interface {
	*E
	domain.Event
}](fn func(s S, env *domain.Envelope, e P) error) route[S] {
	typ := P(new(E)).EventType()
	return route[S]{typ: typ, fn: func(s S, env *domain.Envelope) error {
		e, ok := env.Event.(P)
		if !ok {
			return fmt.Errorf("a %s event decoded as %T, not %T", typ, env.Event, e)
		}
		return fn(s, env, e)
	}}
}

// newRoutes returns the routing table of a read model that reads the
// given event categories. It panics on a type routed twice.
func newRoutes[S any](categories []string, rs ...route[S]) *routes[S] {
	r := &routes[S]{categories: categories, handlers: make(map[string]func(S, *domain.Envelope) error, len(rs))}
	for _, x := range rs {
		if _, dup := r.handlers[x.typ]; dup {
			panic("projections: " + x.typ + " routed twice")
		}
		r.handlers[x.typ] = x.fn
	}
	return r
}

// ignoring lists the types of the table's categories that the read model
// deliberately leaves out, and returns the table.
func (r *routes[S]) ignoring(types ...string) *routes[S] {
	r.ignores = append(r.ignores, types...)
	return r
}

// apply folds env into s with its type's handler. An event of a type the
// table does not route changes nothing.
func (r *routes[S]) apply(s S, env *domain.Envelope) error {
	if fn := r.handlers[env.Event.EventType()]; fn != nil {
		return fn(s, env)
	}
	return nil
}

// handles reports whether the table routes env's type.
func (r *routes[S]) handles(env *domain.Envelope) bool {
	_, ok := r.handlers[env.Event.EventType()]
	return ok
}

// interest reports the table as an Interest; more are types the read
// model handles through another table.
func (r *routes[S]) interest(more ...string) Interest {
	return Interest{
		Categories: slices.Clone(r.categories),
		Handles:    slices.Sorted(slices.Values(append(slices.Collect(maps.Keys(r.handlers)), more...))),
		Ignores:    slices.Clone(r.ignores),
	}
}

// handled returns the types the table routes.
func (r *routes[S]) handled() []string { return slices.Collect(maps.Keys(r.handlers)) }
