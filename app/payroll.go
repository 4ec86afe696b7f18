package app

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	"github.com/lushan-dpf/ledger/domain"
)

// ReadModels is what payroll reads from the projections.
type ReadModels interface {
	// CaughtUp returns nil once the read models include every event
	// committed before the call; else (after a bounded wait) an error
	// matching domain.ErrUnavailable that names the lag.
	CaughtUp(ctx context.Context) error
	// PayrollPersons returns every person ever granted the program, with
	// every decision about their entitlement, in recording order.
	PayrollPersons(ctx context.Context, program domain.ProgramCode) ([]domain.PayrollPerson, error)
	// BankAccounts returns the current accounts of persons.
	BankAccounts(ctx context.Context, persons []domain.PersonID) (map[domain.PersonID]domain.BankAccount, error)
}

// Sealer opens sealed bank account numbers to write payment files.
type Sealer interface {
	Open(sealed string) (string, error)
}

// Progress reports a long payroll step, e.g. "issued 120,000 of
// 1,000,000": Step is reserved, issued, released, settled or claimed;
// Done counts lines so far and Total the lines the step has to do (0 when
// not known ahead).
type Progress struct {
	BatchID string
	Step    string
	Done    int
	Total   int
}

// Payroll runs the finance officers' use cases on a program's payroll
// stream and its payment shards (domain/payroll.go, docs/payroll.md).
type Payroll struct {
	x        runtime
	read     ReadModels
	sealer   Sealer
	progress func(Progress)
	*reporter
}

// reporter passes on progress reports one at a time.
type reporter struct {
	reporting sync.Mutex
	reported  Progress // the last report
}

// NewPayroll returns the payroll use cases over a store and the read
// models. sealer may be nil where no payment file is written.
func NewPayroll(store domain.EventStore, read ReadModels, sealer Sealer) *Payroll {
	x := newRuntime(store, domain.NewLedgerRegistry())
	x.workers = goruntime.GOMAXPROCS(0)
	return &Payroll{x: x, read: read, sealer: sealer, reporter: &reporter{}}
}

// WithWorkers returns p working on at most n payment shards at once
// (default: as many as the machine has processors). The shards are
// independent consistency boundaries, each appended to at its exact
// revision, so the order and overlap of their steps change nothing they
// decide; one worker makes a command's store calls strictly sequential,
// as a test that schedules every call itself needs.
func (p *Payroll) WithWorkers(n int) *Payroll {
	q := *p
	q.x.workers = max(n, 1)
	return &q
}

// WithChunkBytes returns p writing the lines of long steps in chunks of
// at most n bytes (default domain.MaxChunkBytes, which keeps every event
// under EventStoreDB's limits) — smaller for a store configured with a
// smaller maximum append size.
func (p *Payroll) WithChunkBytes(n int) *Payroll {
	q := *p
	q.x.chunk = min(max(n, 1), domain.MaxChunkBytes)
	return &q
}

// WithProgress returns p reporting the progress of long steps to fn.
func (p *Payroll) WithProgress(fn func(Progress)) *Payroll {
	q := *p
	q.progress = fn
	return &q
}

// WithPolicy returns p retrying lost races as pol says.
func (p *Payroll) WithPolicy(pol Policy) *Payroll {
	q := *p
	q.x.policy = pol
	return &q
}

// ledger is a program's payroll stream and its payment shards, folded.
type ledger struct {
	program domain.ProgramCode
	control *stream[domain.PayrollProgram]
	shards  [domain.PaymentShards]*stream[shard]
}

// shard is a payments shard folded, with what each command recorded in
// it, so that a command run again answers as it did the first time.
type shard struct {
	domain.PaymentsShard
	claims  map[string][]domain.OverpaymentClaimed // by command ID
	settled map[string]domain.Position             // a claim's recovery, write-off or cancellation, by command ID
}

func newShard(lines int) shard {
	return shard{PaymentsShard: domain.NewPaymentsShardFor(lines), claims: map[string][]domain.OverpaymentClaimed{}, settled: map[string]domain.Position{}}
}

func evolveShard(s *shard, env domain.Envelope) {
	domain.EvolvePaymentsShard(&s.PaymentsShard, env.Event)
	switch e := env.Event.(type) {
	case *domain.OverpaymentClaimed:
		s.claims[env.Meta.CommandID] = append(s.claims[env.Meta.CommandID], *e)
	case *domain.OverpaymentRecovered, *domain.OverpaymentWrittenOff, *domain.OverpaymentCancelled:
		s.settled[env.Meta.CommandID] = env.Position
	}
}

// claimsBy returns the claims a command recorded, shard by shard.
func (l *ledger) claimsBy(commandID string) []domain.OverpaymentClaimed {
	var out []domain.OverpaymentClaimed
	for _, s := range l.shards {
		out = append(out, s.state.claims[commandID]...)
	}
	return out
}

// load folds a program's payroll stream and every payment shard.
func (p *Payroll) load(ctx context.Context, program domain.ProgramCode) (*ledger, error) {
	l, err := p.loadControl(ctx, program)
	if err != nil {
		return nil, err
	}
	err = p.x.eachShard(ctx, func(ctx context.Context, i int) error {
		s, err := p.loadShard(ctx, l, i)
		l.shards[i] = s
		return err
	})
	if err != nil {
		return nil, err
	}
	return l, nil
}

// loadControl folds a program's payroll stream only; its shards stay
// unread.
func (p *Payroll) loadControl(ctx context.Context, program domain.ProgramCode) (*ledger, error) {
	l := &ledger{program: program,
		control: newStream(domain.PayrollStream(program), domain.NewPayrollProgram(), domain.EvolvePayrollProgram)}
	if err := l.control.catchUp(ctx, p.x.store, p.x.reg); err != nil {
		return nil, err
	}
	return l, nil
}

// loadShard folds payment shard i of the program of l, whose payroll
// stream is folded (it sizes the shard's maps).
func (p *Payroll) loadShard(ctx context.Context, l *ledger, i int) (*stream[shard], error) {
	s := newStream(domain.PaymentsStream(l.program, i), newShard(l.control.state.ShardLines()), evolveShard)
	if err := s.catchUp(ctx, p.x.store, p.x.reg); err != nil {
		return nil, err
	}
	return s, nil
}

// loadBatch checks a batch command's envelope and folds the payroll stream
// of the batch's program; the batch must exist. Its shards are folded as
// the command reaches them (eachShardOf).
func (p *Payroll) loadBatch(ctx context.Context, meta domain.CommandMeta, batchID string) (*ledger, *domain.Batch, error) {
	if err := meta.Validate(); err != nil {
		return nil, nil, err
	}
	program, _, err := domain.ParseBatchID("batch", batchID)
	if err != nil {
		return nil, nil, err
	}
	l, err := p.loadControl(ctx, program)
	if err != nil {
		return nil, nil, err
	}
	b, err := l.batch(batchID)
	return l, b, err
}

