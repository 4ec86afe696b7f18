package seed

import (
	"fmt"
	"slices"
	"time"

	"github.com/lushan-dpf/ledger/domain"
)

// The users of the scenario. Clerks register and propose, approvers
// approve grants (maker-checker), finance officers run the payroll, one
// drafting and the other approving.
const (
	roleClerk    = "clerk"
	roleApprover = "approver"
	roleFinance  = "finance"

	financeMaker   = "finance.wu"
	financeChecker = "finance.li"
)

var (
	clerks    = []string{"clerk.hu", "clerk.xiong", "clerk.tu", "clerk.wan"}
	approvers = []string{"approver.liu", "approver.chen"}
)

// action is one command of a person's stream, with who records it and
// when.
type action struct {
	at     time.Time
	actor  string
	role   string
	reason string
	cmd    domain.Command
	// acct, when set, makes the action a RecordBankAccount of this
	// account: the number is sealed when the command runs.
	acct *accountPlan
	// id is the command ID, from which the event IDs derive.
	id string
}

// timeline collects a person's actions.
type timeline struct {
	p     *person
	clerk string
}

func (t *timeline) add(at time.Time, actor, role, reason string, cmd domain.Command) time.Time {
	t.p.actions = append(t.p.actions, action{at: at, actor: actor, role: role, reason: reason, cmd: cmd})
	return at
}

func (t *timeline) clerkDoes(at time.Time, reason string, cmd domain.Command) time.Time {
	return t.add(at, t.clerk, roleClerk, reason, cmd)
}

// later returns at, or just after prev if at is not after it.
func later(at, prev time.Time) time.Time {
	if at.After(prev) {
		return at
	}
	return prev.Add(3 * time.Minute)
}

// Reasons the users type (free text, in the staff's language).
const (
	reasonMigration  = "系统上线：存量对象迁移"
	reasonApply      = "本人申请，乡镇审核通过"
	reasonApprove    = "复核通过"
	reasonDeath      = "乡镇上报死亡"
	reasonMovedAway  = "迁出本市"
	reasonRevoked    = "复评不符合残疾标准"
	reasonDibaoOff   = "民政通报：退出低保"
	reasonDibaoOn    = "民政通报：纳入低保"
	reasonWorkInjury = "人社通报：享受工伤护理费"
	reasonClass      = "农业农村部门通报：户类别调整"
	reasonVoluntary  = "本人申请停发"
	reasonSuspend    = "年审材料未提交，暂停发放"
	reasonResume     = "材料补齐，恢复发放"
	reasonRenew      = "残疾证到期换领"
	reasonRegrade    = "重新评定残疾等级"
	reasonVehicle    = "车辆报废/停驶，停发燃油补贴"
	reasonTraining   = "离开康复机构"
	reasonMove       = "户籍迁移"
	reasonCert       = "办理第二代残疾人证"
	reasonAccount    = "登记社保卡账户"
	reasonInKind     = "辅具适配发放"
)

// oneOffReasons say why a one-off grant is made.
var oneOffReasons = map[domain.ProgramCode]string{
	domain.ProgramHomeModification:   "无障碍改造完工验收",
	domain.ProgramDeviceSubsidy:      "辅具适配评估通过",
	domain.ProgramCochlearImplant:    "人工耳蜗植入救助",
	domain.ProgramChildRehabTraining: "康复训练学期补助",
	domain.ProgramEducationStipend:   "新入学残疾大学生",
	domain.ProgramCondolence:         "节日走访慰问",
}

// proposalDeadline is the last day a 2024 grant may be proposed, so that
// it is approved before December's payroll and its months are paid in
// 2024.
var proposalDeadline = func() domain.Date {
	d := deadlineBefore(12).AddDays(-1)
	for !isWorkday(d) {
		d = d.AddDays(-1)
	}
	return d
}()

