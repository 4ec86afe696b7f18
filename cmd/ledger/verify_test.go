package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

var digestLine = regexp.MustCompile(`(?m)^digest at (\d+/\d+): ([0-9a-f]{64})$`)

// verifyRun runs the ledger with env and returns stdout, stderr and the error.
// registerPersons registers n persons, each with a grade-2 certificate
// and a living subsidy from January 2025: three events per person stream.
// The IDs are numbered from first.
func (l *cliLedger) registerPersons(first, n int) []domain.PersonID {
	l.t.Helper()
	var ids []domain.PersonID
	for i := first; i < first+n; i++ {
		r := l.resident(domain.MustDate("1960-03-04").AddDays(i*41).String(), 21+i)
		l.enrol(r, fmt.Sprintf("verify-%d", i), fmt.Sprintf("居民%d", i), "白鹿镇", domain.CategoryVisual, 2, livingSubsidyFrom("2025-01-01"))
		ids = append(ids, r.PID)
	}
	return ids
}

// waitForLog waits until the store's global log shows n events: the
// PostgreSQL store holds back events while older transactions anywhere in
// the database are still running (other tests'), so a verification run
// right after an append might not see it yet.
func waitForLog(t *testing.T, s domain.EventStore, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := s.ReadAll(context.Background(), domain.Start, n+1, domain.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log shows %d events, want %d", len(evs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type eventRow struct {
	pos  string
	data string
}

// eventAt returns an event's position and stored data.
func eventAt(t *testing.T, db *pgtest.Schema, stream string, rev int) eventRow {
	t.Helper()
	var r eventRow
	err := db.Pool.QueryRow(context.Background(), `SELECT tx_id::text || '/' || position, data::text FROM events WHERE stream = $1 AND revision = $2`, stream, rev).Scan(&r.pos, &r.data)
	if err != nil {
		t.Fatalf("event %s@%d: %v", stream, rev, err)
	}
	return r
}

// setEventData overwrites a stored event's data, getting past the
// append-only trigger as someone with the table's owner rights could.
func setEventData(t *testing.T, db *pgtest.Schema, stream string, rev int, data string) {
	t.Helper()
	err := pgx.BeginFunc(context.Background(), db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(context.Background(), `ALTER TABLE events DISABLE TRIGGER events_append_only_row`); err != nil {
			return err
		}
		tag, err := tx.Exec(context.Background(), `UPDATE events SET data = $3::text::json WHERE stream = $1 AND revision = $2`, stream, rev, data)
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return fmt.Errorf("%d rows updated", tag.RowsAffected())
		}
		_, err = tx.Exec(context.Background(), `ALTER TABLE events ENABLE TRIGGER events_append_only_row`)
		return err
	})
	if err != nil {
		t.Fatalf("tamper with %s@%d: %v", stream, rev, err)
	}
}

func digestOf(t *testing.T, out string) (pos, hex string) {
	t.Helper()
	m := digestLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest line in:\n%s", out)
	}
	return m[1], m[2]
}

func decodeReport(t *testing.T, out string) verifyReport {
	t.Helper()
	var rep verifyReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("verify --json: %v\n%s", err, out)
	}
	return rep
}

