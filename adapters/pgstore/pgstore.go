// Package pgstore is the PostgreSQL implementation of the ledger's
// event-store port: the embedded default for one machine, development and
// CI. Its schema is migration 0001 in adapters/postgres.
//
// Global order and the read horizon. Events are ordered globally by
// (tx_id, position): the 64-bit ID of the transaction that wrote them, then
// their insert sequence. A bigserial alone is not safe for readers:
// position 7 can commit while position 6 is still in flight, and a
// subscriber checkpointed at 7 would never see 6. So readers only return
// events whose transaction ID is below the read horizon: the oldest
// transaction ID among the appends still in flight, or the next ID when
// none is. Every append transaction takes a shared advisory lock (one key
// per schema) before it has an ID, which is how readers find the appends
// in flight; transactions that do not append — in other databases, or
// sessions idle in a transaction — never hold readers back. horizon.go
// says why nothing can then appear before an event a reader has returned.
//
// The store bounds its own append transactions, so that none holds the
// horizon for long (see appendBound): an append waits at most 5 s for
// another transaction's lock, and runs at most 5 s plus 1 s per 5,000
// events and per 5 MB of event data. AppendInTx appends in the caller's
// transaction, whose length is the caller's to bound.
package pgstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

var _ domain.EventStore = (*Store)(nil)

// Store is the PostgreSQL event store. Failures of the database or the
// connection to it (pg.Transient) come back matching
// domain.ErrUnavailable, with the driver's error still inside.
type Store struct {
	pool    *pgxpool.Pool
	channel string
	poll    time.Duration
	batch   int
	log     *slog.Logger
	keys    domain.PersonalKeys

	appendTimeout time.Duration // base of the bound on an append transaction (appendBound)

	startListen sync.Once
	wake        *broadcast
	stop        context.CancelFunc
	wg          sync.WaitGroup

	// Appends made in the store's own transactions are announced after
	// they commit, by one background notifier (see announce).
	startNotifier sync.Once
	kick          chan struct{}
	notifierCtx   context.Context
	stopNotifier  context.CancelFunc
}

// Option configures a Store.
type Option func(*Store)

// WithPollInterval sets how often an idle subscription polls besides being
// woken by NOTIFY (default 250ms). Polling covers notifications lost while
// the listening connection reconnects, and events held back by the read
// horizon while an older append was in flight (its commit is announced by
// whoever appended, but not to the subscriptions that waited for it).
func WithPollInterval(d time.Duration) Option { return func(s *Store) { s.poll = d } }

// WithReadBatch sets how many events a subscription reads per query
// (default 1000).
func WithReadBatch(n int) Option { return func(s *Store) { s.batch = n } }

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(s *Store) { s.log = l } }

// WithPersonalKeys sets the keys of the personal data in the events
// (default: a postgres.Keyring on the store's pool sealed by
// postgres.DevelopmentMasterKey, for tests and a laptop; cmd/ledger always
// sets the keyring of the configured master key).
func WithPersonalKeys(k domain.PersonalKeys) Option { return func(s *Store) { s.keys = k } }

// WithAppendTimeout sets the base of the bound on the store's own append
// transactions (default 5s; see appendBound). While an append is in
// flight, every event committed after it is held back from readers, so
// this bounds how long one append can hold them up.
func WithAppendTimeout(d time.Duration) Option { return func(s *Store) { s.appendTimeout = d } }

const defaultAppendTimeout = 5 * time.Second

// appendBound is how long an append transaction of events events and
// size bytes of data and metadata may run: the base (WithAppendTimeout)
// plus 1 s per 5,000 events and per 5 MB, for the work itself — about
// twice what a busy two-core machine needs (INSERTs over unnest arrays ran
// at 22,000 events/s, COPY at 42,000: docs/architecture.md), so a
// payroll approval of a million payments in one append still goes
// through. The server enforces it (statement_timeout on every statement
// of the transaction), and so does the client for AppendMany, whose
// transaction takes several round trips. Besides, the transaction waits at
// most the base for any one lock another transaction holds (lock_timeout:
// an append is normally held up only by another writer of the same
// stream), and AppendMany's transaction ends if the client leaves it idle
// that long (idle_in_transaction_session_timeout). An Append's statements
// go as one pipeline, so the server never waits for its client.
func (s *Store) appendBound(events, size int) time.Duration {
	return s.appendTimeout + time.Duration(events/5000)*time.Second + time.Duration(size/(5<<20))*time.Second
}