// materialize turns p's plan into commands with recording times.
func (b *builder) materialize(p *person) {
	r := b.r
	t := &timeline{p: p, clerk: clerks[townshipIndex(p.township)%len(clerks)]}
	approver := approvers[p.idx%len(approvers)]
	var regT time.Time // when the registration is recorded
	register := func(at time.Time, reason string) {
		regT = at
		t.clerkDoes(at, reason, domain.RegisterPerson{
			IDNumber: p.id, IDHash: p.hash, Name: p.name, Township: p.township,
			Household: p.status, HouseholdID: p.household, RegisteredOn: p.regOn,
		})
		if c := p.cert; c != nil {
			n, err := domain.NewCertificateNumber(p.id, c.category, c.grade)
			if err != nil {
				panic(err)
			}
			t.clerkDoes(at.Add(time.Minute), reasonCert, domain.IssueCertificate{Number: n, IssuedOn: c.issuedOn, ValidUntil: c.validUntil})
		}
		acct := p.acct
		p.actions = append(p.actions, action{at: at.Add(2 * time.Minute), actor: t.clerk, role: roleClerk, reason: reasonAccount, acct: &acct})
	}
	proposals := 0
	// propose records a proposal and its approval the next working day,
	// and returns when the grant was approved.
	propose := func(at time.Time, reason string, c *mcase, from domain.Date) time.Time {
		proposals++
		id := fmt.Sprintf("%s-2024-%d", c.program, proposals)
		t.clerkDoes(at, reason, domain.ProposeGrant{ProposalID: id, Program: c.program, EffectiveFrom: from,
			Amount: c.amount, Attributes: c.attrs, ProposedBy: t.clerk})
		day := recordDay(domain.DateOf(at).AddDays(1))
		if day.Year() == 2023 && day.After(domain.MustDate("2023-12-29")) {
			day = domain.MustDate("2023-12-29")
		}
		return t.add(later(officeTime(r, day), at), approver, roleApprover, reasonApprove, domain.ApproveGrant{ProposalID: id, ApprovedBy: approver})
	}

	// Registration: in the December 2023 migration, or when the person
	// first comes to the federation in 2024.
	if p.migrated() {
		day := recordDay(randomDate(r, domain.MustDate("2023-12-18"), domain.MustDate("2023-12-27")))
		register(officeTime(r, day), reasonMigration)
		for i, c := range p.cases {
			if c.migrated {
				propose(regT.Add(time.Duration(3+i)*time.Minute), reasonMigration, c, domain.MustDate("2024-01-01"))
			}
		}
	} else {
		first := b.firstActivity(p)
		day := recordDay(first.AddDays(-b.between(0, 6)))
		if day.Before(domain.MustDate("2024-01-02")) {
			day = domain.MustDate("2024-01-02")
		}
		p.regOn = minDate(first, day).AddDays(-b.between(0, 12))
		if p.cert != nil {
			p.cert.issuedOn, p.cert.validUntil = p.regOn, p.certValidUntil(p.regOn)
		}
		register(officeTime(r, day), reasonCert)
	}

	// One-off grants and devices.
	var trainT time.Time // when the first training grant is recorded
	n := 0
	for _, o := range p.oneOffs {
		n++
		at := t.clerkDoes(later(officeTime(r, recordDay(o.on)), regT.Add(3*time.Minute)), oneOffReasons[o.program], domain.RecordOneOffGrant{
			GrantID: fmt.Sprintf("%s-2024-%d", o.program, n), Program: o.program, Amount: o.amount, EffectiveOn: o.on})
		if o.program == domain.ProgramChildRehabTraining && (trainT.IsZero() || at.Before(trainT)) {
			trainT = at
		}
	}
	for _, is := range p.inKind {
		n++
		t.clerkDoes(later(officeTime(r, recordDay(is.on)), regT.Add(3*time.Minute)), reasonInKind, domain.RecordInKindIssue{
			IssueID: fmt.Sprintf("%s-2024-%d", domain.ProgramDeviceInKind, n), Item: is.item.name, Quantity: is.quantity,
			UnitValue: domain.MustMoney(is.item.unitValue), EffectiveOn: is.on})
	}

	// Grants during 2024.
	for _, c := range p.cases {
		if c.migrated {
			continue
		}
		from := b.effectiveFrom(p, c)
		day := recordDay(from.AddDays(b.lag()))
		if day.After(proposalDeadline) {
			day = proposalDeadline
		}
		at := later(officeTime(r, day), regT.Add(3*time.Minute))
		if c.program == domain.ProgramChildRehabLiving {
			at = later(at, trainT.Add(5*time.Minute))
		}
		switch {
		case p.has(tagDibaoJoin) && c.program == domain.ProgramLivingSubsidy:
			p.change.month, p.change.on = c.start, from.AddDays(-b.between(3, 20))
			t.clerkDoes(at, reasonDibaoOn, domain.ChangeHouseholdStatus{Status: p.change.apply(p.status), EffectiveOn: p.change.on})
			at = at.Add(2 * time.Minute)
		case p.has(tagRegradeJoin) && c.program == domain.ProgramCareSubsidy:
			t.clerkDoes(at, reasonRegrade, domain.RegradeCertificate{Grade: 2, EffectiveOn: from.AddDays(-b.between(3, 20))})
			at = at.Add(2 * time.Minute)
		}
		approved := propose(at, reasonApply, c, from)
		if c.end > 0 {
			b.terminate(t, p, c, from, approved)
		}
	}
	for _, c := range p.cases {
		if c.migrated && c.end > 0 {
			b.terminate(t, p, c, domain.MustDate("2024-01-01"), regT)
		}
		if c.suspend > 0 {
			a := payrollCalendar[c.suspend-2].reconcile.AddDays(1)
			day := recordDay(randomDate(r, a, deadlineBefore(c.suspend).AddDays(-1)))
			t.clerkDoes(officeTime(r, minDate(day, deadlineBefore(c.suspend))), reasonSuspend, domain.SuspendEntitlement{Program: c.program,
				EffectiveOn: monthDate(c.suspend, 1), ReasonCode: domain.SuspensionDocumentsMissing})
			a = payrollCalendar[c.resume-2].reconcile.AddDays(1)
			day = recordDay(randomDate(r, a, deadlineBefore(c.resume).AddDays(-1)))
			t.clerkDoes(officeTime(r, minDate(day, deadlineBefore(c.resume))), reasonResume, domain.ResumeEntitlement{Program: c.program,
				EffectiveOn: monthDate(c.resume, 1)})
		}
	}
	if p.change != nil && p.change.kind == changeClass {
		// The federation learns of a class change from the department's
		// roster of the month's last day (executor.rosters); an approver
		// records it from that day.
		p.change.on = monthDate(p.change.month, b.between(1, 28))
		_ = b.between(0, 5) // was the recording lag: the draws that follow stay as they were
	}
	if p.moveTo != "" {
		d := randomDate(r, domain.MustDate("2024-03-01"), domain.MustDate("2024-11-30"))
		t.clerkDoes(officeTime(r, recordDay(d.AddDays(b.between(0, 5)))), reasonMove, domain.MovePerson{ToTownship: p.moveTo, EffectiveOn: d})
	}

	// Ends: a move out of the county, a revocation, a death.
	if m := p.movedAway; m > 0 {
		d := monthDate(m, b.between(1, 28))
		at := officeTime(r, b.recordBy(d.AddDays(b.between(0, 10)), m))
		for i, c := range p.cases {
			t.clerkDoes(at.Add(time.Duration(i)*time.Minute), reasonMovedAway, domain.TerminateEntitlement{
				Program: c.program, EffectiveTo: d, ReasonCode: domain.TerminationMovedAway})
		}
	}
	if m := p.revoked; m > 0 {
		d := monthDate(m, b.between(1, 28))
		t.clerkDoes(officeTime(r, b.recordBy(d.AddDays(b.between(0, 7)), m)), reasonRevoked,
			domain.RevokeCertificate{ReasonCode: domain.RevocationReassessedNotDisabled, EffectiveOn: d})
	}
	if m := p.death; m > 0 {
		d := monthDate(m, b.between(1, 31))
		p.deathOn = d
		t.clerkDoes(officeTime(r, b.recordBy(d.AddDays(b.between(1, 15)), m)), reasonDeath, domain.RecordDeath{DateOfDeath: d})
	}
	b.renew(t, p)
	slices.SortStableFunc(p.actions, func(x, y action) int { return x.at.Compare(y.at) })
	for k := range p.actions {
		p.actions[k].id = fmt.Sprintf("%s/s%d/%s/%d", Lushan2024, b.seed, p.pid, k)
	}
}

