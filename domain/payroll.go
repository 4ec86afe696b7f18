package domain

import (
	"cmp"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Payroll is decided in two kinds of stream (docs/payroll.md):
//
//   - payroll-<program> (PayrollStream) holds the program's batches:
//     opened, drafted, approved, issued, rejected, released, exported, and
//     the bank return files imported. It decides a batch's life — one
//     batch waiting per program and period, maker-checker, approve or
//     reject once.
//   - payments-<program>.<x> (PaymentsStream), one of PaymentShards
//     shards, holds every line that reserves, pays, fails, releases or
//     claims back a month of the persons whose ID begins with the hex
//     digit x. It is the consistency boundary of never-twice: every line
//     that can pay a person's month — regular, arrears or reissue, of
//     whichever batch and period — is decided in the shard of that person
//     at an exact expected revision, against every other line of that
//     person and program.
//
// A batch is drafted by reserving its lines shard by shard, approved by
// issuing the reserved lines shard by shard, and rejected by releasing
// them; each step is appended in chunks (MaxChunkBytes), each chunk at the
// exact revision it was decided on, so a long step can stop anywhere and
// be resumed: deciding again on the shard as it stands gives exactly the
// lines still to do.

// Event types of a program's payroll stream.
const (
	TypeBatchOpened    = "payroll.BatchOpened.v1"
	TypeBatchDrafted   = "payroll.BatchDrafted.v2"
	TypeBatchApproved  = "payroll.BatchApproved.v1"
	TypeBatchIssued    = "payroll.BatchIssued.v1"
	TypeBatchRejected  = "payroll.BatchRejected.v1"
	TypeBatchReleased  = "payroll.BatchReleased.v1"
	TypeBatchExported  = "payroll.BatchExported.v1"
	TypeReturnImported = "payroll.ReturnImported.v1"
	TypeReturnStarted  = "payroll.ReturnStarted.v1"
)

// Event types of a payments shard besides the payment events
// (payments.go).
const (
	TypeLinesReserved = "payroll.LinesReserved.v1"
	TypeLinesReleased = "payroll.LinesReleased.v1"
)

// Rule codes of payroll.
const (
	RuleNothingToPay     = "nothing_to_pay"
	RuleBatchNotApproved = "batch_not_approved"
)

// PaymentShards is the number of payment shards per program. Never change
// it: a person's months must always be decided in the same stream.
const PaymentShards = 16

// PaymentShard returns the shard of a person: the value of the first hex
// digit of the ID.
func PaymentShard(p PersonID) int {
	if p == "" {
		return 0
	}
	switch c := p[0]; {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return 0
}

// PayrollStream is the stream of a program's batches.
func PayrollStream(program ProgramCode) string { return PayrollStreamPrefix + string(program) }

// PaymentsStream is one shard of a program's payment ledger.
func PaymentsStream(program ProgramCode, shard int) string {
	return fmt.Sprintf("%s%s.%x", PaymentsStreamPrefix, program, shard)
}

// Bounds of events and appends: EventStoreDB refuses appends over 1 MiB
// by default and events over 16 MB; the ledger stays well inside both.
const (
	MaxEventBytes  = 256 << 10
	MaxAppendBytes = 512 << 10
	// MaxChunkBytes bounds the JSON of the lines one chunk event carries,
	// leaving room for the rest of the event and its metadata.
	MaxChunkBytes = 200 << 10
)

// PayrollLine is one payment a batch makes, with the data it was computed
// from frozen in it.
type PayrollLine struct {
	Reference string      `json:"reference"`
	PersonID  PersonID    `json:"person_id"`
	Kind      PaymentKind `json:"kind"`
	Period    Period      `json:"period"` // the month paid for
	Amount    Money       `json:"amount"`
	Township  string      `json:"township"`
}

// ReferenceLen is the length of a payment reference: it is written in the
// bank file's reference column and often copied into the remark field of a
// bank's batch system, so it is made to fit the usual 32-character limit
// and holds only lowercase letters and digits.
const ReferenceLen = 32

// LineReference is the payment reference of a batch's line for a person's
// month, sent to the bank and echoed back in its return file: the
// program's tag, the batch code, the person ID and the month paid as YYMM,
// e.g. "ls" "k3fq7a" "a1b2c3d4e5f60718293a" "2501" =
// "lsk3fq7aa1b2c3d4e5f60718293a2501" (ReferenceLen characters). It is
// unique: a batch pays a person's month at most once, no two batches of a
// program share a code (DecideOpen), and programs differ in tag.
func LineReference(batchID string, person PersonID, month Period) string {
	program, code, _ := strings.Cut(batchID, ".")
	code = code[strings.LastIndexByte(code, '.')+1:]
	tag := "xx"
	if p, ok := LookupProgram(ProgramCode(program)); ok {
		tag = p.Tag
	}
	return fmt.Sprintf("%s%s%s%02d%02d", tag, code, person, month.Year()%100, int(month.Month()))
}

// ReferenceShard returns the payment shard of the person a reference
// LineReference wrote names; false for a reference of another form.
func ReferenceShard(ref string) (int, bool) {
	const person = ReferenceLen - personIDLen - 4 // after the tag and the batch code
	if len(ref) != ReferenceLen {
		return 0, false
	}
	switch c := ref[person]; {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		return PaymentShard(PersonID(ref[person : person+1])), true
	}
	return 0, false
}

// PaymentMemo is the memo (备注) of a payment in the bank file, in Chinese
// for the person who reads it on a bank statement: the month paid and the
// program, and why when the month is not the batch's own, e.g.
// "2025年1月 困难残疾人生活补贴" or "2024年12月 困难残疾人生活补贴（补发）".
func PaymentMemo(program ProgramCode, month Period, kind PaymentKind) string {
	name := string(program)
	if p, ok := LookupProgram(program); ok {
		name = p.Name
	}
	memo := fmt.Sprintf("%d年%d月 %s", month.Year(), int(month.Month()), name)
	if p, ok := LookupProgram(program); ok && p.Shape == ShapeAnnual {
		memo = fmt.Sprintf("%d年 %s", month.Year(), name) // the year's allowance
	}
	switch kind {
	case PaymentArrears:
		memo += "（补发）"
	case PaymentReissue:
		memo += "（重发）"
	}
	return memo
}

// BatchOpened: a finance user started drafting a batch of a program for a
// period; its lines are reserved in the payment shards next.
type BatchOpened struct {
	BatchID   string      `json:"batch_id"`
	Program   ProgramCode `json:"program"`
	Period    Period      `json:"period"`
	PaidOn    Date        `json:"paid_on"`
	DraftedBy string      `json:"drafted_by"`
}

// BatchDrafted: every shard's lines were reserved; the batch waits for
// approval. It sums the lines, which live in the shards (LinesReserved).
type BatchDrafted struct {
	BatchID   string      `json:"batch_id"`
	Program   ProgramCode `json:"program"`
	Period    Period      `json:"period"`
	PaidOn    Date        `json:"paid_on"`
	DraftedBy string      `json:"drafted_by"`
	Lines     CountTotal  `json:"lines"`
	Regular   CountTotal  `json:"regular"`
	Arrears   CountTotal  `json:"arrears"`
	Reissue   CountTotal  `json:"reissue"`
}

// BatchApproved: a second finance user approved the batch; its lines are
// issued in the payment shards next.
type BatchApproved struct {
	BatchID    string      `json:"batch_id"`
	Program    ProgramCode `json:"program"`
	Period     Period      `json:"period"`
	ApprovedBy string      `json:"approved_by"`
}

// BatchIssued: every reserved line of an approved batch was issued, or
// withheld because its month was no longer owed when approved.
type BatchIssued struct {
	BatchID  string      `json:"batch_id"`
	Program  ProgramCode `json:"program"`
	Period   Period      `json:"period"`
	Issued   CountTotal  `json:"issued"`
	Withheld CountTotal  `json:"withheld"`
}

// BatchRejected: the batch was rejected; its reserved lines are released
// in the payment shards next.
type BatchRejected struct {
	BatchID    string      `json:"batch_id"`
	Program    ProgramCode `json:"program"`
	Period     Period      `json:"period"`
	RejectedBy string      `json:"rejected_by"`
	Reason     string      `json:"reason"`
}

// BatchReleased: every line of a rejected batch was released.
type BatchReleased struct {
	BatchID  string      `json:"batch_id"`
	Program  ProgramCode `json:"program"`
	Period   Period      `json:"period"`
	Released CountTotal  `json:"released"`
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

// ReturnStarted: the reconciliation of a bank return file against the
// batch began; its settlements and failures follow in the payment shards
// (PaymentsSettled, PaymentsFailed, PaymentsSettledLate, each tagged with
// the file), and ReturnImported ends it. Until then the batch shows the
// reconciliation as a step in progress, which importing the same file
// again finishes.
type ReturnStarted struct {
	BatchID    string `json:"batch_id"`
	FileSHA256 string `json:"file_sha256"`
	Lines      int    `json:"lines"` // the file's payment lines
	StartedBy  string `json:"started_by"`
}

// ReturnImported: a bank return file was reconciled against the batch:
// its settlements and failures are in the payment shards, and these are
// its figures.
type ReturnImported struct {
	BatchID    string `json:"batch_id"`
	FileSHA256 string `json:"file_sha256"`
	Lines      int    `json:"lines"`
	Settled    int    `json:"settled"`
	Failed     int    `json:"failed"`
	Exceptions int    `json:"exceptions"`          // lines not applied for a person to look at: mismatched, unknown, duplicate, conflicting, contradicting
	Late       int    `json:"late,omitempty"`      // failed before, settled late
	Unchanged  int    `json:"unchanged,omitempty"` // settled or failed before, reported so again
	ImportedBy string `json:"imported_by"`
}

// LinesReserved: a batch being drafted reserved these lines in a payment
// shard. A reserved line is the one line that pays its month until it is
// released (batch rejected, or withheld on approval) or paid.
type LinesReserved struct {
	BatchID string        `json:"batch_id"`
	Program ProgramCode   `json:"program"`
	Period  Period        `json:"period"` // the batch's period
	PaidOn  Date          `json:"paid_on"`
	Lines   []PayrollLine `json:"lines"`
}

// LinesReleased: reserved lines of a batch no longer pay their months —
// the batch was rejected (Closed: the batch reserves nothing more in this
// shard), or a line was withheld on approval because its month was no
// longer owed.
type LinesReleased struct {
	BatchID    string      `json:"batch_id"`
	Program    ProgramCode `json:"program"`
	Reason     string      `json:"reason"`
	References []string    `json:"references"`
	Closed     bool        `json:"closed,omitempty"`
}

func (BatchOpened) EventType() string    { return TypeBatchOpened }
func (BatchDrafted) EventType() string   { return TypeBatchDrafted }
func (BatchApproved) EventType() string  { return TypeBatchApproved }
func (BatchIssued) EventType() string    { return TypeBatchIssued }
func (BatchRejected) EventType() string  { return TypeBatchRejected }
func (BatchReleased) EventType() string  { return TypeBatchReleased }
func (BatchExported) EventType() string  { return TypeBatchExported }
func (ReturnImported) EventType() string { return TypeReturnImported }
func (ReturnStarted) EventType() string  { return TypeReturnStarted }
func (LinesReserved) EventType() string  { return TypeLinesReserved }
func (LinesReleased) EventType() string  { return TypeLinesReleased }
func (e BatchOpened) EffectiveOn() Date  { return e.PaidOn }
func (e BatchDrafted) EffectiveOn() Date { return e.PaidOn }

func payrollEventProtos() []func() Event {
	return []func() Event{
		func() Event { return new(BatchOpened) },
		func() Event { return new(BatchDrafted) },
		func() Event { return new(BatchApproved) },
		func() Event { return new(BatchIssued) },
		func() Event { return new(BatchRejected) },
		func() Event { return new(BatchReleased) },
		func() Event { return new(BatchExported) },
		func() Event { return new(ReturnImported) },
		func() Event { return new(ReturnStarted) },
		func() Event { return new(LinesReserved) },
		func() Event { return new(LinesReleased) },
	}
}

// PersonPeriod keys a payment: who, and for which month.
type PersonPeriod struct {
	Person PersonID
	Period Period
}

// Batch states, in the order a batch goes through them.
const (
	BatchStateDrafting  = "drafting"  // opened; lines being reserved
	BatchStateDrafted   = "drafted"   // waits for approval
	BatchStateIssuing   = "issuing"   // approved; lines being issued
	BatchStateApproved  = "approved"  // issued: sent to the bank
	BatchStateRejecting = "rejecting" // rejected; lines being released
	BatchStateRejected  = "rejected"  // released
)

// batchIDAlphabet writes a batch ID's suffix: lowercase base32.
var batchIDAlphabet = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// BatchIDFor names the batch a draft command opens, from the command
// itself: "living_subsidy.2025-01.k3fq7a". The same command always names
// the same batch, so a retried draft finds the batch it opened.
func BatchIDFor(program ProgramCode, period Period, commandID string) string {
	sum := sha256.Sum256([]byte(commandID))
	return fmt.Sprintf("%s.%s.%s", program, period, batchIDAlphabet.EncodeToString(sum[:4])[:6])
}

// ParseBatchID splits a batch ID into its program and period.
func ParseBatchID(field, id string) (ProgramCode, Period, error) {
	parts := strings.Split(id, ".")
	if len(parts) != 3 || len(id) > 64 {
		return "", Period{}, Invalid(field, "%s is not a batch ID like living_subsidy.2025-01.k3fq7a", quoteTrunc(id))
	}
	program, err := ParseProgramCode(field, parts[0])
	if err != nil {
		return "", Period{}, err
	}
	period, err := ParsePeriod(field, parts[1])
	if err != nil {
		return "", Period{}, err
	}
	if s := parts[2]; len(s) != 6 || strings.ContainsFunc(s, func(c rune) bool { return (c < 'a' || c > 'z') && (c < '2' || c > '7') }) {
		return "", Period{}, Invalid(field, "%s does not end in a batch code of six letters and digits 2-7", quoteTrunc(id))
	}
	return program, period, nil
}

// Batch is a batch as the program's payroll stream tells it.
type Batch struct {
	Opened     BatchOpened
	State      string
	OpenedBy   string // command ID of the draft
	OpenedAt   time.Time
	Drafted    *BatchDrafted
	DraftedAt  Position
	Approved   *BatchApproved
	ApprovedBy string // command ID of the approval
	ApprovedAt time.Time
	Issued     *BatchIssued
	IssuedAt   Position
	Rejected   *BatchRejected
	RejectedBy string // command ID of the rejection
	Released   *BatchReleased
	ReleasedAt Position
	Exports    []BatchExported
	Imports    []ReturnImported
	// Reconciling lists the return files whose reconciliation began and
	// has not ended (ReturnStarted without its ReturnImported).
	Reconciling []ReturnStarted
}

// PayrollProgram is a program's payroll stream folded.
type PayrollProgram struct {
	Batches map[string]*Batch
	// ByCommand maps the command ID of every draft, approval and
	// rejection to its batch, so a retried command finds what it did.
	ByCommand map[string]string
	// Imported holds every return file reconciled, by its SHA-256.
	Imported map[string]ReturnImported
	// Exported holds every export recorded, by its command ID.
	Exported map[string]BatchExported
	// Positions holds, per command ID, where its last event in this
	// stream landed: a retried command answers with it.
	Positions map[string]Position
}

// NewPayrollProgram returns an empty folded payroll stream.
func NewPayrollProgram() PayrollProgram {
	return PayrollProgram{Batches: map[string]*Batch{}, ByCommand: map[string]string{}, Imported: map[string]ReturnImported{},
		Exported: map[string]BatchExported{}, Positions: map[string]Position{}}
}

// EvolvePayrollProgram folds one event of a program's payroll stream into s
// (in place; the caller owns s).
func EvolvePayrollProgram(s *PayrollProgram, env Envelope) {
	cmdID := env.Meta.CommandID
	s.Positions[cmdID] = env.Position
	switch e := env.Event.(type) {
	case *BatchOpened:
		s.Batches[e.BatchID] = &Batch{Opened: *e, State: BatchStateDrafting, OpenedBy: cmdID, OpenedAt: env.Meta.RecordedAt}
		s.ByCommand[cmdID] = e.BatchID
	case *BatchDrafted:
		if b := s.Batches[e.BatchID]; b != nil {
			b.Drafted, b.DraftedAt, b.State = e, env.Position, BatchStateDrafted
		}
	case *BatchApproved:
		if b := s.Batches[e.BatchID]; b != nil {
			b.Approved, b.ApprovedBy, b.ApprovedAt, b.State = e, cmdID, env.Meta.RecordedAt, BatchStateIssuing
			s.ByCommand[cmdID] = e.BatchID
		}
	case *BatchIssued:
		if b := s.Batches[e.BatchID]; b != nil {
			b.Issued, b.IssuedAt, b.State = e, env.Position, BatchStateApproved
		}
	case *BatchRejected:
		if b := s.Batches[e.BatchID]; b != nil {
			b.Rejected, b.RejectedBy, b.State = e, cmdID, BatchStateRejecting
			s.ByCommand[cmdID] = e.BatchID
		}
	case *BatchReleased:
		if b := s.Batches[e.BatchID]; b != nil {
			b.Released, b.ReleasedAt, b.State = e, env.Position, BatchStateRejected
		}
	case *BatchExported:
		if b := s.Batches[e.BatchID]; b != nil {
			b.Exports = append(b.Exports, *e)
		}
		s.Exported[cmdID] = *e
	case *ReturnStarted:
		if b := s.Batches[e.BatchID]; b != nil && !slices.ContainsFunc(b.Reconciling, func(r ReturnStarted) bool { return r.FileSHA256 == e.FileSHA256 }) {
			b.Reconciling = append(b.Reconciling, *e)
		}
	case *ReturnImported:
		if b := s.Batches[e.BatchID]; b != nil {
			b.Imports = append(b.Imports, *e)
			b.Reconciling = slices.DeleteFunc(b.Reconciling, func(r ReturnStarted) bool { return r.FileSHA256 == e.FileSHA256 })
		}
		s.Imported[e.FileSHA256] = *e
	}
}

// Pending returns the batch of period that waits for approval or is still
// being drafted, if any.
func (s PayrollProgram) Pending(period Period) (*Batch, bool) {
	for _, id := range slices.Sorted(maps.Keys(s.Batches)) {
		if b := s.Batches[id]; b.Opened.Period == period && (b.State == BatchStateDrafting || b.State == BatchStateDrafted) {
			return b, true
		}
	}
	return nil, false
}

// Unfinished returns the batches whose last decision is not yet carried
// out in the shards: being drafted, issued or released, oldest first.
func (s PayrollProgram) Unfinished() []*Batch {
	var out []*Batch
	for _, b := range s.Batches {
		switch b.State {
		case BatchStateDrafting, BatchStateIssuing, BatchStateRejecting:
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b *Batch) int {
		return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.Opened.BatchID, b.Opened.BatchID))
	})
	return out
}

// OpenBatch is the command that starts a draft.
type OpenBatch struct {
	BatchID   string
	Program   ProgramCode
	Period    Period
	PaidOn    Date
	DraftedBy string
	// Today bounds the period: a batch may be drafted for next month at
	// the latest.
	Today Date
}

// Validate checks the command's fields on their own.
func (c OpenBatch) Validate() error {
	switch {
	case c.BatchID == "" || len(c.BatchID) > 64:
		return Invalid("batch_id", "must be 1 to 64 characters")
	case c.Period.IsZero():
		return Invalid("period", "is required")
	case c.PaidOn.IsZero():
		return Invalid("paid_on", "is required")
	case c.DraftedBy == "":
		return Invalid("drafted_by", "is required")
	case c.Today.IsZero():
		return Invalid("today", "is required")
	}
	if _, err := PayableProgram("program", c.Program); err != nil {
		return err
	}
	if c.Period.Compare(c.Today.Period().Next()) > 0 {
		return Invalid("period", "%s is more than a month ahead; payroll pays what is owed now", c.Period)
	}
	if c.PaidOn.Before(c.Period.First().AddDays(-31)) || c.PaidOn.After(c.Period.Last().AddDays(366)) {
		return Invalid("paid_on", "%s is too far from %s: payments of a month are made from the month before to a year after", c.PaidOn, c.Period)
	}
	return nil
}

// PayableProgram returns the program if payroll pays it: monthly, annual
// and one-off programs are; in-kind ones (goods handed out) are not.
// field names the input in the error.
func PayableProgram(field string, code ProgramCode) (Program, error) {
	prog, ok := LookupProgram(code)
	switch {
	case !ok:
		return prog, Invalid(field, "unknown program %q", code)
	case prog.Shape == ShapeInKind:
		return prog, Invalid(field, "%s issues goods, not money: payroll pays monthly, annual and one-off programs", code)
	}
	return prog, nil
}

// PayablePrograms lists the programs payroll pays, in catalog order.
func PayablePrograms() []ProgramCode {
	var out []ProgramCode
	for _, p := range catalog {
		if p.Shape != ShapeInKind {
			out = append(out, p.Code)
		}
	}
	return out
}

// DecideOpen opens a batch: refused while another batch of the program and
// period waits for approval or is still being drafted.
func DecideOpen(s PayrollProgram, c OpenBatch) ([]Event, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if _, dup := s.Batches[c.BatchID]; dup {
		return nil, &ConflictError{Reason: fmt.Sprintf("batch %s exists already; draft again with another key", c.BatchID)}
	}
	// Payment references carry the batch code, not the period: a code is
	// used once per program.
	code := c.BatchID[strings.LastIndexByte(c.BatchID, '.')+1:]
	for id := range s.Batches {
		if strings.HasSuffix(id, "."+code) {
			return nil, &ConflictError{Reason: fmt.Sprintf("batch code %s is taken by batch %s; draft again with another key", code, id)}
		}
	}
	if b, ok := s.Pending(c.Period); ok {
		if b.State == BatchStateDrafting {
			return nil, &ConflictError{Reason: fmt.Sprintf("batch %s for %s %s is still being drafted (by %s); run that draft again to finish it, or reject it",
				b.Opened.BatchID, c.Program, c.Period, b.Opened.DraftedBy)}
		}
		return nil, &ConflictError{Reason: fmt.Sprintf("batch %s for %s %s waits for approval; approve or reject it first", b.Opened.BatchID, c.Program, c.Period)}
	}
	return []Event{BatchOpened{BatchID: c.BatchID, Program: c.Program, Period: c.Period, PaidOn: c.PaidOn, DraftedBy: c.DraftedBy}}, nil
}

func batchIn(s PayrollProgram, batchID string, states ...string) (*Batch, error) {
	b := s.Batches[batchID]
	switch {
	case b == nil:
		return nil, fmt.Errorf("batch %s: %w", batchID, ErrNotFound)
	case !slices.Contains(states, b.State):
		return nil, &BatchStateError{Batch: *b}
	}
	return b, nil
}

// BatchStateError: a batch is not in a state that allows the command —
// e.g. approved already, by whom and when. It wraps ErrConflict.
type BatchStateError struct{ Batch Batch }

func (e *BatchStateError) Error() string {
	b := e.Batch
	switch b.State {
	case BatchStateIssuing, BatchStateApproved:
		return fmt.Sprintf("batch %s was already approved by %s at %s", b.Opened.BatchID, b.Approved.ApprovedBy, b.ApprovedAt.Format(time.RFC3339))
	case BatchStateRejecting, BatchStateRejected:
		return fmt.Sprintf("batch %s was already rejected by %s: %s", b.Opened.BatchID, b.Rejected.RejectedBy, b.Rejected.Reason)
	case BatchStateDrafting:
		return fmt.Sprintf("batch %s is still being drafted", b.Opened.BatchID)
	}
	return fmt.Sprintf("batch %s is %s", b.Opened.BatchID, b.State)
}

func (e *BatchStateError) Unwrap() error { return ErrConflict }

// DecideDrafted closes a draft once every shard's lines are reserved. A
// draft that reserved nothing is refused (RuleNothingToPay), and the
// caller rejects the empty batch.
func DecideDrafted(s PayrollProgram, batchID string, lines []PayrollLine) ([]Event, error) {
	b, err := batchIn(s, batchID, BatchStateDrafting)
	if err != nil {
		return nil, err
	}
	o := b.Opened
	d := BatchDrafted{BatchID: o.BatchID, Program: o.Program, Period: o.Period, PaidOn: o.PaidOn, DraftedBy: o.DraftedBy}
	for _, l := range lines {
		d.Lines.add(l.Amount)
		switch l.Kind {
		case PaymentRegular:
			d.Regular.add(l.Amount)
		case PaymentArrears:
			d.Arrears.add(l.Amount)
		case PaymentReissue:
			d.Reissue.add(l.Amount)
		}
	}
	return []Event{d}, nil
}

// DecideApproval approves a drafted batch: another user than the one who
// drafted it.
func DecideApproval(s PayrollProgram, batchID, approvedBy string) ([]Event, error) {
	if approvedBy == "" {
		return nil, Invalid("approved_by", "is required")
	}
	b, err := batchIn(s, batchID, BatchStateDrafted)
	if err != nil {
		return nil, err
	}
	if approvedBy == b.Opened.DraftedBy {
		return nil, Violation(RuleMakerChecker, "%s drafted batch %s and may not approve it: another finance user must", approvedBy, batchID)
	}
	o := b.Opened
	return []Event{BatchApproved{BatchID: o.BatchID, Program: o.Program, Period: o.Period, ApprovedBy: approvedBy}}, nil
}

// DecideIssued closes an approval once every shard's lines are issued or
// withheld.
func DecideIssued(s PayrollProgram, batchID string, issued, withheld CountTotal) ([]Event, error) {
	b, err := batchIn(s, batchID, BatchStateIssuing)
	if err != nil {
		return nil, err
	}
	o := b.Opened
	return []Event{BatchIssued{BatchID: o.BatchID, Program: o.Program, Period: o.Period, Issued: issued, Withheld: withheld}}, nil
}

// DecideRejection rejects a batch being drafted or waiting for approval.
func DecideRejection(s PayrollProgram, batchID, rejectedBy, reason string) ([]Event, error) {
	switch {
	case rejectedBy == "":
		return nil, Invalid("rejected_by", "is required")
	case strings.TrimSpace(reason) == "":
		return nil, Invalid("reason", "is required: say why the batch is rejected")
	}
	b, err := batchIn(s, batchID, BatchStateDrafting, BatchStateDrafted)
	if err != nil {
		return nil, err
	}
	o := b.Opened
	return []Event{BatchRejected{BatchID: o.BatchID, Program: o.Program, Period: o.Period, RejectedBy: rejectedBy, Reason: reason}}, nil
}

// DecideReleased closes a rejection once every shard's lines are released.
func DecideReleased(s PayrollProgram, batchID string, released CountTotal) ([]Event, error) {
	b, err := batchIn(s, batchID, BatchStateRejecting)
	if err != nil {
		return nil, err
	}
	o := b.Opened
	return []Event{BatchReleased{BatchID: o.BatchID, Program: o.Program, Period: o.Period, Released: released}}, nil
}

// DecideExport records that an approved batch's payment file was written.
func DecideExport(s PayrollProgram, e BatchExported) ([]Event, error) {
	if _, err := approvedBatch(s, e.BatchID, "sent to the bank"); err != nil {
		return nil, err
	}
	return []Event{e}, nil
}

func approvedBatch(s PayrollProgram, batchID, what string) (*Batch, error) {
	b := s.Batches[batchID]
	switch {
	case b == nil:
		return nil, fmt.Errorf("batch %s: %w", batchID, ErrNotFound)
	case b.State != BatchStateApproved:
		return nil, Violation(RuleBatchNotApproved, "batch %s is %s: only an approved batch is %s", batchID, b.State, what)
	}
	return b, nil
}

// DecideReturnStart records that the reconciliation of a return file
// against an approved batch begins; nothing when it began already or the
// file was imported (a reconciliation run again).
func DecideReturnStart(s PayrollProgram, started ReturnStarted) ([]Event, error) {
	b, err := approvedBatch(s, started.BatchID, "reconciled")
	if err != nil {
		return nil, err
	}
	if _, ok := s.Imported[started.FileSHA256]; ok {
		return nil, nil
	}
	for _, bb := range s.Batches {
		for _, r := range bb.Reconciling {
			if r.FileSHA256 != started.FileSHA256 {
				continue
			}
			if bb != b {
				return nil, &ConflictError{Reason: fmt.Sprintf("this return file is being reconciled against batch %s, not %s", bb.Opened.BatchID, started.BatchID)}
			}
			return nil, nil
		}
	}
	return []Event{started}, nil
}

// DecideReturn records a reconciled return file of an approved batch; a
// file already imported into the program is a conflict (nothing changes).
func DecideReturn(s PayrollProgram, imported ReturnImported) ([]Event, error) {
	if _, err := approvedBatch(s, imported.BatchID, "reconciled"); err != nil {
		return nil, err
	}
	if prev, ok := s.Imported[imported.FileSHA256]; ok {
		return nil, &ConflictError{Reason: fmt.Sprintf("this return file was already imported into batch %s; nothing changes", prev.BatchID)}
	}
	return []Event{imported}, nil
}

// Line statuses in a payments shard.
const (
	LineReserved = "reserved"
	LineReleased = "released"
	LineIssued   = "issued"
	LineSettled  = "settled"
	LineFailed   = "failed"
	LineReversed = "reversed"
)

// LineMove is the status a payments shard's line in status from takes on
// an event of type eventType, and whether the event moves it at all: a
// release or an issue moves a reserved line, a settlement an issued one (a
// late settlement a failed one), a failure an issued one, a reversal an
// issued or settled one. Any other line stays as it is. It is the one
// statement of these moves: EvolvePaymentsShard follows it, and so does
// the read model of batches' lines.
func LineMove(eventType, from string) (string, bool) {
	var to string
	var ok bool
	switch eventType {
	case TypeLinesReleased:
		to, ok = LineReleased, from == LineReserved
	case TypePaymentIssued, TypePaymentsIssued:
		to, ok = LineIssued, from == LineReserved
	case TypePaymentSettled, TypePaymentsSettled:
		to, ok = LineSettled, from == LineIssued
	case TypePaymentsSettledLate:
		to, ok = LineSettled, from == LineFailed
	case TypePaymentFailed, TypePaymentsFailed:
		to, ok = LineFailed, from == LineIssued
	case TypePaymentReversed:
		to, ok = LineReversed, from == LineIssued || from == LineSettled
	}
	if !ok {
		return from, false
	}
	return to, true
}

// ShardLine is a line as its payments shard tells it.
type ShardLine struct {
	PayrollLine
	BatchID string `json:"batch_id"`
	PaidOn  Date   `json:"paid_on"`
	Status  string `json:"status"`
	// SettledBy and FailedBy are the SHA-256 of the return files that
	// settled and failed the line, when one did (a line failed, then
	// settled late, has both).
	SettledBy string `json:"settled_by,omitempty"`
	FailedBy  string `json:"failed_by,omitempty"`
	// account is the line's month in its shard (Months), held here so
	// that folding a settlement does not look the month up again.
	account *MonthAccount
}

// StatusBefore returns what the return files imported into the batch
// before the one numbered n said of the line: "" (nothing yet: it waits
// for the bank), LineSettled or LineFailed. order numbers the batch's
// files from 1 in the order they were imported; a settlement or failure
// recorded without a file counts as before every file. With n past the
// last file it is what is known now; with a file's own number, what was
// known when it was imported — so a file imported again is judged as it
// was the first time.
func (l ShardLine) StatusBefore(n int, order map[string]int) string {
	before := func(file string) bool { k := order[file]; return file == "" || k == 0 || k < n }
	switch {
	case l.Status == LineSettled && before(l.SettledBy):
		return LineSettled
	case (l.Status == LineSettled && l.FailedBy != "" || l.Status == LineFailed) && before(l.FailedBy):
		return LineFailed
	}
	return ""
}

// PaymentLine returns the payment the line stands for.
func (l ShardLine) PaymentLine(program ProgramCode) PaymentLine {
	return PaymentLine{Reference: l.Reference, BatchID: l.BatchID, PersonID: l.PersonID, Program: program, Period: l.Period,
		Kind: l.Kind, Amount: l.Amount, Township: l.Township, PaidOn: l.PaidOn}
}

// MonthAccount is what a person's month of a program has seen.
type MonthAccount struct {
	Issued, Failed, Reversed Money
	Claimed, Recovered       Money
	WrittenOff               Money
	// Open is the reference of the line that pays the month now:
	// reserved, or issued and not yet settled or failed. At most one.
	Open string
	// LastFailed: the month's last issued payment failed, so the next
	// line re-issues it.
	LastFailed bool
	// Paid lists the references issued for the month.
	Paid []string
}

// Net is what the month was paid and kept: issued − failed − reversed −
// recovered.
func (a *MonthAccount) Net() Money {
	return a.Issued.Less(a.Failed, a.Reversed, a.Recovered)
}

// Gross is issued − failed − reversed: what went out and stayed out
// before any recovery.
func (a *MonthAccount) Gross() Money {
	return a.Issued.Less(a.Failed, a.Reversed)
}

// Claim is an overpayment claim as its shard tells it.
type Claim struct {
	OverpaymentClaimed
	Recovered, WrittenOff, Cancelled Money
}

// Remaining is what the claim still asks.
func (c Claim) Remaining() Money {
	return c.Amount.Less(c.Recovered, c.WrittenOff, c.Cancelled)
}

// PaymentsShard is one payments shard folded.
type PaymentsShard struct {
	Lines  map[string]*ShardLine
	Months map[PersonPeriod]*MonthAccount
	// Batches lists, per batch, the references it reserved here in order.
	Batches map[string][]string
	// Closed marks batches rejected here: they reserve nothing more.
	Closed map[string]bool
	Claims map[string]*Claim
}

// NewPaymentsShard returns an empty folded shard.
func NewPaymentsShard() PaymentsShard { return NewPaymentsShardFor(0) }

// NewPaymentsShardFor returns an empty folded shard with room for about
// lines lines, so that folding a large shard does not grow its maps a
// dozen times over.
func NewPaymentsShardFor(lines int) PaymentsShard {
	return PaymentsShard{Lines: make(map[string]*ShardLine, lines), Months: make(map[PersonPeriod]*MonthAccount, lines), Batches: map[string][]string{},
		Closed: map[string]bool{}, Claims: map[string]*Claim{}}
}

// Grow makes room in s for n more lines and months, so that reserving a
// large batch does not grow the maps a dozen times over; a few lines need
// no room made.
func (s *PaymentsShard) Grow(n int) {
	if n < 1024 {
		return
	}
	lines := make(map[string]*ShardLine, len(s.Lines)+n)
	for k, v := range s.Lines {
		lines[k] = v
	}
	months := make(map[PersonPeriod]*MonthAccount, len(s.Months)+n)
	for k, v := range s.Months {
		months[k] = v
	}
	s.Lines, s.Months = lines, months
}

// ShardLines estimates how many lines each payment shard of a program
// holds from its payroll stream: the drafted batches' lines, spread evenly
// (persons' IDs are hashes), with a margin.
func (s PayrollProgram) ShardLines() int {
	n := 0
	for _, b := range s.Batches {
		if b.Drafted != nil {
			n += b.Drafted.Lines.Count
		}
	}
	return n/PaymentShards + n/(4*PaymentShards)
}

func (s *PaymentsShard) month(k PersonPeriod) *MonthAccount {
	a := s.Months[k]
	if a == nil {
		a = &MonthAccount{}
		s.Months[k] = a
	}
	return a
}

// line returns the shard's line for a payment, creating it (reserved)
// when the payment was not reserved first — a payment issued without a
// reservation, as a test may write it.
func (s *PaymentsShard) line(p PaymentLine) *ShardLine {
	l := s.Lines[p.Reference]
	if l == nil {
		l = &ShardLine{PayrollLine: PayrollLine{Reference: p.Reference, PersonID: p.PersonID, Kind: p.Kind, Period: p.Period, Amount: p.Amount,
			Township: p.Township}, BatchID: p.BatchID, PaidOn: p.PaidOn, Status: LineReserved, account: s.month(PersonPeriod{p.PersonID, p.Period})}
		s.Lines[p.Reference] = l
		s.Batches[p.BatchID] = append(s.Batches[p.BatchID], p.Reference)
	}
	return l
}

// issue issues a reserved line and returns its month, whose Paid list the
// caller adds the payment to; nil when the line was not reserved.
func (s *PaymentsShard) issue(p PaymentLine) *MonthAccount {
	s.line(p)
	l := s.move(p.Reference, TypePaymentsIssued)
	if l == nil {
		return nil
	}
	a := l.account
	a.Issued = a.Issued.Add(p.Amount)
	a.Open, a.LastFailed = p.Reference, false
	return a
}

// move moves the line ref as an event of type eventType does (LineMove)
// and returns it; nil when there is no such line or the event leaves it
// as it is.
func (s *PaymentsShard) move(ref, eventType string) *ShardLine {
	l := s.Lines[ref]
	if l == nil {
		return nil
	}
	to, ok := LineMove(eventType, l.Status)
	if !ok {
		return nil
	}
	l.Status = to
	return l
}

func (s *PaymentsShard) settle(ref, file string) {
	l := s.move(ref, TypePaymentsSettled)
	if l == nil {
		return
	}
	l.SettledBy = file
	if a := l.account; a.Open == ref {
		a.Open = ""
	}
}

// settleLate settles a failed line: the bank paid after all.
func (s *PaymentsShard) settleLate(ref, file string) {
	l := s.move(ref, TypePaymentsSettledLate)
	if l == nil {
		return
	}
	l.SettledBy = file
	a := l.account
	a.Failed = a.Failed.Less(l.Amount)
	a.LastFailed = false
}

func (s *PaymentsShard) fail(p PaymentLine, file string) {
	l := s.move(p.Reference, TypePaymentsFailed)
	if l == nil {
		return
	}
	l.FailedBy = file
	a := l.account
	a.Failed = a.Failed.Add(l.Amount)
	a.LastFailed = true
	if a.Open == l.Reference {
		a.Open = ""
	}
}

// EvolvePaymentsShard folds one event of a payments shard into s (in place;
// the caller owns s).
func EvolvePaymentsShard(s *PaymentsShard, e Event) {
	switch e := e.(type) {
	case *LinesReserved:
		// A chunk holds thousands of lines, most of them a new month's:
		// their lines and months are allocated together, not one by one.
		lines := make([]ShardLine, len(e.Lines))
		var months []MonthAccount
		refs := s.Batches[e.BatchID]
		for i, pl := range e.Lines {
			if _, dup := s.Lines[pl.Reference]; dup {
				continue
			}
			k := PersonPeriod{pl.PersonID, pl.Period}
			a := s.Months[k]
			if a == nil {
				if len(months) == 0 {
					months = make([]MonthAccount, len(e.Lines)-i)
				}
				a, months = &months[0], months[1:]
				s.Months[k] = a
			}
			l := &lines[i]
			*l = ShardLine{PayrollLine: pl, BatchID: e.BatchID, PaidOn: e.PaidOn, Status: LineReserved, account: a}
			s.Lines[pl.Reference] = l
			refs = append(refs, pl.Reference)
			a.Open = pl.Reference
		}
		if refs != nil {
			s.Batches[e.BatchID] = refs
		}
	case *LinesReleased:
		for _, ref := range e.References {
			l := s.move(ref, TypeLinesReleased)
			if l == nil {
				continue
			}
			if a := l.account; a.Open == ref {
				a.Open = ""
			}
		}
		if e.Closed {
			s.Closed[e.BatchID] = true
		}
	case *PaymentsIssued:
		// Most months are paid once: their lists of payments share one
		// array, each holding one reference (a second payment of a month
		// copies its list out).
		paid := make([]string, len(e.Payments))
		for i := range e.Payments {
			if a := s.issue(e.Payments[i].PaymentLine); a != nil && a.Paid == nil {
				paid[i] = e.Payments[i].Reference
				a.Paid = paid[i : i+1 : i+1]
			} else if a != nil {
				a.Paid = append(a.Paid, e.Payments[i].Reference)
			}
		}
	case *PaymentIssued:
		if a := s.issue(e.PaymentLine); a != nil {
			a.Paid = append(a.Paid, e.Reference)
		}
	case *PaymentsSettled:
		for _, p := range e.Payments {
			s.settle(p.Reference, e.FileSHA256)
		}
	case *PaymentSettled:
		s.settle(e.Reference, "")
	case *PaymentsSettledLate:
		for _, p := range e.Payments {
			s.settleLate(p.Reference, e.FileSHA256)
		}
	case *PaymentsFailed:
		for _, p := range e.Payments {
			s.fail(p.PaymentLine, e.FileSHA256)
		}
	case *PaymentFailed:
		s.fail(e.PaymentLine, "")
	case *PaymentReversed:
		if l := s.move(e.Reference, TypePaymentReversed); l != nil {
			a := l.account
			a.Reversed = a.Reversed.Add(l.Amount)
			if a.Open == l.Reference {
				a.Open = ""
			}
		}
	case *OverpaymentClaimed:
		a := s.month(PersonPeriod{e.PersonID, e.Period})
		a.Claimed = a.Claimed.Add(e.Amount)
		s.Claims[e.ClaimID] = &Claim{OverpaymentClaimed: *e}
	case *OverpaymentRecovered:
		if c := s.Claims[e.ClaimID]; c != nil {
			c.Recovered = c.Recovered.Add(e.Amount)
			a := s.month(PersonPeriod{c.PersonID, c.Period})
			a.Recovered = a.Recovered.Add(e.Amount)
		}
	case *OverpaymentCancelled:
		s.cancel(e)
	case *OverpaymentWrittenOff:
		if c := s.Claims[e.ClaimID]; c != nil {
			c.WrittenOff = c.WrittenOff.Add(e.Amount)
			a := s.month(PersonPeriod{c.PersonID, c.Period})
			a.WrittenOff = a.WrittenOff.Add(e.Amount)
		}
	}
}

// PayrollPerson is what payroll needs about one person: where they live
// and every decision about their entitlement to the program.
type PayrollPerson struct {
	PersonID PersonID
	Township string
	Changes  []EntitlementChange
}

// judgedThrough is how far what was paid is judged against what is owed,
// for a check made at through: an annual program's year is owed once any
// of its months is, so a payment of the year is judged by the whole year.
func judgedThrough(program ProgramCode, through Period) Period {
	if p, ok := LookupProgram(program); ok && p.Shape == ShapeAnnual {
		return Period{year: through.year, month: time.December}
	}
	return through
}

// owedThrough returns what is owed to p for every month of the program up
// to through.
func owedThrough(program ProgramCode, p PayrollPerson, through Period) map[Period]Money {
	out := map[Period]Money{}
	for _, m := range PeriodsOwed(program, p.Changes, through) {
		out[m.Period] = m.Amount
	}
	return out
}

// DecideReserve returns the lines a batch being drafted reserves in a
// shard: for every person of the shard, every month up to the batch's
// period that MonthsOwed says is owed, not paid by a line now (Open), less
// what the month was paid and kept (Net) — the period's own month
// (regular), earlier months not or not fully paid (arrears: a backdated
// grant or rate rise), and months whose payment failed (reissue). persons
// may hold persons of other shards; they are skipped. A batch rejected in
// this shard reserves nothing more.
func DecideReserve(s PaymentsShard, b BatchOpened, shard int, persons []PayrollPerson) ([]PayrollLine, error) {
	if s.Closed[b.BatchID] {
		return nil, &ConflictError{Reason: fmt.Sprintf("batch %s was rejected; it reserves nothing more", b.BatchID)}
	}
	prog, _ := LookupProgram(b.Program)
	shape := prog.Shape
	lines := make([]PayrollLine, 0, len(persons))
	if !slices.IsSortedFunc(persons, byPersonID) {
		persons = slices.Clone(persons)
		slices.SortFunc(persons, byPersonID)
	}
	for _, p := range persons {
		if PaymentShard(p.PersonID) != shard {
			continue
		}
		for _, owed := range PeriodsOwed(b.Program, p.Changes, b.Period) {
			k := PersonPeriod{p.PersonID, owed.Period}
			a := s.Months[k]
			if a == nil {
				a = &MonthAccount{}
			}
			if a.Open != "" {
				continue // a line pays the month now
			}
			due, err := owed.Amount.Sub(a.Net())
			if err != nil || due.IsZero() {
				continue // paid in full (or more: an overpayment is claimed)
			}
			ref := LineReference(b.BatchID, p.PersonID, owed.Period)
			if l, used := s.Lines[ref]; used {
				if l.BatchID != b.BatchID {
					return nil, fmt.Errorf("payment reference %s of batch %s is used by batch %s already", ref, b.BatchID, l.BatchID)
				}
				continue // this batch paid the month already and it failed: a later batch re-issues it
			}
			kind := PaymentArrears
			switch {
			case a.LastFailed:
				kind = PaymentReissue
			case shape == ShapeOneOff:
				kind = PaymentOneOff
			case owed.Period == b.Period, shape == ShapeAnnual && owed.Period.year == b.Period.year:
				kind = PaymentRegular
			}
			lines = append(lines, PayrollLine{Reference: ref, PersonID: p.PersonID, Kind: kind, Period: owed.Period, Amount: due, Township: p.Township})
		}
	}
	return lines, nil
}

func byPersonID(x, y PayrollPerson) int { return cmp.Compare(x.PersonID, y.PersonID) }

// DecideIssue returns what an approved batch does with its lines reserved
// in a shard: each is issued if its month is still owed at least its
// amount beyond what the month was paid and kept (the approval re-checks
// the draft against the entitlements as they stand), else withheld and
// released. persons are the program's persons as they stand; a person
// missing from them is owed nothing.
func DecideIssue(s PaymentsShard, b BatchOpened, persons []PayrollPerson) (issue []PaymentIssued, withheld []string) {
	byPerson := make(map[PersonID]*PayrollPerson, len(persons))
	for i := range persons {
		byPerson[persons[i].PersonID] = &persons[i]
	}
	owed := make(map[PersonID][]PeriodAmount, len(persons))
	issue = make([]PaymentIssued, 0, len(s.Batches[b.BatchID]))
	for _, ref := range s.Batches[b.BatchID] {
		l := s.Lines[ref]
		if l.Status != LineReserved {
			continue
		}
		o, ok := owed[l.PersonID]
		if !ok {
			var p PayrollPerson
			if bp := byPerson[l.PersonID]; bp != nil {
				p = *bp
			}
			o = PeriodsOwed(b.Program, p.Changes, b.Period)
			owed[l.PersonID] = o
		}
		var due Money
		for _, m := range o {
			if m.Period == l.Period {
				due = m.Amount
				break
			}
		}
		a := l.account
		room, err := due.Sub(a.Net())
		if err != nil || room.Cmp(l.Amount) < 0 || a.Open != ref {
			withheld = append(withheld, ref)
			continue
		}
		issue = append(issue, PaymentIssued{PaymentLine: l.PaymentLine(b.Program)})
	}
	return issue, withheld
}

// DecideRelease returns the lines of a batch still reserved in a shard, to
// release when the batch is rejected.
func DecideRelease(s PaymentsShard, batchID string) []string {
	var out []string
	for _, ref := range s.Batches[batchID] {
		if s.Lines[ref].Status == LineReserved {
			out = append(out, ref)
		}
	}
	return out
}

// Settlement is one line of a bank return file the reconciliation applies.
type Settlement struct {
	Reference     string
	Failed        bool
	Reason        string // of a failure
	BankReference string
	On            Date
}

// SettleResult is what a return file does to a payments shard.
type SettleResult struct {
	Settled []PaymentSettled
	Failed  []PaymentFailed
	Late    []PaymentSettled // failed before, paid after all
}

// DecideSettle returns what a return file's lines do in a shard: each line
// of the batch still issued is settled or failed; a failed line reported
// paid is settled late. Lines already settled, lines failed again and
// lines of other shards or batches change nothing, so the same file
// applied twice changes nothing the second time.
func DecideSettle(s PaymentsShard, batchID string, program ProgramCode, lines []Settlement) SettleResult {
	r := SettleResult{Settled: make([]PaymentSettled, 0, len(lines))}
	for _, st := range lines {
		l := s.Lines[st.Reference]
		if l == nil || l.BatchID != batchID {
			continue
		}
		pl := l.PaymentLine(program)
		switch {
		case l.Status == LineIssued && st.Failed:
			r.Failed = append(r.Failed, PaymentFailed{PaymentLine: pl, Reason: st.Reason, FailedOn: st.On})
		case l.Status == LineIssued:
			r.Settled = append(r.Settled, PaymentSettled{PaymentLine: pl, BankReference: st.BankReference, SettledOn: st.On})
		case l.Status == LineFailed && !st.Failed:
			r.Late = append(r.Late, PaymentSettled{PaymentLine: pl, BankReference: st.BankReference, SettledOn: st.On})
		}
	}
	return r
}

// DecideClaims finds overpayments in a shard: months for which a person
// was paid (issued − failed − reversed) more than MonthsOwed says is owed —
// a death or termination recorded late with an earlier effective date, a
// backdated suspension — less what was claimed already. Each becomes an
// OverpaymentClaimed linked to the month's payments, claimed on day on.
// persons are the program's persons as they stand; a person missing from
// them is owed nothing.
func DecideClaims(s PaymentsShard, program ProgramCode, persons []PayrollPerson, on Date) []OverpaymentClaimed {
	return decideClaims(s, program, persons, on, false)
}

// DecideClaimsOf is DecideClaims for the months of the persons given only,
// e.g. those a late settlement paid twice.
func DecideClaimsOf(s PaymentsShard, program ProgramCode, persons []PayrollPerson, on Date) []OverpaymentClaimed {
	return decideClaims(s, program, persons, on, true)
}

func decideClaims(s PaymentsShard, program ProgramCode, persons []PayrollPerson, on Date, only bool) []OverpaymentClaimed {
	keys, byPerson := monthsOf(s, persons)
	owed := map[PersonID]map[Period]Money{}
	var out []OverpaymentClaimed
	for _, k := range keys {
		if _, ok := byPerson[k.Person]; only && !ok {
			continue
		}
		a := s.Months[k]
		if a.Gross().IsZero() {
			continue
		}
		o, ok := owed[k.Person]
		if !ok {
			o = owedThrough(program, byPerson[k.Person], judgedThrough(program, on.Period().Next()))
			owed[k.Person] = o
		}
		over, err := a.Gross().Sub(o[k.Period])
		if err != nil || over.IsZero() {
			continue
		}
		if over, err = over.Sub(a.Claimed); err != nil || over.IsZero() {
			continue // claimed already
		}
		n := 1
		for s.Claims[claimID(k, program, n)] != nil {
			n++
		}
		refs := slices.Clone(a.Paid)
		slices.Sort(refs)
		out = append(out, OverpaymentClaimed{ClaimID: claimID(k, program, n), PersonID: k.Person, Program: program, Period: k.Period, Amount: over,
			References: refs, ClaimedOn: on})
	}
	return out
}

// claimID names the n-th claim of a person's month of a program:
// ovp-<person>-<program>-<YYYY-MM>-<n>. A person may be claimed back the
// same month of two programs, so the program is part of the name.
func claimID(k PersonPeriod, program ProgramCode, n int) string {
	return fmt.Sprintf("ovp-%s-%s-%s-%d", k.Person, program, k.Period, n)
}

// ParseClaimID returns the person and program an overpayment claim ID
// names.
func ParseClaimID(field, claimID string) (PersonID, ProgramCode, error) {
	bad := Invalid(field, "%s is not an overpayment claim ID like ovp-<person>-<program>-<YYYY-MM>-1", quoteTrunc(claimID))
	rest, ok := strings.CutPrefix(claimID, "ovp-")
	if !ok || len(rest) < personIDLen+1 || rest[personIDLen] != '-' {
		return "", "", bad
	}
	person, err := ParsePersonID(field, rest[:personIDLen])
	if err != nil {
		return "", "", bad
	}
	code, tail, ok := strings.Cut(rest[personIDLen+1:], "-")
	if !ok {
		return "", "", bad
	}
	program, err := ParseProgramCode(field, code)
	if err != nil {
		return "", "", err
	}
	parts := strings.Split(tail, "-") // YYYY MM n
	if len(parts) != 3 {
		return "", "", bad
	}
	if _, err := ParsePeriod(field, parts[0]+"-"+parts[1]); err != nil {
		return "", "", bad
	}
	return person, program, nil
}

// DecideClaimSettlement records that (part of) a claim was recovered or
// written off, never more than the claim still asks.
func DecideClaimSettlement(s PaymentsShard, claimID string, amount Money, writeOff bool, reason string, on Date) ([]Event, error) {
	c := s.Claims[claimID]
	switch {
	case c == nil:
		return nil, fmt.Errorf("overpayment claim %s: %w", claimID, ErrNotFound)
	case amount.IsZero():
		return nil, Invalid("amount", "must be more than 0.00")
	case amount.Cmp(c.Remaining()) > 0:
		return nil, Invalid("amount", "%s is more than the %s the claim still asks", amount, c.Remaining())
	case writeOff && strings.TrimSpace(reason) == "":
		return nil, Invalid("reason", "is required to write a claim off")
	}
	if writeOff {
		return []Event{OverpaymentWrittenOff{ClaimID: claimID, PersonID: c.PersonID, Program: c.Program, Amount: amount, Reason: reason,
			WrittenOffOn: on}}, nil
	}
	return []Event{OverpaymentRecovered{ClaimID: claimID, PersonID: c.PersonID, Program: c.Program, Amount: amount, RecoveredOn: on}}, nil
}

// Overpaid is a person's month of a program paid (issued − failed −
// reversed) more than is owed and not claimed back: a payment twice, or a
// month that stopped being owed after it was paid without the claim being
// recorded yet.
type Overpaid struct {
	PersonID PersonID    `json:"person_id"`
	Program  ProgramCode `json:"program"`
	Period   Period      `json:"period"`
	Owed     Money       `json:"owed"`
	Paid     Money       `json:"paid"`
	Claimed  Money       `json:"claimed"`
	// Lines are the month's lines that paid or pay it, with their
	// batches and statuses.
	Lines []ShardLine `json:"lines"`
}

// Twice reports whether more than one line paid the month and kept the
// money.
func (o Overpaid) Twice() bool {
	n := 0
	for _, l := range o.Lines {
		if l.Status == LineIssued || l.Status == LineSettled {
			n++
		}
	}
	return n > 1
}

// FindOverpaid checks never-twice in a shard: every month paid more than
// owed beyond what was claimed back. persons are the program's persons as
// they stand; a person missing from them is owed nothing.
func FindOverpaid(s PaymentsShard, program ProgramCode, persons []PayrollPerson) []Overpaid {
	byPerson := map[PersonID]PayrollPerson{}
	for _, p := range persons {
		byPerson[p.PersonID] = p
	}
	byMonth := map[PersonPeriod][]ShardLine{}
	for _, l := range s.Lines {
		k := PersonPeriod{l.PersonID, l.Period}
		byMonth[k] = append(byMonth[k], *l)
	}
	owed := map[PersonID]map[Period]Money{}
	var out []Overpaid
	for k, a := range s.Months {
		if a.Gross().IsZero() {
			continue
		}
		o, ok := owed[k.Person]
		if !ok {
			last := k.Period
			for m := range s.Months {
				if m.Person == k.Person && last.Compare(m.Period) < 0 {
					last = m.Period
				}
			}
			o = owedThrough(program, byPerson[k.Person], judgedThrough(program, last))
			owed[k.Person] = o
		}
		limit := o[k.Period].Add(a.Claimed)
		if a.Gross().Cmp(limit) <= 0 {
			continue
		}
		lines := byMonth[k]
		slices.SortFunc(lines, func(x, y ShardLine) int { return strings.Compare(x.Reference, y.Reference) })
		out = append(out, Overpaid{PersonID: k.Person, Program: program, Period: k.Period, Owed: o[k.Period], Paid: a.Gross(), Claimed: a.Claimed, Lines: lines})
	}
	slices.SortFunc(out, func(x, y Overpaid) int {
		return cmp.Or(cmp.Compare(x.PersonID, y.PersonID), x.Period.Compare(y.Period))
	})
	return out
}
