package web

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// parseGo parses the Go files (tests left out) of the given directories.
func parseGo(t *testing.T, dirs ...string) []*ast.File {
	t.Helper()
	var out []*ast.File
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
	}
	return out
}

// formatsOf returns every format the code passes to a call of fn
// (Invalid, Violation) as a literal, in the packages a desk's refusal can
// come from.
func formatsOf(t *testing.T, fn string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, f := range parseGo(t, "../../domain", "../../app", "../../reports", ".") {
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok || len(c.Args) < 2 {
				return true
			}
			var name string
			switch x := c.Fun.(type) {
			case *ast.Ident:
				name = x.Name
			case *ast.SelectorExpr:
				name = x.Sel.Name
			}
			if lit, ok := c.Args[1].(*ast.BasicLit); ok && name == fn && lit.Kind == token.STRING {
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					t.Fatal(err)
				}
				out[s] = true
			}
			return true
		})
	}
	return out
}

var verb = regexp.MustCompile(`%[dsq]`)

// Every Chinese reason translates a format the code still writes, and
// takes that format's arguments: no verb without its argument, none of
// another type, none left over or left out (unless the Chinese numbers
// the arguments it says).
func TestReasonsZH(t *testing.T) {
	for _, c := range []struct {
		fn      string
		catalog map[string]string
		least   int
	}{{"Invalid", reasonsZH, 100}, {"Violation", rulesZH, 25}} {
		formats := formatsOf(t, c.fn)
		if len(formats) < c.least {
			t.Fatalf("found only %d formats of %s: is the parse right?", len(formats), c.fn)
		}
		for en, zh := range c.catalog {
			if !formats[en] {
				t.Errorf("%q is no longer a format of a %s call: its Chinese is never used", en, c.fn)
			}
			var args []any
			for i, v := range verb.FindAllString(en, -1) {
				if v == "%d" {
					args = append(args, 1000+i)
				} else {
					args = append(args, fmt.Sprint("arg", i))
				}
			}
			got := fmt.Sprintf(zh, args...)
			if strings.Contains(got, "%!") {
				t.Errorf("%q: the Chinese %q does not take the format's arguments: %s", en, zh, got)
			}
			if strings.Contains(zh, "%[") {
				continue
			}
			for _, a := range args {
				if !strings.Contains(got, fmt.Sprint(a)) {
					t.Errorf("%q: the Chinese leaves out %v: %s", en, a, got)
				}
			}
		}
	}
}
