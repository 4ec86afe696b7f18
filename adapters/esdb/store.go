// Package esdbstore is the EventStoreDB implementation of the ledger's
// event-store port, on the official client
// (github.com/EventStore/EventStore-Client-Go/v4/esdb). It lives in
// adapters/esdb; the package is named esdbstore so it does not shadow the
// client's package, which is also called esdb.
//
// Mapping to the port:
//   - the server out of reach (unavailable, deadline exceeded, the client
//     closed, not the leader) → an error matching domain.ErrUnavailable;
//   - expected revisions: NoStream → esdb.NoStream, Exact(n) → esdb.Revision(n),
//     AnyRevision → esdb.Any; the server's WrongExpectedVersion becomes
//     *domain.WrongExpectedVersionError (the actual revision is read back,
//     since the client reports it only as text);
//   - event IDs are the domain's deterministic IDs, so the server's own
//     idempotency check turns a retried append into a no-op;
//   - metadata is written as the event's user metadata, content type JSON;
//   - a missing stream is domain.ErrStreamNotFound, a deleted one
//     domain.ErrStreamDeleted;
//   - $all positions are the server's commit/prepare positions. Reads from a
//     position are exclusive in the port; the adapter drops the event at
//     the position itself if the server returns it;
//   - system events ("$"-prefixed types or streams) never reach the ledger:
//     subscriptions filter them on the server, reads on the client;
//   - with WithNamespace, the store's streams are "NAMESPACE:stream" on the
//     server, and the store sees only those (by their ledger names): several
//     ledgers — a test run, a training copy — can share one server.
package esdbstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"unicode"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lushan-dpf/ledger/domain"
)

var _ domain.EventStore = (*Store)(nil)

// Store is the EventStoreDB event store.
type Store struct {
	cfg *esdb.Configuration
	log *slog.Logger
	// pageSize is how many events one read request asks for.
	pageSize uint64

	// prefix starts every stream of the store on the server ("" without a
	// namespace).
	prefix string

	// keys seal and open the personal data in the events: they are kept
	// in PostgreSQL (postgres.Keyring), not on the EventStoreDB server.
	keys domain.PersonalKeys

	mu     sync.Mutex
	client *esdb.Client
	closed bool
}

// WithPersonalKeys sets the keys of the personal data in the events
// (without them the store cannot take events with personal data).
func WithPersonalKeys(k domain.PersonalKeys) Option {
	return func(s *Store) error {
		s.keys = k
		return nil
	}
}

// PersonalKeys implements domain.EventStore.
func (s *Store) PersonalKeys() domain.PersonalKeys { return s.keys }

// Option configures a Store.
type Option func(*Store) error

// WithNamespace keeps the store's streams apart from every other stream on
// the server: stream "person-…" is stored as "NAMESPACE:person-…", and
// reads, the head of the log and subscriptions see only the namespace's
// streams, by their names without it; a store without a namespace does
// not see namespaced streams. A namespace is 1 to 64 ASCII
// letters, digits, '-' and '_'. Reads of $all still scan the other
// namespaces' events on the server (plain reads have no server-side
// filter), so a namespace suits tests and training copies on a shared
// server rather than many production ledgers on one.
func WithNamespace(ns string) Option {
	return func(s *Store) error {
		if err := CheckNamespace(ns); err != nil {
			return err
		}
		if ns != "" {
			s.prefix = ns + ":"
		}
		return nil
	}
}

// CheckNamespace checks a namespace for WithNamespace ("" is none).
func CheckNamespace(ns string) error {
	if ns == "" {
		return nil
	}
	if len(ns) > 64 || strings.TrimFunc(ns, func(r rune) bool {
		return r == '-' || r == '_' || r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r))
	}) != "" {
		return domain.Invalid("eventstore_namespace", "%q is not 1 to 64 ASCII letters, digits, '-' and '_'", ns)
	}
	return nil
}

// server returns the server's name of one of the store's streams.
func (s *Store) server(stream string) string { return s.prefix + stream }

// own returns the store's name of a stream on the server, false for a
// stream of another namespace (or of none, when the store has one). The
// ledger's own stream names never hold a ':'.
func (s *Store) own(stream string) (string, bool) {
	if s.prefix == "" {
		ns, _, namespaced := strings.Cut(stream, ":")
		return stream, !namespaced || ns == "" || CheckNamespace(ns) != nil
	}
	return strings.CutPrefix(stream, s.prefix)
}