// eachShardOf runs fn on every payment shard of l, x.workers at a time. A
// shard l does not hold is folded for fn and let go after it, so that a
// long step over a large batch holds a few shards' lines at a time, never
// the whole program's.
func (p *Payroll) eachShardOf(ctx context.Context, l *ledger, fn func(ctx context.Context, i int, s *stream[shard]) error) error {
	return p.x.eachShard(ctx, func(ctx context.Context, i int) error {
		s := l.shards[i]
		if s == nil {
			var err error
			if s, err = p.loadShard(ctx, l, i); err != nil {
				return err
			}
		}
		return fn(ctx, i, s)
	})
}

// sumOf adds up what each shard counted.
func sumOf(byShard [domain.PaymentShards]domain.CountTotal) domain.CountTotal {
	var sum domain.CountTotal
	for _, c := range byShard {
		sum = sum.Add(c)
	}
	return sum
}

// lines returns a batch's lines from every shard, by reference, as the
// shards hold them (read, not changed).
func (l *ledger) lines(batchID string) []*domain.ShardLine {
	n := 0
	for _, s := range l.shards {
		n += len(s.state.Batches[batchID])
	}
	out := make([]*domain.ShardLine, 0, n)
	for _, s := range l.shards {
		for _, ref := range s.state.Batches[batchID] {
			out = append(out, s.state.Lines[ref])
		}
	}
	slices.SortFunc(out, func(a, b *domain.ShardLine) int { return strings.Compare(a.Reference, b.Reference) })
	return out
}

// batch returns a batch of the ledger's program.
func (l *ledger) batch(id string) (*domain.Batch, error) {
	b := l.control.state.Batches[id]
	if b == nil {
		return nil, fmt.Errorf("batch %s: %w", id, domain.ErrNotFound)
	}
	return b, nil
}

// persons is the program's persons as the read models tell them, once
// they have caught up with the log, split by payment shard.
type persons [domain.PaymentShards][]domain.PayrollPerson

func (p *Payroll) persons(ctx context.Context, program domain.ProgramCode) (*persons, error) {
	if err := p.read.CaughtUp(ctx); err != nil {
		return nil, err
	}
	all, err := p.read.PayrollPersons(ctx, program)
	if err != nil {
		return nil, err
	}
	var n [domain.PaymentShards]int
	for _, ps := range all {
		n[domain.PaymentShard(ps.PersonID)]++
	}
	var out persons
	for i := range out {
		out[i] = make([]domain.PayrollPerson, 0, n[i])
	}
	for _, ps := range all {
		i := domain.PaymentShard(ps.PersonID)
		out[i] = append(out[i], ps)
	}
	return &out, nil
}

// linesOf is how many lines an event of a long step records.
func linesOf(ev domain.Event) int {
	switch e := ev.(type) {
	case domain.LinesReserved:
		return len(e.Lines)
	case domain.LinesReleased:
		return len(e.References)
	case domain.PaymentsIssued:
		return len(e.Payments)
	case domain.PaymentsSettled:
		return len(e.Payments)
	case domain.PaymentsFailed:
		return len(e.Payments)
	case domain.PaymentsSettledLate:
		return len(e.Payments)
	}
	return 0
}

func (p *Payroll) report(batchID, step string, done, total int) {
	if p.progress == nil {
		return
	}
	// Shards working at once report one at a time, and never a count
	// below one reported already.
	p.reporting.Lock()
	defer p.reporting.Unlock()
	r := Progress{BatchID: batchID, Step: step, Done: done, Total: total}
	if last := p.reported; last.BatchID == r.BatchID && last.Step == r.Step && last.Done > r.Done {
		return
	}
	p.reported = r
	p.progress(r)
}

// DraftRequest asks for a batch of a program payroll pays (monthly,
// annual or one-off) for a period.
type DraftRequest struct {
	Program domain.ProgramCode
	Period  domain.Period
	PaidOn  domain.Date // value date; zero: the 20th of the period
}

// DraftResult is a drafted batch.
type DraftResult struct {
	Batch    domain.BatchDrafted
	Position domain.Position
	// Claims are the overpayment claims the draft recorded first.
	Claims []domain.OverpaymentClaimed
}

// Draft records the program's overpayment claims (always first: a death
// or termination recorded late turns payments already made into claims),
// then opens a batch for the period and reserves, in every payment shard,
// each line owed and not paid by another line — regular, arrears, reissue
// — and closes the draft with its totals. The read models it reads from
// must include everything committed before it began. Nothing owed: a
// *RuleError nothing_to_pay, and no batch. The batch ID derives from the
// command ID: the same command again (a retry, after a crash anywhere)
// finishes and returns the same batch.
func (p *Payroll) Draft(ctx context.Context, meta domain.CommandMeta, req DraftRequest) (DraftResult, error) {
	if err := meta.Validate(); err != nil {
		return DraftResult{}, err
	}
	if req.PaidOn.IsZero() && !req.Period.IsZero() {
		req.PaidOn = req.Period.First().AddDays(19)
	}
	open := domain.OpenBatch{BatchID: domain.BatchIDFor(req.Program, req.Period, meta.CommandID), Program: req.Program, Period: req.Period,
		PaidOn: req.PaidOn, DraftedBy: meta.Actor, Today: domain.BusinessDate(meta.Now)}
	if err := open.Validate(); err != nil {
		return DraftResult{}, err
	}
	l, err := p.load(ctx, req.Program)
	if err != nil {
		return DraftResult{}, err
	}
	if id, ok := l.control.state.ByCommand[meta.CommandID]; ok {
		res, err := p.finishDraft(ctx, meta, l, id, nil)
		res.Claims = l.claimsBy(meta.CommandID)
		return res, err
	}
	ps, err := p.persons(ctx, req.Program)
	if err != nil {
		return DraftResult{}, err
	}
	claims, err := p.claims(ctx, meta, l, ps)
	if err != nil {
		return DraftResult{}, err
	}
	if _, err := domain.DecideOpen(l.control.state, open); err != nil {
		return DraftResult{Claims: claims}, err // a batch of the period waits for approval
	}
	opened := domain.BatchOpened{BatchID: open.BatchID, Program: open.Program, Period: open.Period, PaidOn: open.PaidOn, DraftedBy: open.DraftedBy}
	owed := false
	for i, s := range l.shards {
		lines, err := domain.DecideReserve(s.state.PaymentsShard, opened, i, ps[i])
		if err != nil {
			return DraftResult{}, err
		}
		if owed = len(lines) > 0; owed {
			break
		}
	}
	if !owed {
		return DraftResult{Claims: claims}, domain.Violation(domain.RuleNothingToPay, "%s %s: nothing is owed that was not paid already", req.Program, req.Period)
	}
	_, _, err = decide(ctx, &p.x, l.control, meta, once("open"), func(s domain.PayrollProgram) ([]domain.Event, error) {
		if _, ok := s.ByCommand[meta.CommandID]; ok {
			return nil, nil // this command opened it while it raced itself
		}
		return domain.DecideOpen(s, open)
	})
	if err != nil {
		return DraftResult{}, err
	}
	res, err := p.finishDraft(ctx, meta, l, open.BatchID, ps)
	res.Claims = claims
	return res, err
}

