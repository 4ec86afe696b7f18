package esdbtest

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/protos/persistent"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/projections"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// DefaultMaxAppendSize is the real server's default MaxAppendSize (1 MiB).
const DefaultMaxAppendSize = 1024 * 1024

// MaxEventSize is the largest event (data and metadata) the real server
// stores, 16 MiB, whatever its MaxAppendSize: a larger one is refused
// (InvalidArgument here; the real server's wording differs).
const MaxEventSize = 16 * 1024 * 1024

// Option configures a Server.
type Option func(*config)

type config struct {
	now           func() time.Time
	maxAppendSize int
}

// WithClock sets the clock used for the events' "created" timestamps.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// WithMaxAppendSize sets the maximum total size of one append, above which
// Append fails with InvalidArgument ("maximum-append-size-exceeded"), like the
// real server's MaxAppendSize setting. n <= 0 disables the check.
func WithMaxAppendSize(n int) Option {
	return func(c *config) { c.maxAppendSize = n }
}

// Server is an in-process EventStoreDB test double speaking the streams gRPC
// protocol on a loopback port. See the package documentation.
type Server struct {
	cfg   config
	store *store

	mu        sync.Mutex
	addr      string // fixed by the first successful Start
	gs        *grpc.Server
	serveDone chan struct{}
	closed    bool
}

// New returns a stopped server with an empty log. Call Start to listen.
func New(opts ...Option) *Server {
	cfg := config{now: time.Now, maxAppendSize: DefaultMaxAppendSize}
	for _, o := range opts {
		o(&cfg)
	}
	return &Server{cfg: cfg, store: newStore(cfg.now)}
}

// Start creates a server, starts it on 127.0.0.1 (random port) and registers
// t.Cleanup(s.Close). It fails the test if the server can't listen.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	if err := s.Start(); err != nil {
		t.Fatalf("esdbtest: start: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// ErrClosed is returned by Start and Restart after Close.
var ErrClosed = errors.New("esdbtest: server closed")

// Start listens and serves. The first call picks a free loopback port; later
// calls (after Stop) listen on the same port again. Starting a running server
// is a no-op.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.gs != nil {
		return nil
	}
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	lis, err := listen(addr)
	if err != nil {
		return err
	}
	s.addr = lis.Addr().String()

	gs := grpc.NewServer(
		// The client pings every 10s by default (keepAliveInterval); grpc-go's
		// default enforcement (5 min) would answer with GOAWAY too_many_pings
		// and kill live subscriptions. The real server (Kestrel) doesn't care.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
		// Stop must not return while handlers still run (no goroutine leaks).
		grpc.WaitForHandlers(true),
		// Let an event of up to MaxEventSize reach the handler, which
		// refuses larger ones as the real server does (grpc-go's own
		// default would cut every message off at 4 MiB).
		grpc.MaxRecvMsgSize(MaxEventSize+1<<20),
	)
	streams.RegisterStreamsServer(gs, &streamsService{store: s.store, maxAppendSize: s.cfg.maxAppendSize})
	// Registered only so that the client gets a proper Unimplemented status;
	// unregistered services (ServerFeatures, Gossip, Users, Operations, ...)
	// produce the same code from grpc-go.
	persistent.RegisterPersistentSubscriptionsServer(gs, persistent.UnimplementedPersistentSubscriptionsServer{})
	projections.RegisterProjectionsServer(gs, projections.UnimplementedProjectionsServer{})

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(lis)
	}()
	s.gs, s.serveDone = gs, done
	return nil
}

// listen retries briefly: right after Stop the kernel may still hold the port.
func listen(addr string) (net.Listener, error) {
	var lastErr error
	for i := 0; i < 50; i++ {
		lis, err := net.Listen("tcp", addr)
		if err == nil {
			return lis, nil
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("esdbtest: listen %s: %w", addr, lastErr)
}

// Stop is a hard stop: it closes the listener and every connection, cancels
// all in-flight calls (clients see codes.Unavailable) and waits for every
// handler to return. The in-memory log is kept; Restart serves it again.
func (s *Server) Stop() {
	s.mu.Lock()
	gs, done := s.gs, s.serveDone
	s.gs, s.serveDone = nil, nil
	s.mu.Unlock()
	if gs == nil {
		return
	}
	gs.Stop()
	<-done
}

// Restart stops the server if it is running and listens again on the same
// address, serving the same log.
func (s *Server) Restart() error {
	s.Stop()
	return s.Start()
}

// Close stops the server for good.
func (s *Server) Close() {
	s.Stop()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// DropSubscriptions ends every live subscription (Read calls in subscription
// mode) with codes.Unavailable while the server keeps running. Subscriptions
// started afterwards are not affected.
func (s *Server) DropSubscriptions() { s.store.dropSubscriptions() }

// Addr returns "127.0.0.1:PORT" (empty before the first Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ConnectionString returns a connection string for esdb.ParseConnectionString:
//
//	esdb://127.0.0.1:PORT?tls=false&discoveryInterval=100&maxDiscoverAttempts=50
//
// tls=false because the double serves plaintext HTTP/2. The client gives up
// for good (every later call fails with ErrorCodeConnectionClosed) once a
// rediscovery has failed maxDiscoverAttempts times in a row, one attempt per
// discoveryInterval ms; the defaults (10 × 100 ms) survive only ~1 s of
// downtime, these settings ~5 s, which covers Stop/Restart in tests.
func (s *Server) ConnectionString() string {
	return fmt.Sprintf("esdb://%s?tls=false&discoveryInterval=100&maxDiscoverAttempts=50", s.Addr())
}

// EventCount returns the number of records in the $all log, including
// tombstones and the metadata events written by soft deletes.
func (s *Server) EventCount() int { return s.store.count() }
