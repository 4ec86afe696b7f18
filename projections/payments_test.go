package projections_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// payGiven builds payment logs for the spending, payments and event_index
// tests. Each helper appends one event and returns what later events need.
type payGiven struct {
	log   *prtest.Log
	lines map[string]domain.PaymentLine
	seq   int
}

func newPayGiven() *payGiven {
	return &payGiven{log: prtest.NewLog(time.Date(2024, 1, 2, 9, 0, 0, 0, time.UTC)), lines: map[string]domain.PaymentLine{}}
}

func payPID(n int) domain.PersonID { return domain.PersonID(fmt.Sprintf("%020x", n)) }

var (
	payP1 = payPID(1)
	payP2 = payPID(2)
	payP3 = payPID(3)
)

const (
	payLiving = domain.ProgramLivingSubsidy
	payCare   = domain.ProgramCareSubsidy
)

func payYM(s string) domain.Period {
	p, err := domain.ParsePeriod("period", s)
	if err != nil {
		panic(err)
	}
	return p
}

// issue pays amount to person for period on paidOn; the kind is regular
// when paid in the period's month, arrears otherwise.
func (g *payGiven) issue(person domain.PersonID, program domain.ProgramCode, period, paidOn, town, amount string) string {
	kind := domain.PaymentRegular
	if !strings.HasPrefix(paidOn, period) {
		kind = domain.PaymentArrears
	}
	return g.issueLine(person, program, payYM(period), domain.MustDate(paidOn), town, domain.MustMoney(amount), kind)
}

func (g *payGiven) issueLine(person domain.PersonID, program domain.ProgramCode, period domain.Period, paidOn domain.Date, town string, amount domain.Money, kind domain.PaymentKind) string {
	g.seq++
	l := domain.PaymentLine{
		Reference: fmt.Sprintf("PAY-%04d", g.seq),
		BatchID:   fmt.Sprintf("%s-%s", program, paidOn.Period()),
		PersonID:  person, Program: program, Period: period, Kind: kind, Amount: amount, Township: town, PaidOn: paidOn,
	}
	g.lines[l.Reference] = l
	g.log.AddBy(domain.PaymentsStream(program, 0), "finance.test", "finance", domain.PaymentIssued{PaymentLine: l})
	return l.Reference
}

// reissue pays a failed payment again on paidOn.
func (g *payGiven) reissue(ref, paidOn string) string {
	l := g.lines[ref]
	return g.issueLine(l.PersonID, l.Program, l.Period, domain.MustDate(paidOn), l.Township, l.Amount, domain.PaymentReissue)
}

func (g *payGiven) settle(ref, on string) {
	l := g.lines[ref]
	g.log.Add(domain.PaymentsStream(l.Program, 0), domain.PaymentSettled{PaymentLine: l, BankReference: "BK-" + ref, SettledOn: domain.MustDate(on)})
}

func (g *payGiven) fail(ref, on, reason string) {
	l := g.lines[ref]
	g.log.Add(domain.PaymentsStream(l.Program, 0), domain.PaymentFailed{PaymentLine: l, Reason: reason, FailedOn: domain.MustDate(on)})
}

func (g *payGiven) reverse(ref, on, reason string) {
	l := g.lines[ref]
	g.log.Add(domain.PaymentsStream(l.Program, 0), domain.PaymentReversed{PaymentLine: l, Reason: reason, ReversedOn: domain.MustDate(on)})
}

func (g *payGiven) budget(program domain.ProgramCode, year int, amount string) {
	g.log.AddBy(domain.ProgramStream(program), "finance.test", "finance", domain.BudgetAllocated{Program: program, FiscalYear: year, Amount: domain.MustMoney(amount)})
}

const paySQLRegister = `SELECT reference, batch_id, person_id, program, period, kind, amount::text, township, paid_on,
	status, status_on, bank_reference, reason, issued_commit, issued_prepare, updated_commit, updated_prepare
	FROM payments ORDER BY reference`

// paySQLStatus is the register's short form.
const paySQLStatus = `SELECT reference, kind, paid_on, status, status_on, bank_reference, reason, updated_commit
	FROM payments ORDER BY reference`

