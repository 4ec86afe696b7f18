package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/rand/v2"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// Runner feeds projections from the global log. One runner per schema is
// active at a time: it holds a PostgreSQL advisory lock for as long as it
// runs, and a second instance waits for the lock and takes over when the
// first one's connection goes away. For every batch and projection, the
// read-model writes and the checkpoint move commit in one transaction, and
// the checkpoint moves by compare-and-set, so an event is applied exactly
// once even across crashes and stale runners.
type Runner struct {
	Pool        *pgxpool.Pool
	Store       domain.EventStore
	Registry    *domain.Registry
	Projections []Projection
	Log         *slog.Logger

	BatchSize int           // events per batch (default 500)
	MaxWait   time.Duration // how long a batch waits to fill up (default 100ms)
	// Retries is how often an event a projection fails on is tried before
	// it is parked (default 5), with back-off from Backoff (default 100ms).
	// Only deterministic failures count: see RetryMin.
	Retries int
	Backoff time.Duration
	// RetryMin and RetryMax bound the back-off after a transient failure
	// (pg.Transient: the database out of reach or restarting, a
	// broken connection, too many connections, a serialization failure or
	// deadlock …) while taking the lock, loading checkpoints, reading the
	// log or applying a batch: the runner waits RetryMin, doubling up to
	// RetryMax, each wait jittered to between half and all of it, and
	// tries again for as long as it takes. A transient failure never parks
	// an event and never counts toward Retries. Defaults 100ms and 10s.
	RetryMin time.Duration
	RetryMax time.Duration
	// RebuildBatch is the batch size of rebuilds (default 5000): the most
	// events a page of a rebuild holds.
	RebuildBatch int
	// RebuildPageBytes bounds the events' bytes (data and metadata) in a
	// page of a rebuild (default 16 MiB): after a first page of at most
	// 100 events, each page asks for as many events as fit at the mean
	// size of the page before it. A page of 10,000 payments is about
	// 6 MB; 10,000 of the payroll's chunk events of 400 lines each would
	// be 800 MB, and several times that decoded.
	RebuildPageBytes int
	// ID names this runner instance in checkpoints and logs (default host/pid).
	ID string
	// Stats, when set, receives progress for /metrics.
	Stats *Stats

	trouble trouble    // the transient failures since the last progress
	bulk    bulkLimits // of rebuilds' loaders; tests set them (export_test.go)
}

// trouble is a run of transient failures without progress in between.
type trouble struct {
	attempts int
	since    time.Time
}

