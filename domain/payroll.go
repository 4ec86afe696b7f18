package domain

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Monthly payroll: a finance user drafts a batch for a program and a period
// from the entitlements in force, another approves it, and the approval
// issues the payments. Everything lives in the payroll stream of the
// program and period (PayrollStream), appended at an exact revision, so
// two runs for the same program and period cannot both pay: the second
// finds the stream moved and is decided again, against the payments the
// first one issued.

// Event types of payroll batches.
const (
	TypeBatchDrafted   = "payroll.BatchDrafted.v1"
	TypeBatchApproved  = "payroll.BatchApproved.v1"
	TypeBatchRejected  = "payroll.BatchRejected.v1"
	TypeBatchExported  = "payroll.BatchExported.v1"
	TypeReturnImported = "payroll.ReturnImported.v1"
)

// RuleNothingToPay: a draft found no payment owed.
const RuleNothingToPay = "nothing_to_pay"

// PayrollLine is one payment a batch will make, with the data it was
// computed from frozen in it.
type PayrollLine struct {
	Reference string      `json:"reference"`
	PersonID  PersonID    `json:"person_id"`
	Kind      PaymentKind `json:"kind"`
	Period    Period      `json:"period"` // the month paid for
	Amount    Money       `json:"amount"`
	Township  string      `json:"township"`
}

// BatchDrafted: a payroll batch was computed and waits for approval.
type BatchDrafted struct {
	BatchID   string        `json:"batch_id"`
	Program   ProgramCode   `json:"program"`
	Period    Period        `json:"period"`
	PaidOn    Date          `json:"paid_on"`
	DraftedBy string        `json:"drafted_by"`
	Lines     []PayrollLine `json:"lines"`
	Count     int           `json:"count"`
	Total     Money         `json:"total"`
}

// BatchApproved: a second finance user approved the batch; its payments
// (PaymentIssued events) follow in the same append.
type BatchApproved struct {
	BatchID    string      `json:"batch_id"`
	Program    ProgramCode `json:"program"`
	Period     Period      `json:"period"`
	ApprovedBy string      `json:"approved_by"`
}

// BatchRejected: the batch was rejected; a new one may be drafted.
type BatchRejected struct {
	BatchID    string      `json:"batch_id"`
	Program    ProgramCode `json:"program"`
	Period     Period      `json:"period"`
	RejectedBy string      `json:"rejected_by"`
	Reason     string      `json:"reason"`
}

// BatchExported: the bank payment file of an approved batch was written.
type BatchExported struct {
	BatchID    string `json:"batch_id"`
	Format     string `json:"format"`
	Encoding   string `json:"encoding"`
	FileSHA256 string `json:"file_sha256"`
	Count      int    `json:"count"`
	Total      Money  `json:"total"`
	ExportedBy string `json:"exported_by"`
}

// ReturnImported: a bank return file was reconciled against the batch; the
// settlement and failure events it caused follow in the same append.
type ReturnImported struct {
	BatchID    string `json:"batch_id"`
	FileSHA256 string `json:"file_sha256"`
	Lines      int    `json:"lines"`
	Settled    int    `json:"settled"`
	Failed     int    `json:"failed"`
	Exceptions int    `json:"exceptions"` // mismatched, unknown and duplicate lines
	ImportedBy string `json:"imported_by"`
}

func (BatchExported) EventType() string  { return TypeBatchExported }
func (ReturnImported) EventType() string { return TypeReturnImported }
func (BatchDrafted) EventType() string   { return TypeBatchDrafted }
func (BatchApproved) EventType() string  { return TypeBatchApproved }
func (BatchRejected) EventType() string  { return TypeBatchRejected }
func (e BatchDrafted) EffectiveOn() Date { return e.PaidOn }
func payrollEventProtos() []func() Event {
	return []func() Event{
		func() Event { return new(BatchDrafted) },
		func() Event { return new(BatchApproved) },
		func() Event { return new(BatchRejected) },
		func() Event { return new(BatchExported) },
		func() Event { return new(ReturnImported) },
	}
}

// PersonPeriod keys a payment: who, and for which month.
type PersonPeriod struct {
	Person PersonID
	Period Period
}

// Batch states.
const (
	BatchStateDrafted  = "drafted"
	BatchStateApproved = "approved"
	BatchStateRejected = "rejected"
)