// Open parses an esdb:// or esdb+discover:// connection string (TLS,
// credentials and cluster discovery pass through to the client) and
// returns a store. The client connects lazily, on first use.
func Open(connString string, log *slog.Logger, opts ...Option) (*Store, error) {
	if log == nil {
		log = slog.Default()
	}
	cfg, err := esdb.ParseConnectionString(connString)
	if err != nil {
		return nil, domain.Invalid("eventstore", "not a valid EventStoreDB connection string: %v", err)
	}
	cfg.Logger = clientLogger(log)
	s := &Store{cfg: cfg, log: log, pageSize: 1000}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	if s.client, err = esdb.NewClient(cfg); err != nil {
		return nil, fmt.Errorf("eventstoredb client: %w", err)
	}
	return s, nil
}

// Close closes the client's connections.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return s.client.Close()
}

// cli returns the current client.
func (s *Store) cli() *esdb.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.client
}

// check inspects an error from client c: once the client has given up on
// the server for good (it failed rediscovery maxDiscoverAttempts times in a
// row, and answers every later call with ErrorCodeConnectionClosed), the
// store replaces it, so that calls work again once the server is back. The
// failed call itself still returns its error; it is safe to retry.
func (s *Store) check(c *esdb.Client, err error) {
	if code(err) != esdb.ErrorCodeConnectionClosed {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.client != c {
		return
	}
	fresh, nerr := esdb.NewClient(s.cfg)
	if nerr != nil {
		s.log.Warn("eventstoredb: could not replace a closed client", slog.String("error", nerr.Error()))
		return
	}
	s.log.Warn("eventstoredb: the client had given up on the server; replaced it")
	s.client = fresh
	go c.Close() //nolint:errcheck
}

// clientLogger routes the client's log lines to slog: its errors are often
// transient (a dropped subscription the adapter re-establishes), so they
// are logged as warnings.
func clientLogger(log *slog.Logger) esdb.LoggingFunc {
	return func(level esdb.LogLevel, format string, args ...any) {
		// The v4 client passes its arguments as one slice.
		if len(args) == 1 {
			if inner, ok := args[0].([]any); ok {
				args = inner
			}
		}
		msg := fmt.Sprintf(format, args...)
		switch level {
		case esdb.LogError, esdb.LogWarn:
			log.Warn("eventstoredb client", slog.String("message", msg))
		default:
			log.Debug("eventstoredb client", slog.String("message", msg))
		}
	}
}

func expectedRevision(e domain.ExpectedRevision) esdb.ExpectedRevision {
	switch rev, exact := e.Revision(); {
	case exact:
		return esdb.Revision(rev)
	case e.IsAny():
		return esdb.Any{}
	default:
		return esdb.NoStream{}
	}
}

// Append implements domain.EventStore.
func (s *Store) Append(ctx context.Context, stream string, expected domain.ExpectedRevision, events ...domain.EventData) (domain.AppendResult, error) {
	if stream == "" {
		return domain.AppendResult{}, domain.Invalid("stream", "is empty")
	}
	if len(events) == 0 {
		return domain.AppendResult{}, domain.Invalid("events", "append %s: no events", stream)
	}
	data := make([]esdb.EventData, len(events))
	for i, e := range events {
		if e.ID == [16]byte{} {
			return domain.AppendResult{}, domain.Invalid("events", "append %s: event %d has no ID", stream, i)
		}
		if e.Type == "" {
			return domain.AppendResult{}, domain.Invalid("events", "append %s: event %d has no type", stream, i)
		}
		data[i] = esdb.EventData{
			EventID:     e.ID,
			EventType:   e.Type,
			ContentType: esdb.ContentTypeJson,
			Data:        e.Data,
			Metadata:    e.Metadata,
		}
	}
	c := s.cli()
	res, err := c.AppendToStream(ctx, s.server(stream), esdb.AppendToStreamOptions{ExpectedRevision: expectedRevision(expected)}, data...)
	if err != nil {
		s.check(c, err)
		if code(err) == esdb.ErrorCodeWrongExpectedVersion {
			return domain.AppendResult{}, s.wrongVersion(ctx, stream, expected)
		}
		if tooLarge(err, appendSize(data)) {
			return domain.AppendResult{}, &AppendTooLargeError{Stream: stream, Events: len(events), Bytes: appendSize(data), cause: err}
		}
		return domain.AppendResult{}, fmt.Errorf("append %s: %w", stream, translate(ctx, err))
	}
	return domain.AppendResult{
		NextExpected: res.NextExpectedVersion,
		Position:     domain.Position{Commit: res.CommitPosition, Prepare: res.PreparePosition},
	}, nil
}

func (s *Store) wrongVersion(ctx context.Context, stream string, expected domain.ExpectedRevision) error {
	e := &domain.WrongExpectedVersionError{Stream: stream, Expected: expected}
	if last, err := s.ReadStream(ctx, stream, domain.Backwards, domain.StreamEnd, 1); err == nil && len(last) == 1 {
		e.Actual, e.ActualExists = last[0].Revision, true
	}
	return e
}

func code(err error) esdb.ErrorCode {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return esdb.ErrorCodeUnknown
}

// AppendTooLargeError: the server refused an append over its maximum
// append size (MaxAppendSize, 1 MiB by default) — or closed the
// connection during it, which is how a real server answers a request
// over its transport limit. The ledger keeps its own appends under
// domain.MaxAppendBytes; this names what happened instead of the client's
// "[ErrorCode 0] … EOF".
type AppendTooLargeError struct {
	Stream string
	Events int
	Bytes  int
	cause  error
}

func (e *AppendTooLargeError) Error() string {
	return fmt.Sprintf("append %s: EventStoreDB refused %d events of %d bytes in one append: more than its maximum append size "+
		"(MaxAppendSize, 1 MiB by default; the ledger keeps its appends under %d bytes)", e.Stream, e.Events, e.Bytes, domain.MaxAppendBytes)
}

func (e *AppendTooLargeError) Unwrap() error { return e.cause }

// tooLarge reports whether an append of size bytes failed on the
// server's size limit. The client reports it only as text: the server's
// InvalidArgument "Maximum Append Size of N Exceeded.", or an EOF when the
// connection was closed mid-request. An EOF is read as the size limit only
// for an append over the ledger's own bound (domain.MaxAppendBytes): a
// smaller one lost its connection — the server stopping, say — which
// translate reports as unavailable.
func tooLarge(err error, size int) bool {
	msg := err.Error()
	return strings.Contains(msg, "Maximum Append Size") ||
		(size > domain.MaxAppendBytes && strings.Contains(msg, "could not send append request") && strings.Contains(msg, "EOF"))
}

func appendSize(data []esdb.EventData) int {
	n := 0
	for _, d := range data {
		n += len(d.EventType) + len(d.Data) + len(d.Metadata)
	}
	return n
}

// translate maps the client's errors to the domain's where one applies.
// The server being out of reach right now — the client's unavailable,
// deadline-exceeded, connection-closed (the client gave up on the server;
// check replaces it), not-leader (an election) and aborted answers —
// matches domain.ErrUnavailable, keeping the client's error inside; but
// not once ctx has ended: then the caller gave up or ran out of its own
// time, which is no failure of the server's.
//
// Two answers the client does not code mean the same: a gRPC Unavailable
// it passes on as it got it (a client rediscovering a stopped server), and
// a connection closed in the middle of a request (EOF). Those come back
// wrapped in the client's own error type (esdb.FromError), as the coded
// ones do.
func translate(ctx context.Context, err error) error {
	var ce *esdb.Error
	if !errors.As(err, &ce) && status.Code(err) == codes.Unavailable {
		err, _ = esdb.FromError(err)
	}
	if code(err) == esdb.ErrorCodeUnknown && ctx.Err() == nil && (status.Code(err) == codes.Unavailable || errors.Is(err, io.EOF)) {
		return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
	}
	switch code(err) {
	case esdb.ErrorCodeResourceNotFound:
		return fmt.Errorf("%w: %v", domain.ErrStreamNotFound, err)
	case esdb.ErrorCodeStreamDeleted:
		return fmt.Errorf("%w: %v", domain.ErrStreamDeleted, err)
	case esdb.ErrorCodeWrongExpectedVersion:
		return fmt.Errorf("%w: %v", domain.ErrWrongExpectedVersion, err)
	case esdb.ErrorUnavailable, esdb.ErrorCodeDeadlineExceeded, esdb.ErrorCodeConnectionClosed,
		esdb.ErrorCodeNotLeader, esdb.ErrorAborted:
		if ctx.Err() == nil {
			return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
		}
	}
	return err
}

// ReadStream implements domain.EventStore.
func (s *Store) ReadStream(ctx context.Context, stream string, dir domain.Direction, from uint64, limit int) ([]domain.RecordedEvent, error) {
	var out []domain.RecordedEvent
	next := from
	for {
		want := s.pageSize
		if limit > 0 && uint64(limit-len(out)) < want {
			want = uint64(limit - len(out))
		}
		opts := esdb.ReadStreamOptions{Direction: esdb.Forwards, From: esdb.Revision(next)}
		if dir == domain.Backwards {
			opts.Direction = esdb.Backwards
			if next == domain.StreamEnd {
				opts.From = esdb.End{}
			}
		}
		page, err := s.readStreamPage(ctx, s.server(stream), opts, want)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		out = append(out, page...)
		if uint64(len(page)) < want || (limit > 0 && len(out) >= limit) {
			return out, nil
		}
		last := page[len(page)-1].Revision
		if dir == domain.Backwards {
			if last == 0 {
				return out, nil
			}
			next = last - 1
		} else {
			next = last + 1
		}
	}
}

func (s *Store) readStreamPage(ctx context.Context, stream string, opts esdb.ReadStreamOptions, count uint64) ([]domain.RecordedEvent, error) {
	c := s.cli()
	rs, err := c.ReadStream(ctx, stream, opts, count)
	if err != nil {
		s.check(c, err)
		return nil, translate(ctx, err)
	}
	defer rs.Close()
	var out []domain.RecordedEvent
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, translate(ctx, err)
		}
		if r := ev.OriginalEvent(); r != nil {
			out = append(out, s.recorded(r))
		}
	}
}

