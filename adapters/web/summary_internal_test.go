package web

import (
	"slices"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

// Every event type of a person's stream is summarised in Chinese for the
// auditor's history: a new type fails here until it is.
func TestEveryPersonEventSummarisedInChinese(t *testing.T) {
	reg := domain.NewBeneficiaryRegistry()
	types := reg.Types()
	slices.Sort(types)
	for _, typ := range types {
		ev, err := reg.Decode(typ, []byte(`{}`))
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if s, ok := summaryZH(ev); !ok || s == "" {
			t.Errorf("%s has no Chinese summary", typ)
		}
	}
	s := summaryText(&domain.EntitlementGranted{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-02-01")})
	if s != "2024年2月1日起享受困难残疾人生活补贴，按标准发放" {
		t.Errorf("a grant: %q", s)
	}
}
