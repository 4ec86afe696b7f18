package web

import (
	"fmt"
	"strings"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/reports"
)

// summaryText says in Chinese what an event of a person's stream
// recorded, for the auditor's history (the API and the command line say
// it in English: domain.Summarize). ID numbers are masked; an event type
// this does not know is summarised in English rather than hidden.
func summaryText(e domain.Event) string {
	s, ok := summaryZH(e)
	if !ok {
		return domain.Summarize(e)
	}
	return domain.MaskIDNumbers(s)
}

func summaryZH(e domain.Event) (string, bool) {
	switch e := e.(type) {
	case *domain.PersonRegistered:
		s := fmt.Sprintf("在%s登记，登记日期%s", e.Township, dayText(e.RegisteredOn))
		if id, err := domain.ParseResidentID("id_number", e.IDNumber); err == nil {
			s += "，身份证号 " + id.Masked()
		} else if e.Erased {
			s += "，身份证号和姓名已删除"
		}
		return s + "，家庭情况：" + reports.HouseholdText(e.Household), true
	case *domain.CertificateIssued:
		return fmt.Sprintf("%s发残疾证：%s，有效期至%s", dayText(e.IssuedOn), disabilityText(e.Category, e.Grade), dayText(e.ValidUntil)), true
	case *domain.CertificateRegraded:
		return fmt.Sprintf("%s起残疾证由%s改为%s，有效期至%s", dayText(e.EffectiveDate), disabilityText(e.PreviousCategory, e.PreviousGrade),
			disabilityText(e.Category, e.Grade), dayText(e.ValidUntil)), true
	case *domain.CertificateRevoked:
		return fmt.Sprintf("%s起残疾证注销（%s）", dayText(e.EffectiveDate), reasonName(string(e.ReasonCode))), true
	case *domain.HouseholdStatusChanged:
		return fmt.Sprintf("%s起家庭情况由“%s”改为“%s”", dayText(e.EffectiveDate), reports.HouseholdText(e.PreviousHousehold),
			reports.HouseholdText(e.Household)), true
	case *domain.PersonDied:
		return fmt.Sprintf("%s死亡", dayText(e.DateOfDeath)), true
	case *domain.DeathRetracted:
		return fmt.Sprintf("撤销%s的死亡登记（登记有误）", dayText(e.DateOfDeath)), true
	case *domain.PersonMoved:
		return fmt.Sprintf("%s由%s迁入%s", dayText(e.EffectiveDate), e.FromTownship, e.ToTownship), true
	case *domain.PersonErased:
		return fmt.Sprintf("%s删除个人信息（最后一次办理在%s，已满 %d 年）", dayText(e.ErasedOn), dayText(e.LastActivity), domain.RetentionYears), true
	case *domain.EntitlementGranted:
		return fmt.Sprintf("%s起享受%s，%s%s", dayText(e.EffectiveFrom), programName(e.Program), rateZH(e.Program, e.Amount), attributesZH(e.Attributes)), true
	case *domain.EntitlementSuspended:
		return fmt.Sprintf("%s起暂停%s（%s）", dayText(e.EffectiveDate), programName(e.Program), reasonName(string(e.ReasonCode))), true
	case *domain.EntitlementResumed:
		return fmt.Sprintf("%s起恢复%s", dayText(e.EffectiveDate), programName(e.Program)), true
	case *domain.EntitlementTerminated:
		return fmt.Sprintf("停止%s，最后享受日%s（%s）", programName(e.Program), dayText(e.EffectiveTo), reasonName(string(e.ReasonCode))), true
	case *domain.EntitlementReinstated:
		return fmt.Sprintf("恢复%s：撤销%s的停止（%s），该停止登记有误", programName(e.Program), dayText(e.EndedOn), reasonName(string(e.ReasonCode))), true
	case *domain.OneOffGranted:
		return fmt.Sprintf("%s一次性发放%s %s（编号 %s）%s", dayText(e.EffectiveDate), programName(e.Program), yuan(e.Amount), e.GrantID,
			attributesZH(e.Attributes)), true
	case *domain.InKindIssued:
		return fmt.Sprintf("%s按%s发放%s %d 件，每件 %s，合计 %s（编号 %s）", dayText(e.EffectiveDate), programName(e.Program), e.Item, e.Quantity,
			yuan(e.UnitValue), yuan(e.UnitValue.Mul(e.Quantity)), e.IssueID), true
	case *domain.GrantProposed:
		return fmt.Sprintf("%s申请%s起享受%s，%s%s，待审批", e.ProposedBy, dayText(e.EffectiveFrom), programName(e.Program), rateZH(e.Program, e.Amount),
			attributesZH(e.Attributes)), true
	case *domain.GrantApproved:
		return fmt.Sprintf("%s批准%s的申请（%s）", e.ApprovedBy, programName(e.Program), e.ProposalID), true
	case *domain.GrantRejected:
		return fmt.Sprintf("%s不批准%s的申请（%s）：%s", e.RejectedBy, programName(e.Program), e.ProposalID, e.Reason), true
	case *domain.BankAccountRecorded:
		return fmt.Sprintf("登记银行账户：%s %s", e.Bank, e.AccountMasked), true
	case *domain.ChangeProposed:
		return fmt.Sprintf("%s根据%s名单比对提出变更（%s），待审批", e.ProposedBy, e.Change.Source, e.ProposalID), true
	case *domain.ChangeApproved:
		return fmt.Sprintf("%s批准变更（%s）", e.ApprovedBy, e.ProposalID), true
	case *domain.ChangeRejected:
		return fmt.Sprintf("%s不批准变更（%s）：%s", e.RejectedBy, e.ProposalID, e.Reason), true
	}
	return "", false
}

func disabilityText(c domain.DisabilityCategory, g domain.DisabilityGrade) string {
	return reports.DisabilityText(c.String(), int(g))
}

// rateZH says what a grant pays per period.
func rateZH(program domain.ProgramCode, amount domain.Money) string {
	if amount.IsZero() {
		return "按标准发放"
	}
	per := "每期"
	if p, ok := domain.LookupProgram(program); ok {
		switch p.Shape {
		case domain.ShapeMonthly:
			per = "每月"
		case domain.ShapeAnnual:
			per = "每年"
		}
	}
	return per + " " + yuan(amount)
}

func attributesZH(a domain.GrantAttributes) string {
	var parts []string
	if a.VehiclePlate != "" {
		parts = append(parts, "车牌 "+a.VehiclePlate)
	}
	if a.Post != "" {
		parts = append(parts, "岗位 "+map[string]string{domain.PostPublicWelfare: "公益性岗位", domain.PostLibraryManager: "农家书屋管理员"}[a.Post])
	}
	if len(parts) == 0 {
		return ""
	}
	return "（" + strings.Join(parts, "，") + "）"
}