// millis renders d for set_config.
func millis(d time.Duration) string { return strconv.FormatInt(max(d.Milliseconds(), 1), 10) }

// boundError is an append the store gave up on at its bound (a lock wait,
// statement or idle timeout). Nothing was written; it matches
// domain.ErrUnavailable, and the cause with errors.As.
type boundError struct{ cause error }

func (e *boundError) Error() string {
	return "gave up at the bound on an append transaction: " + e.cause.Error()
}
func (e *boundError) Unwrap() []error { return []error{e.cause, domain.ErrUnavailable} }

// atBound wraps err in a boundError when the server or the client ended
// the append at its bound.
func atBound(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "57014", "55P03", "25P03": // query_canceled, lock_not_available, idle_in_transaction_session_timeout
			return &boundError{err}
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return &boundError{err}
	}
	return err
}

// New returns a store on pool. The pool's search_path selects the schema.
func New(pool *pgxpool.Pool, opts ...Option) *Store {
	s := &Store{
		pool:    pool,
		channel: "ledger_events",
		poll:    250 * time.Millisecond,
		batch:   1000,
		log:     slog.Default(),
		wake:    newBroadcast(),
		kick:    make(chan struct{}, 1),

		appendTimeout: defaultAppendTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	if s.appendTimeout <= 0 {
		s.appendTimeout = defaultAppendTimeout
	}
	if s.keys == nil {
		k, err := postgres.NewKeyring(pool, postgres.DevelopmentMasterKey)
		if err != nil {
			panic(err) // the development key is valid
		}
		s.keys = k
	}
	s.stop = func() {}
	s.notifierCtx, s.stopNotifier = context.WithCancel(context.Background())
	return s
}

// PersonalKeys implements domain.EventStore.
func (s *Store) PersonalKeys() domain.PersonalKeys { return s.keys }

// Close stops the store's background listener. It does not close the pool.
func (s *Store) Close() {
	s.startListen.Do(func() {}) // a listener started after Close would leak
	s.stop()
	s.stopNotifier()
	s.wg.Wait()
}

// Append implements domain.EventStore.
func (s *Store) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	if err := validateAppend(stream, events); err != nil {
		return domain.AppendResult{}, err
	}
	res, err := s.appendPooled(ctx, stream, expected, events)
	if err == nil {
		s.announce()
		return res, nil
	}
	return s.afterFailedAppend(ctx, stream, expected, events, err)
}

// AppendInTx appends within the caller's transaction, so other writes can
// commit atomically with the events. The events become visible to readers
// when tx commits. Unlike Append it cannot recognise a retried append:
// a duplicate event ID fails the transaction.
//
// The first append must come before the transaction's first write: it
// takes the append lock, which readers go by, and the lock must be held
// before the transaction has an ID. If tx already wrote (it has an ID but
// not the lock), AppendInTx appends nothing and returns an error matching
// ErrWroteBeforeAppend; roll tx back. Later appends and writes in the same
// transaction are fine. Readers wait for tx to end before they return any
// event committed after its first append, so keep it short: the store's
// bounds on its own appends (WithAppendTimeout) do not apply to the
// caller's transaction.
func (s *Store) AppendInTx(ctx context.Context, tx pgx.Tx, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	if err := validateAppend(stream, events); err != nil {
		return domain.AppendResult{}, err
	}
	if err := lockInTx(ctx, tx); err != nil {
		return domain.AppendResult{}, fmt.Errorf("append %s: %w", stream, err)
	}
	res, err := s.appendTx(ctx, tx, stream, expected, events, true)
	if err != nil {
		if errors.Is(err, errRevisionMismatch) {
			return res, s.wrongVersion(ctx, stream, expected)
		}
		return res, fmt.Errorf("append %s: %w", stream, pg.Classify(ctx, err))
	}
	return res, nil
}

