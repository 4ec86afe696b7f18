package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strings"
	"testing"

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
