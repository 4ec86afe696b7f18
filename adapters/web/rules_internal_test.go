package web

import (
	"go/ast"
	"go/token"
	"strconv"
	"strings"
	"testing"
)

// Every business rule the domain states (a string constant named Rule…)
// has a Chinese name for the desk's refusals.
func TestEveryRuleHasAChineseName(t *testing.T) {
	found := 0
	for _, f := range parseGo(t, "../../domain") {
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
