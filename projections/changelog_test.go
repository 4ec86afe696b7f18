package projections_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

const clSQL = `SELECT person_id, township, name, kind, program, effective_date, recorded_on FROM changelog
	ORDER BY position_commit, position_prepare`

func clRow(id domain.PersonID, rest string) string { return string(id) + " | " + rest }

func TestChangelogProjection(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		given func(g *entGiven)
		then  []prtest.Check
	}{
		{
			name: "registration is no change but names the person in later rows",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
			},
			then: []prtest.Check{
				{SQL: clSQL},
				{SQL: `SELECT person_id, township, name, id_masked FROM changelog_persons`,
					Want: []string{clRow(entA, "蛟塘镇 | 张三 | 360427********0011")}},
			},
		},
		{
			name: "certificate issued, regraded and revoked, with grades from and to",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.certificate(entA, 3, "2024-01-02")
				g.on(entA, domain.CertificateRegraded{Category: domain.CategoryPhysical, Grade: 2, PreviousCategory: domain.CategoryPhysical,
					PreviousGrade: 3, NumberMasked: "360427********001142", EffectiveDate: entD("2024-01-04"), ValidUntil: entD("2030-02-28")})
				g.on(entA, domain.CertificateRevoked{NumberMasked: "360427********001142", ReasonCode: domain.RevocationFraudulent, EffectiveDate: entD("2024-01-05")})
			},
			then: []prtest.Check{
				{SQL: clSQL, Want: []string{
					clRow(entA, "蛟塘镇 | 张三 | certificate_issued | NULL | 2024-01-02 | 2024-01-05"),
					clRow(entA, "蛟塘镇 | 张三 | certificate_regraded | NULL | 2024-01-04 | 2024-01-05"),
					clRow(entA, "蛟塘镇 | 张三 | certificate_revoked | NULL | 2024-01-05 | 2024-01-05"),
				}},
				{SQL: `SELECT details->>'category', details->>'grade', details->>'valid_until' FROM changelog WHERE kind = 'certificate_issued'`,
					Want: []string{"physical | 3 | 2028-12-31"}},
				{SQL: `SELECT details->>'grade_from', details->>'grade_to', details->>'number_masked' FROM changelog WHERE kind = 'certificate_regraded'`,
					Want: []string{"3 | 2 | 360427********001142"}},
				{SQL: `SELECT details->>'reason_code' FROM changelog WHERE kind = 'certificate_revoked'`, Want: []string{"fraudulent"}},
			},
		},
		{
			name: "a move is filed under the new township with both; later changes follow the person",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entLiving, "2024-01-01", "")
				g.on(entA, domain.PersonMoved{FromTownship: "蛟塘镇", ToTownship: "星子镇", EffectiveDate: entD("2024-02-01")})
				g.suspend(entA, entLiving, "2024-02-01")
			},
			then: []prtest.Check{
				{SQL: clSQL, Want: []string{
					clRow(entA, "蛟塘镇 | 张三 | entitlement_granted | living_subsidy | 2024-01-01 | 2024-01-05"),
					clRow(entA, "星子镇 | 张三 | person_moved | NULL | 2024-02-01 | 2024-01-05"),
					clRow(entA, "星子镇 | 张三 | entitlement_suspended | living_subsidy | 2024-02-01 | 2024-01-05"),
				}},
				{SQL: `SELECT details->>'township_from', details->>'township_to' FROM changelog WHERE kind = 'person_moved'`,
					Want: []string{"蛟塘镇 | 星子镇"}},
				{SQL: `SELECT township FROM changelog_persons`, Want: []string{"星子镇"}},
			},
		},
		{
			name: "death with its terminations, and its retraction with the reinstatement",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entCare, "2024-01-01", "")
				g.on(entA, domain.PersonDied{DateOfDeath: entD("2024-03-12")})
				g.terminate(entA, entCare, "2024-03-12", domain.TerminationDeath)
				g.on(entA, domain.DeathRetracted{DateOfDeath: entD("2024-03-12")})
				g.on(entA, domain.EntitlementReinstated{Program: entCare, EndedOn: entD("2024-03-12"), ReasonCode: domain.TerminationDeath})
			},
			then: []prtest.Check{
				{SQL: clSQL, Want: []string{
					clRow(entA, "蛟塘镇 | 张三 | entitlement_granted | care_subsidy | 2024-01-01 | 2024-01-05"),
					clRow(entA, "蛟塘镇 | 张三 | person_died | NULL | 2024-03-12 | 2024-01-05"),
					clRow(entA, "蛟塘镇 | 张三 | entitlement_terminated | care_subsidy | 2024-03-12 | 2024-01-05"),
					clRow(entA, "蛟塘镇 | 张三 | death_retracted | NULL | NULL | 2024-01-05"),
					clRow(entA, "蛟塘镇 | 张三 | entitlement_reinstated | care_subsidy | 2024-03-13 | 2024-01-05"),
				}},
				{SQL: `SELECT details->>'ended_on', details->>'reason_code' FROM changelog WHERE kind = 'entitlement_reinstated'`, Want: []string{"2024-03-12 | death"}},
				{SQL: `SELECT details->>'reason_code' FROM changelog WHERE kind = 'entitlement_terminated'`, Want: []string{"death"}},
				{SQL: `SELECT details->>'date_of_death' FROM changelog WHERE kind = 'death_retracted'`, Want: []string{"2024-03-12"}},
			},
		},
		{
			name: "grants carry their own amount; resumptions, payments and one-offs are not notified",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.grant(entA, entJob, "2024-01-01", "500.00")
				g.suspend(entA, entJob, "2024-02-01")
				g.resume(entA, entJob, "2024-03-01")
				g.pay(entA, entJob, "2024-03", "500.00")
				g.on(entA, domain.OneOffGranted{GrantID: "g1", Program: domain.ProgramCondolence, Amount: domain.MustMoney("300.00"), EffectiveDate: entD("2024-02-09")})
			},
			then: []prtest.Check{
				{SQL: `SELECT kind, program, details->>'amount', details->>'reason_code' FROM changelog ORDER BY position_commit`, Want: []string{
					"entitlement_granted | public_welfare_job | 500.00 | NULL",
					"entitlement_suspended | public_welfare_job | NULL | unreachable",
				}},
			},
		},
		{
			name: "household status change with the status before and after",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.on(entA, domain.HouseholdStatusChanged{Household: domain.HouseholdStatus{Class: domain.HouseholdUrbanNeedy, Tekun: true},
					PreviousHousehold: domain.HouseholdStatus{Dibao: true}, EffectiveDate: entD("2024-02-01")})
			},
			then: []prtest.Check{
				{SQL: `SELECT kind, effective_date, details->'from'->>'dibao', details->'to'->>'class', details->'to'->>'tekun' FROM changelog`,
					Want: []string{"household_changed | 2024-02-01 | true | urban_needy | true"}},
			},
		},
		{
			name: "recorded_on is the date in Asia/Shanghai",
			given: func(g *entGiven) {
				g.register(entA, "张三", "蛟塘镇")
				g.log.SetClock(time.Date(2024, 3, 19, 16, 30, 0, 0, time.UTC)) // 00:30 on the 20th in Shanghai
				g.grant(entA, entCare, "2024-03-01", "")
				g.log.SetClock(time.Date(2024, 3, 19, 15, 59, 0, 0, time.UTC)) // 23:59 on the 19th
				g.suspend(entA, entCare, "2024-03-02")
			},
			then: []prtest.Check{
				{SQL: `SELECT kind, recorded_at, recorded_on FROM changelog ORDER BY position_commit`, Want: []string{
					"entitlement_granted | 2024-03-19T16:30:00Z | 2024-03-20",
					"entitlement_suspended | 2024-03-19T15:59:00Z | 2024-03-19",
				}},
			},
		},
		{
			name: "changes of a person never registered are kept without a township",
			given: func(g *entGiven) {
				g.grant(entB, entCare, "2024-03-01", "")
				g.on(entB, domain.PersonMoved{FromTownship: "蛟塘镇", ToTownship: "白鹿镇", EffectiveDate: entD("2024-03-05")})
			},
			then: []prtest.Check{
				{SQL: `SELECT township, name, kind FROM changelog ORDER BY position_commit`, Want: []string{
					" |  | entitlement_granted", "白鹿镇 |  | person_moved",
				}},
				{SQL: `SELECT count(*) FROM changelog_persons`, Want: []string{"0"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newEntGiven()
			tt.given(g)
			prtest.Expect(t, projections.ChangelogProjection{}, g.log.Envelopes, tt.then...)
		})
	}
}

func TestChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := newEntGiven()
	at := func(s string) time.Time { // a Shanghai wall-clock time
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, time.FixedZone("CST", 8*3600))
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	clock := func(s string) { g.log.SetClock(at(s)) } // the next event is recorded then
	g.register(entA, "张三", "蛟塘镇")
	g.register(entB, "李四", "星子镇")
	clock("2024-02-19 23:59") // before the window
	g.grant(entA, entCare, "2024-02-01", "")
	clock("2024-02-20 00:01")
	g.grant(entB, entLiving, "2024-02-01", "")
	clock("2024-03-02 09:00")
	g.on(entA, domain.PersonDied{DateOfDeath: entD("2024-03-01")})
	clock("2024-03-02 09:00")
	g.terminate(entA, entCare, "2024-03-01", domain.TerminationDeath)
	clock("2024-03-19 23:59")
	g.on(entB, domain.PersonMoved{FromTownship: "星子镇", ToTownship: "白鹿镇", EffectiveDate: entD("2024-03-10")})
	clock("2024-03-20 00:00") // after the window
	g.suspend(entB, entLiving, "2024-03-20")
	db := prtest.Setup(t, projections.ChangelogProjection{})
	prtest.ApplyBatches(t, db.Pool, projections.ChangelogProjection{}, g.log.Envelopes, []int{2})

	show := func(rows []projections.ChangeRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, fmt.Sprintf("%s %s %s %s %s", r.Township, r.Name, r.Kind, r.Program, r.RecordedOn))
		}
		return out
	}
	for _, c := range []struct {
		from, to, township string
		want               []string
	}{
		{"2024-02-20", "2024-03-19", "", []string{
			"星子镇 李四 entitlement_granted living_subsidy 2024-02-20",
			"白鹿镇 李四 person_moved  2024-03-19",
			"蛟塘镇 张三 person_died  2024-03-02",
			"蛟塘镇 张三 entitlement_terminated care_subsidy 2024-03-02",
		}},
		{"2024-02-20", "2024-03-19", "蛟塘镇", []string{
			"蛟塘镇 张三 person_died  2024-03-02",
			"蛟塘镇 张三 entitlement_terminated care_subsidy 2024-03-02",
		}},
		{"2024-02-19", "2024-02-19", "", []string{"蛟塘镇 张三 entitlement_granted care_subsidy 2024-02-19"}},
		{"2024-03-20", "2024-03-20", "白鹿镇", []string{"白鹿镇 李四 entitlement_suspended living_subsidy 2024-03-20"}},
		{"2024-04-01", "2024-04-30", "", nil},
	} {
		got, err := projections.Changes(ctx, db.Pool, entD(c.from), entD(c.to), c.township)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(show(got), c.want) {
			t.Errorf("Changes(%s, %s, %q)\n got %q\nwant %q", c.from, c.to, c.township, show(got), c.want)
		}
	}

	rows, err := projections.Changes(ctx, db.Pool, entD("2024-03-19"), entD("2024-03-19"), "")
	if err != nil || len(rows) != 1 {
		t.Fatalf("Changes = %+v, %v", rows, err)
	}
	if r := rows[0]; r.PersonID != entB || r.IDMasked != "360427********0011" || !r.EffectiveDate.Equal(entD("2024-03-10")) ||
		!r.RecordedAt.Equal(at("2024-03-19 23:59")) || r.RecordedAt.Location() != time.UTC ||
		string(r.Details) != `{"township_to": "白鹿镇", "township_from": "星子镇"}` {
		t.Errorf("move = %+v (details %s)", r, r.Details)
	}

	for _, c := range []struct{ from, to domain.Date }{
		{domain.Date{}, entD("2024-03-01")}, {entD("2024-03-01"), domain.Date{}}, {entD("2024-03-02"), entD("2024-03-01")},
	} {
		if _, err := projections.Changes(ctx, db.Pool, c.from, c.to, ""); !errors.Is(err, domain.ErrInvalid) {
			t.Errorf("Changes(%s, %s) error = %v, want ErrInvalid", c.from, c.to, err)
		}
	}
}

// The same valid history projected in random batch sizes gives the same
// tables as in one batch.
func TestChangelogBatchSplitInvariance(t *testing.T) {
	t.Parallel()
	p := projections.ChangelogProjection{}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			t.Parallel()
			envs := newEntSim(seed).run(18)
			r := rand.New(rand.NewPCG(seed, 2))
			one := prtest.Project(t, p, envs, prtest.RandomSizes(r, len(envs), 1+r.IntN(40)))
			if n := prtest.Rows(t, one, `SELECT count(DISTINCT kind) >= 7 FROM changelog`); n[0] != "true" {
				t.Errorf("fewer than 7 kinds of change; the generator should exercise more")
			}
		})
	}
}
