package web_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// chromium returns the browser the tests drive: LEDGER_CHROMIUM (which
// `make test` sets, installing Debian's chromium package when missing:
// scripts/chromium.sh), else one on the PATH. Without one the test fails:
// it does not skip.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("LEDGER_CHROMIUM"); p != "" {
		return p
	}
	for _, b := range []string{"chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(b); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium: run the tests with make test (scripts/chromium.sh installs Debian's chromium), or set LEDGER_CHROMIUM")
	return ""
}

// screenshotDir is where the browser tests save their screenshots at
// 1366×768: docs/ui when LEDGER_UI_SCREENSHOTS names it (make
// screenshots), else a temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("LEDGER_UI_SCREENSHOTS"); d != "" {
		return d
	}
	return t.TempDir()
}

// In a real headless Chromium at 1366×768: a caseworker signs in, finds a
// person by ID number and sees their page with the masked number only;
// every page is screenshotted.
func TestBrowserCaseworkerFindsAPerson(t *testing.T) {
	f := newDesk(t)
	ctx, dir := browse(t)
	shot := screenshot(dir)
	text := textOf
	var title, person string
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("user")),
		shot("login"),
		chromedp.SendKeys(chromedp.ID("user"), "clerk.zhou"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("a.button")),
		text("h1", &title),
		shot("home"),
		chromedp.Click(chromedp.CSS(`a.button[href="/persons"]`)),
		chromedp.WaitVisible(chromedp.ID("number")),
		chromedp.SendKeys(chromedp.ID("number"), f.id.Number()),
		shot("persons"),
		chromedp.Submit(chromedp.ID("number")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")),
		text("main", &person),
		shot("person"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if title != "工作台" {
		t.Errorf("after signing in the browser shows %q", title)
	}
	for _, want := range []string{"钱芳", f.id.Masked(), "困难残疾人生活补贴", "肢体二级"} {
		if !strings.Contains(person, want) {
			t.Errorf("the person's page lacks %q:\n%s", want, person)
		}
	}
	if strings.Contains(person, f.id.Number()) {
		t.Error("the person's page shows the full ID number")
	}
	for _, name := range []string{"login", "home", "persons", "person"} {
		if st, err := os.Stat(filepath.Join(dir, name+".png")); err != nil || st.Size() < 1000 {
			t.Errorf("screenshot %s: %v", name, err)
		}
	}
}

// browse starts a headless Chromium at 1366×768 for the test, and returns
// its context and where screenshots go.
func browse(t *testing.T) (context.Context, string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.WindowSize(1366, 768),
		chromedp.NoSandbox, chromedp.Flag("lang", "zh-CN"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	return ctx, screenshotDir(t)
}

// lowContrast lists the page's visible text whose contrast with what is
// behind it (the nearest background colour an ancestor paints, white if
// none) is below WCAG AA: 4.5:1, or 3:1 for large text (24 px, or 18.66 px
// bold). SVG text is judged by its fill.
const lowContrast = `(() => {
	const parse = c => {
		const m = /rgba?\(([^)]+)\)/.exec(c || '');
		if (!m) return null;
		const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
		return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
	};
	const lum = c => {
		const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
		return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
	};
	const behind = el => {
		for (let e = el.parentElement; e; e = e.parentElement) {
			const c = parse(getComputedStyle(e).backgroundColor);
			if (c && c.a > 0) return c;
		}
		return {r: 255, g: 255, b: 255, a: 1};
	};
	const bad = [];
	for (const el of document.querySelectorAll('body *')) {
		if (!Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim())) continue;
		const st = getComputedStyle(el);
		if (st.visibility === 'hidden' || st.display === 'none' || el.getClientRects().length === 0) continue;
		const fg = parse(el instanceof SVGElement ? st.fill : st.color);
		if (!fg) continue;
		let bg = parse(st.backgroundColor);
		if (!bg || bg.a === 0) bg = behind(el);
		const mix = {r: fg.r * fg.a + bg.r * (1 - fg.a), g: fg.g * fg.a + bg.g * (1 - fg.a), b: fg.b * fg.a + bg.b * (1 - fg.a)};
		const [hi, lo] = [lum(mix), lum(bg)].sort((x, y) => y - x);
		const ratio = (hi + 0.05) / (lo + 0.05);
		const size = parseFloat(st.fontSize), bold = parseInt(st.fontWeight, 10) >= 700;
		if (ratio < (size >= 24 || (bold && size >= 18.66) ? 3 : 4.5)) {
			bad.push(el.tagName.toLowerCase() + ' "' + el.textContent.trim().slice(0, 24) + '" ' + ratio.toFixed(2) + ':1');
		}
	}
	return bad.join('; ');
})()`

// screenshot saves the whole page as dir/NAME.png, after checking that
// every field of the page has a label and all its text enough contrast.
func screenshot(dir string) func(name string) chromedp.Action[chromedp.Void] {
	return func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			low, err := chromedp.Evaluate[string](lowContrast)(ctx, t)
			if err != nil {
				return err
			}
			if low != "" {
				return fmt.Errorf("page %s: text below WCAG AA contrast: %s", name, low)
			}
			unlabelled, err := chromedp.Evaluate[string](`Array.from(document.querySelectorAll('input, select, textarea'))
				.filter(el => el.type !== 'hidden' && !el.closest('label') && !el.getAttribute('aria-label') &&
					!(el.id && document.querySelector('label[for="' + el.id + '"]')))
				.map(el => el.name || el.id || el.outerHTML).join(', ')`)(ctx, t)
			if err != nil {
				return err
			}
			if unlabelled != "" {
				return fmt.Errorf("page %s: fields without a label: %s", name, unlabelled)
			}
			png, err := chromedp.FullScreenshot(100)(ctx, t) // quality 100: a PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
}

// textOf reads the text of the element sel into into.
func textOf(sel chromedp.CSS, into *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
		*into, err = chromedp.Text(sel)(ctx, t)
		return err
	})
}

