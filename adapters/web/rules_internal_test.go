package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Every business rule the domain states (a string constant named Rule…)
// has a Chinese name for the desk's refusals.
func TestEveryRuleHasAChineseName(t *testing.T) {
	files, err := filepath.Glob("../../domain/*.go")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, spec := range g.Specs {
				v := spec.(*ast.ValueSpec)
				for i, id := range v.Names {
					if !strings.HasPrefix(id.Name, "Rule") || len(id.Name) == 4 || i >= len(v.Values) {
						continue
					}
					lit, ok := v.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					code, _ := strconv.Unquote(lit.Value)
					found++
					if ruleNames[code] == "" {
						t.Errorf("domain.%s (%q) has no Chinese name in ruleNames", id.Name, code)
					}
				}
			}
		}
	}
	if found < 20 {
		t.Fatalf("found only %d rules in the domain: is the parse right?", found)
	}
}
