package projections

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// ErrRebuildRunning: another process is rebuilding the same projection.
var ErrRebuildRunning = errors.New("a rebuild of this projection is already running")

// Rebuild builds projection p anew, blue/green: into a shadow schema from
// the start of the log while the live tables keep serving, then — once
// caught up — applies the last events and swaps the shadow tables in, with
// the checkpoint, in one transaction. A runner that was applying events to
// the old tables finds its checkpoint moved, rolls back and reloads.
func (r *Runner) Rebuild(ctx context.Context, p Projection) error {
	r.defaults()
	started := time.Now()
	// The rebuild's lock is held on a connection of its own, like the
	// runner's: the rebuild's work needs the pool's.
	lockConn, err := pg.Dedicated(ctx, r.Pool, "rebuild-lock")
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	defer closeConn(lockConn) // ends the session, and the lock with it
	key, err := lockKey(ctx, lockConn, "rebuild:"+p.Name())
	if err != nil {
		return err
	}
	var ok bool
	if err := lockConn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), pg.Classify(ctx, err))
	}
	if !ok {
		return fmt.Errorf("rebuild %s: %w", p.Name(), ErrRebuildRunning)
	}
	// Unlock before the connection closes: closing only asks the server to
	// end the session, which may still hold the lock when the next
	// rebuild of the projection tries it.
	defer unlock(lockConn, key)

	var base string
	if err := r.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&base); err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	prefix := shadowPrefix(base, p.Name())
	if err := dropShadows(ctx, r, prefix); err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	shadow := prefix + hex.EncodeToString(rnd[:])
	if _, err := r.Pool.Exec(ctx, `CREATE SCHEMA `+ident(shadow)); err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}
	swapped := false
	defer func() {
		if !swapped {
			_, _ = r.Pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS `+ident(shadow)+` CASCADE`)
		}
	}()
	err = pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+ident(shadow)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, p.Schema())
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild %s: create tables: %w", p.Name(), err)
	}
	r.Log.Info("rebuild started", slog.String("projection", p.Name()), slog.String("shadow_schema", shadow))

	pos, total, lastAt, err := r.fillShadow(ctx, p, shadow, nil, "rebuild progress")
	if err != nil {
		return fmt.Errorf("rebuild %s: %w", p.Name(), err)
	}

	// Swap: lock the live tables (waiting for a runner's batch in flight to
	// commit), then the checkpoint row, apply what arrived meanwhile, move
	// the tables and set the checkpoint.
	err = pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		live, err := existingTables(ctx, tx, base, p.Tables())
		if err != nil {
			return err
		}
		if len(live) > 0 {
			if _, err := tx.Exec(ctx, `LOCK TABLE `+qualified(base, live)+` IN ACCESS EXCLUSIVE MODE`); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM projection_checkpoints WHERE name = $1 FOR UPDATE`, p.Name()); err != nil {
			return err
		}
		for {
			n, next, at, err := r.rebuildPage(ctx, tx, p, shadow, pos, lastAt)
			if err != nil {
				return err
			}
			total += int64(n)
			pos, lastAt = next, at
			if n < r.RebuildBatch {
				break
			}
		}
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+ident(base)); err != nil {
			return err
		}
		for i := len(live) - 1; i >= 0; i-- {
			if _, err := tx.Exec(ctx, `DROP TABLE `+ident(base)+`.`+ident(live[i])+` CASCADE`); err != nil {
				return err
			}
		}
		for _, t := range p.Tables() {
			if _, err := tx.Exec(ctx, `ALTER TABLE `+ident(shadow)+`.`+ident(t)+` SET SCHEMA `+ident(base)); err != nil {
				return err
			}
		}
		var at any
		if !lastAt.IsZero() {
			at = lastAt
		}
		if _, err := tx.Exec(ctx, `
			INSERT INTO projection_checkpoints (name, version, position_commit, position_prepare, events_applied, last_event_at, status, applied_by)
			VALUES ($1, $2, $3, $4, $5, $6, 'running', 'rebuild')
			ON CONFLICT (name) DO UPDATE SET version = EXCLUDED.version, position_commit = EXCLUDED.position_commit,
				position_prepare = EXCLUDED.position_prepare, events_applied = EXCLUDED.events_applied,
				last_event_at = EXCLUDED.last_event_at, status = 'running', applied_by = 'rebuild', updated_at = now()`,
			p.Name(), p.Version(), int64(pos.Commit), int64(pos.Prepare), total, at); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM projection_parked WHERE name = $1`, p.Name()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DROP SCHEMA `+ident(shadow)+` CASCADE`)
		return err
	})
	if err != nil {
		return fmt.Errorf("rebuild %s: swap: %w", p.Name(), err)
	}
	swapped = true
	elapsed := time.Since(started)
	r.Log.Info("rebuild swapped in", slog.String("projection", p.Name()), slog.Int("version", p.Version()),
		slog.Int64("events", total), slog.String("position", pos.String()), slog.Duration("took", elapsed),
		slog.Float64("events_per_second", float64(total)/max(elapsed.Seconds(), 1e-9)))
	return nil
}

