package seed

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// The plan: every person, every case and every command of the scenario,
// decided up front from the seed, before anything is written. Building it
// is pure; Plan.check then runs every command through domain.Decide in
// memory and verifies that the year adds up to the published figures, so
// a plan that would not reproduce them fails before the store is touched.

// group is the part of the county's caseload a person belongs to.
type group int

const (
	groupSubsidy group = iota // holds the living and/or the care subsidy in 2024
	groupOther                // certificate holders without either
	groupChild                // children in rehabilitation training
)

// tag marks what a person is chosen for, so that no one is chosen for two
// things that would collide.
type tag uint32

const (
	tagNew         tag = 1 << iota // registered in 2024
	tagDibaoJoin                   // care since January; gets dibao in 2024 and joins living
	tagRegradeJoin                 // living since January; regraded to grade 2 and joins care
	tagDeath                       // dies in 2024
	tagMovedAway                   // moves out of the county in 2024: entitlements end
	tagRevoked                     // certificate revoked in 2024
	tagLostDibao                   // household leaves dibao: living ends
	tagWorkInjury                  // starts a work-injury nursing allowance: care ends
	tagVoluntary                   // gives up an entitlement
	tagSuspended                   // an entitlement is suspended for a while
	tagIncapacity                  // holds the incapacity subsidy
	tagPost                        // holds a public welfare job
	tagFuel                        // holds the fuel allowance
	tagHomeMod                     // household gets a home modification
	tagClassChange                 // household class changes in 2024
	tagPair                        // shares a household with another person of the ledger
	tagMove                        // moves to another township of the county
	tagStudent                     // newly enrolled university student
	tagOneOff                      // received a one-off grant or an in-kind issue
)

// lifeEvents are the tags of a person's own changes in 2024.
const lifeEvents = tagNew | tagDibaoJoin | tagRegradeJoin | tagDeath | tagMovedAway | tagRevoked | tagLostDibao |
	tagWorkInjury | tagVoluntary | tagSuspended | tagClassChange | tagMove

// certPlan is a person's certificate.
type certPlan struct {
	category   domain.DisabilityCategory
	grade      domain.DisabilityGrade
	issuedOn   domain.Date
	validUntil domain.Date
}

// accountPlan is a person's bank account.
type accountPlan struct {
	holder string
	bank   string
	number string
}

// person is one beneficiary of the scenario.
type person struct {
	idx       int
	group     group
	tags      tag
	id        domain.ResidentID
	hash      string
	pid       domain.PersonID
	birth     domain.Date
	name      string
	township  string
	household string // "" is the person's own
	status    domain.HouseholdStatus
	cert      *certPlan
	acct      accountPlan
	regOn     domain.Date // registered_on; for migrated persons before 2024

	death     int // month of death in 2024 (0: alive at the end of the year)
	deathOn   domain.Date
	movedAway int // month the person moves out of the county
	revoked   int // month the certificate is revoked
	change    *statusChange
	moveTo    string

	cases   []*mcase
	oneOffs []oneOff
	inKind  []inKind
	actions []action

	// endClass is the household class on 2024-12-31 (or at death).
	endClass domain.HouseholdClass
}

func (p *person) has(t tag) bool { return p.tags&t != 0 }

// migrated reports whether the person was registered before 2024 and
// entered in the December 2023 migration.
func (p *person) migrated() bool { return !p.has(tagNew) }

// endMonth is the month the person's entitlements to program end by a
// death, a move out of the county or a revocation (13: none in 2024).
func (p *person) endMonth(program domain.ProgramCode) int {
	end := 13
	for _, m := range []int{p.death, p.movedAway} {
		if m > 0 {
			end = min(end, m)
		}
	}
	if prog, _ := domain.LookupProgram(program); p.revoked > 0 && prog.RequiresCertificate {
		end = min(end, p.revoked)
	}
	return end
}

// changeKind is what a household status change in 2024 changes.
type changeKind int

const (
	changeDibaoOff   changeKind = iota + 1 // the household leaves dibao
	changeDibaoOn                          // the household gets dibao
	changeWorkInjury                       // a work-injury nursing allowance starts
	changeClass                            // the household class changes to class
)

// statusChange is a household status change in 2024.
type statusChange struct {
	kind  changeKind
	month int
	on    domain.Date           // the day it takes effect
	class domain.HouseholdClass // changeClass only
}

// apply returns s changed by c.
func (c statusChange) apply(s domain.HouseholdStatus) domain.HouseholdStatus {
	switch c.kind {
	case changeDibaoOff:
		s.Dibao = false
	case changeDibaoOn:
		s.Dibao = true
	case changeWorkInjury:
		s.WorkInjuryNursing = true
	case changeClass:
		s.Class = c.class
	}
	return s
}

// mcase is one grant of a monthly or annual program.
type mcase struct {
	program  domain.ProgramCode
	amount   domain.Money // zero: the catalog rate
	attrs    domain.GrantAttributes
	migrated bool // granted in the December 2023 migration, effective 2024-01-01
	start    int  // first month in force (1–12)
	end      int  // month of the case's own termination (0: none)
	reason   domain.TerminationReason
	// suspended from the 1st of month suspend to the 1st of month resume
	suspend, resume int

	// The fitter may move start within [minStart, maxStart] and end
	// within [minEnd, maxEnd].
	adjStart, adjEnd   bool
	minStart, maxStart int
	minEnd, maxEnd     int
}

