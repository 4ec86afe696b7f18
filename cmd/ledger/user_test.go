package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
)

func TestUserAddPrintsATokenOnceAndStoresItsHash(t *testing.T) {
	db := pgtest.NewSchema(t)
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"user", "add", "wang.fang", "--role", "approver"}, env, &out, &errOut); err != nil {
		t.Fatalf("user add: %v\n%s", err, errOut.String())
	}
	token := strings.TrimSpace(out.String())
	if !strings.HasPrefix(token, "ldg_") || len(token) < 40 {
		t.Fatalf("token %q", token)
	}
	var role string
	var hash []byte
	if err := db.Pool.QueryRow(context.Background(), `SELECT role, token_hash FROM api_users WHERE name = 'wang.fang'`).Scan(&role, &hash); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(token))
	if role != "approver" || !bytes.Equal(hash, sum[:]) {
		t.Errorf("stored role %q, hash matches token: %v", role, bytes.Equal(hash, sum[:]))
	}
	var n int
	_ = db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_users WHERE token_hash = $1::bytea`, []byte(token)).Scan(&n)
	if n != 0 {
		t.Error("the token itself is stored")
	}
	for _, args := range [][]string{
		{"user", "add", "x", "--role", "boss"},
		{"user", "add", "--role", "clerk"},
		{"user", "remove", "x"},
	} {
		if err := run(context.Background(), args, env, &out, &errOut); exitCode(err) != 2 {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if err := run(context.Background(), []string{"user", "add", "wang.fang", "--role", "clerk"}, env, &out, &errOut); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("adding an existing user: %v", err)
	}
}

// TestUserListDisableEnableRotate: staff accounts are managed without
// SQL: list shows every user without their token, disable stops a token,
// enable restores it, rotate issues a new one and ends the old.
func TestUserListDisableEnableRotate(t *testing.T) {
	db := pgtest.NewSchema(t)
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	ctx := context.Background()
	users := postgres.Users{Pool: db.Pool}
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, env, &out, &errOut)
		return out.String(), err
	}
	works := func(token string) bool {
		_, _, err := users.Lookup(ctx, token)
		return err == nil
	}
	token, err := cli("user", "add", "li.na", "--role", "finance")
	if err != nil {
		t.Fatal(err)
	}
	token = strings.TrimSpace(token)
	if _, err := cli("user", "add", "--role", "auditor", "zhao.lei"); err != nil { // flags before the name work too
		t.Fatal(err)
	}
	list, err := cli("user", "list")
	if err != nil || !strings.Contains(list, "li.na") || !strings.Contains(list, "finance") || !strings.Contains(list, "zhao.lei") || strings.Contains(list, "ldg_") {
		t.Fatalf("user list (%v):\n%s", err, list)
	}
	if _, err := cli("user", "disable", "li.na"); err != nil || works(token) {
		t.Fatalf("after disable (%v) the token works: %v", err, works(token))
	}
	if list, _ := cli("user", "list"); !strings.Contains(list, "li.na") || strings.Count(list, "\n") != 3 || !regexp.MustCompile(`li\.na\s+finance\s+\S+\s+\d{4}-`).MatchString(list) {
		t.Errorf("user list does not show li.na disabled:\n%s", list)
	}
	if _, err := cli("user", "enable", "li.na"); err != nil || !works(token) {
		t.Fatalf("after enable (%v) the token does not work", err)
	}
	fresh, err := cli("user", "rotate", "li.na")
	fresh = strings.TrimSpace(fresh)
	if err != nil || fresh == token || !strings.HasPrefix(fresh, "ldg_") || works(token) || !works(fresh) {
		t.Fatalf("rotate (%v): new %q; old works %v, new works %v", err, fresh, works(token), works(fresh))
	}
	for _, args := range [][]string{{"user", "disable", "nobody"}, {"user", "rotate", "nobody"}} {
		if _, err := cli(args...); err == nil || !strings.Contains(err.Error(), `"nobody"`) {
			t.Errorf("%v: %v, want an error naming the user", args, err)
		}
	}
	if _, err := cli("user", "disable"); exitCode(err) != 2 {
		t.Errorf("user disable without a name: %v, want a usage error", err)
	}
}

// A web desk password comes from standard input, never a flag: set with
// the user (--password-stdin) or later (ledger user password); it is
// stored only as an argon2id hash, and a short one is refused.
func TestUserPasswordFromStandardInput(t *testing.T) {
	ctx := context.Background()
	db := pgtest.NewSchema(t)
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	in := func(args []string, stdin string) (string, error) {
		var out, errOut bytes.Buffer
		err := runWithInput(ctx, args, env, strings.NewReader(stdin), &out, &errOut)
		return out.String() + errOut.String(), err
	}
	if out, err := in([]string{"user", "add", "li.na", "--role", "clerk", "--password-stdin"}, "first password 1\n"); err != nil {
		t.Fatalf("user add --password-stdin: %v\n%s", err, out)
	}
	users := postgres.Users{Pool: db.Pool}
	if role, err := users.Authenticate(ctx, "li.na", "first password 1", time.Now()); err != nil || role != "clerk" {
		t.Fatalf("sign in with the password given: %q, %v", role, err)
	}
	var stored string
	if err := db.Pool.QueryRow(ctx, `SELECT password_hash FROM api_users WHERE name = 'li.na'`).Scan(&stored); err != nil ||
		!strings.HasPrefix(stored, "$argon2id$") || strings.Contains(stored, "first password") {
		t.Errorf("stored password %q (%v)", stored, err)
	}
	if out, err := in([]string{"user", "password", "li.na"}, "second password 2\r\n"); err != nil {
		t.Fatalf("user password: %v\n%s", err, out)
	}
	if _, err := users.Authenticate(ctx, "li.na", "first password 1", time.Now()); err == nil {
		t.Error("the old password still works")
	}
	if _, err := users.Authenticate(ctx, "li.na", "second password 2", time.Now()); err != nil {
		t.Errorf("the new password: %v", err)
	}
	if _, err := in([]string{"user", "password", "li.na"}, "short\n"); !isUsage(err) || !strings.Contains(err.Error(), "shorter than 12") {
		t.Errorf("a short password: %v", err)
	}
	if _, err := in([]string{"user", "password", "li.na"}, ""); !isUsage(err) || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("no password: %v", err)
	}
	if _, err := in([]string{"user", "password", "nobody"}, "a long enough one\n"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("an unknown user: %v", err)
	}
}
