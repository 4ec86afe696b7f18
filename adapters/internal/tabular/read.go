// Package tabular reads the spreadsheets other parties send the federation
// — a bank's return file, a department's roster — as rows of text, shared
// by the adapters that parse them.
//
// Read tells the format by content, not by name: a zip archive
// ("PK\x03\x04") is XLSX, and its first sheet is read with every cell as the
// text stored in the file; anything else is CSV (comma separated, RFC 4180
// quoting). CSV that is valid UTF-8 is read as UTF-8, with or without a
// byte-order mark; otherwise it is decoded as GB18030 (which covers GBK and
// GB2312). UTF-16 and legacy .xls files are refused with a clear message.
//
// Table.Walk then visits the rows as both parsers read them: the first
// non-blank row is the header, blank rows are skipped, and a control-total
// row (合计, 总计, total) is skipped when it is the last. Columns finds the
// header's columns by name (NameKeys). Problems are collected, never
// returned one at a time: a file with any problem is a *FileError listing
// them all, and nothing of it is used.
//
// It never opens files, talks to a database or logs.
package tabular

import (
	"bytes"
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
)

// Source describes a file to read: how to name it in messages and how
// large it may be.
type Source struct {
	Kind        string // what the file is, in messages: "bank return file", "roster"
	Name        string // the name the caller gave the file
	MaxSize     int    // the largest file accepted, in bytes
	MaxUnzipped int    // the largest unpacked size of an XLSX workbook, in bytes
}

// Table is a file read as rows of text.
type Table struct {
	Source
	XLSX    bool // a workbook; else CSV
	GB18030 bool // CSV decoded from GB18030; else UTF-8 (XLSX is always UTF-8)
	Rows    []Row
}

// Row is one record of a CSV file or one row of a sheet.
type Row struct {
	No     int      // 1-based line of the CSV where the record starts, or row of the sheet
	Fields []string // the cells, as written
	Err    string   // if set, why the record could not be split into fields
}

// Field returns field i of the row, or "" if i is negative (a column the
// header lacks) or the row is shorter.
func (r Row) Field(i int) string {
	if i >= 0 && i < len(r.Fields) {
		return r.Fields[i]
	}
	return ""
}

// Read reads a file from r and splits it into rows, detecting its format
// and encoding as the package documentation describes. A file that cannot
// be read as a table (too large, empty, UTF-16, legacy .xls, a damaged
// workbook) is a *FileError with one problem. An error reading r is
// returned wrapped, as is.
func Read(r io.Reader, src Source) (*Table, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(src.MaxSize)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s %q: %w", src.kind(), src.Name, err)
	}
	t := &Table{Source: src}
	fail := func(lineNo int, field, format string, args ...any) (*Table, error) {
		var ps Problems
		ps.Add(lineNo, field, format, args...)
		return nil, t.Err(ps)
	}
	switch {
	case len(data) > src.MaxSize:
		return fail(0, "file", "is larger than %d MiB", src.MaxSize>>20)
	case len(bytes.TrimSpace(data)) == 0:
		return fail(1, "header", "the file is empty; expected a header line")
	case bytes.HasPrefix(data, []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")):
		return fail(0, "file", "is a legacy .xls workbook or an encrypted one; save it as .xlsx or CSV without a password")
	case bytes.HasPrefix(data, []byte("\xff\xfe")) || bytes.HasPrefix(data, []byte("\xfe\xff")):
		return fail(0, "file", "is UTF-16 text; save it as CSV in UTF-8 or GB18030")
	}

	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		t.XLSX = true
		if t.Rows, err = xlsxRows(data, src.MaxUnzipped); err != nil {
			return fail(0, "file", "is not a readable XLSX workbook: %v", err)
		}
		return t, nil
	}
	if utf8.Valid(data) {
		data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	} else {
		t.GB18030 = true
		if data, err = simplifiedchinese.GB18030.NewDecoder().Bytes(data); err != nil {
			return fail(0, "encoding", "is neither UTF-8 nor GB18030: %v", err)
		}
		data = bytes.TrimPrefix(data, []byte("\ufeff"))
	}
	t.Rows = csvRows(data)
	return t, nil
}

func (s Source) kind() string {
	if s.Kind == "" {
		return "file"
	}
	return s.Kind
}

// Err returns nil if ps is empty, else a *FileError for the file listing
// them.
func (t *Table) Err(ps Problems) error {
	if len(ps) == 0 {
		return nil
	}
	return &FileError{Kind: t.Kind, Name: t.Name, Problems: ps}
}

// Undecodable reports whether s holds bytes the GB18030 decoder could not
// read (decoded as U+FFFD). A UTF-8 file is valid throughout, so it never
// does.
func (t *Table) Undecodable(s string) bool {
	return t.GB18030 && strings.ContainsRune(s, utf8.RuneError)
}

