package domain

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// ProgramCode is the stable code of a benefit program. Codes are stored in
// events and never change once chosen.
type ProgramCode string

// The programs of DESIGN.md §3.
const (
	ProgramLivingSubsidy      ProgramCode = "living_subsidy"       // 困难残疾人生活补贴
	ProgramCareSubsidy        ProgramCode = "care_subsidy"         // 重度残疾人护理补贴
	ProgramIncapacitySubsidy  ProgramCode = "incapacity_subsidy"   // 失能补贴
	ProgramFuelAllowance      ProgramCode = "fuel_allowance"       // 机动轮椅车燃油补贴
	ProgramHomeModification   ProgramCode = "home_modification"    // 家庭无障碍改造
	ProgramDeviceSubsidy      ProgramCode = "device_subsidy"       // 辅具货币补贴
	ProgramDeviceInKind       ProgramCode = "device_in_kind"       // 辅助器具免费发放
	ProgramCochlearImplant    ProgramCode = "cochlear_implant"     // 人工耳蜗救助
	ProgramChildRehabTraining ProgramCode = "child_rehab_training" // 残疾儿童康复训练补助
	ProgramChildRehabLiving   ProgramCode = "child_rehab_living"   // 在训残疾儿童生活补助
	ProgramEducationStipend   ProgramCode = "education_stipend"    // 残疾大学生助学奖励金
	ProgramPublicWelfareJob   ProgramCode = "public_welfare_job"   // 公益性岗位 / 农家书屋管理员
	ProgramCondolence         ProgramCode = "condolence"           // 走访慰问金
)

// ParseProgramCode parses a program code. field names the input in the
// error.
func ParseProgramCode(field, s string) (ProgramCode, error) {
	if _, ok := programIndex[ProgramCode(s)]; ok {
		return ProgramCode(s), nil
	}
	return "", Invalid(field, "unknown program %s", quoteTrunc(s))
}

func (c ProgramCode) String() string { return string(c) }

// Shape is how a program pays out.
type Shape string

const (
	ShapeMonthly Shape = "monthly" // an entitlement paid every month
	ShapeAnnual  Shape = "annual"  // an entitlement paid once a year
	ShapeOneOff  Shape = "one_off" // a single grant, recorded with RecordOneOffGrant
	ShapeInKind  Shape = "in_kind" // goods issued, recorded with RecordInKindIssue
)

// Rate is a program's catalog amount per person per period, in force from
// From until the next rate's From. A zero From means "since before the
// ledger's records begin".
type Rate struct {
	From   Date  `json:"from,omitzero"`
	Amount Money `json:"amount"`
}

// GrantAttributes are the program-specific facts a grant carries.
type GrantAttributes struct {
	// VehiclePlate is the registration of the motorized wheelchair
	// (fuel_allowance only).
	VehiclePlate string `json:"vehicle_plate,omitempty"`
	// Post is the job the person is placed in (public_welfare_job only):
	// PostPublicWelfare or PostLibraryManager.
	Post string `json:"post,omitempty"`
}

// Posts of the public_welfare_job program.
const (
	PostPublicWelfare  = "public_welfare"  // 公益性岗位
	PostLibraryManager = "library_manager" // 农家书屋管理员
)

// IsZero reports whether a carries no attributes.
func (a GrantAttributes) IsZero() bool { return a == GrantAttributes{} }

// Stable codes of the eligibility rules, carried by *RuleError.Rule.
const (
	RuleCertificateRequired    = "certificate_required"
	RuleGradeRequired          = "grade_required"
	RuleCategoryRequired       = "category_required"
	RuleDibaoRequired          = "dibao_required"
	RuleTekunExcluded          = "tekun_excluded"
	RuleWorkInjuryNursing      = "work_injury_nursing_excluded"
	RuleHouseholdClassRequired = "household_class_required"
	RulePoorHouseholdRequired  = "poor_household_required"
	RuleVehicleRequired        = "vehicle_required"
	RulePostRequired           = "post_required"
	RuleAgeLimit               = "age_limit"
	RuleTrainingRequired       = "training_required"
	RuleRegistrationRequired   = "registration_required"
	RuleOncePerPerson          = "once_per_person"
	RuleDeceased               = "deceased"
)

