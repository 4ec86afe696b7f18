package app

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/lushan-dpf/ledger/domain"
)

// Notices is the use case of change notices: it folds a department's
// notice stream, settles the window, has the caller produce the file,
// decides and records the notice through the one command loop (decide) —
// planning and producing again if another notice got there first.
type Notices struct{ x runtime }

// NewNotices returns the change-notice use cases over a store.
func NewNotices(store domain.EventStore) *Notices {
	return &Notices{x: newRuntime(store, domain.NewLedgerRegistry())}
}

// stream is a department's notice stream folded, with every event by ID,
// so that a command run again finds what it recorded.
func (n *Notices) stream(d domain.Department) *stream[recorded[domain.NoticeState]] {
	return newRecordedStream(domain.NoticeStream(d), domain.NoticeState{}, domain.EvolveNotices)
}

// State returns the folded notice stream of a department.
func (n *Notices) State(ctx context.Context, d domain.Department) (domain.NoticeState, error) {
	s := n.stream(d)
	err := s.catchUp(ctx, n.x.store, n.x.reg)
	return s.state.folded, err
}

// Issue records a change notice. produce makes the file for the settled
// plan and describes it; it may be called more than once (after a lost
// race), and only the last call's file is the one recorded. Issuing a
// command ID that already ran returns the notice it recorded with replayed
// true, appending nothing and calling produce not at all.
func (n *Notices) Issue(ctx context.Context, meta domain.CommandMeta, c domain.IssueChangeNotice,
	produce func(domain.ChangeNoticePlan) (domain.NoticeFile, error)) (res domain.AppendResult, issued domain.ChangeNoticeIssued, replayed bool, err error) {
	if err := meta.Validate(); err != nil {
		return domain.AppendResult{}, domain.ChangeNoticeIssued{}, false, err
	}
	today := domain.NoticeDay(meta.Now)
	s := n.stream(c.Department)
	var earlier *domain.Envelope
	res, events, err := decide(ctx, &n.x, s, meta, once(""), func(st recorded[domain.NoticeState]) ([]domain.Event, error) {
		if env, ok := st.ranBefore(meta); ok {
			earlier = &env // this command ran already
			return nil, nil
		}
		plan, err := domain.PlanChangeNotice(st.folded, c, today)
		if err != nil {
			return nil, err
		}
		file, err := produce(plan)
		if err != nil {
			return nil, err
		}
		return domain.DecideChangeNotice(st.folded, c, plan, file, today)
	})
	switch {
	case err != nil:
		return domain.AppendResult{}, domain.ChangeNoticeIssued{}, false, err
	case earlier != nil:
		e, ok := earlier.Event.(*domain.ChangeNoticeIssued)
		if !ok {
			return domain.AppendResult{}, domain.ChangeNoticeIssued{}, false, fmt.Errorf("%s@%d: command %s recorded %s, not a notice", s.name, earlier.Revision, meta.CommandID, earlier.Type)
		}
		return domain.AppendResult{NextExpected: earlier.Revision, Position: earlier.Position}, *e, true, nil
	}
	return res, events[0].(domain.ChangeNoticeIssued), false, nil
}

// Find returns the notice with id from the department's stream.
func (n *Notices) Find(ctx context.Context, d domain.Department, id string) (domain.ChangeNoticeIssued, error) {
	s, err := n.State(ctx, d)
	if err != nil {
		return domain.ChangeNoticeIssued{}, err
	}
	for _, e := range s.Notices {
		if e.NoticeID == id {
			return e, nil
		}
	}
	return domain.ChangeNoticeIssued{}, fmt.Errorf("change notice %s: %w", id, domain.ErrNotFound)
}

// NoticeSource is what change notices are made from: the changelog read
// model and the notice files' formats (reports.NoticeSource implements it).
type NoticeSource interface {
	// Ready waits until the changelog has applied every event in the log;
	// an error matching domain.ErrUnavailable when it has not in time.
	Ready(ctx context.Context) error
	// CheckFormat refuses a file format it cannot write (a field error).
	CheckFormat(format string) error
	// Townships lists every township the changelog knows, sorted.
	Townships(ctx context.Context) ([]string, error)
	// Write reads the changes of a settled plan, writes the notice's file
	// in format and describes it.
	Write(ctx context.Context, plan domain.ChangeNoticePlan, format string) ([]byte, domain.NoticeFile, error)
}

