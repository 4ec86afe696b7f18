// Command ledger is the benefits ledger's one binary: it serves the HTTP
// API and runs the batch jobs. Run `ledger help` for the subcommands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := runWithInput(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "ledger:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks a mistake in the command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// exitCode is 0 for help asked for (-h, --help), 2 for a usage error and
// 1 for anything else.
func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

func commands() []command {
	return []command{
		{"serve", "migrate the database and serve the HTTP API", cmdServe},
		{"migrate", "apply database migrations and exit", cmdMigrate},
		{"project", "run the projections (status, rebuild, retry: see -h)", cmdProject},
		{"payroll", "run, approve, reject or export a monthly payroll batch", cmdPayroll},
		{"reconcile", "apply a bank return file to a batch (reconcile BATCH --file F --user U)", cmdReconcile},
		{"history", "list a person's events; replay them as known at a time, as of a date", cmdHistory},
		{"person", "erase a person's personal data once retention has ended (admin)", cmdPerson},
		{"verify", "check every hash chain and the read models against a rebuild; print a digest", cmdVerify},
		{"report", "write the monthly change notice or the annual summary", cmdReport},
		{"budget", "allocate a program's budget for a year, or show its budgets", cmdBudget},
		{"eligibility", "review what expired certificates and age limits end; list certificates expiring soon", cmdEligibility},
		{"roster", "cross-check other departments' rosters (低保, 特困, 脱贫户/监测户, work-injury nursing, deaths) and decide the changes they propose", cmdRoster},
		{"seed", "generate demo data (lushan-2024) or province-scale load (scale)", cmdSeed},
		{"user", "add an API user and print its token (user add NAME --role ROLE)", cmdUser},
		{"health", "ask a running serve whether it is ready (the container's healthcheck)", cmdHealth},
		{"version", "print the version", cmdVersion},
	}
}

// env is what every subcommand gets from the outside world.
type env struct {
	getenv func(string) string
	stdin  io.Reader // nil: nothing to read
	stdout io.Writer
	stderr io.Writer
}

// run is the whole program with nothing on standard input; main only
// supplies the process's context, arguments, environment and streams
// (runWithInput), so tests can call it directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runWithInput(ctx, args, getenv, nil, stdout, stderr)
}

// runWithInput is run reading standard input from stdin (a password).
func runWithInput(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || isHelp(args[0]) {
		usage(stdout)
		if len(args) == 0 {
			return usageError{"no command given"}
		}
		return nil
	}
	if args[0] == "--version" || args[0] == "-version" {
		fmt.Fprintln(stdout, "ledger", version)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	usage(stderr)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

// subcommands answers a command made of subcommands when it is given none
// (a usage error listing them) or asked for help (the list, on stdout).
// It reports whether it answered.
func subcommands(e *env, args []string, list string) (bool, error) {
	switch {
	case len(args) == 0:
		return true, usageError{list}
	case isHelp(args[0]):
		fmt.Fprintln(e.stdout, list)
		return true, nil
	}
	return false, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ledger COMMAND [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run `ledger COMMAND -h` for a command's flags. Settings come from flags,")
	fmt.Fprintln(w, "else from the environment: DATABASE_URL, LEDGER_EVENTSTORE, LEDGER_EVENTSTORE_NAMESPACE,")
	fmt.Fprintln(w, "LEDGER_ADDR, LEDGER_LOOKUP_KEY, LEDGER_ACCOUNT_KEY, LEDGER_MASTER_KEY, LEDGER_LOG_FORMAT, LEDGER_DB_MAX_CONNS.")
}

func cmdVersion(_ context.Context, e *env, args []string) error {
	fs := newFlagSet("version", e)
	if err := parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "ledger", version)
	return nil
}

func newFlagSet(name string, e *env) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(flagOutput{Writer: e.stderr, help: e.stdout})
	return fs
}

// flagOutput is a flag set's output: mistakes in flags go to stderr, the
// help asked for with -h to the command's stdout.
type flagOutput struct {
	io.Writer
	help io.Writer
}

// parseFlags parses args into fs, leaving what follows the flags in
// fs.Args(): -h prints the flags' help on stdout (flag.ErrHelp), a
// mistake is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelp(a) && a != "help" {
			if o, ok := fs.Output().(flagOutput); ok {
				fs.SetOutput(o.help)
			}
			break
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	return nil
}

// parseWithArg parses a command that takes one argument (a batch, a
// claim, a user, a projection) with flags before or after it; missing is
// the usage error when the argument is not given. -h anywhere prints the
// command's flags (flag.ErrHelp).
func parseWithArg(fs *flag.FlagSet, args []string, missing string) (string, error) {
	if err := parseFlags(fs, args); err != nil {
		return "", err
	}
	if fs.NArg() == 0 || fs.Arg(0) == "" {
		return "", usageError{missing}
	}
	arg, rest := fs.Arg(0), fs.Args()[1:]
	if err := parse(fs, rest); err != nil {
		return "", err
	}
	return arg, nil
}

// parse is parseFlags for a command that takes no arguments after its
// flags.
func parse(fs *flag.FlagSet, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}
