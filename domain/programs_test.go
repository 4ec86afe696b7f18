package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseProgramCode(t *testing.T) {
	for _, p := range Catalog() {
		got, err := ParseProgramCode("program", string(p.Code))
		if err != nil || got != p.Code {
			t.Errorf("ParseProgramCode(%q) = %q, %v", p.Code, got, err)
		}
	}
	for _, s := range []string{"", "x", "Living_Subsidy", "living_subsidy "} {
		_, err := ParseProgramCode("program", s)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "program" || !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseProgramCode(%q) error = %v; want *FieldError for program", s, err)
		}
	}
	_, err := ParseProgramCode("program", "x")
	if want := `program: unknown program "x"`; err == nil || err.Error() != want {
		t.Errorf("error = %v; want %q", err, want)
	}
}

func TestCatalog(t *testing.T) {
	wantShapes := []struct {
		code  ProgramCode
		shape Shape
	}{
		{ProgramLivingSubsidy, ShapeMonthly},
		{ProgramCareSubsidy, ShapeMonthly},
		{ProgramIncapacitySubsidy, ShapeMonthly},
		{ProgramFuelAllowance, ShapeAnnual},
		{ProgramHomeModification, ShapeOneOff},
		{ProgramDeviceSubsidy, ShapeOneOff},
		{ProgramDeviceInKind, ShapeInKind},
		{ProgramCochlearImplant, ShapeOneOff},
		{ProgramChildRehabTraining, ShapeOneOff},
		{ProgramChildRehabLiving, ShapeMonthly},
		{ProgramEducationStipend, ShapeOneOff},
		{ProgramPublicWelfareJob, ShapeMonthly},
		{ProgramCondolence, ShapeOneOff},
	}
	cat := Catalog()
	if len(cat) != len(wantShapes) {
		t.Fatalf("catalog has %d programs; want %d", len(cat), len(wantShapes))
	}
	for i, w := range wantShapes {
		p := cat[i]
		if p.Code != w.code || p.Shape != w.shape {
			t.Errorf("catalog[%d] = %s %s; want %s %s", i, p.Code, p.Shape, w.code, w.shape)
		}
		if p.Name == "" || p.NameEN == "" {
			t.Errorf("%s has no name", p.Code)
		}
		if len(p.Tag) != 2 || strings.Trim(p.Tag, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Errorf("%s has tag %q; want two lowercase letters", p.Code, p.Tag)
		}
		for _, q := range cat[:i] {
			if q.Tag == p.Tag {
				t.Errorf("%s and %s share the tag %q: their payment references could collide", q.Code, p.Code, p.Tag)
			}
		}
		if got, ok := LookupProgram(p.Code); !ok || got.Code != p.Code {
			t.Errorf("LookupProgram(%s) = %v, %v", p.Code, got.Code, ok)
		}
		once := p.Code == ProgramHomeModification || p.Code == ProgramCochlearImplant
		if p.OncePerPerson != once {
			t.Errorf("%s OncePerPerson = %v; want %v", p.Code, p.OncePerPerson, once)
		}
		noCert := p.Code == ProgramChildRehabTraining || p.Code == ProgramChildRehabLiving
		if p.RequiresCertificate == noCert {
			t.Errorf("%s RequiresCertificate = %v", p.Code, p.RequiresCertificate)
		}
		hasRate := p.Code == ProgramLivingSubsidy || p.Code == ProgramCareSubsidy || p.Code == ProgramFuelAllowance
		if p.HasCatalogRate() != hasRate {
			t.Errorf("%s HasCatalogRate = %v; want %v", p.Code, p.HasCatalogRate(), hasRate)
		}
		if !slices.IsSortedFunc(p.Rates(), func(a, b Rate) int { return a.From.Compare(b.From) }) {
			t.Errorf("%s rates are not sorted", p.Code)
		}
		if len(p.RuleSets()) == 0 {
			t.Errorf("%s has no rules", p.Code)
		}
	}
	if _, ok := LookupProgram("nope"); ok {
		t.Error("LookupProgram(nope) found a program")
	}
	// Catalog and Rates return copies.
	cat[0].Code = "changed"
	if Catalog()[0].Code != ProgramLivingSubsidy {
		t.Error("Catalog returned a shared slice")
	}
	p, _ := LookupProgram(ProgramLivingSubsidy)
	p.Rates()[0].Amount = MustMoney("1.00")
	if m, _ := p.RateOn(MustDate("2024-01-01")); !m.Equal(MustMoney("100.00")) {
		t.Error("Rates returned a shared slice")
	}
}

