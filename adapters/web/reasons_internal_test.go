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

// invalidFormats returns every format the code passes to an Invalid call
// as a literal, in the packages a desk's refusal can come from.
func invalidFormats(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, dir := range []string{"../../domain", "../../app", "."} {
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
			ast.Inspect(f, func(n ast.Node) bool {
				c, ok := n.(*ast.CallExpr)
				if !ok || len(c.Args) < 2 {
					return true
				}
				var fn string
				switch x := c.Fun.(type) {
				case *ast.Ident:
					fn = x.Name
				case *ast.SelectorExpr:
					fn = x.Sel.Name
				}
				if lit, ok := c.Args[1].(*ast.BasicLit); ok && fn == "Invalid" && lit.Kind == token.STRING {
					s, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					out[s] = true
				}
				return true
			})
		}
	}
	return out
}

var verb = regexp.MustCompile(`%[dsq]`)

// Every Chinese reason translates a format the code still writes, and
// takes that format's arguments: no verb without its argument, none left
// over, none of another type.
func TestReasonsZH(t *testing.T) {
	formats := invalidFormats(t)
	if len(formats) < 100 {
		t.Fatalf("found only %d formats: is the parse right?", len(formats))
	}
	for en, zh := range reasonsZH {
		if !formats[en] {
			t.Errorf("%q is no longer a format of an Invalid call: its Chinese is never used", en)
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
		for _, a := range args {
			if !strings.Contains(got, fmt.Sprint(a)) {
				t.Errorf("%q: the Chinese leaves out %v: %s", en, a, got)
			}
		}
	}
}
