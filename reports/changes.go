// Package reports writes the federation's reports from the read models
// and the event store: the monthly change notice (changes*.go) and the
// annual summary.
package reports

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// The monthly change notice: the changes recorded in a window (Asia/Shanghai
// recording dates, inclusive) that a township or a department must hear
// of, with the kinds of change and the columns each department needs, and
// full ID numbers only for the departments that must match them against
// their own rolls. docs/reports.md has the table; ChangesPolicyFor is it.

// Columns of the notice, by key. Every department's column list is drawn
// from these; the header is bilingual, as in the bank files.
const (
	ChangesColTownship  = "township"
	ChangesColName      = "name"
	ChangesColIDNumber  = "id_number"
	ChangesColChange    = "change"
	ChangesColProgram   = "program"
	ChangesColEffective = "effective_date"
	ChangesColDisabled  = "disability" // category and grade after the change
	ChangesColHousehold = "household"  // household status after the change
	ChangesColMovedFrom = "moved_from"
	ChangesColReason    = "reason"
	ChangesColPost      = "post"
	ChangesColDetails   = "details"
	ChangesColRecorded  = "recorded_on"
)

var changesHeaders = map[string]string{
	ChangesColTownship:  "乡镇(Township)",
	ChangesColName:      "姓名(Name)",
	ChangesColIDNumber:  "身份证号(ID number)",
	ChangesColChange:    "变动类型(Change)",
	ChangesColProgram:   "项目(Program)",
	ChangesColEffective: "生效日期(Effective date)",
	ChangesColDisabled:  "残疾类别等级(Disability)",
	ChangesColHousehold: "家庭状况(Household)",
	ChangesColMovedFrom: "迁出乡镇(Moved from)",
	ChangesColReason:    "原因(Reason)",
	ChangesColPost:      "岗位(Post)",
	ChangesColDetails:   "说明(Details)",
	ChangesColRecorded:  "登记日期(Recorded on)",
}

// ChangesHeader returns the header of a column key.
func ChangesHeader(col string) string { return changesHeaders[col] }

// ChangesPolicy is what one recipient gets: which kinds of change (and,
// for entitlement changes, of which programs), which columns, and whether
// ID numbers are written in full.
type ChangesPolicy struct {
	Department domain.Department
	Label      string   // e.g. 民政(civil_affairs)
	Kinds      []string // projections.Change… codes
	// Programs limits entitlement changes (granted, suspended, terminated,
	// reinstated) to these programs; nil: every program.
	Programs []domain.ProgramCode
	Columns  []string
	// FullIDs: the recipient matches people by ID number against its own
	// rolls, which PIPL art. 28 lets it receive for that purpose; every
	// other recipient gets the masked number (first 6 + last 4).
	FullIDs bool
}

var (
	changesEntitlementKinds = []string{projections.ChangeEntitlementGranted, projections.ChangeEntitlementSuspended, projections.ChangeEntitlementTerminated,
		projections.ChangeEntitlementReinstated}
	changesDeathKinds = []string{projections.ChangePersonDied, projections.ChangeDeathRetracted}
)