func TestRateOn(t *testing.T) {
	tests := []struct {
		code   ProgramCode
		on     string
		want   string
		wantOK bool
	}{
		{ProgramLivingSubsidy, "2016-01-01", "100.00", true},
		{ProgramLivingSubsidy, "2024-12-31", "100.00", true},
		{ProgramLivingSubsidy, "2025-01-01", "110.00", true},
		{ProgramLivingSubsidy, "2026-07-01", "110.00", true},
		{ProgramCareSubsidy, "2024-12-31", "100.00", true},
		{ProgramCareSubsidy, "2025-01-01", "110.00", true},
		{ProgramFuelAllowance, "2025-01-01", "300.00", true},
		{ProgramCochlearImplant, "2025-01-01", "", false},
	}
	for _, tc := range tests {
		p, _ := LookupProgram(tc.code)
		got, ok := p.RateOn(MustDate(tc.on))
		if ok != tc.wantOK || (ok && !got.Equal(MustMoney(tc.want))) {
			t.Errorf("%s.RateOn(%s) = %s, %v; want %s, %v", tc.code, tc.on, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestRulesOnChildRehab(t *testing.T) {
	p, _ := LookupProgram(ProgramChildRehabTraining)
	if got := p.RulesOn(MustDate("2024-12-31")).Requirements(); !slices.Equal(got, []string{"age 0–7"}) {
		t.Errorf("2024 requirements = %q", got)
	}
	if got := p.RulesOn(MustDate("2025-01-01")).Requirements(); !slices.Equal(got, []string{"age 0–15"}) {
		t.Errorf("2025 requirements = %q", got)
	}
}

// person returns a registered beneficiary state for eligibility tests.
func person(birth string, hh HouseholdStatus, cert *Certificate) *Beneficiary {
	return &Beneficiary{Registered: true, BirthDate: MustDate(birth), Household: hh, Certificate: cert}
}

func cert(cat DisabilityCategory, grade DisabilityGrade, issued, until string) *Certificate {
	return &Certificate{Category: cat, Grade: grade, IssuedOn: MustDate(issued), ValidUntil: MustDate(until)}
}

func TestCheckEligible(t *testing.T) {
	phys1 := cert(CategoryPhysical, 1, "2020-01-01", "2030-01-01")
	phys3 := cert(CategoryPhysical, 3, "2020-01-01", "2030-01-01")
	hear2 := cert(CategoryHearing, 2, "2021-01-01", "2031-01-01")
	expired := cert(CategoryPhysical, 1, "2010-01-01", "2020-01-01")
	dibao := HouseholdStatus{Dibao: true}
	training := func(b *Beneficiary, on string) *Beneficiary {
		b.OneOffs = []OneOff{{GrantID: "g1", Program: ProgramChildRehabTraining, Amount: MustMoney("1000.00"), EffectiveOn: MustDate(on)}}
		return b
	}
	tests := []struct {
		name     string
		code     ProgramCode
		b        *Beneficiary
		on       string
		attrs    GrantAttributes
		wantRule string // "" for eligible
		wantMsg  string
	}{
		{"living ok", ProgramLivingSubsidy, person("1970-01-01", dibao, phys3), "2024-03-01", GrantAttributes{}, "", ""},
		{"living no certificate", ProgramLivingSubsidy, person("1970-01-01", dibao, nil), "2024-03-01", GrantAttributes{}, RuleCertificateRequired, ""},
		{"living expired certificate", ProgramLivingSubsidy, person("1970-01-01", dibao, expired), "2024-03-01", GrantAttributes{}, RuleCertificateRequired, ""},
		{"living certificate not yet issued", ProgramLivingSubsidy, person("1970-01-01", dibao, phys1), "2019-12-31", GrantAttributes{}, RuleCertificateRequired, ""},
		{"living no dibao", ProgramLivingSubsidy, person("1970-01-01", HouseholdStatus{}, phys3), "2024-03-01", GrantAttributes{}, RuleDibaoRequired, ""},
		{"living tekun", ProgramLivingSubsidy, person("1970-01-01", HouseholdStatus{Dibao: true, Tekun: true}, phys3), "2024-03-01", GrantAttributes{}, RuleTekunExcluded, ""},
		{"care grade 3", ProgramCareSubsidy, person("1970-01-01", HouseholdStatus{}, phys3), "2024-03-01", GrantAttributes{}, RuleGradeRequired,
			"care_subsidy requires grade 1 or 2 on 2024-03-01"},
		{"care ok", ProgramCareSubsidy, person("1970-01-01", HouseholdStatus{}, phys1), "2024-03-01", GrantAttributes{}, "", ""},
		{"care work injury", ProgramCareSubsidy, person("1970-01-01", HouseholdStatus{WorkInjuryNursing: true}, phys1), "2024-03-01", GrantAttributes{}, RuleWorkInjuryNursing, ""},
		{"incapacity ok", ProgramIncapacitySubsidy, person("1970-01-01", HouseholdStatus{Class: HouseholdMonitoredHardship}, phys1), "2024-03-01", GrantAttributes{}, "", ""},
		{"incapacity urban needy", ProgramIncapacitySubsidy, person("1970-01-01", HouseholdStatus{Class: HouseholdUrbanNeedy}, phys1), "2024-03-01", GrantAttributes{}, RuleHouseholdClassRequired, ""},
		{"incapacity grade 3", ProgramIncapacitySubsidy, person("1970-01-01", HouseholdStatus{Class: HouseholdLiftedFromPoverty}, phys3), "2024-03-01", GrantAttributes{}, RuleGradeRequired, ""},
		{"fuel ok", ProgramFuelAllowance, person("1970-01-01", HouseholdStatus{}, phys3), "2024-03-01", GrantAttributes{VehiclePlate: "赣G12345"}, "", ""},
		{"fuel no plate", ProgramFuelAllowance, person("1970-01-01", HouseholdStatus{}, phys3), "2024-03-01", GrantAttributes{}, RuleVehicleRequired, ""},
		{"fuel hearing", ProgramFuelAllowance, person("1970-01-01", HouseholdStatus{}, hear2), "2024-03-01", GrantAttributes{VehiclePlate: "赣G12345"}, RuleCategoryRequired, ""},
		{"home modification ok", ProgramHomeModification, person("1970-01-01", HouseholdStatus{Class: HouseholdUrbanNeedy}, phys1), "2024-03-01", GrantAttributes{}, "", ""},
		{"home modification not poor", ProgramHomeModification, person("1970-01-01", HouseholdStatus{}, phys1), "2024-03-01", GrantAttributes{}, RulePoorHouseholdRequired, ""},
		{"public welfare job no post", ProgramPublicWelfareJob, person("1970-01-01", HouseholdStatus{}, phys3), "2024-03-01", GrantAttributes{}, RulePostRequired, ""},
		{"public welfare job ok", ProgramPublicWelfareJob, person("1970-01-01", HouseholdStatus{}, phys3), "2024-03-01", GrantAttributes{Post: PostLibraryManager}, "", ""},
		{"cochlear ok at 7", ProgramCochlearImplant, person("2017-03-01", HouseholdStatus{}, hear2), "2024-03-01", GrantAttributes{}, "", ""},
		{"cochlear at 8", ProgramCochlearImplant, person("2016-03-01", HouseholdStatus{}, hear2), "2024-03-01", GrantAttributes{}, RuleAgeLimit, ""},
		{"cochlear physical", ProgramCochlearImplant, person("2020-03-01", HouseholdStatus{}, phys1), "2024-03-01", GrantAttributes{}, RuleCategoryRequired, ""},
		{"rehab training age 9 in 2024", ProgramChildRehabTraining, person("2015-03-10", HouseholdStatus{}, nil), "2024-06-01", GrantAttributes{}, RuleAgeLimit,
			"child_rehab_training requires age 0–7 on 2024-06-01 (age 9)"},
		{"rehab training age 9 in 2025", ProgramChildRehabTraining, person("2015-03-10", HouseholdStatus{}, nil), "2025-01-01", GrantAttributes{}, "", ""},
		{"rehab training age 16 in 2025", ProgramChildRehabTraining, person("2009-01-01", HouseholdStatus{}, nil), "2025-06-01", GrantAttributes{}, RuleAgeLimit,
			"child_rehab_training requires age 0–15 on 2025-06-01 (age 16)"},
		{"rehab training before birth", ProgramChildRehabTraining, person("2024-07-01", HouseholdStatus{}, nil), "2024-06-01", GrantAttributes{}, RuleAgeLimit, ""},
		{"rehab living without training", ProgramChildRehabLiving, person("2019-01-01", HouseholdStatus{}, nil), "2024-06-01", GrantAttributes{}, RuleTrainingRequired, ""},
		{"rehab living with grant same year", ProgramChildRehabLiving, training(person("2019-01-01", HouseholdStatus{}, nil), "2024-11-01"), "2024-06-01", GrantAttributes{}, "", ""},
		{"rehab living with grant last year", ProgramChildRehabLiving, training(person("2019-01-01", HouseholdStatus{}, nil), "2023-11-01"), "2024-06-01", GrantAttributes{}, RuleTrainingRequired, ""},
		{"rehab living with entitlement", ProgramChildRehabLiving, func() *Beneficiary {
			b := person("2019-01-01", HouseholdStatus{}, nil)
			b.Entitlements = map[ProgramCode]*Entitlement{ProgramChildRehabTraining: {Program: ProgramChildRehabTraining, Status: EntitlementStatusActive, EffectiveFrom: MustDate("2024-01-01")}}
			return b
		}(), "2024-06-01", GrantAttributes{}, "", ""},
		{"rehab living too old in 2024", ProgramChildRehabLiving, training(person("2015-03-10", HouseholdStatus{}, nil), "2024-01-01"), "2024-06-01", GrantAttributes{}, RuleAgeLimit, ""},
		{"condolence ok", ProgramCondolence, person("1950-01-01", HouseholdStatus{}, phys3), "2024-02-01", GrantAttributes{}, "", ""},
		{"unregistered", ProgramCondolence, &Beneficiary{}, "2024-02-01", GrantAttributes{}, RuleRegistrationRequired, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := LookupProgram(tc.code)
			if !ok {
				t.Fatalf("no program %s", tc.code)
			}
			err := p.CheckEligible(tc.b, MustDate(tc.on), tc.attrs)
			if tc.wantRule == "" {
				if err != nil {
					t.Fatalf("CheckEligible = %v; want eligible", err)
				}
				return
			}
			var re *RuleError
			if !errors.As(err, &re) || !errors.Is(err, ErrRuleViolation) {
				t.Fatalf("CheckEligible = %v; want *RuleError %s", err, tc.wantRule)
			}
			if re.Rule != tc.wantRule {
				t.Errorf("rule = %s; want %s (%v)", re.Rule, tc.wantRule, err)
			}
			if tc.wantMsg != "" && re.Message != tc.wantMsg {
				t.Errorf("message = %q; want %q", re.Message, tc.wantMsg)
			}
			if !strings.Contains(re.Message, string(tc.code)) || !strings.Contains(re.Message, tc.on) {
				t.Errorf("message %q does not name the program and date", re.Message)
			}
		})
	}
}
