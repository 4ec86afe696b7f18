package reports

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"io"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/sheet"
)

// ChangesFormat is the file format of a change notice.
type ChangesFormat string

// The formats.
const (
	ChangesCSV  ChangesFormat = "csv"
	ChangesXLSX ChangesFormat = "xlsx"
)

// ParseChangesFormat parses "csv" or "xlsx".
func ParseChangesFormat(field, s string) (ChangesFormat, error) {
	switch ChangesFormat(s) {
	case ChangesCSV, ChangesXLSX:
		return ChangesFormat(s), nil
	case "":
		return "", domain.Invalid(field, "is required: csv or xlsx")
	}
	return "", domain.Invalid(field, "%q is neither csv nor xlsx", s)
}

// DefaultChangesFormat is the format of a notice when none is asked for:
// XLSX, with every cell text, for a recipient that gets full ID numbers
// (a spreadsheet opening a CSV turns an 18-digit number into
// 3.60427195111083e+17 and loses its last digits), else CSV.
func DefaultChangesFormat(d domain.Department) ChangesFormat {
	if ChangesPolicyFor(d).FullIDs {
		return ChangesXLSX
	}
	return ChangesCSV
}

// ContentType is the file's media type.
func (f ChangesFormat) ContentType() string {
	if f == ChangesXLSX {
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	}
	return "text/csv; charset=utf-8"
}

// ChangesFilename is the file name of a notice, ASCII only:
// change-notice-<notice ID>.<format>.
func ChangesFilename(noticeID string, f ChangesFormat) string {
	return "change-notice-" + noticeID + "." + string(f)
}

// WriteChanges writes the notice to w in format f, built in memory first so
// an error writes nothing.
//
// CSV: UTF-8 with a byte-order mark (Excel, and WPS, otherwise read UTF-8
// as the local GBK code page and garble every Chinese name), comma
// separated, RFC 4180 quoting, CRLF line ends. Line 1 is the title
// (notice ID, recipient, township, window, issue date, row count, whether
// ID numbers are full), padded to the header's width so strict readers
// accept it; line 2 the bilingual header; then one line per change, by
// township and then in recording order. A cell that a spreadsheet would
// run as a formula (starting with = + - @, a tab or a carriage return) is
// prefixed with an apostrophe.
//
// XLSX: one sheet, 变动通知, with the same title and header rows, then for
// each township a group row ("乡镇(Township) 白鹿镇: 3") followed by its
// changes. Every cell is a string in the text number format "@", so ID
// numbers and dates stay exactly as written.
func WriteChanges(w io.Writer, f ChangesFormat, n ChangesNotice) error {
	title, header, rows, err := changesTable(n)
	if err != nil {
		return err
	}
	var out []byte
	switch f {
	case ChangesCSV:
		out, err = changesCSV(title, header, rows)
	case ChangesXLSX:
		out, err = changesXLSX(n, title, header, rows)
	default:
		return domain.Invalid("format", "%q is neither csv nor xlsx", f)
	}
	if err != nil {
		return err
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write change notice: %w", err)
	}
	return nil
}

// changesBOM is the UTF-8 byte-order mark.
const changesBOM = "\ufeff"

func changesCSV(title, header []string, rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(changesBOM)
	cw := csv.NewWriter(&buf)
	cw.UseCRLF = true
	for _, r := range append([][]string{title, header}, rows...) {
		safe := make([]string, len(r))
		for i, v := range r {
			safe[i] = sheet.SafeCell(v) // names and townships are typed by people
		}
		if err := cw.Write(safe); err != nil {
			return nil, fmt.Errorf("write change notice csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return nil, fmt.Errorf("write change notice csv: %w", err)
	}
	return buf.Bytes(), nil
}

// ChangesSheet is the name of the notice's one XLSX sheet.
const ChangesSheet = "变动通知"

func changesXLSX(n ChangesNotice, title, header []string, rows [][]string) (_ []byte, err error) {
	x := excelize.NewFile()
	defer func() {
		if cerr := x.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close change notice workbook: %w", cerr)
		}
	}()
	if err := x.SetSheetName("Sheet1", ChangesSheet); err != nil {
		return nil, fmt.Errorf("name change notice sheet: %w", err)
	}
	text, err := x.NewStyle(&excelize.Style{NumFmt: 49}) // "@": text
	if err != nil {
		return nil, fmt.Errorf("change notice style: %w", err)
	}
	bold, err := x.NewStyle(&excelize.Style{NumFmt: 49, Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, fmt.Errorf("change notice style: %w", err)
	}
	sw, err := x.NewStreamWriter(ChangesSheet)
	if err != nil {
		return nil, fmt.Errorf("change notice sheet writer: %w", err)
	}
	for i, col := range n.Policy.Columns {
		width := 14.0
		switch col {
		case ChangesColIDNumber, ChangesColChange, ChangesColProgram:
			width = 26
		case ChangesColDetails:
			width = 48
		}
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return nil, fmt.Errorf("change notice column width: %w", err)
		}
	}
	next := 1
	put := func(style int, cells []string) error {
		row := make([]any, len(cells))
		for i, v := range cells {
			row[i] = excelize.Cell{StyleID: style, Value: v}
		}
		ref, _ := excelize.CoordinatesToCellName(1, next)
		next++
		if err := sw.SetRow(ref, row); err != nil {
			return fmt.Errorf("change notice row %d: %w", next-1, err)
		}
		return nil
	}
	if err := put(bold, title); err != nil {
		return nil, err
	}
	if err := put(bold, header); err != nil {
		return nil, err
	}
	for i := 0; i < len(rows); {
		township := n.Lines[i].Township
		j := i
		for j < len(rows) && n.Lines[j].Township == township {
			j++
		}
		name := township
		if name == "" {
			name = "(未登记 unregistered)"
		}
		if err := put(bold, []string{fmt.Sprintf("%s %s: %d", changesHeaders[ChangesColTownship], name, j-i)}); err != nil {
			return nil, err
		}
		for ; i < j; i++ {
			if err := put(text, rows[i]); err != nil {
				return nil, err
			}
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, fmt.Errorf("flush change notice sheet: %w", err)
	}
	buf, err := x.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("write change notice workbook: %w", err)
	}
	return buf.Bytes(), nil
}
