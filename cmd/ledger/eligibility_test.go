package main

import (
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

// TestEligibilityReviewAndExpiring: a caseworker lists the certificates
// expiring in the next 60 days of a township, then the monthly review
// after the expiry suspends what rests on the lapsed certificate (and
// nothing of a person whose certificate is valid); the same review again
// changes nothing; a renewal resumes the subsidy. On both stores.
func TestEligibilityReviewAndExpiring(t *testing.T) {
	for _, store := range []string{"pg", "esdb"} {
		t.Run(store, func(t *testing.T) {
			l := newCLILedger(t, store)
			lapsing, valid := l.resident("1960-04-02", 11), l.resident("1962-08-09", 12)
			for i, r := range []resident{lapsing, valid} {
				until := domain.MustDate("2025-01-03")
				if r == valid {
					until = domain.MustDate("2030-01-03")
				}
				cert, _ := domain.NewCertificateNumber(r.ID, domain.CategoryPhysical, 1)
				for j, c := range []domain.Command{
					domain.RegisterPerson{IDNumber: r.ID, IDHash: r.Hash, Name: []string{"周华", "吴平"}[i], Township: "白鹿镇",
						Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2020-01-04")},
					domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-04"), ValidUntil: until},
					domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2022-01-01")},
				} {
					l.exec(r.PID, strings.Join([]string{"e", string(r.PID), string(rune('a' + j))}, "-"), c)
				}
			}
			l.must("project", "--once")

			out := l.must("eligibility", "expiring", "--on", "2024-12-01", "--within", "60", "--township", "白鹿镇")
			if !strings.Contains(out, "certificates expiring 2024-12-01 to 2025-01-30: 1") || !strings.Contains(out, "2025-01-03  周华") ||
				!strings.Contains(out, "[living_subsidy]") || strings.Contains(out, "吴平") {
				t.Errorf("expiring printed:\n%s", out)
			}
			if _, _, err := l.run("eligibility", "expiring", "--township", "火星镇"); exitCode(err) != 2 || !strings.Contains(err.Error(), "township") {
				t.Errorf("an unknown township: %v", err)
			}

			out = l.must("eligibility", "review", "--on", "2025-02-10", "--user", "clerk.hu", "--key", "r1")
			if !strings.Contains(out, ": 1 with entitlements suspended or ended") || !strings.Contains(out, string(lapsing.PID)) {
				t.Errorf("review printed:\n%s", out)
			}
			loaded, err := l.persons.Load(l.ctx, lapsing.PID)
			if err != nil {
				t.Fatal(err)
			}
			if en := loaded.State.Entitlements[domain.ProgramLivingSubsidy]; en.Status != domain.EntitlementStatusSuspended ||
				!en.SuspendedFrom.Equal(domain.MustDate("2025-01-04")) || en.ReasonCode != "certificate_expired" {
				t.Fatalf("after the review: %+v; want suspended from 2025-01-04, certificate_expired", en)
			}
			l.must("project", "--once")
			if out := l.must("eligibility", "review", "--on", "2025-02-10", "--user", "clerk.hu"); !strings.Contains(out, ": 0 with entitlements suspended or ended") {
				t.Errorf("the review again printed:\n%s", out)
			}

			cert, _ := domain.NewCertificateNumber(lapsing.ID, domain.CategoryPhysical, 1)
			l.exec(lapsing.PID, "renew", domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2025-03-01"), ValidUntil: domain.MustDate("2035-02-28")})
			loaded, _ = l.persons.Load(l.ctx, lapsing.PID)
			if en := loaded.State.Entitlements[domain.ProgramLivingSubsidy]; en.Status != domain.EntitlementStatusActive {
				t.Errorf("after the renewal: %+v; want active again", en)
			}
		})
	}
}
