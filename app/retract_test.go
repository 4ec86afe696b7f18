package app_test

import (
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// Given January to March paid and settled, and a death recorded late,
// claimed back by the next draft (February recovered in full, March not at
// all), when the death is retracted, then
// the living subsidy stands again, March's claim is cancelled, and the
// next payroll pays February again (its money was taken back) but not
// March (kept) — every month paid once, nothing owed back by a living
// person. The same command run again changes nothing.
func TestRetractedDeathReinstatesAndCancelsItsClaims(t *testing.T) {
	eachStore(t, func(t *testing.T, l *ledger) {
		ps := l.persons(2, "2025-01-01")
		pid := ps[0]
		d := l.draft("2025-03", "fin.wu")
		l.approve(d.Batch.BatchID, "fin.li")
		if _, err := l.pay.Reconcile(l.ctx, l.meta("fin.wu"), app.ReconcileRequest{BatchID: d.Batch.BatchID, Name: "march.csv",
			Raw: l.returnFile(d.Batch.BatchID), On: domain.MustDate("2025-03-27")}); err != nil {
			t.Fatal(err)
		}
		l.fact(pid, domain.RecordDeath{DateOfDeath: domain.MustDate("2025-01-15")})
		l.now = time.Date(2025, 4, 18, 2, 0, 0, 0, time.UTC)
		apr := l.draft("2025-04", "fin.wu")
		if len(apr.Claims) != 2 {
			t.Fatalf("April's draft claimed %d months back, want February and March", len(apr.Claims))
		}
		feb, mar := apr.Claims[0], apr.Claims[1]
		if _, err := l.pay.SettleClaim(l.ctx, l.meta("fin.wu"), app.SettleClaimRequest{ClaimID: feb.ClaimID, Amount: feb.Amount}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.pay.Reject(l.ctx, l.meta("fin.li"), apr.Batch.BatchID, "death retracted; redraft"); err != nil {
			t.Fatal(err)
		}

		retract := domain.CommandMeta{CommandID: "retract-1", Actor: "clerk", Role: "clerk", Now: l.now}
		res, err := l.h.Execute(l.ctx, pid, retract, domain.RetractDeath{})
		if err != nil {
			t.Fatal(err)
		}
		loaded, err := l.h.Load(l.ctx, pid)
		if err != nil {
			t.Fatal(err)
		}
		if en := loaded.State.Entitlements[domain.ProgramLivingSubsidy]; loaded.State.Deceased || en.Status != domain.EntitlementStatusActive || !en.EffectiveTo.IsZero() {
			t.Fatalf("after the retraction: deceased %v, living subsidy %+v; want alive and active", loaded.State.Deceased, en)
		}
		claims := l.claims(pid)
		if got := claims[mar.ClaimID]; !got.Remaining().IsZero() || !got.Cancelled.Equal(mar.Amount) {
			t.Errorf("March's claim after the retraction: %+v; want cancelled in full", got)
		}
		if got := claims[feb.ClaimID]; !got.Cancelled.IsZero() || !got.Recovered.Equal(feb.Amount) {
			t.Errorf("February's claim: %+v; want recovered, nothing to cancel", got)
		}
		again, err := l.h.Execute(l.ctx, pid, retract, domain.RetractDeath{})
		if err != nil || again.Position != res.Position {
			t.Fatalf("the same retraction again: %+v, %v; want the first answer %+v", again, err, res)
		}

		may := l.draft("2025-04", "fin.wu")
		if len(may.Claims) != 0 || may.Batch.Lines.Count != 3 {
			t.Fatalf("after the retraction: %d claims, %d lines; want no claim, April to both and February (recovered) paid again", len(may.Claims), may.Batch.Lines.Count)
		}
		l.approve(may.Batch.BatchID, "fin.li")
		paid := l.paid()
		for _, m := range []string{"2025-01", "2025-02", "2025-03", "2025-04"} {
			want := 1
			if m == "2025-02" {
				want = 2 // paid, recovered, paid again
			}
			if n := paid[string(pid[:6])+" "+m]; n != want {
				t.Errorf("%s paid by %d lines, want %d", m, n, want)
			}
		}
		l.neverTwice()
	})
}

// claims returns the person's claims of the living subsidy as its payment
// shard tells them.
func (l *ledger) claims(pid domain.PersonID) map[string]domain.Claim {
	l.t.Helper()
	out := map[string]domain.Claim{}
	recs, err := l.store.ReadStream(l.ctx, domain.PaymentsStream(domain.ProgramLivingSubsidy, domain.PaymentShard(pid)), domain.Forwards, 0, 10_000)
	if err != nil {
		l.t.Fatal(err)
	}
	reg := domain.NewLedgerRegistry()
	s := domain.NewPaymentsShard()
	for _, rec := range recs {
		env, err := reg.DecodeEnvelope(rec)
		if err != nil {
			l.t.Fatal(err)
		}
		domain.EvolvePaymentsShard(&s, env.Event)
	}
	for id, c := range s.Claims {
		if c.PersonID == pid {
			out[id] = *c
		}
	}
	return out
}