// monthsOwed counts the months of 2024 for which the case is owed, the
// rule of domain.MonthsOwed for the plan's shapes of cases.
func (c *mcase) monthsOwed(p *person) int {
	last := p.endMonth(c.program) // person-level end: that month is still owed
	if last > 12 {
		last = 12
	}
	if c.end > 0 {
		last = min(last, c.end)
	}
	n := last - c.start + 1
	if c.suspend > 0 {
		for m := c.suspend; m < c.resume; m++ {
			if m >= c.start && m <= last {
				n--
			}
		}
	}
	return max(n, 0)
}

// oneOff is a one-off grant.
type oneOff struct {
	program domain.ProgramCode
	amount  domain.Money
	on      domain.Date
}

// inKind is an issue of assistive devices.
type inKind struct {
	item     inKindItem
	quantity int
	on       domain.Date
}

// builder builds a plan.
type builder struct {
	seed    uint64
	r       *rand.Rand
	key     domain.LookupKey
	seen    map[string]bool
	persons []*person
	nextHH  int
}

func (b *builder) pct(p int) bool { return b.r.IntN(100) < p }

// between returns a random int in [lo, hi].
func (b *builder) between(lo, hi int) int {
	if hi <= lo {
		return lo
	}
	return lo + b.r.IntN(hi-lo+1)
}

var categoryWeights = []struct {
	c      domain.DisabilityCategory
	weight int
}{
	{domain.CategoryPhysical, 40}, {domain.CategoryVisual, 12}, {domain.CategoryHearing, 9}, {domain.CategorySpeech, 2},
	{domain.CategoryIntellectual, 12}, {domain.CategoryMental, 15}, {domain.CategoryMultiple, 10},
}

func (b *builder) category() domain.DisabilityCategory {
	n := b.r.IntN(100)
	for _, w := range categoryWeights {
		if n < w.weight {
			return w.c
		}
		n -= w.weight
	}
	return domain.CategoryPhysical
}

// adultAge draws an age for a disabled adult; older ages dominate.
func (b *builder) adultAge() int {
	switch x := b.r.IntN(100); {
	case x < 15:
		return b.between(18, 40)
	case x < 48:
		return b.between(41, 60)
	case x < 85:
		return b.between(61, 78)
	default:
		return b.between(79, 93)
	}
}

// birthForAge returns a birth date of someone aged age on 2024-01-01.
func (b *builder) birthForAge(age int) domain.Date {
	y := 2023 - age
	return randomDate(b.r, domain.NewDate(y, time.January, 1), domain.NewDate(y, time.December, 31))
}

var otherJiujiangAreas = []string{"360402", "360421", "360425", "360426", "360428", "360429", "360430"}

// newPerson creates a person born on birth, with a unique, valid ID number.
func (b *builder) newPerson(g group, birth domain.Date) *person {
	r := b.r
	gender := domain.GenderMale
	if r.IntN(2) == 0 {
		gender = domain.GenderFemale
	}
	area := lushanArea
	if birth.Year() < 2016 { // Lushan City was Xingzi County (星子县, 360427) until 2016
		switch x := r.IntN(100); {
		case x < 85:
			area = "360427"
		case x < 95:
			area = otherJiujiangAreas[r.IntN(len(otherJiujiangAreas))]
		}
	}
	var id domain.ResidentID
	for {
		seq := 1 + 2*r.IntN(500) // odd: male
		if gender == domain.GenderFemale {
			seq = 2 + 2*r.IntN(499)
		}
		var err error
		if id, err = domain.NewResidentID(area, birth, seq); err != nil {
			panic(err) // the inputs are built valid
		}
		if !b.seen[id.Number()] {
			b.seen[id.Number()] = true
			break
		}
	}
	hash := b.key.Hash(id)
	p := &person{
		idx: len(b.persons), group: g, id: id, hash: hash, pid: domain.PersonIDFromHash(hash),
		birth: birth, name: name(r, gender, birth.Year()), township: pickTownship(r),
	}
	holder := p.name
	if birth.AgeOn(domain.NewDate(2024, time.January, 1)) < 16 {
		// A child's benefits are paid to a guardian's account.
		holder = surnameOf(p.name) + given(r, givenMidMale)
		if r.IntN(2) == 0 {
			holder = surname(r) + given(r, givenMidFemale)
		}
	}
	bk := pickBank(r)
	p.acct = accountPlan{holder: holder, bank: bk.name, number: cardNumber(r, bk)}
	b.persons = append(b.persons, p)
	return p
}

// surnameOf returns the surname of a generated name.
func surnameOf(name string) string {
	if strings.HasPrefix(name, "欧阳") { // the one two-character surname of the list
		return "欧阳"
	}
	return string([]rune(name)[:1])
}

func addYears(d domain.Date, n int) domain.Date {
	return domain.NewDate(d.Year()+n, d.Month(), d.Day())
}

// issueCert gives p a certificate issued between from and to.
func (b *builder) issueCert(p *person, c domain.DisabilityCategory, g domain.DisabilityGrade, from, to domain.Date) {
	if earliest := p.birth.AddDays(180); from.Before(earliest) {
		from = earliest
	}
	issued := randomDate(b.r, from, to)
	p.cert = &certPlan{category: c, grade: g, issuedOn: issued, validUntil: p.certValidUntil(issued)}
}

