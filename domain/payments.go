package domain

// Payment and budget events. Payroll decides them (payroll.go); the read
// models project them. Each event is self-contained — a failure or reversal
// repeats the program, period, township and amount of the payment it
// concerns — so a projection never has to look another event up.
//
// Streams: payment events live in the payments shard of their program and
// person, PaymentsStream(program, PaymentShard(person)); budgets in
// ProgramStream(program).
const (
	TypePaymentIssued         = "payroll.PaymentIssued.v1"
	TypePaymentSettled        = "payroll.PaymentSettled.v1"
	TypePaymentFailed         = "payroll.PaymentFailed.v1"
	TypePaymentReversed       = "payroll.PaymentReversed.v1"
	TypeOverpaymentClaimed    = "payroll.OverpaymentClaimed.v1"
	TypeOverpaymentRecovered  = "payroll.OverpaymentRecovered.v1"
	TypeOverpaymentWrittenOff = "payroll.OverpaymentWrittenOff.v1"
	TypeBudgetAllocated       = "program.BudgetAllocated.v1"
	TypePaymentsSettled       = "payroll.PaymentsSettled.v1"
	TypePaymentsFailed        = "payroll.PaymentsFailed.v1"
	TypePaymentsSettledLate   = "payroll.PaymentsSettledLate.v1"
	TypePaymentsIssued        = "payroll.PaymentsIssued.v1"
)

// Stream categories other than beneficiaries.
const (
	PayrollStreamPrefix  = "payroll-"
	PaymentsStreamPrefix = "payments-"
	ProgramStreamPrefix  = "program-"
)

// ProgramStream is the stream of one program's budgets and rules.
func ProgramStream(program ProgramCode) string { return ProgramStreamPrefix + string(program) }

// PaymentKind says why a payment line exists.
type PaymentKind string

const (
	PaymentRegular PaymentKind = "regular" // the period's own payment
	PaymentArrears PaymentKind = "arrears" // owed for an earlier period (backdated grant or rate rise)
	PaymentOneOff  PaymentKind = "one_off" // a one-off grant
	PaymentReissue PaymentKind = "reissue" // a failed payment paid again
)

// PaymentLine is what every payment event repeats about its payment.
type PaymentLine struct {
	Reference string      `json:"reference"` // unique payment reference, also sent to the bank
	BatchID   string      `json:"batch_id"`
	PersonID  PersonID    `json:"person_id"`
	Program   ProgramCode `json:"program"`
	Period    Period      `json:"period"` // the month the payment is for
	Kind      PaymentKind `json:"kind"`
	Amount    Money       `json:"amount"`
	Township  string      `json:"township"` // the person's township when issued, frozen
	PaidOn    Date        `json:"paid_on"`  // value date; spending is counted in its month
}

// PaymentIssued: a payment line was approved and sent to the bank.
type PaymentIssued struct {
	PaymentLine
}

// PaymentSettled: the bank confirmed the payment.
type PaymentSettled struct {
	PaymentLine
	BankReference string `json:"bank_reference"`
	SettledOn     Date   `json:"settled_on"`
}

// PaymentFailed: the bank returned the payment unpaid; the money was not spent.
type PaymentFailed struct {
	PaymentLine
	Reason   string `json:"reason"`
	FailedOn Date   `json:"failed_on"`
}

// PaymentReversed: a settled payment was taken back (a correction).
type PaymentReversed struct {
	PaymentLine
	Reason     string `json:"reason"`
	ReversedOn Date   `json:"reversed_on"`
}

// PaymentsIssued: an approved batch issued these payments, in one chunk of
// one payments shard. Each entry is a full PaymentIssued.
type PaymentsIssued struct {
	BatchID  string          `json:"batch_id"`
	Payments []PaymentIssued `json:"payments"`
}

// PaymentsSettled: a bank return file settled these payments. One event
// per file rather than per payment, so reconciling a 100,000-line return is
// one event to append; each entry is a full PaymentSettled.
type PaymentsSettled struct {
	BatchID    string           `json:"batch_id"`
	FileSHA256 string           `json:"file_sha256,omitempty"` // the return file
	Payments   []PaymentSettled `json:"payments"`
}

// PaymentsFailed: a bank return file failed these payments.
type PaymentsFailed struct {
	BatchID    string          `json:"batch_id"`
	FileSHA256 string          `json:"file_sha256,omitempty"` // the return file
	Payments   []PaymentFailed `json:"payments"`
}

