package tabular

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Synonym is what a header name means: the field it names (an index into
// Columns.Fields) and its rank; the lower rank wins when two columns name
// the same field.
type Synonym struct {
	Field int
	Rank  int
}

// Columns describes the fields a parser finds in a header by name.
type Columns struct {
	Fields   []string           // the field names, as LineProblem.Field, e.g. "amount"
	Labels   []string           // how messages call each field, e.g. "ID number"; Fields if nil
	Synonyms map[string]Synonym // normalised header name (NormName) → field
	Required func(field int) bool
}

// Find maps the columns of the header row r: the result holds the column
// index of each field, -1 if absent. Two columns with equally good names
// for a field, and a required field without a column, are added to ps.
func (c Columns) Find(r Row, ps *Problems) []int {
	type candidate struct {
		index, rank int
		name        string
	}
	found := make([][]candidate, len(c.Fields))
	for i, f := range r.Fields {
		for _, k := range NameKeys(f) {
			if s, ok := c.Synonyms[k]; ok {
				found[s.Field] = append(found[s.Field], candidate{i, s.Rank, f})
				break
			}
		}
	}
	cols := make([]int, len(c.Fields))
	for f := range c.Fields {
		cols[f] = -1
		var best []candidate
		for _, cd := range found[f] {
			switch {
			case len(best) == 0 || cd.rank < best[0].rank:
				best = []candidate{cd}
			case cd.rank == best[0].rank:
				best = append(best, cd)
			}
		}
		switch {
		case len(best) == 1:
			cols[f] = best[0].index
		case len(best) > 1:
			ps.Add(r.No, c.Fields[f], "columns %d (%s) and %d (%s) both name the %s; keep one",
				best[0].index+1, best[0].name, best[1].index+1, best[1].name, c.label(f))
		case c.Required != nil && c.Required(f):
			ps.Add(r.No, c.Fields[f], "no column for the %s; name one %s", c.label(f), c.Known(f))
		}
	}
	return cols
}

func (c Columns) label(f int) string {
	if f < len(c.Labels) {
		return c.Labels[f]
	}
	return c.Fields[f]
}

// Known lists the header names of field f, best first, for messages.
func (c Columns) Known(f int) string {
	var names []string
	for n, s := range c.Synonyms {
		if s.Field == f {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(c.Synonyms[a].Rank, c.Synonyms[b].Rank), cmp.Compare(a, b))
	})
	return strings.Join(names, ", ")
}

// NameKeys returns the normalised forms of a header or label: the whole
// text, and for "中文(English)" (or full-width parentheses) each part.
func NameKeys(s string) []string {
	keys := []string{NormName(s)}
	if i := strings.IndexAny(s, "(（"); i > 0 {
		outer, inner := s[:i], s[i:]
		_, size := utf8.DecodeRuneInString(inner)
		inner = strings.TrimRight(inner[size:], ")） ")
		keys = append(keys, NormName(outer), NormName(inner))
	}
	return keys
}

// NormName lower-cases s, treats "_" and "-" as spaces, collapses spaces
// and drops required-field stars, byte-order marks and a trailing colon.
func NormName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch r {
		case '_', '-':
			return ' '
		case '*', '＊', '\ufeff':
			return -1
		}
		return unicode.ToLower(r)
	}, s)
	s = strings.Join(strings.Fields(s), " ")
	return strings.TrimRight(s, ":：")
}
