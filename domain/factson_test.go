package domain

import (
	"slices"
	"testing"
)

// Eligibility follows the facts as they stood on each day that matters:
// a grant is judged on the certificate and household of its start date,
// and a fact that changes later ends what no longer holds from that date.
func TestEligibilityFollowsTheFactsOnTheDay(t *testing.T) {
	grade4 := CertificateIssued{Category: CategoryPhysical, Grade: 4, NumberMasked: certNumber(adultID, CategoryPhysical, 4).Masked(),
		IssuedOn: d("2021-06-01"), ValidUntil: d("2031-05-31")}
	regradedTo2 := CertificateRegraded{Category: CategoryPhysical, Grade: 2, PreviousCategory: CategoryPhysical, PreviousGrade: 4,
		NumberMasked: certNumber(adultID, CategoryPhysical, 2).Masked(), EffectiveDate: d("2025-01-15"), ValidUntil: d("2031-05-31")}
	regraded := []Event{registered(adultID, dibao), grade4, regradedTo2}
	severe := adult(granted(ProgramLivingSubsidy, "2024-01-01"), granted(ProgramCareSubsidy, "2024-01-01"))

	runDecideCases(t, []decideCase{
		{name: "a backdated care grant before the regrade that made the person eligible is refused",
			given: regraded, when: GrantEntitlement{Program: ProgramCareSubsidy, EffectiveFrom: d("2025-01-01")},
			wantErr: ErrRuleViolation, wantRule: RuleGradeRequired},
		{name: "a care grant from the regrade's date is granted",
			given: regraded, when: GrantEntitlement{Program: ProgramCareSubsidy, EffectiveFrom: d("2025-01-15")},
			want: []Event{granted(ProgramCareSubsidy, "2025-01-15")}},
		{name: "a grant before the household went on dibao is refused",
			given: []Event{registered(adultID, noneHH), certIssued(adultID, CategoryPhysical, 1),
				HouseholdStatusChanged{Household: dibao, PreviousHousehold: noneHH, EffectiveDate: d("2025-03-01")}},
			when:    GrantEntitlement{Program: ProgramLivingSubsidy, EffectiveFrom: d("2025-02-01")},
			wantErr: ErrRuleViolation, wantRule: RuleDibaoRequired},
		{name: "a downgrade ends the care subsidy the day before it takes effect, and nothing else",
			given: severe, when: RegradeCertificate{Grade: 3, EffectiveOn: d("2025-03-10")},
			want: []Event{
				CertificateRegraded{Category: CategoryPhysical, Grade: 3, PreviousCategory: CategoryPhysical, PreviousGrade: 1,
					NumberMasked: certNumber(adultID, CategoryPhysical, 3).Masked(), EffectiveDate: d("2025-03-10"), ValidUntil: d("2031-05-31")},
				EntitlementTerminated{Program: ProgramCareSubsidy, EffectiveTo: d("2025-03-09"), ReasonCode: TerminationNoLongerEligible},
			}},
		{name: "a regrade within the severe grades ends nothing",
			given: severe, when: RegradeCertificate{Grade: 2, EffectiveOn: d("2025-03-10")},
			want: []Event{CertificateRegraded{Category: CategoryPhysical, Grade: 2, PreviousCategory: CategoryPhysical, PreviousGrade: 1,
				NumberMasked: certNumber(adultID, CategoryPhysical, 2).Masked(), EffectiveDate: d("2025-03-10"), ValidUntil: d("2031-05-31")}}},
		{name: "a household leaving dibao on the 1st ends the living subsidy with the month before",
			given: severe, when: ChangeHouseholdStatus{Status: noneHH, EffectiveOn: d("2025-04-01")},
			want: []Event{
				HouseholdStatusChanged{Household: noneHH, PreviousHousehold: dibao, EffectiveDate: d("2025-04-01")},
				EntitlementTerminated{Program: ProgramLivingSubsidy, EffectiveTo: d("2025-03-31"), ReasonCode: TerminationHouseholdStatusChanged},
			}},
		{name: "work-injury nursing allowance ends the care subsidy",
			given: severe, when: ChangeHouseholdStatus{Status: HouseholdStatus{Dibao: true, WorkInjuryNursing: true}, EffectiveOn: d("2025-04-20")},
			want: []Event{
				HouseholdStatusChanged{Household: HouseholdStatus{Dibao: true, WorkInjuryNursing: true}, PreviousHousehold: dibao, EffectiveDate: d("2025-04-20")},
				EntitlementTerminated{Program: ProgramCareSubsidy, EffectiveTo: d("2025-04-19"), ReasonCode: TerminationHouseholdStatusChanged},
			}},
	})
}

// Beneficiary.On sees a change from the day it takes effect, whenever it
// was recorded: a regrade recorded late is not seen before its date.
func TestFactsOnTheDay(t *testing.T) {
	s := fold([]Event{registered(adultID, noneHH), certIssued(adultID, CategoryPhysical, 4),
		HouseholdStatusChanged{Household: dibao, EffectiveDate: d("2025-03-01")},
		CertificateRegraded{Category: CategoryPhysical, Grade: 2, PreviousCategory: CategoryPhysical, PreviousGrade: 4, EffectiveDate: d("2025-01-15"), ValidUntil: d("2031-05-31")},
	})
	for _, tc := range []struct {
		on    string
		grade DisabilityGrade
		dibao bool
	}{{"2025-01-14", 4, false}, {"2025-01-15", 2, false}, {"2025-02-28", 2, false}, {"2025-03-01", 2, true}} {
		then := s.On(d(tc.on))
		if then.Certificate == nil || then.Certificate.Grade != tc.grade || then.Household.Dibao != tc.dibao {
			t.Errorf("on %s: certificate %+v, household %+v; want grade %d, dibao %v", tc.on, then.Certificate, then.Household, tc.grade, tc.dibao)
		}
	}
	if then := s.On(d("2021-05-31")); then.Certificate != nil {
		t.Errorf("before the certificate was issued: %+v", then.Certificate)
	}
	if s.Certificate.Grade != 2 || !s.Household.Dibao {
		t.Errorf("as it stands: %+v, %+v", s.Certificate, s.Household)
	}
}