// In the browser an auditor opens a person's history and moves the
// known-at time back before the grant was approved: the replay shows no
// subsidy, and the approval as recorded later; moved forward, the living
// subsidy.
func TestBrowserAuditorMovesKnownAt(t *testing.T) {
	f := newDesk(t)
	ctx, dir := browse(t)
	shot := screenshot(dir)
	var before, after string
	err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), "audit.sun"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("a.button")),
		chromedp.Navigate(f.srv.URL+"/persons/"+string(f.pid)),
		chromedp.Click(chromedp.CSS(`a[href$="/history"]`)),
		chromedp.WaitVisible(chromedp.ID("known_at")),
		chromedp.SetValue(chromedp.ID("known_at"), "2025-03-04T12:00"),
		chromedp.SetValue(chromedp.ID("as_of"), "2025-03-04"),
		chromedp.Submit(chromedp.ID("as_of")),
		chromedp.WaitVisible(chromedp.ID("replay")),
		textOf("#replay", &before),
		shot("history"),
		chromedp.SetValue(chromedp.ID("known_at"), "2025-03-06T12:00"),
		chromedp.SetValue(chromedp.ID("as_of"), "2025-03-06"),
		chromedp.Submit(chromedp.ID("as_of")),
		chromedp.WaitVisible(chromedp.CSS("#replay table")),
		textOf("#replay", &after),
	)
	if err != nil {
		t.Fatal(err)
	}
	issueNotice(t, f)
	// The latest run of ledger verify, recorded with the log's real digest.
	recs, err := f.store.ReadAll(context.Background(), domain.Start, 10_000, domain.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	c := domain.NewChainChecker()
	for _, r := range recs {
		c.Add(r)
	}
	none := 0
	if err := (postgres.VerifyRuns{Pool: f.users.Pool}).Record(context.Background(), app.VerifyRun{FinishedAt: time.Now(), RanBy: "ops.he",
		Chains:         &app.VerifiedChains{Events: c.Events(), Streams: c.Streams(), Digest: c.Digest()},
		ReadModels:     []app.VerifiedReadModel{{Name: "entitlements", Status: "running", Events: c.Events()}, {Name: "payments", Status: "running", Events: c.Events()}},
		OverpaidMonths: &none, Report: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	var digest string
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`a[href="/audit"]`)),
		chromedp.WaitVisible(chromedp.ID("digest")),
		textOf("#digest", &digest),
		shot("audit"),
		chromedp.Click(chromedp.CSS(`a[href="/notices"]`)),
		chromedp.WaitVisible(chromedp.ID("notices")),
		shot("notices"),
	); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(digest, c.Digest().Hex) {
		t.Errorf("the audit page's digest:\n%s\nwant %s", digest, c.Digest().Hex)
	}
	if !strings.Contains(before, "当日没有补贴") || !strings.Contains(before, "之后又记录了 3 条") {
		t.Errorf("known at 2025-03-04 12:00:\n%s", before)
	}
	if !strings.Contains(after, "困难残疾人生活补贴") || !strings.Contains(after, "享受中") {
		t.Errorf("known at 2025-03-06 12:00:\n%s", after)
	}
}

