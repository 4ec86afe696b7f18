package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// The read horizon. Readers return only the events whose transaction ID is
// below the horizon, computed by the horizon query below in one statement
// (its own transaction) before the statement that reads the events:
//
//	horizon = least(next transaction ID of the query's snapshot,
//	                the oldest transaction ID among the sessions holding the
//	                append lock)
//
// The append lock is a transaction-scoped advisory lock, one key per
// schema, that every transaction writing events takes in shared mode before
// it has a transaction ID (Append, AppendMany and AppendInTx all do; see
// appendLockSQL). Why nothing can later appear below an event a reader has
// returned, for a writer W with transaction ID X:
//
//   - If X is at or above the snapshot's xmax (pg_snapshot_xmax: no ID at
//     or above it had finished when the snapshot was taken), X is at or
//     above the horizon: W's events are not read this time.
//   - If X is below xmax, X was assigned before the snapshot. If W was
//     still running then, it held the lock (taken before X) and keeps it
//     until it has ended, and its session's backend_xid was X; both are
//     read after the snapshot, in the same statement — pg_current_snapshot()
//     is the statement's snapshot, taken before any of it runs. So either
//     W still holds the lock when pg_locks is read and the horizon is at
//     most X, or W had already ended (a transaction leaves the running set
//     before it releases its locks), and the events statement, which
//     starts after the horizon query has returned, sees W's events (or
//     none, if it aborted).
//   - A lock holder without an ID yet when it is read gets one later,
//     which is at or above the next ID at that time, which is at or above
//     xmax: at or above the horizon. That is why the snapshot must come
//     first, and why the events must be read by a later statement: in the
//     same statement (one snapshot) a writer that ended between the
//     snapshot and the lock read would be neither waited for nor visible.
//
// Transactions that never take the lock — in other databases, psql
// sessions idle in a transaction, projections writing read models — do not
// hold the horizon back. A transaction that wrote events without the lock
// would break the argument: events are written through the store only.
//
// backend_xid (pg_stat_activity) is read rather than the transactionid
// lock of pg_locks, because a new transaction ID is published in the
// process array a moment before its lock is: a session caught in between
// would look like it has none. backend_xid is visible to every role. It is
// a 32-bit xid; the running transaction IDs of the snapshot
// (pg_snapshot_xip, 64-bit) give its epoch: a writer that matters is
// running at the snapshot, so it is among them. A prepared transaction
// holding the lock has no session to read; the horizon then falls back to
// the snapshot's xmin, the oldest transaction running anywhere.

// appendLockKey is the SQL expression of the append lock's key: one per
// schema (like the projection runner's lock), so ledgers in different
// schemas of one database never wait for each other's appends.
const appendLockKey = `hashtextextended('ledger:append:' || current_schema(), 0)`

// appendLockSQL starts an Append's transaction: it bounds the statement
// that follows (statement_timeout $1 and lock_timeout $2, in milliseconds:
// see appendBound) and takes the append lock, before the transaction has
// an ID.
const appendLockSQL = `SELECT set_config('statement_timeout', $1, true), set_config('lock_timeout', $2, true),
	pg_advisory_xact_lock_shared(` + appendLockKey + `)`

// heldLockSQL matches the append lock among pg_locks rows l (key in k).
const heldLockSQL = `l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
	AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	AND l.classid = ((k >> 32) & 4294967295)::oid AND l.objid = (k & 4294967295)::oid`

// appendInTxLockSQL takes the append lock in a caller's transaction, unless
// the transaction already has an ID it got without the lock (NULL then).
const appendInTxLockSQL = `WITH key AS (SELECT ` + appendLockKey + ` AS k)
	SELECT CASE WHEN pg_current_xact_id_if_assigned() IS NULL
	              OR EXISTS (SELECT 1 FROM pg_locks l, key WHERE l.pid = pg_backend_pid() AND ` + heldLockSQL + `)
	            THEN pg_advisory_xact_lock_shared((SELECT k FROM key))::text IS NOT NULL
	       END`

// horizonSQL computes the read horizon, and the oldest append in flight
// holding it (its session and transaction start) when there is one.
const horizonSQL = `
	WITH key AS (SELECT ` + appendLockKey + ` AS k),
	snap AS MATERIALIZED (SELECT pg_current_snapshot() AS s),
	holders AS MATERIALIZED (SELECT l.pid FROM pg_locks l, key WHERE ` + heldLockSQL + `),
	inflight AS (
		SELECT x AS xid, h.pid, a.xact_start
		FROM snap, holders h, pg_stat_get_activity(h.pid) a, pg_snapshot_xip(snap.s) x
		WHERE h.pid IS NOT NULL AND x::text::bigint % 4294967296 = a.backend_xid::text::bigint
	)
	SELECT least(pg_snapshot_xmax(s),
	             (SELECT min(xid) FROM inflight),
	             CASE WHEN EXISTS (SELECT 1 FROM holders WHERE pid IS NULL) THEN pg_snapshot_xmin(s) END)::text,
	       pg_snapshot_xmax(s)::text, i.pid, i.xact_start
	FROM snap LEFT JOIN LATERAL (SELECT pid, xact_start FROM inflight ORDER BY xid LIMIT 1) i ON true`

