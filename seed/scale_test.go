package seed

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

var scaleTestKey = domain.LookupKey("scale-test-lookup-key-of-at-least-32-bytes")

func scaleOpts(persons, years int) ScaleOptions {
	return ScaleOptions{Persons: persons, Years: years, FromYear: 2024, Seed: 3, Batch: 40, PayrollBatch: 25, Key: scaleTestKey}
}

func TestScaleOptionsNameTheBadField(t *testing.T) {
	for _, c := range []struct {
		change func(*ScaleOptions)
		field  string
	}{
		{func(o *ScaleOptions) { o.Persons = 0 }, "persons"},
		{func(o *ScaleOptions) { o.Persons = 10_000_001 }, "persons"},
		{func(o *ScaleOptions) { o.Years = 0 }, "years"},
		{func(o *ScaleOptions) { o.Years = 6 }, "years"},
		{func(o *ScaleOptions) { o.FromYear = 2014 }, "from_year"},
		{func(o *ScaleOptions) { o.Batch = -1 }, "batch"},
		{func(o *ScaleOptions) { o.PayrollBatch = 0 }, "payroll_batch"},
		{func(o *ScaleOptions) { o.Key = domain.LookupKey("short") }, "lookup_key"},
	} {
		o := scaleOpts(10, 1)
		c.change(&o)
		_, err := PlanScale(o)
		var fe *domain.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field {
			t.Errorf("want a field error on %s, got %v", c.field, err)
		}
	}
}

// Every person of a large plan is decided without a refusal — each holds
// the certificate, household status and age their programs require — has
// an ID number and person ID of their own, and the plan is the same for
// the same seed.
func TestScalePersonsAreEligibleAndDistinct(t *testing.T) {
	o := scaleOpts(5000, 1)
	plan, err := PlanScale(o)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := PlanScale(o)
	o2 := o
	o2.Seed++
	other, _ := PlanScale(o2)
	ids := map[domain.PersonID]bool{}
	numbers := map[string]bool{}
	grants, children := 0, 0
	perProgram := map[domain.ProgramCode]int{}
	keys := prtest.NewKeys()
	reg := domain.NewLedgerRegistry().WithKeys(keys)
	for i, p := range plan.Persons {
		a, err := plan.sealPerson(context.Background(), keys, i)
		if err != nil {
			t.Fatalf("person %d: %v", i, err)
		}
		if a.Stream != p.ID.Stream() || !a.Expected.IsNoStream() {
			t.Fatalf("person %d appends to %s expecting %s", i, a.Stream, a.Expected)
		}
		ev, err := reg.Decode(a.Events[0].Type, a.Events[0].Data)
		r, ok := ev.(*domain.PersonRegistered)
		if err != nil || !ok {
			t.Fatalf("person %d: first event %s: %v", i, a.Events[0].Type, err)
		}
		if ids[p.ID] || numbers[r.IDNumber] {
			t.Fatalf("person %d repeats a person ID or ID number", i)
		}
		ids[p.ID], numbers[r.IDNumber] = true, true
		if _, err := domain.ParseResidentID("id_number", r.IDNumber); err != nil {
			t.Fatalf("person %d: %v", i, err)
		}
		grants += len(p.Grants)
		for _, g := range p.Grants {
			perProgram[g.Program]++
			if g.Program == domain.ProgramChildRehabLiving {
				children++
			}
		}
		if !slices.EqualFunc(p.Grants, again.Persons[i].Grants, func(a, b ScaleGrant) bool { return a.Program == b.Program && a.Amount.Equal(b.Amount) }) ||
			p.ID != again.Persons[i].ID || p.Township != again.Persons[i].Township {
			t.Fatalf("person %d differs between two plans of the same seed", i)
		}
		if p.ID == other.Persons[i].ID {
			t.Fatalf("person %d is the same under another seed", i)
		}
	}
	if avg := float64(grants) / float64(len(plan.Persons)); avg < 1.9 || avg > 2.06 {
		t.Errorf("%.3f monthly programs per person, want about 2", avg)
	}
	if len(perProgram) != len(scalePrograms) || children == 0 {
		t.Errorf("programs granted: %v, want every monthly program of the scenario", perProgram)
	}
}