// fillShadow catches a shadow schema up from the start of the log: to the
// end of the log, or with until set, up to and including the event at
// until. A read model with a bulk loader folds the pages in memory and
// its writes run in the background (bulkWriter); any other applies each
// page in a transaction of its own. The next page is read and decoded
// meanwhile. It returns the position and recorded-at of the last event
// applied and how many were applied, logging progress as msg.
func (r *Runner) fillShadow(ctx context.Context, p Projection, shadow string, until *domain.Position, msg string) (domain.Position, int64, time.Time, error) {
	var pos domain.Position
	var total int64
	var lastAt time.Time
	var last domain.Envelope
	logged := time.Now() // progress is logged every 5 seconds
	pctx, stopPrefetch := context.WithCancel(ctx)
	var loader bulkLoader
	var writer *bulkWriter
	if b, ok := p.(bulkLoading); ok {
		loader = b.bulkLoader(r.bulk)
		writer = r.startBulkWriter(ctx, p, shadow, stopPrefetch)
		defer writer.wait() // on an early return; a second wait is a no-op
	}
	meta := loader == nil || loader.meta()
	pages := r.prefetch(pctx, domain.Start, until, meta)
	defer func() {
		stopPrefetch()
		for range pages { // let the reader finish
		}
	}()
	for pg := range pages {
		if pg.err != nil {
			if writer != nil && writer.wait() != nil {
				return pos, total, lastAt, writer.wait() // what stopped the reading
			}
			return pos, total, lastAt, pg.err
		}
		envs := pg.envs
		more := len(envs) == pg.limit
		if until != nil {
			n := len(envs)
			for n > 0 && until.Less(envs[n-1].Position) {
				n--
			}
			more = more && n == len(envs) && envs[n-1].Position.Less(*until)
			envs = envs[:n]
		}
		if len(envs) == 0 {
			break
		}
		var err error
		switch {
		case loader == nil:
			err = pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error { return r.applyShadow(ctx, tx, p, shadow, envs) })
		default:
			if err = loader.fold(envs); err != nil {
				err = fmt.Errorf("events %s..%s: %w", envs[0].Position, envs[len(envs)-1].Position, err)
			}
		}
		if err != nil {
			return pos, total, lastAt, err
		}
		last = envs[len(envs)-1]
		pos, lastAt = last.Position, last.Meta.RecordedAt
		total += int64(len(envs))
		if loader != nil && more && loader.full() {
			writer.send(loader.take(false), pos, total)
		}
		if time.Since(logged) >= 5*time.Second {
			logged = time.Now()
			r.Log.Info(msg, slog.String("projection", p.Name()), slog.Int64("events", total),
				slog.String("position", pos.String()))
		}
		if !more {
			break
		}
	}
	if loader != nil {
		// A write that failed stopped the prefetch, which ended the loop:
		// its error is the one to report.
		writer.send(loader.take(true), pos, total)
		if err := writer.wait(); err != nil {
			return pos, total, lastAt, err
		}
		if total > 0 && !meta { // its pages came without metadata
			var err error
			if lastAt, err = r.recordedAt(ctx, last); err != nil {
				return pos, total, lastAt, err
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return pos, total, lastAt, err
	}
	return pos, total, lastAt, nil
}

// recordedAt reads the metadata of an event read without it, for its
// recorded-at.
func (r *Runner) recordedAt(ctx context.Context, env domain.Envelope) (time.Time, error) {
	recs, err := r.Store.ReadStream(ctx, env.Stream, domain.Forwards, env.Revision, 1)
	if err != nil {
		return time.Time{}, err
	}
	if len(recs) != 1 || recs[0].Revision != env.Revision {
		return time.Time{}, fmt.Errorf("%s@%d: not found again", env.Stream, env.Revision)
	}
	md, err := domain.DecodeMetadata(recs[0].Metadata)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s@%d: %w", env.Stream, env.Revision, err)
	}
	return md.RecordedAt, nil
}