// certValidUntil is the last valid day of a certificate p is issued on
// issued: ten years, five for a child under 8 (reassessed sooner while the
// child grows).
func (p *person) certValidUntil(issued domain.Date) domain.Date {
	years := 10
	if p.birth.AgeOn(issued) < 8 {
		years = 5
	}
	return addYears(issued, years).AddDays(-1)
}

// migratedCert gives a person registered before 2024 a certificate issued
// 2015–2023 (so still valid through 2024) and registers them on its issue
// date or soon after.
func (b *builder) migratedCert(p *person, c domain.DisabilityCategory, g domain.DisabilityGrade) {
	from := domain.MustDate("2015-01-01")
	if p.birth.AgeOn(domain.MustDate("2024-01-01")) < 18 {
		from = domain.MustDate("2020-06-01") // a child's certificate is valid for five years
	}
	b.issueCert(p, c, g, from, domain.MustDate("2023-11-30"))
	p.regOn = p.cert.issuedOn.AddDays(b.r.IntN(30))
	if late := domain.MustDate("2023-12-15"); p.regOn.After(late) {
		p.regOn = late
	}
}

// pick returns n of the candidates that satisfy ok, chosen at random, and
// tags them with t.
func (b *builder) pick(what string, candidates []*person, n int, t tag, ok func(*person) bool) ([]*person, error) {
	idx := b.r.Perm(len(candidates))
	out := make([]*person, 0, n)
	for _, i := range idx {
		if len(out) == n {
			break
		}
		if p := candidates[i]; ok == nil || ok(p) {
			p.tags |= t
			out = append(out, p)
		}
	}
	if len(out) < n {
		return nil, fmt.Errorf("seed plan: only %d candidates for %s, want %d", len(out), what, n)
	}
	return out, nil
}

func (b *builder) filter(ok func(*person) bool) []*person {
	var out []*person
	for _, p := range b.persons {
		if ok(p) {
			out = append(out, p)
		}
	}
	return out
}

// newCase adds a case to p.
func (p *person) newCase(program domain.ProgramCode, migrated bool, start int) *mcase {
	c := &mcase{program: program, migrated: migrated, start: start}
	p.cases = append(p.cases, c)
	return c
}

func (p *person) caseOf(program domain.ProgramCode) *mcase {
	for _, c := range p.cases {
		if c.program == program {
			return c
		}
	}
	return nil
}

// The scenario's shape: how the published caseload splits into persons and
// what happens to them in 2024. The published figures themselves are in
// published (lushan.go).
const (
	nBoth      = 1128 // living and care
	nLiving    = published2664 - nBoth
	nCare      = published2311 - nBoth
	nDibaoJoin = 25 // of nBoth
	nRegrade   = 25 // of nBoth
	nNewBoth   = 40 // of nBoth
	nNewLiving = 96
	nNewCare   = 73

	nDeaths     = 132
	nMovedAway  = 22
	nRevoked    = 6
	nLostDibao  = 40
	nWorkInjury = 4
	nVoluntary  = 8
	nSuspLiving = 15
	nSuspCare   = 8

	nOthers    = 520 // certificate holders without living or care
	nOthersNew = 20  // of whom registered in 2024
	nStudents  = 5
	nPairs     = 140
	nMoves     = 30

	published2664 = 2664
	published2311 = 2311
)

// newPlan builds the scenario for seed, identifying persons with key.
func newPlan(seed uint64, key domain.LookupKey) (*Plan, error) {
	b := &builder{seed: seed, r: rand.New(rand.NewPCG(seed, 0x6c757368616e)), key: key, seen: map[string]bool{}}
	steps := []func() error{
		b.subsidyPersons, b.subsidyLeaves, b.fitLivingCare,
		b.others, b.children, b.incapacity, b.posts, b.fuel, b.oneOffs,
		b.pairs, b.classes, b.moves,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, err
		}
	}
	pl := &Plan{seed: seed, key: key, persons: b.persons}
	for _, p := range b.persons {
		b.materialize(p)
	}
	if err := pl.check(); err != nil {
		return nil, err
	}
	pl.budgets = budgetsFor(pl.want)
	return pl, nil
}