// RuleSet is the eligibility rules of a program in force from From until the
// next set's From. A zero From means "since before the ledger's records
// begin".
type RuleSet struct {
	From   Date
	checks []check
}

// Requirements describes the rules in words, in the order they are checked,
// e.g. "grade 1 or 2".
func (r RuleSet) Requirements() []string {
	out := make([]string, len(r.checks))
	for i, c := range r.checks {
		out[i] = c.requirement
	}
	return out
}

// check is one eligibility rule. fn returns a *RuleError or nil.
type check struct {
	requirement string
	fn          func(in eligibility) error
}

// eligibility is what a check looks at.
type eligibility struct {
	program ProgramCode
	b       *Beneficiary
	on      Date
	attrs   GrantAttributes
}

// Program is a benefit program of the catalog.
type Program struct {
	Code   ProgramCode
	Name   string // Chinese name, as in the federation's reports
	NameEN string
	// Tag is two lowercase letters that stand for the program in payment
	// references (see LineReference); stable, like Code.
	Tag   string
	Shape Shape
	// RequiresCertificate: the program is for certificate holders, so
	// revoking the certificate ends its entitlements.
	RequiresCertificate bool
	// OncePerPerson: a person receives at most one grant of the program in
	// a lifetime.
	OncePerPerson bool
	// RenewalArrears: when an expired certificate is renewed, the
	// entitlement it suspended resumes from the day the suspension began,
	// so the months between are paid as arrears (the two subsidies, 两项补贴:
	// the person stayed disabled, only the paper lapsed); otherwise it
	// resumes from the new certificate's issue date.
	RenewalArrears bool

	rates []Rate    // sorted by From
	rules []RuleSet // sorted by From
}

// Rates returns the program's catalog rates, oldest first; none when each
// grant carries its own amount.
func (p Program) Rates() []Rate { return slices.Clone(p.rates) }

// HasCatalogRate reports whether the program pays a catalog rate, so that a
// grant must not carry its own amount.
func (p Program) HasCatalogRate() bool { return len(p.rates) > 0 }

// RateOn returns the catalog rate in force on d. It returns false if the
// program has no catalog rate (the amount then comes with each grant) or no
// rate was in force yet on d.
func (p Program) RateOn(d Date) (Money, bool) {
	for i := len(p.rates) - 1; i >= 0; i-- {
		if !p.rates[i].From.After(d) {
			return p.rates[i].Amount, true
		}
	}
	return Money{}, false
}

// RuleSets returns the program's effective-dated eligibility rules, oldest
// first.
func (p Program) RuleSets() []RuleSet { return slices.Clone(p.rules) }

// RulesOn returns the rule set in force on d.
func (p Program) RulesOn(d Date) RuleSet {
	for i := len(p.rules) - 1; i >= 0; i-- {
		if !p.rules[i].From.After(d) {
			return p.rules[i]
		}
	}
	return RuleSet{}
}

// CheckEligible checks b against the program's rules in force on on, with
// the grant's attributes. It returns the first rule not met as a *RuleError
// whose message names the program, the requirement and the date, e.g.
// "care_subsidy requires grade 1 or 2 on 2024-03-01". It judges b's
// certificate and household status as they stood on on (Beneficiary.On),
// so a backdated grant is checked against the facts of its own start
// date, not today's.
func (p Program) CheckEligible(b *Beneficiary, on Date, attrs GrantAttributes) error {
	if b == nil || !b.Registered {
		return Violation(RuleRegistrationRequired, "%s requires a registered person on %s", p.Code, on)
	}
	then := b.On(on)
	in := eligibility{program: p.Code, b: &then, on: on, attrs: attrs}
	for _, c := range p.RulesOn(on).checks {
		if err := c.fn(in); err != nil {
			return err
		}
	}
	return nil
}

