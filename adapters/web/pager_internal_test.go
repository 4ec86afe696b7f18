package web

import (
	"strings"
	"testing"
)

// The pager links to the pages before and after, on the list's own URL;
// one page has no pager.
func TestPager(t *testing.T) {
	pages, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	render := func(p pager) string {
		var b strings.Builder
		if err := pages["claims"].ExecuteTemplate(&b, "pager", p); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	got := render(pager{Page: 2, Pages: 3, Base: "/payroll/claims?all=1&"})
	for _, want := range []string{`<a href="/payroll/claims?all=1&amp;page=1">上一页</a>`, `<a href="/payroll/claims?all=1&amp;page=3">下一页</a>`} {
		if !strings.Contains(got, want) {
			t.Errorf("page 2 of 3 lacks %s:\n%s", want, got)
		}
	}
	if got := render(pager{Page: 3, Pages: 3, Base: "/notices?"}); strings.Contains(got, "下一页") || !strings.Contains(got, `href="/notices?page=2"`) {
		t.Errorf("the last page:\n%s", got)
	}
	if got := render(pager{Page: 1, Pages: 1, Base: "/notices?"}); strings.TrimSpace(got) != "" {
		t.Errorf("a single page has a pager: %q", got)
	}
}
