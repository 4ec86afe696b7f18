// Package projections builds the ledger's read models in PostgreSQL from the
// global event log, and runs them: an exactly-once runner that commits each
// batch's read-model writes together with its checkpoint, and a blue/green
// rebuild that builds a projection anew in a shadow schema and swaps it in.
package projections

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// Projection is one read model. It owns its tables, creates them with
// Schema, and changes them only in Apply. It never reads the event store
// or another projection's tables. Its queries are plain functions beside it.
type Projection interface {
	// Name is durable: it keys the checkpoint. Lowercase, [a-z_].
	Name() string
	// Version changes whenever Schema or Apply changes what the tables
	// hold; a new version triggers a rebuild.
	Version() int
	// Schema returns the DDL creating the projection's tables, with
	// unqualified names: it runs with search_path set to the target schema
	// (the live one, or a shadow one during a rebuild).
	Schema() string
	// Tables lists the tables Schema creates, parents before children.
	Tables() []string
	// Apply projects a batch of events, in global order, within tx (whose
	// search_path selects the target schema). Events arrive as the
	// registry decodes them (pointers); a read model dispatches them
	// through its routing table, and events of types it does not route
	// change nothing (see Interest). Apply must be deterministic: the same
	// events give the same rows however they are split into batches.
	Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error
}

// Querier is what read-model queries need: a pool, a connection or a tx.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}
