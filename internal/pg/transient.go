package pg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/lushan-dpf/ledger/domain"
)

// Transient reports whether err is a failure of the database or of the way
// to it, which the same request may not meet a moment later: the server
// is unreachable, restarting or out of connections, the connection broke,
// or the server gave up on the transaction for a reason that concerns
// other transactions rather than this one's data. It is the one place
// that decides this for PostgreSQL; the event store, the read-model
// queries of the HTTP API and the projection runner all ask it.
//
// Transient:
//   - errors already classified (matching domain.ErrUnavailable);
//   - SQLSTATE class 08 (connection exception), class 53 (insufficient
//     resources, e.g. 53300 too_many_connections), 57P01 admin_shutdown,
//     57P02 crash_shutdown, 57P03 cannot_connect_now, 40001
//     serialization_failure, 40P01 deadlock_detected, 55P03
//     lock_not_available;
//   - a failure to connect (*pgconn.ConnectError) that carries no server
//     error, or one of the codes above: refused, reset, timed out (the
//     connect_timeout of the driver), no route, TLS handshake cut short;
//   - network errors (net.Error), a connection the driver has closed
//     (pgconn.ErrConnClosed), a connection that ended mid-message
//     (io.EOF, io.ErrUnexpectedEOF), a closed pool (the process is
//     shutting down: another instance may answer).
//
// Not transient: every other SQLSTATE (constraint violations, bad data,
// undefined tables, a wrong password …), pgx.ErrNoRows, and a context
// cancelled by the caller. A bare context.DeadlineExceeded is not
// transient here either — without the caller's context it cannot be told
// from the caller's own deadline; Classify, which has it, can.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, domain.ErrUnavailable) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return TransientCode(pgErr.Code)
	}
	if errors.Is(err, context.Canceled) {
		return false // the caller gave up
	}
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return false // most likely the caller's own deadline
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		errors.Is(err, pgconn.ErrConnClosed) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF)
}

// TransientCode reports whether a SQLSTATE names a transient condition
// (see Transient).
func TransientCode(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"): // insufficient resources
		return true
	}
	switch code {
	case "57P01", // admin_shutdown
		"57P02", // crash_shutdown
		"57P03", // cannot_connect_now
		"40001", // serialization_failure
		"40P01", // deadlock_detected
		"55P03": // lock_not_available
		return true
	}
	return false
}

// Classify returns err so that it also matches domain.ErrUnavailable when
// it is transient, keeping the cause: errors.As still finds the
// *pgconn.PgError or network error underneath. ctx is the context of the
// call that failed: once it has ended the caller gave up (or ran out of
// its own time), which is not the database's failure, and err is returned
// as it is. While ctx is live, a context.DeadlineExceeded can only come
// from a deadline inside the driver, and is transient. nil stays nil.
func Classify(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, domain.ErrUnavailable) {
		return err
	}
	if ctx != nil && ctx.Err() != nil {
		return err
	}
	if Transient(err) || (errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled)) {
		return Unavailable(err)
	}
	return err
}

// Unavailable wraps err so that it matches domain.ErrUnavailable as well
// as everything err matches.
func Unavailable(err error) error {
	return fmt.Errorf("%w: %w", domain.ErrUnavailable, err)
}

// PoolClosed reports whether err comes from using a closed pool: the
// process is shutting down, and retrying in it is pointless.
func PoolClosed(err error) bool { return errors.Is(err, puddle.ErrClosedPool) }