// finishDraft reserves what a batch being drafted has still to reserve and
// closes the draft; for a batch drafted already it returns the draft.
func (p *Payroll) finishDraft(ctx context.Context, meta domain.CommandMeta, l *ledger, id string, ps *persons) (DraftResult, error) {
	b, err := l.batch(id)
	if err != nil {
		return DraftResult{}, err
	}
	if b.State == domain.BatchStateDrafting {
		if ps == nil {
			if ps, err = p.persons(ctx, l.program); err != nil {
				return DraftResult{}, err
			}
		}
		var done counter
		var byShard [domain.PaymentShards][]domain.PayrollLine // reserved
		err := p.eachShardOf(ctx, l, func(ctx context.Context, i int, s *stream[shard]) error {
			s.state.Grow(len(ps[i])) // a line a person, give or take arrears
			_, err := process(ctx, &p.x, s, meta, fmt.Sprintf("reserve/%x", i), func(st shard) ([]domain.Event, error) {
				lines, err := domain.DecideReserve(st.PaymentsShard, b.Opened, i, ps[i])
				if err != nil {
					return nil, err
				}
				var out []domain.Event
				for _, c := range domain.Chunks(lines, p.x.chunk) {
					out = append(out, domain.LinesReserved{BatchID: id, Program: b.Opened.Program, Period: b.Opened.Period, PaidOn: b.Opened.PaidOn, Lines: c})
				}
				return out, nil
			}, func(ev domain.Event) {
				p.report(id, "reserved", done.add(linesOf(ev)), 0)
			})
			if err != nil {
				return err
			}
			for _, ref := range s.state.Batches[id] {
				if sl := s.state.Lines[ref]; sl.Status == domain.LineReserved {
					byShard[i] = append(byShard[i], sl.PayrollLine)
				}
			}
			return nil
		})
		if err != nil {
			return DraftResult{}, err
		}
		reserved := slices.Concat(byShard[:]...)
		if len(reserved) == 0 {
			// Another batch took every line between the check and the
			// reservations: close this one empty.
			if _, err := p.reject(ctx, meta, l, id, emptyDraft); err != nil && !errors.Is(err, domain.ErrConflict) {
				return DraftResult{}, err
			}
			return DraftResult{}, domain.Violation(domain.RuleNothingToPay, "%s %s: nothing is owed that was not paid already", b.Opened.Program, b.Opened.Period)
		}
		_, _, err = decide(ctx, &p.x, l.control, meta, once("drafted"), func(s domain.PayrollProgram) ([]domain.Event, error) {
			if s.Batches[id].State != domain.BatchStateDrafting {
				return nil, nil // finished by a concurrent run of the draft
			}
			return domain.DecideDrafted(s, id, reserved)
		})
		if err != nil {
			return DraftResult{}, err
		}
	}
	switch b.State {
	case domain.BatchStateDrafted, domain.BatchStateIssuing, domain.BatchStateApproved:
		return DraftResult{Batch: *b.Drafted, Position: b.DraftedAt}, nil
	case domain.BatchStateRejecting, domain.BatchStateRejected:
		if b.Rejected.Reason == emptyDraft {
			return DraftResult{}, domain.Violation(domain.RuleNothingToPay, "%s %s: nothing is owed that was not paid already", b.Opened.Program, b.Opened.Period)
		}
	}
	return DraftResult{}, &domain.BatchStateError{Batch: *b}
}

// emptyDraft is the reason a draft that found nothing left to reserve is
// closed with.
const emptyDraft = "nothing left to pay: other batches pay every month owed"

// ApproveResult is an approved batch.
type ApproveResult struct {
	BatchID    string
	ApprovedBy string
	Issued     domain.CountTotal
	Withheld   domain.CountTotal
	Position   domain.Position
}

// Approve approves a drafted batch (another user than the drafter), then
// issues its lines shard by shard, re-checking each against the
// entitlements as they stand: a month no longer owed is withheld. An
// approval lost to another user's is a *domain.BatchStateError naming the
// approver. The same command again finishes and returns the same
// approval.
func (p *Payroll) Approve(ctx context.Context, meta domain.CommandMeta, batchID string) (ApproveResult, error) {
	l, _, err := p.loadBatch(ctx, meta, batchID)
	if err != nil {
		return ApproveResult{}, err
	}
	mine := func(s domain.PayrollProgram) bool {
		b := s.Batches[batchID]
		return b.Approved != nil && b.ApprovedBy == meta.CommandID
	}
	if mine(l.control.state) {
		return p.finishApproval(ctx, meta, l, batchID, nil)
	}
	ps, err := p.persons(ctx, l.program)
	if err != nil {
		return ApproveResult{}, err
	}
	_, _, err = decide(ctx, &p.x, l.control, meta, once("approve"), func(s domain.PayrollProgram) ([]domain.Event, error) {
		if mine(s) {
			return nil, nil
		}
		return domain.DecideApproval(s, batchID, meta.Actor)
	})
	if err != nil {
		return ApproveResult{}, err
	}
	return p.finishApproval(ctx, meta, l, batchID, ps)
}

