package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/postgres"
)

// cmdUser manages API users: `ledger user add NAME --role ROLE` prints the
// new user's bearer token once; only its hash is stored.
func cmdUser(ctx context.Context, e *env, args []string) error {
	const list = `usage: ledger user add NAME --role clerk|approver|finance|auditor|admin   add a user; print their token once
       ledger user list                  every user, role, created, disabled (never tokens)
       ledger user disable|enable NAME   stop or restore a user's token (the API notices within 30 s)
       ledger user rotate NAME           a new token for the user, printed once; the old one stops (also: rotate-token)`
	if done, err := subcommands(e, args, list); done {
		return err
	}
	switch args[0] {
	case "add":
	case "list":
		return cmdUserList(ctx, e, args[1:])
	case "disable", "enable", "rotate", "rotate-token":
		return cmdUserChange(ctx, e, strings.TrimSuffix(args[0], "-token"), args[1:])
	default:
		return usageError{list}
	}
	args = args[1:]
	var cfg config
	fs := newFlagSet("user add", e)
	cfg.bind(fs, e, false)
	role := fs.String("role", "", "the user's role: clerk, approver, finance, auditor or admin")
	name, err := parseWithArg(fs, args, "user add: name the user: ledger user add NAME --role ROLE")
	if err != nil {
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

func cmdUserList(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("user list", e)
	cfg.bind(fs, e, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	users, err := postgres.Users{Pool: d.pool}.List(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tROLE\tCREATED\tDISABLED")
	for _, u := range users {
		disabled := "-"
		if !u.DisabledAt.IsZero() {
			disabled = u.DisabledAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.CreatedAt.UTC().Format(time.RFC3339), disabled)
	}
	return w.Flush()
}

// cmdUserChange disables, enables or rotates the token of a user.
func cmdUserChange(ctx context.Context, e *env, verb string, args []string) error {
	var cfg config
	fs := newFlagSet("user "+verb, e)
	cfg.bind(fs, e, false)
	name, err := parseWithArg(fs, args, fmt.Sprintf("user %s: name the user: ledger user %s NAME", verb, verb))
	if err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	users := postgres.Users{Pool: d.pool}
	switch verb {
	case "rotate":
		token, err := users.Rotate(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, token)
		fmt.Fprintf(e.stderr, "new token for %s; the old one no longer works (a running API may accept it for up to 30 s); the token above is shown only now\n", name)
	default:
		if err := users.SetDisabled(ctx, name, verb == "disable"); err != nil {
			return err
		}
		fmt.Fprintf(e.stderr, "%sd %s (a running API notices within 30 s)\n", verb, name)
	}
	return nil
}
