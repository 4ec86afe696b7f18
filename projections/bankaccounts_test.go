package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

func TestBankAccountsKeepTheLatestAccount(t *testing.T) {
	p := projections.BankAccountsProjection{}
	a := domain.PersonID("aaaaaaaaaaaaaaaaaaaa")
	b := domain.PersonID("bbbbbbbbbbbbbbbbbbbb")
	log := prtest.NewLog(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	log.Add(a.Stream(), domain.BankAccountRecorded{AccountName: "甲", Bank: "农行", AccountMasked: "6228****0001", AccountSealed: "v1:k:1"})
	log.Add(b.Stream(), domain.BankAccountRecorded{AccountName: "乙", Bank: "建行", AccountMasked: "6217****0002", AccountSealed: "v1:k:2"})
	log.Add(a.Stream(), domain.BankAccountRecorded{AccountName: "甲", Bank: "邮储", AccountMasked: "6210****0003", AccountSealed: "v1:k:3"})
	log.Add(a.Stream(), domain.PersonMoved{FromTownship: "x", ToTownship: "y", EffectiveDate: domain.MustDate("2025-01-02")})
	pool := prtest.Expect(t, p, log.Envelopes, prtest.Check{
		SQL: `SELECT person_id, account_name, bank, account_masked, account_sealed FROM bank_accounts ORDER BY 1`,
		Want: []string{
			"aaaaaaaaaaaaaaaaaaaa | 甲 | 邮储 | 6210****0003 | v1:k:3",
			"bbbbbbbbbbbbbbbbbbbb | 乙 | 建行 | 6217****0002 | v1:k:2",
		},
	})
	accts, err := projections.BankAccounts(context.Background(), pool, []domain.PersonID{a, "cccccccccccccccccccc"})
	if err != nil || len(accts) != 1 || accts[a].Bank != "邮储" {
		t.Fatalf("BankAccounts = %v, %v", accts, err)
	}
}