// PaymentsSettledLate: a later return file reported paid these payments
// an earlier one reported failed — the bank paid after all. Each payment
// counts as paid again; a re-issue of the month not yet issued is withheld
// on approval, and one issued already is an overpayment to claim back.
type PaymentsSettledLate struct {
	BatchID    string           `json:"batch_id"`
	FileSHA256 string           `json:"file_sha256"` // the return file
	Payments   []PaymentSettled `json:"payments"`
}

func (PaymentsSettledLate) EventType() string { return TypePaymentsSettledLate }
func (PaymentsIssued) EventType() string      { return TypePaymentsIssued }
func (PaymentsSettled) EventType() string     { return TypePaymentsSettled }
func (PaymentsFailed) EventType() string      { return TypePaymentsFailed }

// OverpaymentClaimed: payments were made for periods the person was not
// entitled to (a death or termination recorded late); the amount is owed back.
type OverpaymentClaimed struct {
	ClaimID    string      `json:"claim_id"`
	PersonID   PersonID    `json:"person_id"`
	Program    ProgramCode `json:"program"`
	Period     Period      `json:"period"`
	Amount     Money       `json:"amount"`
	References []string    `json:"references"` // the payments concerned
	ClaimedOn  Date        `json:"claimed_on"`
}

// OverpaymentRecovered: (part of) a claim was paid back.
type OverpaymentRecovered struct {
	ClaimID     string      `json:"claim_id"`
	PersonID    PersonID    `json:"person_id"`
	Program     ProgramCode `json:"program"`
	Amount      Money       `json:"amount"`
	RecoveredOn Date        `json:"recovered_on"`
}

// OverpaymentWrittenOff: (part of) a claim will not be recovered.
type OverpaymentWrittenOff struct {
	ClaimID      string      `json:"claim_id"`
	PersonID     PersonID    `json:"person_id"`
	Program      ProgramCode `json:"program"`
	Amount       Money       `json:"amount"`
	Reason       string      `json:"reason"`
	WrittenOffOn Date        `json:"written_off_on"`
}

// BudgetAllocated sets a program's budget for a fiscal (calendar) year; a
// later allocation for the same year replaces the earlier one.
type BudgetAllocated struct {
	Program    ProgramCode `json:"program"`
	FiscalYear int         `json:"fiscal_year"`
	Amount     Money       `json:"amount"`
}

func (PaymentIssued) EventType() string         { return TypePaymentIssued }
func (PaymentSettled) EventType() string        { return TypePaymentSettled }
func (PaymentFailed) EventType() string         { return TypePaymentFailed }
func (PaymentReversed) EventType() string       { return TypePaymentReversed }
func (OverpaymentClaimed) EventType() string    { return TypeOverpaymentClaimed }
func (OverpaymentRecovered) EventType() string  { return TypeOverpaymentRecovered }
func (OverpaymentWrittenOff) EventType() string { return TypeOverpaymentWrittenOff }
func (BudgetAllocated) EventType() string       { return TypeBudgetAllocated }

func (e PaymentIssued) EffectiveOn() Date         { return e.PaidOn }
func (e PaymentSettled) EffectiveOn() Date        { return e.SettledOn }
func (e PaymentFailed) EffectiveOn() Date         { return e.FailedOn }
func (e PaymentReversed) EffectiveOn() Date       { return e.ReversedOn }
func (e OverpaymentClaimed) EffectiveOn() Date    { return e.ClaimedOn }
func (e OverpaymentRecovered) EffectiveOn() Date  { return e.RecoveredOn }
func (e OverpaymentWrittenOff) EffectiveOn() Date { return e.WrittenOffOn }

// NewLedgerRegistry decodes every event type the ledger writes.
func NewLedgerRegistry() *Registry {
	r := NewBeneficiaryRegistry()
	r.Add(
		func() Event { return new(PaymentIssued) },
		func() Event { return new(PaymentSettled) },
		func() Event { return new(PaymentFailed) },
		func() Event { return new(PaymentReversed) },
		func() Event { return new(OverpaymentClaimed) },
		func() Event { return new(OverpaymentRecovered) },
		func() Event { return new(OverpaymentWrittenOff) },
		func() Event { return new(OverpaymentCancelled) },
		func() Event { return new(BudgetAllocated) },
		func() Event { return new(PaymentsSettled) },
		func() Event { return new(PaymentsFailed) },
		func() Event { return new(PaymentsIssued) },
		func() Event { return new(PaymentsSettledLate) },
	)
	r.Add(payrollEventProtos()...)
	r.Add(noticeEventProtos()...)
	r.Add(rosterEventProtos()...)
	r.Upcast(TypeRosterDifferencesFoundV1, TypeRosterDifferencesFound, upcastRosterDifferencesV1)
	r.Add(budgetEventProtos()...)
	return r
}
