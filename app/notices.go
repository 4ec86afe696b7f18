package app

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/lushan-dpf/ledger/domain"
)

// Notices is the use case of change notices: it folds a department's
// notice stream, settles the window, has the caller produce the file,
// decides and records the notice through the one command loop (decide) —
// planning and producing again if another notice got there first.
type Notices struct{ x runtime }

// NewNotices returns the change-notice use cases over a store.
func NewNotices(store domain.EventStore) *Notices {
	return &Notices{x: runtime{store: store, reg: domain.NewLedgerRegistry(), policy: DefaultPolicy, chunk: domain.MaxChunkBytes, workers: 1}}
}

// notices is a department's notice stream folded, with every event by ID,
// so that a command run again finds what it recorded.
type notices struct {
	domain.NoticeState
	byID map[uuid.UUID]domain.Envelope
}

func (n *Notices) stream(d domain.Department) *stream[notices] {
	return newStream(domain.NoticeStream(d), notices{byID: map[uuid.UUID]domain.Envelope{}}, func(s *notices, env domain.Envelope) {
		s.NoticeState = domain.EvolveNotices(s.NoticeState, env.Event)
		s.byID[env.ID] = env
	})
}

// State returns the folded notice stream of a department.
func (n *Notices) State(ctx context.Context, d domain.Department) (domain.NoticeState, error) {
	s := n.stream(d)
	err := s.catchUp(ctx, n.x.store, n.x.reg)
	return s.state.NoticeState, err
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
	first := domain.EventID(meta.CommandID, 0)
	today := domain.NoticeDay(meta.Now)
	s := n.stream(c.Department)
	var earlier *domain.Envelope
	res, events, err := decide(ctx, &n.x, s, meta, once(""), func(st notices) ([]domain.Event, error) {
		if env, ok := st.byID[first]; ok {
			earlier = &env // this command ran already
			return nil, nil
		}
		plan, err := domain.PlanChangeNotice(st.NoticeState, c, today)
		if err != nil {
			return nil, err
		}
		file, err := produce(plan)
		if err != nil {
			return nil, err
		}
		return domain.DecideChangeNotice(st.NoticeState, c, plan, file, today)
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