// subsidyPersons creates the 3,847 holders of the living and/or care
// subsidy: most migrated with their grants from 2024-01-01, some joining
// during the year.
func (b *builder) subsidyPersons() error {
	type kind int
	const (
		both kind = iota
		livingOnly
		careOnly
	)
	kinds := make([]kind, 0, nBoth+nLiving+nCare)
	for range nBoth {
		kinds = append(kinds, both)
	}
	for range nLiving {
		kinds = append(kinds, livingOnly)
	}
	for range nCare {
		kinds = append(kinds, careOnly)
	}
	b.r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	var ofKind [3][]*person
	for _, k := range kinds {
		age := b.adultAge()
		if k != livingOnly && b.pct(3) {
			age = b.between(4, 17) // severely disabled children get the care subsidy too
		}
		p := b.newPerson(groupSubsidy, b.birthForAge(age))
		grade := domain.DisabilityGrade(b.between(1, 2))
		if k == livingOnly {
			grade = domain.DisabilityGrade(b.between(3, 4))
		}
		b.migratedCert(p, b.category(), grade)
		switch k {
		case both, livingOnly:
			p.status.Dibao = true
		case careOnly:
			p.status.Tekun = b.pct(25)
		}
		ofKind[k] = append(ofKind[k], p)
	}
	// Joiners: new persons, and existing ones whose situation changed.
	newOf := func(ps []*person, n int) []*person {
		for _, p := range ps[:n] {
			p.tags |= tagNew
		}
		return ps[:n]
	}
	for _, p := range newOf(ofKind[both], nNewBoth) {
		s := b.between(1, 12)
		p.newCase(domain.ProgramLivingSubsidy, false, s)
		p.newCase(domain.ProgramCareSubsidy, false, s)
	}
	for _, p := range ofKind[both][nNewBoth : nNewBoth+nDibaoJoin] {
		p.tags |= tagDibaoJoin
		p.status.Dibao = false
		p.change = &statusChange{kind: changeDibaoOn}
		p.newCase(domain.ProgramCareSubsidy, true, 1)
		c := p.newCase(domain.ProgramLivingSubsidy, false, b.between(2, 12))
		c.adjStart, c.minStart, c.maxStart = true, 2, 12
	}
	for _, p := range ofKind[both][nNewBoth+nDibaoJoin : nNewBoth+nDibaoJoin+nRegrade] {
		p.tags |= tagRegradeJoin
		p.cert.grade = domain.DisabilityGrade(3)
		p.newCase(domain.ProgramLivingSubsidy, true, 1)
		c := p.newCase(domain.ProgramCareSubsidy, false, b.between(2, 12))
		c.adjStart, c.minStart, c.maxStart = true, 2, 12
	}
	for _, p := range ofKind[both][nNewBoth+nDibaoJoin+nRegrade:] {
		p.newCase(domain.ProgramLivingSubsidy, true, 1)
		p.newCase(domain.ProgramCareSubsidy, true, 1)
	}
	single := []struct {
		ps      []*person
		nNew    int
		program domain.ProgramCode
	}{
		{ofKind[livingOnly], nNewLiving, domain.ProgramLivingSubsidy},
		{ofKind[careOnly], nNewCare, domain.ProgramCareSubsidy},
	}
	for _, s := range single {
		for _, p := range newOf(s.ps, s.nNew) {
			c := p.newCase(s.program, false, b.between(1, 12))
			c.adjStart, c.minStart, c.maxStart = true, 1, 12
		}
		for _, p := range s.ps[s.nNew:] {
			p.newCase(s.program, true, 1)
		}
	}
	// New persons are certified in 2024, shortly before they join.
	for _, p := range b.persons {
		if p.has(tagNew) {
			p.cert.issuedOn, p.regOn = domain.Date{}, domain.Date{} // set when materialized
		}
	}
	return nil
}

// plain reports whether p is a migrated subsidy holder with no change of
// their own planned yet.
func plain(p *person) bool { return p.group == groupSubsidy && p.tags&lifeEvents == 0 }

// subsidyLeaves plans deaths, moves out of the county, revocations,
// terminations and suspensions among the migrated subsidy holders.
func (b *builder) subsidyLeaves() error {
	subsidy := b.filter(plain)
	// Deaths, older persons more likely: pick from an age-weighted list.
	var weighted []*person
	for _, p := range subsidy {
		age := p.birth.AgeOn(domain.MustDate("2024-07-01"))
		for range max(1, (age-40)/8) {
			weighted = append(weighted, p)
		}
	}
	dead := 0
	for _, i := range b.r.Perm(len(weighted)) {
		if dead == nDeaths {
			break
		}
		if p := weighted[i]; !p.has(tagDeath) {
			p.tags |= tagDeath
			p.death = b.between(1, 12)
			dead++
		}
	}
	moved, err := b.pick("moves out of the county", subsidy, nMovedAway, tagMovedAway, plain)
	if err != nil {
		return err
	}
	for _, p := range moved {
		p.movedAway = b.between(1, 12)
	}
	revoked, err := b.pick("revocations", subsidy, nRevoked, tagRevoked, func(p *person) bool {
		return plain(p) && p.cert.grade == 4 && len(p.cases) == 1
	})
	if err != nil {
		return err
	}
	for _, p := range revoked {
		p.revoked = b.between(2, 11)
	}
	livingOnly := func(p *person) bool {
		return plain(p) && len(p.cases) == 1 && p.cases[0].program == domain.ProgramLivingSubsidy
	}
	careOnly := func(p *person) bool {
		return plain(p) && len(p.cases) == 1 && p.cases[0].program == domain.ProgramCareSubsidy && !p.status.Tekun
	}
	own := func(ps []*person, reason domain.TerminationReason) {
		for _, p := range ps {
			c := p.cases[0]
			c.end, c.reason = b.between(1, 12), reason
			c.adjEnd, c.minEnd, c.maxEnd = true, 1, 12
		}
	}
	ps, err := b.pick("households leaving dibao", subsidy, nLostDibao, tagLostDibao, livingOnly)
	if err != nil {
		return err
	}
	own(ps, domain.TerminationHouseholdStatusChanged)
	for _, p := range ps {
		p.change = &statusChange{kind: changeDibaoOff}
	}
	if ps, err = b.pick("work-injury nursing", subsidy, nWorkInjury, tagWorkInjury, careOnly); err != nil {
		return err
	}
	own(ps, domain.TerminationNoLongerEligible)
	for _, p := range ps {
		p.change = &statusChange{kind: changeWorkInjury}
	}
	if ps, err = b.pick("voluntary terminations", subsidy, nVoluntary, tagVoluntary, func(p *person) bool {
		return plain(p) && len(p.cases) == 1
	}); err != nil {
		return err
	}
	own(ps, domain.TerminationVoluntary)
	suspend := func(ps []*person) {
		for _, p := range ps {
			c := p.cases[0]
			c.suspend = b.between(2, 10)
			c.resume = min(c.suspend+b.between(1, 3), 12)
		}
	}
	if ps, err = b.pick("suspensions of living", subsidy, nSuspLiving, tagSuspended, livingOnly); err != nil {
		return err
	}
	suspend(ps)
	if ps, err = b.pick("suspensions of care", subsidy, nSuspCare, tagSuspended, careOnly); err != nil {
		return err
	}
	suspend(ps)
	return nil
}

