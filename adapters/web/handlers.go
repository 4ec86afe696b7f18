package web

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Signing in and out.

type loginData struct {
	CSRF, Next, User, Error string
}

// loginPage shows the sign-in form; its CSRF token is a cookie of its own
// (there is no session yet) that the form repeats.
func (k *desk) loginPage(w http.ResponseWriter, r *http.Request) {
	k.showLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next"))})
}

func (k *desk) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	var raw [24]byte
	_, _ = rand.Read(raw[:])
	d.CSRF = base64.RawURLEncoding.EncodeToString(raw[:])
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Value: d.CSRF, Path: "/login", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: k.secure(r), MaxAge: 3600})
	k.render(w, r, status, "login", "登录", d)
}

func (k *desk) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBodyBytes)
	c, err := r.Cookie(loginCSRFCookie)
	if err != nil || !sameToken(r.PostFormValue("csrf"), c.Value) || crossSite(r) {
		k.fail(w, r, http.StatusForbidden, "请求被拒绝", "登录表单已过期，请刷新页面后重新登录。")
		return
	}
	user, password := strings.TrimSpace(r.PostFormValue("user")), r.PostFormValue("password")
	d := loginData{Next: safeNext(r.PostFormValue("next")), User: user}
	if user == "" || password == "" {
		d.Error = "请输入用户名和密码。"
		k.showLogin(w, r, http.StatusBadRequest, d)
		return
	}
	id, _, err := k.Accounts.SignIn(r.Context(), user, password, k.Now())
	var locked *LockedError
	switch {
	case errors.Is(err, ErrBadCredentials):
		d.Error = ErrBadCredentials.Error() + "。"
		k.showLogin(w, r, http.StatusUnauthorized, d)
		return
	case errors.As(err, &locked):
		d.Error = locked.Error() + "。"
		k.showLogin(w, r, http.StatusTooManyRequests, d)
		return
	case err != nil:
		k.failErr(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCSRFCookie, Path: "/login", MaxAge: -1})
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: k.secure(r)})
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// secure says whether the cookies must be Secure: under TLS, here or at a
// proxy in front (SecureCookies).
func (k *desk) secure(r *http.Request) bool { return r.TLS != nil || k.SecureCookies }

func (k *desk) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := k.Accounts.SignOut(r.Context(), c.Value); err != nil {
			k.failErr(w, r, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: k.secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (k *desk) home(w http.ResponseWriter, r *http.Request) {
	k.render(w, r, http.StatusOK, "home", "工作台", nil)
}

type passwordData struct{ Error, Done string }

func (k *desk) passwordPage(w http.ResponseWriter, r *http.Request) {
	k.render(w, r, http.StatusOK, "password", "修改密码", passwordData{})
}

func (k *desk) changePassword(w http.ResponseWriter, r *http.Request) {
	s := sessionOf(r)
	current, next, again := r.PostFormValue("current"), r.PostFormValue("new"), r.PostFormValue("again")
	d := passwordData{}
	switch {
	case next != again:
		d.Error = "两次输入的新密码不一致。"
	default:
		err := k.Accounts.ChangePassword(r.Context(), s.User, current, next, k.Now())
		var fe *domain.FieldError
		switch {
		case errors.Is(err, ErrBadCredentials):
			d.Error = "当前密码不正确。"
		case errors.As(err, &fe):
			d.Error = passwordRule(fe)
		case err != nil:
			k.failErr(w, r, err)
			return
		default:
			http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: k.secure(r)})
			d.Done = "密码已修改，所有登录已退出。请用新密码重新登录。"
		}
	}
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
	}
	k.render(w, r, status, "password", "修改密码", d)
}

// passwordRule says in Chinese what a new password lacks.
func passwordRule(fe *domain.FieldError) string {
	switch {
	case strings.Contains(fe.Error(), "shorter"):
		return "新密码至少需要 12 个字符。"
	case strings.Contains(fe.Error(), "longer"):
		return "新密码不能超过 200 个字符。"
	}
	return "新密码不符合要求：" + fe.Error()
}

// Finding a person.

type personsData struct {
	Name, Township string
	Persons        []projections.PersonRow
	Page           int
	More           bool
	Error          string
	// Query is what the ID-number form shows back after a miss (masked).
	Query string
}

