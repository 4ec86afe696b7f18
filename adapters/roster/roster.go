package roster

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/lushan-dpf/ledger/adapters/internal/tabular"
	"github.com/lushan-dpf/ledger/domain"
)

// MaxFileSize is the largest roster file Read accepts, in bytes. A
// county's largest roster (rural affairs, some 100,000 people with a dozen
// columns) is about 15 MB of CSV.
const MaxFileSize = 32 << 20

// maxUnzipped bounds the unpacked size of an XLSX roster.
const maxUnzipped = 256 << 20

// MaxNameLen is the longest name accepted, in characters.
const MaxNameLen = 50

// FileError reports a roster file that was refused, with every problem
// found on every line in line order. It wraps domain.ErrInvalid. It is the
// same type as bankfile.FileError; Kind tells the two apart.
type FileError = tabular.FileError

// LineProblem is one thing wrong with a roster file. LineNo 0 means the
// file as a whole.
type LineProblem = tabular.LineProblem

// Read reads the roster of source on asOf from r; name is used in messages
// only. The format and encoding are detected from the content, as the
// package documentation describes. If anything is wrong it returns a
// *FileError listing every problem, and no lines. An unknown source or a
// zero asOf is a *domain.FieldError; an error reading r is returned
// wrapped, as is.
func Read(r io.Reader, name string, source domain.RosterSource, asOf domain.Date) (domain.Roster, error) {
	if _, err := domain.ParseRosterSource("source", string(source)); err != nil {
		return domain.Roster{}, err
	}
	if asOf.IsZero() {
		return domain.Roster{}, domain.Invalid("as_of", "is required: the day the roster describes")
	}
	t, err := tabular.Read(r, tabular.Source{
		Kind: sourceLabels[source] + " roster", Name: name, MaxSize: MaxFileSize, MaxUnzipped: maxUnzipped,
	})
	if err != nil {
		return domain.Roster{}, err
	}
	p := parser{source: source, asOf: asOf, xlsx: t.XLSX, seen: map[string][]int{}}
	t.Walk(&p.problems, p.header, p.line)
	if err := t.Err(p.problems); err != nil {
		return domain.Roster{}, err
	}
	return domain.Roster{Source: source, AsOf: asOf, Lines: p.lines, Duplicates: p.duplicates}, nil
}

// sourceLabels name the sources in messages.
var sourceLabels = map[domain.RosterSource]string{
	domain.RosterCivilAffairs:   "civil affairs",
	domain.RosterRuralAffairs:   "rural affairs",
	domain.RosterHumanResources: "human resources",
	domain.RosterDeaths:         "death",
}

// Column fields of a roster: indexes into columns.Fields.
const (
	colID = iota
	colName
	colTownship
	colCategory
	colKind
	colSince
	colDeath
	numCols
)

// columns lists the fields of a roster and their header names; Read sets
// Required per source.
var columns = tabular.Columns{
	Fields: []string{"id_number", "name", "township", "category", "monitoring_kind", "since", "date_of_death"},
	Labels: []string{"ID number", "name", "township", "category", "monitoring kind", "date joined", "date of death"},
	Synonyms: synonyms(map[int][]string{
		colID:       {"身份证号", "身份证号码", "公民身份号码", "证件号码", "身份证", "id_number"},
		colName:     {"姓名", "name"},
		colTownship: {"乡镇", "乡镇(街道)", "乡镇（街道）", "所属乡镇", "乡镇街道", "街道", "township"},
		colCategory: {"类别", "救助类别", "保障类别", "人员类别", "户类型", "对象类型", "category"},
		colKind:     {"监测类型", "监测对象类别", "监测类别", "monitoring_kind"},
		colSince:    {"纳入时间", "纳入日期", "起始日期", "享受起始日期", "认定时间", "识别时间", "since"},
		colDeath:    {"死亡日期", "死亡时间", "date_of_death"},
	}),
}

