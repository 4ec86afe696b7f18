package projections_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// A return file's settlements and failures arrive as one PaymentsSettled
// and one PaymentsFailed event; the read models must end exactly as if
// each payment had its own PaymentSettled or PaymentFailed.
func TestBatchedSettlementsEqualSingleOnes(t *testing.T) {
	projs := []projections.Projection{projections.SpendingProjection{}, projections.PaymentsProjection{}, projections.EntitlementsProjection{}}
	build := func(batched bool) *prtest.Log {
		log := prtest.NewLog(time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC))
		var settled []domain.PaymentSettled
		var failed []domain.PaymentFailed
		for i := range 12 {
			p, _ := domain.NewPeriod(2025, time.Month(1+i%3))
			l := domain.PaymentLine{Reference: fmt.Sprint("ref-", i), BatchID: "b", PersonID: domain.PersonID(fmt.Sprintf("%020d", i%4)),
				Program: domain.ProgramLivingSubsidy, Period: p, Kind: domain.PaymentRegular, Amount: domain.MustMoney("110.00"),
				Township: "星子镇", PaidOn: domain.MustDate("2025-03-20")}
			log.Add("payroll-x", domain.PaymentIssued{PaymentLine: l})
			if i%3 == 0 {
				failed = append(failed, domain.PaymentFailed{PaymentLine: l, Reason: "closed", FailedOn: domain.MustDate("2025-03-25")})
			} else {
				settled = append(settled, domain.PaymentSettled{PaymentLine: l, BankReference: fmt.Sprint("B", i), SettledOn: domain.MustDate("2025-03-24")})
			}
		}
		if batched {
			log.Add("payroll-x", &domain.PaymentsSettled{BatchID: "b", Payments: settled})
			log.Add("payroll-x", &domain.PaymentsFailed{BatchID: "b", Payments: failed})
		} else {
			for _, s := range settled {
				log.Add("payroll-x", &s)
			}
			for _, f := range failed {
				log.Add("payroll-x", &f)
			}
		}
		return log
	}
	queries := []string{
		`SELECT program, month, township, amount_paid::text, payments, persons FROM spending ORDER BY 1, 2, 3`,
		`SELECT reference, status, status_on, bank_reference, reason FROM payments ORDER BY 1`,
		`SELECT person_id, program, period, paid::text, payments FROM entitlement_paid ORDER BY 1, 2, 3`,
	}
	var results [2][][]string
	for k, batched := range []bool{false, true} {
		db := prtest.Setup(t, projs[0])
		for _, p := range projs[1:] {
			if _, err := db.Pool.Exec(context.Background(), p.Schema()); err != nil {
				t.Fatal(err)
			}
		}
		log := build(batched)
		for _, p := range projs {
			prtest.ApplyBatches(t, db.Pool, p, log.Envelopes, []int{5})
		}
		for _, q := range queries {
			results[k] = append(results[k], prtest.Rows(t, db.Pool, q))
		}
	}
	for i := range queries {
		if len(results[0][i]) == 0 || !slices.Equal(results[0][i], results[1][i]) {
			t.Errorf("%s\n one by one: %v\n batched:    %v", queries[i], results[0][i], results[1][i])
		}
	}
}