func TestPaymentsProjection(t *testing.T) {
	t.Parallel()
	p1, p2 := string(payP1), string(payP2)
	tests := []struct {
		name  string
		given func(g *payGiven)
		then  []prtest.Check
	}{
		{
			name: "an issued payment is a row with status issued",
			given: func(g *payGiven) {
				g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
			},
			then: []prtest.Check{{SQL: paySQLRegister, Want: []string{
				"PAY-0001 | living_subsidy-2024-03 | " + p1 + " | living_subsidy | 2024-03-01 | regular | 110.00 | 星子镇 | 2024-03-15 | issued | 2024-03-15 |  |  | 1001 | 1001 | 1001 | 1001",
			}}},
		},
		{
			name: "arrears keep the period they are for and the day they were paid",
			given: func(g *payGiven) {
				g.issue(payP1, payLiving, "2024-01", "2024-03-15", "星子镇", "10.00")
			},
			then: []prtest.Check{{SQL: `SELECT reference, period, kind, paid_on FROM payments`, Want: []string{
				"PAY-0001 | 2024-01-01 | arrears | 2024-03-15",
			}}},
		},
		{
			name: "a settlement records the bank reference and day",
			given: func(g *payGiven) {
				ref := g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.settle(ref, "2024-03-16")
			},
			then: []prtest.Check{{SQL: paySQLStatus, Want: []string{
				"PAY-0001 | regular | 2024-03-15 | settled | 2024-03-16 | BK-PAY-0001 |  | 1002",
			}}},
		},
		{
			name: "a reversal of a settled payment keeps the bank reference and gives the reason",
			given: func(g *payGiven) {
				ref := g.issue(payP1, payCare, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.settle(ref, "2024-03-16")
				g.reverse(ref, "2024-04-20", "paid after death")
			},
			then: []prtest.Check{{SQL: paySQLStatus, Want: []string{
				"PAY-0001 | regular | 2024-03-15 | reversed | 2024-04-20 | BK-PAY-0001 | paid after death | 1003",
			}}},
		},
		{
			name: "a failed payment stays failed; its re-issue is a row of its own",
			given: func(g *payGiven) {
				ref := g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
				g.fail(ref, "2024-03-18", "account closed")
				re := g.reissue(ref, "2024-04-10")
				g.settle(re, "2024-04-11")
			},
			then: []prtest.Check{{SQL: paySQLRegister, Want: []string{
				"PAY-0001 | living_subsidy-2024-03 | " + p1 + " | living_subsidy | 2024-03-01 | regular | 110.00 | 星子镇 | 2024-03-15 | failed | 2024-03-18 |  | account closed | 1001 | 1001 | 1002 | 1002",
				"PAY-0002 | living_subsidy-2024-04 | " + p1 + " | living_subsidy | 2024-03-01 | reissue | 110.00 | 星子镇 | 2024-04-10 | settled | 2024-04-11 | BK-PAY-0002 |  | 1003 | 1003 | 1004 | 1004",
			}}},
		},
		{
			name: "status events apply in log order: the last one wins",
			given: func(g *payGiven) {
				a := g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
				b := g.issue(payP2, payLiving, "2024-03", "2024-03-15", "白鹿镇", "110.00")
				g.fail(a, "2024-03-18", "account closed")
				g.settle(a, "2024-03-20") // the bank corrected its return file
				g.settle(b, "2024-03-16")
				g.reverse(b, "2024-05-02", "duplicate")
			},
			then: []prtest.Check{{SQL: paySQLStatus, Want: []string{
				"PAY-0001 | regular | 2024-03-15 | settled | 2024-03-20 | BK-PAY-0001 |  | 1004",
				"PAY-0002 | regular | 2024-03-15 | reversed | 2024-05-02 | BK-PAY-0002 | duplicate | 1006",
			}}},
		},
		{
			name: "budgets and other events leave the register alone",
			given: func(g *payGiven) {
				g.budget(payLiving, 2024, "5000000.00")
				g.log.Add(domain.PaymentsStream(payLiving, 0), domain.OverpaymentClaimed{
					ClaimID: "CLM-1", PersonID: payP2, Program: payLiving, Period: payYM("2024-01"), Amount: domain.MustMoney("110.00"),
					References: []string{"PAY-0009"}, ClaimedOn: domain.MustDate("2024-02-01"),
				})
			},
			then: []prtest.Check{{SQL: paySQLRegister}},
		},
		{
			name: "the register indexes payments by batch and by person, program and period",
			given: func(g *payGiven) {
				g.issue(payP2, payCare, "2024-02", "2024-02-10", "白鹿镇", "110.00")
			},
			then: []prtest.Check{{
				SQL:  `SELECT indexname, indexdef LIKE '%(batch_id)', indexdef LIKE '%(person_id, program, period)' FROM pg_indexes WHERE tablename = 'payments' AND schemaname = current_schema() ORDER BY 1`,
				Want: []string{"payments_batch | true | false", "payments_person | false | true", "payments_pkey | false | false"},
			}, {
				SQL: `SELECT person_id, program FROM payments`, Want: []string{p2 + " | care_subsidy"},
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			g := newPayGiven()
			tt.given(g)
			prtest.Expect(t, projections.PaymentsProjection{}, g.log.Envelopes, tt.then...)
		})
	}
}

func TestPaymentsProjectionRefusesImpossibleLogs(t *testing.T) {
	t.Parallel()
	p := projections.PaymentsProjection{}
	ctx := context.Background()
	apply := func(pool *pgxpool.Pool, envs []domain.Envelope) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return p.Apply(ctx, tx, envs) })
	}

	t.Run("a status event for a payment never issued", func(t *testing.T) {
		t.Parallel()
		g := newPayGiven()
		ref := g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
		g.settle(ref, "2024-03-16")
		db := prtest.Setup(t, p)
		err := apply(db.Pool, g.log.Envelopes[1:])
		if !errors.Is(err, domain.ErrNotFound) || !strings.Contains(err.Error(), ref) {
			t.Fatalf("settling an unknown payment: got %v, want ErrNotFound naming %s", err, ref)
		}
		if got := prtest.Dump(t, db.Pool, "payments"); len(got) != 0 {
			t.Errorf("payments after the failed batch: %v", got)
		}
	})

	t.Run("a payment issued twice in one batch", func(t *testing.T) {
		t.Parallel()
		g := newPayGiven()
		g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
		envs := append(slices.Clone(g.log.Envelopes), g.log.Envelopes[0])
		db := prtest.Setup(t, p)
		if err := apply(db.Pool, envs); !errors.Is(err, domain.ErrConflict) {
			t.Fatalf("got %v, want ErrConflict", err)
		}
	})

	t.Run("a payment issued again in a later batch", func(t *testing.T) {
		t.Parallel()
		g := newPayGiven()
		g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
		db := prtest.Setup(t, p)
		if err := apply(db.Pool, g.log.Envelopes); err != nil {
			t.Fatal(err)
		}
		if err := apply(db.Pool, g.log.Envelopes); err == nil {
			t.Fatal("issuing a reference twice: no error")
		}
	})

	t.Run("a payment without a value date", func(t *testing.T) {
		t.Parallel()
		g := newPayGiven()
		g.log.Add("payroll-x", domain.PaymentIssued{PaymentLine: domain.PaymentLine{Reference: "PAY-X", Period: payYM("2024-01")}})
		db := prtest.Setup(t, p)
		if err := apply(db.Pool, g.log.Envelopes); !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("got %v, want ErrInvalid", err)
		}
	})
}