// ChangesPolicyFor returns the policy of a department (DepartmentNone: the
// townships' own notice, with every kind and masked ID numbers).
func ChangesPolicyFor(d domain.Department) ChangesPolicy {
	switch d {
	case domain.DepartmentCivilAffairs:
		// Dibao and tekun rolls and the two subsidies it co-administers
		// are kept by ID number.
		return ChangesPolicy{Department: d, Label: "民政(civil_affairs)",
			Kinds:    slices.Concat(changesDeathKinds, []string{projections.ChangePersonMoved, projections.ChangeHouseholdChanged}, changesEntitlementKinds),
			Programs: []domain.ProgramCode{domain.ProgramLivingSubsidy, domain.ProgramCareSubsidy},
			Columns: []string{ChangesColTownship, ChangesColName, ChangesColIDNumber, ChangesColChange, ChangesColProgram, ChangesColEffective,
				ChangesColHousehold, ChangesColMovedFrom, ChangesColReason, ChangesColDetails, ChangesColRecorded},
			FullIDs: true}
	case domain.DepartmentMedicalInsurance:
		// Premium subsidies for severely disabled people are enrolled by
		// ID number and follow the certificate's grade.
		return ChangesPolicy{Department: d, Label: "医保(medical_insurance)",
			Kinds: slices.Concat([]string{projections.ChangeCertificateIssued, projections.ChangeCertificateRegraded, projections.ChangeCertificateRevoked},
				changesDeathKinds, []string{projections.ChangePersonMoved}),
			Columns: []string{ChangesColTownship, ChangesColName, ChangesColIDNumber, ChangesColChange, ChangesColDisabled, ChangesColEffective,
				ChangesColMovedFrom, ChangesColReason, ChangesColDetails, ChangesColRecorded},
			FullIDs: true}
	case domain.DepartmentAgriculture:
		// Poverty monitoring (household classes) and the registered-poor
		// incapacity subsidy; name, township and masked number suffice
		// to find the household.
		return ChangesPolicy{Department: d, Label: "农业农村(agriculture)",
			Kinds:    slices.Concat([]string{projections.ChangeHouseholdChanged}, changesDeathKinds, []string{projections.ChangePersonMoved}, changesEntitlementKinds),
			Programs: []domain.ProgramCode{domain.ProgramIncapacitySubsidy},
			Columns: []string{ChangesColTownship, ChangesColName, ChangesColIDNumber, ChangesColChange, ChangesColProgram, ChangesColEffective,
				ChangesColHousehold, ChangesColMovedFrom, ChangesColDetails, ChangesColRecorded},
		}
	case domain.DepartmentHumanResources:
		// Public-welfare posts: who took up or left a post, and deaths.
		// The posts are paid by the federation, so masked numbers.
		return ChangesPolicy{Department: d, Label: "人社(human_resources)",
			Kinds:    slices.Concat(changesDeathKinds, changesEntitlementKinds),
			Programs: []domain.ProgramCode{domain.ProgramPublicWelfareJob},
			Columns: []string{ChangesColTownship, ChangesColName, ChangesColIDNumber, ChangesColChange, ChangesColProgram, ChangesColPost,
				ChangesColEffective, ChangesColReason, ChangesColDetails, ChangesColRecorded},
		}
	}
	return ChangesPolicy{Department: domain.DepartmentNone, Label: "乡镇(townships)",
		Kinds: []string{projections.ChangeCertificateIssued, projections.ChangeCertificateRegraded, projections.ChangeCertificateRevoked,
			projections.ChangePersonDied, projections.ChangeDeathRetracted, projections.ChangePersonMoved, projections.ChangeHouseholdChanged,
			projections.ChangeEntitlementGranted, projections.ChangeEntitlementSuspended, projections.ChangeEntitlementTerminated,
			projections.ChangeEntitlementReinstated},
		Columns: []string{ChangesColTownship, ChangesColName, ChangesColIDNumber, ChangesColChange, ChangesColProgram, ChangesColEffective,
			ChangesColDetails, ChangesColRecorded},
	}
}

// Includes reports whether the policy's recipient is told of a change.
func (p ChangesPolicy) Includes(r projections.ChangeRow) bool {
	if !slices.Contains(p.Kinds, r.Kind) {
		return false
	}
	if r.Program != "" && p.Programs != nil {
		return slices.Contains(p.Programs, r.Program)
	}
	return true
}

// ChangesLine is one row of a notice.
type ChangesLine struct {
	projections.ChangeRow
	// IDNumber is what the notice shows: the full number when the policy
	// allows it (and it is known), else the masked one.
	IDNumber string
}

// ChangesNotice is a notice's content, ready to write.
type ChangesNotice struct {
	Plan   domain.ChangeNoticePlan
	Policy ChangesPolicy
	Lines  []ChangesLine // by township (code-point order), then recording order
}