// ChangesRequest asks for a change notice. From may be zero: the notice
// then continues where the last one of the department and township ended.
type ChangesRequest struct {
	Department domain.Department
	Township   string // "" for every township
	From, To   domain.Date
	Format     string // one the NoticeSource writes, e.g. "csv"
	Reissue    bool
}

// ChangesIssued is a notice produced and recorded.
type ChangesIssued struct {
	Notice   domain.ChangeNoticeIssued
	File     []byte
	Result   domain.AppendResult // where the notice's event was appended
	Replayed bool                // the command had run before: nothing was appended
}

// IssueChanges produces a change notice and records it: it waits for the
// changelog to catch up with the log, settles the window against the
// department's earlier notices, has src read the changes and write the
// file, and appends ChangeNoticeIssued with the file's SHA-256 to the
// department's notice stream, so the next notice starts the day after this
// one's To. A command ID that already ran returns that notice, with its
// file produced again and checked against the recorded SHA-256.
func (n *Notices) IssueChanges(ctx context.Context, src NoticeSource, meta domain.CommandMeta, req ChangesRequest) (ChangesIssued, error) {
	if err := src.CheckFormat(req.Format); err != nil {
		return ChangesIssued{}, err
	}
	if err := src.Ready(ctx); err != nil {
		return ChangesIssued{}, err
	}
	if req.Township != "" {
		known, err := src.Townships(ctx)
		if err != nil {
			return ChangesIssued{}, err
		}
		if !slices.Contains(known, req.Township) {
			return ChangesIssued{}, domain.Invalid("township", "%q is no township of any registered person; known: %s", req.Township, strings.Join(known, ", "))
		}
	}
	var file []byte
	res, ev, replayed, err := n.Issue(ctx, meta, domain.IssueChangeNotice{
		Department: req.Department, Township: req.Township, From: req.From, To: req.To, Reissue: req.Reissue, IssuedBy: meta.Actor,
	}, func(plan domain.ChangeNoticePlan) (domain.NoticeFile, error) {
		var (
			f   domain.NoticeFile
			err error
		)
		file, f, err = src.Write(ctx, plan, req.Format)
		return f, err
	})
	if err != nil {
		return ChangesIssued{}, err
	}
	if replayed {
		if file, err = n.Regenerate(ctx, src, ev); err != nil {
			return ChangesIssued{}, err
		}
	}
	return ChangesIssued{Notice: ev, File: file, Result: res, Replayed: replayed}, nil
}

// ErrChangesDiffer: a notice produced again does not match the file
// recorded (the read model was rebuilt differently, or events were recorded
// with past dates since).
var ErrChangesDiffer = fmt.Errorf("the change notice produced again differs from the file recorded: %w", domain.ErrConflict)

// Regenerate produces a recorded notice's file again, from the window,
// township, department, format and issue date its event records, and
// checks it against the recorded SHA-256. Windows end before the day they
// are issued, so their changes no longer change.
func (n *Notices) Regenerate(ctx context.Context, src NoticeSource, ev domain.ChangeNoticeIssued) ([]byte, error) {
	file, f, err := src.Write(ctx, domain.ChangeNoticePlan{NoticeID: ev.NoticeID, Department: ev.Department, Township: ev.Township,
		From: ev.From, To: ev.To, IssuedOn: ev.IssuedOn, Reissue: ev.Reissue}, ev.Format)
	if err != nil {
		return nil, err
	}
	if f.FileSHA256 != ev.FileSHA256 {
		return nil, fmt.Errorf("change notice %s: %w", ev.NoticeID, ErrChangesDiffer)
	}
	return file, nil
}

// List lists the notices issued to the departments given (none: every
// department and the townships), oldest first within each, the
// townships' notices first.
func (n *Notices) List(ctx context.Context, departments ...domain.Department) ([]domain.ChangeNoticeIssued, error) {
	if len(departments) == 0 {
		departments = append([]domain.Department{domain.DepartmentNone}, domain.Departments()...)
	}
	var out []domain.ChangeNoticeIssued
	for _, d := range departments {
		s, err := n.State(ctx, d)
		if err != nil {
			return nil, fmt.Errorf("notices of %s: %w", domain.NoticeStream(d), err)
		}
		out = append(out, s.Notices...)
	}
	return out, nil
}
