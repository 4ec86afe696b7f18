package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
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
	dir := screenshotDir(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium(t)), chromedp.WindowSize(1366, 768),
		chromedp.NoSandbox, chromedp.Flag("lang", "zh-CN"))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, t) // quality 100: a PNG
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
		})
	}
	text := func(sel chromedp.CSS, into *string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, t *chromedp.Target) (err error) {
			*into, err = chromedp.Text(sel)(ctx, t)
			return err
		})
	}
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