func validateAppend(stream string, events []domain.EventData) error {
	switch {
	case stream == "":
		return domain.Invalid("stream", "is empty")
	case len(events) == 0:
		return domain.Invalid("events", "append %s: no events", stream)
	}
	for i, e := range events {
		if e.ID == uuid.Nil {
			return domain.Invalid("events", "append %s: event %d has no ID", stream, i)
		}
		if e.Type == "" {
			return domain.Invalid("events", "append %s: event %d has no type", stream, i)
		}
	}
	return nil
}

var errRevisionMismatch = errors.New("revision mismatch")

// announce tells subscriptions that an append of the store's own has
// committed: those of this process at once, those of other processes by a
// NOTIFY the background notifier sends after the commit. A NOTIFY inside
// the appending transaction would serialise every append's commit behind
// PostgreSQL's single notification queue lock — concurrent appends would
// lose group commit (measured: 4,200 single-insert transactions/s at 8
// clients fell to 700 with a NOTIFY in each). Announcements made while one
// is being sent coalesce into the next. A NOTIFY lost to a crash between
// commit and announcement is covered by the subscriptions' polling.
func (s *Store) announce() {
	s.wake.notify()
	s.startNotifier.Do(func() {
		s.wg.Add(1)
		go s.notifier()
	})
	select {
	case s.kick <- struct{}{}:
	default: // one is pending already: it will cover this commit too
	}
}

func (s *Store) notifier() {
	defer s.wg.Done()
	for {
		select {
		case <-s.notifierCtx.Done():
			return
		case <-s.kick:
		}
		if _, err := s.pool.Exec(s.notifierCtx, `SELECT pg_notify($1, '')`, s.channel); err != nil && s.notifierCtx.Err() == nil {
			s.log.Debug("event store could not announce an append; subscriptions elsewhere poll", slog.String("error", err.Error()))
		}
	}
}

// queryRower is a pool or a transaction.
type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// appendSQL appends in one statement: the stream row's check-and-advance
// (%s: one of the streamSQL variants, yielding the stream's new last
// revision) and the events' insert, which inserts nothing when the check
// fails. One statement is one round trip, and atomic on its own.
const appendSQL = `
	WITH s AS (%s
	), ins AS (
		INSERT INTO events (event_id, stream, revision, type, data, metadata)
		SELECT u.id, $1, s.revision - $2 + u.ord, u.typ, u.d::json, u.m::json
		FROM s, unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(id, typ, d, m, ord)
		ORDER BY u.ord
		RETURNING position, tx_id
	), notify AS (
		SELECT pg_notify($7, '') WHERE $8
	)
	SELECT (SELECT revision FROM s), max(position), max(tx_id)::text FROM ins LEFT JOIN notify ON true`

var (
	appendNoStreamSQL = fmt.Sprintf(appendSQL, `
		INSERT INTO streams (stream, revision) VALUES ($1, $2 - 1)
		ON CONFLICT (stream) DO NOTHING RETURNING revision`)
	appendExactSQL = fmt.Sprintf(appendSQL, `
		UPDATE streams SET revision = revision + $2 WHERE stream = $1 AND revision = $9 RETURNING revision`)
	appendAnySQL = fmt.Sprintf(appendSQL, `
		INSERT INTO streams (stream, revision) VALUES ($1, $2 - 1)
		ON CONFLICT (stream) DO UPDATE SET revision = streams.revision + $2 RETURNING revision`)
)

