package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/adapters/postgres/desk"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/adapters/vault"
	"github.com/lushan-dpf/ledger/adapters/web"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/reports"
)

var lookupKey = domain.LookupKey("web-desk-test-lookup-key-0123456789")

// deskFixture is a desk over a real ledger (PostgreSQL, the embedded
// event store) with one person registered, certified and granted the
// living subsidy, and users of each role with passwords.
type deskFixture struct {
	t      *testing.T
	srv    *httptest.Server
	id     domain.ResidentID
	pid    domain.PersonID
	logs   *syncBuffer
	clock  *clock
	users  postgres.Users
	server http.Handler
	store  domain.EventStore
	db     *pgtest.Schema
	// pause stops the read models following the log (once; cleanup
	// stops them too).
	pause func()
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

const password = "correct horse battery"

func newDesk(t *testing.T) *deskFixture {
	t.Helper()
	ctx := context.Background()
	db := pgtest.NewSchema(t)
	store := pgstore.New(db.Pool)
	t.Cleanup(store.Close)
	id, err := domain.NewResidentID("360429", domain.MustDate("1962-07-30"), 17)
	if err != nil {
		t.Fatal(err)
	}
	hash := lookupKey.Hash(id)
	pid := domain.PersonIDFromHash(hash)
	cert, _ := domain.NewCertificateNumber(id, domain.CategoryPhysical, 2)
	persons := app.NewPersons(store)
	v, err := vault.New("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := domain.ParseBankAccountNumber("account_number", "6228480012345678917")
	sealedAcct, _ := v.Seal(acct.Digits())
	now := time.Date(2025, 3, 3, 9, 0, 0, 0, domain.BusinessZone)
	approvedAt := time.Date(2025, 3, 5, 10, 0, 0, 0, domain.BusinessZone)
	for i, c := range []domain.Command{
		domain.RegisterPerson{IDNumber: id, IDHash: hash, Name: "钱芳", Township: "星子镇", Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2024-01-02")},
		domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
		domain.ProposeGrant{ProposalID: "p-1", Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-02-01"), ProposedBy: "clerk.zhou"},
		domain.ApproveGrant{ProposalID: "p-1", ApprovedBy: "approver.chen"},
		domain.RecordBankAccount{Account: domain.BankAccount{AccountName: "钱芳", Bank: "农业银行", AccountMasked: acct.Masked(), AccountSealed: sealedAcct}},
	} {
		at := now
		if i >= 3 { // approved two days later
			at = approvedAt
		}
		if _, err := persons.Execute(ctx, pid, domain.CommandMeta{CommandID: fmt.Sprint("c", i), Actor: "clerk.zhou", Role: "clerk", Now: at}, c); err != nil {
			t.Fatal(err)
		}
	}
	if err := (&projections.Runner{Pool: db.Pool, Store: store, Projections: projections.All(), Log: slog.New(slog.DiscardHandler)}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	users := postgres.Users{Pool: db.Pool}
	for _, u := range []struct{ name, role string }{{"clerk.zhou", "clerk"}, {"fin.wu", "finance"}, {"approver.chen", "approver"}, {"audit.sun", "auditor"}, {"fin.li", "finance"}} {
		if _, err := users.Add(ctx, u.name, u.role); err != nil {
			t.Fatal(err)
		}
		if err := users.SetPassword(ctx, u.name, password); err != nil {
			t.Fatal(err)
		}
	}
	// The read models follow the log, as under ledger serve.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&projections.Runner{Pool: db.Pool, Store: store, Projections: projections.All(), Log: slog.New(slog.DiscardHandler),
			MaxWait: 5 * time.Millisecond}).Run(runCtx)
	}()
	var once sync.Once
	pause := func() { once.Do(func() { stop(); <-done }) }
	t.Cleanup(pause)
	f := &deskFixture{t: t, id: id, pid: pid, logs: &syncBuffer{}, clock: &clock{now: time.Now()}, users: users, store: store, db: db, pause: pause}
	rm := projections.ReadModels{Q: db.Pool, Store: store}
	deskPersons := app.NewPersons(store)
	h, err := web.New(web.Deps{Accounts: desk.Accounts{Users: users}, Persons: rm, Commands: deskPersons, Loader: deskPersons, Fresh: rm,
		Payroll: app.NewPayroll(store, rm, v), Spending: rm, Verifications: postgres.VerifyRuns{Pool: db.Pool},
		Finance: rm, Notices: app.NewNotices(store), NoticeSource: reports.NoticeSource{Changelog: rm, Store: store},
		LookupKey: lookupKey, Log: slog.New(slog.NewTextHandler(f.logs, nil)), Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.server = h
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	return f
}

// browser is a client that keeps cookies and does not follow redirects.
type browser struct {
	f *deskFixture
	c *http.Client
}

func (f *deskFixture) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{f: f, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	header http.Header
	body   string
}

func (b *browser) get(path string) page {
	b.f.t.Helper()
	resp, err := b.c.Get(b.f.srv.URL + path)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return read(b.f.t, resp)
}

func (b *browser) post(path string, form url.Values) page {
	b.f.t.Helper()
	resp, err := b.c.PostForm(b.f.srv.URL+path, form)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return read(b.f.t, resp)
}

func read(t *testing.T, resp *http.Response) page {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, header: resp.Header, body: string(body)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no CSRF field on the page:\n%s", p.body)
	}
	return m[1]
}

// signIn signs in as user and returns the home page.
func (b *browser) signIn(user, pass string) page {
	b.f.t.Helper()
	login := b.get("/login")
	return b.post("/login", url.Values{"csrf": {csrfOf(b.f.t, login)}, "user": {user}, "password": {pass}, "next": {"/"}})
}

// Signing in, the session cookie, CSRF on every form, sign-out and the
// idle timeout.
func TestSignInAndSessions(t *testing.T) {
	f := newDesk(t)
	b := f.browser()
	if p := b.get("/"); p.status != http.StatusSeeOther || p.header.Get("Location") != "/login?next=/" {
		t.Fatalf("a page without a session: %d → %s", p.status, p.header.Get("Location"))
	}
	login := b.get("/login")
	csp := login.header.Get("Content-Security-Policy")
	if login.status != 200 || !strings.Contains(login.body, "用户名") || !strings.Contains(csp, "script-src 'self'") ||
		strings.Contains(csp, "unsafe-inline") || login.header.Get("X-Frame-Options") != "DENY" {
		t.Fatalf("sign-in page %d, CSP %q:\n%s", login.status, csp, login.body)
	}
	if strings.Contains(login.body, "<script>") || strings.Contains(login.body, " style=") {
		t.Error("the page has inline script or style")
	}
	// A sign-in without the form's token is refused.
	if p := b.post("/login", url.Values{"user": {"clerk.zhou"}, "password": {password}}); p.status != http.StatusForbidden {
		t.Errorf("sign-in without CSRF token: %d", p.status)
	}
	if p := b.signIn("clerk.zhou", "wrong password!"); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "用户名或密码不正确") {
		t.Errorf("wrong password: %d\n%s", p.status, p.body)
	}
	if p := b.signIn("nobody", password); p.status != http.StatusUnauthorized || !strings.Contains(p.body, "用户名或密码不正确") {
		t.Errorf("unknown user: %d", p.status)
	}
	p := b.signIn("clerk.zhou", password)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		t.Fatalf("sign-in: %d → %q\n%s", p.status, p.header.Get("Location"), p.body)
	}
	cookie := p.header.Get("Set-Cookie")
	for _, want := range []string{"ledger_session=s_", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(strings.Join(p.header.Values("Set-Cookie"), "\n"), want) {
			t.Errorf("session cookie lacks %q: %s", want, cookie)
		}
	}
	home := b.get("/")
	if home.status != 200 || !strings.Contains(home.body, "工作台") || !strings.Contains(home.body, "clerk.zhou（经办人员）") ||
		home.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("home: %d\n%s", home.status, home.body)
	}
	// Forms need the session's token; another site's form is refused.
	if p := b.post("/logout", url.Values{"csrf": {"forged"}}); p.status != http.StatusForbidden {
		t.Errorf("sign-out with a forged token: %d", p.status)
	}
	token := csrfOf(t, home)
	req, _ := http.NewRequest("POST", f.srv.URL+"/persons/find", strings.NewReader(url.Values{"csrf": {token}, "number": {f.id.Number()}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	if resp, err := b.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("a cross-site form: %v %v", resp.StatusCode, err)
	}
	// Idle for longer than the timeout: signed out.
	f.clock.add(web.DefaultIdleTimeout + time.Minute)
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Errorf("after the idle timeout: %d", p.status)
	}
	f.clock.set(time.Now())
	b.signIn("clerk.zhou", password)
	home = b.get("/")
	if p := b.post("/logout", url.Values{"csrf": {csrfOf(t, home)}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", p.status)
	}
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Errorf("after sign-out: %d", p.status)
	}
}

// After MaxFailedSignIns wrong passwords the user is locked out, even
// with the right one, until the lock-out has passed.
func TestSignInLockOut(t *testing.T) {
	f := newDesk(t)
	b := f.browser()
	for range postgres.MaxFailedSignIns {
		b.signIn("fin.wu", "not the password")
	}
	p := b.signIn("fin.wu", password)
	if p.status != http.StatusTooManyRequests || !strings.Contains(p.body, "登录失败次数过多") {
		t.Fatalf("right password while locked out: %d\n%s", p.status, p.body)
	}
	f.clock.add(postgres.LockOut + time.Minute)
	if p := b.signIn("fin.wu", password); p.status != http.StatusSeeOther {
		t.Fatalf("after the lock-out: %d\n%s", p.status, p.body)
	}
}

// A caseworker finds a person by ID number (posted, never in a URL) and by
// name; the person's page shows the masked ID number only, the
// certificate, the household and the subsidy in Chinese; payments are for
// finance and auditors.
func TestFindPersonAndPersonPage(t *testing.T) {
	f := newDesk(t)
	b := f.browser()
	b.signIn("clerk.zhou", password)
	search := b.get("/persons")
	token := csrfOf(t, search)
	p := b.post("/persons/find", url.Values{"csrf": {token}, "number": {f.id.Number()}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/persons/"+string(f.pid) {
		t.Fatalf("find by ID number: %d → %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	cert, _ := domain.NewCertificateNumber(f.id, domain.CategoryPhysical, 2)
	if p := b.post("/persons/find", url.Values{"csrf": {token}, "number": {cert.Number()}}); p.header.Get("Location") != "/persons/"+string(f.pid) {
		t.Errorf("find by certificate number: %d → %s", p.status, p.header.Get("Location"))
	}
	if p := b.post("/persons/find", url.Values{"csrf": {token}, "number": {"12345"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "号码格式不正确") {
		t.Errorf("a malformed number: %d", p.status)
	}
	list := b.get("/persons?name=" + url.QueryEscape("钱") + "&township=" + url.QueryEscape("星子镇"))
	if list.status != 200 || !strings.Contains(list.body, "钱芳") || !strings.Contains(list.body, f.id.Masked()) {
		t.Fatalf("search by name:\n%s", list.body)
	}
	person := b.get("/persons/" + string(f.pid))
	for _, want := range []string{"钱芳", f.id.Masked(), "星子镇", "低保", "肢体二级", "2030年1月1日", "困难残疾人生活补贴", "享受中", "2024年2月1日"} {
		if !strings.Contains(person.body, want) {
			t.Errorf("the person's page lacks %q", want)
		}
	}
	if strings.Contains(person.body, "发放记录") {
		t.Error("a clerk sees the payments")
	}
	fin := f.browser()
	fin.signIn("fin.wu", password)
	if p := fin.get("/persons/" + string(f.pid)); !strings.Contains(p.body, "发放记录") {
		t.Error("finance does not see the payments")
	}
	// Nowhere a full ID number: not on the pages, not in the logs.
	for _, p := range []page{search, list, person} {
		if strings.Contains(p.body, f.id.Number()) {
			t.Errorf("a page shows the full ID number")
		}
	}
	if strings.Contains(f.logs.String(), f.id.Number()) || !strings.Contains(f.logs.String(), "route=/persons/{id}") {
		t.Errorf("the log holds the ID number, or not the route pattern:\n%s", f.logs.String())
	}
	if p := b.get("/persons/ffffffffffffffffffff"); p.status != http.StatusNotFound || !strings.Contains(p.body, "没有找到") {
		t.Errorf("an unknown person: %d", p.status)
	}
}

// A user changes their own password: the current one is checked, the new
// one must be long enough, and every session ends.
func TestChangePassword(t *testing.T) {
	f := newDesk(t)
	b := f.browser()
	b.signIn("clerk.zhou", password)
	form := b.get("/password")
	token := csrfOf(t, form)
	if p := b.post("/password", url.Values{"csrf": {token}, "current": {"wrong password!"}, "new": {"a new long password"}, "again": {"a new long password"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "当前密码不正确") {
		t.Errorf("wrong current password: %d", p.status)
	}
	if p := b.post("/password", url.Values{"csrf": {token}, "current": {password}, "new": {"short"}, "again": {"short"}}); p.status != http.StatusBadRequest || !strings.Contains(p.body, "至少需要 12 个字符") {
		t.Errorf("a short new password: %d\n%s", p.status, p.body)
	}
	if p := b.post("/password", url.Values{"csrf": {token}, "current": {password}, "new": {"a new long password"}, "again": {"a new long password"}}); p.status != 200 || !strings.Contains(p.body, "密码已修改") {
		t.Fatalf("change: %d\n%s", p.status, p.body)
	}
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Errorf("the session outlived the password change: %d", p.status)
	}
	if p := f.browser().signIn("clerk.zhou", password); p.status != http.StatusUnauthorized {
		t.Errorf("the old password still works: %d", p.status)
	}
	if p := f.browser().signIn("clerk.zhou", "a new long password"); p.status != http.StatusSeeOther {
		t.Errorf("the new password does not work: %d", p.status)
	}
}

var formField = regexp.MustCompile(`name="form" value="([^"]+)"`)

// A caseworker registers a person and proposes a grant; the form sent
// twice registers once; a clerk cannot reach the approver's action; an
// approver approves and the page shows the new state at once.
func TestRegisterProposeApprove(t *testing.T) {
	f := newDesk(t)
	ctx := context.Background()
	clerk := f.browser()
	clerk.signIn("clerk.zhou", password)
	form := clerk.get("/persons/new")
	if form.status != 200 || !strings.Contains(form.body, "身份证号") {
		t.Fatalf("register form: %d", form.status)
	}
	id, _ := domain.NewResidentID("360429", domain.MustDate("1975-05-05"), 33)
	pid := domain.PersonIDFromHash(lookupKey.Hash(id))
	values := url.Values{"csrf": {csrfOf(t, form)}, "form": {formField.FindStringSubmatch(form.body)[1]}, "id_number": {id.Number()},
		"name": {"孙丽"}, "township": {"白鹿镇"}, "registered_on": {"2025-03-01"}, "dibao": {"1"}}
	for range 2 { // a double click
		if p := clerk.post("/persons", values); p.status != http.StatusSeeOther || p.header.Get("Location") != "/persons/"+string(pid) {
			t.Fatalf("register: %d → %s\n%s", p.status, p.header.Get("Location"), p.body)
		}
	}
	if evs, err := f.store.ReadStream(ctx, pid.Stream(), domain.Forwards, 0, 10); err != nil || len(evs) != 1 {
		t.Fatalf("the form sent twice appended %d events (%v)", len(evs), err)
	}
	if p := clerk.get("/persons/" + string(pid)); !strings.Contains(p.body, "孙丽") || !strings.Contains(p.body, "白鹿镇") {
		t.Errorf("the new person's page right after registering:\n%s", p.body)
	}
	bad := url.Values{"csrf": {csrfOf(t, form)}, "form": {formKeyFrom(t, clerk.get("/persons/new"))}, "id_number": {"360429197505053399"},
		"name": {"x"}, "township": {"白鹿镇"}, "registered_on": {"2025-03-01"}}
	if p := clerk.post("/persons", bad); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "身份证号有误") {
		t.Errorf("a bad ID number: %d\n%s", p.status, p.body)
	}
	// A grant the rules forbid is refused in words: the new person has no
	// disability certificate.
	own := clerk.get("/persons/" + string(pid))
	refused := url.Values{"csrf": {csrfOf(t, own)}, "form": {formKeyFrom(t, own)}, "program": {"care_subsidy"}, "effective_from": {"2025-03-01"}}
	if p := clerk.post("/persons/"+string(pid)+"/grants", refused); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "不符合规定：重度残疾人护理补贴要求在 2025-03-01 持有有效的残疾人证（此人没有残疾人证记录）") {
		t.Errorf("a grant without a certificate: %d\n%s", p.status, p.body)
	}

	page := clerk.get("/persons/" + string(f.pid))
	grant := url.Values{"csrf": {csrfOf(t, page)}, "form": {formKeyFrom(t, page)}, "program": {"care_subsidy"}, "effective_from": {"2025-03-01"}}
	if p := clerk.post("/persons/"+string(f.pid)+"/grants", grant); p.status != http.StatusSeeOther {
		t.Fatalf("propose: %d\n%s", p.status, p.body)
	}
	proposal := pendingProposal(t, f, domain.ProgramCareSubsidy)
	if proposal == "" {
		t.Fatal("no pending proposal of the care subsidy")
	}
	approve := "/persons/" + string(f.pid) + "/grants/" + proposal + "/approve"
	page = clerk.get("/persons/" + string(f.pid))
	if !strings.Contains(page.body, "待审批的补贴申请") || strings.Contains(page.body, "/approve") {
		t.Errorf("the clerk's view of the proposal offers the approver's action, or shows no proposal:\n%s", page.body)
	}
	if p := clerk.post(approve, url.Values{"csrf": {csrfOf(t, page)}, "form": {formKeyFrom(t, page)}}); p.status != http.StatusForbidden {
		t.Errorf("a clerk approving: %d", p.status)
	}
	approver := f.browser()
	approver.signIn("approver.chen", password)
	page = approver.get("/persons/" + string(f.pid))
	if !strings.Contains(page.body, "待审批的补贴申请") || !strings.Contains(page.body, "重度残疾人护理补贴") || !strings.Contains(page.body, "clerk.zhou") {
		t.Fatalf("the approver's view of the proposal:\n%s", page.body)
	}
	if p := approver.post(approve, url.Values{"csrf": {csrfOf(t, page)}, "form": {formKeyFrom(t, page)}}); p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", p.status, p.body)
	}
	page = approver.get("/persons/" + string(f.pid))
	if strings.Contains(page.body, "待审批的补贴申请") || strings.Count(page.body, "享受中") != 2 {
		t.Errorf("after the approval the page does not show the care subsidy granted:\n%s", page.body)
	}
}

func formKeyFrom(t *testing.T, p page) string {
	t.Helper()
	m := formField.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form token on the page:\n%s", p.body)
	}
	return m[1]
}

// An auditor replays a person as the ledger knew them: before the grant
// was approved there was no subsidy, after it the living subsidy; a clerk
// may not read histories.
func TestAuditorHistory(t *testing.T) {
	f := newDesk(t)
	clerk := f.browser()
	clerk.signIn("clerk.zhou", password)
	if p := clerk.get("/persons/" + string(f.pid) + "/history"); p.status != http.StatusForbidden {
		t.Errorf("a clerk reading the history: %d", p.status)
	}
	a := f.browser()
	a.signIn("audit.sun", password)
	if p := a.get("/persons/" + string(f.pid)); !strings.Contains(p.body, "/history") {
		t.Error("the auditor is not offered the history")
	}
	all := a.get("/persons/" + string(f.pid) + "/history")
	if all.status != 200 || !strings.Contains(all.body, "全部记录") || strings.Count(all.body, "<tr>") < 5 || strings.Contains(all.body, f.id.Number()) {
		t.Fatalf("the history: %d\n%s", all.status, all.body)
	}
	before := a.get("/persons/" + string(f.pid) + "/history?known_at=2025-03-04T12:00&as_of=2025-03-04")
	if !strings.Contains(before.body, "当日没有补贴") || !strings.Contains(before.body, "之后又记录了 3 条") || !strings.Contains(before.body, "（之后记录）") {
		t.Errorf("known at 2025-03-04: %d\n%s", before.status, before.body)
	}
	after := a.get("/persons/" + string(f.pid) + "/history?known_at=2025-03-06T12:00&as_of=2025-03-06")
	if !strings.Contains(after.body, "困难残疾人生活补贴") || !strings.Contains(after.body, "之后又记录了 0 条") {
		t.Errorf("known at 2025-03-06:\n%s", after.body)
	}
	if p := a.get("/persons/" + string(f.pid) + "/history?known_at=yesterday"); p.status != http.StatusBadRequest || !strings.Contains(p.body, "格式不正确") {
		t.Errorf("a bad known-at: %d", p.status)
	}
}

// A finance officer drafts the month, another approves it, the bank file
// is downloaded, and the bank's return file uploaded is classified line by
// line; a clerk may not open the payroll.
func TestFinanceMonth(t *testing.T) {
	f := newDesk(t)
	clerk := f.browser()
	clerk.signIn("clerk.zhou", password)
	if p := clerk.get("/payroll"); p.status != http.StatusForbidden {
		t.Errorf("a clerk opening the payroll: %d", p.status)
	}
	wu := f.browser()
	wu.signIn("fin.wu", password)
	pay := wu.get("/payroll")
	if pay.status != 200 || !strings.Contains(pay.body, "生成发放批次") {
		t.Fatalf("the payroll page: %d\n%s", pay.status, pay.body)
	}
	p := wu.post("/payroll/batches", url.Values{"csrf": {csrfOf(t, pay)}, "form": {formKeyFrom(t, pay)}, "program": {"living_subsidy"}, "period": {"2025-03"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.header.Get("Location"), "/payroll/batches/living_subsidy.2025-03.") {
		t.Fatalf("draft: %d → %s\n%s", p.status, p.header.Get("Location"), p.body)
	}
	batchURL := p.header.Get("Location")
	batch := wu.get(batchURL)
	if !strings.Contains(batch.body, "待审批") || !strings.Contains(batch.body, "14 笔") {
		t.Fatalf("the drafted batch:\n%s", batch.body)
	}
	if l := wu.get(batchURL + "/lines?show=all"); l.status != 200 || !strings.Contains(l.body, "共 14 笔") || strings.Count(l.body, "<td>待批准</td>") != 14 ||
		strings.Contains(l.body, behindNotice) {
		t.Errorf("the drafted batch's lines, right after the draft:\n%s", l.body)
	}
	if p := wu.post(batchURL+"/approve", url.Values{"csrf": {csrfOf(t, batch)}, "form": {formKeyFrom(t, batch)}}); p.status != http.StatusUnprocessableEntity ||
		!strings.Contains(p.body, "不符合规定：fin.wu 生成了批次 "+strings.TrimPrefix(batchURL, "/payroll/batches/")+"，不能自己批准：须由另一位财务人员批准") {
		t.Errorf("the drafter approving: %d\n%s", p.status, p.body)
	}
	li := f.browser()
	li.signIn("fin.li", password)
	batch = li.get(batchURL)
	if p := li.post(batchURL+"/approve", url.Values{"csrf": {csrfOf(t, batch)}, "form": {formKeyFrom(t, batch)}}); p.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", p.status, p.body)
	}
	batch = wu.get(batchURL)
	if !strings.Contains(batch.body, "已批准发放") || !strings.Contains(batch.body, "下载银行代发文件") {
		t.Fatalf("the approved batch:\n%s", batch.body)
	}
	file := wu.post(batchURL+"/export", url.Values{"csrf": {csrfOf(t, batch)}, "form": {formKeyFrom(t, batch)}, "format": {"csv"}, "encoding": {"utf-8"}})
	if file.status != 200 || !strings.Contains(file.header.Get("Content-Disposition"), "attachment") || !strings.Contains(file.body, "6228480012345678917") {
		t.Fatalf("the bank file: %d %v\n%s", file.status, file.header, file.body)
	}
	var refs, amounts []string // reference, name, account, amount, memo
	for _, line := range strings.Split(file.body, "\n") {
		if fields := strings.Split(line, ","); len(fields) >= 4 && len(fields[0]) == domain.ReferenceLen {
			refs, amounts = append(refs, fields[0]), append(amounts, fields[3])
		}
	}
	if len(refs) != 14 {
		t.Fatalf("%d references in the bank file:\n%s", len(refs), file.body)
	}
	var ret strings.Builder
	ret.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
	for i, ref := range refs {
		if i == 0 {
			fmt.Fprintf(&ret, "%s,%s,失败,账户已冻结,\r\n", ref, amounts[i])
		} else {
			fmt.Fprintf(&ret, "%s,%s,成功,,B%d\r\n", ref, amounts[i], i)
		}
	}
	classified := wu.upload(batchURL+"/returns", url.Values{"csrf": {csrfOf(t, batch)}, "form": {formKeyFrom(t, batch)}}, "return.csv", ret.String())
	if classified.status != 200 || !strings.Contains(classified.body, "回盘核对结果") || !strings.Contains(classified.body, "账户已冻结") {
		t.Fatalf("the return file: %d\n%s", classified.status, classified.body)
	}
	failed, total := domain.MustMoney(amounts[0]), domain.Money{}
	for _, a := range amounts {
		total = total.Add(domain.MustMoney(a))
	}
	for _, want := range []string{"<td>成功</td><td class=\"num\">13</td><td class=\"num\">" + yuanText(total.Less(failed)) + "</td>",
		"<td>失败</td><td class=\"num\">1</td><td class=\"num\">" + yuanText(failed) + "</td>"} {
		if !strings.Contains(classified.body, want) {
			t.Errorf("the classification lacks %s:\n%s", want, classified.body)
		}
	}

	// The batch's lines: all 14, the failed one marked for reissue; the
	// exceptions leave out regular lines that were paid.
	all := eventually(t, func() page { return wu.get(batchURL + "/lines?show=all") }, "发放失败（下一批次重发）") // the read model follows the log
	failedRow := regexp.MustCompile(`<code>` + refs[0] + `</code>.*?</tr>`).FindString(strings.ReplaceAll(all.body, "\n", " "))
	if all.status != 200 || !strings.Contains(all.body, "共 14 笔") || !strings.Contains(failedRow, "发放失败（下一批次重发）") {
		t.Errorf("all the batch's lines: %d (failed row %q)\n%s", all.status, failedRow, all.body)
	}
	exc := wu.get(batchURL + "/lines")
	if n := strings.Count(exc.body, "<tr><td><code>"); exc.status != 200 || !strings.Contains(exc.body, refs[0]) || n < 13 || n > 14 ||
		!strings.Contains(exc.body, fmt.Sprintf("共 %d 笔", n)) || // the count, from the totals, is the lines listed
		strings.Count(exc.body, "<td>当月</td>") > 1 || !strings.Contains(exc.body, "<td>补发</td>") {
		t.Errorf("the batch's exceptions (%d rows):\n%s", n, exc.body)
	}

	// The spending page counts March's payments, paid on the 20th, net of
	// the failed one, for the one person paid; the CSV says the same.
	paid := total.Less(failed)
	want := "<td>2025年3月</td><td class=\"num\">" + yuanText(paid) + "</td><td class=\"num\">13</td><td class=\"num\">1</td>"
	spend := eventually(t, func() page { return wu.get("/spending?year=2025&group=month") }, want)
	if !strings.Contains(spend.body, "<svg") || !strings.Contains(spend.body, "2025年支出（按月份）") {
		t.Errorf("the spending page has no chart:\n%s", spend.body)
	}
	csv := wu.get("/spending/export?year=2025&group=month&format=csv")
	if csv.status != 200 || !strings.Contains(csv.header.Get("Content-Disposition"), `filename="spending-2025-month.csv"`) ||
		!strings.Contains(csv.body, "2025,spending,living_subsidy,困难残疾人生活补贴,2025-03,,"+paid.String()+",13,1,,,\r\n") {
		t.Errorf("the spending CSV: %d %v\n%s", csv.status, csv.header, csv.body)
	}
	xlsx := wu.get("/spending/export?year=2025&group=township&format=xlsx")
	if xlsx.status != 200 || !strings.HasPrefix(xlsx.body, "PK") || !strings.Contains(xlsx.header.Get("Content-Disposition"), "spending-2025-township.xlsx") {
		t.Errorf("the spending XLSX: %d %v", xlsx.status, xlsx.header)
	}
	for path, want := range map[string]string{
		"/spending?year=20x5":                   "年度有误：&#34;20x5&#34; 不是 2000 到 2100 之间的年份",
		"/spending?group=week":                  "分组有误：&#34;week&#34; 不是可选的分组",
		"/spending/export?year=2025&format=pdf": "文件格式有误：&#34;pdf&#34; 不在可选范围内（csv, xlsx）",
	} {
		if p := wu.get(path); p.status != http.StatusBadRequest || !strings.Contains(p.body, want) {
			t.Errorf("%s: %d, want 400 naming %s\n%s", path, p.status, want, p.body)
		}
	}
	if p := clerk.get("/spending"); p.status != http.StatusForbidden {
		t.Errorf("a clerk opening the spending page: %d", p.status)
	}

	// A death recorded late: the months paid after it are claimed back.
	// Finance recovers part of a claim and writes the rest off, with a
	// reason (refused without one, and beyond what the claim asks).
	if _, err := app.NewPersons(f.store).Execute(context.Background(), f.pid, domain.CommandMeta{CommandID: "death", Actor: "clerk.zhou", Role: "clerk",
		Now: time.Date(2025, 4, 2, 9, 0, 0, 0, domain.BusinessZone)}, domain.RecordDeath{DateOfDeath: domain.MustDate("2025-01-10")}); err != nil {
		t.Fatal(err)
	}
	// The next month's draft records the claims first (as ledger payroll run does).
	pay = wu.get("/payroll")
	wu.post("/payroll/batches", url.Values{"csrf": {csrfOf(t, pay)}, "form": {formKeyFrom(t, pay)}, "program": {"living_subsidy"}, "period": {"2025-04"}})
	claims := eventually(t, func() page { return wu.get("/payroll/claims") }, "2025年3月")
	claimID := regexp.MustCompile(`action="/payroll/claims/([^/"]+)/recover"`).FindStringSubmatch(claims.body)
	if claimID == nil || !strings.Contains(claims.body, "钱芳") {
		t.Fatalf("the claims page after a late death:\n%s", claims.body)
	}
	base := "/payroll/claims/" + claimID[1]
	form := func(p page, v url.Values) url.Values {
		v.Set("csrf", csrfOf(t, p))
		v.Set("form", formKeyFrom(t, p))
		return v
	}
	if p := wu.post(base+"/recover", form(claims, url.Values{"amount": {"99999.00"}})); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "金额有误") {
		t.Errorf("recovering more than the claim asks: %d\n%s", p.status, p.body)
	}
	if p := wu.post(base+"/write-off", form(claims, url.Values{"amount": {"10.00"}})); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "理由有误") {
		t.Errorf("a write-off without a reason: %d\n%s", p.status, p.body)
	}
	recover := form(claims, url.Values{"amount": {"10.00"}})
	for range 2 { // sent twice: recorded once
		if p := wu.post(base+"/recover", recover); p.status != http.StatusSeeOther {
			t.Fatalf("recover: %d\n%s", p.status, p.body)
		}
	}
	claims = wu.get("/payroll/claims?done=recover")
	if !strings.Contains(claims.body, "已登记追回") || !strings.Contains(claims.body, "<td class=\"num\">¥10.00</td>") {
		t.Errorf("the claims page after recovering ¥10.00 (twice sent):\n%s", claims.body)
	}
	rest := regexp.MustCompile(`id="writeoff-` + regexp.QuoteMeta(claimID[1]) + `" name="amount"[^>]*value="([0-9.]+)"`).FindStringSubmatch(claims.body)
	if rest == nil {
		t.Fatalf("no write-off form for %s:\n%s", claimID[1], claims.body)
	}
	if p := wu.post(base+"/write-off", form(claims, url.Values{"amount": {rest[1]}, "reason": {"家属无力偿还"}})); p.status != http.StatusSeeOther {
		t.Fatalf("write-off: %d\n%s", p.status, p.body)
	}
	if all := wu.get("/payroll/claims?all=1"); !strings.Contains(all.body, "已结清") {
		t.Errorf("the settled claim among all claims:\n%s", all.body)
	}
	if p := clerk.get("/payroll/claims"); p.status != http.StatusForbidden {
		t.Errorf("a clerk opening the claims: %d", p.status)
	}
}

// eventually gets a page until it contains want (the read models follow
// the log a moment later), for up to 20 seconds.
func eventually(t *testing.T, get func() page, want string) page {
	t.Helper()
	var p page
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if p = get(); p.status == 200 && strings.Contains(p.body, want) {
			return p
		}
	}
	t.Fatalf("the page never showed %s: %d\n%s", want, p.status, p.body)
	return p
}

// upload posts a multipart form with a file.
func (b *browser) upload(path string, form url.Values, name, content string) page {
	b.f.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range form {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = io.WriteString(fw, content)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", b.f.srv.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.f.t.Fatal(err)
	}
	return read(b.f.t, resp)
}

// yuanText is ¥ and the amount with thousands separators, as the desk
// writes money.
func yuanText(m domain.Money) string {
	s := m.String()
	whole, frac, _ := strings.Cut(s, ".")
	if len(whole) > 3 {
		whole = whole[:len(whole)-3] + "," + whole[len(whole)-3:]
	}
	return "¥" + whole + "." + frac
}

// A caseworker suspends the subsidy, resumes it, moves the person and
// records the death, from the person's page; each shows at once.
func TestCaseworkerActions(t *testing.T) {
	f := newDesk(t)
	clerk := f.browser()
	clerk.signIn("clerk.zhou", password)
	path := "/persons/" + string(f.pid)
	act := func(action string, fields url.Values) page {
		t.Helper()
		p := clerk.get(path)
		fields.Set("csrf", csrfOf(t, p))
		fields.Set("form", formKeyFrom(t, p))
		return clerk.post(path+"/actions/"+action, fields)
	}
	if p := act("suspend", url.Values{"program": {"living_subsidy"}, "effective_on": {"2025-04-01"}, "reason_code": {"under_review"}}); p.status != http.StatusSeeOther {
		t.Fatalf("suspend: %d\n%s", p.status, p.body)
	}
	if p := clerk.get(path); !strings.Contains(p.body, "暂停（正在审核）") {
		t.Errorf("after the suspension:\n%s", p.body)
	}
	if p := act("resume", url.Values{"program": {"living_subsidy"}, "effective_on": {"2025-05-01"}}); p.status != http.StatusSeeOther {
		t.Fatalf("resume: %d\n%s", p.status, p.body)
	}
	if p := act("regrade", url.Values{"category": {"physical"}, "grade": {"1"}, "effective_on": {"2025-05-01"}, "valid_until": {"2031-05-01"}}); p.status != http.StatusSeeOther {
		t.Fatalf("regrade: %d\n%s", p.status, p.body)
	}
	if p := clerk.get(path); !strings.Contains(p.body, "肢体一级") || !strings.Contains(p.body, "2031年5月1日") {
		t.Errorf("after the regrade:\n%s", p.body)
	}
	if p := act("certificate", url.Values{"number": {"123"}, "issued_on": {"2025-05-01"}, "valid_until": {"2031-05-01"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "残疾证号有误") {
		t.Errorf("a bad certificate number: %d", p.status)
	}
	if p := act("move", url.Values{"to_township": {"温泉镇"}, "effective_on": {"2025-05-02"}}); p.status != http.StatusSeeOther {
		t.Fatalf("move: %d\n%s", p.status, p.body)
	}
	if p := act("death", url.Values{"date_of_death": {"2025-06-10"}}); p.status != http.StatusSeeOther {
		t.Fatalf("death: %d\n%s", p.status, p.body)
	}
	p := clerk.get(path)
	for _, want := range []string{"温泉镇", "2025年6月10日", "已停止（死亡）"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("after the move and the death the page lacks %q", want)
		}
	}
	if p := act("death", url.Values{"date_of_death": {"2025-13-40"}}); p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "死亡日期有误") {
		t.Errorf("a bad date: %d", p.status)
	}
	// An approver takes the death back, as recorded in error; a clerk may not.
	if p := act("retract-death", url.Values{"reason": {"recorded in error"}}); p.status != http.StatusForbidden {
		t.Errorf("a clerk retracting a death: %d", p.status)
	}
	approver := f.browser()
	approver.signIn("approver.chen", password)
	ap := approver.get(path)
	if p := approver.post(path+"/actions/retract-death", url.Values{"csrf": {csrfOf(t, ap)}, "form": {formKeyFrom(t, ap)}, "reason": {"recorded in error"}}); p.status != http.StatusSeeOther {
		t.Fatalf("retract the death: %d\n%s", p.status, p.body)
	}
	if p := approver.get(path); strings.Contains(p.body, "死亡日期") || !strings.Contains(p.body, "享受中") {
		t.Errorf("after the retraction:\n%s", p.body)
	}
	if p := act("household", url.Values{"household_class": {"lifted_from_poverty"}, "dibao": {"1"}, "effective_on": {"2025-07-01"}}); p.status != http.StatusSeeOther {
		t.Fatalf("household: %d\n%s", p.status, p.body)
	}
	if p := clerk.get(path); !strings.Contains(p.body, "脱贫户、低保") {
		t.Errorf("after the household change:\n%s", p.body)
	}
	auditor := f.browser()
	auditor.signIn("audit.sun", password)
	if p := auditor.post(path+"/actions/death", url.Values{"csrf": {csrfOf(t, auditor.get(path))}, "form": {"0123456789abcdef0123"}, "date_of_death": {"2025-06-10"}}); p.status != http.StatusForbidden {
		t.Errorf("an auditor recording a death: %d", p.status)
	}
}

// The auditor's page shows the latest run of ledger verify as recorded:
// none yet, then a clean run with its digest, then one with problems. A
// clerk may not open it.
func TestAuditPage(t *testing.T) {
	f := newDesk(t)
	ctx := context.Background()
	auditor := f.browser()
	auditor.signIn("audit.sun", password)
	if p := auditor.get("/audit"); p.status != 200 || !strings.Contains(p.body, "还没有核验记录") {
		t.Fatalf("the audit page before any run: %d\n%s", p.status, p.body)
	}
	runs := postgres.VerifyRuns{Pool: f.users.Pool}
	hex := strings.Repeat("ab", 32)
	none := 0
	clean := app.VerifyRun{FinishedAt: time.Date(2025, 3, 6, 1, 30, 0, 0, time.UTC), RanBy: "ops.he",
		Chains:     &app.VerifiedChains{Events: 1234, Streams: 56, Digest: domain.Digest{Position: domain.Position{Commit: 9, Prepare: 3}, Events: 1234, Hex: hex}},
		ReadModels: []app.VerifiedReadModel{{Name: "entitlements", Status: "running", Events: 1234}}, OverpaidMonths: &none, Report: []byte(`{"problems":0}`)}
	if err := runs.Record(ctx, clean); err != nil {
		t.Fatal(err)
	}
	p := auditor.get("/audit")
	for _, want := range []string{"未发现问题", "2025年3月6日 09:30:00", "ops.he", hex, "1234 条，56 个事件流", "全部完好",
		"<code>entitlements</code>", "与重建结果一致", "没有任何月份发放超过应发金额"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the audit page after a clean run lacks %q:\n%s", want, p.body)
		}
	}
	overpaid := 2
	bad := clean
	bad.Problems, bad.OverpaidMonths = 5, &overpaid
	bad.Chains = &app.VerifiedChains{Events: 1240, Streams: 56, Broken: 1, Digest: clean.Chains.Digest}
	bad.ReadModels = []app.VerifiedReadModel{{Name: "entitlements", Status: "running", Events: 1240, Problems: 2}}
	if err := runs.Record(ctx, bad); err != nil {
		t.Fatal(err)
	}
	p = auditor.get("/audit")
	for _, want := range []string{"发现 5 个问题", "1 个事件流的哈希链断裂", "2 处不一致", "2 个月份发放超过应发金额"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the audit page after a run with problems lacks %q:\n%s", want, p.body)
		}
	}
	clerk := f.browser()
	clerk.signIn("clerk.zhou", password)
	if p := clerk.get("/audit"); p.status != http.StatusForbidden {
		t.Errorf("a clerk opening the audit page: %d", p.status)
	}
}