// Changelog is what the change notice reads from the read models: the
// changes recorded in a window, and the townships known.
// projections.ReadModels implements it.
type Changelog interface {
	// Changes returns the changes recorded (Asia/Shanghai dates) from from
	// to to inclusive, in township (any if empty).
	Changes(ctx context.Context, from, to domain.Date, township string) ([]projections.ChangeRow, error)
	// ChangelogTownships returns every township the changelog knows, sorted.
	ChangelogTownships(ctx context.Context) ([]string, error)
}

// ReadChangesNotice reads the rows of plan's window and township from the
// changelog, keeps those the department is told of, and — for a department
// that gets full ID numbers — reads them from the persons' registration
// events in store (the only place they are kept).
func ReadChangesNotice(ctx context.Context, cl Changelog, store domain.EventStore, plan domain.ChangeNoticePlan) (ChangesNotice, error) {
	n := ChangesNotice{Plan: plan, Policy: ChangesPolicyFor(plan.Department)}
	rows, err := cl.Changes(ctx, plan.From, plan.To, plan.Township)
	if err != nil {
		return n, err
	}
	// The database's collation orders Chinese names differently on
	// different servers; a notice must not depend on it.
	slices.SortStableFunc(rows, func(a, b projections.ChangeRow) int { return strings.Compare(a.Township, b.Township) })
	for _, r := range rows {
		if n.Policy.Includes(r) {
			n.Lines = append(n.Lines, ChangesLine{ChangeRow: r, IDNumber: r.IDMasked})
		}
	}
	if !n.Policy.FullIDs || len(n.Lines) == 0 {
		return n, nil
	}
	ids, err := changesFullIDs(ctx, store, n.Lines)
	if err != nil {
		return n, err
	}
	for i := range n.Lines {
		if full, ok := ids[n.Lines[i].PersonID]; ok {
			n.Lines[i].IDNumber = full
		}
	}
	return n, nil
}

// changesFullIDs reads the full ID number of every person in lines from
// the PersonRegistered event that opens their stream.
func changesFullIDs(ctx context.Context, store domain.EventStore, lines []ChangesLine) (map[domain.PersonID]string, error) {
	reg := domain.NewLedgerRegistry().WithKeys(store.PersonalKeys())
	out := map[domain.PersonID]string{}
	for _, l := range lines {
		if _, done := out[l.PersonID]; done || l.PersonID == "" {
			continue
		}
		recs, err := store.ReadStream(ctx, l.PersonID.Stream(), domain.Forwards, 0, 1)
		if err != nil {
			return nil, fmt.Errorf("full ID number of %s: %w", l.PersonID, err)
		}
		if len(recs) == 0 {
			continue
		}
		ev, err := reg.Decode(recs[0].Type, recs[0].Data)
		if err != nil {
			return nil, fmt.Errorf("full ID number of %s: %w", l.PersonID, err)
		}
		if r, ok := ev.(*domain.PersonRegistered); ok && r.IDNumber != "" {
			out[l.PersonID] = r.IDNumber
		}
	}
	return out, nil
}

// Labels of the change kinds, in the notice's language.
var changesKindLabels = map[string]string{
	projections.ChangeCertificateIssued:     "新办残疾证(certificate_issued)",
	projections.ChangeCertificateRegraded:   "残疾等级变更(certificate_regraded)",
	projections.ChangeCertificateRevoked:    "残疾证注销(certificate_revoked)",
	projections.ChangePersonDied:            "死亡(person_died)",
	projections.ChangeDeathRetracted:        "撤销死亡登记(death_retracted)",
	projections.ChangePersonMoved:           "迁入(person_moved)",
	projections.ChangeHouseholdChanged:      "家庭状况变更(household_changed)",
	projections.ChangeEntitlementGranted:    "享受待遇(entitlement_granted)",
	projections.ChangeEntitlementSuspended:  "暂停待遇(entitlement_suspended)",
	projections.ChangeEntitlementTerminated: "停止待遇(entitlement_terminated)",
	projections.ChangeEntitlementReinstated: "恢复待遇(entitlement_reinstated)",
}

var changesCategoryNames = map[string]string{
	"visual": "视力", "hearing": "听力", "speech": "言语", "physical": "肢体",
	"intellectual": "智力", "mental": "精神", "multiple": "多重",
}

