package projections_test

import (
	"context"
	"slices"
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
	for _, sizes := range [][]int{{100}, {1}} {
		db := prtest.Setup(t, p)
		log := prtest.NewLog(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
		log.Add(a.Stream(), domain.BankAccountRecorded{AccountName: "甲", Bank: "农行", AccountMasked: "6228****0001", AccountSealed: "v1:k:1"})
		log.Add(b.Stream(), domain.BankAccountRecorded{AccountName: "乙", Bank: "建行", AccountMasked: "6217****0002", AccountSealed: "v1:k:2"})
		log.Add(a.Stream(), domain.BankAccountRecorded{AccountName: "甲", Bank: "邮储", AccountMasked: "6210****0003", AccountSealed: "v1:k:3"})
		log.Add(a.Stream(), domain.PersonMoved{FromTownship: "x", ToTownship: "y", EffectiveDate: domain.MustDate("2025-01-02")})
		prtest.ApplyBatches(t, db.Pool, p, log.Envelopes, sizes)
		got := prtest.Rows(t, db.Pool, `SELECT person_id, account_name, bank, account_masked, account_sealed FROM bank_accounts ORDER BY 1`)
		want := []string{
			"aaaaaaaaaaaaaaaaaaaa | 甲 | 邮储 | 6210****0003 | v1:k:3",
			"bbbbbbbbbbbbbbbbbbbb | 乙 | 建行 | 6217****0002 | v1:k:2",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("batches %v:\n got %v\nwant %v", sizes, got, want)
		}
		accts, err := projections.BankAccounts(context.Background(), db.Pool, []domain.PersonID{a, "cccccccccccccccccccc"})
		if err != nil || len(accts) != 1 || accts[a].Bank != "邮储" {
			t.Fatalf("BankAccounts = %v, %v", accts, err)
		}
	}
}