// validateAttributes checks a grant's attributes: each is allowed only on
// the program that uses it.
func (p Program) validateAttributes(a GrantAttributes) error {
	switch {
	case a.VehiclePlate != "" && p.Code != ProgramFuelAllowance:
		return Invalid("attributes.vehicle_plate", "is only used by %s, not %s", ProgramFuelAllowance, p.Code)
	case utf8.RuneCountInString(a.VehiclePlate) > 20 || strings.TrimSpace(a.VehiclePlate) != a.VehiclePlate:
		return Invalid("attributes.vehicle_plate", "must be at most 20 characters without surrounding spaces")
	case a.Post != "" && p.Code != ProgramPublicWelfareJob:
		return Invalid("attributes.post", "is only used by %s, not %s", ProgramPublicWelfareJob, p.Code)
	case a.Post != "" && a.Post != PostPublicWelfare && a.Post != PostLibraryManager:
		return Invalid("attributes.post", "%s is not a post; expected %s or %s", quoteTrunc(a.Post), PostPublicWelfare, PostLibraryManager)
	}
	return nil
}

// Catalog returns every program, in a stable order.
func Catalog() []Program { return slices.Clone(catalog) }

// LookupProgram returns the program with code.
func LookupProgram(code ProgramCode) (Program, bool) {
	i, ok := programIndex[code]
	if !ok {
		return Program{}, false
	}
	return catalog[i], true
}

// jiangxiRaise is the date Jiangxi raised the living and care subsidies
// from 100 to 110 yuan per person per month.
var jiangxiRaise = NewDate(2025, time.January, 1)

// childRehabExtension is the date the child rehabilitation programs'
// age limit rose from 7 to 15.
var childRehabExtension = NewDate(2025, time.January, 1)

