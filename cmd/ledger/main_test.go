package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
)

func getenvFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"version"}, getenvFrom(nil), &out, &errOut); err != nil {
		t.Fatalf("version: %v", err)
	}
	if !strings.HasPrefix(out.String(), "ledger ") {
		t.Errorf("version printed %q", out.String())
	}
	err := run(context.Background(), []string{"frobnicate"}, getenvFrom(nil), &out, &errOut)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), `"frobnicate"`) {
		t.Errorf("unknown command: err %v, exit %d; want a usage error naming it, exit 2", err, exitCode(err))
	}
	err = run(context.Background(), []string{"version", "extra"}, getenvFrom(nil), &out, &errOut)
	if exitCode(err) != 2 {
		t.Errorf("stray argument: err %v, exit %d; want exit 2", err, exitCode(err))
	}
}

func TestConfigErrorsNameTheSetting(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "DATABASE_URL"},
		{map[string]string{"DATABASE_URL": "postgres://u@h/db", "LEDGER_EVENTSTORE": "mysql://x:secret@h"}, "eventstore"},
		{map[string]string{"DATABASE_URL": "postgres://u@h/db", "LEDGER_LOG_FORMAT": "xml"}, "log-format"},
		{map[string]string{"DATABASE_URL": "postgres://u@h/db", "LEDGER_LOOKUP_KEY": "short"}, "LEDGER_LOOKUP_KEY"},
		{map[string]string{"DATABASE_URL": "postgres://u@h/db", "LEDGER_DB_MAX_CONNS": "0"}, "LEDGER_DB_MAX_CONNS"},
		{map[string]string{"DATABASE_URL": "postgres://u@h/db", "LEDGER_DB_MAX_CONNS": "twenty"}, "db-max-conns"},
		{map[string]string{"DATABASE_URL": "postgres://u@h/db", "LEDGER_DB_MAX_CONNS": "100000"}, "db-max-conns"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"migrate"}, getenvFrom(c.env), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) || exitCode(err) != 2 {
			t.Errorf("env %v: err %v (exit %d), want a usage error naming %s", c.env, err, exitCode(err), c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error shows a password: %v", err)
		}
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	db := pgtest.NewEmptySchema(t)
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	for i := range 2 {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"migrate"}, env, &out, &errOut); err != nil {
			t.Fatalf("migrate run %d: %v\n%s", i, err, errOut.String())
		}
		all, _ := postgres.Migrations()
		want := fmt.Sprintf("migrations_applied=%d", len(all))
		if i == 1 {
			want = "migrations_applied=0"
		}
		if !strings.Contains(errOut.String(), want) {
			t.Errorf("run %d log lacks %s:\n%s", i, want, errOut.String())
		}
	}
	var n int
	if err := db.Pool.QueryRow(context.Background(), "SELECT count(*) FROM events").Scan(&n); err != nil {
		t.Fatalf("events table missing after migrate: %v", err)
	}
}

