package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/seed"
)

// The scale scenario end to end: seeded through the bulk path into a fresh
// schema, then projected; the read models must hold exactly the plan, and
// every stream's hash chain must verify.
func TestSeedScale(t *testing.T) {
	db := pgtest.NewSchema(t)
	ctx := context.Background()
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	run1 := func(args ...string) (string, string, error) {
		var out, errOut bytes.Buffer
		err := run(ctx, args, env, &out, &errOut)
		return out.String(), errOut.String(), err
	}
	// Batches of 60 persons: several per program and month.
	flags := []string{"--persons", "200", "--years", "1", "--seed", "7", "--batch", "45", "--payroll-batch", "60"}
	out, errOut, err := run1(append([]string{"seed", "--scenario", "scale"}, flags...)...)
	if err != nil {
		t.Fatalf("seed: %v\n%s", err, errOut)
	}
	plan, err := seed.PlanScale(seed.ScaleOptions{Persons: 200, Years: 1, FromYear: 2024, Seed: 7, Batch: 45, PayrollBatch: 60, Key: domain.LookupKey(devLookupKey)})
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("seeded 200 persons: %d events in ", plan.Events); !strings.Contains(out, want) || !strings.Contains(out, "events/s") {
		t.Errorf("summary %q lacks %q and a rate", out, want)
	}
	if !strings.Contains(errOut, "seed scale: 100.0%") {
		t.Errorf("no progress line reached 100%%:\n%s", errOut)
	}

	// What the plan says, worked out here from its persons and grants.
	grants, children := 0, 0
	perProgram := map[domain.ProgramCode]int{}
	for _, p := range plan.Persons {
		grants += len(p.Grants)
		for _, g := range p.Grants {
			perProgram[g.Program]++
			if g.Program == domain.ProgramChildRehabLiving {
				children++
			}
		}
	}
	if avg := float64(grants) / 200; avg < 1.6 || avg > 2.4 {
		t.Errorf("%.2f monthly programs per person, want about 2", avg)
	}
	batches := 0
	for _, n := range perProgram {
		batches += (n + 59) / 60
	}
	if batches <= len(perProgram) {
		t.Fatalf("%d batches a month for %d programs: the test wants several batches per program and month", batches, len(perProgram))
	}
	wantTypes := map[string]int64{
		domain.TypePersonRegistered:   200,
		domain.TypeCertificateIssued:  200,
		domain.TypeEntitlementGranted: int64(grants),
		domain.TypeOneOffGranted:      int64(children),
		domain.TypeBatchOpened:        int64(batches * 12),
		domain.TypeBatchDrafted:       int64(batches * 12),
		domain.TypeBatchApproved:      int64(batches * 12),
		domain.TypeBatchIssued:        int64(batches * 12),
		domain.TypeReturnImported:     int64(batches * 12),
		// Chunks: one per payment shard a batch has persons in (batches
		// of 60 never fill a chunk).
		domain.TypeLinesReserved:   plan.EventsByType[domain.TypeLinesReserved],
		domain.TypePaymentsIssued:  plan.EventsByType[domain.TypePaymentsIssued],
		domain.TypePaymentsSettled: plan.EventsByType[domain.TypePaymentsSettled],
	}
	if n := plan.EventsByType[domain.TypePaymentsIssued]; n < int64(batches*12) || n > int64(batches*12*domain.PaymentShards) {
		t.Errorf("the plan issues payments in %d chunks for %d batches", n, batches*12)
	}
	gotTypes := map[string]int64{}
	rows, err := db.Pool.Query(ctx, `SELECT type, count(*) FROM events GROUP BY type`)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for rows.Next() {
		var typ string
		var n int64
		if err := rows.Scan(&typ, &n); err != nil {
			t.Fatal(err)
		}
		gotTypes[typ] = n
		total += n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	changed := gotTypes[domain.TypeHouseholdStatusChanged]
	if changed == 0 || changed > 60 {
		t.Errorf("%d household status changes, want some (about one person in ten)", changed)
	}
	wantTypes[domain.TypeHouseholdStatusChanged] = changed
	for typ, n := range wantTypes {
		if gotTypes[typ] != n {
			t.Errorf("%s: %d events, want %d", typ, gotTypes[typ], n)
		}
	}
	if total != plan.Events || len(gotTypes) != len(wantTypes) {
		t.Errorf("%d events of %d types, the plan says %d events: %v", total, len(gotTypes), plan.Events, gotTypes)
	}

	// Every stream's hash chain is intact.
	store := pgstore.New(db.Pool)
	defer store.Close()
	var streams []string
	rows, err = db.Pool.Query(ctx, `SELECT stream FROM streams ORDER BY stream`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		streams = append(streams, s)
	}
	shards := map[string]bool{}
	for _, p := range plan.Persons {
		for _, g := range p.Grants {
			shards[domain.PaymentsStream(g.Program, domain.PaymentShard(p.ID))] = true
		}
	}
	if want := 200 + len(perProgram) + len(shards); len(streams) != want {
		t.Fatalf("%d streams, want %d: a person's each, a payroll stream per program and its payment shards", len(streams), want)
	}
	checked := 0
	for _, s := range streams {
		evs, err := store.ReadStream(ctx, s, domain.Forwards, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		prev := ""
		for _, e := range evs {
			md, err := domain.VerifyHash(e, prev)
			if err != nil {
				t.Fatalf("hash chain of %s: %v", s, err)
			}
			prev = md.Hash
			checked++
		}
	}
	if int64(checked) != plan.Events {
		t.Errorf("verified %d events, want %d", checked, plan.Events)
	}

	// The read models hold the plan.
	if _, errOut, err := run1("project", "--once"); err != nil {
		t.Fatalf("project: %v\n%s", err, errOut)
	}
	var persons int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM persons`).Scan(&persons); err != nil || persons != 200 {
		t.Errorf("persons read model holds %d persons (%v), want 200", persons, err)
	}
	type key struct {
		program string
		month   string
	}
	want := map[key]struct {
		n      int
		amount domain.Money
	}{}
	paidWant := map[string]domain.Money{} // person|program|period
	for _, per := range plan.Periods {
		for _, p := range plan.Persons {
			for _, g := range p.Grants {
				k := key{string(g.Program), per.String()}
				w := want[k]
				w.n++
				w.amount = w.amount.Add(plan.Owed(g, per))
				want[k] = w
				paidWant[string(p.ID)+"|"+string(g.Program)+"|"+per.String()] = plan.Owed(g, per)
			}
		}
	}
	for _, q := range []struct{ name, sql string }{
		{"payments register", `SELECT program, to_char(period, 'YYYY-MM'), count(*), sum(amount)::text FROM payments WHERE status = 'settled' GROUP BY 1, 2`},
		{"spending", `SELECT program, to_char(month, 'YYYY-MM'), sum(payments), sum(amount_paid)::text FROM spending GROUP BY 1, 2`},
	} {
		got := map[key]struct {
			n      int
			amount domain.Money
		}{}
		rows, err := db.Pool.Query(ctx, q.sql)
		if err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
		for rows.Next() {
			var k key
			var n int
			var amount string
			if err := rows.Scan(&k.program, &k.month, &n, &amount); err != nil {
				t.Fatal(err)
			}
			got[k] = struct {
				n      int
				amount domain.Money
			}{n, domain.MustMoney(amount)}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Errorf("%s has %d program-months, the plan %d", q.name, len(got), len(want))
		}
		for k, w := range want {
			if g := got[k]; g.n != w.n || !g.amount.Equal(w.amount) {
				t.Errorf("%s %s %s: %d payments, %s; the plan pays %d, %s", q.name, k.program, k.month, g.n, g.amount, w.n, w.amount)
			}
		}
	}
	var notSettled int
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE status <> 'settled'`).Scan(&notSettled); err != nil || notSettled != 0 {
		t.Errorf("%d payments not settled (%v)", notSettled, err)
	}
	rows, err = db.Pool.Query(ctx, `SELECT person_id, program, period, paid::text FROM entitlement_paid`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var person, program, period, paid string
		if err := rows.Scan(&person, &program, &period, &paid); err != nil {
			t.Fatal(err)
		}
		if w, ok := paidWant[person+"|"+program+"|"+period]; !ok || !w.Equal(domain.MustMoney(paid)) {
			t.Errorf("%s %s %s paid %s, the plan %s", person, program, period, paid, w)
		}
		n++
	}
	if n != len(paidWant) {
		t.Errorf("entitlement_paid has %d person-months, the plan %d", n, len(paidWant))
	}

	// The same flags again append nothing: a run resumes.
	if out, errOut, err := run1(append([]string{"seed", "--scenario", "scale"}, flags...)...); err != nil {
		t.Fatalf("seed again: %v\n%s", err, errOut)
	} else if !strings.Contains(out, "seeded 200 persons") {
		t.Errorf("second run printed %q", out)
	}
	var after int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&after); err != nil || after != total {
		t.Errorf("the second run left %d events (%v), want still %d", after, err, total)
	}
	// Other flags on a seeded ledger are refused, naming the conflict.
	_, _, err = run1("seed", "--scenario", "scale", "--persons", "150", "--seed", "7", "--payroll-batch", "60")
	if !errors.Is(err, domain.ErrConcurrency) || !strings.Contains(err.Error(), "other data in these streams") {
		t.Errorf("another run on a seeded ledger: %v", err)
	}
}

