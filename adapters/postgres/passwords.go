package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/argon2"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// Passwords and sessions of the web desk.

// argon2id parameters: OWASP's baseline (19 MiB, 2 passes, 1 lane), so a
// sign-in costs tens of milliseconds and a guess as much.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// Sign-in throttling: after MaxFailedSignIns failures in a row a user is
// locked out for LockOut; a success resets the count.
const (
	MaxFailedSignIns = 5
	LockOut          = 15 * time.Minute
)

// ErrBadCredentials: the user is unknown or disabled, has no password, or
// the password is wrong — one error for all, so that a sign-in page tells
// no one which names exist.
var ErrBadCredentials = errors.New("wrong user name or password")

// LockedError: too many failed sign-ins; the user may try again at Until.
type LockedError struct{ Until time.Time }

func (e *LockedError) Error() string {
	return fmt.Sprintf("too many failed sign-ins: try again after %s", e.Until.Format("15:04"))
}

// CheckPassword says what a password must be: 12 to 200 characters.
func CheckPassword(p string) error {
	switch n := utf8.RuneCountInString(p); {
	case !utf8.ValidString(p):
		return domain.Invalid("password", "is not valid UTF-8")
	case n < 12:
		return domain.Invalid("password", "is shorter than 12 characters")
	case n > 200:
		return domain.Invalid("password", "is longer than 200 characters")
	}
	return nil
}

// hashPassword returns the argon2id PHC string of p with a new salt.
func hashPassword(p string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(p), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// passwordMatches checks p against a PHC string hashPassword wrote.
func passwordMatches(phc, p string) bool {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var m, t uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &threads); err != nil {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[4])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return false
	}
	got := argon2.IDKey([]byte(p), salt, t, m, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked against when the user has no password, so that a
// sign-in takes as long whether or not the name exists.
var dummyHash, _ = hashPassword("not a password anyone has")

// SetPassword sets a user's password (and clears a lock-out). An unknown
// user is domain.ErrNotFound.
func (u Users) SetPassword(ctx context.Context, name, password string) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := hashPassword(password)
	if err != nil {
		return err
	}
	tag, err := u.Pool.Exec(ctx, `UPDATE api_users SET password_hash = $2, failed_sign_ins = 0, locked_until = NULL WHERE name = $1`, name, h)
	if err != nil {
		return fmt.Errorf("set password: %w", pg.Classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %q: %w", name, domain.ErrNotFound)
	}
	// A new password ends the sessions the old one opened.
	if _, err := u.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE user_name = $1`, name); err != nil {
		return fmt.Errorf("end sessions: %w", pg.Classify(ctx, err))
	}
	return nil
}

// Authenticate checks a user name and password and returns the user's
// role: ErrBadCredentials for any mismatch, a *LockedError while locked
// out. Each failure counts towards the lock-out; a success resets it.
func (u Users) Authenticate(ctx context.Context, name, password string, now time.Time) (role string, err error) {
	var hash *string
	var locked *time.Time
	err = u.Pool.QueryRow(ctx, `SELECT role, password_hash, locked_until FROM api_users WHERE name = $1 AND disabled_at IS NULL`, name).
		Scan(&role, &hash, &locked)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && hash == nil) {
		passwordMatches(dummyHash, password)
		return "", ErrBadCredentials
	}
	if err != nil {
		return "", fmt.Errorf("sign in: %w", pg.Classify(ctx, err))
	}
	if locked != nil && now.Before(*locked) {
		return "", &LockedError{Until: *locked}
	}
	if !passwordMatches(*hash, password) {
		if _, err := u.Pool.Exec(ctx, `UPDATE api_users SET failed_sign_ins = failed_sign_ins + 1,
			locked_until = CASE WHEN failed_sign_ins + 1 >= $2 THEN $3::timestamptz END WHERE name = $1`,
			name, MaxFailedSignIns, now.Add(LockOut)); err != nil {
			return "", fmt.Errorf("sign in: %w", pg.Classify(ctx, err))
		}
		return "", ErrBadCredentials
	}
	if _, err := u.Pool.Exec(ctx, `UPDATE api_users SET failed_sign_ins = 0, locked_until = NULL WHERE name = $1`, name); err != nil {
		return "", fmt.Errorf("sign in: %w", pg.Classify(ctx, err))
	}
	return role, nil
}

// Session is a signed-in user's session.
type Session struct {
	User, Role string
	CSRF       string // the token every form of the session carries
}

// ErrNoSession: the cookie names no live session.
var ErrNoSession = errors.New("no such session, or it expired")

// NewSession opens a session for a user and returns the cookie value that
// names it (shown only now: the table keeps its SHA-256).
func (u Users) NewSession(ctx context.Context, user string) (id string, s Session, err error) {
	id, sum, err := newSecret("s_")
	if err != nil {
		return "", Session{}, err
	}
	csrf, _, err := newSecret("c_")
	if err != nil {
		return "", Session{}, err
	}
	err = u.Pool.QueryRow(ctx, `INSERT INTO web_sessions (id_hash, user_name, csrf_token) VALUES ($1, $2, $3)
		RETURNING (SELECT role FROM api_users WHERE name = $2)`, sum[:], user, csrf).Scan(&s.Role)
	if err != nil {
		return "", Session{}, fmt.Errorf("open session: %w", pg.Classify(ctx, err))
	}
	s.User, s.CSRF = user, csrf
	return id, s, nil
}

// Session returns the live session id names and marks it used now; a
// session idle longer than idle has ended (ErrNoSession), as has one whose
// user was disabled.
func (u Users) Session(ctx context.Context, id string, idle time.Duration, now time.Time) (Session, error) {
	sum := sha256.Sum256([]byte(id))
	var s Session
	err := u.Pool.QueryRow(ctx, `UPDATE web_sessions ws SET last_seen_at = $3
		FROM api_users au
		WHERE ws.id_hash = $1 AND au.name = ws.user_name AND au.disabled_at IS NULL AND ws.last_seen_at > $3::timestamptz - $2::interval
		RETURNING ws.user_name, au.role, ws.csrf_token`, sum[:], idle, now).Scan(&s.User, &s.Role, &s.CSRF)
	if errors.Is(err, pgx.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, fmt.Errorf("session: %w", pg.Classify(ctx, err))
	}
	return s, nil
}

// EndSession signs a session out.
func (u Users) EndSession(ctx context.Context, id string) error {
	sum := sha256.Sum256([]byte(id))
	if _, err := u.Pool.Exec(ctx, `DELETE FROM web_sessions WHERE id_hash = $1`, sum[:]); err != nil {
		return fmt.Errorf("end session: %w", pg.Classify(ctx, err))
	}
	return nil
}

// newSecret returns a random secret with a prefix, and its SHA-256.
func newSecret(prefix string) (string, [32]byte, error) {
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", [32]byte{}, err
	}
	s := prefix + base64.RawURLEncoding.EncodeToString(raw[:])
	return s, sha256.Sum256([]byte(s)), nil
}
