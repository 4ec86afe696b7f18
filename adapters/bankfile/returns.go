package bankfile

import (
	"bytes"
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/domain"
)

// MaxReturnFileSize is the largest return file ReadReturn accepts, in bytes.
// A 1,000,000-line CSV return file is about 60 MB: one upload takes a
// province's month.
const MaxReturnFileSize = 256 << 20

// maxUnzipped bounds the unpacked size of an XLSX return file. Every part is
// kept in memory: excelize spills parts above its XML limit to temporary
// files, and this adapter does not touch the file system.
const maxUnzipped = 512 << 20

// The statuses of a return line.
const (
	StatusSettled = "settled" // the bank paid the money into the account
	StatusFailed  = "failed"  // the bank did not pay; the money was not spent
)

// ReturnFile is a bank return file that passed every check.
type ReturnFile struct {
	Format   Format   // as detected from the content
	Encoding Encoding // as detected; XLSX is always UTF8
	Lines    []ReturnLine
}

// ReturnLine is one payment line of a return file.
type ReturnLine struct {
	LineNo        int    // 1-based line of the CSV (where the record starts) or row of the sheet; the header is line 1
	Reference     string // our payment reference, as the bank echoes it
	Amount        domain.Money
	Status        string // StatusSettled or StatusFailed
	Reason        string // the bank's reason or remark; may be empty
	BankReference string // the bank's own transaction number; may be empty
}

// LineProblem is one thing wrong with a return file. LineNo 0 means the file
// as a whole.
type LineProblem struct {
	LineNo int
	Field  string // "reference", "amount", "status", "line", "encoding", "file", ...
	Reason string
}

func (p LineProblem) String() string {
	if p.LineNo == 0 {
		return p.Field + ": " + p.Reason
	}
	return fmt.Sprintf("line %d: %s: %s", p.LineNo, p.Field, p.Reason)
}

// FileError reports a return file that was refused, with every problem found
// on every line in line order. It wraps domain.ErrInvalid.
type FileError struct {
	Name     string // the name the caller gave the file
	Problems []LineProblem
}

func (e *FileError) Error() string {
	const shown = 10
	var b strings.Builder
	fmt.Fprintf(&b, "bank return file %q: ", e.Name)
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

// ReadReturn reads a bank return file from r; name is used in messages only.
// The format and encoding are detected from the content, as the package
// documentation describes. If any line is malformed it returns a *FileError
// listing every problem, and no lines. An error reading r is returned
// wrapped, as is.
func ReadReturn(r io.Reader, name string) (ReturnFile, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxReturnFileSize+1))
	if err != nil {
		return ReturnFile{}, fmt.Errorf("read bank return file %q: %w", name, err)
	}
	fail := func(lineNo int, field, format string, args ...any) (ReturnFile, error) {
		return ReturnFile{}, &FileError{Name: name, Problems: []LineProblem{{lineNo, field, fmt.Sprintf(format, args...)}}}
	}
	switch {
	case len(data) > MaxReturnFileSize:
		return fail(0, "file", "is larger than %d MiB", MaxReturnFileSize>>20)
	case len(bytes.TrimSpace(data)) == 0:
		return fail(1, "header", "the file is empty; expected a header line")
	case bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return fail(0, "file", "is a legacy .xls workbook or an encrypted one; save it as .xlsx or CSV without a password")
	case bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")):
		return fail(0, "file", "is UTF-16 text; save it as CSV in UTF-8 or GB18030")
	}

	rf := ReturnFile{Format: CSV, Encoding: UTF8}
	var rows []row
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		rf.Format = XLSX
		if rows, err = xlsxRows(data); err != nil {
			return fail(0, "file", "is not a readable XLSX workbook: %v", err)
		}
	} else {
		if utf8.Valid(data) {
			data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
		} else {
			rf.Encoding = GB18030
			if data, err = simplifiedchinese.GB18030.NewDecoder().Bytes(data); err != nil {
				return fail(0, "encoding", "is neither UTF-8 nor GB18030: %v", err)
			}
			data = bytes.TrimPrefix(data, []byte("\ufeff"))
		}
		rows = csvRows(data)
	}

	p := parser{gb18030: rf.Encoding == GB18030}
	rf.Lines = p.parse(rows)
	if len(p.problems) > 0 {
		return ReturnFile{}, &FileError{Name: name, Problems: p.problems}
	}
	if len(rf.Lines) == 0 {
		rf.Lines = nil
	}
	return rf, nil
}

// row is one record of a CSV file or one row of a sheet. err, if set, says
// why the record could not be split into fields.
type row struct {
	no     int
	fields []string
	err    string
}

// csvRows splits text into records. A record that breaks the quoting rules
// becomes a row with err set, and reading goes on at the next line.
func csvRows(text []byte) []row {
	cr := csv.NewReader(bytes.NewReader(text))
	cr.FieldsPerRecord = -1
	rows := make([]row, 0, bytes.Count(text, []byte("\n"))+1)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				// bytes.Reader does not fail; keep the parser honest anyway.
				return append(rows, row{no: max(1, len(rows)+1), err: err.Error()})
			}
			rows = append(rows, row{no: pe.StartLine, err: fmt.Sprintf("breaks the CSV quoting rules at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)})
			continue
		}
		no, _ := cr.FieldPos(0)
		rows = append(rows, row{no: no, fields: rec})
	}
}

