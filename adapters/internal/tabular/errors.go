package tabular

import (
	"fmt"
	"strings"

	"github.com/lushan-dpf/ledger/domain"
)

// LineProblem is one thing wrong with a file. LineNo 0 means the file as a
// whole.
type LineProblem struct {
	LineNo int
	Field  string // the column or aspect at fault: "amount", "id_number", "line", "encoding", "file", ...
	Reason string
}

func (p LineProblem) String() string {
	if p.LineNo == 0 {
		return p.Field + ": " + p.Reason
	}
	return fmt.Sprintf("line %d: %s: %s", p.LineNo, p.Field, p.Reason)
}

// FileError reports a file that was refused, with every problem found on
// every line in line order. It wraps domain.ErrInvalid.
type FileError struct {
	Kind     string // what the file is, e.g. "bank return file"; "file" if empty
	Name     string // the name the caller gave the file
	Problems []LineProblem
}

func (e *FileError) Error() string {
	const shown = 10
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q: ", Source{Kind: e.Kind}.kind(), e.Name)
	if len(e.Problems) == 1 {
		b.WriteString(e.Problems[0].String())
		return b.String()
	}
	fmt.Fprintf(&b, "%d problems", len(e.Problems))
	for _, p := range e.Problems[:min(len(e.Problems), shown)] {
		b.WriteString("; ")
		b.WriteString(p.String())
	}
	if len(e.Problems) > shown {
		fmt.Fprintf(&b, "; and %d more", len(e.Problems)-shown)
	}
	return b.String()
}

func (e *FileError) Unwrap() error { return domain.ErrInvalid }

// Problems collects the problems of a file in the order they are found.
type Problems []LineProblem

// Add appends a problem with a formatted reason.
func (ps *Problems) Add(lineNo int, field, format string, args ...any) {
	*ps = append(*ps, LineProblem{LineNo: lineNo, Field: field, Reason: fmt.Sprintf(format, args...)})
}
