package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

var testKey = domain.LookupKey("test-lookup-key-0123456789abcdef0123")

func registerCmd(t *testing.T) (domain.PersonID, domain.RegisterPerson) {
	t.Helper()
	id, err := domain.NewResidentID("360429", domain.MustDate("1968-03-09"), 25)
	if err != nil {
		t.Fatal(err)
	}
	h := testKey.Hash(id)
	return domain.PersonIDFromHash(h), domain.RegisterPerson{
		IDNumber: id, IDHash: h, Name: "李秀英", Township: "星子镇",
		Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-05"),
	}
}

func cmdMeta(id string) domain.CommandMeta {
	return domain.CommandMeta{CommandID: id, Actor: "clerk.zhou", Role: "clerk", Now: time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)}
}

// The command path end to end on the real store: a retried command appends
// nothing, concurrent commands on one person both land (one is decided
// again), and the stream's hash chain verifies.
func TestHandlerOnPostgres(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	h := app.NewPersons(s)
	pid, reg := registerCmd(t)
	cert, err := domain.NewCertificateNumber(reg.IDNumber, domain.CategoryPhysical, 1)
	if err != nil {
		t.Fatal(err)
	}

	first, err := h.Execute(ctx, pid, cmdMeta("reg-1"), reg)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	again, err := h.Execute(ctx, pid, cmdMeta("reg-1"), reg)
	if err != nil || again != first {
		t.Fatalf("retried register = %+v, %v; want the original %+v", again, err, first)
	}
	if _, err := h.Execute(ctx, pid, cmdMeta("reg-2"), reg); !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("second registration under a new command ID: %v, want ErrConflict", err)
	}
	if _, err := h.Execute(ctx, pid, cmdMeta("cert-1"), domain.IssueCertificate{
		Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01"),
	}); err != nil {
		t.Fatalf("certificate: %v", err)
	}

	// Two grants for different programs race for the same stream.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, p := range []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = h.Execute(ctx, pid, cmdMeta(fmt.Sprint("grant-", p)), domain.GrantEntitlement{Program: p, EffectiveFrom: domain.MustDate("2024-02-01")})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("grant %d: %v", i, err)
		}
	}

	// A rule violation appends nothing.
	before, _ := s.ReadStream(ctx, pid.Stream(), domain.Forwards, 0, 0)
	_, err = h.Execute(ctx, pid, cmdMeta("grant-child"), domain.GrantEntitlement{Program: domain.ProgramChildRehabLiving, EffectiveFrom: domain.MustDate("2024-02-01"), Amount: domain.MustMoney("150.00")})
	if !errors.Is(err, domain.ErrRuleViolation) {
		t.Fatalf("ineligible grant: %v, want a rule violation", err)
	}

	l, err := h.Load(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Events) != len(before) || len(l.Events) != 4 {
		t.Fatalf("stream has %d events (before the refused grant %d), want 4", len(l.Events), len(before))
	}
	for _, p := range []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy} {
		if en := l.State.Entitlements[p]; en == nil || en.Status != domain.EntitlementStatusActive {
			t.Errorf("%s not active after the race: %+v", p, en)
		}
	}
	prev := ""
	for _, rec := range before {
		md, err := domain.VerifyHash(rec, prev)
		if err != nil {
			t.Fatalf("hash chain: %v", err)
		}
		prev = md.Hash
	}
}

// The person use cases' cache of folded streams never makes them decide on a stale
// state: another instance (another process) appends to the stream, and the
// first still sees it — a second death is refused, a retried command is
// recognised from the cache and from the store alike.
func TestPersonsCacheSeesOtherWriters(t *testing.T) {
	s, _ := newStore(t)
	ctx := context.Background()
	a, b := app.NewPersons(s), app.NewPersons(s)
	pid, reg := registerCmd(t)
	if _, err := a.Execute(ctx, pid, cmdMeta("reg-1"), reg); err != nil {
		t.Fatal(err)
	}
	moved, err := a.Execute(ctx, pid, cmdMeta("move-1"), domain.MovePerson{ToTownship: "白鹿镇", EffectiveOn: domain.MustDate("2024-02-01")})
	if err != nil {
		t.Fatal(err)
	}
	// b records the death behind a's back; a has the stream cached at the move.
	if _, err := b.Execute(ctx, pid, cmdMeta("death-1"), domain.RecordDeath{DateOfDeath: domain.MustDate("2024-02-10")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Execute(ctx, pid, cmdMeta("death-2"), domain.RecordDeath{DateOfDeath: domain.MustDate("2024-02-11")}); !errors.Is(err, domain.ErrRuleViolation) && !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("a second death through the handler that cached the stream before the first: %v, want it refused", err)
	}
	// Retries: a's own earlier command, and b's command retried through a.
	if again, err := a.Execute(ctx, pid, cmdMeta("move-1"), domain.MovePerson{ToTownship: "温泉镇", EffectiveOn: domain.MustDate("2024-02-01")}); err != nil || again != moved {
		t.Fatalf("retried move = %+v, %v; want the original %+v", again, err, moved)
	}
	l, err := a.Load(ctx, pid)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := a.Execute(ctx, pid, cmdMeta("death-1"), domain.RecordDeath{DateOfDeath: domain.MustDate("2024-02-10")}); err != nil || again.NextExpected != l.Revision {
		t.Fatalf("b's death retried through a = %+v, %v; want the original at revision %d", again, err, l.Revision)
	}
	if len(l.Events) != 3 || l.State.Township != "白鹿镇" || !l.State.Deceased {
		t.Fatalf("stream: %d events, township %q, deceased %v; want 3, 白鹿镇, true", len(l.Events), l.State.Township, l.State.Deceased)
	}
}
