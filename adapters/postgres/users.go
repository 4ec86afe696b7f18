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
)

// ErrUnknownToken: no enabled user has this token.
var ErrUnknownToken = errors.New("unknown or disabled token")

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

// Lookup returns the name and role of the enabled user holding token.
func (u Users) Lookup(ctx context.Context, token string) (name, role string, err error) {
	sum := sha256.Sum256([]byte(token))
	err = u.Pool.QueryRow(ctx, `SELECT name, role FROM api_users WHERE token_hash = $1 AND disabled_at IS NULL`, sum[:]).Scan(&name, &role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", ErrUnknownToken
	}
	if err != nil {
		return "", "", fmt.Errorf("look up token: %w", err)
	}
	return name, role, nil
}

// Idempotency stores the responses of commands by user and key.
type Idempotency struct{ Pool *pgxpool.Pool }

// Stored is a remembered response.
type Stored struct {
	RequestHash []byte
	Status      int // 0 while the first request is in flight
	Response    []byte
}

// Claim records that user's request with key and hash is being executed.
// If the key was used before, it returns what was stored and false.
func (s Idempotency) Claim(ctx context.Context, user, key string, hash []byte) (Stored, bool, error) {
	for range 5 { // a concurrent Release may delete the row between the two statements
		tag, err := s.Pool.Exec(ctx, `INSERT INTO idempotency_keys (user_name, key, request_hash) VALUES ($1, $2, $3)
			ON CONFLICT (user_name, key) DO NOTHING`, user, key, hash)
		if err != nil {
			return Stored{}, false, fmt.Errorf("idempotency key: %w", err)
		}
		if tag.RowsAffected() == 1 {
			return Stored{}, true, nil
		}
		var st Stored
		var status *int
		err = s.Pool.QueryRow(ctx, `SELECT request_hash, status, response FROM idempotency_keys WHERE user_name = $1 AND key = $2`,
			user, key).Scan(&st.RequestHash, &status, &st.Response)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return Stored{}, false, fmt.Errorf("idempotency key: %w", err)
		}
		if status != nil {
			st.Status = *status
		}
		return st, false, nil
	}
	return Stored{}, false, fmt.Errorf("idempotency key %q: claimed and released repeatedly; retry", key)
}

// Complete stores the response of a claimed request.
func (s Idempotency) Complete(ctx context.Context, user, key string, status int, response []byte) error {
	_, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET status = $3, response = $4 WHERE user_name = $1 AND key = $2`,
		user, key, status, response)
	if err != nil {
		return fmt.Errorf("idempotency key: %w", err)
	}
	return nil
}

// Release forgets a claimed key whose request failed without effect, so
// the caller may retry it with another body.
func (s Idempotency) Release(ctx context.Context, user, key string) error {
	_, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE user_name = $1 AND key = $2 AND status IS NULL`, user, key)
	return err
}