// PayrollBatch is a batch as its stream tells it.
type PayrollBatch struct {
	Drafted BatchDrafted
	State   string
}

// BatchID names the n-th batch of a program and period, e.g.
// "living_subsidy.2025-01.1".
func BatchID(program ProgramCode, period Period, n int) string {
	return fmt.Sprintf("%s.%s.%d", program, period, n)
}

// ParseBatchID splits a batch ID into its program and period.
func ParseBatchID(field, id string) (ProgramCode, Period, error) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 {
		return "", Period{}, Invalid(field, "%q is not a batch ID like living_subsidy.2025-01.1", id)
	}
	program, err := ParseProgramCode(field, parts[0])
	if err != nil {
		return "", Period{}, err
	}
	period, err := ParsePeriod(field, parts[1])
	if err != nil {
		return "", Period{}, err
	}
	if n, err := strconv.Atoi(parts[2]); err != nil || n < 1 || strconv.Itoa(n) != parts[2] {
		return "", Period{}, Invalid(field, "%q does not end in a batch number", id)
	}
	return program, period, nil
}

// PayrollState is one program-and-period payroll stream folded.
type PayrollState struct {
	// Refs lists the references of the payments counted in Paid.
	Refs map[PersonPeriod][]string
	// Claimed is what overpayment claims of this stream ask back, per
	// person and month.
	Claimed map[PersonPeriod]Money
	// Imported holds the SHA-256 of every return file reconciled.
	Imported map[string]bool
	// Status is each payment's state by reference: issued, settled,
	// failed or reversed.
	Status  map[string]string
	Batches map[string]*PayrollBatch
	// Paid is what was issued, net of failures and reversals, per person
	// and month paid for, by this stream's batches.
	Paid map[PersonPeriod]Money
	// Failed marks months whose payment from this stream failed.
	Failed map[PersonPeriod]bool
}

// Pending returns the batch waiting for approval, if any.
func (s PayrollState) Pending() (*PayrollBatch, bool) {
	for _, id := range slices.Sorted(maps.Keys(s.Batches)) {
		if b := s.Batches[id]; b.State == BatchStateDrafted {
			return b, true
		}
	}
	return nil, false
}

// EvolvePayroll folds one event of a payroll stream into s (in place; the
// caller owns s).
func EvolvePayroll(s *PayrollState, e Event) {
	if s.Batches == nil || s.Paid == nil || s.Failed == nil || s.Status == nil || s.Imported == nil || s.Refs == nil || s.Claimed == nil {
		s.Batches, s.Paid, s.Failed, s.Status = map[string]*PayrollBatch{}, map[PersonPeriod]Money{}, map[PersonPeriod]bool{}, map[string]string{}
		s.Imported, s.Refs, s.Claimed = map[string]bool{}, map[PersonPeriod][]string{}, map[PersonPeriod]Money{}
	}
	adjust := func(l PaymentLine, sign int) {
		k := PersonPeriod{l.PersonID, l.Period}
		if sign > 0 {
			s.Paid[k] = s.Paid[k].Add(l.Amount)
			s.Refs[k] = append(s.Refs[k], l.Reference)
			return
		}
		s.Refs[k] = slices.DeleteFunc(slices.Clone(s.Refs[k]), func(r string) bool { return r == l.Reference })
		if v, err := s.Paid[k].Sub(l.Amount); err == nil {
			s.Paid[k] = v
		} else {
			s.Paid[k] = Money{}
		}
	}
	switch e := e.(type) {
	case *BatchDrafted:
		s.Batches[e.BatchID] = &PayrollBatch{Drafted: *e, State: BatchStateDrafted}
	case *BatchApproved:
		if b := s.Batches[e.BatchID]; b != nil {
			b.State = BatchStateApproved
		}
	case *BatchRejected:
		if b := s.Batches[e.BatchID]; b != nil {
			b.State = BatchStateRejected
		}
	case *ReturnImported:
		s.Imported[e.FileSHA256] = true
	case *OverpaymentClaimed:
		k := PersonPeriod{e.PersonID, e.Period}
		s.Claimed[k] = s.Claimed[k].Add(e.Amount)
	case *PaymentIssued:
		adjust(e.PaymentLine, +1)
		s.Status[e.Reference] = "issued"
	case *PaymentSettled:
		s.Status[e.Reference] = "settled"
	case *PaymentsSettled:
		for _, p := range e.Payments {
			s.Status[p.Reference] = "settled"
		}
	case *PaymentFailed:
		adjust(e.PaymentLine, -1)
		s.Failed[PersonPeriod{e.PersonID, e.Period}] = true
		s.Status[e.Reference] = "failed"
	case *PaymentsFailed:
		for _, p := range e.Payments {
			adjust(p.PaymentLine, -1)
			s.Failed[PersonPeriod{p.PersonID, p.Period}] = true
			s.Status[p.Reference] = "failed"
		}
	case *PaymentReversed:
		adjust(e.PaymentLine, -1)
		s.Status[e.Reference] = "reversed"
	}
}