func TestPaymentsQueries(t *testing.T) {
	t.Parallel()
	g := newPayGiven()
	a := g.issue(payP1, payLiving, "2024-03", "2024-03-15", "星子镇", "110.00")
	g.issue(payP1, payCare, "2024-03", "2024-03-15", "星子镇", "110.00")
	g.issue(payP2, payLiving, "2024-03", "2024-03-15", "白鹿镇", "110.00")
	g.issue(payP1, payLiving, "2024-01", "2024-03-20", "星子镇", "20.00")
	g.settle(a, "2024-03-16")
	g.reverse(a, "2024-04-01", "paid twice")
	pool := prtest.Expect(t, projections.PaymentsProjection{}, g.log.Envelopes)
	ctx := context.Background()

	refs := func(rows []projections.PaymentRow) []string {
		var out []string
		for _, r := range rows {
			out = append(out, r.Reference)
		}
		return out
	}
	batch, err := projections.PaymentsByBatch(ctx, pool, "living_subsidy-2024-03")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refs(batch), []string{"PAY-0001", "PAY-0003", "PAY-0004"}; !slices.Equal(got, want) {
		t.Errorf("PaymentsByBatch = %v, want %v", got, want)
	}
	mine, err := projections.PaymentsByPerson(ctx, pool, payP1)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := refs(mine), []string{"PAY-0004", "PAY-0002", "PAY-0001"}; !slices.Equal(got, want) {
		t.Errorf("PaymentsByPerson = %v, want %v (by period, program, reference)", got, want)
	}
	none, err := projections.PaymentsByPerson(ctx, pool, payP3)
	if err != nil || len(none) != 0 {
		t.Errorf("PaymentsByPerson(nobody) = %v, %v; want none", none, err)
	}

	got, err := projections.PaymentByReference(ctx, pool, a)
	if err != nil {
		t.Fatal(err)
	}
	want := projections.PaymentRow{
		Reference: a, BatchID: "living_subsidy-2024-03", PersonID: payP1, Program: payLiving, Period: payYM("2024-03"),
		Kind: domain.PaymentRegular, Amount: domain.MustMoney("110.00"), Township: "星子镇", PaidOn: domain.MustDate("2024-03-15"),
		Status: projections.PaymentStatusReversed, StatusOn: domain.MustDate("2024-04-01"), BankReference: "BK-" + a, Reason: "paid twice",
		IssuedPosition: domain.Position{Commit: 1001, Prepare: 1001}, UpdatedPosition: domain.Position{Commit: 1006, Prepare: 1006},
	}
	if !got.Amount.Equal(want.Amount) {
		t.Errorf("amount = %s, want %s", got.Amount, want.Amount)
	}
	got.Amount, want.Amount = domain.Money{}, domain.Money{}
	if got != want {
		t.Errorf("PaymentByReference =\n%+v\nwant\n%+v", got, want)
	}
	if _, err := projections.PaymentByReference(ctx, pool, "PAY-9999"); !errors.Is(err, domain.ErrNotFound) {
		t.Errorf("PaymentByReference(missing) error = %v, want ErrNotFound", err)
	}
}