// horizon is where readers stop: events written by transactions below xid
// are readable.
type horizon struct {
	xid string // a 64-bit transaction ID, as text (pgx has no xid8 type)
	// heldBy is the append in flight the horizon waits for; nil when it
	// waits for none (it is then the snapshot's next transaction ID).
	heldBy *domain.AppendInFlight
}

func (s *Store) horizon(ctx context.Context) (horizon, error) {
	var h horizon
	var xmax string
	var pid *int32
	var since *time.Time
	if err := s.pool.QueryRow(ctx, horizonSQL).Scan(&h.xid, &xmax, &pid, &since); err != nil {
		return horizon{}, fmt.Errorf("read horizon: %w", err)
	}
	if h.xid != xmax {
		h.heldBy = &domain.AppendInFlight{}
		if pid != nil {
			h.heldBy.PID = int(*pid)
		}
		if since != nil {
			h.heldBy.Since = *since
		}
	}
	return h, nil
}

// ErrWroteBeforeAppend is returned by AppendInTx when the caller's
// transaction wrote something before its first append: it already has a
// transaction ID it got without the append lock, so readers could not wait
// for it. Roll the transaction back and append first.
var ErrWroteBeforeAppend = errors.New("append in a transaction that wrote before its first append: append first, then write")

// lockInTx takes the append lock in the caller's transaction.
func lockInTx(ctx context.Context, tx pgx.Tx) error {
	var ok *bool
	if err := tx.QueryRow(ctx, appendInTxLockSQL).Scan(&ok); err != nil {
		return err
	}
	if ok == nil {
		return ErrWroteBeforeAppend
	}
	return nil
}

// Head implements domain.EventStore: the last committed event, whether or
// not the read horizon has passed it yet.
func (s *Store) Head(ctx context.Context) (domain.Position, error) {
	var txid string
	var pos int64
	err := s.pool.QueryRow(ctx, `SELECT tx_id::text, position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1`).Scan(&txid, &pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.Start, nil
	}
	if err != nil {
		return domain.Position{}, fmt.Errorf("head of $all: %w", err)
	}
	commit, err := strconv.ParseUint(txid, 10, 64)
	if err != nil {
		return domain.Position{}, fmt.Errorf("head of $all: parse tx_id %q: %w", txid, err)
	}
	return domain.Position{Commit: commit, Prepare: uint64(pos)}, nil
}

var _ domain.BacklogReporter = (*Store)(nil)

// Backlog implements domain.BacklogReporter: it counts the committed
// events after `after` (up to limit), those of them the read horizon holds
// back, and names the append in flight holding them.
func (s *Store) Backlog(ctx context.Context, after domain.Position, limit int) (domain.Backlog, error) {
	if limit <= 0 {
		limit = 1
	}
	h, err := s.horizon(ctx)
	if err != nil {
		return domain.Backlog{}, fmt.Errorf("backlog after %s: %w", after, err)
	}
	var b domain.Backlog
	var oldest *time.Time
	err = s.pool.QueryRow(ctx, `
		SELECT (SELECT count(*) FROM (SELECT FROM events WHERE (tx_id, position) > ($1::text::xid8, $2::bigint) LIMIT $3) e),
		       (SELECT count(*) FROM (SELECT FROM events WHERE (tx_id, position) > ($1::text::xid8, $2::bigint)
		                                               AND tx_id >= $4::text::xid8 LIMIT $3) e),
		       (SELECT recorded_at FROM events WHERE (tx_id, position) > ($1::text::xid8, $2::bigint)
		        ORDER BY tx_id, position LIMIT 1)`,
		strconv.FormatUint(after.Commit, 10), int64(after.Prepare), int64(limit)+1, h.xid).Scan(&b.Events, &b.HeldBack, &oldest)
	if err != nil {
		return domain.Backlog{}, fmt.Errorf("backlog after %s: %w", after, err)
	}
	if b.Events > int64(limit) {
		b.Events, b.Capped = int64(limit), true
	}
	b.HeldBack = min(b.HeldBack, b.Events)
	if h.heldBy == nil {
		// Nothing was in flight: events at or above the horizon committed
		// after it was computed, and the next read returns them.
		b.HeldBack = 0
	}
	if oldest != nil {
		b.Oldest = *oldest
	}
	if b.HeldBack > 0 {
		b.HeldBy = h.heldBy
	}
	return b, nil
}
