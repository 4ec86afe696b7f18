package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// registerSomeone registers one person, with nothing more.
func (l *cliLedger) registerSomeone() {
	l.t.Helper()
	r := l.resident("1970-02-03", 17)
	l.exec(r.PID, "reg-1", domain.RegisterPerson{IDNumber: r.ID, IDHash: r.Hash, Name: "王芳", Township: "温泉镇", RegisteredOn: domain.MustDate("2024-01-01")})
}

func TestProjectCommands(t *testing.T) {
	l := newCLILedger(t, "pg")
	l.registerSomeone()
	db, env := l.db, l.env
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

// registration decides and seals the registration of person seq.
func registration(t *testing.T, keys domain.PersonalKeys, seq int) (domain.PersonID, []domain.EventData) {
	t.Helper()
	id, err := domain.NewResidentID("360429", domain.MustDate("1971-03-04"), seq)
	if err != nil {
		t.Fatal(err)
	}
	hash := domain.LookupKey(devLookupKey).Hash(id)
	now := time.Now()
	evs, err := domain.Decide(domain.Beneficiary{}, domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "李强", Township: "星子镇", RegisteredOn: domain.MustDate("2024-01-01")}, now)
	if err != nil {
		t.Fatal(err)
	}
	pid := domain.PersonIDFromHash(hash)
	if evs, err = domain.SealPersonal(context.Background(), keys, pid, evs); err != nil {
		t.Fatal(err)
	}
	data, err := domain.Seal(domain.CommandMeta{CommandID: fmt.Sprintf("reg-held-%d", seq), Actor: "clerk", Role: "clerk", Now: now}, "", evs)
	if err != nil {
		t.Fatal(err)
	}
	return pid, data
}

// holdRegistration appends a registration in a transaction it leaves open
// (an append in flight), then commits another registration after it. It
// returns the held transaction and its session's PID.
func holdRegistration(t *testing.T, db *pgtest.Schema) (pgx.Tx, int) {
	t.Helper()
	ctx := context.Background()
	s := pgstore.New(db.Pool)
	t.Cleanup(s.Close)
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback(ctx) })
	var pid int
	if err := tx.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	held, data := registration(t, s.PersonalKeys(), 21)
	if _, err := s.AppendInTx(ctx, tx, held.Stream(), domain.NoStream(), data...); err != nil {
		t.Fatal(err)
	}
	later, data := registration(t, s.PersonalKeys(), 22)
	if _, err := s.Append(ctx, later.Stream(), domain.NoStream(), data...); err != nil {
		t.Fatal(err)
	}
	return tx, pid
}

// (d) `ledger project status` counts an event committed behind an append
// in flight as lag, and says what holds it back.
func TestProjectStatusReportsEventsHeldBehindAnAppendInFlight(t *testing.T) {
	l := newCLILedger(t, "pg")
	l.registerSomeone()
	db, env := l.db, l.env
	run1 := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, env, &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	run1("project", "--once")
	_, pid := holdRegistration(t, db)

	var st []projections.Status
	out := run1("project", "status", "--json")
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status JSON: %v\n%s", err, out)
	}
	for _, s := range st {
		if s.LagEvents != 1 || s.HeldBackEvents != 1 || s.HeldBy == nil || s.HeldBy.PID != pid || !s.Checkpoint.Less(s.Head) {
			t.Errorf("%s: lag %d, held back %d by %+v, checkpoint %s, head %s; want 1 event held back by pid %d",
				s.Name, s.LagEvents, s.HeldBackEvents, s.HeldBy, s.Checkpoint, s.Head, pid)
		}
	}
	out = run1("project", "status")
	if !strings.Contains(out, "HELD BACK: 1 event held back by an append in flight since") || !strings.Contains(out, fmt.Sprintf("(pid %d)", pid)) {
		t.Errorf("the status table does not say what holds the event back:\n%s", out)
	}
}
