package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/lushan-dpf/ledger/domain"
)

// ReviewReads is what the eligibility review reads: who may be due, from
// read models caught up with the log.
type ReviewReads interface {
	CaughtUp(ctx context.Context) error
	ReviewCandidates(ctx context.Context, on domain.Date) ([]domain.PersonID, error)
}

// ReviewResult is what a review did.
type ReviewResult struct {
	Candidates int               // persons looked at
	Changed    []domain.PersonID // persons whose entitlements it suspended or ended
	Position   domain.Position   // where the last change landed
}

// ReviewEligibility runs domain.ReviewEligibility on day on for every
// person the read models say may be due (an expired certificate, an age
// limit): a certificate that expired suspends what needs it, an age limit
// passed ends what it limits. Each person's review is a command of its
// own (the command ID of meta, then "/", then the person), so a review run
// again with the same command ID, after a crash midway, finishes what the
// first left and changes nothing twice. progress, when set, is told each
// person done.
func (p *Persons) ReviewEligibility(ctx context.Context, meta domain.CommandMeta, read ReviewReads, on domain.Date, progress func(done, total int)) (ReviewResult, error) {
	if err := meta.Validate(); err != nil {
		return ReviewResult{}, err
	}
	if err := read.CaughtUp(ctx); err != nil {
		return ReviewResult{}, err
	}
	ids, err := read.ReviewCandidates(ctx, on)
	if err != nil {
		return ReviewResult{}, err
	}
	res := ReviewResult{Candidates: len(ids)}
	for i, id := range ids {
		m := meta
		m.CommandID = fmt.Sprintf("%s/%s", meta.CommandID, id)
		r, err := p.Execute(ctx, id, m, domain.ReviewEligibility{On: on})
		switch {
		case errors.Is(err, domain.ErrConflict):
			// Nothing broke on the day: the facts still hold.
		case err != nil:
			return res, fmt.Errorf("review of %s: %w", id, err)
		default:
			res.Changed = append(res.Changed, id)
			if res.Position.Less(r.Position) {
				res.Position = r.Position
			}
		}
		if progress != nil {
			progress(i+1, len(ids))
		}
	}
	return res, nil
}