// PayrollPerson is what a draft needs about one person: where they live
// and every decision about their entitlement to the program.
type PayrollPerson struct {
	PersonID PersonID
	Township string
	Changes  []EntitlementChange
}

// DraftPayroll is the command to compute a batch.
type DraftPayroll struct {
	// Today bounds the period: a batch may be drafted for next month at
	// the latest. Zero skips the check.
	Today     Date
	BatchID   string
	Program   ProgramCode
	Period    Period
	PaidOn    Date
	DraftedBy string
	Persons   []PayrollPerson
	// PaidElsewhere is what other payroll streams of the program (other
	// periods' batches) paid per person and month.
	PaidElsewhere map[PersonPeriod]Money
}

// DecideDraft computes the batch: for every person, every month up to the
// period that MonthsOwed says is owed, less what was already paid for it in
// any batch — the period's own payment (regular), earlier months not or not
// fully paid (arrears: a backdated grant, a backdated rate rise), and
// months whose payment failed (reissue). Suspended, terminated and deceased
// persons owe nothing for the months concerned. A second draft while one
// waits for approval is a conflict.
func DecideDraft(s PayrollState, c DraftPayroll) ([]Event, error) {
	switch {
	case c.BatchID == "" || len(c.BatchID) > 64:
		return nil, Invalid("batch_id", "must be 1 to 64 characters")
	case c.Period.IsZero():
		return nil, Invalid("period", "is required")
	case c.PaidOn.IsZero():
		return nil, Invalid("paid_on", "is required")
	case c.DraftedBy == "":
		return nil, Invalid("drafted_by", "is required")
	}
	if !c.Today.IsZero() && c.Period.Compare(c.Today.Period().Next()) > 0 {
		return nil, Invalid("period", "%s is more than a month ahead; payroll pays what is owed now", c.Period)
	}
	if c.PaidOn.Before(c.Period.First().AddDays(-31)) || c.PaidOn.After(c.Period.Last().AddDays(366)) {
		return nil, Invalid("paid_on", "%s is too far from %s: payments of a month are made from the month before to a year after", c.PaidOn, c.Period)
	}
	prog, ok := LookupProgram(c.Program)
	if !ok {
		return nil, Invalid("program", "unknown program %q", c.Program)
	}
	if prog.Shape != ShapeMonthly {
		return nil, Invalid("program", "%s is not paid monthly; payroll runs monthly programs", c.Program)
	}
	if _, dup := s.Batches[c.BatchID]; dup {
		return nil, &ConflictError{Reason: fmt.Sprintf("batch %s exists already", c.BatchID)}
	}
	if b, ok := s.Pending(); ok {
		return nil, &ConflictError{Reason: fmt.Sprintf("batch %s for %s %s waits for approval; approve or reject it first", b.Drafted.BatchID, c.Program, c.Period)}
	}
	var lines []PayrollLine
	total := Money{}
	persons := slices.Clone(c.Persons)
	slices.SortFunc(persons, func(a, b PayrollPerson) int { return cmp.Compare(a.PersonID, b.PersonID) })
	for _, p := range persons {
		for _, owed := range MonthsOwed(c.Program, p.Changes, Period{year: 1900, month: time.January}, c.Period) {
			k := PersonPeriod{p.PersonID, owed.Period}
			paid := s.Paid[k].Add(c.PaidElsewhere[k])
			due, err := owed.Amount.Sub(paid)
			if err != nil || due.IsZero() {
				continue // paid in full (or more: an overpayment is claimed elsewhere)
			}
			kind := PaymentArrears
			switch {
			case s.Failed[k]:
				kind = PaymentReissue
			case owed.Period == c.Period:
				kind = PaymentRegular
			}
			lines = append(lines, PayrollLine{
				Reference: fmt.Sprintf("%s-%s-%s", c.BatchID, p.PersonID, owed.Period),
				PersonID:  p.PersonID, Kind: kind, Period: owed.Period, Amount: due, Township: p.Township,
			})
			total = total.Add(due)
		}
	}
	if len(lines) == 0 {
		return nil, Violation(RuleNothingToPay, "%s %s: nothing is owed that was not paid already", c.Program, c.Period)
	}
	return []Event{BatchDrafted{
		BatchID: c.BatchID, Program: c.Program, Period: c.Period, PaidOn: c.PaidOn, DraftedBy: c.DraftedBy,
		Lines: lines, Count: len(lines), Total: total,
	}}, nil
}

