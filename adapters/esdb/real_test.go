//go:build esdbreal

package esdbstore_test

import (
	"os"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/storetest"
	"github.com/lushan-dpf/ledger/domain"
)

// TestContractRealServer runs the contract suite against the EventStoreDB
// server named by LEDGER_ESDB_URL. It is built only with -tags esdbreal
// (`make test-esdb`), and fails — never skips — without the variable.
func TestContractRealServer(t *testing.T) {
	url := os.Getenv("LEDGER_ESDB_URL")
	if url == "" {
		t.Fatal("LEDGER_ESDB_URL is not set: name a real EventStoreDB server, e.g. esdb://127.0.0.1:2113?tls=false (see docs/eventstoredb.md)")
	}
	s := open(t, url)
	storetest.Run(t, storetest.Harness{New: func(t *testing.T) domain.EventStore { return s }})
}