// Two years across the 2025 rate rise, several batches per program and
// month, each shard's lines in several chunks, interrupted and resumed:
// the log ends up exactly as planned.
func TestScaleResumesAndPaysTheRates(t *testing.T) {
	// A chunk of one line, so a shard reserves, issues and settles a
	// batch in several events, as a province's batches do (a seed of a
	// million persons once failed at its first payroll append on the
	// event IDs its second chunk repeated).
	defer func(n int) { scaleLines = n }(scaleLines)
	scaleLines = 1
	db := pgtest.NewSchema(t)
	store := pgstore.New(db.Pool)
	defer store.Close()
	ctx := context.Background()
	o := scaleOpts(120, 2)
	plan, err := PlanScale(o)
	if err != nil {
		t.Fatal(err)
	}
	// Interrupt the first run after a few appends.
	stop, cancel := context.WithCancel(ctx)
	calls := 0
	plan.Options.Progress = func(done, total int64) {
		if calls++; calls == 6 {
			cancel()
		}
	}
	res, err := plan.Write(stop, store)
	if !errors.Is(err, context.Canceled) || res.Events == 0 || res.Events >= plan.Events {
		t.Fatalf("interrupted run: %d of %d events, %v; want some, then context.Canceled", res.Events, plan.Events, err)
	}
	var last int64
	plan.Options.Progress = func(done, total int64) {
		if done < last || total != plan.Events {
			t.Errorf("progress went from %d to %d of %d", last, done, total)
		}
		last = done
	}
	res, err = plan.Write(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != plan.Events || last != plan.Events {
		t.Fatalf("resumed run reports %d events (progress %d), the plan %d", res.Events, last, plan.Events)
	}
	var stored int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&stored); err != nil || stored != plan.Events {
		t.Fatalf("the log holds %d events (%v), the plan %d", stored, err, plan.Events)
	}

	// What each month paid, read back from the payroll streams and the
	// payment shards.
	reg := domain.NewLedgerRegistry()
	paid := map[domain.Period]domain.Money{}
	count := map[domain.Period]int{}
	batches := map[string]int{} // living subsidy batches per month
	read := func(stream string, fn func(env domain.Envelope)) {
		evs, err := store.ReadStream(ctx, stream, domain.Forwards, 0, 0)
		if errors.Is(err, domain.ErrStreamNotFound) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range evs {
			env, err := reg.DecodeEnvelope(rec)
			if err != nil {
				t.Fatal(err)
			}
			fn(env)
		}
	}
	for _, prog := range scalePrograms {
		read(domain.PayrollStream(prog), func(env domain.Envelope) {
			if e, ok := env.Event.(*domain.BatchIssued); ok && prog == domain.ProgramLivingSubsidy {
				batches[e.Period.String()]++
			}
		})
		for k := range domain.PaymentShards {
			read(domain.PaymentsStream(prog, k), func(env domain.Envelope) {
				e, ok := env.Event.(*domain.PaymentsIssued)
				if !ok {
					return
				}
				for _, p := range e.Payments {
					if p.PaidOn.Period() != p.Period || p.Kind != domain.PaymentRegular || domain.PaymentShard(p.PersonID) != k {
						t.Fatalf("%s: %s pays %s on %s as %s", env.Stream, p.Reference, p.Period, p.PaidOn, p.Kind)
					}
					paid[p.Period] = paid[p.Period].Add(p.Amount)
					count[p.Period]++
				}
			})
		}
	}
	jan25, _ := domain.NewPeriod(2025, time.January)
	if batches[jan25.String()] < 2 {
		t.Errorf("%d living subsidy batches in 2025-01, want several", batches[jan25.String()])
	}
	for _, per := range plan.Periods {
		want, n := domain.Money{}, 0
		for _, p := range plan.Persons {
			for _, g := range p.Grants {
				want = want.Add(plan.Owed(g, per))
				n++
			}
		}
		if count[per] != n || !paid[per].Equal(want) {
			t.Errorf("%s: %d payments, %s; the plan %d, %s", per, count[per], paid[per], n, want)
		}
	}
	living := ScaleGrant{Program: domain.ProgramLivingSubsidy}
	if got := plan.Owed(living, jan25); got.String() != "110.00" {
		t.Errorf("living subsidy owed in 2025-01: %s, want the raised rate 110.00", got)
	}
}
