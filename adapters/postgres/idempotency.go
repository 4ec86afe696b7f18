package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// Idempotency stores the outcomes of commands by user and Idempotency-Key,
// and knows whether a command is in flight (the HTTP API's
// httpapi.IdempotencyStore). Its errors are classified (pg.Classify).
//
// A key's row binds it to one request (its hash) for good and, once the
// command has a definitive outcome, holds that outcome. Who runs the
// command is decided by a session advisory lock keyed by (schema, user,
// key): the owner holds it for as long as the command runs, so a process
// that dies loses it with its connection, and a row without an outcome
// whose lock is free belongs to nobody — the next request with that key
// and body runs the command again. One connection per process holds every
// lock the process owns (see TryOwn); it goes back to the pool when the
// process owns none.
type Idempotency struct {
	Pool  *pgxpool.Pool
	locks *lockSession
}

// NewIdempotency returns the idempotency store of pool's schema.
func NewIdempotency(pool *pgxpool.Pool) *Idempotency {
	return &Idempotency{Pool: pool, locks: &lockSession{pool: pool, held: map[int64]bool{}}}
}

// Claim binds user's key to the request with hash, unless it is bound
// already: then it returns what the row holds and false. Call it as the
// key's owner (TryOwn), so that nobody else runs the command meanwhile.
func (s *Idempotency) Claim(ctx context.Context, user, key string, hash []byte) (app.KeyRecord, bool, error) {
	for range 5 { // a row deleted between the two statements (by an older version) is claimed again
		tag, err := s.Pool.Exec(ctx, `INSERT INTO idempotency_keys (user_name, key, request_hash) VALUES ($1, $2, $3)
			ON CONFLICT (user_name, key) DO NOTHING`, user, key, hash)
		if err != nil {
			return app.KeyRecord{}, false, fmt.Errorf("claim idempotency key: %w", pg.Classify(ctx, err))
		}
		if tag.RowsAffected() == 1 {
			return app.KeyRecord{}, true, nil
		}
		st, found, err := s.Lookup(ctx, user, key)
		if err != nil {
			return app.KeyRecord{}, false, err
		}
		if found {
			return st, false, nil
		}
	}
	return app.KeyRecord{}, false, fmt.Errorf("claim idempotency key %q: claimed and deleted repeatedly", key)
}

// Lookup returns user's key's row, and false if there is none.
func (s *Idempotency) Lookup(ctx context.Context, user, key string) (app.KeyRecord, bool, error) {
	var st app.KeyRecord
	var status *int
	var contentType, location *string
	err := s.Pool.QueryRow(ctx, `SELECT request_hash, status, content_type, location, response
		FROM idempotency_keys WHERE user_name = $1 AND key = $2`, user, key).
		Scan(&st.RequestHash, &status, &contentType, &location, &st.Response)
	if errors.Is(err, pgx.ErrNoRows) {
		return app.KeyRecord{}, false, nil
	}
	if err != nil {
		return app.KeyRecord{}, false, fmt.Errorf("look up idempotency key: %w", pg.Classify(ctx, err))
	}
	if status != nil {
		st.Status = *status
	}
	if contentType != nil {
		st.ContentType = *contentType
	}
	if location != nil {
		st.Location = *location
	}
	return st, true, nil
}