// Bad flags are refused before anything is written, naming the flag.
func TestSeedScaleRejectsBadFlags(t *testing.T) {
	db := pgtest.NewSchema(t)
	env := getenvFrom(map[string]string{"DATABASE_URL": db.URL})
	for _, c := range []struct {
		args  []string
		field string
	}{
		{[]string{"--persons", "0"}, "persons"},
		{[]string{"--persons", "-5"}, "persons"},
		{[]string{"--years", "6"}, "years"},
		{[]string{"--from-year", "1999"}, "from_year"},
		{[]string{"--batch", "0"}, "batch"},
		{[]string{"--payroll-batch", "200000"}, "payroll_batch"},
		{[]string{"--persons", "lots"}, "persons"},
		{[]string{"extra"}, "extra"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"seed", "--scenario", "scale"}, c.args...), env, &out, &errOut)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%v: err %v (exit %d), want a usage error naming %s", c.args, err, exitCode(err), c.field)
		}
	}
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Errorf("refused runs wrote %d events (%v)", n, err)
	}
}

// On a terminal the bar is redrawn in place and its line ended once; a
// log gets whole lines, at most every few seconds, and always the last.
func TestScaleProgress(t *testing.T) {
	var tty bytes.Buffer
	p := newScaleProgress(&tty, true)
	p.update(10, 100)
	p.last = p.last.Add(-time.Second) // let the next update draw
	p.update(100, 100)
	p.finish()
	s := tty.String()
	if strings.Count(s, "\r[") != 2 || !strings.Contains(s, "100.0%  100/100 events") || !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("terminal progress = %q", s)
	}
	var log bytes.Buffer
	p = newScaleProgress(&log, false)
	for done := int64(1); done <= 50; done++ {
		p.update(done, 50)
	}
	p.finish()
	if s := log.String(); strings.Count(s, "\n") != 1 || !strings.Contains(s, "seed scale: 100.0%, 50 of 50 events") || strings.Contains(s, "\r") {
		t.Errorf("logged progress = %q", s)
	}
}