var catalog = []Program{
	{
		Code: ProgramLivingSubsidy, Name: "困难残疾人生活补贴", NameEN: "Living subsidy for disabled persons in hardship", Tag: "ls",
		Shape: ShapeMonthly, RequiresCertificate: true, RenewalArrears: true,
		rates: []Rate{{Amount: MustMoney("100.00")}, {From: jiangxiRaise, Amount: MustMoney("110.00")}},
		rules: always(validCertificate(), onDibao(), notOnTekun()),
	},
	{
		Code: ProgramCareSubsidy, Name: "重度残疾人护理补贴", NameEN: "Care subsidy for severely disabled persons", Tag: "cs",
		Shape: ShapeMonthly, RequiresCertificate: true, RenewalArrears: true,
		rates: []Rate{{Amount: MustMoney("100.00")}, {From: jiangxiRaise, Amount: MustMoney("110.00")}},
		rules: always(validCertificate(), severeGrade(), noWorkInjuryNursing()),
	},
	{
		Code: ProgramIncapacitySubsidy, Name: "失能补贴", NameEN: "Incapacity subsidy", Tag: "is",
		Shape: ShapeMonthly, RequiresCertificate: true,
		rules: always(registeredPoorClass(), severeGrade()),
	},
	{
		Code: ProgramFuelAllowance, Name: "机动轮椅车燃油补贴", NameEN: "Motorized wheelchair fuel allowance", Tag: "fa",
		Shape: ShapeAnnual, RequiresCertificate: true,
		rates: []Rate{{Amount: MustMoney("300.00")}}, // per vehicle per year
		rules: always(validCertificate(), category(CategoryPhysical), vehicle()),
	},
	{
		Code: ProgramHomeModification, Name: "困难重度残疾人家庭无障碍改造", NameEN: "Home accessibility modification", Tag: "hm",
		Shape: ShapeOneOff, RequiresCertificate: true, OncePerPerson: true,
		rules: always(validCertificate(), severeGrade(), poorHousehold()),
	},
	{
		Code: ProgramDeviceSubsidy, Name: "辅具货币补贴", NameEN: "Assistive device cash subsidy", Tag: "ds",
		Shape: ShapeOneOff, RequiresCertificate: true,
		rules: always(validCertificate()),
	},
	{
		Code: ProgramDeviceInKind, Name: "辅助器具免费发放", NameEN: "Assistive devices issued free of charge", Tag: "dk",
		Shape: ShapeInKind, RequiresCertificate: true,
		rules: always(validCertificate()),
	},
	{
		Code: ProgramCochlearImplant, Name: "人工耳蜗救助", NameEN: "Cochlear implant assistance", Tag: "ci",
		Shape: ShapeOneOff, RequiresCertificate: true, OncePerPerson: true,
		rules: always(category(CategoryHearing), ageLimit(7)),
	},
	{
		Code: ProgramChildRehabTraining, Name: "残疾儿童康复训练补助", NameEN: "Rehabilitation training grant for disabled children", Tag: "rt",
		Shape: ShapeOneOff,
		rules: []RuleSet{
			{checks: []check{ageLimit(7)}},
			{From: childRehabExtension, checks: []check{ageLimit(15)}},
		},
	},
	{
		Code: ProgramChildRehabLiving, Name: "在训残疾儿童生活补助", NameEN: "Living allowance for disabled children in training", Tag: "rl",
		Shape: ShapeMonthly,
		rules: []RuleSet{
			{checks: []check{ageLimit(7), inTraining()}},
			{From: childRehabExtension, checks: []check{ageLimit(15), inTraining()}},
		},
	},
	{
		Code: ProgramEducationStipend, Name: "残疾大学生助学奖励金", NameEN: "Stipend for disabled university students", Tag: "es",
		Shape: ShapeOneOff, RequiresCertificate: true,
		rules: always(validCertificate()),
	},
	{
		Code: ProgramPublicWelfareJob, Name: "公益性岗位 / 农家书屋管理员补助", NameEN: "Public welfare job / village library manager stipend", Tag: "pw",
		Shape: ShapeMonthly, RequiresCertificate: true,
		rules: always(validCertificate(), post()),
	},
	{
		Code: ProgramCondolence, Name: "走访慰问金", NameEN: "Festival visit condolence payment", Tag: "cd",
		Shape: ShapeOneOff, RequiresCertificate: true,
		rules: always(validCertificate()),
	},
}

var programIndex = func() map[ProgramCode]int {
	m := make(map[ProgramCode]int, len(catalog))
	for i, p := range catalog {
		m[p.Code] = i
	}
	return m
}()

// always is a single rule set in force since before the ledger's records.
func always(checks ...check) []RuleSet { return []RuleSet{{checks: checks}} }

// currentCertificate returns b's certificate if it is valid on on.
func currentCertificate(in eligibility) (*Certificate, bool) {
	c := in.b.Certificate
	return c, c != nil && c.ValidOn(in.on)
}

func validCertificate() check {
	return check{"a valid disability certificate", func(in eligibility) error {
		c, ok := currentCertificate(in)
		switch {
		case c == nil:
			return Violation(RuleCertificateRequired, "%s requires a valid disability certificate on %s (none on record)", in.program, in.on)
		case !ok:
			return Violation(RuleCertificateRequired, "%s requires a valid disability certificate on %s (certificate valid %s to %s)",
				in.program, in.on, c.IssuedOn, c.ValidUntil)
		}
		return nil
	}}
}

// severeGrade requires a certificate valid on the date with grade 1 or 2.
func severeGrade() check {
	return check{"grade 1 or 2", func(in eligibility) error {
		if c, ok := currentCertificate(in); !ok || !c.Grade.Severe() {
			return Violation(RuleGradeRequired, "%s requires grade 1 or 2 on %s", in.program, in.on)
		}
		return nil
	}}
}

// category requires a certificate valid on the date in category want.
func category(want DisabilityCategory) check {
	return check{"category " + want.String(), func(in eligibility) error {
		if c, ok := currentCertificate(in); !ok || c.Category != want {
			return Violation(RuleCategoryRequired, "%s requires category %s on %s", in.program, want, in.on)
		}
		return nil
	}}
}