// fitLivingCare moves the adjustable joins and terminations until the
// living and care cases are owed exactly the published person-months.
func (b *builder) fitLivingCare() error {
	var cases []caseOf
	for _, p := range b.persons {
		for _, c := range p.cases {
			if c.program == domain.ProgramLivingSubsidy || c.program == domain.ProgramCareSubsidy {
				cases = append(cases, caseOf{p, c})
			}
		}
	}
	return fitMonths(b.r, "living and care", cases, publishedLivingCareMonths)
}

// others creates certificate holders who receive neither subsidy: the
// pool for one-off grants, devices, posts and the fuel allowance.
func (b *builder) others() error {
	for i := range nOthers {
		age := b.between(16, 75)
		if i < nStudents {
			age = 18
		}
		p := b.newPerson(groupOther, b.birthForAge(age))
		cat := b.category()
		if b.pct(25) {
			cat = domain.CategoryPhysical // the fuel allowance needs physical disability
		}
		grade := domain.DisabilityGrade(b.between(2, 4))
		if i < nStudents {
			p.tags |= tagStudent
			grade = domain.DisabilityGrade(b.between(3, 4))
		}
		b.migratedCert(p, cat, grade)
		switch x := b.r.IntN(100); {
		case x < 12:
			p.status.Dibao = true
		case x < 18:
			p.status.Tekun = true
		}
		if i >= nOthers-nOthersNew {
			p.tags |= tagNew // certified and registered in 2024, nothing granted yet
			p.cert.issuedOn, p.regOn = domain.Date{}, domain.Date{}
		}
	}
	return nil
}

// rehabChild is a child's rehabilitation training in 2024.
type rehabChild struct {
	p              *person
	spring, autumn bool // semesters trained (a training grant each)
	springOn       domain.Date
	autumnOn       domain.Date
}

// children creates the children in rehabilitation training: their
// training grants (52 children, 730,000.00) and living allowance
// (90,400.00 at 200.00 a month), and the two cochlear implants.
func (b *builder) children() error {
	const nChildren = publishedRehabChildren
	springOnly := b.between(1, 3)
	autumnOnly := b.between(3, 5)
	var kids []*rehabChild
	for i := range nChildren {
		birth := randomDate(b.r, domain.MustDate("2017-02-01"), domain.MustDate("2022-10-31"))
		if i < publishedCochlearPersons {
			birth = randomDate(b.r, domain.MustDate("2021-01-01"), domain.MustDate("2022-06-30"))
		}
		p := b.newPerson(groupChild, birth)
		k := &rehabChild{p: p, spring: true, autumn: true}
		switch {
		case i < publishedCochlearPersons:
			p.cert = &certPlan{category: domain.CategoryHearing, grade: 1}
		case b.pct(60):
			cat := []domain.DisabilityCategory{domain.CategoryHearing, domain.CategorySpeech, domain.CategoryIntellectual,
				domain.CategoryMental, domain.CategoryMental, domain.CategoryPhysical, domain.CategoryIntellectual}[b.r.IntN(7)]
			p.cert = &certPlan{category: cat, grade: domain.DisabilityGrade(b.between(1, 3))}
		}
		switch {
		case i >= nChildren-autumnOnly:
			k.spring = false
		case i >= nChildren-autumnOnly-springOnly:
			k.autumn = false
		}
		if k.spring {
			// Trained since 2023: registered then, entered in the migration.
			if p.cert != nil {
				c := p.cert
				b.issueCert(p, c.category, c.grade, domain.MustDate("2021-01-01"), domain.MustDate("2023-10-31"))
				p.regOn = p.cert.issuedOn.AddDays(b.r.IntN(20))
			} else {
				p.regOn = randomDate(b.r, p.birth.AddDays(365), domain.MustDate("2023-11-30"))
			}
			k.springOn = randomDate(b.r, domain.MustDate("2024-01-08"), domain.MustDate("2024-03-08"))
		} else {
			p.tags |= tagNew // starts training in the autumn: registered then
		}
		if k.autumn {
			k.autumnOn = randomDate(b.r, domain.MustDate("2024-08-26"), domain.MustDate("2024-09-27"))
		}
		p.status = domain.HouseholdStatus{Dibao: b.pct(30)}
		kids = append(kids, k)
	}
	// Training grants: 7,000.00 or 8,000.00 a semester (hearing and speech
	// training cost more), adding up to the published total exactly:
	// 7,000 × g + 1,000 × j = 730,000 for g grants of which j at 8,000.
	grants := 0
	for _, k := range kids {
		if k.spring {
			grants++
		}
		if k.autumn {
			grants++
		}
	}
	dearer := (publishedRehabTrainingFen/100 - 7000*grants) / 1000
	if dearer < 0 || dearer > grants || (publishedRehabTrainingFen/100-7000*grants)%1000 != 0 {
		return fmt.Errorf("seed plan: %d training grants cannot add up to the published total", grants)
	}
	order := slices.Clone(kids)
	slices.SortStableFunc(order, func(x, y *rehabChild) int { return cmp.Compare(kidPriority(x), kidPriority(y)) })
	for _, k := range order {
		for _, sem := range []struct {
			on domain.Date
			ok bool
		}{{k.springOn, k.spring}, {k.autumnOn, k.autumn}} {
			if !sem.ok {
				continue
			}
			amount := domain.MustMoney("7000.00")
			if dearer > 0 {
				amount, dearer = domain.MustMoney("8000.00"), dearer-1
			}
			k.p.oneOffs = append(k.p.oneOffs, oneOff{program: domain.ProgramChildRehabTraining, amount: amount, on: sem.on})
		}
	}
	// Cochlear implants for the two youngest hearing-impaired children.
	for i, k := range kids[:publishedCochlearPersons] {
		on := domain.MustDate("2024-04-16")
		if i == 1 {
			on = domain.MustDate("2024-10-22")
		}
		k.p.oneOffs = append(k.p.oneOffs, oneOff{program: domain.ProgramCochlearImplant, amount: domain.MustMoney("72000.00"), on: on})
	}
	// The living allowance, from the month training starts (or soon
	// after); spring-only children leave in the summer.
	var cases []caseOf
	for i, k := range kids {
		if i%13 == 5 { // a few train as day patients and get no living allowance
			continue
		}
		first := k.springOn
		if !k.spring {
			first = k.autumnOn
		}
		tm := int(first.Month())
		c := k.p.newCase(domain.ProgramChildRehabLiving, false, tm+b.between(0, 1))
		c.amount = domain.MustMoney("200.00")
		c.adjStart, c.minStart, c.maxStart = true, tm, 12
		if !k.autumn {
			c.end, c.reason = b.between(6, 7), domain.TerminationNoLongerEligible
			c.adjEnd, c.minEnd, c.maxEnd = true, 5, 8
		}
		cases = append(cases, caseOf{k.p, c})
	}
	return fitMonths(b.r, "child rehabilitation living allowance", cases, publishedRehabLivingFen/20000)
}