var changesHouseholdClassNames = map[string]string{
	string(domain.HouseholdLiftedFromPoverty): "脱贫户",
	string(domain.HouseholdMonitoredMarginal): "监测户(边缘易致贫)",
	string(domain.HouseholdMonitoredUnstable): "监测户(脱贫不稳定)",
	string(domain.HouseholdMonitoredHardship): "监测户(突发严重困难)",
	string(domain.HouseholdUrbanNeedy):        "城镇困难群众",
}

var changesPostNames = map[string]string{
	domain.PostPublicWelfare:  "公益性岗位",
	domain.PostLibraryManager: "农家书屋管理员",
}

// changesDetails is the details JSON of a changelog row.
type changesDetails struct {
	Category     string                 `json:"category"`
	Grade        int                    `json:"grade"`
	CategoryFrom string                 `json:"category_from"`
	CategoryTo   string                 `json:"category_to"`
	GradeFrom    int                    `json:"grade_from"`
	GradeTo      int                    `json:"grade_to"`
	NumberMasked string                 `json:"number_masked"`
	ValidUntil   string                 `json:"valid_until"`
	ReasonCode   string                 `json:"reason_code"`
	DateOfDeath  string                 `json:"date_of_death"`
	TownshipFrom string                 `json:"township_from"`
	TownshipTo   string                 `json:"township_to"`
	From         domain.HouseholdStatus `json:"from"`
	To           domain.HouseholdStatus `json:"to"`
	Effective    string                 `json:"effective_from"`
	EffectiveTo  string                 `json:"effective_to"`
	EndedOn      string                 `json:"ended_on"`
	Amount       string                 `json:"amount"`
	Attributes   domain.GrantAttributes `json:"attributes"`
}

// DisabilityText names a disability category and grade in Chinese, e.g.
// 肢体二级: what the notices and the web desk show.
func DisabilityText(category string, grade int) string {
	name := changesCategoryNames[category]
	if name == "" {
		name = category
	}
	if grade < 1 || grade > 4 {
		return name
	}
	return name + []string{"", "一级", "二级", "三级", "四级"}[grade]
}

// HouseholdText names a household's status in Chinese — its class and
// the rosters it is on, e.g. 脱贫户、低保 — or 无.
func HouseholdText(h domain.HouseholdStatus) string {
	var parts []string
	if n := changesHouseholdClassNames[string(h.Class)]; n != "" {
		parts = append(parts, n)
	} else if h.Class != domain.HouseholdNone {
		parts = append(parts, string(h.Class))
	}
	if h.Dibao {
		parts = append(parts, "低保")
	}
	if h.Tekun {
		parts = append(parts, "特困")
	}
	if h.WorkInjuryNursing {
		parts = append(parts, "工伤护理")
	}
	if len(parts) == 0 {
		return "无"
	}
	return strings.Join(parts, "、")
}

func changesProgram(code domain.ProgramCode) string {
	if code == "" {
		return ""
	}
	if p, ok := domain.LookupProgram(code); ok {
		return p.Name + "(" + string(code) + ")"
	}
	return string(code)
}