// In the browser a finance officer drafts the month; another approves it
// and downloads the bank file; the bank's return file, uploaded, is shown
// classified.
func TestBrowserFinanceMonth(t *testing.T) {
	f := newDesk(t)
	ctx, dir := browse(t)
	shot := screenshot(dir)
	signIn := func(user string) chromedp.Action[chromedp.Void] { return signInAs(f, user) }
	var drafted, approved, batchPath, classified string
	downloads := t.TempDir()
	err := chromedp.Do(ctx,
		signIn("fin.wu"),
		chromedp.Navigate(f.srv.URL+"/payroll"),
		chromedp.WaitVisible(chromedp.ID("period")),
		shot("payroll"),
		chromedp.SetValue(chromedp.ID("program"), "living_subsidy"),
		chromedp.SetValue(chromedp.ID("period"), "2025-03"),
		chromedp.Submit(chromedp.ID("period")),
		chromedp.WaitVisible(chromedp.ID("state")),
		textOf("#state", &drafted),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			batchPath, err = chromedp.Evaluate[string]("location.pathname")(ctx, t)
			return err
		}),
		shot("batch-drafted"),
		chromedp.Click(chromedp.CSS(".who button")), // sign out
		chromedp.WaitVisible(chromedp.ID("user")),
		signIn("fin.li"),
	)
	if err != nil {
		t.Fatal(err)
	}
	progress := chromedp.Events(ctx, cdpbrowser.DownloadProgress)
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+batchPath),
		chromedp.Click(chromedp.CSS(`form[action$="/approve"] button`)),
		chromedp.WaitVisible(chromedp.ID("file")),
		textOf("#state", &approved),
		shot("batch-approved"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
				Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: downloads, EventsEnabled: ptr(true)})
			return err
		}),
		chromedp.SetValue(chromedp.ID("format"), "csv"),
		chromedp.SetValue(chromedp.ID("encoding"), "utf-8"),
		chromedp.Click(chromedp.CSS(`form[action$="/export"] button`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	var file []byte
	for ev, err := range progress {
		if err != nil {
			t.Fatal(err)
		}
		if ev.State == cdpbrowser.DownloadProgressStateCompleted {
			if file, err = os.ReadFile(filepath.Join(downloads, ev.GUID)); err != nil {
				t.Fatal(err)
			}
			break
		}
	}
	var ret strings.Builder
	ret.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
	n := 0
	for _, line := range strings.Split(string(file), "\n") {
		if fields := strings.Split(line, ","); len(fields) >= 4 && len(fields[0]) == 32 {
			fmt.Fprintf(&ret, "%s,%s,成功,,B%d\r\n", fields[0], fields[3], n)
			n++
		}
	}
	retFile := filepath.Join(t.TempDir(), "return.csv")
	if err := os.WriteFile(retFile, []byte(ret.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	err = chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.ID("file"), []string{retFile}),
		chromedp.Click(chromedp.CSS(`form[action$="/returns"] button`)),
		chromedp.WaitVisible(chromedp.ID("reconciliation")),
		textOf("#reconciliation", &classified),
		shot("reconciliation"),
		chromedp.Navigate(f.srv.URL+batchPath),
		chromedp.Click(chromedp.ID("lines")),
		chromedp.WaitVisible(chromedp.ID("batch-lines")),
		shot("lines"),
		navigateUntil(f.srv.URL+"/spending?year=2025&group=month", ".chart svg"),
		shot("spending"),
	)
	if err != nil {
		t.Fatal(err)
	}
	// A death recorded late; the next draft claims the months paid after it.
	if _, err := app.NewPersons(f.store).Execute(context.Background(), f.pid, domain.CommandMeta{CommandID: "death", Actor: "clerk.zhou", Role: "clerk",
		Now: time.Date(2025, 4, 2, 9, 0, 0, 0, domain.BusinessZone)}, domain.RecordDeath{DateOfDeath: domain.MustDate("2025-01-10")}); err != nil {
		t.Fatal(err)
	}
	var claims string
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/payroll"),
		chromedp.WaitVisible(chromedp.ID("period")),
		chromedp.SetValue(chromedp.ID("period"), "2025-04"),
		chromedp.Submit(chromedp.ID("period")),
		chromedp.WaitVisible(chromedp.CSS("h1")),
		navigateUntil(f.srv.URL+"/payroll/claims", "#claims"),
		chromedp.Click(chromedp.CSS("#claims details summary")),
		shot("claims"),
		textOf("#claims", &claims),
	)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(claims, "钱芳") || !strings.Contains(claims, "2025年3月") {
		t.Errorf("the claims after a late death:\n%s", claims)
	}
	if drafted != "待审批" || approved != "已批准发放" || n != 14 {
		t.Errorf("drafted %q, approved %q, %d lines in the bank file", drafted, approved, n)
	}
	if !regexp.MustCompile(`(?m)^成功\s+14\s+¥1,430\.00$`).MatchString(classified) || !regexp.MustCompile(`(?m)^失败\s+0\s+¥0\.00$`).MatchString(classified) {
		t.Errorf("the classification:\n%q", classified)
	}
}