// Walk visits the rows as both parsers read them. It trims space around
// every field and skips blank rows. The first non-blank row goes to
// header, which reports false if the file cannot be read on; every later
// row goes to line, except a control-total row (IsTotal) that is the last
// non-blank row. Walk itself adds to ps: a row that could not be split;
// text that is neither UTF-8 nor GB18030; a row with more non-empty fields
// than the header; a control-total row that is not the last; a file with
// no header. A header with such a problem ends the walk.
func (t *Table) Walk(ps *Problems, header func(Row) bool, line func(Row)) {
	inHeader := true
	width := 0
	pendingTotal := 0 // line of a control-total row not yet known to be the last
	for _, r := range t.Rows {
		for i, f := range r.Fields {
			r.Fields[i] = strings.TrimFunc(f, unicode.IsSpace)
		}
		if r.Err == "" && IsBlank(r.Fields) {
			continue
		}
		if inHeader {
			inHeader = false
			if r.Err != "" {
				ps.Add(r.No, "header", "%s", r.Err)
				return
			}
			for i, f := range r.Fields {
				if t.Undecodable(f) {
					ps.Add(r.No, "encoding", "column %d holds bytes that are neither UTF-8 nor GB18030", i+1)
				}
			}
			if !header(r) || len(*ps) > 0 {
				return
			}
			width = len(r.Fields)
			continue
		}
		if pendingTotal != 0 {
			ps.Add(pendingTotal, "line", "a total line (合计/总计/total) may only be the last line")
			pendingTotal = 0
		}
		if r.Err != "" {
			ps.Add(r.No, "line", "%s", r.Err)
			continue
		}
		if IsTotal(r.Fields) {
			pendingTotal = r.No
			continue
		}
		if slices.ContainsFunc(r.Fields, t.Undecodable) {
			ps.Add(r.No, "encoding", "holds bytes that are neither UTF-8 nor GB18030")
		}
		if len(r.Fields) > width && !IsBlank(r.Fields[width:]) {
			ps.Add(r.No, "line", "has %d fields but the header has %d; quote fields that contain a comma", len(r.Fields), width)
		}
		line(r)
	}
	if inHeader {
		ps.Add(1, "header", "the file has no header line")
	}
}

// IsBlank reports whether every field is empty.
func IsBlank(fields []string) bool {
	for _, f := range fields {
		if f != "" {
			return false
		}
	}
	return true
}

// totalLabels start a control-total row.
var totalLabels = map[string]bool{"合计": true, "总计": true, "total": true}

// IsTotal reports whether the first non-empty field is a control-total
// label: 合计, 总计 or total, also in the form 合计(Total) or followed by a
// colon.
func IsTotal(fields []string) bool {
	for _, f := range fields {
		if f == "" {
			continue
		}
		// Most lines start with something else: skip them cheaply.
		if !strings.HasPrefix(f, "合计") && !strings.HasPrefix(f, "总计") &&
			(len(f) < 5 || !strings.EqualFold(f[:5], "total")) {
			return false
		}
		for _, k := range NameKeys(f) {
			if totalLabels[k] {
				return true
			}
		}
		return false
	}
	return false
}

// csvRows splits text into records. A record that breaks the quoting rules
// becomes a row with Err set, and reading goes on at the next line.
func csvRows(text []byte) []Row {
	cr := csv.NewReader(bytes.NewReader(text))
	cr.FieldsPerRecord = -1
	rows := make([]Row, 0, bytes.Count(text, []byte("\n"))+1)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return rows
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				// bytes.Reader does not fail; keep the parser honest anyway.
				return append(rows, Row{No: max(1, len(rows)+1), Err: err.Error()})
			}
			rows = append(rows, Row{No: pe.StartLine, Err: fmt.Sprintf("breaks the CSV quoting rules at line %d, column %d: %v", pe.Line, pe.Column, pe.Err)})
			continue
		}
		no, _ := cr.FieldPos(0)
		rows = append(rows, Row{No: no, Fields: rec})
	}
}

// xlsxRows reads the first sheet of the workbook in data, unpacking at
// most maxUnzipped bytes. Every part is kept in memory: excelize spills
// parts above its XML limit to temporary files, and the adapters do not
// touch the file system. Cells come as the text stored in the file (raw
// values), so a number cell is its decimal text and never passes through
// float64, and a date cell is its serial number.
func xlsxRows(data []byte, maxUnzipped int) (rows []Row, err error) {
	defer func() {
		// excelize parses untrusted input; a panic on a damaged workbook
		// must not take the server down with it.
		if p := recover(); p != nil {
			rows, err = nil, fmt.Errorf("the workbook is damaged (%v)", p)
		}
	}()
	x, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{
		UnzipSizeLimit:    int64(maxUnzipped),
		UnzipXMLSizeLimit: int64(maxUnzipped),
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
		rows = append(rows, Row{No: no, Fields: cells})
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	return rows, nil
}