// TestPaymentsProperties projects random valid payment logs in random
// batch sizes and in one batch, and checks the tables are the same and
// every row holds the payment's final state as the generator recorded it.
func TestPaymentsProperties(t *testing.T) {
	t.Parallel()
	p := projections.PaymentsProjection{}
	for seed := uint64(1); seed <= 24; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			t.Parallel()
			g := newPayGen(seed, 3, 4, 12)
			envs := g.run(350, payPropertyWeights)
			one := prtest.Project(t, p, envs, prtest.RandomSizes(rand.New(rand.NewPCG(seed, 7)), 200, 40))

			var want []string
			byStatus := map[string]int64{}
			for _, ref := range slices.Sorted(maps.Keys(g.pays)) {
				x := g.pays[ref]
				want = append(want, strings.Join([]string{ref, string(x.line.PersonID), string(x.line.Program), x.line.Period.First().String(),
					string(x.line.Kind), x.line.Amount.String(), x.line.Township, x.line.PaidOn.String(), x.status, x.statusOn.String(), x.bankRef, x.reason}, " | "))
				byStatus[x.status] += x.line.Amount.Fen()
			}
			prtest.CheckRows(t, one, prtest.Check{SQL: `SELECT reference, person_id, program, period, kind, amount::text, township, paid_on, status, status_on, bank_reference, reason
				FROM payments ORDER BY reference`, Want: want})

			var sums []string
			for _, s := range slices.Sorted(maps.Keys(byStatus)) {
				sums = append(sums, s+" | "+payFen(byStatus[s]))
			}
			prtest.CheckRows(t, one, prtest.Check{SQL: `SELECT status, sum(amount)::text FROM payments GROUP BY status ORDER BY status`, Want: sums})
		})
	}
}

// payFen formats an amount in fen as yuan, e.g. 11000 as "110.00".
func payFen(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}
