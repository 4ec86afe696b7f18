// Package pg is the PostgreSQL plumbing that the PostgreSQL adapters
// (adapters/postgres, adapters/pgstore) and the projections share: which
// errors are transient (Transient, Classify) and connections of their own
// beside a pool (Dedicated). It sits below both so that the projections
// need not import an adapter (docs/architecture.md, "What may import
// what"); the HTTP API and the reports never import it.
package pg

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultApplicationName names the ledger's sessions in pg_stat_activity
// when the URL sets no application_name.
const DefaultApplicationName = "ledger"

// Dedicated opens a connection of its own with the settings of pool's
// connections (server, user, search_path …), outside the pool: for a
// session that lives as long as its holder — the projection runner's
// advisory lock, the event store's LISTEN — and must neither wait for a
// pool that requests have exhausted nor take a connection from them. Its
// application_name is the pool's followed by "/" and purpose, so
// pg_stat_activity tells them apart. The caller closes it. Errors are
// classified (Classify).
func Dedicated(ctx context.Context, pool *pgxpool.Pool, purpose string) (*pgx.Conn, error) {
	cc := pool.Config().ConnConfig.Copy()
	name := cc.RuntimeParams["application_name"]
	if name == "" {
		name = DefaultApplicationName
	}
	cc.RuntimeParams["application_name"] = name + "/" + purpose
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("connect (%s): %w", purpose, Classify(ctx, err))
	}
	return conn, nil
}