func TestVerifyLedger(t *testing.T) {
	l := newCLILedger(t, "pg")
	s, db, ctx := l.store, l.db, l.ctx
	persons := l.registerPersons(0, 3)
	run1, must := l.run, l.must
	must("project", "--once")
	batch := batchOf(t, must("payroll", "run", "--program", "living_subsidy", "--period", "2025-02", "--user", "fin.wu"))
	must("project", "--once")
	must("payroll", "approve", batch, "--user", "fin.li")
	must("project", "--once")
	var nEvents, nStreams int64
	var lastPos string
	if err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM streams),
		(SELECT tx_id::text || '/' || position FROM events ORDER BY tx_id DESC, position DESC LIMIT 1)`).Scan(&nEvents, &nStreams, &lastPos); err != nil {
		t.Fatal(err)
	}
	waitForLog(t, s, int(nEvents))

	// Untouched: exit 0, every link holds, every read model identical,
	// and a digest at the last event that does not change between runs.
	out, errOut, err := run1("verify")
	if err != nil {
		t.Fatalf("verify on an untouched ledger: %v\n%s\n%s", err, out, errOut)
	}
	for _, want := range []string{fmt.Sprintf("chains: %d events in %d streams; every link holds", nEvents, nStreams), "entitlements at ", "verify: no problems found"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, fmt.Sprintf("verify: %d events checked", nEvents)) {
		t.Errorf("no progress on stderr:\n%s", errOut)
	}
	pos0, digest0 := digestOf(t, out)
	if pos0 != lastPos {
		t.Errorf("digest at %s, want at the last event, %s", pos0, lastPos)
	}
	// The run is recorded for the auditors' desk.
	latest, err := postgres.VerifyRuns{Pool: db.Pool}.Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if latest.Problems != 0 || latest.Chains == nil || latest.Chains.Events != nEvents || latest.Chains.Digest.Hex != digest0 ||
		latest.Chains.Digest.Position.String() != lastPos || len(latest.ReadModels) != len(projections.All()) ||
		latest.OverpaidMonths == nil || *latest.OverpaidMonths != 0 || latest.RanBy == "" || !json.Valid(latest.Report) {
		t.Errorf("the recorded run: %+v", latest)
	}
	rep := decodeReport(t, must("verify", "--json"))
	if rep.Problems != 0 || rep.Chains == nil || rep.Chains.Events != nEvents || len(rep.Chains.Broken) != 0 ||
		rep.Digest == nil || rep.Digest.Hex != digest0 || len(rep.Projections) != len(projections.All()) {
		t.Fatalf("verify --json on an untouched ledger: %+v", rep)
	}
	for _, v := range rep.Projections {
		if v.Skipped != "" || len(v.Tables) == 0 || v.ProblemCount() != 0 {
			t.Errorf("read model %s: %+v", v.Projection, v)
		}
	}

	// The digest at an earlier event, and an auditor checking it.
	mid := eventAt(t, db, persons[1].Stream(), 2).pos
	_, digestMid := digestOf(t, must("verify", "--chains-only", "--digest-at", mid))
	if digestMid == digest0 {
		t.Error("the digest at an earlier event equals the one at the last")
	}
	if out := must("verify", "--chains-only", "--digest-at", mid, "--expect-digest", strings.ToUpper(digestMid)); !strings.Contains(out, "as expected") {
		t.Errorf("--expect-digest with the right digest:\n%s", out)
	}
	out, _, err = run1("verify", "--chains-only", "--expect-digest", digestMid)
	if err == nil || err.Error() != "verify: 1 problems found" || exitCode(err) != 1 || !strings.Contains(out, "DIGEST DIFFERS: expected "+digestMid) {
		t.Errorf("--expect-digest with another digest: %v\n%s", err, out)
	}
	// A run that found problems is recorded too, without what it skipped.
	if latest, err = (postgres.VerifyRuns{Pool: db.Pool}).Latest(ctx); err != nil || latest.Problems != 1 || latest.Chains == nil ||
		len(latest.ReadModels) != 0 || latest.OverpaidMonths != nil {
		t.Errorf("the run with --chains-only and a wrong digest, as recorded: %+v (%v)", latest, err)
	}

	// An event's data edited in the store: verify names the stream and
	// revision; of two edited events in one stream only the first.
	victim := persons[1].Stream()
	cert, grant := eventAt(t, db, victim, 1), eventAt(t, db, victim, 2)
	if !strings.Contains(cert.data, `"grade":2`) || !strings.Contains(grant.data, `"effective_from":"2025-01-01"`) {
		t.Fatalf("unexpected event data: %s / %s", cert.data, grant.data)
	}
	setEventData(t, db, victim, 1, strings.Replace(cert.data, `"grade":2`, `"grade":1`, 1))
	setEventData(t, db, victim, 2, strings.Replace(grant.data, `"2025-01-01"`, `"2024-06-01"`, 1))
	out, _, err = run1("verify", "--json")
	if err == nil || !strings.Contains(err.Error(), "problems found") {
		t.Fatalf("verify after an event was edited: %v", err)
	}
	rep = decodeReport(t, out)
	if len(rep.Chains.Broken) != 1 {
		t.Fatalf("broken links %+v; want exactly one, the first edited event of %s", rep.Chains.Broken, victim)
	}
	if b := rep.Chains.Broken[0]; b.Stream != victim || b.Revision != 1 || b.Fault != domain.FaultContentHash || b.Position.String() != cert.pos {
		t.Errorf("broken link %+v; want %s@1 at %s, %s", b, victim, cert.pos, domain.FaultContentHash)
	}
	if rep.Digest.Hex == digest0 {
		t.Error("the digest did not change when an event was edited")
	}
	out, _, err = run1("verify", "--chains-only")
	if err == nil || !strings.Contains(out, "BROKEN "+victim+"@1 ") || strings.Contains(out, victim+"@2") {
		t.Errorf("verify text output after an event was edited: %v\n%s", err, out)
	}
	setEventData(t, db, victim, 1, cert.data)
	setEventData(t, db, victim, 2, grant.data)
	out, errOut, err = run1("verify")
	if err != nil {
		t.Fatalf("verify after the edits were undone: %v\n%s\n%s", err, out, errOut)
	}
	if _, d := digestOf(t, out); d != digest0 {
		t.Errorf("digest after the edits were undone %s, want the original %s", d, digest0)
	}

	// A read-model row edited by hand: verify names the table and the row,
	// both as it is and as the log says it should be.
	if _, err := db.Pool.Exec(ctx, `UPDATE entitlements SET paid_total = paid_total + 1000 WHERE person_id = $1`, string(persons[0])); err != nil {
		t.Fatal(err)
	}
	out, _, err = run1("verify")
	if err == nil || err.Error() != "verify: 2 problems found" {
		t.Errorf("verify after a read-model edit: %v, want 2 problems (the row as it is and as rebuilt)", err)
	}
	var live, rebuilt string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, string(persons[0])) && strings.Contains(line, " entitlements {") {
			switch {
			case strings.Contains(line, projections.OnlyInLive):
				live = line
			case strings.Contains(line, projections.OnlyInRebuild):
				rebuilt = line
			}
		}
	}
	if !strings.Contains(out, "DIFFERS table entitlements: 1 rows only in live, 1 only in rebuild") ||
		!strings.Contains(live, `"paid_total": 1220.00`) || !strings.Contains(rebuilt, `"paid_total": 220.00`) {
		t.Errorf("verify output after a read-model edit does not show the row both ways:\n%s", out)
	}
	if _, d := digestOf(t, out); d != digest0 || !strings.Contains(out, "every link holds") {
		t.Errorf("a read-model edit touched the chains or the digest:\n%s", out)
	}
	rep = decodeReport(t, func() string {
		o, _, _ := run1("verify", "--projections-only", "--projection", "entitlements", "--json")
		return o
	}())
	if rep.Chains != nil || rep.Digest != nil || len(rep.Projections) != 1 || rep.Problems != 2 {
		t.Fatalf("verify --projections-only --projection entitlements: %+v", rep)
	}
	for _, d := range rep.Projections[0].Tables {
		if want := int64(0); d.Table == "entitlements" {
			want = 1
			if len(d.Rows) != 2 || !strings.Contains(string(d.Rows[0].Row), string(persons[0])) {
				t.Errorf("entitlements rows listed: %+v", d.Rows)
			}
		} else if d.OnlyInLive != want || d.OnlyInRebuild != want {
			t.Errorf("table %s: %+v", d.Table, d)
		}
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE entitlements SET paid_total = paid_total - 1000 WHERE person_id = $1`, string(persons[0])); err != nil {
		t.Fatal(err)
	}

	// Events appended later leave the digest at an earlier position alone;
	// the read models, now behind, are compared at their checkpoints.
	l.registerPersons(10, 1)
	waitForLog(t, s, int(nEvents)+3)
	if _, d := digestOf(t, must("verify", "--chains-only", "--digest-at", mid)); d != digestMid {
		t.Errorf("digest at %s moved from %s to %s when later events were appended", mid, digestMid, d)
	}
	out = must("verify")
	if _, d := digestOf(t, out); d == digest0 {
		t.Error("the digest at the last event did not move with new events")
	}

	// Bad input: a usage error naming the flag, nothing done.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"verify", "--chains-only", "--projections-only"}, "--chains-only and --projections-only"},
		{[]string{"verify", "--projections-only", "--digest-at", mid}, "--digest-at"},
		{[]string{"verify", "--digest-at", "last"}, "digest-at"},
		{[]string{"verify", "--digest-at", "1/1"}, "digest-at: no event is at position 1/1"},
		{[]string{"verify", "--expect-digest", "abc"}, "expect-digest"},
		{[]string{"verify", "--projection", "nope"}, `"nope"`},
		{[]string{"verify", "--chains-only", "--projection", "spending"}, "--projection"},
		{[]string{"verify", "--limit", "-1"}, "limit"},
	} {
		_, _, err := run1(c.args...)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d); want a usage error naming %s", c.args, err, exitCode(err), c.want)
		}
	}
}