// bulkWriter runs a bulk loader's writes in the background, one after
// another in the order sent, each in a transaction of its own with
// search_path at the shadow schema. After a failed write it runs no more
// and calls stop (which ends the rebuild's reading).
type bulkWriter struct {
	r      *Runner
	ctx    context.Context
	p      Projection
	shadow string
	writes chan func() error
	result chan error
	err    error
	waited bool
}

func (r *Runner) startBulkWriter(ctx context.Context, p Projection, shadow string, stop func()) *bulkWriter {
	w := &bulkWriter{r: r, ctx: ctx, p: p, shadow: shadow, writes: make(chan func() error), result: make(chan error, 1)}
	go func() {
		var err error
		for write := range w.writes {
			if err == nil {
				if err = write(); err != nil {
					stop()
				}
			}
		}
		w.result <- err
	}()
	return w
}

// send hands write over, as the write of the events up to pos (total of
// them), waiting while the previous write runs.
func (w *bulkWriter) send(write bulkWrite, pos domain.Position, total int64) {
	w.writes <- func() error {
		started := time.Now()
		err := pgx.BeginFunc(w.ctx, w.r.Pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(w.ctx, `SET LOCAL search_path TO `+ident(w.shadow)); err != nil {
				return err
			}
			return write(w.ctx, tx)
		})
		if err != nil {
			return fmt.Errorf("events up to %s: %w", pos, err)
		}
		w.r.Log.Debug("rebuild wrote what it folded", slog.String("projection", w.p.Name()), slog.Int64("events", total),
			slog.String("position", pos.String()), slog.Duration("took", time.Since(started)))
		return nil
	}
}

// wait lets the writes sent finish and returns the first error.
func (w *bulkWriter) wait() error {
	if !w.waited {
		close(w.writes)
		w.err, w.waited = <-w.result, true
	}
	return w.err
}

// rebuildPage reads up to RebuildBatch events after pos and applies them
// to the shadow schema within tx.
func (r *Runner) rebuildPage(ctx context.Context, tx pgx.Tx, p Projection, shadow string, pos domain.Position, lastAt time.Time) (int, domain.Position, time.Time, error) {
	envs, err := r.readPage(ctx, pos)
	if err != nil || len(envs) == 0 {
		return 0, pos, lastAt, err
	}
	if err := r.applyShadow(ctx, tx, p, shadow, envs); err != nil {
		return 0, pos, lastAt, err
	}
	last := envs[len(envs)-1]
	return len(envs), last.Position, last.Meta.RecordedAt, nil
}

func (r *Runner) applyShadow(ctx context.Context, tx pgx.Tx, p Projection, shadow string, envs []domain.Envelope) error {
	if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+ident(shadow)); err != nil {
		return err
	}
	if err := p.Apply(ctx, tx, envs); err != nil {
		return fmt.Errorf("events %s..%s: %w", envs[0].Position, envs[len(envs)-1].Position, err)
	}
	return nil
}

// readPage reads and decodes up to RebuildBatch events after pos.
func (r *Runner) readPage(ctx context.Context, pos domain.Position) ([]domain.Envelope, error) {
	recs, err := r.Store.ReadAll(ctx, pos, r.RebuildBatch, domain.Filter{})
	if err != nil {
		return nil, err
	}
	return r.decodePage(recs, true)
}