// synonyms maps each header name, normalised, to its field; all names of a
// field are equally good.
func synonyms(names map[int][]string) map[string]tabular.Synonym {
	m := map[string]tabular.Synonym{}
	for f, ns := range names {
		for _, n := range ns {
			m[tabular.NormName(n)] = tabular.Synonym{Field: f}
		}
	}
	return m
}

// required reports whether a roster of source must have a column for
// field f.
func required(source domain.RosterSource, f int) bool {
	switch f {
	case colID, colName:
		return true
	case colCategory:
		return source == domain.RosterCivilAffairs || source == domain.RosterRuralAffairs
	case colDeath:
		return source == domain.RosterDeaths
	}
	return false
}

// parser turns rows into roster lines, collecting every problem.
type parser struct {
	source     domain.RosterSource
	asOf       domain.Date
	xlsx       bool  // date cells may be serial numbers
	cols       []int // column index of each field, -1 if absent
	problems   tabular.Problems
	lines      []domain.RosterLine
	seen       map[string][]int // ID number → indexes into lines
	duplicates int
}

func (p *parser) header(r tabular.Row) bool {
	c := columns
	c.Required = func(f int) bool { return required(p.source, f) }
	p.cols = c.Find(r, &p.problems)
	return true
}

// line checks one line, reporting each problem it finds, and keeps it
// unless it repeats an earlier one.
func (p *parser) line(r tabular.Row) {
	before := len(p.problems)
	l := domain.RosterLine{
		Line:     r.No,
		ID:       p.id(r),
		Name:     p.name(r),
		Township: p.get(r, colTownship),
		Category: p.category(r),
		Since:    p.date(r, colSince),
	}
	if p.source == domain.RosterDeaths {
		l.DateOfDeath = p.date(r, colDeath)
		if l.DateOfDeath.IsZero() && p.get(r, colDeath) == "" {
			p.problems.Add(r.No, "date_of_death", "is empty; every line of a death roster needs the date of death")
		}
	}
	p.notBeforeBirth(l)
	if len(p.problems) == before {
		p.keep(l)
	}
}

func (p *parser) get(r tabular.Row, f int) string { return r.Field(p.cols[f]) }

// scientific matches a number in the scientific notation a spreadsheet
// shows for a long number, e.g. 3.60427195111083E+17.
var scientific = regexp.MustCompile(`^[0-9](\.[0-9]*)?[eE]\+?[0-9]+$`)

// roundedID matches an 18-digit number whose last digits a spreadsheet
// rounded away, keeping 15 significant digits.
var roundedID = regexp.MustCompile(`^[0-9]{15}000$`)

// lostDigits is the reason for an ID number a spreadsheet stored as a
// number.
const lostDigits = "was stored as a number, and a spreadsheet keeps only the first 15 digits of a number, " +
	"so the last digits are lost (it shows as 3.60427E+17, or ends in 000). " +
	"Format the ID number column as text, enter the full numbers again and export the file again"

func (p *parser) id(r tabular.Row) domain.ResidentID {
	s := p.get(r, colID)
	if s == "" {
		p.problems.Add(r.No, "id_number", "is empty")
		return domain.ResidentID{}
	}
	id, err := domain.ParseResidentID("id_number", s)
	switch n := domain.NormalizeResidentID(s); {
	case err != nil && (scientific.MatchString(n) || roundedID.MatchString(n)):
		p.problems.Add(r.No, "id_number", "%s", lostDigits)
	case err != nil:
		p.problems.Add(r.No, "id_number", "%s", reason(err))
	case id.BirthDate().After(p.asOf):
		p.problems.Add(r.No, "id_number", "the birth date it holds is after the roster's date %s; check the number", p.asOf)
	default:
		return id
	}
	return domain.ResidentID{}
}

func (p *parser) name(r tabular.Row) string {
	s := p.get(r, colName)
	switch {
	case s == "":
		p.problems.Add(r.No, "name", "is empty")
	case utf8.RuneCountInString(s) > MaxNameLen:
		p.problems.Add(r.No, "name", "has %d characters; at most %d are accepted", utf8.RuneCountInString(s), MaxNameLen)
	case strings.ContainsFunc(s, unicode.IsControl):
		p.problems.Add(r.No, "name", "holds a control character (such as a line break); keep the name on one line")
	}
	return s
}