// recorded is an event of the store as the port gives it: named without
// the store's namespace.
func (s *Store) recorded(r *esdb.RecordedEvent) domain.RecordedEvent {
	stream, _ := s.own(r.StreamID)
	return domain.RecordedEvent{
		ID:         r.EventID,
		Stream:     stream,
		Revision:   r.EventNumber,
		Position:   domain.Position{Commit: r.Position.Commit, Prepare: r.Position.Prepare},
		Type:       r.EventType,
		Data:       r.Data,
		Metadata:   r.UserMetadata,
		RecordedAt: r.CreatedDate,
	}
}

// passes reports whether an event of $all reaches the ledger: one of the
// store's streams, not a system event, and passing filter.
func (s *Store) passes(r *esdb.RecordedEvent, filter domain.Filter) bool {
	stream, ok := s.own(r.StreamID)
	return ok && !isSystem(stream, r.EventType) && filter.Matches(stream, r.EventType)
}

// isSystem reports events the ledger never sees: EventStoreDB's own.
func isSystem(stream, eventType string) bool {
	return strings.HasPrefix(eventType, "$") || strings.HasPrefix(stream, "$")
}

// ReadAll implements domain.EventStore. The client offers no server-side
// filter for plain reads, so it reads pages of $all and filters here.
func (s *Store) ReadAll(ctx context.Context, from domain.Position, limit int, filter domain.Filter) ([]domain.RecordedEvent, error) {
	if limit <= 0 {
		limit = int(s.pageSize)
	}
	var out []domain.RecordedEvent
	pos := from
	for len(out) < limit {
		opts := esdb.ReadAllOptions{Direction: esdb.Forwards, From: esdb.Start{}}
		if !pos.IsStart() {
			opts.From = esdb.Position{Commit: pos.Commit, Prepare: pos.Prepare}
		}
		c := s.cli()
		rs, err := c.ReadAll(ctx, opts, s.pageSize)
		if err != nil {
			s.check(c, err)
			return nil, fmt.Errorf("read $all: %w", translate(ctx, err))
		}
		n := 0
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return nil, fmt.Errorf("read $all: %w", translate(ctx, err))
			}
			n++
			r := ev.OriginalEvent()
			if r == nil {
				continue
			}
			p := domain.Position{Commit: r.Position.Commit, Prepare: r.Position.Prepare}
			if !pos.IsStart() && !pos.Less(p) {
				continue // the read is inclusive of its start; the port is not
			}
			pos = p
			if !s.passes(r, filter) {
				continue
			}
			out = append(out, s.recorded(r))
			if len(out) == limit {
				break
			}
		}
		rs.Close()
		if uint64(n) < s.pageSize {
			break // end of $all
		}
	}
	return out, nil
}