// finishApproval issues what an approved batch has still to issue and
// closes the approval.
func (p *Payroll) finishApproval(ctx context.Context, meta domain.CommandMeta, l *ledger, id string, ps *persons) (ApproveResult, error) {
	b, err := l.batch(id)
	if err != nil {
		return ApproveResult{}, err
	}
	if b.State == domain.BatchStateIssuing {
		if ps == nil {
			if ps, err = p.persons(ctx, l.program); err != nil {
				return ApproveResult{}, err
			}
		}
		total := b.Drafted.Lines.Count
		var done counter
		var issuedIn, withheldIn [domain.PaymentShards]domain.CountTotal
		err := p.eachShardOf(ctx, l, func(ctx context.Context, i int, s *stream[shard]) error {
			_, err := process(ctx, &p.x, s, meta, fmt.Sprintf("issue/%x", i), func(st shard) ([]domain.Event, error) {
				issue, withheld := domain.DecideIssue(st.PaymentsShard, b.Opened, ps[i])
				var out []domain.Event
				for _, c := range domain.Chunks(withheld, p.x.chunk) {
					out = append(out, domain.LinesReleased{BatchID: id, Program: l.program, Reason: withheldReason, References: c})
				}
				for _, c := range domain.Chunks(issue, p.x.chunk) {
					out = append(out, domain.PaymentsIssued{BatchID: id, Payments: c})
				}
				return out, nil
			}, func(ev domain.Event) {
				p.report(id, "issued", done.add(linesOf(ev)), total)
			})
			if err != nil {
				return err
			}
			for _, ref := range s.state.Batches[id] {
				switch sl := s.state.Lines[ref]; sl.Status {
				case domain.LineReleased:
					withheldIn[i] = withheldIn[i].Plus(sl.Amount)
				case domain.LineReserved:
					return fmt.Errorf("batch %s: line %s is still reserved after issuing", id, sl.Reference)
				default:
					issuedIn[i] = issuedIn[i].Plus(sl.Amount)
				}
			}
			return nil
		})
		if err != nil {
			return ApproveResult{}, err
		}
		issued, withheld := sumOf(issuedIn), sumOf(withheldIn)
		_, _, err = decide(ctx, &p.x, l.control, meta, once("issued"), func(s domain.PayrollProgram) ([]domain.Event, error) {
			if s.Batches[id].State != domain.BatchStateIssuing {
				return nil, nil // finished by a concurrent run
			}
			return domain.DecideIssued(s, id, issued, withheld)
		})
		if err != nil {
			return ApproveResult{}, err
		}
	}
	if b.State != domain.BatchStateApproved {
		return ApproveResult{}, &domain.BatchStateError{Batch: *b}
	}
	return ApproveResult{BatchID: id, ApprovedBy: b.Approved.ApprovedBy, Issued: b.Issued.Issued, Withheld: b.Issued.Withheld, Position: b.IssuedAt}, nil
}

// withheldReason is why an approval releases a line.
const withheldReason = "withheld on approval: the month is no longer owed this amount"

// RejectResult is a rejected batch.
type RejectResult struct {
	BatchID    string
	RejectedBy string
	Released   domain.CountTotal
	Position   domain.Position
}

// Reject rejects a batch being drafted or waiting for approval, with a
// reason, and releases its lines in every shard; a new batch may then pay
// the months. The same command again finishes and returns the same
// rejection.
func (p *Payroll) Reject(ctx context.Context, meta domain.CommandMeta, batchID, reason string) (RejectResult, error) {
	l, _, err := p.loadBatch(ctx, meta, batchID)
	if err != nil {
		return RejectResult{}, err
	}
	return p.reject(ctx, meta, l, batchID, reason)
}

func (p *Payroll) reject(ctx context.Context, meta domain.CommandMeta, l *ledger, id, reason string) (RejectResult, error) {
	_, _, err := decide(ctx, &p.x, l.control, meta, once("reject"), func(s domain.PayrollProgram) ([]domain.Event, error) {
		if b := s.Batches[id]; b.Rejected != nil && b.RejectedBy == meta.CommandID {
			return nil, nil // this command rejected it before
		}
		return domain.DecideRejection(s, id, meta.Actor, reason)
	})
	if err != nil {
		return RejectResult{}, err
	}
	return p.finishRejection(ctx, meta, l, id)
}

// finishRejection releases what a rejected batch still holds and closes
// the batch in every shard, so that a draft of it still running reserves
// nothing more.
func (p *Payroll) finishRejection(ctx context.Context, meta domain.CommandMeta, l *ledger, id string) (RejectResult, error) {
	b, err := l.batch(id)
	if err != nil {
		return RejectResult{}, err
	}
	if b.State == domain.BatchStateRejecting {
		var releasedIn [domain.PaymentShards]domain.CountTotal
		err := p.eachShardOf(ctx, l, func(ctx context.Context, i int, s *stream[shard]) error {
			_, err := process(ctx, &p.x, s, meta, fmt.Sprintf("release/%x", i), func(st shard) ([]domain.Event, error) {
				refs := domain.DecideRelease(st.PaymentsShard, id)
				if len(refs) == 0 && st.Closed[id] {
					return nil, nil
				}
				var out []domain.Event
				chunks := domain.Chunks(refs, p.x.chunk)
				if len(chunks) == 0 {
					chunks = [][]string{nil}
				}
				for k, c := range chunks {
					out = append(out, domain.LinesReleased{BatchID: id, Program: l.program, Reason: b.Rejected.Reason, References: c, Closed: k == len(chunks)-1})
				}
				return out, nil
			}, nil)
			if err != nil {
				return err
			}
			for _, ref := range s.state.Batches[id] {
				releasedIn[i] = releasedIn[i].Plus(s.state.Lines[ref].Amount)
			}
			return nil
		})
		if err != nil {
			return RejectResult{}, err
		}
		released := sumOf(releasedIn)
		_, _, err = decide(ctx, &p.x, l.control, meta, once("released"), func(s domain.PayrollProgram) ([]domain.Event, error) {
			if s.Batches[id].State != domain.BatchStateRejecting {
				return nil, nil
			}
			return domain.DecideReleased(s, id, released)
		})
		if err != nil {
			return RejectResult{}, err
		}
	}
	if b.State != domain.BatchStateRejected {
		return RejectResult{}, &domain.BatchStateError{Batch: *b}
	}
	return RejectResult{BatchID: id, RejectedBy: b.Rejected.RejectedBy, Released: b.Released.Released, Position: b.ReleasedAt}, nil
}

// Resume carries out what a batch's last decision left undone — a draft,
// an approval or a rejection stopped midway — and returns the batch's
// state.
func (p *Payroll) Resume(ctx context.Context, meta domain.CommandMeta, batchID string) (string, error) {
	l, b, err := p.loadBatch(ctx, meta, batchID)
	if err != nil {
		return "", err
	}
	state := b.State // b follows the stream as the step goes on
	switch state {
	case domain.BatchStateDrafting:
		_, err = p.finishDraft(ctx, meta, l, batchID, nil)
	case domain.BatchStateIssuing:
		_, err = p.finishApproval(ctx, meta, l, batchID, nil)
	case domain.BatchStateRejecting:
		_, err = p.finishRejection(ctx, meta, l, batchID)
	}
	var re *domain.RuleError
	if errors.As(err, &re) && re.Rule == domain.RuleNothingToPay {
		err = nil // the draft found nothing left to pay and closed itself
	}
	return state, err
}

