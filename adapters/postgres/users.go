package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// ErrUnknownToken: no enabled user has this token. It matches
// domain.ErrNotFound.
var ErrUnknownToken = fmt.Errorf("unknown or disabled token: %w", domain.ErrNotFound)

// Users stores API users and their hashed bearer tokens.
type Users struct{ Pool *pgxpool.Pool }

// Add creates a user with a role and returns a new token, which is stored
// only as its SHA-256: it cannot be shown again.
func (u Users) Add(ctx context.Context, name, role string) (string, error) {
	if name == "" || len(name) > 100 {
		return "", domain.Invalid("name", "must be 1 to 100 characters")
	}
	token, sum, err := newToken()
	if err != nil {
		return "", err
	}
	_, err = u.Pool.Exec(ctx, `INSERT INTO api_users (name, role, token_hash) VALUES ($1, $2, $3)`, name, role, sum[:])
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "23505":
		return "", &domain.ConflictError{Reason: fmt.Sprintf("user %q exists already", name)}
	case errors.As(err, &pgErr) && pgErr.Code == "23514":
		return "", domain.Invalid("role", "%q is not one of clerk, approver, finance, auditor, admin", role)
	case err != nil:
		return "", fmt.Errorf("add user: %w", err)
	}
	return token, nil
}

// UserInfo is a user as `ledger user list` shows it (never the token).
type UserInfo struct {
	Name       string
	Role       string
	CreatedAt  time.Time
	DisabledAt time.Time // zero while enabled
}

// List returns every user, by name.
func (u Users) List(ctx context.Context) ([]UserInfo, error) {
	rows, err := u.Pool.Query(ctx, `SELECT name, role, created_at, coalesce(disabled_at, 'epoch'::timestamptz) FROM api_users ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", pg.Classify(ctx, err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserInfo, error) {
		var i UserInfo
		err := r.Scan(&i.Name, &i.Role, &i.CreatedAt, &i.DisabledAt)
		if i.DisabledAt.Unix() == 0 {
			i.DisabledAt = time.Time{}
		}
		return i, err
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", pg.Classify(ctx, err))
	}
	return out, nil
}

// SetDisabled disables a user (their token stops working) or enables
// them again. An unknown user is domain.ErrNotFound.
func (u Users) SetDisabled(ctx context.Context, name string, disabled bool) error {
	tag, err := u.Pool.Exec(ctx, `UPDATE api_users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) END WHERE name = $1`, name, disabled)
	if err != nil {
		return fmt.Errorf("update user: %w", pg.Classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("user %q: %w", name, domain.ErrNotFound)
	}
	return nil
}

// Rotate gives a user a new token, returned once, and ends the old one.
func (u Users) Rotate(ctx context.Context, name string) (string, error) {
	token, sum, err := newToken()
	if err != nil {
		return "", err
	}
	tag, err := u.Pool.Exec(ctx, `UPDATE api_users SET token_hash = $2 WHERE name = $1`, name, sum[:])
	if err != nil {
		return "", fmt.Errorf("rotate token: %w", pg.Classify(ctx, err))
	}
	if tag.RowsAffected() == 0 {
		return "", fmt.Errorf("user %q: %w", name, domain.ErrNotFound)
	}
	return token, nil
}

// newToken returns a new random token and its SHA-256, which is all the
// database keeps of it.
func newToken() (string, [32]byte, error) { return newSecret("ldg_") }

// Lookup returns the name and role of the enabled user holding token, or
// ErrUnknownToken; other errors are classified (pg.Classify). It is the
// HTTP API's httpapi.UserStore.
func (u Users) Lookup(ctx context.Context, token string) (name, role string, err error) {
	sum := sha256.Sum256([]byte(token))
	err = u.Pool.QueryRow(ctx, `SELECT name, role FROM api_users WHERE token_hash = $1 AND disabled_at IS NULL`, sum[:]).Scan(&name, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", ErrUnknownToken
	}
	if err != nil {
		return "", "", fmt.Errorf("look up token: %w", pg.Classify(ctx, err))
	}
	return name, role, nil
}
