package domain

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
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
	TypeBatchDrafted  = "payroll.BatchDrafted.v1"
	TypeBatchApproved = "payroll.BatchApproved.v1"
	TypeBatchRejected = "payroll.BatchRejected.v1"
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

func (BatchDrafted) EventType() string   { return TypeBatchDrafted }
func (BatchApproved) EventType() string  { return TypeBatchApproved }
func (BatchRejected) EventType() string  { return TypeBatchRejected }
func (e BatchDrafted) EffectiveOn() Date { return e.PaidOn }
func payrollEventProtos() []func() Event {
	return []func() Event{
		func() Event { return new(BatchDrafted) },
		func() Event { return new(BatchApproved) },
		func() Event { return new(BatchRejected) },
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

// PayrollState is one program-and-period payroll stream folded.
type PayrollState struct {
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
	if s.Batches == nil || s.Paid == nil || s.Failed == nil {
		s.Batches, s.Paid, s.Failed = map[string]*PayrollBatch{}, map[PersonPeriod]Money{}, map[PersonPeriod]bool{}
	}
	adjust := func(l PaymentLine, sign int) {
		k := PersonPeriod{l.PersonID, l.Period}
		if sign > 0 {
			s.Paid[k] = s.Paid[k].Add(l.Amount)
			return
		}
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
	case *PaymentIssued:
		adjust(e.PaymentLine, +1)
	case *PaymentFailed:
		adjust(e.PaymentLine, -1)
		s.Failed[PersonPeriod{e.PersonID, e.Period}] = true
	case *PaymentReversed:
		adjust(e.PaymentLine, -1)
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