// RecordClaims records an overpayment claim for every month of the
// program paid more than owed, on the read models caught up with the log.
func (p *Payroll) RecordClaims(ctx context.Context, meta domain.CommandMeta, program domain.ProgramCode) ([]domain.OverpaymentClaimed, error) {
	if err := meta.Validate(); err != nil {
		return nil, err
	}
	if _, err := domain.PayableProgram("program", program); err != nil {
		return nil, err
	}
	l, err := p.load(ctx, program)
	if err != nil {
		return nil, err
	}
	ps, err := p.persons(ctx, program)
	if err != nil {
		return nil, err
	}
	return p.claims(ctx, meta, l, ps)
}

func (p *Payroll) claims(ctx context.Context, meta domain.CommandMeta, l *ledger, ps *persons) ([]domain.OverpaymentClaimed, error) {
	on := domain.BusinessDate(meta.Now)
	var n counter
	err := p.x.eachShard(ctx, func(ctx context.Context, i int) error {
		_, err := process(ctx, &p.x, l.shards[i], meta, fmt.Sprintf("claims/%x", i), func(st shard) ([]domain.Event, error) {
			var evs []domain.Event
			for _, c := range domain.DecideClaims(st.PaymentsShard, l.program, ps[i], on) {
				evs = append(evs, c)
			}
			return evs, nil
		}, func(domain.Event) {
			p.report("", "claimed", n.add(1), 0)
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	// Those this command recorded, now or in an earlier run of it.
	return l.claimsBy(meta.CommandID), nil
}

// SettleClaimRequest records money recovered on an overpayment claim, or
// written off.
type SettleClaimRequest struct {
	ClaimID  string
	Amount   domain.Money
	WriteOff bool
	Reason   string // required to write off
}

// SettleClaimResult is a claim after a recovery or write-off.
type SettleClaimResult struct {
	Claim    domain.Claim
	Before   domain.Money // what the claim asked before
	Position domain.Position
}

// SettleClaim records a recovery or write-off, never more than the claim
// still asks (as its payments shard tells it, at the exact revision). The
// same command again answers as it did.
func (p *Payroll) SettleClaim(ctx context.Context, meta domain.CommandMeta, req SettleClaimRequest) (SettleClaimResult, error) {
	if err := meta.Validate(); err != nil {
		return SettleClaimResult{}, err
	}
	person, program, err := domain.ParseClaimID("claim", req.ClaimID)
	if err != nil {
		return SettleClaimResult{}, err
	}
	s := newStream(domain.PaymentsStream(program, domain.PaymentShard(person)), newShard(0), evolveShard)
	before := domain.Money{}
	res, _, err := decide(ctx, &p.x, s, meta, once("settle-claim"), func(st shard) ([]domain.Event, error) {
		if _, done := st.settled[meta.CommandID]; done {
			return nil, nil // this command settled it before
		}
		if c := st.Claims[req.ClaimID]; c != nil {
			before = c.Remaining()
		}
		return domain.DecideClaimSettlement(st.PaymentsShard, req.ClaimID, req.Amount, req.WriteOff, req.Reason, domain.BusinessDate(meta.Now))
	})
	if err != nil {
		return SettleClaimResult{}, err
	}
	c := *s.state.Claims[req.ClaimID]
	if pos, done := s.state.settled[meta.CommandID]; done && res.Position.IsStart() {
		res.Position, before = pos, c.Remaining().Add(req.Amount)
	}
	return SettleClaimResult{Claim: c, Before: before, Position: res.Position}, nil
}

// Report returns a batch's report: every line with its status and the
// totals, from the event store.
func (p *Payroll) Report(ctx context.Context, batchID string) (domain.BatchReport, error) {
	program, _, err := domain.ParseBatchID("batch", batchID)
	if err != nil {
		return domain.BatchReport{}, err
	}
	l, err := p.load(ctx, program)
	if err != nil {
		return domain.BatchReport{}, err
	}
	b, err := l.batch(batchID)
	if err != nil {
		return domain.BatchReport{}, err
	}
	lines := l.lines(batchID)
	vs := make([]domain.ShardLine, len(lines))
	for i, sl := range lines {
		vs[i] = *sl
	}
	return domain.NewBatchReport(*b, vs), nil
}

// Batch returns a batch as the program's payroll stream tells it.
func (p *Payroll) Batch(ctx context.Context, batchID string) (domain.Batch, error) {
	program, _, err := domain.ParseBatchID("batch", batchID)
	if err != nil {
		return domain.Batch{}, err
	}
	l := newStream(domain.PayrollStream(program), domain.NewPayrollProgram(), domain.EvolvePayrollProgram)
	if err := l.catchUp(ctx, p.x.store, p.x.reg); err != nil {
		return domain.Batch{}, err
	}
	b := l.state.Batches[batchID]
	if b == nil {
		return domain.Batch{}, fmt.Errorf("batch %s: %w", batchID, domain.ErrNotFound)
	}
	return *b, nil
}

// ExportRequest asks for an approved batch's bank payment file.
type ExportRequest struct {
	BatchID  string
	Format   string // csv or xlsx
	Encoding string // utf-8 or gb18030 (CSV only)
}

// ExportResult is a payment file and its record.
type ExportResult struct {
	File     []byte
	Name     string // BATCH.csv or BATCH.xlsx
	Format   string // csv or xlsx
	Encoding string // utf-8 or gb18030
	Count    int
	Total    domain.Money
	SHA256   string
	Position domain.Position
}

// Export writes the payment file of an approved batch — every line issued
// and not yet settled or failed, to the account each person has now — and
// records it (BatchExported). The same command again returns the same
// file, or refuses if the file would now differ.
func (p *Payroll) Export(ctx context.Context, meta domain.CommandMeta, req ExportRequest) (ExportResult, error) {
	if err := meta.Validate(); err != nil {
		return ExportResult{}, err
	}
	out, l, err := p.paymentFile(ctx, req)
	if err != nil {
		return ExportResult{}, err
	}
	rec := domain.BatchExported{BatchID: req.BatchID, Format: out.Format, Encoding: out.Encoding, FileSHA256: out.SHA256,
		Count: out.Count, Total: out.Total, ExportedBy: meta.Actor}
	res, _, err := decide(ctx, &p.x, l.control, meta, once("export"), func(s domain.PayrollProgram) ([]domain.Event, error) {
		if prev, ok := s.Exported[meta.CommandID]; ok {
			if prev.FileSHA256 != rec.FileSHA256 {
				return nil, &domain.ConflictError{Reason: fmt.Sprintf("this export was recorded with another file (SHA-256 %.12s…); the batch or the accounts changed since: export again with a new key", prev.FileSHA256)}
			}
			return nil, nil
		}
		return domain.DecideExport(s, rec)
	})
	if err != nil {
		return ExportResult{}, err
	}
	out.Position = res.Position
	if out.Position.IsStart() {
		out.Position = l.control.state.Positions[meta.CommandID]
	}
	return out.ExportResult, nil
}

// ExportedFile writes again the payment file an export recorded, and
// records nothing; it refuses (conflict) if the file would now differ
// from the one recorded — payments settled or accounts changed since.
func (p *Payroll) ExportedFile(ctx context.Context, batchID, sha string) (ExportResult, error) {
	b, err := p.Batch(ctx, batchID)
	if err != nil {
		return ExportResult{}, err
	}
	for _, e := range b.Exports {
		if e.FileSHA256 != sha {
			continue
		}
		out, _, err := p.paymentFile(ctx, ExportRequest{BatchID: batchID, Format: e.Format, Encoding: e.Encoding})
		if err != nil {
			return ExportResult{}, err
		}
		if out.SHA256 != sha {
			return ExportResult{}, &domain.ConflictError{Reason: "the payment file would differ from the one recorded (payments settled or accounts changed since): export the batch again"}
		}
		return out.ExportResult, nil
	}
	return ExportResult{}, fmt.Errorf("export %.12s of batch %s: %w", sha, batchID, domain.ErrNotFound)
}

// paymentFile is a payment file written and not (yet) recorded.
type paymentFile struct{ ExportResult }

// paymentFile writes an approved batch's payment file: every line issued
// and not yet settled or failed, to the account each person has now.
func (p *Payroll) paymentFile(ctx context.Context, req ExportRequest) (paymentFile, *ledger, error) {
	if req.Format == "" {
		req.Format = "csv"
	}
	format, err := bankfile.ParseFormat(req.Format)
	if err != nil {
		return paymentFile{}, nil, err
	}
	if req.Encoding == "" || format == bankfile.XLSX {
		req.Encoding = map[bool]string{true: "utf-8", false: "gb18030"}[format == bankfile.XLSX]
	}
	enc, err := bankfile.ParseEncoding(req.Encoding)
	if err != nil {
		return paymentFile{}, nil, err
	}
	program, period, err := domain.ParseBatchID("batch", req.BatchID)
	if err != nil {
		return paymentFile{}, nil, err
	}
	l, err := p.loadControl(ctx, program)
	if err != nil {
		return paymentFile{}, nil, err
	}
	if _, err := domain.DecideExport(l.control.state, domain.BatchExported{BatchID: req.BatchID}); err != nil {
		return paymentFile{}, nil, err
	}
	if err := p.read.CaughtUp(ctx); err != nil {
		return paymentFile{}, nil, err
	}
	issued, err := p.issuedLines(ctx, l, req.BatchID)
	if err != nil {
		return paymentFile{}, nil, err
	}
	pids := make([]domain.PersonID, len(issued))
	for i, sl := range issued {
		pids[i] = sl.PersonID
	}
	accounts, err := p.read.BankAccounts(ctx, pids)
	if err != nil {
		return paymentFile{}, nil, err
	}
	var lines []bankfile.PaymentFileLine
	var missing []string
	total := domain.Money{}
	for _, sl := range issued {
		a, ok := accounts[sl.PersonID]
		if !ok {
			missing = append(missing, string(sl.PersonID))
			continue
		}
		if p.sealer == nil {
			return paymentFile{}, nil, errors.New("export: no key to open bank account numbers")
		}
		number, err := p.sealer.Open(a.AccountSealed)
		if err != nil {
			return paymentFile{}, nil, fmt.Errorf("account of %s: %w", sl.PersonID, err)
		}
		lines = append(lines, bankfile.PaymentFileLine{Reference: sl.Reference, AccountName: a.AccountName, AccountMasked: a.AccountMasked,
			AccountNumber: number, Amount: sl.Amount, Note: domain.PaymentMemo(program, sl.Period, sl.Kind)})
		total = total.Add(sl.Amount)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		missing = slices.Compact(missing)
		return paymentFile{}, nil, domain.Violation("bank_account_missing", "%d persons in batch %s have no bank account recorded (POST /v1/persons/{id}/bank-account): %s",
			len(missing), req.BatchID, strings.Join(missing, ", "))
	}
	var buf bytes.Buffer
	hdr := bankfile.BatchHeader{BatchID: req.BatchID, Program: string(program), Period: period.String(), Count: len(lines), Total: total}
	if err := bankfile.WritePayments(&buf, format, enc, hdr, lines); err != nil {
		return paymentFile{}, nil, err
	}
	sum := sha256.Sum256(buf.Bytes())
	return paymentFile{ExportResult: ExportResult{File: buf.Bytes(), Name: req.BatchID + "." + format.String(), Count: len(lines), Total: total,
		SHA256: hex.EncodeToString(sum[:]), Format: format.String(), Encoding: enc.String()}}, l, nil
}

// issuedLines returns the lines of a batch that are issued and not yet
// settled or failed, by reference. It folds the program's payment shards a
// few at a time and keeps of each only those lines, so a command that
// only reads a batch holds a shard's fold at a time, not the program's.
// l holds the program's payroll stream, folded; its shards stay unread.
func (p *Payroll) issuedLines(ctx context.Context, l *ledger, batchID string) ([]domain.PayrollLine, error) {
	var mu sync.Mutex
	var out []domain.PayrollLine
	err := p.x.eachShard(ctx, func(ctx context.Context, i int) error {
		s, err := p.loadShard(ctx, l, i)
		if err != nil {
			return err
		}
		refs := s.state.Batches[batchID]
		mine := make([]domain.PayrollLine, 0, len(refs))
		for _, ref := range refs {
			if sl := s.state.Lines[ref]; sl.Status == domain.LineIssued {
				mine = append(mine, sl.PayrollLine)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		out = append(out, mine...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b domain.PayrollLine) int { return strings.Compare(a.Reference, b.Reference) })
	return out, nil
}

// ReconcileRequest is a bank return file for a batch.
type ReconcileRequest struct {
	BatchID string
	Name    string // for messages, e.g. the file's name
	Raw     []byte
	On      domain.Date // settlement date; zero: today
}

// ReconcileResult is a return file classified against its batch.
type ReconcileResult struct {
	bankfile.Reconciliation
	// AlreadyImported: this very file was imported before; nothing new
	// was applied (a run stopped midway was finished).
	AlreadyImported bool
	// Claims are the overpayment claims the file's late settlements
	// caused: months whose re-issue went out before the bank paid after
	// all.
	Claims []domain.OverpaymentClaimed
	// Position is where the last event appended landed (Start: nothing
	// was appended).
	Position domain.Position
}

// Reconcile reads a bank return file, classifies its lines against the
// batch's payments, applies the settlements and failures shard by shard
// and records the import (ReturnImported, with the file's SHA-256 and its
// tallies). A malformed file is a *bankfile.FileError and applies
// nothing; the same file again applies nothing new and answers with the
// same classification.
//
// Every reference the ledger writes names its payment shard
// (domain.LineReference), so each shard is folded, judges its own lines
// of the file and settles them on its own, a few shards at a time: the
// command holds a few shards' lines, never the whole batch's. A reference
// that names no shard is none of the batch's.
func (p *Payroll) Reconcile(ctx context.Context, meta domain.CommandMeta, req ReconcileRequest) (ReconcileResult, error) {
	if err := meta.Validate(); err != nil {
		return ReconcileResult{}, err
	}
	program, _, err := domain.ParseBatchID("batch", req.BatchID)
	if err != nil {
		return ReconcileResult{}, err
	}
	if req.On.IsZero() {
		req.On = domain.BusinessDate(meta.Now)
	}
	sum := sha256.Sum256(req.Raw)
	file := hex.EncodeToString(sum[:])
	// The file is read, and its lines split by shard, while the ledger is
	// folded: neither needs the other, and a large file takes seconds to
	// read.
	ret := readReturn(req)
	l, err := p.loadControl(ctx, program)
	var b *domain.Batch
	if err == nil {
		b, err = l.batch(req.BatchID)
	}
	if err == nil && b.State != domain.BatchStateApproved {
		err = domain.Violation(domain.RuleBatchNotApproved, "batch %s is %s: only an approved batch has payments to reconcile", req.BatchID, b.State)
	}
	if err == nil {
		err = importedElsewhere(l.control.state, file, req.BatchID)
	}
	if err != nil {
		if ferr := ret.wait(ctx); ferr != nil {
			return ReconcileResult{}, ferr // a malformed file applies nothing, whatever the ledger
		}
		return ReconcileResult{}, err
	}
	// The file is judged against every payment the batch issued, with what
	// the batch's earlier return files said of it — so a cumulative file's
	// earlier lines are known — and never with what this file did: this
	// file imported again, or run again after a crash midway, is judged as
	// it was the first time.
	order := map[string]int{}
	for i, im := range b.Imports {
		order[im.FileSHA256] = i + 1
	}
	if _, ok := order[file]; !ok {
		order[file] = len(b.Imports) + 1
	}
	n := order[file]
	var (
		parts   [domain.PaymentShards]bankfile.Reconciliation
		claims  [domain.PaymentShards][]domain.OverpaymentClaimed
		last    [domain.PaymentShards]domain.Position
		done    counter
		counted = func(k int) { p.report(req.BatchID, "reconciled", done.add(k), len(ret.file.Lines)) }
	)
	// The reconciliation begins (ReturnStarted) once the whole file has
	// been read well, and no shard appends before that; the shards are
	// folded meanwhile.
	var start struct {
		once sync.Once
		err  error
	}
	begin := func(ctx context.Context) error {
		if err := ret.wait(ctx); err != nil {
			return err
		}
		start.once.Do(func() {
			started := domain.ReturnStarted{BatchID: req.BatchID, FileSHA256: file, Lines: len(ret.file.Lines), StartedBy: meta.Actor}
			_, _, start.err = decide(ctx, &p.x, l.control, meta, once("return-start"), func(s domain.PayrollProgram) ([]domain.Event, error) {
				return domain.DecideReturnStart(s, started)
			})
		})
		return start.err
	}
	err = p.x.eachShard(ctx, func(ctx context.Context, i int) error {
		s, err := p.loadShard(ctx, l, i)
		if err != nil {
			return err
		}
		if err := begin(ctx); err != nil {
			return err
		}
		refs := s.state.Batches[req.BatchID]
		expected := make([]bankfile.Expected, 0, len(refs))
		for _, ref := range refs {
			switch sl := s.state.Lines[ref]; sl.Status {
			case domain.LineIssued, domain.LineSettled, domain.LineFailed:
				expected = append(expected, bankfile.Expected{Reference: sl.Reference, Amount: sl.Amount, Earlier: earlierStatus[sl.StatusBefore(n, order)]})
			}
		}
		slices.SortFunc(expected, func(a, b bankfile.Expected) int { return strings.Compare(a.Reference, b.Reference) })
		rec := bankfile.Classify(expected, bankfile.ReturnFile{Lines: ret.shards[i]})
		parts[i] = rec
		settlements := make([]domain.Settlement, 0, len(rec.Settled)+len(rec.LateSettled)+len(rec.Failed))
		for _, rl := range rec.Settled {
			settlements = append(settlements, domain.Settlement{Reference: rl.Reference, BankReference: rl.BankReference, On: req.On})
		}
		for _, rl := range rec.LateSettled {
			settlements = append(settlements, domain.Settlement{Reference: rl.Reference, BankReference: rl.BankReference, On: req.On})
		}
		for _, rl := range rec.Failed {
			settlements = append(settlements, domain.Settlement{Reference: rl.Reference, Failed: true, Reason: rl.Reason, On: req.On})
		}
		counted(len(ret.shards[i]) - len(settlements)) // lines that change nothing
		pending := len(settlements)
		last[i], err = process(ctx, &p.x, s, meta, fmt.Sprintf("settle/%x", i), func(st shard) ([]domain.Event, error) {
			r := domain.DecideSettle(st.PaymentsShard, req.BatchID, program, settlements)
			var out []domain.Event
			for _, c := range domain.Chunks(r.Failed, p.x.chunk) {
				out = append(out, domain.PaymentsFailed{BatchID: req.BatchID, FileSHA256: file, Payments: c})
			}
			for _, c := range domain.Chunks(r.Settled, p.x.chunk) {
				out = append(out, domain.PaymentsSettled{BatchID: req.BatchID, FileSHA256: file, Payments: c})
			}
			for _, c := range domain.Chunks(r.Late, p.x.chunk) {
				out = append(out, domain.PaymentsSettledLate{BatchID: req.BatchID, FileSHA256: file, Payments: c})
			}
			return out, nil
		}, func(ev domain.Event) {
			k := linesOf(ev)
			pending -= k
			counted(k)
		})
		if err != nil {
			return err
		}
		counted(pending) // settled before this run (a run stopped midway)
		lateAt, err := p.claimLate(ctx, meta, s, i, program, req.BatchID, file)
		if err != nil {
			return err
		}
		if last[i].Less(lateAt) {
			last[i] = lateAt
		}
		claims[i] = s.state.claims[meta.CommandID]
		return nil
	})
	if err != nil {
		return ReconcileResult{}, err
	}
	rec := bankfile.Merge(append(parts[:], bankfile.Classify(nil, bankfile.ReturnFile{Lines: ret.other}))...)
	counted(len(ret.other))
	t := rec.Totals
	imported := domain.ReturnImported{BatchID: req.BatchID, FileSHA256: file, Lines: len(ret.file.Lines), Settled: t.Settled.Count, Failed: t.Failed.Count,
		Late: t.LateSettled.Count, Unchanged: t.AlreadySettled.Count + t.AlreadyFailed.Count,
		Exceptions: t.AmountMismatch.Count + t.Unknown.Count + t.Duplicate.Count + t.Conflicting.Count + t.Contradicting.Count, ImportedBy: meta.Actor}
	already := false // imported before: this run finished what a stopped one left, or nothing
	res, _, err := decide(ctx, &p.x, l.control, meta, once("return"), func(s domain.PayrollProgram) ([]domain.Event, error) {
		if _, ok := s.Imported[file]; ok {
			already = true
			return nil, importedElsewhere(s, file, req.BatchID)
		}
		return domain.DecideReturn(s, imported)
	})
	if err != nil {
		return ReconcileResult{}, err
	}
	out := ReconcileResult{Reconciliation: rec, AlreadyImported: already, Claims: slices.Concat(claims[:]...), Position: res.Position}
	for _, at := range last {
		if out.Position.Less(at) {
			out.Position = at
		}
	}
	return out, nil
}

// importedElsewhere is a conflict when the return file was imported into
// another batch than batchID.
func importedElsewhere(s domain.PayrollProgram, file, batchID string) error {
	if prev, ok := s.Imported[file]; ok && prev.BatchID != batchID {
		return &domain.ConflictError{Reason: fmt.Sprintf("this return file was imported into batch %s, not %s", prev.BatchID, batchID)}
	}
	return nil
}

// returnLines is a return file being read, its lines split by the payment
// shard their reference names.
type returnLines struct {
	read   chan struct{} // closed once read
	err    error
	file   bankfile.ReturnFile
	shards [domain.PaymentShards][]bankfile.ReturnLine
	other  []bankfile.ReturnLine // references that name no shard
}

// readReturn reads a return file in the background.
func readReturn(req ReconcileRequest) *returnLines {
	r := &returnLines{read: make(chan struct{})}
	go func() {
		defer close(r.read)
		if r.file, r.err = bankfile.ReadReturn(bytes.NewReader(req.Raw), req.Name); r.err != nil {
			return
		}
		var n [domain.PaymentShards]int
		for _, rl := range r.file.Lines {
			if i, ok := domain.ReferenceShard(rl.Reference); ok {
				n[i]++
			}
		}
		for i := range r.shards {
			r.shards[i] = make([]bankfile.ReturnLine, 0, n[i])
		}
		for _, rl := range r.file.Lines {
			if i, ok := domain.ReferenceShard(rl.Reference); ok {
				r.shards[i] = append(r.shards[i], rl)
			} else {
				r.other = append(r.other, rl)
			}
		}
	}()
	return r
}

// wait waits for the file to be read and returns what was wrong with it.
func (r *returnLines) wait(ctx context.Context) error {
	select {
	case <-r.read:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// earlierStatus is what return files said of a payment, in bankfile's
// words, by the line status they left.
var earlierStatus = map[string]string{domain.LineSettled: bankfile.StatusSettled, domain.LineFailed: bankfile.StatusFailed}

// claimLate records an overpayment claim for each month of the shard that
// a payment the file settled late paid twice: its re-issue went out
// before the bank's word came. It judges the persons concerned from their
// own streams.
func (p *Payroll) claimLate(ctx context.Context, meta domain.CommandMeta, s *stream[shard], i int, program domain.ProgramCode, batchID, file string) (domain.Position, error) {
	var ids []domain.PersonID
	for _, ref := range s.state.Batches[batchID] {
		l := s.state.Lines[ref]
		if l.Status == domain.LineSettled && l.SettledBy == file && l.FailedBy != "" {
			ids = append(ids, l.PersonID)
		}
	}
	if len(ids) == 0 {
		return domain.Position{}, nil
	}
	slices.Sort(ids)
	ps, err := p.personsFromStreams(ctx, program, slices.Compact(ids))
	if err != nil {
		return domain.Position{}, err
	}
	on := domain.BusinessDate(meta.Now)
	return process(ctx, &p.x, s, meta, fmt.Sprintf("late-claims/%x", i), func(st shard) ([]domain.Event, error) {
		var evs []domain.Event
		for _, c := range domain.DecideClaimsOf(st.PaymentsShard, program, ps, on) {
			evs = append(evs, c)
		}
		return evs, nil
	}, nil)
}

// Unfinished reports every batch of every program whose long step —
// drafting, issuing, rejecting or reconciling a return file — has not
// ended, with its progress: one that runs now, or one stopped midway that
// Resume finishes (a reconciliation: importing the same file again).
func (p *Payroll) Unfinished(ctx context.Context) ([]domain.BatchReport, error) {
	var out []domain.BatchReport
	for _, prog := range domain.Catalog() {
		bs, err := p.Batches(ctx, prog.Code)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			switch {
			case b.State == domain.BatchStateDrafting, b.State == domain.BatchStateIssuing, b.State == domain.BatchStateRejecting,
				len(b.Reconciling) > 0:
				r, err := p.Report(ctx, b.Opened.BatchID)
				if err != nil {
					return nil, err
				}
				r.Lines = nil
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// Batches lists a program's batches, newest first.
func (p *Payroll) Batches(ctx context.Context, program domain.ProgramCode) ([]domain.Batch, error) {
	s := newStream(domain.PayrollStream(program), domain.NewPayrollProgram(), domain.EvolvePayrollProgram)
	if err := s.catchUp(ctx, p.x.store, p.x.reg); err != nil {
		return nil, err
	}
	var out []domain.Batch
	for _, b := range s.state.Batches {
		out = append(out, *b)
	}
	slices.SortFunc(out, func(a, b domain.Batch) int {
		return cmp.Or(b.OpenedAt.Compare(a.OpenedAt), strings.Compare(b.Opened.BatchID, a.Opened.BatchID))
	})
	return out, nil
}
