package postgres

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"

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
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	token := "ldg_" + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	_, err := u.Pool.Exec(ctx, `INSERT INTO api_users (name, role, token_hash) VALUES ($1, $2, $3)`, name, role, sum[:])
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
