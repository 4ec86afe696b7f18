package web

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

// page is what every template gets.
type page struct {
	Title   string
	Session Session
	Data    any
}

var funcs = template.FuncMap{
	"yuan":      yuan,
	"month":     monthText,
	"day":       dayText,
	"program":   programName,
	"status":    statusName,
	"role":      roleName,
	"gender":    genderName,
	"household": reports.HouseholdText,
	"seesMoney": seesMoney,
	"erased":    func() string { return domain.ErasedText },
	"disability": func(c domain.DisabilityCategory, g domain.DisabilityGrade) string {
		return reports.DisabilityText(c.String(), int(g))
	},
	"positive":   func(m domain.Money) bool { return m.Cmp(domain.Money{}) > 0 },
	"prev":       func(n int) int { return n - 1 },
	"next":       func(n int) int { return n + 1 },
	"formkey":    formKey,
	"caseworker": caseworker,
	"approver":   approver,
	"auditor":    auditor,
	"finance":    finance,
	"reason":     reasonName,
	"moment":     func(t time.Time) string { return t.In(domain.BusinessZone).Format("2006年1月2日 15:04:05") },
	"short":      func(s string) string { return s[:min(12, len(s))] },
	"signedYuan": signedYuan,
	"pager":      func(page, pages int, base string) pager { return pager{page, pages, base} },
	"check":      check,
	"msg":        msg,
	// The spending charts' columns (spending.go lays out the rest).
	"chartLabelEnd": func() int { return chartLabelW - 10 },
	"chartBarX":     func() int { return chartLabelW },
	"chartAmountX":  func(w, budget float64) int { return chartLabelW + int(max(w, budget)) + 8 },
}

func parsePages() (map[string]*template.Template, error) {
	names := []string{"login", "home", "password", "persons", "person", "register", "history", "payroll", "batch", "spending", "audit", "notices", "claims", "lines", "error"}
	out := make(map[string]*template.Template, len(names))
	for _, n := range names {
		t, err := template.New(n+".html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		out[n] = t
	}
	return out, nil
}

// render writes a page with status.
func (k *desk) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) {
	var b strings.Builder
	if err := k.pages[name].ExecuteTemplate(&b, "layout", page{Title: title, Session: sessionOf(r), Data: data}); err != nil {
		k.Log.Error("render", "page", name, "err", err)
		http.Error(w, "页面生成失败", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// fail renders an error page.
func (k *desk) fail(w http.ResponseWriter, r *http.Request, status int, title, message string) {
	k.render(w, r, status, "error", title, message)
}

// failErr renders what went wrong in plain words: the store or database
// unavailable, not found, or an internal error (logged, not shown).
func (k *desk) failErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, domain.ErrNotFound):
		k.fail(w, r, http.StatusNotFound, "未找到", "没有找到这个人员。")
	case errors.Is(err, domain.ErrUnavailable), errors.Is(err, projections.ErrNotProjected):
		k.fail(w, r, http.StatusServiceUnavailable, "暂时无法使用", "数据库或事件存储暂时不可用，请稍后再试。")
	default:
		k.Log.Error("desk", "route", r.URL.Path, "err", err)
		k.fail(w, r, http.StatusInternalServerError, "出错了", "系统内部出错，已记录。请稍后再试或联系管理员。")
	}
}

// yuan writes money as ¥1,234.00.
func yuan(m domain.Money) string {
	s := m.String()
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := "¥" + b.String() + "." + frac
	if neg {
		return "-" + out
	}
	return out
}

// signedYuan writes a signed amount (a budget's remainder) as yuan does.
func signedYuan(d decimal.Decimal) string {
	m, err := domain.ParseMoney("amount", d.Abs().StringFixed(2))
	if err != nil {
		return d.StringFixed(2)
	}
	if d.IsNegative() {
		return "-" + yuan(m)
	}
	return yuan(m)
}

// monthText writes a period as 2025年1月.
func monthText(p domain.Period) string {
	if p.IsZero() {
		return ""
	}
	return fmt.Sprintf("%d年%d月", p.Year(), int(p.Month()))
}

// dayText writes a date as 2025年1月2日.
func dayText(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	t := d.Time()
	return fmt.Sprintf("%d年%d月%d日", t.Year(), int(t.Month()), t.Day())
}

func programName(code domain.ProgramCode) string {
	if p, ok := domain.LookupProgram(code); ok {
		return p.Name
	}
	return string(code)
}

var statusNames = map[string]string{
	"active": "享受中", "suspended": "暂停", "terminated": "已停止",
	"issued": "已发放", "settled": "银行已确认", "failed": "发放失败", "reversed": "已冲回", "reserved": "待发放",
	"drafting": "生成中", "drafted": "待审批", "issuing": "发放中", "approved": "已批准发放", "rejecting": "退回中", "rejected": "已退回",
}

func statusName(s any) string {
	k := fmt.Sprint(s)
	if n, ok := statusNames[k]; ok {
		return n
	}
	return k
}

var roleNames = map[string]string{"clerk": "经办人员", "approver": "审批人员", "finance": "财务人员", "auditor": "审计人员", "admin": "管理员"}

func roleName(r string) string {
	if n, ok := roleNames[r]; ok {
		return n
	}
	return r
}

func genderName(g domain.Gender) string {
	switch g {
	case domain.GenderMale:
		return "男"
	case domain.GenderFemale:
		return "女"
	}
	return ""
}

// pager is a list's page links: base is the list's URL up to where
// "page=N" goes (ending in "?" or "&").
type pager struct {
	Page, Pages int
	Base        string
}

// pageParam reads ?page= (default 1): a page number from 1 up, else a
// field error naming page.
func pageParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, domain.Invalid("page", "%q is not a page number", v)
	}
	return n, nil
}

// badQuery answers a page asked for with a bad query parameter.
func (k *desk) badQuery(w http.ResponseWriter, r *http.Request, err error) {
	k.fail(w, r, http.StatusBadRequest, "查询条件有误", plainError(err))
}