// cells returns the line's value of every column key.
func (l ChangesLine) cells() (map[string]string, error) {
	var d changesDetails
	if len(l.Details) > 0 {
		if err := json.Unmarshal(l.Details, &d); err != nil {
			return nil, fmt.Errorf("change notice: details of %s at %s: %w", l.Kind, l.Position, err)
		}
	}
	c := map[string]string{
		ChangesColTownship:  l.Township,
		ChangesColName:      l.Name,
		ChangesColIDNumber:  l.IDNumber,
		ChangesColChange:    changesKindLabels[l.Kind],
		ChangesColProgram:   changesProgram(l.Program),
		ChangesColEffective: l.EffectiveDate.String(),
		ChangesColRecorded:  l.RecordedOn.String(),
		ChangesColReason:    d.ReasonCode,
	}
	if c[ChangesColChange] == "" {
		c[ChangesColChange] = l.Kind
	}
	var details []string
	switch l.Kind {
	case projections.ChangeCertificateIssued:
		c[ChangesColDisabled] = DisabilityText(d.Category, d.Grade)
		details = append(details, c[ChangesColDisabled], "有效期至 "+d.ValidUntil, "证号 "+d.NumberMasked)
	case projections.ChangeCertificateRegraded:
		c[ChangesColDisabled] = DisabilityText(d.CategoryTo, d.GradeTo)
		details = append(details, DisabilityText(d.CategoryFrom, d.GradeFrom)+" → "+c[ChangesColDisabled], "有效期至 "+d.ValidUntil)
	case projections.ChangeCertificateRevoked:
		c[ChangesColDisabled] = "已注销"
		details = append(details, "证号 "+d.NumberMasked, "原因 "+d.ReasonCode)
	case projections.ChangePersonDied:
		details = append(details, "死亡日期 "+d.DateOfDeath)
	case projections.ChangeDeathRetracted:
		details = append(details, "撤销 "+d.DateOfDeath+" 的死亡登记")
	case projections.ChangePersonMoved:
		c[ChangesColMovedFrom] = d.TownshipFrom
		details = append(details, d.TownshipFrom+" → "+d.TownshipTo)
	case projections.ChangeHouseholdChanged:
		c[ChangesColHousehold] = HouseholdText(d.To)
		details = append(details, HouseholdText(d.From)+" → "+c[ChangesColHousehold])
	case projections.ChangeEntitlementGranted:
		details = append(details, "自 "+d.Effective+" 起")
		if d.Amount != "" {
			details = append(details, "金额 "+d.Amount)
		}
		if d.Attributes.Post != "" {
			c[ChangesColPost] = changesPostNames[d.Attributes.Post]
			if c[ChangesColPost] == "" {
				c[ChangesColPost] = d.Attributes.Post
			}
			details = append(details, "岗位 "+c[ChangesColPost])
		}
		if d.Attributes.VehiclePlate != "" {
			details = append(details, "车牌 "+d.Attributes.VehiclePlate)
		}
	case projections.ChangeEntitlementSuspended:
		details = append(details, "原因 "+d.ReasonCode)
	case projections.ChangeEntitlementTerminated:
		details = append(details, "至 "+d.EffectiveTo+" 止", "原因 "+d.ReasonCode)
	case projections.ChangeEntitlementReinstated:
		details = append(details, "撤销至 "+d.EndedOn+" 止的停止待遇", "原因 "+d.ReasonCode+" 系误登记")
	}
	c[ChangesColDetails] = strings.Join(details, "，")
	return c, nil
}

// changesTable lays the notice out: the title row, the header row, and one
// row per line, every row as wide as the header.
func changesTable(n ChangesNotice) (title, header []string, rows [][]string, err error) {
	cols := n.Policy.Columns
	header = make([]string, len(cols))
	for i, c := range cols {
		header[i] = changesHeaders[c]
	}
	township := n.Plan.Township
	if township == "" {
		township = "全部(all)"
	}
	ids := "脱敏(masked)"
	if n.Policy.FullIDs {
		ids = "完整(full)"
	}
	title = []string{
		"月度变动通知(Monthly change notice) " + n.Plan.NoticeID,
		"发往(To) " + n.Policy.Label,
		"乡镇(Township) " + township,
		"期间(Window) " + n.Plan.From.String() + " 至 " + n.Plan.To.String(),
		"发出日期(Issued) " + n.Plan.IssuedOn.String(),
		fmt.Sprintf("条数(Rows) %d", len(n.Lines)),
		"身份证号(ID numbers) " + ids,
	}
	if n.Plan.Reissue {
		title = append(title, "补发(Reissue)")
	}
	if len(title) > len(cols) {
		return nil, nil, nil, fmt.Errorf("change notice: %d title cells do not fit %d columns", len(title), len(cols))
	}
	title = append(title, make([]string, len(cols)-len(title))...)
	for _, l := range n.Lines {
		c, err := l.cells()
		if err != nil {
			return nil, nil, nil, err
		}
		row := make([]string, len(cols))
		for i, col := range cols {
			row[i] = c[col]
		}
		rows = append(rows, row)
	}
	return title, header, rows, nil
}
