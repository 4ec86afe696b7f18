package main

import (
	"context"
	"fmt"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/postgres"
)

// cmdUser manages API users: `ledger user add NAME --role ROLE` prints the
// new user's bearer token once; only its hash is stored.
func cmdUser(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{"usage: ledger user add NAME --role clerk|approver|finance|auditor|admin"}
	}
	args = args[1:]
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return usageError{"user add: name the user: ledger user add NAME --role ROLE"}
	}
	name := args[0]
	var cfg config
	fs := newFlagSet("user add", e)
	cfg.bind(fs, e, false)
	role := fs.String("role", "", "the user's role: clerk, approver, finance, auditor or admin")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if _, ok := httpapi.ParseRole(*role); !ok {
		return usageError{fmt.Sprintf("role: %q is not one of clerk, approver, finance, auditor, admin", *role)}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	token, err := postgres.Users{Pool: d.pool}.Add(ctx, name, *role)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s\n", token)
	fmt.Fprintf(e.stderr, "created %s (%s); the token above is shown only now: keep it safe\n", name, *role)
	return nil
}