// The change-notice archive lists the notices issued and gives each file
// again, the same bytes as recorded; finance may not open it.
func TestNoticeArchive(t *testing.T) {
	f := newDesk(t)
	clerk := f.browser()
	clerk.signIn("clerk.zhou", password)
	if p := clerk.get("/notices"); p.status != 200 || !strings.Contains(p.body, "还没有发出过变更通知") {
		t.Fatalf("the archive before any notice: %d\n%s", p.status, p.body)
	}
	issued := issueNotice(t, f)
	if issued.Notice.Rows == 0 {
		t.Fatalf("the notice has no rows: %+v", issued.Notice)
	}
	p := clerk.get("/notices")
	for _, want := range []string{issued.Notice.NoticeID, "民政局", "2025年3月1日至2025年3月9日", issued.Notice.FileSHA256[:12]} {
		if !strings.Contains(p.body, want) {
			t.Errorf("the archive lacks %q:\n%s", want, p.body)
		}
	}
	file := clerk.get("/notices/civil_affairs/" + issued.Notice.NoticeID + "/file")
	if file.status != 200 || file.body != string(issued.File) || file.header.Get("X-Ledger-File-SHA256") != issued.Notice.FileSHA256 ||
		!strings.Contains(file.header.Get("Content-Disposition"), "attachment") {
		t.Errorf("the notice's file: %d %v\n%s", file.status, file.header, file.body)
	}
	if p := clerk.get("/notices/civil_affairs/no-such-notice/file"); p.status != http.StatusNotFound {
		t.Errorf("an unknown notice: %d", p.status)
	}
	fin := f.browser()
	fin.signIn("fin.wu", password)
	if p := fin.get("/notices"); p.status != http.StatusForbidden {
		t.Errorf("finance opening the archive: %d", p.status)
	}
}