// Certificates lapsing in the first weeks after the year are renewed
// before the year ends: the federation calls holders in about six weeks
// ahead (ledger eligibility expiring lists them), so no benefit of a
// person still in the county rests on a lapsed certificate at the end of
// 2024, and the renewals show in the demo.
var (
	renewFrom = domain.MustDate("2025-01-01")
	renewTo   = domain.MustDate("2025-02-10")
)

// renew renews p's certificate six weeks before it lapses, when it lapses
// from renewFrom to renewTo and p is still a holder in the county then.
// It draws nothing from the random source, so that every other choice of
// the plan stays as it was.
func (b *builder) renew(t *timeline, p *person) {
	c := p.cert
	if c == nil || p.death > 0 || p.movedAway > 0 || p.revoked > 0 || p.has(tagRegradeJoin) ||
		c.validUntil.Before(renewFrom) || c.validUntil.After(renewTo) {
		return
	}
	n, err := domain.NewCertificateNumber(p.id, c.category, c.grade)
	if err != nil {
		panic(err)
	}
	on := recordDay(c.validUntil.AddDays(-42))
	t.clerkDoes(clock(on, 9, 30), reasonRenew, domain.IssueCertificate{Number: n, IssuedOn: on, ValidUntil: p.certValidUntil(on)})
}

