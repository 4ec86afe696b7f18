package pgstore_test

import (
	"testing"

	"github.com/lushan-dpf/ledger/adapters/storetest"
	"github.com/lushan-dpf/ledger/domain"
)

// AppendMany is one transaction on PostgreSQL: the cases every store passes
// run in TestContract; these hold only here.
func TestBulkAppendIsAllOrNothing(t *testing.T) {
	storetest.RunBulkAtomic(t, storetest.Harness{New: func(t *testing.T) domain.EventStore {
		s, _ := newStore(t)
		return s
	}})
}