// DecideApproval approves a drafted batch: another user than the one who
// drafted it. It issues every line as a PaymentIssued.
func DecideApproval(s PayrollState, batchID, approvedBy string) ([]Event, error) {
	b, err := draftedBatch(s, batchID)
	if err != nil {
		return nil, err
	}
	if approvedBy == "" {
		return nil, Invalid("approved_by", "is required")
	}
	if approvedBy == b.Drafted.DraftedBy {
		return nil, Violation(RuleMakerChecker, "%s drafted batch %s and may not approve it: another finance user must", approvedBy, batchID)
	}
	d := b.Drafted
	out := []Event{BatchApproved{BatchID: d.BatchID, Program: d.Program, Period: d.Period, ApprovedBy: approvedBy}}
	for _, l := range d.Lines {
		out = append(out, PaymentIssued{PaymentLine: PaymentLine{
			Reference: l.Reference, BatchID: d.BatchID, PersonID: l.PersonID, Program: d.Program, Period: l.Period,
			Kind: l.Kind, Amount: l.Amount, Township: l.Township, PaidOn: d.PaidOn,
		}})
	}
	return out, nil
}

// DecideRejection rejects a drafted batch.
func DecideRejection(s PayrollState, batchID, rejectedBy, reason string) ([]Event, error) {
	b, err := draftedBatch(s, batchID)
	if err != nil {
		return nil, err
	}
	if rejectedBy == "" {
		return nil, Invalid("rejected_by", "is required")
	}
	if reason == "" {
		return nil, Invalid("reason", "is required: say why the batch is rejected")
	}
	d := b.Drafted
	return []Event{BatchRejected{BatchID: d.BatchID, Program: d.Program, Period: d.Period, RejectedBy: rejectedBy, Reason: reason}}, nil
}

func draftedBatch(s PayrollState, batchID string) (*PayrollBatch, error) {
	b := s.Batches[batchID]
	switch {
	case b == nil:
		return nil, fmt.Errorf("batch %s: %w", batchID, ErrNotFound)
	case b.State != BatchStateDrafted:
		return nil, &ConflictError{Reason: fmt.Sprintf("batch %s is already %s", batchID, b.State)}
	}
	return b, nil
}

// DecideExport records that an approved batch's payment file was written.
func DecideExport(s PayrollState, e BatchExported) ([]Event, error) {
	b := s.Batches[e.BatchID]
	switch {
	case b == nil:
		return nil, fmt.Errorf("batch %s: %w", e.BatchID, ErrNotFound)
	case b.State != BatchStateApproved:
		return nil, Violation("batch_not_approved", "batch %s is %s: only an approved batch is sent to the bank", e.BatchID, b.State)
	}
	return []Event{e}, nil
}

// Settlement is one line of a bank return file the reconciliation applies.
type Settlement struct {
	Reference     string
	Failed        bool
	Reason        string // of a failure
	BankReference string
	On            Date
}

