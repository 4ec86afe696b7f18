package projections_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

const eviSQLIndex = `SELECT position_commit, position_prepare, stream, revision, type, actor, role, command_id,
	recorded_at, effective_date, reason, length(hash),
	prev_hash = coalesce(lag(hash) OVER (PARTITION BY stream ORDER BY revision), '') -- the stream's chain
	FROM event_index ORDER BY position_commit, position_prepare`

func TestEventIndexProjection(t *testing.T) {
	t.Parallel()
	p1 := payP1.Stream()
	tests := []struct {
		name  string
		given func(g *payGiven)
		then  []prtest.Check
	}{
		{
			name: "every event is indexed with who, when and its hashes, whatever its type",
			given: func(g *payGiven) {
				g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.budget(payLiving, 2024, "1000.00")
				g.log.AddBy(p1, "clerk.wang", "clerk", domain.PersonDied{DateOfDeath: domain.MustDate("2024-02-28")})
			},
			then: []prtest.Check{spendCheck(eviSQLIndex,
				"1001 | 1001 | payments-living_subsidy.0 | 0 | payroll.PaymentIssued.v1 | finance.test | finance | cmd-1 | 2024-01-02T09:00:00Z | 2024-03-15 |  | 64 | true",
				"1002 | 1002 | program-living_subsidy | 0 | program.BudgetAllocated.v1 | finance.test | finance | cmd-2 | 2024-01-02T09:01:00Z | NULL |  | 64 | true",
				"1003 | 1003 | "+p1+" | 0 | beneficiary.PersonDied.v1 | clerk.wang | clerk | cmd-3 | 2024-01-02T09:02:00Z | 2024-02-28 |  | 64 | true",
			)},
		},
		{
			name: "the reason a user gave is kept",
			given: func(g *payGiven) {
				g.log.Add(p1, domain.PersonDied{DateOfDeath: domain.MustDate("2024-02-28")})
				g.log.AddMeta(p1, domain.CommandMeta{Reason: "recorded for the wrong person; see letter 2024-17"},
					domain.DeathRetracted{DateOfDeath: domain.MustDate("2024-02-28")})
			},
			then: []prtest.Check{spendCheck(`SELECT revision, type, effective_date, reason FROM event_index ORDER BY revision`,
				"0 | beneficiary.PersonDied.v1 | 2024-02-28 | ",
				"1 | beneficiary.DeathRetracted.v1 | NULL | recorded for the wrong person; see letter 2024-17",
			)},
		},
		{
			name: "revisions count per stream",
			given: func(g *payGiven) {
				a := g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.issue(payP2, payCare, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.settle(a, "2024-03-16")
			},
			then: []prtest.Check{spendCheck(`SELECT stream, revision, type FROM event_index ORDER BY stream, revision`,
				"payments-care_subsidy.0 | 0 | payroll.PaymentIssued.v1",
				"payments-living_subsidy.0 | 0 | payroll.PaymentIssued.v1",
				"payments-living_subsidy.0 | 1 | payroll.PaymentSettled.v1",
			)},
		},
		{
			name: "status events carry their own business dates, apart from the system time",
			given: func(g *payGiven) {
				a := g.issue(payP1, payLiving, "2024-01", "2024-03-15", "星子镇", "110.00") // arrears
				b := g.issue(payP2, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.fail(a, "2024-03-18", "account closed")
				g.settle(b, "2024-03-16")
				g.reverse(b, "2024-02-29", "backdated correction")
			},
			then: []prtest.Check{spendCheck(`SELECT type, effective_date, recorded_at FROM event_index ORDER BY position_commit`,
				"payroll.PaymentIssued.v1 | 2024-03-15 | 2024-01-02T09:00:00Z",
				"payroll.PaymentIssued.v1 | 2024-03-15 | 2024-01-02T09:01:00Z",
				"payroll.PaymentFailed.v1 | 2024-03-18 | 2024-01-02T09:02:00Z",
				"payroll.PaymentSettled.v1 | 2024-03-16 | 2024-01-02T09:03:00Z",
				"payroll.PaymentReversed.v1 | 2024-02-29 | 2024-01-02T09:04:00Z",
			)},
		},
		{
			name: "events of many streams keep their global order and command IDs",
			given: func(g *payGiven) {
				g.budget(payCare, 2025, "1.00")
				g.log.Add(payP2.Stream(), domain.PersonDied{DateOfDeath: domain.MustDate("2024-05-01")})
				g.budget(payCare, 2025, "2.00")
			},
			then: []prtest.Check{spendCheck(`SELECT position_commit, stream, revision, command_id FROM event_index ORDER BY position_commit, position_prepare`,
				"1001 | program-care_subsidy | 0 | cmd-1",
				"1002 | "+payP2.Stream()+" | 0 | cmd-2",
				"1003 | program-care_subsidy | 1 | cmd-3",
			)},
		},
		{
			name: "positions and (stream, revision) are unique",
			given: func(g *payGiven) {
				g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
			},
			then: []prtest.Check{spendCheck(`SELECT indexname, indexdef LIKE 'CREATE UNIQUE INDEX%' FROM pg_indexes
				WHERE tablename = 'event_index' AND schemaname = current_schema() ORDER BY 1`,
				"event_index_pkey | true", "event_index_stream | true",
			)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newPayGiven()
			tt.given(g)
			prtest.Expect(t, projections.EventIndexProjection{}, g.log.Envelopes, tt.then...)
		})
	}
}

func TestEventIndexRefusesImpossibleLogs(t *testing.T) {
	t.Parallel()
	p := projections.EventIndexProjection{}
	ctx := context.Background()
	g := newPayGiven()
	g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
	g.issue(payP2, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
	envs := g.log.Envelopes
	db := prtest.Setup(t, p)
	apply := func(envs ...domain.Envelope) error {
		return pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error { return p.Apply(ctx, tx, envs) })
	}
	if err := apply(envs[0]); err != nil {
		t.Fatal(err)
	}
	if err := apply(envs[0]); err == nil {
		t.Error("indexing the same event twice: no error")
	}
	again := envs[1]
	again.Revision = 0 // payments-living_subsidy.0@0 is taken
	if err := apply(again); err == nil {
		t.Error("a second event at the same stream revision: no error")
	}
	far := envs[1]
	far.Position = domain.Position{Commit: math.MaxInt64 + 1, Prepare: 1}
	if err := apply(far); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("a position beyond BIGINT: error %v, want ErrInvalid", err)
	}
	if n, err := projections.EventCount(ctx, db.Pool); err != nil || n != 1 {
		t.Errorf("EventCount = %d, %v; want 1 (failed batches leave nothing)", n, err)
	}
}

func TestEventIndexQueries(t *testing.T) {
	t.Parallel()
	g := newPayGiven()
	stream := payP1.Stream()
	g.log.AddBy(stream, "clerk.li", "clerk", domain.PersonDied{DateOfDeath: domain.MustDate("2024-02-28")})
	g.issue(payP2, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
	g.log.AddMeta(stream, domain.CommandMeta{Actor: "approver.zhao", Role: "approver", Reason: "wrong person"},
		domain.DeathRetracted{DateOfDeath: domain.MustDate("2024-02-28")})
	pool := prtest.Expect(t, projections.EventIndexProjection{}, g.log.Envelopes)
	ctx := context.Background()

	got, err := projections.EventsOfStream(ctx, pool, stream)
	if err != nil {
		t.Fatal(err)
	}
	var want []projections.IndexRow
	for _, e := range g.log.Envelopes {
		if e.Stream != stream {
			continue
		}
		want = append(want, projections.IndexRow{
			Position: e.Position, EventID: e.ID, Stream: e.Stream, Revision: e.Revision, Type: e.Type,
			Actor: e.Meta.Actor, Role: e.Meta.Role, CommandID: e.Meta.CommandID, RecordedAt: e.Meta.RecordedAt,
			EffectiveDate: e.Meta.EffectiveDate, Reason: e.Meta.Reason, Hash: e.Meta.Hash, PrevHash: e.Meta.PrevHash,
		})
	}
	if !slices.Equal(got, want) {
		t.Errorf("EventsOfStream =\n%+v\nwant\n%+v", got, want)
	}
	if len(got) == 2 && (!got[1].EffectiveDate.IsZero() || got[1].Reason != "wrong person" || !got[0].EffectiveDate.Equal(domain.MustDate("2024-02-28"))) {
		t.Errorf("EventsOfStream dates and reasons = %+v", got)
	}
	if rows, err := projections.EventsOfStream(ctx, pool, "person-nobody"); err != nil || len(rows) != 0 {
		t.Errorf("EventsOfStream(unknown) = %v, %v; want none", rows, err)
	}
	if n, err := projections.EventCount(ctx, pool); err != nil || n != 3 {
		t.Errorf("EventCount = %d, %v; want 3", n, err)
	}
}

// TestEventIndexProperties projects random logs in random batch sizes and
// in one batch, checks the tables are the same, and that the index holds
// exactly one row per event with the envelope's identity and metadata.
func TestEventIndexProperties(t *testing.T) {
	t.Parallel()
	p := projections.EventIndexProjection{}
	for seed := uint64(1); seed <= 24; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			g := newPayGen(seed, 3, 4, 12)
			envs := g.run(350, payPropertyWeights)
			one := prtest.Project(t, p, envs, prtest.RandomSizes(rand.New(rand.NewPCG(seed, 13)), 200, 40))

			var want []string
			types := map[string]int{}
			for _, e := range envs {
				eff := "NULL"
				if !e.Meta.EffectiveDate.IsZero() {
					eff = e.Meta.EffectiveDate.String()
				}
				want = append(want, fmt.Sprintf("%d | %d | %s | %s | %d | %s | %s | %s | %s | %s | %s | %s",
					e.Position.Commit, e.Position.Prepare, e.ID, e.Stream, e.Revision, e.Type, e.Meta.Actor, e.Meta.Role,
					e.Meta.RecordedAt.UTC().Format(time.RFC3339), eff, e.Meta.Hash, e.Meta.PrevHash))
				types[e.Type]++
			}
			prtest.CheckRows(t, one, prtest.Check{SQL: `SELECT position_commit, position_prepare, event_id::text, stream, revision, type, actor, role,
				recorded_at, effective_date, hash, prev_hash FROM event_index ORDER BY position_commit, position_prepare`, Want: want})
			if len(types) < 6 {
				t.Errorf("the generator produced only %d event types: %v", len(types), types)
			}
			if n, err := projections.EventCount(context.Background(), one); err != nil || n != int64(len(envs)) {
				t.Errorf("EventCount = %d, %v; want %d", n, err, len(envs))
			}
		})
	}
}