// xlsxRows reads the first sheet of the workbook in data. Cells come as the
// text stored in the file (raw values), so a number cell is its decimal text
// and never passes through float64.
func xlsxRows(data []byte) (rows []row, err error) {
	defer func() {
		// excelize parses untrusted input; a panic on a damaged workbook
		// must not take the server down with it.
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("the workbook is damaged (%v)", p)
		}
	}()
	x, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    maxUnzipped,
		UnzipXMLSizeLimit: maxUnzipped,
	})
	if err != nil {
		return nil, err
	}
	defer x.Close()
	sheets := x.GetSheetList()
	if len(sheets) == 0 {
		return nil, errors.New("the workbook has no sheets")
	}
	it, err := x.Rows(sheets[0])
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for no := 1; it.Next(); no++ {
		cells, err := it.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return nil, fmt.Errorf("row %d: %w", no, err)
		}
		rows = append(rows, row{no: no, fields: cells})
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	return rows, nil
}

// Column fields of a return file.
type colField int

const (
	colReference colField = iota
	colAmount
	colStatus
	colReason
	colBankRef
	colAccount
	numCols
)

var colNames = [numCols]string{"reference", "amount", "status", "reason", "bank_reference", "account"}

// synonyms maps a normalised header name to its field and rank; the lower
// rank wins when two columns name the same field.
var synonyms = map[string]struct {
	field colField
	rank  int
}{
	"付款参考号": {colReference, 0}, "参考号": {colReference, 0}, "payment reference": {colReference, 0},
	"reference": {colReference, 0}, "ref": {colReference, 0}, "流水号": {colReference, 1},

	"金额": {colAmount, 0}, "交易金额": {colAmount, 0}, "付款金额": {colAmount, 0}, "amount": {colAmount, 0},

	"状态": {colStatus, 0}, "处理结果": {colStatus, 0}, "交易状态": {colStatus, 0},
	"status": {colStatus, 0}, "result": {colStatus, 0},

	"失败原因": {colReason, 0}, "reason": {colReason, 0}, "原因": {colReason, 1},
	"message": {colReason, 2}, "备注": {colReason, 3},

	"银行流水号": {colBankRef, 0}, "银行参考号": {colBankRef, 0},
	"bank reference": {colBankRef, 0}, "bank ref": {colBankRef, 0},

	"账号": {colAccount, 0}, "account": {colAccount, 0}, "卡号": {colAccount, 0}, "account number": {colAccount, 0},
}

var statuses = map[string]string{
	"成功": StatusSettled, "已入账": StatusSettled, "入账成功": StatusSettled, "交易成功": StatusSettled,
	"处理成功": StatusSettled, "success": StatusSettled, "succeeded": StatusSettled,
	"successful": StatusSettled, "ok": StatusSettled, "settled": StatusSettled, "paid": StatusSettled,

	"失败": StatusFailed, "退回": StatusFailed, "已退回": StatusFailed, "退票": StatusFailed,
	"交易失败": StatusFailed, "处理失败": StatusFailed, "failed": StatusFailed, "fail": StatusFailed,
	"rejected": StatusFailed, "returned": StatusFailed,
}

// totalLabels start a control-total line.
var totalLabels = map[string]bool{"合计": true, "总计": true, "total": true}

// nameKeys returns the normalised forms of a header or label: the whole
// text, and for "中文(English)" each part.
func nameKeys(s string) []string {
	keys := []string{normName(s)}
	if i := strings.IndexAny(s, "(（"); i > 0 {
		outer, inner := s[:i], s[i:]
		_, size := utf8.DecodeRuneInString(inner)
		inner = strings.TrimRight(inner[size:], ")） ")
		keys = append(keys, normName(outer), normName(inner))
	}
	return keys
}