// Given entitlements resting on a certificate valid until 2025-01-03, when
// the eligibility is reviewed after that day, then they are suspended from
// 2025-01-04; when the certificate is renewed, then the two subsidies
// resume from the day they were suspended (the gap paid as arrears) and a
// public welfare post from the renewal's issue date.
func TestCertificateExpirySuspendsAndRenewalResumes(t *testing.T) {
	expiring := CertificateIssued{Category: CategoryPhysical, Grade: 1, NumberMasked: certNumber(adultID, CategoryPhysical, 1).Masked(),
		IssuedOn: d("2020-01-04"), ValidUntil: d("2025-01-03")}
	given := []Event{registered(adultID, dibao), expiring,
		granted(ProgramLivingSubsidy, "2022-01-01"), granted(ProgramCareSubsidy, "2022-01-01"),
		EntitlementGranted{Program: ProgramPublicWelfareJob, EffectiveFrom: d("2023-01-01"), Amount: m("800.00"), Attributes: GrantAttributes{Post: PostPublicWelfare}}}
	suspended := []Event{
		EntitlementSuspended{Program: ProgramCareSubsidy, EffectiveDate: d("2025-01-04"), ReasonCode: SuspensionCertificateExpired},
		EntitlementSuspended{Program: ProgramLivingSubsidy, EffectiveDate: d("2025-01-04"), ReasonCode: SuspensionCertificateExpired},
		EntitlementSuspended{Program: ProgramPublicWelfareJob, EffectiveDate: d("2025-01-04"), ReasonCode: SuspensionCertificateExpired},
	}
	renewal := IssueCertificate{Number: certNumber(adultID, CategoryPhysical, 1), IssuedOn: d("2025-03-05"), ValidUntil: d("2035-03-04")}
	runDecideCases(t, []decideCase{
		{name: "nothing expired yet on the last valid day", given: given, when: ReviewEligibility{On: d("2025-01-03")}, wantErr: ErrConflict},
		{name: "expiry suspends what needs the certificate from the day after", given: given, when: ReviewEligibility{On: d("2025-02-10")}, want: suspended},
		{name: "reviewed again, nothing more", given: append(slices.Clone(given), suspended...), when: ReviewEligibility{On: d("2025-02-11")}, wantErr: ErrConflict},
		{name: "renewal resumes: the subsidies with arrears, the post from the issue date",
			given: append(slices.Clone(given), suspended...), when: renewal,
			want: []Event{
				CertificateIssued{Category: CategoryPhysical, Grade: 1, NumberMasked: certNumber(adultID, CategoryPhysical, 1).Masked(), IssuedOn: d("2025-03-05"), ValidUntil: d("2035-03-04")},
				EntitlementResumed{Program: ProgramCareSubsidy, EffectiveDate: d("2025-01-04")},
				EntitlementResumed{Program: ProgramLivingSubsidy, EffectiveDate: d("2025-01-04")},
				EntitlementResumed{Program: ProgramPublicWelfareJob, EffectiveDate: d("2025-03-05")},
			}},
		{name: "a renewal at grade 3 leaves the care subsidy suspended for a caseworker",
			given: append(slices.Clone(given), suspended...),
			when:  IssueCertificate{Number: certNumber(adultID, CategoryPhysical, 3), IssuedOn: d("2025-03-05"), ValidUntil: d("2035-03-04")},
			want: []Event{
				CertificateIssued{Category: CategoryPhysical, Grade: 3, NumberMasked: certNumber(adultID, CategoryPhysical, 3).Masked(), IssuedOn: d("2025-03-05"), ValidUntil: d("2035-03-04")},
				EntitlementResumed{Program: ProgramLivingSubsidy, EffectiveDate: d("2025-01-04")},
				EntitlementResumed{Program: ProgramPublicWelfareJob, EffectiveDate: d("2025-03-05")},
			}},
		{name: "a renewal before expiry resumes nothing", given: given, when: renewal,
			want: []Event{CertificateIssued{Category: CategoryPhysical, Grade: 1, NumberMasked: certNumber(adultID, CategoryPhysical, 1).Masked(), IssuedOn: d("2025-03-05"), ValidUntil: d("2035-03-04")}}},
	})
}

// Given a child of 15 with the child rehabilitation living allowance, when
// the eligibility is reviewed after the 16th birthday, then the allowance
// ends with the day before it.
func TestChildTurning16EndsChildRehabilitation(t *testing.T) {
	teen := mustResidentID("2009-07-01", 23)
	given := []Event{registered(teen, noneHH),
		OneOffGranted{GrantID: "t1", Program: ProgramChildRehabTraining, Amount: m("1000.00"), EffectiveDate: d("2025-01-15")},
		EntitlementGranted{Program: ProgramChildRehabLiving, EffectiveFrom: d("2025-02-01"), Amount: m("200.00")}}
	runDecideCases(t, []decideCase{
		{name: "before the birthday nothing ends", given: given, when: ReviewEligibility{On: d("2025-06-30")}, wantErr: ErrConflict},
		{name: "after the 16th birthday the allowance ends the day before it", given: given, when: ReviewEligibility{On: d("2025-08-01")},
			want: []Event{EntitlementTerminated{Program: ProgramChildRehabLiving, EffectiveTo: d("2025-06-30"), ReasonCode: TerminationNoLongerEligible}}},
	})
}
