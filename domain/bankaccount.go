package domain

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"
)

// Bank accounts: where a person's cash benefits are paid. The account
// number is sensitive: the domain only ever sees it sealed (encrypted by an
// adapter with a key the domain never holds) and masked for display.

// TypeBankAccountRecorded is the event of a person's (new) bank account;
// TypeBankAccountRecordedV1, before personal data was sealed, held the
// holder's name and the masked number in clear (upcast to v2 on reading).
const (
	TypeBankAccountRecorded   = "beneficiary.BankAccountRecorded.v2"
	TypeBankAccountRecordedV1 = "beneficiary.BankAccountRecorded.v1"
)

// BankAccountNumber is a validated bank account (card) number.
type BankAccountNumber struct{ digits string }

// ParseBankAccountNumber accepts 12 to 30 digits, optionally grouped by
// spaces or hyphens, which it removes.
func ParseBankAccountNumber(field, s string) (BankAccountNumber, error) {
	if s == "" {
		return BankAccountNumber{}, Invalid(field, "is required")
	}
	d := strings.NewReplacer(" ", "", "-", "").Replace(s)
	for i, r := range d {
		if r < '0' || r > '9' {
			return BankAccountNumber{}, Invalid(field, "has %q at position %d; only digits are allowed", r, i+1)
		}
	}
	if n := len(d); n < 12 || n > 30 {
		return BankAccountNumber{}, Invalid(field, "has %d digits; a bank account number has 12 to 30", n)
	}
	return BankAccountNumber{d}, nil
}

// Digits returns the full number. Seal it; never log or store it in clear.
func (n BankAccountNumber) Digits() string { return n.digits }

// Masked shows the first 4 and last 4 digits.
func (n BankAccountNumber) Masked() string {
	if len(n.digits) < 8 {
		return strings.Repeat("*", len(n.digits))
	}
	return n.digits[:4] + strings.Repeat("*", len(n.digits)-8) + n.digits[len(n.digits)-4:]
}

// String is Masked, so an accidental print shows no number.
func (n BankAccountNumber) String() string { return n.Masked() }

// BankAccount is where a person is paid.
type BankAccount struct {
	AccountName   string // the account holder, as the bank knows them
	Bank          string
	AccountMasked string
	AccountSealed string // the number, encrypted by the caller's vault
}

// RecordBankAccount records (or replaces) the account a person is paid to.
type RecordBankAccount struct {
	Account BankAccount
}

func (RecordBankAccount) CommandName() string { return "RecordBankAccount" }

func (c RecordBankAccount) validate(time.Time) error {
	a := c.Account
	if err := checkText("account_name", a.AccountName, 100); err != nil {
		return err
	}
	if err := checkText("bank", a.Bank, 100); err != nil {
		return err
	}
	if a.AccountMasked == "" || !utf8.ValidString(a.AccountMasked) || !strings.Contains(a.AccountMasked, "*") {
		return Invalid("account_number", "must be given masked alongside the sealed number")
	}
	if a.AccountSealed == "" {
		return Invalid("account_number", "must be sealed by the caller before it reaches the ledger")
	}
	return nil
}

// decide records the account. Recording the same account again is not
// refused: the sealed numbers cannot be compared (each seal differs), and a
// repeat changes nothing a payment depends on.
func (c RecordBankAccount) decide(s Beneficiary) ([]Event, error) {
	a := c.Account
	return []Event{BankAccountRecorded{AccountName: a.AccountName, Bank: a.Bank, AccountMasked: a.AccountMasked, AccountSealed: a.AccountSealed}}, nil
}

// BankAccountRecorded: the person is paid to this account from now on.
// The holder's name and the number (masked, and sealed by the payroll's
// vault) are stored sealed with the person's data key (Personal); the bank
// is in clear.
type BankAccountRecorded struct {
	Bank     string `json:"bank"`
	Personal Sealed `json:"personal,omitempty"` // accountPersonal, sealed
	// LegacyClear is the personal data of a v1 event, in clear.
	LegacyClear *accountPersonal `json:"legacy_clear,omitempty"`

	// In clear, opened from Personal; never encoded. Empty when the
	// person's key was erased (Erased) or the registry has no keys.
	AccountName   string `json:"-"`
	AccountMasked string `json:"-"`
	AccountSealed string `json:"-"` // encrypted; see adapters/vault
	Erased        bool   `json:"-"`
}

type accountPersonal struct {
	AccountName   string `json:"account_name"`
	AccountMasked string `json:"account_masked"`
	AccountSealed string `json:"account_sealed"`
}

func (BankAccountRecorded) EventType() string { return TypeBankAccountRecorded }

func (e BankAccountRecorded) sealPersonal(ctx context.Context, keys PersonalKeys, stream PersonID) (Event, error) {
	var err error
	e.Personal, err = sealJSON(ctx, keys, stream, accountPersonal{AccountName: e.AccountName, AccountMasked: e.AccountMasked, AccountSealed: e.AccountSealed})
	e.LegacyClear = nil
	return e, err
}

func (e BankAccountRecorded) checkSealed() error {
	return checkSealedOne(TypeBankAccountRecorded, e.Personal, e.LegacyClear)
}

func (e *BankAccountRecorded) openPersonal(ctx context.Context, keys PersonalKeys) error {
	a, erased, err := openOrLegacy(ctx, keys, e.Personal, e.LegacyClear)
	if err != nil {
		return err
	}
	e.AccountName, e.AccountMasked, e.AccountSealed, e.Erased = a.AccountName, a.AccountMasked, a.AccountSealed, erased
	return nil
}

func (e BankAccountRecorded) apply(s *Beneficiary) {
	if e.Erased {
		s.BankAccount = nil
		return
	}
	s.BankAccount = &BankAccount{AccountName: e.AccountName, Bank: e.Bank, AccountMasked: e.AccountMasked, AccountSealed: e.AccountSealed}
}