// issueNotice issues the civil affairs' change notice of 1 to 9 March 2025
// on the 10th, once the changelog has caught up with the fixture.
func issueNotice(t *testing.T, f *deskFixture) app.ChangesIssued {
	t.Helper()
	src := reports.NoticeSource{Changelog: projections.ReadModels{Q: f.users.Pool, Store: f.store}, Store: f.store}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		issued, err := app.NewNotices(f.store).IssueChanges(context.Background(), src, domain.CommandMeta{CommandID: "n-1", Actor: "clerk.zhou", Role: "clerk",
			Now: time.Date(2025, 3, 10, 9, 0, 0, 0, domain.BusinessZone)},
			app.ChangesRequest{Department: domain.DepartmentCivilAffairs, From: domain.MustDate("2025-03-01"), To: domain.MustDate("2025-03-09"), Format: "csv"})
		if err == nil {
			return issued
		}
		if !errors.Is(err, domain.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
}

var (
	tag         = regexp.MustCompile(`<[^>]*>`)
	englishWord = regexp.MustCompile(`[A-Za-z]{3,}`)
)

// The fields' checks as one types: an error in plain words, nothing when
// the value is fine or empty; only with the session's CSRF token.
func TestValidateField(t *testing.T) {
	f := newDesk(t)
	clerk := f.browser()
	clerk.signIn("clerk.zhou", password)
	form := clerk.get("/persons/new")
	if !strings.Contains(form.body, `hx-post="/validate/id_number"`) || !strings.Contains(form.body, `<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>`) {
		t.Fatalf("the register form is not checked as one types:\n%s", form.body)
	}
	csrf := csrfOf(t, form)
	swapped := f.id.Number()[:15] + f.id.Number()[16:17] + f.id.Number()[15:16] + f.id.Number()[17:] // two digits swapped
	for _, c := range []struct{ field, value, want string }{
		{"id_number", "3604291975", "身份证号有误：有 10 位（不计空格）；身份证号为 18 位"},
		{"id_number", swapped, "身份证号有误：校验码是"},
		{"id_number", f.id.Number(), ""},
		{"id_number", "", ""},
		{"name", strings.Repeat("名", 51), "姓名有误：超过 50 个字"},
		{"registered_on", "2025-02-30", "登记日期有误：&#34;2025-02-30&#34; 不是日期：请按 2025-03-01 的格式填写"},
		{"amount", "12.345", "金额有误：&#34;12.345&#34; 有 3 位小数；最多两位（到分）"},
		{"amount", "12.34", ""},
		{"period", "2025-13", "发放月份有误：&#34;2025-13&#34; 不是月份：请按 2025-03 的格式填写"},
	} {
		p := clerk.post("/validate/"+c.field, url.Values{"csrf": {csrf}, c.field: {c.value}})
		if p.status != 200 || (c.want == "") != (p.body == "") || !strings.Contains(p.body, c.want) {
			t.Errorf("%s = %q: %d %q, want %q", c.field, c.value, p.status, p.body, c.want)
		}
		if english := englishWord.FindString(tag.ReplaceAllString(p.body, "")); english != "" {
			t.Errorf("%s = %q: %q holds the English %q", c.field, c.value, p.body, english)
		}
	}
	if p := clerk.post("/validate/password", url.Values{"csrf": {csrf}}); p.status != http.StatusNotFound {
		t.Errorf("an unknown field: %d", p.status)
	}
	if p := clerk.post("/validate/id_number", url.Values{"id_number": {"1"}}); p.status != http.StatusForbidden {
		t.Errorf("without the CSRF token: %d", p.status)
	}
}

// The vendored script is the one docs record, and the desk serves it.
func TestVendoredAssets(t *testing.T) {
	raw, err := os.ReadFile("static/vendor/htmx-2.0.11.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if sum := fmt.Sprintf("%x", sha256.Sum256(raw)); sum != "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717" {
		t.Errorf("static/vendor/htmx-2.0.11.min.js has SHA-256 %s, not the one static/vendor/README.md records", sum)
	}
	f := newDesk(t)
	p := f.browser().get("/static/vendor/htmx-2.0.11.min.js")
	if p.status != 200 || p.body != string(raw) || !strings.HasPrefix(p.header.Get("Content-Type"), "text/javascript") {
		t.Errorf("serving htmx: %d %v", p.status, p.header)
	}
}

// pendingProposal is the ID of the fixture person's pending proposal of
// program, from their stream ("" if none).
func pendingProposal(t *testing.T, f *deskFixture, program domain.ProgramCode) string {
	t.Helper()
	st, err := app.NewPersons(f.store).State(context.Background(), f.pid)
	if err != nil {
		t.Fatal(err)
	}
	for id, p := range st.Proposals {
		if p.Status == domain.ProposalPending && p.Program == program {
			return id
		}
	}
	return ""
}

// behindNotice is what a batch's lines page says while the read model of
// batches' lines has not applied the batch's last step.
const behindNotice = "逐笔明细正在更新"

var march2025, _ = domain.NewPeriod(2025, time.March)

// A batch drafted while the read models stand still: its lines page shows
// what the read model has (nothing yet) and says that it is behind.
func TestBatchLinesSayWhenBehind(t *testing.T) {
	f := newDesk(t)
	f.pause()
	v, _ := vault.New("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
	res, err := app.NewPayroll(f.store, projections.ReadModels{Q: f.db.Pool, Store: f.store}, v).Draft(context.Background(),
		domain.CommandMeta{CommandID: "behind", Actor: "fin.wu", Role: "finance", Now: time.Now()},
		app.DraftRequest{Program: domain.ProgramLivingSubsidy, Period: march2025})
	if err != nil || res.Batch.Lines.Count == 0 {
		t.Fatalf("draft: %+v, %v", res.Batch.Lines, err)
	}
	wu := f.browser()
	wu.signIn("fin.wu", password)
	l := wu.get("/payroll/batches/" + res.Batch.BatchID + "/lines?show=all")
	if l.status != 200 || !strings.Contains(l.body, behindNotice) || !strings.Contains(l.body, "没有。") {
		t.Errorf("the lines of a batch the read model has not seen: %d\n%s", l.status, l.body)
	}
}
