package esdbtest

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	esdbstore "github.com/lushan-dpf/ledger/adapters/esdb"
	"github.com/lushan-dpf/ledger/adapters/postgres"
)

// RealServerVar names the environment variable that points whole-flow
// tests at a real EventStoreDB (`make test-esdb`), e.g.
// LEDGER_ESDB_URL='esdb://127.0.0.1:2113?tls=false'.
const RealServerVar = "LEDGER_ESDB_URL"

// Ledger is where a whole-flow test keeps its events on EventStoreDB: an
// in-process server of its own (Start, with opts), or, with LEDGER_ESDB_URL
// set, that real server, in a namespace of the test's own
// (esdbstore.WithNamespace) so that tests and runs sharing the server
// never meet. On a real server its own limits apply and opts are ignored.
type Ledger struct {
	Conn      string // the connection string
	Namespace string // "" on a server of the test's own
	// Server is the in-process server; nil on a real one.
	Server *Server
}

// NewLedger returns the EventStoreDB a whole-flow test is to use.
func NewLedger(t testing.TB, opts ...Option) Ledger {
	t.Helper()
	if url := os.Getenv(RealServerVar); url != "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		return Ledger{Conn: url, Namespace: "test-" + hex.EncodeToString(b)}
	}
	s := Start(t, opts...)
	return Ledger{Conn: s.ConnectionString(), Server: s}
}

// Open opens a store on the ledger, closed when the test ends, with opts
// (a test that appends personal data gives esdbstore.WithPersonalKeys, as
// production does, a postgres.Keyring on the test's database).
func (l Ledger) Open(t testing.TB, log *slog.Logger, opts ...esdbstore.Option) *esdbstore.Store {
	t.Helper()
	s, err := esdbstore.Open(l.Conn, log, append([]esdbstore.Option{esdbstore.WithNamespace(l.Namespace)}, opts...)...)
	if err != nil {
		t.Fatalf("esdbtest: open %s: %v", l.Conn, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// Env sets the ledger in the environment of a `ledger` command.
func (l Ledger) Env(vars map[string]string) {
	vars["LEDGER_EVENTSTORE"] = l.Conn
	if l.Namespace != "" {
		vars["LEDGER_EVENTSTORE_NAMESPACE"] = l.Namespace
	}
}

// Keys is the store option of a test's personal data keys: a
// postgres.Keyring on the test's database, as production keeps them.
func Keys(pool *pgxpool.Pool) esdbstore.Option {
	k, err := postgres.NewKeyring(pool, postgres.DevelopmentMasterKey)
	if err != nil {
		panic(err) // the development key is valid
	}
	return esdbstore.WithPersonalKeys(k)
}