func onDibao() check {
	return check{"household on dibao (低保)", func(in eligibility) error {
		if !in.b.Household.Dibao {
			return Violation(RuleDibaoRequired, "%s requires a household on dibao (低保) on %s", in.program, in.on)
		}
		return nil
	}}
}

func notOnTekun() check {
	return check{"not on tekun (特困) support", func(in eligibility) error {
		if in.b.Household.Tekun {
			return Violation(RuleTekunExcluded, "%s requires not being on tekun (特困) support on %s", in.program, in.on)
		}
		return nil
	}}
}

func noWorkInjuryNursing() check {
	return check{"no work-injury nursing allowance (工伤护理费)", func(in eligibility) error {
		if in.b.Household.WorkInjuryNursing {
			return Violation(RuleWorkInjuryNursing, "%s requires not receiving work-injury nursing allowance on %s", in.program, in.on)
		}
		return nil
	}}
}

// registeredPoorClass requires a household lifted from poverty or monitored
// (建档立卡 / 监测户).
func registeredPoorClass() check {
	return check{"household lifted from poverty or monitored", func(in eligibility) error {
		if c := in.b.Household.Class; c != HouseholdLiftedFromPoverty && !c.Monitored() {
			return Violation(RuleHouseholdClassRequired, "%s requires household class lifted_from_poverty or monitored on %s (class %s)",
				in.program, in.on, c.display())
		}
		return nil
	}}
}

func poorHousehold() check {
	return check{"poor household (dibao, tekun or a household class)", func(in eligibility) error {
		if !in.b.Household.Poor() {
			return Violation(RulePoorHouseholdRequired, "%s requires a poor household (dibao, tekun or a household class) on %s", in.program, in.on)
		}
		return nil
	}}
}

func vehicle() check {
	return check{"a registered motorized wheelchair (vehicle_plate)", func(in eligibility) error {
		if strings.TrimSpace(in.attrs.VehiclePlate) == "" {
			return Violation(RuleVehicleRequired, "%s requires a registered vehicle plate on %s", in.program, in.on)
		}
		return nil
	}}
}

func post() check {
	return check{"placed in a post (public_welfare or library_manager)", func(in eligibility) error {
		if p := in.attrs.Post; p != PostPublicWelfare && p != PostLibraryManager {
			return Violation(RulePostRequired, "%s requires post %s or %s on %s", in.program, PostPublicWelfare, PostLibraryManager, in.on)
		}
		return nil
	}}
}

// ageLimit requires an age of 0 to maxAge inclusive on the date.
func ageLimit(maxAge int) check {
	req := "age 0–" + strconv.Itoa(maxAge)
	return check{req, func(in eligibility) error {
		age := in.b.BirthDate.AgeOn(in.on)
		if in.b.BirthDate.IsZero() || age < 0 || age > maxAge {
			return Violation(RuleAgeLimit, "%s requires %s on %s (age %d)", in.program, req, in.on, age)
		}
		return nil
	}}
}

// inTraining requires an active child_rehab_training entitlement on the
// date, or a child_rehab_training grant in the same calendar year.
func inTraining() check {
	return check{"in rehabilitation training", func(in eligibility) error {
		if e := in.b.Entitlements[ProgramChildRehabTraining]; e != nil &&
			e.Status == EntitlementStatusActive && !e.EffectiveFrom.After(in.on) {
			return nil
		}
		for _, g := range in.b.OneOffs {
			if g.Program == ProgramChildRehabTraining && g.EffectiveOn.Year() == in.on.Year() {
				return nil
			}
		}
		return Violation(RuleTrainingRequired, "%s requires an active %s entitlement or a %s grant in %d on %s",
			in.program, ProgramChildRehabTraining, ProgramChildRehabTraining, in.on.Year(), in.on)
	}}
}