// The same checks on EventStoreDB (the in-process test server): an
// untouched ledger verifies, and the digest printed is the checker's.
func TestVerifyOnEventStoreDB(t *testing.T) {
	l := newCLILedger(t, "esdb")
	es, run1 := l.store, l.run
	l.registerPersons(0, 3)
	waitForLog(t, es, 9)
	if out, errOut, err := run1("project", "--once"); err != nil {
		t.Fatalf("project --once: %v\n%s\n%s", err, out, errOut)
	}
	out, errOut, err := run1("verify")
	if err != nil {
		t.Fatalf("verify on EventStoreDB: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "chains: 9 events in 3 streams; every link holds") || !strings.Contains(out, "verify: no problems found") {
		t.Errorf("verify on EventStoreDB:\n%s", out)
	}
	c := domain.NewChainChecker()
	evs, err := es.ReadAll(context.Background(), domain.Start, 100, domain.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		c.Add(ev)
	}
	if pos, d := digestOf(t, out); pos != c.Digest().Position.String() || d != c.Digest().Hex {
		t.Errorf("verify printed digest at %s: %s; the log's is %v", pos, d, c.Digest())
	}
}

// A ledger where January was paid twice — two batches' payments appended
// directly, as the payroll before never-twice could issue them — fails
// verify, which names the person's month, its lines and their batches;
// the HTTP payroll report shows the same (adapters/httpapi).
func TestVerifyFindsAMonthPaidTwice(t *testing.T) {
	l := newCLILedger(t, "pg")
	s, ctx, run1 := l.store, l.ctx, l.run
	persons := l.registerPersons(0, 2)
	jan, _ := domain.ParsePeriod("period", "2025-01")
	pay := func(batch string, p domain.PersonID) {
		line := domain.PaymentLine{Reference: batch + "-" + string(p), BatchID: batch, PersonID: p, Program: domain.ProgramLivingSubsidy,
			Period: jan, Kind: domain.PaymentRegular, Amount: domain.MustMoney("110.00"), Township: "白鹿镇", PaidOn: domain.MustDate("2025-01-20")}
		stream := domain.PaymentsStream(domain.ProgramLivingSubsidy, domain.PaymentShard(p))
		recs, err := s.ReadStream(ctx, stream, domain.Backwards, domain.StreamEnd, 1)
		prev, expected := "", domain.NoStream()
		if err == nil {
			md, _ := domain.DecodeMetadata(recs[0].Metadata)
			prev, expected = md.Hash, domain.Exact(recs[0].Revision)
		}
		data, err := domain.Seal(domain.CommandMeta{CommandID: "pay-" + line.Reference, Actor: "fin.li", Role: "finance", Now: time.Now()}, prev,
			[]domain.Event{domain.PaymentIssued{PaymentLine: line}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, stream, expected, data...); err != nil {
			t.Fatal(err)
		}
	}
	pay("living_subsidy.2025-01.aaaaaa", persons[0])
	pay("living_subsidy.2025-01.aaaaaa", persons[1])
	pay("living_subsidy.2025-02.bbbbbb", persons[0]) // January again, as February's arrears
	if _, errOut, err := run1("project", "--once"); err != nil {
		t.Fatalf("project: %v\n%s", err, errOut)
	}
	waitForLog(t, s, 3*2+3)
	out, _, err := run1("verify")
	if err == nil || !strings.Contains(err.Error(), "1 problems found") {
		t.Fatalf("verify: %v, want one problem\n%s", err, out)
	}
	for _, want := range []string{
		fmt.Sprintf("PAID TWICE: living_subsidy 2025-01 of person %s paid 220.00, owed 110.00, claimed back 0.00", persons[0]),
		"living_subsidy.2025-01.aaaaaa-" + string(persons[0]) + " 110.00 issued (batch living_subsidy.2025-01.aaaaaa)",
		"living_subsidy.2025-02.bbbbbb-" + string(persons[0]) + " 110.00 issued (batch living_subsidy.2025-02.bbbbbb)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, string(persons[1])) {
		t.Errorf("verify names the person paid once:\n%s", out)
	}
	rep := decodeReport(t, func() string { out, _, _ := run1("verify", "--json"); return out }())
	if rep.Problems != 1 || rep.NeverTwice == nil || len(rep.NeverTwice.Overpaid) != 1 || rep.NeverTwice.Months != 2 {
		t.Fatalf("verify --json: %+v", rep.NeverTwice)
	}
}