func (r *Runner) defaults() {
	if r.BatchSize <= 0 {
		r.BatchSize = 500
	}
	if r.MaxWait <= 0 {
		r.MaxWait = 100 * time.Millisecond
	}
	if r.Retries <= 0 {
		r.Retries = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = 100 * time.Millisecond
	}
	if r.RetryMin <= 0 {
		r.RetryMin = 100 * time.Millisecond
	}
	if r.RetryMax < r.RetryMin {
		r.RetryMax = max(10*time.Second, r.RetryMin)
	}
	if r.RebuildBatch <= 0 {
		r.RebuildBatch = 5000
	}
	if r.RebuildPageBytes <= 0 {
		r.RebuildPageBytes = 16 << 20
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
	if r.ID == "" {
		host, _ := os.Hostname()
		r.ID = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if r.Registry == nil {
		r.Registry = domain.NewLedgerRegistry().WithKeys(r.Store.PersonalKeys())
	}
	if r.Stats == nil {
		r.Stats = NewStats()
	}
}

// Run applies events until ctx ends. It first waits for the runner lock,
// then sets up or rebuilds projections as their versions require. It
// waits out transient failures of the database (see RetryMin) — also the
// loss of the lock's connection, after which it stands by for the lock
// again — and returns only when ctx ends or on a failure that is not
// transient.
func (r *Runner) Run(ctx context.Context) error { return r.run(ctx, false) }

// RunOnce applies events until the projections have caught up with the
// log, then returns.
func (r *Runner) RunOnce(ctx context.Context) error { return r.run(ctx, true) }

func (r *Runner) run(ctx context.Context, once bool) error {
	r.defaults()
	r.trouble = trouble{}
	defer r.Stats.setRetrying(time.Time{}, 0)
	for {
		err := r.lead(ctx, once)
		if err == nil || ctx.Err() != nil || !transient(err) {
			return err
		}
		if !r.waitOut(ctx, "lock", err) {
			return ctx.Err()
		}
	}
}

// lead takes the runner lock and runs sessions while it holds it.
func (r *Runner) lead(ctx context.Context, once bool) error {
	lock, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	watching := make(chan struct{})
	go func() { defer close(watching); lock.watch(ctx, cancel) }()
	defer func() { cancel(nil); <-watching; lock.release() }()
	r.Stats.setLeader(true)
	defer r.Stats.setLeader(false)
	r.Log.Info("projection runner active", slog.String("runner", r.ID))

	for {
		err := r.session(ctx, once)
		if cause := context.Cause(ctx); errors.Is(cause, errLostLock) {
			return cause
		}
		switch {
		case err == nil || ctx.Err() != nil:
			return err
		case errors.Is(err, ErrStaleCheckpoint):
			r.Log.Warn("projection checkpoint moved under the runner; reloading", slog.String("error", err.Error()))
		case transient(err):
			if !r.waitOut(ctx, "session", err) {
				return context.Cause(ctx) // errLostLock, or the caller's
			}
		default:
			return err
		}
	}
}

// transient reports the failures the runner waits out rather than
// returning or parking: pg.Transient (which includes every error
// matching domain.ErrUnavailable, as the event stores report theirs),
// except a closed pool — the process is shutting down.
func transient(err error) bool {
	return pg.Transient(err) && !pg.PoolClosed(err)
}

// waitOut sleeps before the next attempt after a transient failure:
// RetryMin doubling up to RetryMax with each failure since the last
// progress, jittered to between half and all of that. It logs each retry
// and reports it in Stats; false when ctx ended first.
func (r *Runner) waitOut(ctx context.Context, during string, err error) bool {
	if r.trouble.attempts == 0 {
		r.trouble.since = time.Now()
	}
	r.trouble.attempts++
	d := r.RetryMin
	for i := 1; i < r.trouble.attempts && d < r.RetryMax; i++ {
		d *= 2
	}
	d = min(d, r.RetryMax)
	d = d/2 + rand.N(d/2+1)
	r.Stats.setRetrying(r.trouble.since, r.trouble.attempts)
	r.Log.Warn("projection runner: the database is unavailable; retrying",
		slog.String("runner", r.ID), slog.String("during", during), slog.Int("attempt", r.trouble.attempts),
		slog.Duration("retry_in", d), slog.Time("since", r.trouble.since), slog.String("error", err.Error()))
	return sleep(ctx, d)
}

// progressed ends a run of transient failures: a batch was applied or the
// runner caught up.
func (r *Runner) progressed() {
	if r.trouble.attempts == 0 {
		return
	}
	r.Log.Info("projection runner recovered from transient failures",
		slog.String("runner", r.ID), slog.Int("attempts", r.trouble.attempts),
		slog.Duration("after", time.Since(r.trouble.since).Round(time.Millisecond)))
	r.trouble = trouble{}
	r.Stats.setRetrying(time.Time{}, 0)
}

// running is one projection's state within a session.
type running struct {
	p      Projection
	pos    domain.Position
	parked bool
}

// session loads checkpoints, subscribes from the oldest and applies
// batches until ctx ends, once is satisfied, or a checkpoint goes stale.
func (r *Runner) session(ctx context.Context, once bool) error {
	projs, err := r.setup(ctx)
	if err != nil {
		return err
	}
	from, any := domain.Position{}, false
	for _, rp := range projs {
		if rp.parked {
			continue
		}
		if !any || rp.pos.Less(from) {
			from, any = rp.pos, true
		}
	}
	if !any {
		r.Log.Warn("every projection is parked; nothing to run")
		if once {
			return nil
		}
		<-ctx.Done()
		return ctx.Err()
	}
	sub, err := r.Store.SubscribeAll(ctx, from, domain.Filter{})
	if err != nil {
		return fmt.Errorf("projections: subscribe: %w", err)
	}
	defer sub.Close()
	for {
		batch, caughtUp, err := r.nextBatch(ctx, sub)
		if err != nil {
			return err
		}
		if len(batch) > 0 {
			if err := r.applyBatch(ctx, projs, batch); err != nil {
				return err
			}
			r.progressed()
		}
		if caughtUp {
			r.progressed()
			r.Stats.setCaughtUp()
			if once {
				return nil
			}
		}
	}
}

// setup creates missing projections, rebuilds those whose version
// changed, and returns every projection with its checkpoint.
func (r *Runner) setup(ctx context.Context) ([]*running, error) {
	var out []*running
	for _, p := range r.Projections {
		c, found, err := LoadCheckpoint(ctx, r.Pool, p.Name())
		if err != nil {
			return nil, err
		}
		switch {
		case !found:
			if err := create(ctx, r.Pool, p); err != nil {
				return nil, err
			}
			r.Log.Info("projection created", slog.String("projection", p.Name()), slog.Int("version", p.Version()))
			c = Checkpoint{Name: p.Name(), Version: p.Version(), Status: "running"}
		case c.Version != p.Version():
			r.Log.Info("projection version changed; rebuilding",
				slog.String("projection", p.Name()), slog.Int("from", c.Version), slog.Int("to", p.Version()))
			if err := r.Rebuild(ctx, p); err != nil {
				return nil, err
			}
			if c, _, err = LoadCheckpoint(ctx, r.Pool, p.Name()); err != nil {
				return nil, err
			}
		}
		r.Stats.setCheckpoint(c)
		out = append(out, &running{p: p, pos: c.Position, parked: c.Status == "parked"})
	}
	return out, nil
}

// create makes a projection's tables in the live schema and its checkpoint.
func create(ctx context.Context, pool *pgxpool.Pool, p Projection) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, p.Schema()); err != nil {
			return fmt.Errorf("create projection %s: %w", p.Name(), err)
		}
		_, err := tx.Exec(ctx, `INSERT INTO projection_checkpoints (name, version) VALUES ($1, $2)`, p.Name(), p.Version())
		if err != nil {
			return fmt.Errorf("create projection %s: %w", p.Name(), err)
		}
		return nil
	})
}