// searchPersons lists persons by part of the name and/or the township, a
// page at a time. Finding by ID or certificate number is a form posted
// (findPerson), so that the number is never in a URL.
func (k *desk) searchPersons(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d := personsData{Name: strings.TrimSpace(q.Get("name")), Township: strings.TrimSpace(q.Get("township"))}
	d.Page, _ = strconv.Atoi(q.Get("page"))
	d.Page = max(d.Page, 1)
	switch {
	case !utf8.ValidString(d.Name) || !utf8.ValidString(d.Township):
		d.Error = "姓名或乡镇含有无法识别的字符。"
	case d.Name == "" && d.Township == "":
		k.render(w, r, http.StatusOK, "persons", "查找人员", d)
		return
	}
	if d.Error == "" {
		rows, err := k.Persons.SearchPersons(r.Context(), d.Name, d.Township, pageSize+1, (d.Page-1)*pageSize)
		if err != nil {
			k.failErr(w, r, err)
			return
		}
		d.More = len(rows) > pageSize
		d.Persons = rows[:min(len(rows), pageSize)]
	}
	status := http.StatusOK
	if d.Error != "" {
		status = http.StatusBadRequest
	}
	k.render(w, r, status, "persons", "查找人员", d)
}

// findPerson finds a person by ID number or disability certificate
// number and goes to their page.
func (k *desk) findPerson(w http.ResponseWriter, r *http.Request) {
	number := strings.ToUpper(strings.TrimSpace(r.PostFormValue("number")))
	d := personsData{}
	var id domain.ResidentID
	var err error
	switch len(number) {
	case 0:
		d.Error = "请输入身份证号或残疾证号。"
	case 18:
		id, err = domain.ParseResidentID("number", number)
	default:
		var n domain.CertificateNumber
		if n, err = domain.ParseCertificateNumber("number", number); err == nil {
			id = n.ResidentID()
		}
	}
	if err != nil {
		d.Error = "号码格式不正确：身份证号为 18 位，残疾证号为 20 位（身份证号后加类别和等级）。"
	}
	if d.Error == "" {
		p, err := k.Persons.PersonByHash(r.Context(), k.LookupKey.Hash(id))
		switch {
		case errors.Is(err, domain.ErrNotFound):
			d.Error, d.Query = "没有登记这个号码的人员。", id.Masked()
		case err != nil:
			k.failErr(w, r, err)
			return
		default:
			http.Redirect(w, r, "/persons/"+string(p.PersonID), http.StatusSeeOther)
			return
		}
	}
	k.render(w, r, http.StatusBadRequest, "persons", "查找人员", d)
}

type personData struct {
	Person       projections.PersonRow
	Entitlements []projections.EntitlementRow
	Payments     []projections.PaymentRow
	Pending      []domain.Proposal // grants waiting for approval
	Programs     []domain.Program  // that a grant may be proposed for
	Owed         domain.Money      // overpayments still owed back, all programs
	Suspension   []codeName        // reasons a subsidy is suspended for
	Termination  []codeName        // reasons a subsidy is ended for
	Revocation   []codeName        // reasons a certificate is revoked for
	Categories   []codeName
	Classes      []codeName // household classes
	Today        domain.Date
	Err          string // why the last form was refused
}

func (k *desk) personPage(w http.ResponseWriter, r *http.Request) {
	pid, ok := k.personParam(w, r)
	if !ok {
		return
	}
	k.showPerson(w, r, pid, http.StatusOK, "")
}

// showPerson renders a person's page with status and, after a refused
// form, why.
func (k *desk) showPerson(w http.ResponseWriter, r *http.Request, pid domain.PersonID, status int, refused string) {
	p, err := k.Persons.PersonByID(r.Context(), pid)
	if err != nil {
		k.failErr(w, r, err)
		return
	}
	d := personData{Person: p, Today: domain.BusinessDate(k.Now()), Err: refused, Suspension: suspensionReasons, Termination: terminationReasons,
		Revocation: revocationReasons, Categories: categoryChoices, Classes: householdClasses}
	if d.Entitlements, err = k.Persons.EntitlementsWithPaid(r.Context(), pid); err != nil {
		k.failErr(w, r, err)
		return
	}
	for _, e := range d.Entitlements {
		d.Owed = d.Owed.Add(e.OverpaymentOwed)
	}
	role := sessionOf(r).Role
	if seesMoney(role) {
		if d.Payments, err = k.Persons.PaymentsByPerson(r.Context(), pid); err != nil {
			k.failErr(w, r, err)
			return
		}
	}
	if k.Commands != nil && (caseworker(role) || approver(role)) {
		st, err := k.Commands.State(r.Context(), pid)
		if err != nil {
			k.failErr(w, r, err)
			return
		}
		for _, pr := range st.Proposals {
			if pr.Status == domain.ProposalPending && pr.Change == nil {
				d.Pending = append(d.Pending, *pr)
			}
		}
		slices.SortFunc(d.Pending, func(a, b domain.Proposal) int { return a.Seq - b.Seq })
		for _, prog := range domain.Catalog() {
			if prog.Shape == domain.ShapeMonthly || prog.Shape == domain.ShapeAnnual {
				d.Programs = append(d.Programs, prog)
			}
		}
	}
	name := p.Name
	if !p.ErasedOn.IsZero() {
		name = domain.ErasedText
	}
	k.render(w, r, status, "person", name, d)
}