func kidPriority(k *rehabChild) int {
	if c := k.p.cert; c != nil && (c.category == domain.CategoryHearing || c.category == domain.CategorySpeech) {
		return 0
	}
	return 1
}

// incapacity grants the incapacity subsidy to severely disabled persons of
// registered-poor households, at 550.00 or 650.00 a month (by degree of
// incapacity), adding up to the published total exactly.
func (b *builder) incapacity() error {
	const nJoins = 6
	eligible := func(p *person) bool {
		return p.group == groupSubsidy && p.migrated() && p.cert.grade <= 2 &&
			p.tags&(tagRegradeJoin|tagDibaoJoin|tagClassChange|tagRevoked|tagWorkInjury) == 0
	}
	ps, err := b.pick("incapacity subsidy", b.persons, publishedIncapacityPersons, tagIncapacity, eligible)
	if err != nil {
		return err
	}
	var cases []*mcase
	var joins []*mcase
	for _, p := range ps {
		c := p.newCase(domain.ProgramIncapacitySubsidy, true, 1)
		if len(joins) < nJoins && p.endMonth(c.program) > 12 {
			c.migrated, c.start = false, b.between(2, 12)
			joins = append(joins, c)
		}
		cases = append(cases, c)
	}
	total := func() int {
		n := 0
		for i, c := range cases {
			n += c.monthsOwed(ps[i])
		}
		return n
	}
	// 550 × months + 100 × y = published, y months at 650.00: the months
	// must be even. A join a month earlier or later makes them so.
	if total()%2 != 0 {
		if len(joins) == 0 {
			return fmt.Errorf("seed plan: no incapacity join to even out the months")
		}
		c := joins[0]
		if c.start < 12 {
			c.start++
		} else {
			c.start--
		}
	}
	months := make([]int, len(cases))
	for i, c := range cases {
		months[i] = c.monthsOwed(ps[i])
	}
	y := (publishedIncapacityFen/100 - 550*total()) / 100
	if y < 0 || y > total() || (publishedIncapacityFen/100-550*total())%100 != 0 {
		return fmt.Errorf("seed plan: %d incapacity months cannot add up to the published total", total())
	}
	higher, ok := subsetSum(b.r, months, y)
	if !ok {
		return fmt.Errorf("seed plan: no incapacity cases add up to %d months", y)
	}
	for i, c := range cases {
		c.amount = domain.MustMoney("550.00")
		if higher[i] {
			c.amount = domain.MustMoney("650.00")
		}
	}
	return nil
}