// nextBatch waits for at least one event, then gathers up to BatchSize
// more for at most MaxWait. caughtUp reports the subscription's news that
// it has delivered every stored event.
func (r *Runner) nextBatch(ctx context.Context, sub domain.Subscription) ([]domain.RecordedEvent, bool, error) {
	var batch []domain.RecordedEvent
	m, err := sub.Recv(ctx)
	if err != nil {
		return nil, false, subscriptionErr(ctx, err)
	}
	if m.CaughtUp {
		return nil, true, nil
	}
	batch = append(batch, *m.Event)
	wait, cancel := context.WithTimeout(ctx, r.MaxWait)
	defer cancel()
	for len(batch) < r.BatchSize {
		m, err := sub.Recv(wait)
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return batch, false, nil
			}
			return nil, false, subscriptionErr(ctx, err)
		}
		if m.CaughtUp {
			return batch, true, nil
		}
		batch = append(batch, *m.Event)
	}
	return batch, false, nil
}

// subscriptionErr is the error a subscription ended with — or, once the
// run's context has ended, that context's error: a subscription closes as
// its context ends, and may say "closed" before the context's own error
// reaches it; either way the run was stopped, not failed.
func subscriptionErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return fmt.Errorf("projections: subscription: %w", err)
}

// item is a stored event and its decoding.
type item struct {
	env domain.Envelope
	err error
}

func (r *Runner) decode(batch []domain.RecordedEvent) []item {
	out := make([]item, len(batch))
	for i, rec := range batch {
		out[i].env, out[i].err = r.Registry.DecodeEnvelope(rec)
		if out[i].err != nil { // keep the identity for parking
			out[i].env = domain.Envelope{ID: rec.ID, Stream: rec.Stream, Revision: rec.Revision, Position: rec.Position, Type: rec.Type}
		}
	}
	return out
}