func ptr[T any](v T) *T { return &v }

// navigateUntil opens url until the page has an element matching sel
// (the read models follow the log a moment later), for up to 20 seconds.
func navigateUntil(url, sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if _, err := chromedp.Navigate(url)(ctx, t); err != nil {
				return err
			}
			n, err := chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel))(ctx, t)
			if err != nil || n > 0 {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s never showed %s", url, sel)
			}
		}
	})
}

// signInAs signs user in through the sign-in page.
func signInAs(f *deskFixture, user string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(f.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("user")),
		chromedp.SendKeys(chromedp.ID("user"), user),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("a.button")),
	)
}

// In the browser a caseworker registers a person — the form sent three
// times (twice more by script, as a double click and the back button
// would) appends one event — and proposes a care subsidy for another;
// the clerk's page offers no approval, and the approval's URL refuses the
// clerk; a form stripped of its CSRF token is refused and appends
// nothing; an approver sees the proposer and approves, and the page shows
// the subsidy granted. No page shows a full ID number.
func TestBrowserRegisterProposeApprove(t *testing.T) {
	f := newDesk(t)
	ctx, dir := browse(t)
	shot := screenshot(dir)
	id, _ := domain.NewResidentID("360429", domain.MustDate("1975-05-05"), 33)
	pid := domain.PersonIDFromHash(lookupKey.Hash(id))
	var pages []string // every page's HTML, checked for full ID numbers
	keep := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		html, err := chromedp.Evaluate[string]("document.documentElement.outerHTML")(ctx, t)
		pages = append(pages, html)
		return err
	})
	events := func(p domain.PersonID) int {
		evs, err := f.store.ReadStream(context.Background(), p.Stream(), domain.Forwards, 0, 1000)
		if err != nil && !errors.Is(err, domain.ErrNotFound) {
			t.Fatal(err)
		}
		return len(evs)
	}
	var resent, registered, halfNumber string
	err := chromedp.Do(ctx,
		signInAs(f, "clerk.zhou"),
		keep,
		chromedp.Navigate(f.srv.URL+"/persons/new"),
		chromedp.WaitVisible(chromedp.ID("id_number")),
		// Checked as one types: half a number is refused in plain words,
		// the whole one is not.
		chromedp.SendKeys(chromedp.ID("id_number"), id.Number()[:10]),
		chromedp.WaitVisible(chromedp.CSS("#id_number-msg .error")),
		textOf("#id_number-msg", &halfNumber),
		shot("register-checking"),
		chromedp.SendKeys(chromedp.ID("id_number"), id.Number()[10:]),
		chromedp.WaitNotPresent(chromedp.CSS("#id_number-msg .error")),
		chromedp.SendKeys(chromedp.ID("name"), "孙丽"),
		chromedp.SendKeys(chromedp.ID("township"), "白鹿镇"),
		chromedp.SetValue(chromedp.ID("registered_on"), "2025-03-01"),
		chromedp.Click(chromedp.CSS(`input[name="dibao"]`)),
		shot("register"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			resent, err = chromedp.Evaluate[string](`(async () => {
				const body = new URLSearchParams(new FormData(document.querySelector('form[action="/persons"]')));
				const kinds = [];
				for (let i = 0; i < 2; i++) {
					kinds.push((await fetch('/persons', {method: 'POST', body, redirect: 'manual'})).type);
				}
				return kinds.join(',');
			})()`, chromedp.EvalAwaitPromise)(ctx, t)
			return err
		}),
		chromedp.Submit(chromedp.ID("id_number")),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")),
		textOf("main", &registered),
		keep,
	)
	if err != nil {
		t.Fatal(err)
	}
	if resent != "opaqueredirect,opaqueredirect" || !strings.Contains(registered, "孙丽") || !strings.Contains(registered, "白鹿镇") {
		t.Errorf("the form sent by script: %q; the page after registering:\n%s", resent, registered)
	}
	if n := events(pid); n != 1 {
		t.Errorf("the registration sent three times appended %d events", n)
	}
	if !strings.Contains(halfNumber, "身份证号有误") {
		t.Errorf("half an ID number typed: %q", halfNumber)
	}

	before := events(f.pid)
	var refused, approveForms string
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/persons/"+string(f.pid)),
		chromedp.WaitVisible(chromedp.ID("effective_from")),
		chromedp.SetValue(chromedp.ID("program"), "care_subsidy"),
		chromedp.SetValue(chromedp.ID("effective_from"), "2025-03-01"),
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`document.querySelector('form[action$="/grants"] input[name="csrf"]').remove() || true`)(ctx, t)
			return err
		}),
		chromedp.Submit(chromedp.ID("effective_from")),
		chromedp.WaitVisible(chromedp.CSS("h1")),
		textOf("h1", &refused),
	)
	if err != nil {
		t.Fatal(err)
	}
	if refused != "请求被拒绝" || events(f.pid) != before {
		t.Errorf("a form without its CSRF token: %q, %d events appended", refused, events(f.pid)-before)
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/persons/"+string(f.pid)),
		chromedp.WaitVisible(chromedp.ID("effective_from")),
		chromedp.SetValue(chromedp.ID("program"), "care_subsidy"),
		chromedp.SetValue(chromedp.ID("effective_from"), "2025-03-01"),
		shot("grant"),
		chromedp.Submit(chromedp.ID("effective_from")),
		chromedp.WaitVisible(chromedp.ID("pending")),
		shot("grant-proposed"),
		keep,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			n, err := chromedp.Evaluate[int](`document.querySelectorAll('form[action$="/approve"]').length`)(ctx, t)
			approveForms = fmt.Sprint(n)
			return err
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	proposal := pendingProposal(t, f, domain.ProgramCareSubsidy)
	if proposal == "" || approveForms != "0" {
		t.Fatalf("pending proposal %q; the clerk's page has %s approval forms", proposal, approveForms)
	}
	approve := "/persons/" + string(f.pid) + "/grants/" + proposal + "/approve"
	var status int
	var after string
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			status, err = chromedp.Evaluate[int](`fetch('`+approve+`', {method: 'POST', body: new URLSearchParams({
				csrf: document.querySelector('input[name="csrf"]').value, form: 'clerk-approves'})}).then(r => r.status)`, chromedp.EvalAwaitPromise)(ctx, t)
			return err
		}),
		chromedp.Click(chromedp.CSS(".who button")), // sign out
		chromedp.WaitVisible(chromedp.ID("user")),
		signInAs(f, "approver.chen"),
		chromedp.Navigate(f.srv.URL+"/persons/"+string(f.pid)),
		chromedp.WaitVisible(chromedp.CSS(`form[action$="/approve"] button`)),
		shot("grant-approval"),
		keep,
		chromedp.Click(chromedp.CSS(`form[action$="/approve"] button`)),
		chromedp.WaitNotPresent(chromedp.ID("pending")),
		textOf("main", &after),
		keep,
		chromedp.Navigate(f.srv.URL+"/password"),
		chromedp.WaitVisible(chromedp.ID("current")),
		shot("password"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if status != 403 {
		t.Errorf("the clerk posting the approval: %d, want 403", status)
	}
	if strings.Count(after, "享受中") != 2 || !strings.Contains(after, "重度残疾人护理补贴") {
		t.Errorf("after the approval:\n%s", after)
	}
	for i, html := range pages {
		for _, full := range []string{f.id.Number(), id.Number()} {
			if strings.Contains(html, full) {
				t.Errorf("page %d shows the full ID number %s", i, full)
			}
		}
	}
}

// On a phone-sized screen (375×667) the pages fit the width: nothing
// scrolls sideways but a wide table inside its own box.
func TestBrowserPhoneWidth(t *testing.T) {
	f := newDesk(t)
	ctx, dir := browse(t)
	shot := screenshot(dir)
	var widths []int
	width := chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		w, err := chromedp.Evaluate[int]("document.documentElement.scrollWidth")(ctx, t)
		widths = append(widths, w)
		return err
	})
	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(375, 667),
		chromedp.Navigate(f.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.ID("user")),
		width,
		chromedp.SendKeys(chromedp.ID("user"), "fin.wu"),
		chromedp.SendKeys(chromedp.ID("password"), password),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("a.button")),
		width,
		chromedp.Navigate(f.srv.URL+"/persons/"+string(f.pid)),
		chromedp.WaitVisible(chromedp.CSS("dl.facts")),
		width,
		shot("person-phone"),
		chromedp.Navigate(f.srv.URL+"/payroll"),
		chromedp.WaitVisible(chromedp.ID("period")),
		width,
	)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range widths {
		if w > 375 {
			t.Errorf("page %d is %d px wide on a 375 px screen", i, w)
		}
	}
}