// normName lower-cases s, treats "_" and "-" as spaces, collapses spaces and
// drops required-field stars and a trailing colon.
func normName(s string) string {
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

// parser turns rows into return lines, collecting every problem.
type parser struct {
	gb18030  bool
	cols     [numCols]int // column index of each field, -1 if absent
	width    int          // fields in the header
	problems []LineProblem
}

func (p *parser) problem(lineNo int, field, format string, args ...any) {
	p.problems = append(p.problems, LineProblem{LineNo: lineNo, Field: field, Reason: fmt.Sprintf(format, args...)})
}

func (p *parser) parse(rows []row) []ReturnLine {
	lines := make([]ReturnLine, 0, len(rows))
	header := true
	pendingTotal := 0 // line of a control-total line not yet known to be the last
	for _, r := range rows {
		for i, f := range r.fields {
			r.fields[i] = strings.TrimFunc(f, unicode.IsSpace)
		}
		if r.err == "" && isBlank(r.fields) {
			continue
		}
		if header {
			header = false
			if r.err != "" {
				p.problem(r.no, "header", "%s", r.err)
				return nil
			}
			if !p.header(r) {
				return nil
			}
			continue
		}
		if pendingTotal != 0 {
			p.problem(pendingTotal, "line", "a total line (合计/总计/total) may only be the last line")
			pendingTotal = 0
		}
		if r.err != "" {
			p.problem(r.no, "line", "%s", r.err)
			continue
		}
		if isTotal(r.fields) {
			pendingTotal = r.no
			continue
		}
		if l, ok := p.line(r); ok {
			lines = append(lines, l)
		}
	}
	if header {
		p.problem(1, "header", "the file has no header line")
	}
	return lines
}

// header maps the columns of the header row; it reports false if the
// required ones are not all there, unambiguously.
func (p *parser) header(r row) bool {
	type candidate struct {
		index, rank int
		name        string
	}
	var found [numCols][]candidate
	for i, f := range r.fields {
		if p.gb18030 && strings.ContainsRune(f, utf8.RuneError) {
			p.problem(r.no, "encoding", "column %d holds bytes that are neither UTF-8 nor GB18030", i+1)
		}
		for _, k := range nameKeys(f) {
			if s, ok := synonyms[k]; ok {
				found[s.field] = append(found[s.field], candidate{i, s.rank, f})
				break
			}
		}
	}
	for f := range numCols {
		p.cols[f] = -1
		var best []candidate
		for _, c := range found[f] {
			switch {
			case len(best) == 0 || c.rank < best[0].rank:
				best = []candidate{c}
			case c.rank == best[0].rank:
				best = append(best, c)
			}
		}
		switch {
		case len(best) == 1:
			p.cols[f] = best[0].index
		case len(best) > 1:
			p.problem(r.no, colNames[f], "columns %d (%s) and %d (%s) both name the %s; keep one",
				best[0].index+1, best[0].name, best[1].index+1, best[1].name, colNames[f])
		case f <= colStatus:
			p.problem(r.no, colNames[f], "no column for the %s; name one %s", colNames[f], knownNames(f))
		}
	}
	p.width = len(r.fields)
	return len(p.problems) == 0
}

// knownNames lists the header names of field f, for messages.
func knownNames(f colField) string {
	var names []string
	for n, s := range synonyms {
		if s.field == f {
			names = append(names, n)
		}
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(cmp.Compare(synonyms[a].rank, synonyms[b].rank), cmp.Compare(a, b))
	})
	return strings.Join(names, ", ")
}

// line checks one payment line, reporting each problem it finds.
func (p *parser) line(r row) (ReturnLine, bool) {
	before := len(p.problems)
	get := func(f colField) string {
		if i := p.cols[f]; i >= 0 && i < len(r.fields) {
			return r.fields[i]
		}
		return ""
	}
	if p.gb18030 && slices.ContainsFunc(r.fields, func(s string) bool { return strings.ContainsRune(s, utf8.RuneError) }) {
		p.problem(r.no, "encoding", "holds bytes that are neither UTF-8 nor GB18030")
	}
	if len(r.fields) > p.width && !isBlank(r.fields[p.width:]) {
		p.problem(r.no, "line", "has %d fields but the header has %d; quote fields that contain a comma", len(r.fields), p.width)
	}
	l := ReturnLine{LineNo: r.no, Reference: get(colReference), Reason: get(colReason), BankReference: get(colBankRef)}
	if l.Reference == "" {
		p.problem(r.no, "reference", "is empty")
	}
	if s := get(colAmount); s == "" {
		p.problem(r.no, "amount", "is empty")
	} else if m, err := domain.ParseMoney("amount", s); err != nil {
		var fe *domain.FieldError
		if errors.As(err, &fe) {
			p.problem(r.no, "amount", "%s", fe.Reason)
		} else {
			p.problem(r.no, "amount", "%v", err)
		}
	} else {
		l.Amount = m
	}
	if s := get(colStatus); s == "" {
		p.problem(r.no, "status", "is empty")
	} else if st, ok := statuses[strings.ToLower(s)]; ok {
		l.Status = st
	} else {
		p.problem(r.no, "status", "%q is not a known status; settled: 成功, 已入账, success, ok, settled, ...; failed: 失败, 退回, failed, rejected, returned, ...", s)
	}
	return l, len(p.problems) == before
}

func isBlank(fields []string) bool {
	for _, f := range fields {
		if f != "" {
			return false
		}
	}
	return true
}

// isTotal reports whether the first non-empty field is a total label.
func isTotal(fields []string) bool {
	for _, f := range fields {
		if f == "" {
			continue
		}
		// Most lines start with a reference: skip them cheaply.
		if !strings.HasPrefix(f, "合计") && !strings.HasPrefix(f, "总计") &&
			(len(f) < 5 || !strings.EqualFold(f[:5], "total")) {
			return false
		}
		for _, k := range nameKeys(f) {
			if totalLabels[k] {
				return true
			}
		}
		return false
	}
	return false
}