func (r *Runner) applyBatch(ctx context.Context, projs []*running, batch []domain.RecordedEvent) error {
	items := r.decode(batch)
	for _, rp := range projs {
		if rp.parked {
			continue
		}
		i := 0
		for i < len(items) && !rp.pos.Less(items[i].env.Position) {
			i++ // already applied by this projection
		}
		if i == len(items) {
			continue
		}
		if err := r.applyWithRetry(ctx, rp, items[i:]); err != nil {
			return err
		}
	}
	return nil
}

// applyWithRetry applies items as one batch; if that fails it goes event
// by event, retrying each with back-off, and parks the first event that
// keeps failing. The projection then stops there. A transient failure
// (see transient) is returned at once, whenever it happens: the session
// waits it out and starts again from the checkpoints, and it never
// counts toward parking.
func (r *Runner) applyWithRetry(ctx context.Context, rp *running, items []item) error {
	err := r.applyTx(ctx, rp, items)
	if err == nil || errors.Is(err, ErrStaleCheckpoint) || ctx.Err() != nil || transient(err) {
		return err
	}
	r.Log.Warn("projection batch failed; applying its events one by one",
		slog.String("projection", rp.p.Name()), slog.Int("events", len(items)), slog.String("error", err.Error()))
	for k := range items {
		one := items[k : k+1]
		backoff := r.Backoff
		var attempt int
		for attempt = 1; attempt <= r.Retries; attempt++ {
			if err = r.applyTx(ctx, rp, one); err == nil || errors.Is(err, ErrStaleCheckpoint) || ctx.Err() != nil || transient(err) {
				break
			}
			r.Log.Warn("projection failed on an event; retrying",
				slog.String("projection", rp.p.Name()), slog.String("position", one[0].env.Position.String()),
				slog.String("type", one[0].env.Type), slog.Int("attempt", attempt), slog.String("error", err.Error()))
			if attempt < r.Retries && !sleep(ctx, backoff) {
				return ctx.Err()
			}
			backoff *= 2
		}
		if err == nil {
			continue
		}
		if errors.Is(err, ErrStaleCheckpoint) || ctx.Err() != nil || transient(err) {
			return err
		}
		return r.park(ctx, rp, one[0].env, err, attempt-1)
	}
	return nil
}

func (r *Runner) applyTx(ctx context.Context, rp *running, items []item) error {
	envs := make([]domain.Envelope, len(items))
	for i, it := range items {
		if it.err != nil {
			return it.err
		}
		envs[i] = it.env
	}
	last := envs[len(envs)-1]
	// A batch in flight finishes even when the runner is being stopped
	// (graceful shutdown); the next one does not start.
	ctx = context.WithoutCancel(ctx)
	err := pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		if err := rp.p.Apply(ctx, tx, envs); err != nil {
			return fmt.Errorf("%s: %w", rp.p.Name(), err)
		}
		return advance(ctx, tx, rp.p.Name(), rp.pos, last.Position, len(envs), last.Meta.RecordedAt, r.ID)
	})
	if err != nil {
		return err
	}
	rp.pos = last.Position
	r.Stats.applied(rp.p.Name(), len(envs), last.Position, last.Meta.RecordedAt)
	return nil
}

