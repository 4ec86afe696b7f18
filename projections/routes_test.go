package projections

import (
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

// A routed type arriving in another shape than the registry decodes is an
// error, never silently skipped; a type the table does not route changes
// nothing.
func TestRoutesRefuseAnotherShape(t *testing.T) {
	r := newRoutes([]string{"beneficiary"}, on(func(n *int, _ *domain.Envelope, _ *domain.PersonDied) error {
		*n++
		return nil
	}))
	var n int
	if err := r.apply(&n, &domain.Envelope{Type: domain.TypePersonDied, Event: &domain.PersonDied{}}); err != nil || n != 1 {
		t.Errorf("decoded shape: %v, %d applied", err, n)
	}
	if err := r.apply(&n, &domain.Envelope{Type: domain.TypePersonDied, Event: domain.PersonDied{}}); err == nil || n != 1 {
		t.Errorf("a value: %v, %d applied; want an error", err, n)
	}
	if err := r.apply(&n, &domain.Envelope{Type: domain.TypeDeathRetracted, Event: &domain.DeathRetracted{}}); err != nil || n != 1 {
		t.Errorf("a type not routed: %v, %d applied", err, n)
	}
}