// posts places persons in public welfare jobs and village library posts.
func (b *builder) posts() error {
	working := func(p *person) bool {
		age := p.birth.AgeOn(domain.MustDate("2024-01-01"))
		return p.migrated() && p.cert != nil && p.cert.grade >= 3 && age >= 18 && age <= 58 &&
			p.tags&(tagDeath|tagMovedAway|tagRevoked|tagStudent|tagIncapacity|tagPost) == 0 &&
			(p.group == groupOther || (p.group == groupSubsidy && len(p.cases) == 1))
	}
	for _, post := range []struct {
		name         string
		n, joins, qs int
		amount       string
	}{
		{domain.PostPublicWelfare, publishedPostsPublicWelfare, 7, 3, "600.00"},
		{domain.PostLibraryManager, publishedPostsLibrary, 4, 2, "200.00"},
	} {
		ps, err := b.pick(post.name+" posts", b.persons, post.n, tagPost, working)
		if err != nil {
			return err
		}
		for i, p := range ps {
			c := p.newCase(domain.ProgramPublicWelfareJob, true, 1)
			c.amount, c.attrs = domain.MustMoney(post.amount), domain.GrantAttributes{Post: post.name}
			switch {
			case i < post.joins:
				c.migrated, c.start = false, b.between(2, 11)
			case i < post.joins+post.qs:
				c.end, c.reason = b.between(3, 11), domain.TerminationVoluntary
			}
		}
	}
	return nil
}

// fuel grants the annual fuel allowance to owners of motorized
// wheelchairs; some vehicles are scrapped or stopped during the year.
func (b *builder) fuel() error {
	ps, err := b.pick("fuel allowance", b.persons, publishedFuelGrants, tagFuel, func(p *person) bool {
		return p.migrated() && p.cert != nil && p.cert.category == domain.CategoryPhysical && p.group != groupChild &&
			p.tags&(tagDeath|tagMovedAway|tagRevoked) == 0
	})
	if err != nil {
		return err
	}
	for i, p := range ps {
		c := p.newCase(domain.ProgramFuelAllowance, false, b.between(3, 5))
		c.attrs = domain.GrantAttributes{VehiclePlate: vehiclePlate(b.r)} // at the catalog rate, 300.00 a year
		if i < publishedFuelTerminated {
			c.end = b.between(7, 11)
			c.reason = domain.TerminationVehicleScrapped
			if i%3 == 0 {
				c.reason = domain.TerminationVehicleStopped
			}
		}
	}
	return nil
}

// aliveOn reports whether p is alive, still certified and in the county on
// d (with a week to spare).
func (p *person) aliveOn(d domain.Date) bool {
	m := int(d.AddDays(7).Month())
	if d.AddDays(7).Year() > 2024 {
		m = 13
	}
	for _, end := range []int{p.death, p.movedAway, p.revoked} {
		if end > 0 && end <= m {
			return false
		}
	}
	return true
}

// oneOffs plans the one-off grants and in-kind issues of 2024.
func (b *builder) oneOffs() error {
	certified := func(p *person) bool { return p.migrated() && p.cert != nil && p.group != groupChild }
	severePoor := func(p *person) bool {
		return certified(p) && p.cert.grade <= 2 && (p.status.Dibao || p.status.Tekun) &&
			p.tags&(tagDibaoJoin|tagRegradeJoin|tagLostDibao|tagWorkInjury|tagPair) == 0
	}
	days := func(from, to string) func() domain.Date {
		return func() domain.Date { return recordDay(randomDate(b.r, domain.MustDate(from), domain.MustDate(to))) }
	}
	// grant gives n persons who satisfy ok, and have had no other one-off
	// grant, a grant of program on a date from on.
	grant := func(what string, n int, ok func(*person) bool, on func() domain.Date, program domain.ProgramCode, amount func(i int) domain.Money) error {
		picked := 0
		for _, i := range b.r.Perm(len(b.persons)) {
			if picked == n {
				break
			}
			p := b.persons[i]
			if p.has(tagOneOff) || !ok(p) {
				continue
			}
			d := on()
			if !p.aliveOn(d) {
				continue
			}
			p.tags |= tagOneOff
			if program == domain.ProgramHomeModification {
				p.tags |= tagHomeMod
			}
			p.oneOffs = append(p.oneOffs, oneOff{program: program, amount: amount(picked), on: d})
			picked++
		}
		if picked < n {
			return fmt.Errorf("seed plan: only %d persons for %s, want %d", picked, what, n)
		}
		return nil
	}
	// University stipends for the newly enrolled students.
	stipends := []string{"5000.00", "4000.00", "4000.00", "3000.00", "3000.00"}
	if err := grant("university stipends", publishedEducationPersons, func(p *person) bool { return p.has(tagStudent) },
		days("2024-09-09", "2024-10-18"), domain.ProgramEducationStipend, func(i int) domain.Money { return domain.MustMoney(stipends[i]) }); err != nil {
		return err
	}
	// Home modifications: 70 at 3,000.00 and 9 at 2,800.00, one per
	// household (members of shared households are left out).
	homeMod := func(i int) domain.Money {
		if i < 70 {
			return domain.MustMoney("3000.00")
		}
		return domain.MustMoney("2800.00")
	}
	if err := grant("home modifications", publishedHomeModPersons, severePoor, days("2024-04-01", "2024-11-29"),
		domain.ProgramHomeModification, homeMod); err != nil {
		return err
	}
	// Devices: amounts from what the devices cost, then nudged by 100.00
	// steps to the published total.
	menu := []string{"800.00", "1200.00", "1500.00", "2000.00", "2500.00", "3000.00", "3500.00", "4000.00", "4800.00"}
	deviceAmounts := make([]int64, publishedDevicePersons)
	var sum int64
	for i := range deviceAmounts {
		deviceAmounts[i] = domain.MustMoney(menu[b.r.IntN(len(menu))]).Fen()
		sum += deviceAmounts[i]
	}
	for diff := (publishedDeviceFen - sum) / 10000; diff != 0; {
		i := b.r.IntN(len(deviceAmounts))
		step := int64(10000)
		if diff < 0 {
			step = -step
		}
		if v := deviceAmounts[i] + step; v >= 50000 && v <= 600000 {
			deviceAmounts[i] = v
			diff -= step / 10000
		}
	}
	if err := grant("device subsidies", publishedDevicePersons, certified, days("2024-03-01", "2024-11-29"),
		domain.ProgramDeviceSubsidy, func(i int) domain.Money { m, _ := domain.MoneyFromFen(deviceAmounts[i]); return m }); err != nil {
		return err
	}
	// Festival visits: Spring Festival (before 2024-02-10) and the
	// national day for helping the disabled (2024-05-19); 125 at 350.00
	// and 111 at 400.00.
	condolence := b.r.Perm(publishedCondolencePersons)
	visit := func() domain.Date {
		if b.pct(72) {
			return days("2024-01-29", "2024-02-08")()
		}
		return days("2024-05-13", "2024-05-24")()
	}
	poor := func(p *person) bool {
		return certified(p) && p.group == groupSubsidy && (p.status.Dibao || p.status.Tekun) && p.tags&tagDibaoJoin == 0
	}
	if err := grant("festival visits", publishedCondolencePersons, poor, visit, domain.ProgramCondolence, func(i int) domain.Money {
		if condolence[i] < 125 {
			return domain.MustMoney("350.00")
		}
		return domain.MustMoney("400.00")
	}); err != nil {
		return err
	}
	// Devices issued in kind, mostly around the two disability days.
	items := 0
	for items < publishedInKindItems {
		it := pickItem(b.r)
		q := 1
		if it.pairs {
			q = 2
		}
		q = min(q, publishedInKindItems-items)
		on := days("2024-05-13", "2024-05-24")
		switch x := b.r.IntN(10); {
		case x < 4:
			on = days("2024-11-25", "2024-12-13")
		case x < 6:
			on = days("2024-03-04", "2024-10-31")
		}
		for _, i := range b.r.Perm(len(b.persons)) {
			p := b.persons[i]
			d := on()
			if certified(p) && len(p.inKind) == 0 && p.aliveOn(d) {
				p.tags |= tagOneOff
				p.inKind = append(p.inKind, inKind{item: it, quantity: q, on: d})
				break
			}
		}
		items += q
	}
	return nil
}