// Complete stores the outcome of the request with hash on user's key. An
// outcome stored already is kept: the first one stored is the answer.
func (s *Idempotency) Complete(ctx context.Context, user, key string, hash []byte, out app.KeyRecord) error {
	_, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET status = $4, content_type = $5, location = NULLIF($6, ''), response = $7
		WHERE user_name = $1 AND key = $2 AND request_hash = $3 AND status IS NULL`,
		user, key, hash, out.Status, out.ContentType, out.Location, out.Response)
	if err != nil {
		return fmt.Errorf("store idempotent response: %w", pg.Classify(ctx, err))
	}
	return nil
}

// Owner is the hold of one request on a key: while it lasts, no other
// request — in this process or another — owns the key.
type Owner struct {
	s   *lockSession
	key int64
	gen uint64
}

// TryOwn makes the caller the owner of user's key if nobody owns it: no
// request of this process, and no live session of another. It does not
// wait. The caller must Release the Owner.
func (s *Idempotency) TryOwn(ctx context.Context, user, key string) (app.KeyOwner, bool, error) {
	o, ok, err := s.locks.tryLock(ctx, user, key)
	if !ok {
		return nil, ok, err // no typed nil in the interface
	}
	return o, true, nil
}

// Release gives the key up. If the lock's session failed meanwhile, the
// lock went with it and there is nothing to give up.
func (o *Owner) Release() { o.s.unlock(o) }

// lockTimeout bounds each statement on the lock session. A statement
// that times out closes the connection, dropping every lock it held, so
// the session is never waited on for long while its mutex is held.
const lockTimeout = 5 * time.Second

// lockSession is the process's one connection for idempotency locks.
// PostgreSQL's session advisory locks are re-entrant within a session, so
// the locks this session holds are also recorded here: a second request of
// this process for a held key is refused here, not granted by the server.
type lockSession struct {
	pool *pgxpool.Pool

	mu     sync.Mutex
	conn   *pgxpool.Conn // held while held is not empty
	schema string        // the pool's schema, part of every key
	gen    uint64        // counts sessions: an Owner of an older one holds nothing
	held   map[int64]bool
}

// lockKey names (schema, user, key) in the 64-bit advisory lock space.
// User names and keys cannot hold NUL, so the three parts cannot run
// together; a collision would only make two keys wait for each other.
func lockKey(schema, user, key string) int64 {
	sum := sha256.Sum256([]byte("ledger:idempotency\x00" + schema + "\x00" + user + "\x00" + key))
	return int64(binary.BigEndian.Uint64(sum[:8]))
}

func (l *lockSession) tryLock(ctx context.Context, user, key string) (*Owner, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.releaseIfIdle()
	for attempt := 0; ; attempt++ {
		if err := l.connect(ctx); err != nil {
			return nil, false, err
		}
		k := lockKey(l.schema, user, key)
		if l.held[k] {
			return nil, false, nil // another request of this process owns it
		}
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
		var ok bool
		err := l.conn.QueryRow(qctx, `SELECT pg_try_advisory_lock($1)`, k).Scan(&ok)
		cancel()
		if err != nil {
			l.drop()
			if attempt == 0 && ctx.Err() == nil {
				continue // the connection failed while idle in the session: one more try on a fresh one
			}
			return nil, false, fmt.Errorf("idempotency lock: %w", pg.Classify(ctx, err))
		}
		if !ok {
			return nil, false, nil // a live session of another process owns it
		}
		l.held[k] = true
		return &Owner{s: l, key: k, gen: l.gen}, true, nil
	}
}

func (l *lockSession) unlock(o *Owner) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.releaseIfIdle()
	if o.gen != l.gen || !l.held[o.key] {
		return // the session failed since: the lock is gone already
	}
	delete(l.held, o.key)
	ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
	defer cancel()
	if _, err := l.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, o.key); err != nil {
		l.drop() // closing the session is what frees the lock now
	}
}

// connect makes sure the session has a connection. Called with mu held.
func (l *lockSession) connect(ctx context.Context) error {
	if l.conn != nil {
		return nil
	}
	c, err := l.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("idempotency lock: %w", pg.Classify(ctx, err))
	}
	if l.schema == "" {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockTimeout)
		err := c.QueryRow(qctx, `SELECT current_schema()`).Scan(&l.schema)
		cancel()
		if err != nil {
			c.Release()
			return fmt.Errorf("idempotency lock: current schema: %w", pg.Classify(ctx, err))
		}
	}
	l.conn = c
	l.gen++
	return nil
}

// drop closes the session's connection, and with it every lock it held.
// Called with mu held.
func (l *lockSession) drop() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
	defer cancel()
	_ = l.conn.Conn().Close(ctx)
	l.conn.Release() // the pool destroys a closed connection
	l.conn = nil
	clear(l.held)
}

// releaseIfIdle returns the connection to the pool when it holds no lock.
// Called with mu held.
func (l *lockSession) releaseIfIdle() {
	if l.conn != nil && len(l.held) == 0 {
		l.conn.Release()
		l.conn = nil
	}
}