// park records the event a projection keeps failing on and stops the
// projection at it.
func (r *Runner) park(ctx context.Context, rp *running, env domain.Envelope, cause error, attempts int) error {
	err := pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET status = 'parked', updated_at = now()
			WHERE name = $1 AND position_commit = $2 AND position_prepare = $3 AND status = 'running'`,
			rp.p.Name(), int64(rp.pos.Commit), int64(rp.pos.Prepare))
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return ErrStaleCheckpoint
		}
		_, err = tx.Exec(ctx, `INSERT INTO projection_parked
			(name, position_commit, position_prepare, stream, revision, event_type, error, attempts)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (name, position_commit, position_prepare)
			DO UPDATE SET error = EXCLUDED.error, attempts = EXCLUDED.attempts, parked_at = now()`,
			rp.p.Name(), int64(env.Position.Commit), int64(env.Position.Prepare), env.Stream, int64(env.Revision), env.Type,
			cause.Error(), attempts)
		return err
	})
	if err != nil {
		return fmt.Errorf("park %s at %s: %w", rp.p.Name(), env.Position, err)
	}
	rp.parked = true
	r.Stats.setParked(rp.p.Name(), true)
	r.Log.Error("projection parked: it stops at this event until retried (`ledger project retry NAME`)",
		slog.String("projection", rp.p.Name()), slog.String("position", env.Position.String()),
		slog.String("stream", env.Stream), slog.Uint64("revision", env.Revision), slog.String("type", env.Type),
		slog.Int("attempts", attempts), slog.String("error", cause.Error()))
	return nil
}

// Retry clears a projection's parked events so the runner tries again from
// where it stopped (after the cause was fixed). It reports whether the
// projection was parked.
func Retry(ctx context.Context, pool *pgxpool.Pool, name string) (bool, error) {
	var was bool
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE projection_checkpoints SET status = 'running', updated_at = now()
			WHERE name = $1 AND status = 'parked'`, name)
		if err != nil {
			return err
		}
		was = tag.RowsAffected() == 1
		_, err = tx.Exec(ctx, `DELETE FROM projection_parked WHERE name = $1`, name)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("retry %s: %w", name, err)
	}
	return was, nil
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// The runner lock.

// errLostLock: the connection holding the lock failed, and the lock went
// with it; another runner may have taken over. It matches
// domain.ErrUnavailable: the runner stands by for the lock again.
var errLostLock = fmt.Errorf("projections: lost the runner lock (its database connection failed): %w", domain.ErrUnavailable)

// runnerLock is the session advisory lock, held on a connection of its
// own (pg.Dedicated) rather than one of the pool's: requests that
// exhaust the pool cannot keep the runner from its lock, and the lock,
// held for as long as the runner runs, takes no connection from them.
type runnerLock struct {
	conn *pgx.Conn
	key  int64
}

// lockKey is the advisory-lock key for the runner of the pool's schema, so
// ledgers in different schemas of one database do not block each other.
func lockKey(ctx context.Context, q Querier, kind string) (int64, error) {
	var schema string
	if err := q.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return 0, fmt.Errorf("current schema: %w", pg.Classify(ctx, err))
	}
	h := fnv.New64a()
	h.Write([]byte("ledger:" + kind + ":" + schema))
	return int64(h.Sum64()), nil
}

// acquire blocks until this runner holds the lock, polling every second.
func (r *Runner) acquire(ctx context.Context) (*runnerLock, error) {
	conn, err := pg.Dedicated(ctx, r.Pool, "runner-lock")
	if err != nil {
		return nil, fmt.Errorf("projections: lock: %w", err)
	}
	fail := func(err error) (*runnerLock, error) {
		closeConn(conn)
		return nil, err
	}
	key, err := lockKey(ctx, conn, "runner")
	if err != nil {
		return fail(err)
	}
	waiting := false
	for {
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
			return fail(fmt.Errorf("projections: lock: %w", pg.Classify(ctx, err)))
		}
		if ok {
			return &runnerLock{conn: conn, key: key}, nil
		}
		if !waiting {
			waiting = true
			r.Log.Info("another projection runner is active; standing by to take over", slog.String("runner", r.ID))
		}
		if !sleep(ctx, time.Second) {
			return fail(ctx.Err())
		}
	}
}

// closeConn closes a dedicated connection, ending its session (and any
// advisory lock it holds).
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// watch cancels ctx if the lock's connection fails: the lock is gone with
// it, and another runner may already have taken over.
func (l *runnerLock) watch(ctx context.Context, cancel context.CancelCauseFunc) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			pctx, done := context.WithTimeout(ctx, 5*time.Second)
			err := l.conn.Ping(pctx)
			done()
			if err != nil && ctx.Err() == nil {
				cancel(errLostLock)
				return
			}
		}
	}
}

func (l *runnerLock) release() {
	unlock(l.conn, l.key)
	closeConn(l.conn) // ends the session: the lock goes with it in any case
}

// unlock releases a session's advisory lock at once, rather than when the
// server gets round to ending the session after its connection closed.
func unlock(conn *pgx.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
}