// decodePage decodes a page of events on every core; without meta, their
// data alone (Meta is zero).
func (r *Runner) decodePage(recs []domain.RecordedEvent, meta bool) ([]domain.Envelope, error) {
	envs := make([]domain.Envelope, len(recs))
	workers := min(runtime.GOMAXPROCS(0), max(len(recs)/500, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				var err error
				if meta {
					envs[i], err = r.Registry.DecodeEnvelope(recs[i])
				} else {
					envs[i], err = r.decodeData(recs[i])
				}
				if err != nil {
					errs[w] = fmt.Errorf("at %s: %w", recs[i].Position, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return envs, errors.Join(errs...)
}

// decodeData decodes a stored event without its metadata.
func (r *Runner) decodeData(rec domain.RecordedEvent) (domain.Envelope, error) {
	e, err := r.Registry.Decode(rec.Type, rec.Data)
	if err != nil {
		return domain.Envelope{}, fmt.Errorf("%s@%d: %w", rec.Stream, rec.Revision, err)
	}
	return domain.Envelope{
		ID: rec.ID, Stream: rec.Stream, Revision: rec.Revision, Position: rec.Position,
		Type: e.EventType(), Event: e,
	}, nil
}

type page struct {
	envs  []domain.Envelope
	limit int // the events asked for: a page with fewer ends the log
	err   error
}

type rawPage struct {
	recs  []domain.RecordedEvent
	limit int
	err   error
}

// nextLimit is the events the page after recs asks for: as many as fit
// in RebuildPageBytes at their mean size, RebuildBatch at most.
func (r *Runner) nextLimit(recs []domain.RecordedEvent) int {
	size := 0
	for i := range recs {
		size += len(recs[i].Data) + len(recs[i].Metadata)
	}
	if len(recs) == 0 || size == 0 {
		return r.RebuildBatch
	}
	return max(1, min(r.RebuildBatch, int(int64(r.RebuildPageBytes)*int64(len(recs))/int64(size))))
}

// prefetch reads pages of events after pos ahead of the applier, until a
// short page, a page reaching until (when set), an error, or ctx ends,
// and decodes them (meta is decodePage's; without it, a store that is a
// domain.DataReader is read without metadata); it closes the channel. Reading
// and decoding overlap: the database reads the next page while the
// previous one is decoded.
func (r *Runner) prefetch(ctx context.Context, pos domain.Position, until *domain.Position, meta bool) <-chan page {
	raw := make(chan rawPage, 1)
	go func() {
		defer close(raw)
		limit := min(r.RebuildBatch, 100) // a first page to learn the events' size from
		for {
			var recs []domain.RecordedEvent
			var err error
			if dr, ok := r.Store.(domain.DataReader); ok && !meta {
				recs, err = dr.ReadAllData(ctx, pos, limit)
			} else {
				recs, err = r.Store.ReadAll(ctx, pos, limit, domain.Filter{})
			}
			select {
			case raw <- rawPage{recs: recs, limit: limit, err: err}:
			case <-ctx.Done():
				return
			}
			if err != nil || len(recs) < limit || (until != nil && !recs[len(recs)-1].Position.Less(*until)) {
				return
			}
			pos, limit = recs[len(recs)-1].Position, r.nextLimit(recs)
		}
	}()
	out := make(chan page, 1)
	go func() {
		defer close(out)
		for rp := range raw {
			pg := page{limit: rp.limit, err: rp.err}
			if rp.err == nil {
				pg.envs, pg.err = r.decodePage(rp.recs, meta)
			}
			select {
			case out <- pg:
			case <-ctx.Done():
				for range raw { // let the reader finish
				}
				return
			}
		}
	}()
	return out
}

// shadowPrefix names a projection's shadow schemas in base: unique per
// base schema and projection, and short enough for PostgreSQL's 63 bytes.
func shadowPrefix(base, name string) string {
	sum := sha256.Sum256([]byte(base))
	if len(name) > 30 {
		name = name[:30]
	}
	return "rb_" + name + "_" + hex.EncodeToString(sum[:4]) + "_"
}

// dropShadows removes shadow schemas a crashed rebuild left behind.
func dropShadows(ctx context.Context, r *Runner, prefix string) error {
	rows, err := r.Pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, prefix)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, err := r.Pool.Exec(ctx, `DROP SCHEMA `+ident(n)+` CASCADE`); err != nil {
			return err
		}
		r.Log.Info("dropped a shadow schema left by an interrupted rebuild", slog.String("schema", n))
	}
	return nil
}

func existingTables(ctx context.Context, tx pgx.Tx, schema string, tables []string) ([]string, error) {
	rows, err := tx.Query(ctx, `SELECT t FROM unnest($2::text[]) WITH ORDINALITY AS u(t, i)
		WHERE to_regclass(quote_ident($1) || '.' || quote_ident(t)) IS NOT NULL ORDER BY i`, schema, tables)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func qualified(schema string, tables []string) string {
	out := ""
	for i, t := range tables {
		if i > 0 {
			out += ", "
		}
		out += ident(schema) + "." + ident(t)
	}
	return out
}
