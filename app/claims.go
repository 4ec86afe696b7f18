package app

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/lushan-dpf/ledger/domain"
)

// cancelClaims withdraws what the overpayment claims on a person's months
// still ask beyond what those months are overpaid now, in the payment
// shard of every program the person holds that payroll pays: after a
// death is retracted, the months it had claimed back are owed again. It
// judges from the person's own stream, appends at the exact revision of
// each shard (domain.DecideClaimCancellations, through process), and
// returns where its last append landed (Start: nothing to cancel). Run
// again, it finds nothing left to cancel and returns where the first run's
// last cancellation landed.
func (p *Persons) cancelClaims(ctx context.Context, meta domain.CommandMeta, id domain.PersonID, b domain.Beneficiary) (domain.Position, error) {
	var last domain.Position
	on := domain.BusinessDate(meta.Now)
	for _, program := range slices.Sorted(maps.Keys(b.Entitlements)) {
		if _, err := domain.PayableProgram("program", program); err != nil {
			continue // goods, not money
		}
		ps, err := payrollPersonsFromStreams(ctx, &p.payments, program, []domain.PersonID{id})
		if err != nil {
			return last, err
		}
		s := newStream(domain.PaymentsStream(program, domain.PaymentShard(id)), newShard(0), evolveShard)
		at, err := process(ctx, &p.payments, s, meta, fmt.Sprintf("cancel-claims/%s", program), func(st shard) ([]domain.Event, error) {
			var evs []domain.Event
			for _, c := range domain.DecideClaimCancellations(st.PaymentsShard, program, ps, on, "death retracted: the months are owed") {
				evs = append(evs, c)
			}
			return evs, nil
		}, nil)
		if err != nil {
			return last, err
		}
		if at.IsStart() {
			at = s.state.settled[meta.CommandID] // cancelled by an earlier run of the command, if at all
		}
		if last.Less(at) {
			last = at
		}
	}
	return last, nil
}