// appendPooled appends in a transaction of its own: the append lock (with
// the statement timeout) and the append statement, sent together as one
// pipeline, which PostgreSQL runs as one implicit transaction committed at
// its end. One round trip, as before the lock; the lock is a statement of
// its own so that it is certainly held before the append statement gives
// the transaction an ID.
func (s *Store) appendPooled(ctx context.Context, stream string, expected domain.ExpectedRevision, events []domain.EventData) (domain.AppendResult, error) {
	sql, args, err := s.appendStatement(expected, events, stream, false)
	if err != nil {
		return domain.AppendResult{}, err
	}
	size := 0
	for _, e := range events {
		size += len(e.Data) + len(e.Metadata)
	}
	b := &pgx.Batch{}
	b.Queue(appendLockSQL, millis(s.appendBound(len(events), size)), millis(s.appendTimeout))
	var res domain.AppendResult
	var scanErr error
	b.Queue(sql, args...).QueryRow(func(row pgx.Row) error {
		res, scanErr = scanAppend(row)
		return nil
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return domain.AppendResult{}, err
	}
	return res, scanErr
}

// appendTx appends with q, the caller's transaction, sending the NOTIFY in
// the statement itself, since the store does not see that transaction
// commit.
func (s *Store) appendTx(ctx context.Context, q queryRower, stream string, expected domain.ExpectedRevision, events []domain.EventData, notify bool) (domain.AppendResult, error) {
	sql, args, err := s.appendStatement(expected, events, stream, notify)
	if err != nil {
		return domain.AppendResult{}, err
	}
	return scanAppend(q.QueryRow(ctx, sql, args...))
}

// appendStatement returns the append statement for expected and its
// arguments.
func (s *Store) appendStatement(expected domain.ExpectedRevision, events []domain.EventData, stream string, notify bool) (string, []any, error) {
	n := int64(len(events))
	ids := make([]pgtype.UUID, n)
	types := make([]string, n)
	data := make([]string, n)
	meta := make([]string, n)
	for i, e := range events {
		ids[i] = pgtype.UUID{Bytes: e.ID, Valid: true}
		types[i] = e.Type
		data[i] = string(e.Data)
		meta[i] = string(e.Metadata)
	}
	args := []any{stream, n, ids, types, data, meta, s.channel, notify}
	sql := appendAnySQL
	switch rev, exact := expected.Revision(); {
	case expected.IsNoStream():
		sql = appendNoStreamSQL
	case exact:
		if rev > math.MaxInt64-uint64(n) {
			return "", nil, domain.Invalid("expected_revision", "%d is out of range", rev)
		}
		sql, args = appendExactSQL, append(args, int64(rev))
	}
	return sql, args, nil
}

// scanAppend reads the append statement's row.
func scanAppend(row pgx.Row) (domain.AppendResult, error) {
	var last, pos *int64
	var txid *string
	if err := row.Scan(&last, &pos, &txid); err != nil {
		return domain.AppendResult{}, err
	}
	if last == nil || pos == nil || txid == nil {
		return domain.AppendResult{}, errRevisionMismatch
	}
	commit, err := strconv.ParseUint(*txid, 10, 64)
	if err != nil {
		return domain.AppendResult{}, fmt.Errorf("parse tx_id %q: %w", *txid, err)
	}
	return domain.AppendResult{NextExpected: uint64(*last), Position: domain.Position{Commit: commit, Prepare: uint64(*pos)}}, nil
}

// afterFailedAppend turns a failed append into the port's answer: the
// original result if every event was already appended (a retry), else a
// wrong-expected-version error or the error itself.
func (s *Store) afterFailedAppend(ctx context.Context, stream string, expected domain.ExpectedRevision, events []domain.EventData, cause error) (domain.AppendResult, error) {
	var pgErr *pgconn.PgError
	duplicate := errors.As(cause, &pgErr) && pgErr.Code == "23505" && pgErr.ConstraintName == "events_event_id_key"
	if !duplicate && !errors.Is(cause, errRevisionMismatch) {
		return domain.AppendResult{}, fmt.Errorf("append %s: %w", stream, pg.Classify(ctx, atBound(cause)))
	}
	res, found, err := s.priorAppend(ctx, stream, events)
	if err != nil {
		return domain.AppendResult{}, fmt.Errorf("append %s: %w", stream, pg.Classify(ctx, err))
	}
	if found {
		return res, nil
	}
	if duplicate {
		return domain.AppendResult{}, fmt.Errorf("append %s: %w", stream,
			&domain.ConflictError{Reason: "some of these event IDs were already appended, in another stream or another append"})
	}
	return domain.AppendResult{}, s.wrongVersion(ctx, stream, expected)
}

// priorAppend looks for the events by ID. found is true when all of them
// were appended to stream, consecutively and in this order.
func (s *Store) priorAppend(ctx context.Context, stream string, events []domain.EventData) (domain.AppendResult, bool, error) {
	ids := make([]uuid.UUID, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	rows, err := s.pool.Query(ctx,
		`SELECT event_id, stream, revision, position, tx_id::text FROM events WHERE event_id = ANY($1)`, ids)
	if err != nil {
		return domain.AppendResult{}, false, err
	}
	type row struct {
		stream   string
		revision int64
		position int64
		txid     string
	}
	got := map[uuid.UUID]row{}
	for rows.Next() {
		var id uuid.UUID
		var r row
		if err := rows.Scan(&id, &r.stream, &r.revision, &r.position, &r.txid); err != nil {
			return domain.AppendResult{}, false, err
		}
		got[id] = r
	}
	if err := rows.Err(); err != nil {
		return domain.AppendResult{}, false, err
	}
	if len(got) != len(events) {
		return domain.AppendResult{}, false, nil
	}
	first := got[ids[0]]
	for i, id := range ids {
		r := got[id]
		if r.stream != stream || r.revision != first.revision+int64(i) {
			return domain.AppendResult{}, false, nil
		}
	}
	last := got[ids[len(ids)-1]]
	commit, err := strconv.ParseUint(last.txid, 10, 64)
	if err != nil {
		return domain.AppendResult{}, false, err
	}
	return domain.AppendResult{
		NextExpected: uint64(last.revision),
		Position:     domain.Position{Commit: commit, Prepare: uint64(last.position)},
	}, true, nil
}

func (s *Store) wrongVersion(ctx context.Context, stream string, expected domain.ExpectedRevision) error {
	e := &domain.WrongExpectedVersionError{Stream: stream, Expected: expected}
	var rev int64
	err := s.pool.QueryRow(ctx, `SELECT revision FROM streams WHERE stream = $1`, stream).Scan(&rev)
	if err == nil {
		e.Actual, e.ActualExists = uint64(rev), true
	}
	return e
}

// ReadStream implements domain.EventStore.
func (s *Store) ReadStream(ctx context.Context, stream string, dir domain.Direction, from uint64, limit int) ([]domain.RecordedEvent, error) {
	if limit <= 0 {
		limit = math.MaxInt32
	}
	start := int64(math.MaxInt64)
	if from < math.MaxInt64 {
		start = int64(from)
	}
	q := `SELECT ` + eventColumns + ` FROM events WHERE stream = $1 AND revision >= $2 ORDER BY revision LIMIT $3`
	if dir == domain.Backwards {
		q = `SELECT ` + eventColumns + ` FROM events WHERE stream = $1 AND revision <= $2 ORDER BY revision DESC LIMIT $3`
	}
	rows, err := s.pool.Query(ctx, q, stream, start, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, pg.Classify(ctx, err))
	}
	evs, err := collectEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, pg.Classify(ctx, err))
	}
	if len(evs) == 0 {
		var exists bool
		if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM streams WHERE stream = $1)`, stream).Scan(&exists); err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, pg.Classify(ctx, err))
		}
		if !exists {
			return nil, fmt.Errorf("read %s: %w", stream, domain.ErrStreamNotFound)
		}
	}
	return evs, nil
}

// ReadAll implements domain.EventStore.
func (s *Store) ReadAll(ctx context.Context, from domain.Position, limit int, filter domain.Filter) ([]domain.RecordedEvent, error) {
	if limit <= 0 {
		limit = s.batch
	}
	evs, err := s.readAll(ctx, from, limit, filter)
	if err != nil {
		return nil, fmt.Errorf("read $all: %w", pg.Classify(ctx, err))
	}
	return evs, nil
}

const eventColumns = `event_id, stream, revision, position, tx_id::text AS tx_text, type, data::text AS data_text, metadata::text AS metadata_text, recorded_at`

func (s *Store) readAll(ctx context.Context, from domain.Position, limit int, filter domain.Filter) ([]domain.RecordedEvent, error) {
	rows, err := s.queryAll(ctx, eventColumns, from, limit, filter)
	if err != nil {
		return nil, err
	}
	return collectEvents(rows)
}

// queryAll selects columns of up to limit events of $all after from that
// pass filter, in log order: (tx_id, position) > from, below the read
// horizon, which must be computed by an earlier statement than this one
// (see horizon.go). ReadAll and ReadAllData differ only in the columns.
func (s *Store) queryAll(ctx context.Context, columns string, from domain.Position, limit int, filter domain.Filter) (pgx.Rows, error) {
	h, err := s.horizon(ctx)
	if err != nil {
		return nil, err
	}
	q := `SELECT ` + columns + ` FROM events
		WHERE (tx_id, position) > ($1::text::xid8, $2::bigint)
		  AND tx_id < $4::text::xid8`
	args := []any{strconv.FormatUint(from.Commit, 10), int64(from.Prepare), limit, h.xid}
	if len(filter.StreamPrefixes) > 0 {
		q += ` AND stream ^@ ANY($5::text[])`
		args = append(args, filter.StreamPrefixes)
	}
	q += ` ORDER BY events.tx_id, events.position LIMIT $3` // qualified: an output column must not be the sort key
	return s.pool.Query(ctx, q, args...)
}

// ReadAllData implements domain.DataReader: readAll without the columns a
// rebuild does not decode, scanned from the connection's buffer.
func (s *Store) ReadAllData(ctx context.Context, from domain.Position, limit int) ([]domain.RecordedEvent, error) {
	if limit <= 0 {
		limit = s.batch
	}
	evs, err := s.readAllData(ctx, from, limit)
	if err != nil {
		return nil, fmt.Errorf("read $all: %w", pg.Classify(ctx, err))
	}
	return evs, nil
}

func (s *Store) readAllData(ctx context.Context, from domain.Position, limit int) ([]domain.RecordedEvent, error) {
	rows, err := s.queryAll(ctx, `stream, revision, position, tx_id::text, type, data::text`, from, limit, domain.Filter{})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make([]domain.RecordedEvent, 0, limit)
	fds := rows.FieldDescriptions()
	if len(fds) != 6 {
		return nil, fmt.Errorf("read $all: %d columns, want 6", len(fds))
	}
	var stream, typ string // consecutive events share them: one string each
	for rows.Next() {
		v := rows.RawValues() // text columns are their bytes in either format
		rev, err1 := int8Value(fds[1], v[1])
		pos, err2 := int8Value(fds[2], v[2])
		commit, err3 := strconv.ParseUint(string(v[3]), 10, 64)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("read $all: %w", err)
		}
		if string(v[0]) != stream {
			stream = string(v[0])
		}
		if string(v[4]) != typ {
			typ = string(v[4])
		}
		out = append(out, domain.RecordedEvent{
			Stream: stream, Revision: rev, Position: domain.Position{Commit: commit, Prepare: pos},
			Type: typ, Data: slices.Clone(v[5]),
		})
	}
	return out, rows.Err()
}

// int8Value reads a bigint column's raw value in the format it came in.
func int8Value(fd pgconn.FieldDescription, raw []byte) (uint64, error) {
	if fd.Format == pgx.BinaryFormatCode {
		if len(raw) != 8 {
			return 0, fmt.Errorf("%s: %d bytes, not a bigint", fd.Name, len(raw))
		}
		return binary.BigEndian.Uint64(raw), nil
	}
	return strconv.ParseUint(string(raw), 10, 64)
}

// heldBack reports whether committed events after from are being held
// back by the read horizon (an older transaction is still running).
func (s *Store) heldBack(ctx context.Context, from domain.Position, filter domain.Filter) (bool, error) {
	q := `SELECT EXISTS (SELECT 1 FROM events WHERE (tx_id, position) > ($1::text::xid8, $2::bigint)`
	args := []any{strconv.FormatUint(from.Commit, 10), int64(from.Prepare)}
	if len(filter.StreamPrefixes) > 0 {
		q += ` AND stream ^@ ANY($3::text[])`
		args = append(args, filter.StreamPrefixes)
	}
	var held bool
	err := s.pool.QueryRow(ctx, q+`)`, args...).Scan(&held)
	return held, err
}

func collectEvents(rows pgx.Rows) ([]domain.RecordedEvent, error) {
	defer rows.Close()
	var out []domain.RecordedEvent
	for rows.Next() {
		var e domain.RecordedEvent
		var rev, pos int64
		var txid string
		// Data and metadata are scanned as bytes: one copy out of the
		// connection's buffer, where a string would take two.
		if err := rows.Scan(&e.ID, &e.Stream, &rev, &pos, &txid, &e.Type, &e.Data, &e.Metadata, &e.RecordedAt); err != nil {
			return nil, err
		}
		commit, err := strconv.ParseUint(txid, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("parse tx_id %q: %w", txid, err)
		}
		e.Revision = uint64(rev)
		e.Position = domain.Position{Commit: commit, Prepare: uint64(pos)}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }
