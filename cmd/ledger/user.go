package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/lushan-dpf/ledger/adapters/httpapi"
	"github.com/lushan-dpf/ledger/adapters/postgres"
)

// cmdUser manages API users: `ledger user add NAME --role ROLE` prints the
// new user's bearer token once; only its hash is stored.
func cmdUser(ctx context.Context, e *env, args []string) error {
	const list = `usage: ledger user add NAME --role clerk|approver|finance|auditor|admin   add a user; print their token once
       ledger user list                  every user, role, created, disabled (never tokens)
       ledger user disable|enable NAME   stop or restore a user's token (the API notices within 30 s)
       ledger user rotate NAME           a new token for the user, printed once; the old one stops (also: rotate-token)
       ledger user password NAME         set the user's web desk password, read from standard input (prompted for, unechoed, at a terminal)`
	if done, err := subcommands(e, args, list); done {
		return err
	}
	switch args[0] {
	case "add":
	case "list":
		return cmdUserList(ctx, e, args[1:])
	case "disable", "enable", "rotate", "rotate-token":
		return cmdUserChange(ctx, e, strings.TrimSuffix(args[0], "-token"), args[1:])
	case "password":
		return cmdUserPassword(ctx, e, args[1:])
	default:
		return usageError{list}
	}
	args = args[1:]
	var cfg config
	fs := newFlagSet("user add", e)
	cfg.bind(fs, e, false)
	role := fs.String("role", "", "the user's role: clerk, approver, finance, auditor or admin")
	withPassword := fs.Bool("password-stdin", false, "also set the user's web desk password, read from standard input (never a flag)")
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
	var password string
	if *withPassword {
		if password, err = readPassword(e); err != nil {
			return err
		}
		if err := postgres.CheckPassword(password); err != nil {
			return usageError{err.Error()}
		}
	}
	users := postgres.Users{Pool: d.pool}
	token, err := users.Add(ctx, name, *role)
	if err != nil {
		return err
	}
	if *withPassword {
		if err := users.SetPassword(ctx, name, password); err != nil {
			return err
		}
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

// cmdUserPassword sets a user's web desk password, read from standard
// input: never a flag, which would stay in the shell's history and show in
// the process list.
func cmdUserPassword(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("user password", e)
	cfg.bind(fs, e, false)
	name, err := parseWithArg(fs, args, "user password: name the user: ledger user password NAME (the password comes from standard input)")
	if err != nil {
		return err
	}
	password, err := readPassword(e)
	if err != nil {
		return err
	}
	if err := postgres.CheckPassword(password); err != nil {
		return usageError{err.Error()}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := (postgres.Users{Pool: d.pool}).SetPassword(ctx, name, password); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "set the password of %s; their web desk sessions ended\n", name)
	return nil
}

// readPassword reads a password: at a terminal prompted for and not
// echoed, else the first line of standard input.
func readPassword(e *env) (string, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		return string(b), err
	}
	if e.stdin == nil {
		return "", usageError{"no password on standard input: pipe it in, e.g. ledger user password NAME < password-file"}
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", usageError{"no password on standard input: pipe it in, e.g. ledger user password NAME < password-file"}
	}
	return line, nil
}
