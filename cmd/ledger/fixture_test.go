package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// cliLedger is the one fixture of the command-line tests: a fresh ledger
// — a PostgreSQL schema of its own for the read models, and the event log
// on the embedded store ("pg") or the EventStoreDB protocol server
// ("esdb") — that the binary's commands run against as an operator runs
// them, with the person use cases to record what clerks did before.
type cliLedger struct {
	t       *testing.T
	ctx     context.Context
	env     func(string) string
	vars    map[string]string
	store   domain.EventStore
	db      *pgtest.Schema
	persons *app.Persons
	key     domain.LookupKey
}

func newCLILedger(t *testing.T, store string) *cliLedger {
	t.Helper()
	db := pgtest.NewSchema(t)
	vars := map[string]string{"DATABASE_URL": db.URL}
	l := &cliLedger{t: t, ctx: context.Background(), db: db, vars: vars, key: domain.LookupKey(devLookupKey)}
	switch store {
	case "pg":
		s := pgstore.New(db.Pool)
		t.Cleanup(s.Close)
		l.store = s
	case "esdb":
		es := esdbtest.NewLedger(t)
		es.Env(vars)
		l.store = es.Open(t, nil, esdbtest.Keys(db.Pool))
	default:
		t.Fatalf("no event store %q: pg or esdb", store)
	}
	l.env = getenvFrom(vars)
	l.persons = app.NewPersons(l.store)
	return l
}

// run runs one command of the binary and returns what it printed on
// stdout and stderr.
func (l *cliLedger) run(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(l.ctx, args, l.env, &out, &errOut)
	return out.String(), errOut.String(), err
}

// must runs one command, which must succeed, and returns its stdout.
func (l *cliLedger) must(args ...string) string {
	l.t.Helper()
	out, errOut, err := l.run(args...)
	if err != nil {
		l.t.Fatalf("%v: %v\n%s%s", args, err, out, errOut)
	}
	return out
}

// projectInBackground runs `ledger project` until the test ends, as
// `ledger serve` would beside the finance officers' commands.
func (l *cliLedger) projectInBackground() {
	ctx, cancel := context.WithCancel(l.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var out, errOut bytes.Buffer
		_ = run(ctx, []string{"project"}, l.env, &out, &errOut)
	}()
	l.t.Cleanup(func() { cancel(); <-done })
}

// resident is a person of the county as the tests record them: a resident
// ID born on birth with sequence number seq, its lookup hash under the
// development key, and the person ID derived from it.
type resident struct {
	ID   domain.ResidentID
	Hash string
	PID  domain.PersonID
}

func (l *cliLedger) resident(birth string, seq int) resident {
	l.t.Helper()
	id, err := domain.NewResidentID("360429", domain.MustDate(birth), seq)
	if err != nil {
		l.t.Fatal(err)
	}
	hash := l.key.Hash(id)
	return resident{ID: id, Hash: hash, PID: domain.PersonIDFromHash(hash)}
}

// exec runs a clerk's command on a person's stream, now.
func (l *cliLedger) exec(pid domain.PersonID, commandID string, c domain.Command) domain.AppendResult {
	l.t.Helper()
	return l.execAs(pid, domain.CommandMeta{CommandID: commandID, Actor: "clerk", Role: "clerk", Now: time.Now()}, c)
}

// execAs runs a command on a person's stream with the metadata given.
func (l *cliLedger) execAs(pid domain.PersonID, meta domain.CommandMeta, c domain.Command) domain.AppendResult {
	l.t.Helper()
	res, err := l.persons.Execute(l.ctx, pid, meta, c)
	if err != nil {
		l.t.Fatalf("%s %s: %v", c.CommandName(), pid, err)
	}
	return res
}

// enrol registers r in township on minimum living support (低保) from
// 2024-01-01, with a disability certificate of the category and grade
// given valid 2020–2030, then runs the further commands given (a grant,
// a bank account …); command IDs are prefix-0, prefix-1, ….
func (l *cliLedger) enrol(r resident, prefix, name, township string, cat domain.DisabilityCategory, grade domain.DisabilityGrade, more ...domain.Command) {
	l.t.Helper()
	cert, err := domain.NewCertificateNumber(r.ID, cat, grade)
	if err != nil {
		l.t.Fatal(err)
	}
	cmds := append([]domain.Command{
		domain.RegisterPerson{IDNumber: r.ID, IDHash: r.Hash, Name: name, Township: township, Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-01")},
		domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
	}, more...)
	for k, c := range cmds {
		l.exec(r.PID, fmt.Sprintf("%s-%d", prefix, k), c)
	}
}

// livingSubsidyFrom is the grant of the living subsidy from a day.
func livingSubsidyFrom(day string) domain.GrantEntitlement {
	return domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate(day)}
}
