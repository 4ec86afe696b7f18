package main

import (
	"context"
	"fmt"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// cmdPerson acts on a person's record as a whole:
//
//	ledger person erase PERSON_ID --user ADMIN --reason R [--key K]
func cmdPerson(ctx context.Context, e *env, args []string) error {
	const list = `usage: ledger person erase PERSON_ID --user ADMIN --reason R [--key K]   erase the person's personal data (ID number, name, bank account) for good, once nothing is open and the retention period has ended
       ledger person reapply-erasures   after PostgreSQL was restored from a backup: delete again the keys of every erasure the log records`
	if done, err := subcommands(e, args, list); done {
		return err
	}
	switch args[0] {
	case "erase":
		return cmdPersonErase(ctx, e, args[1:])
	case "reapply-erasures":
		return cmdPersonReapply(ctx, e, args[1:])
	}
	return usageError{fmt.Sprintf("person: unknown subcommand %q; want erase or reapply-erasures", args[0])}
}

// cmdPersonErase erases a person's personal data (app.Persons.Erase). Only
// an enabled user of role admin may: --user names them, and the command
// checks the role the user was given (ledger user add).
func cmdPersonErase(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("person erase", e)
	cfg.bind(fs, e, false)
	user := fs.String("user", "", "the admin user erasing (required; checked against the users ledger user add created)")
	reason := fs.String("reason", "", "why, e.g. the request's reference (required)")
	key := commandKey(fs)
	arg, err := parseWithArg(fs, args, "person erase: name the person, e.g. ledger person erase 0123456789abcdef0123 --user admin.wu --reason \"request 2055-014\"")
	if err != nil {
		return err
	}
	pid, err := domain.ParsePersonID("person_id", arg)
	if err != nil {
		return usageError{err.Error()}
	}
	switch {
	case *user == "":
		return usageError{"person erase: --user is required: name the admin user"}
	case *reason == "":
		return usageError{"person erase: --reason is required: say why, e.g. the request's reference"}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := requireRole(ctx, d, *user, "admin"); err != nil {
		return err
	}
	meta := cliMeta(*user, "admin", *key)
	meta.Reason = *reason
	res, err := app.NewPersons(d.store).Erase(ctx, pid, meta, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "erased the personal data of %s at %s: their ID number, name and bank account can no longer be read; the payments and decisions stay\n", pid, res.Position)
	return nil
}

func cmdPersonReapply(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("person reapply-erasures", e)
	cfg.bind(fs, e, false)
	if err := parse(fs, args); err != nil {
		return err
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	n, err := app.NewPersons(d.store).ReapplyErasures(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d erasures in the log; every one of their keys is deleted\n", n)
	return nil
}

// requireRole checks that name is an enabled user of role.
func requireRole(ctx context.Context, d *deps, name, role string) error {
	users, err := postgres.Users{Pool: d.pool}.List(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name != name {
			continue
		}
		switch {
		case !u.DisabledAt.IsZero():
			return fmt.Errorf("user %s is disabled", name)
		case u.Role != role:
			return fmt.Errorf("user %s has role %s; only %s may do this", name, u.Role, role)
		}
		return nil
	}
	return fmt.Errorf("no user %s: ledger user add %s --role %s creates one", name, name, role)
}
