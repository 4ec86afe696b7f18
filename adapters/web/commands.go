package web

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// The caseworker's forms. Each form carries a token of its own (formKey),
// made when the form is shown: the command's ID is the user's and that
// token, so a form submitted twice — a double click, the back button —
// runs its command once, and the second submission is answered as the
// first was. After a command the desk waits for the read models to have
// applied it before it shows the person's page (read your writes).

// PersonCommands runs a person's commands (app.Persons implements it).
type PersonCommands interface {
	Execute(ctx context.Context, id domain.PersonID, meta domain.CommandMeta, cmd domain.Command) (domain.AppendResult, error)
	State(ctx context.Context, id domain.PersonID) (domain.Beneficiary, error)
}

// Freshness says whether the read models have applied the log up to pos.
type Freshness interface {
	Reached(ctx context.Context, pos domain.Position) (bool, error)
}

// readYourWrites is how long a page waits for the read models to show a
// command's events.
const readYourWrites = 5 * time.Second

// formKey returns a new form token.
func formKey() string {
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// caseworker and approver say who may do what, as the API's roles do.
func caseworker(role string) bool { return role == "clerk" || role == "admin" }
func approver(role string) bool   { return role == "approver" || role == "admin" }

// meta is the envelope of a command a form submitted.
func (k *desk) meta(r *http.Request, s Session) (domain.CommandMeta, error) {
	key := r.PostFormValue("form")
	if len(key) < 16 || len(key) > 64 || strings.Trim(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		// Only formKey's alphabet: the command ID is "web:USER:KEY", and
		// no key may make one user's command ID another's.
		return domain.CommandMeta{}, domain.Invalid("form", "the form has no token: show it again")
	}
	return domain.CommandMeta{CommandID: "web:" + s.User + ":" + key, Actor: s.User, Role: s.Role, Now: k.Now(),
		Reason: strings.TrimSpace(r.PostFormValue("reason"))}, nil
}

// reached reports whether the read models have applied pos (true
// without a Freshness to ask, or when asking fails: the page is shown as
// it is).
func (k *desk) reached(ctx context.Context, pos domain.Position) bool {
	if k.Fresh == nil {
		return true
	}
	ok, err := k.Fresh.Reached(ctx, pos)
	return ok || err != nil
}

// settle waits until the read models have applied pos, or the wait is
// over (the page then shows what they have).
func (k *desk) settle(ctx context.Context, pos domain.Position) {
	if k.Fresh == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, readYourWrites)
	defer cancel()
	for {
		if ok, err := k.Fresh.Reached(ctx, pos); ok || err != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

type registerData struct {
	Form                                        string
	IDNumber, Name, Township, RegisteredOn, Err string
	Dibao, Tekun                                bool
}

func (k *desk) registerPage(w http.ResponseWriter, r *http.Request) {
	k.render(w, r, http.StatusOK, "register", "登记人员", registerData{Form: formKey(), RegisteredOn: domain.BusinessDate(k.Now()).String()})
}

func (k *desk) register(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	d := registerData{Form: r.PostFormValue("form"), IDNumber: strings.TrimSpace(r.PostFormValue("id_number")),
		Name: strings.TrimSpace(r.PostFormValue("name")), Township: strings.TrimSpace(r.PostFormValue("township")),
		RegisteredOn: strings.TrimSpace(r.PostFormValue("registered_on")),
		Dibao:        r.PostFormValue("dibao") != "", Tekun: r.PostFormValue("tekun") != ""}
	id, err := domain.ParseResidentID("id_number", strings.ToUpper(d.IDNumber))
	var on domain.Date
	if err == nil {
		on, err = domain.ParseDate("registered_on", d.RegisteredOn)
	}
	var meta domain.CommandMeta
	if err == nil {
		meta, err = k.meta(r, s)
	}
	var res domain.AppendResult
	pid := domain.PersonIDFromHash(k.LookupKey.Hash(id))
	if err == nil {
		res, err = k.Commands.Execute(r.Context(), pid, meta, domain.RegisterPerson{IDNumber: id, IDHash: k.LookupKey.Hash(id),
			Name: d.Name, Township: d.Township, Household: domain.HouseholdStatus{Dibao: d.Dibao, Tekun: d.Tekun}, RegisteredOn: on})
	}
	if err != nil {
		if !refusal(err) {
			k.failErr(w, r, err)
			return
		}
		d.Err = plainError(err)
		d.IDNumber = "" // not sent back: typed again
		k.render(w, r, http.StatusUnprocessableEntity, "register", "登记人员", d)
		return
	}
	k.settle(r.Context(), res.Position)
	http.Redirect(w, r, "/persons/"+string(pid), http.StatusSeeOther)
}

// proposeGrant proposes a grant from the person's page.
func (k *desk) proposeGrant(w http.ResponseWriter, r *http.Request) {
	pid, ok := k.personParam(w, r)
	if !ok {
		return
	}
	var p parsed
	c := domain.ProposeGrant{Program: p.program(r.PostFormValue("program")),
		EffectiveFrom: p.date("effective_from", strings.TrimSpace(r.PostFormValue("effective_from"))), ProposedBy: sessionOf(r).User}
	if a := strings.TrimSpace(r.PostFormValue("amount")); a != "" {
		c.Amount = p.money("amount", a)
	}
	if key := r.PostFormValue("form"); len(key) >= 16 {
		c.ProposalID = "web-" + key[:16] // k.meta refuses a shorter token
	}
	k.execute(w, r, pid, c, p.err)
}

// decideGrant approves or rejects a proposal: approvers only, and never
// the proposer (the domain refuses that).
func (k *desk) decideGrant(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	pid, ok := k.personParam(w, r)
	if !ok {
		return
	}
	proposal := chi.URLParam(r, "proposal")
	var cmd domain.Command
	switch chi.URLParam(r, "decision") {
	case "approve":
		cmd = domain.ApproveGrant{ProposalID: proposal, ApprovedBy: s.User}
	case "reject":
		cmd = domain.RejectGrant{ProposalID: proposal, RejectedBy: s.User, Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	default:
		k.fail(w, r, http.StatusNotFound, "页面不存在", "没有这个页面。")
		return
	}
	k.execute(w, r, pid, cmd, nil)
}

// execute runs a form's command on the person's stream — unless parsing
// the form failed (err) — waits for the read models to show it, and shows
// the person's page (afterCommand).
func (k *desk) execute(w http.ResponseWriter, r *http.Request, pid domain.PersonID, cmd domain.Command, err error) {
	var meta domain.CommandMeta
	if err == nil {
		meta, err = k.meta(r, sessionOf(r))
	}
	if err == nil {
		var res domain.AppendResult
		if res, err = k.Commands.Execute(r.Context(), pid, meta, cmd); err == nil {
			k.settle(r.Context(), res.Position)
		}
	}
	k.afterCommand(w, r, pid, err)
}

// personParam parses the person ID of the path, answering 404 when it is
// none.
func (k *desk) personParam(w http.ResponseWriter, r *http.Request) (domain.PersonID, bool) {
	pid, err := domain.ParsePersonID("id", chi.URLParam(r, "id"))
	if err != nil {
		k.fail(w, r, http.StatusNotFound, "未找到", "没有这个人员。")
		return "", false
	}
	return pid, true
}

// afterCommand shows the person's page: after a refusal, with the reason.
func (k *desk) afterCommand(w http.ResponseWriter, r *http.Request, pid domain.PersonID, err error) {
	switch {
	case err == nil:
		http.Redirect(w, r, "/persons/"+string(pid), http.StatusSeeOther)
	case refusal(err):
		k.showPerson(w, r, pid, http.StatusUnprocessableEntity, plainError(err))
	default:
		k.failErr(w, r, err)
	}
}

func (k *desk) forbidden(w http.ResponseWriter, r *http.Request) {
	k.fail(w, r, http.StatusForbidden, "无权操作", "您的角色不能进行这项操作。")
}

// refusal reports an error the user can act on: bad input, a conflict, a
// rule, a person not found.
func refusal(err error) bool {
	return errors.Is(err, domain.ErrInvalid) || errors.Is(err, domain.ErrConflict) ||
		errors.Is(err, domain.ErrRuleViolation) || errors.Is(err, domain.ErrNotFound)
}

var fieldNames = map[string]string{
	"id_number": "身份证号", "name": "姓名", "township": "乡镇", "registered_on": "登记日期", "program": "补贴项目",
	"effective_from": "起始日期", "amount": "金额", "proposal_id": "申请", "reason": "理由", "form": "表单",
	"date_of_death": "死亡日期", "to_township": "迁入乡镇", "effective_on": "生效日期", "effective_to": "截止日期",
	"reason_code": "原因", "period": "发放月份", "file": "回盘文件", "number": "残疾证号", "issued_on": "发证日期",
	"valid_until": "有效期至", "category": "残疾类别", "grade": "残疾等级", "household_class": "家庭类别",
	"year": "年度", "group": "分组", "format": "文件格式",
}

// ruleNames says in Chinese what each business rule (domain.RuleError's
// Rule) requires; the domain's message, with its particulars (programs,
// dates), follows it. TestEveryRuleHasAChineseName fails for a rule of the
// domain without one.
var ruleNames = map[string]string{
	domain.RuleCertificateRequired:    "该项目要求在生效日期持有有效的残疾人证",
	domain.RuleGradeRequired:          "残疾等级不符合该项目的要求",
	domain.RuleCategoryRequired:       "残疾类别不符合该项目的要求",
	domain.RuleDibaoRequired:          "该项目要求家庭享受低保",
	domain.RuleTekunExcluded:          "享受特困人员救助供养的，不能享受该项目",
	domain.RuleWorkInjuryNursing:      "已享受工伤保险护理费的，不能享受该项目",
	domain.RuleHouseholdClassRequired: "该项目要求家庭为脱贫户或监测户",
	domain.RulePoorHouseholdRequired:  "该项目要求困难家庭（低保、特困，或脱贫户、监测户）",
	domain.RuleVehicleRequired:        "该项目要求登记机动轮椅车车牌",
	domain.RulePostRequired:           "该项目要求登记相应的岗位",
	domain.RuleAgeLimit:               "年龄不符合该项目的要求",
	domain.RuleTrainingRequired:       "该项目要求同时享受相应的待遇或补助",
	domain.RuleRegistrationRequired:   "该项目要求此人已登记",
	domain.RuleOncePerPerson:          "该项目每人只能享受一次，此人已享受过",
	domain.RuleDeceased:               "此人已登记死亡，只能撤销死亡登记",
	domain.RuleErased:                 "此人的个人信息已依法删除，不能再记录",
	domain.RuleErasureOpen:            "此人还有未办结的待遇、申请、发放或追回，不能删除个人信息",
	domain.RuleRetentionNotEnded:      "此人档案的保存期限未满，不能删除个人信息",
	domain.RuleNoticeOverlap:          "变更通知的期间与已出的通知重叠",
	domain.RuleNoticeGap:              "变更通知的期间与上一份通知之间有遗漏的日期",
	domain.RuleReissueNotCovered:      "重出的通知包含从未通知过的日期",
	domain.RuleNothingToPay:           "这个月没有应发的笔数",
	domain.RuleBatchNotApproved:       "批次尚未批准，不能办理",
	domain.RuleMakerChecker:           "提出人不能审批自己提出的事项，须由另一位工作人员审批",
}

// plainError says what was refused: the field in Chinese, or the rule
// broken in Chinese, each followed by the domain's own particulars.
func plainError(err error) string {
	var fe *domain.FieldError
	if errors.As(err, &fe) {
		if n, ok := fieldNames[fe.Field]; ok {
			return n + "有误：" + reasonText(fe)
		}
	}
	var re *domain.RuleError
	if errors.As(err, &re) {
		return "不符合规定：" + ruleText(re)
	}
	if errors.Is(err, domain.ErrNotFound) {
		return "没有找到：" + err.Error()
	}
	return "无法办理：" + err.Error()
}

// The caseworker's other actions on a person, each a small form on the
// person's page: record a death, a move, suspend, resume or terminate a
// subsidy.

var suspensionReasons = []codeName{
	{string(domain.SuspensionUnderReview), "正在审核"}, {string(domain.SuspensionUnreachable), "联系不上本人"},
	{string(domain.SuspensionDocumentsMissing), "材料不全"}, {string(domain.SuspensionOther), "其他"},
}

var terminationReasons = []codeName{
	{string(domain.TerminationMovedAway), "迁出本县"}, {string(domain.TerminationNoLongerEligible), "不再符合条件"},
	{string(domain.TerminationVehicleScrapped), "机动轮椅车报废"}, {string(domain.TerminationVehicleStopped), "机动轮椅车停用"},
	{string(domain.TerminationHouseholdStatusChanged), "家庭情况变化"}, {string(domain.TerminationVoluntary), "本人申请"},
	{string(domain.TerminationErrorCorrection), "更正错误"}, {string(domain.TerminationOther), "其他"},
}

// reasonName names a suspension or termination reason in Chinese.
func reasonName(code string) string {
	for _, l := range [][]codeName{suspensionReasons, terminationReasons, revocationReasons, otherReasons} {
		for _, c := range l {
			if c.Code == code {
				return c.Name
			}
		}
	}
	return code
}

var revocationReasons = []codeName{
	{string(domain.RevocationReassessedNotDisabled), "重新评定不属于残疾"}, {string(domain.RevocationFraudulent), "骗取"},
	{string(domain.RevocationErrorCorrection), "更正错误"}, {string(domain.RevocationOther), "其他"},
}

var householdClasses = []codeName{
	{"", "无"}, {string(domain.HouseholdLiftedFromPoverty), "脱贫户"}, {string(domain.HouseholdMonitoredMarginal), "监测户（边缘易致贫）"},
	{string(domain.HouseholdMonitoredUnstable), "监测户（脱贫不稳定）"}, {string(domain.HouseholdMonitoredHardship), "监测户（突发严重困难）"},
	{string(domain.HouseholdUrbanNeedy), "城镇困难群众"},
}

var categoryChoices = []codeName{
	{"visual", "视力残疾"}, {"hearing", "听力残疾"}, {"speech", "言语残疾"}, {"physical", "肢体残疾"},
	{"intellectual", "智力残疾"}, {"mental", "精神残疾"}, {"multiple", "多重残疾"},
}

// otherReasons are set by the ledger itself, not chosen on a form.
var otherReasons = []codeName{
	{string(domain.TerminationDeath), "死亡"}, {string(domain.TerminationCertificateRevoked), "残疾证注销"},
	{string(domain.SuspensionCertificateExpired), "残疾证过期"},
}

// codeName is a code and its name in Chinese, for a select.
type codeName struct{ Code, Name string }

// personAction runs one of the caseworker's actions from its form.
func (k *desk) personAction(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	pid, ok := k.personParam(w, r)
	if !ok {
		return
	}
	// A death retracted is an approver's correction; the rest are a
	// caseworker's.
	if action := chi.URLParam(r, "action"); (action == "retract-death" && !approver(s.Role)) || (action != "retract-death" && !caseworker(s.Role)) {
		k.forbidden(w, r)
		return
	}
	var p parsed
	form := func(name string) string { return strings.TrimSpace(r.PostFormValue(name)) }
	var cmd domain.Command
	switch chi.URLParam(r, "action") {
	case "death":
		cmd = domain.RecordDeath{DateOfDeath: p.date("date_of_death", form("date_of_death"))}
	case "move":
		cmd = domain.MovePerson{ToTownship: form("to_township"), EffectiveOn: p.date("effective_on", form("effective_on"))}
	case "suspend":
		cmd = domain.SuspendEntitlement{Program: p.program(form("program")), EffectiveOn: p.date("effective_on", form("effective_on")),
			ReasonCode: domain.SuspensionReason(form("reason_code"))}
	case "resume":
		cmd = domain.ResumeEntitlement{Program: p.program(form("program")), EffectiveOn: p.date("effective_on", form("effective_on"))}
	case "terminate":
		cmd = domain.TerminateEntitlement{Program: p.program(form("program")), EffectiveTo: p.date("effective_to", form("effective_to")),
			ReasonCode: domain.TerminationReason(form("reason_code"))}
	case "household":
		class, err := domain.ParseHouseholdClass("household_class", form("household_class"))
		p.keep(err)
		cmd = domain.ChangeHouseholdStatus{Status: domain.HouseholdStatus{Class: class, Dibao: form("dibao") != "", Tekun: form("tekun") != "",
			WorkInjuryNursing: form("work_injury_nursing") != ""}, EffectiveOn: p.date("effective_on", form("effective_on"))}
	case "retract-death":
		cmd = domain.RetractDeath{}
	case "certificate":
		cmd = domain.IssueCertificate{Number: p.certificate(strings.ToUpper(form("number"))), IssuedOn: p.date("issued_on", form("issued_on")),
			ValidUntil: p.date("valid_until", form("valid_until"))}
	case "regrade":
		cmd = domain.RegradeCertificate{Category: p.category(form("category")), Grade: p.grade(form("grade")),
			EffectiveOn: p.date("effective_on", form("effective_on")), ValidUntil: p.date("valid_until", form("valid_until"))}
	case "revoke":
		cmd = domain.RevokeCertificate{ReasonCode: domain.RevocationReason(form("reason_code")), EffectiveOn: p.date("effective_on", form("effective_on"))}
	default:
		k.fail(w, r, http.StatusNotFound, "页面不存在", "没有这个页面。")
		return
	}
	k.execute(w, r, pid, cmd, p.err)
}

// parsed collects the first error of a form's fields.
type parsed struct{ err error }

func (p *parsed) date(field, s string) domain.Date {
	d, err := domain.ParseDate(field, s)
	p.keep(err)
	return d
}

func (p *parsed) money(field, s string) domain.Money {
	m, err := domain.ParseMoney(field, s)
	p.keep(err)
	return m
}

func (p *parsed) certificate(s string) domain.CertificateNumber {
	n, err := domain.ParseCertificateNumber("number", s)
	p.keep(err)
	return n
}

func (p *parsed) category(s string) domain.DisabilityCategory {
	c, err := domain.ParseCategory("category", s)
	p.keep(err)
	return c
}

func (p *parsed) grade(s string) domain.DisabilityGrade {
	g, err := domain.ParseGrade("grade", s)
	p.keep(err)
	return g
}

func (p *parsed) keep(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *parsed) program(s string) domain.ProgramCode {
	c, err := domain.ParseProgramCode("program", s)
	p.keep(err)
	return c
}
