// Package desk gives the web desk its accounts (web.Accounts) on the
// users table of adapters/postgres: passwords and sessions. It stands
// apart from adapters/postgres, which the projections' tests build on,
// so that those do not import the desk.
package desk

import (
	"context"
	"errors"
	"time"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/web"
)

// Accounts is the web desk's accounts on the users table.
type Accounts struct{ Users postgres.Users }

var _ web.Accounts = Accounts{}

// SignIn implements web.Accounts.
func (d Accounts) SignIn(ctx context.Context, name, password string, now time.Time) (string, web.Session, error) {
	if _, err := d.Users.Authenticate(ctx, name, password, now); err != nil {
		return "", web.Session{}, deskError(err)
	}
	id, s, err := d.Users.NewSession(ctx, name)
	return id, web.Session(s), err
}

// Session implements web.Accounts.
func (d Accounts) Session(ctx context.Context, id string, idle time.Duration, now time.Time) (web.Session, error) {
	s, err := d.Users.Session(ctx, id, idle, now)
	return web.Session(s), deskError(err)
}

// SignOut implements web.Accounts.
func (d Accounts) SignOut(ctx context.Context, id string) error {
	return d.Users.EndSession(ctx, id)
}

// ChangePassword implements web.Accounts.
func (d Accounts) ChangePassword(ctx context.Context, name, current, next string, now time.Time) error {
	if _, err := d.Users.Authenticate(ctx, name, current, now); err != nil {
		return deskError(err)
	}
	return d.Users.SetPassword(ctx, name, next)
}

// deskError translates this package's errors into the desk's.
func deskError(err error) error {
	var locked *postgres.LockedError
	switch {
	case errors.Is(err, postgres.ErrBadCredentials):
		return web.ErrBadCredentials
	case errors.Is(err, postgres.ErrNoSession):
		return web.ErrNoSession
	case errors.As(err, &locked):
		return &web.LockedError{Until: locked.Until}
	}
	return err
}
