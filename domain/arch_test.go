package domain_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The domain is the centre: it imports nothing of the project and does no
// I/O. This test reads the package's own imports and fails on any that
// breaks that rule.
func TestDomainImportsNothingOfTheProjectAndNoIO(t *testing.T) {
	allowed := map[string]bool{
		"github.com/shopspring/decimal": true,
		"github.com/google/uuid":        true,
	}
	forbidden := []string{"os", "net", "database/sql", "io/fs", "os/exec", "syscall", "net/http"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(path, ".") && !allowed[path] {
				t.Errorf("%s imports %s: the domain may import only the standard library, decimal and uuid", f, path)
			}
			for _, bad := range forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s: the domain does no I/O", f, path)
				}
			}
		}
	}
}
