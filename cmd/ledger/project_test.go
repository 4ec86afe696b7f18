package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

func registerSomeone(t *testing.T, db *pgtest.Schema) {
	t.Helper()
	s := pgstore.New(db.Pool)
	defer s.Close()
	id, _ := domain.NewResidentID("360429", domain.MustDate("1970-02-03"), 17)
	key := domain.LookupKey(devLookupKey)
	hash := key.Hash(id)
	_, err := domain.NewHandler(s).Execute(context.Background(), domain.PersonIDFromHash(hash),
		domain.CommandMeta{CommandID: "reg-1", Actor: "clerk", Role: "clerk", Now: time.Now()},
		domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "王芳", Township: "温泉镇", RegisteredOn: domain.MustDate("2024-01-01")})
	if err != nil {
		t.Fatal(err)
	}
}

func TestProjectCommands(t *testing.T) {
	db := pgtest.NewSchema(t)
	registerSomeone(t, db)
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	run1 := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, env, &out, &errOut)
		return out.String(), err
	}

	if _, err := run1("project", "--once"); err != nil {
		t.Fatalf("project --once: %v", err)
	}
	out, err := run1("project", "status", "--json")
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	var st []projections.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	if len(st) != len(projections.All()) {
		t.Fatalf("status lists %d projections, want %d", len(st), len(projections.All()))
	}
	for _, s := range st {
		if s.State != "running" || s.EventsApplied != 1 || s.LagEvents != 0 {
			t.Errorf("%s after --once: %+v", s.Name, s)
		}
	}
	out, err = run1("project", "status")
	if err != nil || !strings.Contains(out, "entitlements") || !strings.Contains(out, "LAG EVENTS") {
		t.Errorf("status table: %v\n%s", err, out)
	}
	out, err = run1("project", "rebuild", "changelog")
	if err != nil || !strings.Contains(out, "rebuilt changelog") {
		t.Errorf("rebuild: %v\n%s", err, out)
	}
	var name string
	if err := db.Pool.QueryRow(context.Background(), `SELECT name FROM persons`).Scan(&name); err != nil || name != "王芳" {
		t.Errorf("persons after the run: %q, %v", name, err)
	}
	for _, args := range [][]string{{"project", "rebuild", "nope"}, {"project", "retry", "nope"}, {"project", "retry"}, {"project", "--batch", "0"}} {
		if _, err := run1(args...); exitCode(err) != 2 {
			t.Errorf("%v: err %v, want a usage error", args, err)
		}
	}
	out, err = run1("project", "retry", "spending")
	if err != nil || !strings.Contains(out, "was not parked") {
		t.Errorf("retry of a healthy projection: %v %s", err, out)
	}
}
