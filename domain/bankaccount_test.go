package domain

import (
	"errors"
	"strings"
	"testing"
)

func TestParseBankAccountNumber(t *testing.T) {
	n, err := ParseBankAccountNumber("account_number", "6228 4800 1234 5678 901")
	if err != nil || n.Digits() != "6228480012345678901" || n.Masked() != "6228***********8901" || n.String() != n.Masked() {
		t.Fatalf("%q %q %v", n.Digits(), n.Masked(), err)
	}
	for _, bad := range []string{"", "12345", strings.Repeat("1", 31), "6228x80012345678", "６２２８４８００１２３４５６７８"} {
		var fe *FieldError
		if _, err := ParseBankAccountNumber("account_number", bad); !errors.As(err, &fe) || fe.Field != "account_number" {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDecideBankAccount(t *testing.T) {
	acct := BankAccount{AccountName: "张三", Bank: "农业银行", AccountMasked: "6228***********8901", AccountSealed: "v1:abc"}
	recorded := BankAccountRecorded{AccountName: "张三", Bank: "农业银行", AccountMasked: "6228***********8901", AccountSealed: "v1:abc"}
	runDecideCases(t, []decideCase{
		{name: "record", given: adult(), when: RecordBankAccount{Account: acct}, want: []Event{recorded}},
		{name: "record the same again", given: adult(recorded), when: RecordBankAccount{Account: acct}, want: []Event{recorded}},
		{name: "replace", given: adult(recorded), when: RecordBankAccount{Account: BankAccount{AccountName: "张三", Bank: "建设银行", AccountMasked: "6217***********0001", AccountSealed: "v1:def"}},
			want: []Event{BankAccountRecorded{AccountName: "张三", Bank: "建设银行", AccountMasked: "6217***********0001", AccountSealed: "v1:def"}}},
		{name: "unsealed", given: adult(), when: RecordBankAccount{Account: BankAccount{AccountName: "张三", Bank: "农业银行", AccountMasked: "6228***********8901"}},
			wantErr: ErrInvalid, wantField: "account_number"},
		{name: "no holder", given: adult(), when: RecordBankAccount{Account: BankAccount{Bank: "农业银行", AccountMasked: "6228*8901", AccountSealed: "x"}},
			wantErr: ErrInvalid, wantField: "account_name"},
		{name: "unregistered", when: RecordBankAccount{Account: acct}, wantErr: ErrNotFound},
	})
	s := Evolve(Beneficiary{}, &recorded)
	if s.BankAccount == nil || s.BankAccount.AccountSealed != "v1:abc" {
		t.Errorf("state %+v", s.BankAccount)
	}
}