// Head implements domain.EventStore: the position of the last event in
// $all that is not a system event, read backwards from the end of $all.
// The client offers no server-side filter for plain reads, so system
// events are skipped here, as ReadAll does; EventStoreDB writes some of
// its own all the time (statistics, metadata), so it may take a few pages.
func (s *Store) Head(ctx context.Context) (domain.Position, error) {
	const page = 64
	opts := esdb.ReadAllOptions{Direction: esdb.Backwards, From: esdb.End{}}
	for {
		c := s.cli()
		rs, err := c.ReadAll(ctx, opts, page)
		if err != nil {
			s.check(c, err)
			return domain.Position{}, fmt.Errorf("head of $all: %w", translate(ctx, err))
		}
		n := 0
		var last *esdb.RecordedEvent
		for {
			ev, err := rs.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rs.Close()
				return domain.Position{}, fmt.Errorf("head of $all: %w", translate(ctx, err))
			}
			n++
			r := ev.OriginalEvent()
			if r == nil {
				continue
			}
			last = r
			if s.passes(r, domain.Filter{}) {
				rs.Close()
				return domain.Position{Commit: r.Position.Commit, Prepare: r.Position.Prepare}, nil
			}
		}
		rs.Close()
		if n < page || last == nil {
			return domain.Start, nil // reached the start of $all
		}
		// Backwards reads start strictly before their position.
		opts.From = esdb.Position{Commit: last.Position.Commit, Prepare: last.Position.Prepare}
	}
}