func pickItem(r *rand.Rand) inKindItem {
	total := 0
	for _, it := range inKindItems {
		total += it.weight
	}
	n := r.IntN(total)
	for _, it := range inKindItems {
		if n < it.weight {
			return it
		}
		n -= it.weight
	}
	return inKindItems[0]
}

// pairs puts some persons of the same township and support status into one
// household (two disabled members of a family).
func (b *builder) pairs() error {
	type key struct {
		township    string
		dibao, tekn bool
	}
	open := map[key]*person{}
	made := 0
	for _, i := range b.r.Perm(len(b.persons)) {
		if made == nPairs {
			break
		}
		p := b.persons[i]
		if p.group == groupChild || !p.migrated() || p.tags&(lifeEvents|tagHomeMod|tagPair) != 0 {
			continue
		}
		k := key{p.township, p.status.Dibao, p.status.Tekun}
		q := open[k]
		if q == nil {
			open[k] = p
			continue
		}
		delete(open, k)
		b.nextHH++
		hh := fmt.Sprintf("HH%s%05d", lushanArea, b.nextHH)
		p.household, q.household = hh, hh
		p.tags |= tagPair
		q.tags |= tagPair
		made++
	}
	if made < nPairs {
		return fmt.Errorf("seed plan: only %d shared households, want %d", made, nPairs)
	}
	return nil
}

// moves plans moves within the county.
func (b *builder) moves() error {
	ps, err := b.pick("moves", b.persons, nMoves, tagMove, func(p *person) bool {
		return p.migrated() && p.group != groupChild && p.tags&(lifeEvents|tagPair) == 0
	})
	if err != nil {
		return err
	}
	for _, p := range ps {
		for {
			if t := pickTownship(b.r); t != p.township {
				p.moveTo = t
				break
			}
		}
	}
	return nil
}

// subsetSum returns a random subset of values adding up to target.
func subsetSum(r *rand.Rand, values []int, target int) ([]bool, bool) {
	order := r.Perm(len(values))
	// reach[i][s]: the first i values of order can make s.
	reach := make([][]bool, len(order)+1)
	reach[0] = make([]bool, target+1)
	reach[0][0] = true
	for i, k := range order {
		reach[i+1] = slices.Clone(reach[i])
		for s := target; s >= values[k]; s-- {
			if reach[i][s-values[k]] {
				reach[i+1][s] = true
			}
		}
	}
	if !reach[len(order)][target] {
		return nil, false
	}
	out := make([]bool, len(values))
	s := target
	for i := len(order); i > 0; i-- {
		k := order[i-1]
		if !reach[i-1][s] {
			out[k] = true
			s -= values[k]
		}
	}
	return out, true
}