// terminate ends case c (effective from from, approved at approved) in
// its own end month.
func (b *builder) terminate(t *timeline, p *person, c *mcase, from domain.Date, approved time.Time) {
	d := monthDate(c.end, b.between(1, 28))
	if d.Before(from) {
		d = from
	}
	at := later(officeTime(b.r, b.recordBy(d.AddDays(b.between(0, 10)), c.end)), approved)
	if ch := p.change; ch != nil && (ch.kind == changeDibaoOff && c.reason == domain.TerminationHouseholdStatusChanged ||
		ch.kind == changeWorkInjury && c.program == domain.ProgramCareSubsidy && c.reason == domain.TerminationNoLongerEligible) {
		p.change.month, p.change.on = c.end, d.AddDays(1)
		reason := reasonDibaoOff
		if p.change.kind == changeWorkInjury {
			reason = reasonWorkInjury
		}
		// The change ends the entitlement itself (the domain terminates
		// what no longer holds, its last day the day before the change).
		t.clerkDoes(at, reason, domain.ChangeHouseholdStatus{Status: p.change.apply(p.status), EffectiveOn: d.AddDays(1)})
		return
	}
	reason := map[domain.TerminationReason]string{
		domain.TerminationHouseholdStatusChanged: reasonDibaoOff, domain.TerminationNoLongerEligible: reasonWorkInjury,
		domain.TerminationVoluntary: reasonVoluntary, domain.TerminationVehicleScrapped: reasonVehicle,
		domain.TerminationVehicleStopped: reasonVehicle,
	}[c.reason]
	if c.program == domain.ProgramChildRehabLiving {
		reason = reasonTraining
	}
	t.clerkDoes(at, reason, domain.TerminateEntitlement{Program: c.program, EffectiveTo: d, ReasonCode: c.reason})
}

// recordBy returns a recording day on or after d but before the payroll
// of the month after m, so that an end in month m never lets a month be
// paid that is not owed.
func (b *builder) recordBy(d domain.Date, m int) domain.Date {
	day := recordDay(d)
	if last := deadlineBefore(m + 1); day.After(last) {
		day = last
	}
	return day
}

// lag is how many days after a grant's effective date it is proposed:
// mostly within days, sometimes weeks (a backdated grant, paid with
// arrears).
func (b *builder) lag() int {
	switch x := b.r.IntN(100); {
	case x < 70:
		return b.between(0, 3)
	case x < 95:
		return b.between(4, 20)
	default:
		return b.between(21, 40)
	}
}

// effectiveFrom returns the effective date of a case granted in 2024.
func (b *builder) effectiveFrom(p *person, c *mcase) domain.Date {
	last := 28
	if c.start == 12 {
		last = 10 // approved before December's payroll
	}
	if c.program == domain.ProgramChildRehabLiving {
		for _, o := range p.oneOffs {
			if o.program == domain.ProgramChildRehabTraining && int(o.on.Month()) == c.start {
				return o.on // from the day training starts
			}
		}
		return monthDate(c.start, 1)
	}
	return monthDate(c.start, b.between(1, last))
}

// firstActivity returns the first business date a person registered in
// 2024 is needed by: their first grant or training.
func (b *builder) firstActivity(p *person) domain.Date {
	first := domain.Date{}
	consider := func(d domain.Date) {
		if first.IsZero() || d.Before(first) {
			first = d
		}
	}
	for _, c := range p.cases {
		if !c.migrated {
			consider(monthDate(c.start, 1))
		}
	}
	for _, o := range p.oneOffs {
		consider(o.on)
	}
	if first.IsZero() { // certified in 2024, nothing granted yet
		first = randomDate(b.r, domain.MustDate("2024-02-19"), domain.MustDate("2024-11-29"))
	}
	return first
}

func minDate(a, b domain.Date) domain.Date {
	if b.Before(a) {
		return b
	}
	return a
}

func townshipIndex(name string) int {
	for i, t := range townships {
		if t.name == name {
			return i
		}
	}
	return 0
}