// DecideReturn applies a reconciled return file to an approved batch:
// every issued payment the file settles or fails gets its event; payments
// already settled or failed are left alone, so importing the same file
// twice changes nothing (and a file already imported is refused).
func DecideReturn(s PayrollState, imported ReturnImported, lines []Settlement) ([]Event, error) {
	b := s.Batches[imported.BatchID]
	switch {
	case b == nil:
		return nil, fmt.Errorf("batch %s: %w", imported.BatchID, ErrNotFound)
	case b.State != BatchStateApproved:
		return nil, Violation("batch_not_approved", "batch %s is %s: only an approved batch has payments to reconcile", imported.BatchID, b.State)
	case s.Imported[imported.FileSHA256]:
		return nil, &ConflictError{Reason: fmt.Sprintf("this return file was already imported into batch %s; nothing changes", imported.BatchID)}
	}
	byRef := map[string]PayrollLine{}
	for _, l := range b.Drafted.Lines {
		byRef[l.Reference] = l
	}
	settled := PaymentsSettled{BatchID: imported.BatchID}
	failed := PaymentsFailed{BatchID: imported.BatchID}
	for _, st := range lines {
		l, ok := byRef[st.Reference]
		if !ok || s.Status[st.Reference] != "issued" {
			continue
		}
		pl := PaymentLine{Reference: l.Reference, BatchID: b.Drafted.BatchID, PersonID: l.PersonID, Program: b.Drafted.Program,
			Period: l.Period, Kind: l.Kind, Amount: l.Amount, Township: l.Township, PaidOn: b.Drafted.PaidOn}
		if st.Failed {
			failed.Payments = append(failed.Payments, PaymentFailed{PaymentLine: pl, Reason: st.Reason, FailedOn: st.On})
		} else {
			settled.Payments = append(settled.Payments, PaymentSettled{PaymentLine: pl, BankReference: st.BankReference, SettledOn: st.On})
		}
	}
	out := []Event{imported}
	if len(settled.Payments) > 0 {
		out = append(out, settled)
	}
	if len(failed.Payments) > 0 {
		out = append(out, failed)
	}
	return out, nil
}

// Paid is what a program's payroll streams paid (and claimed back) per
// person and month, gathered across periods.
type Paid struct {
	Amount  map[PersonPeriod]Money
	Refs    map[PersonPeriod][]string
	Claimed map[PersonPeriod]Money
}

// Add folds one stream's state into p.
func (p *Paid) Add(s PayrollState) {
	if p.Amount == nil {
		p.Amount, p.Refs, p.Claimed = map[PersonPeriod]Money{}, map[PersonPeriod][]string{}, map[PersonPeriod]Money{}
	}
	for k, v := range s.Paid {
		p.Amount[k] = p.Amount[k].Add(v)
	}
	for k, v := range s.Refs {
		p.Refs[k] = append(p.Refs[k], v...)
	}
	for k, v := range s.Claimed {
		p.Claimed[k] = p.Claimed[k].Add(v)
	}
}

// DecideClaims finds overpayments: months for which a person was paid more
// than MonthsOwed says was owed — a death or termination recorded late with
// an earlier effective date, a backdated suspension — less what was claimed
// already. Each becomes an OverpaymentClaimed linked to the payments of
// that month, claimed on day on.
func DecideClaims(program ProgramCode, persons []PayrollPerson, paid Paid, on Date) []Event {
	owed := map[PersonPeriod]Money{}
	for _, p := range persons {
		for _, m := range MonthsOwed(program, p.Changes, Period{year: 1900, month: time.January}, on.Period()) {
			owed[PersonPeriod{p.PersonID, m.Period}] = m.Amount
		}
	}
	keys := slices.Collect(maps.Keys(paid.Amount))
	slices.SortFunc(keys, func(a, b PersonPeriod) int {
		if c := cmp.Compare(a.Person, b.Person); c != 0 {
			return c
		}
		return a.Period.Compare(b.Period)
	})
	var out []Event
	for _, k := range keys {
		over, err := paid.Amount[k].Sub(owed[k])
		if err != nil || over.IsZero() {
			continue
		}
		if over, err = over.Sub(paid.Claimed[k]); err != nil || over.IsZero() {
			continue // claimed already
		}
		refs := slices.Clone(paid.Refs[k])
		slices.Sort(refs)
		out = append(out, OverpaymentClaimed{
			ClaimID: fmt.Sprintf("ovp-%s-%s-%s", k.Person, k.Period, on), PersonID: k.Person, Program: program,
			Period: k.Period, Amount: over, References: refs, ClaimedOn: on,
		})
	}
	return out
}