func TestServeHealthAndConfigLog(t *testing.T) {
	db := pgtest.NewEmptySchema(t)
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	env := getenvFrom(map[string]string{
		"DATABASE_URL":      strings.Replace(db.URL, "postgres@", "postgres:hunter2@", 1),
		"LEDGER_ADDR":       addr,
		"LEDGER_LOOKUP_KEY": "a-very-secret-key-of-at-least-32-bytes",
	})
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"serve"}, env, &out, &errOut) }()

	var body map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			break
		}
		select {
		case runErr := <-done:
			t.Fatalf("serve returned before serving: %v\n%s", runErr, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if body["status"] != "ok" {
		t.Errorf("/healthz = %v", body)
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz: %v %v", resp, err)
	}
	// The API answers under /v1 (a problem document); every other path
	// is the web desk's (a page in Chinese).
	resp, err = http.Get("http://" + addr + "/v1/nope")
	if err != nil || resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Errorf("/v1/nope: %v %v", resp, err)
	}
	resp, err = http.Get("http://" + addr + "/nope")
	if err != nil || resp.StatusCode != http.StatusNotFound || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Errorf("/nope: %v %v", resp, err)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noRedirect.Get("http://" + addr + "/")
	if err != nil || resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=/" {
		t.Errorf("/: %v %v; want the desk's sign-in", resp, err)
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve returned %v", err)
	}
	log := errOut.String()
	for _, secret := range []string{"hunter2", "a-very-secret-key-of-at-least-32-bytes"} {
		if strings.Contains(log, secret) {
			t.Errorf("start-up log shows a secret %q:\n%s", secret, log)
		}
	}
	if !strings.Contains(log, "configuration") || !strings.Contains(log, "xxxxx") {
		t.Errorf("start-up log lacks the masked configuration:\n%s", log)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestHelpEverywhere: --version prints the version; every command and
// group of subcommands answers -h/--help with its usage and exit status 0,
// not with "unknown subcommand" or a demand for its arguments.
func TestHelpEverywhere(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"--version"}, getenvFrom(nil), &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "ledger ") {
		t.Errorf("--version: %v, printed %q", err, out.String())
	}
	for _, args := range [][]string{
		{"--help"}, {"payroll", "--help"}, {"payroll", "-h"}, {"report", "--help"}, {"user", "--help"}, {"user", "add", "--help"},
		{"reconcile", "--help"}, {"payroll", "run", "--help"}, {"payroll", "approve", "-h"}, {"project", "rebuild", "-h"},
		{"history", "--help"}, {"verify", "-h"}, {"seed", "--help"}, {"serve", "-h"}, {"payroll", "export", "--help"},
		{"payroll", "recover", "-h"}, {"project", "retry", "--help"}, {"payroll", "report", "-h"},
	} {
		out.Reset()
		errOut.Reset()
		err := run(context.Background(), args, getenvFrom(nil), &out, &errOut)
		if code := exitCode(err); err != nil && code != 0 {
			t.Errorf("%v: exit %d (%v), want 0", args, code, err)
		}
		if help := out.String(); !strings.Contains(help, "usage") && !strings.Contains(help, "Usage") {
			t.Errorf("%v printed no usage on stdout:\n%s\nstderr:\n%s", args, help, errOut.String())
		}
	}
	if err := run(context.Background(), []string{"payroll"}, getenvFrom(nil), &out, &errOut); exitCode(err) != 2 {
		t.Errorf("payroll without a subcommand: exit %d (%v), want 2", exitCode(err), err)
	}
}

// TestHelpHidesPasswords: -h shows the URLs from the environment as flag
// defaults with their passwords replaced.
func TestHelpHidesPasswords(t *testing.T) {
	var out, errOut bytes.Buffer
	env := getenvFrom(map[string]string{
		"DATABASE_URL":      "postgres://ledger:s3cret-pg@db.example:5432/ledger",
		"LEDGER_EVENTSTORE": "esdb://admin:s3cret-esdb@es.example:2113?tls=false",
	})
	err := run(context.Background(), []string{"migrate", "-h"}, env, &out, &errOut)
	help := out.String() + errOut.String()
	if exitCode(err) != 0 || strings.Contains(help, "s3cret") || !strings.Contains(help, "ledger:xxxxx@db.example") {
		t.Errorf("migrate -h (exit %d) shows the passwords or not the redacted URL:\n%s", exitCode(err), help)
	}
}

// TestHelpForEveryCommand: every command of the binary, and every
// subcommand its usage names ("ledger CMD SUB …"), answers -h and --help
// with usage on stdout and exit status 0 — found from the command table
// and the usage texts, so a command added later is covered too.
func TestHelpForEveryCommand(t *testing.T) {
	sub := regexp.MustCompile(`ledger ([a-z-]+) ([a-z][a-z|-]*)`)
	help := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, getenvFrom(nil), &out, &errOut)
		if code := exitCode(err); err != nil && code != 0 {
			t.Errorf("%v: exit %d (%v), want 0", args, code, err)
		}
		if h := out.String(); !strings.Contains(strings.ToLower(h), "usage") {
			t.Errorf("%v printed no usage on stdout:\n%s\nstderr:\n%s", args, h, errOut.String())
		}
		return out.String()
	}
	subs := 0
	for _, c := range commands() {
		for _, flag := range []string{"-h", "--help"} {
			text := help(c.name, flag)
			seen := map[string]bool{}
			for _, m := range sub.FindAllStringSubmatch(text, -1) {
				for _, name := range strings.Split(m[2], "|") {
					if m[1] != c.name || seen[name] || name == "" {
						continue
					}
					seen[name] = true
					help(c.name, name, flag)
					subs++
				}
			}
		}
	}
	t.Logf("%d subcommand helps", subs)
	if subs < 2*29 {
		t.Errorf("found %d subcommand helps (two each) in the usage texts; the payroll, project, report, user, budget, eligibility and roster groups have 29 subcommands", subs)
	}
}