// date reads the optional date in column f, which may not be after the
// roster's date.
func (p *parser) date(r tabular.Row, f int) domain.Date {
	s := p.get(r, f)
	if s == "" {
		return domain.Date{}
	}
	d, why := parseDate(s, p.xlsx)
	switch {
	case why != "":
		p.problems.Add(r.No, columns.Fields[f], "%s", why)
	case d.After(p.asOf):
		p.problems.Add(r.No, columns.Fields[f], "%s is after the roster's date %s", d, p.asOf)
	default:
		return d
	}
	return domain.Date{}
}

// notBeforeBirth reports the dates of l that are before the birth date
// its ID number holds.
func (p *parser) notBeforeBirth(l domain.RosterLine) {
	if l.ID.IsZero() {
		return
	}
	born := l.ID.BirthDate()
	if l.Since.Before(born) && !l.Since.IsZero() {
		p.problems.Add(l.Line, "since", "%s is before the birth date the ID number holds; check both", l.Since)
	}
	if l.DateOfDeath.Before(born) && !l.DateOfDeath.IsZero() {
		p.problems.Add(l.Line, "date_of_death", "%s is before the birth date the ID number holds; check both", l.DateOfDeath)
	}
}

// keep adds l to the roster unless it repeats an earlier line exactly; a
// line that conflicts with an earlier line of the same person is a
// problem.
func (p *parser) keep(l domain.RosterLine) {
	key := l.ID.Number()
	for _, i := range p.seen[key] {
		e := p.lines[i]
		switch {
		case e.Category == l.Category && e.Since.Equal(l.Since) && e.DateOfDeath.Equal(l.DateOfDeath):
			p.duplicates++
			return
		case e.Category == l.Category && !e.DateOfDeath.Equal(l.DateOfDeath):
			p.problems.Add(l.Line, "date_of_death", "the same person is on line %d with date of death %s, here %s; keep the right line only",
				e.Line, e.DateOfDeath, l.DateOfDeath)
			return
		case e.Category == l.Category:
			p.problems.Add(l.Line, "since", "the same person is on line %d as %s since %s, here since %s; keep the right line only",
				e.Line, categoryLabels[l.Category], orNone(e.Since), orNone(l.Since))
			return
		case excludes(e.Category, l.Category):
			p.problems.Add(l.Line, "category", "the same person is on line %d as %s, here as %s; a person cannot be both: keep the right line only",
				e.Line, categoryLabels[e.Category], categoryLabels[l.Category])
			return
		}
	}
	p.seen[key] = append(p.seen[key], len(p.lines))
	p.lines = append(p.lines, l)
}

func orNone(d domain.Date) string {
	if d.IsZero() {
		return "(no date)"
	}
	return d.String()
}

// reason is the reason of a *domain.FieldError, or err's message.
func reason(err error) string {
	var fe *domain.FieldError
	if errors.As(err, &fe) {
		return fe.Reason
	}
	return err.Error()
}

// show quotes a cell for a message: at most 20 characters, and not at all
// if it holds a long run of digits, which could be an ID, account or phone
// number.
func show(s string) string {
	if n := longestDigits(s); n >= 9 {
		return fmt.Sprintf("a value with a %d-digit number in it", n)
	}
	if utf8.RuneCountInString(s) > 20 {
		return fmt.Sprintf("%q…", string([]rune(s)[:20]))
	}
	return fmt.Sprintf("%q", s)
}

// longestDigits is the length of the longest run of digits (of any width)
// in s.
func longestDigits(s string) int {
	best, run := 0, 0
	for _, r := range s {
		if unicode.IsDigit(r) {
			run++
			best = max(best, run)
		} else {
			run = 0
		}
	}
	return best
}
