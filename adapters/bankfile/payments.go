package bankfile

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/domain"
)

// Format is a bank file format: CSV or XLSX. The zero Format is invalid.
type Format struct{ name string }

// The file formats.
var (
	CSV  = Format{"csv"}
	XLSX = Format{"xlsx"}
)

func (f Format) String() string { return f.name }

// ParseFormat parses "csv" or "xlsx" (any case), e.g. from a CLI flag.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "csv":
		return CSV, nil
	case "xlsx":
		return XLSX, nil
	}
	return Format{}, domain.Invalid("format", "%q is not a bank file format; use csv or xlsx", s)
}

// Encoding is the character encoding of a CSV bank file: UTF8 or GB18030.
// The zero Encoding is invalid.
type Encoding struct{ name string }

// The character encodings.
var (
	UTF8    = Encoding{"utf-8"}
	GB18030 = Encoding{"gb18030"}
)

func (e Encoding) String() string { return e.name }

// ParseEncoding parses "utf-8" (or "utf8") or "gb18030" (any case).
func ParseEncoding(s string) (Encoding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "utf-8", "utf8":
		return UTF8, nil
	case "gb18030":
		return GB18030, nil
	}
	return Encoding{}, domain.Invalid("encoding", "%q is not a supported encoding; use utf-8 or gb18030", s)
}

// BatchHeader describes the batch a payment file pays. Count and Total are
// the control figures: they must equal the number and the sum of the lines.
type BatchHeader struct {
	BatchID string
	Program string
	Period  string // e.g. "2025-01"
	Count   int
	Total   domain.Money
}

// PaymentFileLine is one payment as the bank file carries it.
//
// AccountNumber is the full account number, which the bank needs to pay.
// It is sensitive (PIPL): callers decrypt it only to build the lines for one
// WritePayments call and drop them afterwards. This package writes it into
// the file and nowhere else — never into an error — the String, GoString
// and LogValue methods print AccountMasked instead, and JSON leaves it out,
// so a line that is printed, logged or marshalled by mistake does not leak it.
type PaymentFileLine struct {
	Reference     string // unique payment reference, echoed back in the bank's return file
	AccountName   string // 户名, the account holder's name as the bank has it
	AccountMasked string // for messages and logs, e.g. "622202******3445"
	AccountNumber string `json:"-"` // full number, digits only; written to the file only, never marshalled
	Amount        domain.Money
	Note          string // 备注, optional
}

// String shows the line without the full account number.
func (l PaymentFileLine) String() string {
	return fmt.Sprintf("{reference:%s account:%s amount:%s}", l.Reference, l.AccountMasked, l.Amount)
}

// GoString is String, so %#v does not print the account number either.
func (l PaymentFileLine) GoString() string { return "bankfile.PaymentFileLine" + l.String() }

// LogValue logs the line without the full account number.
func (l PaymentFileLine) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("reference", l.Reference),
		slog.String("account_masked", l.AccountMasked),
		slog.String("amount", l.Amount.String()),
	)
}

// The payment file's header fields and control-total label. See the package
// documentation for the layout.
var paymentHeader = []string{
	"付款参考号(Reference)",
	"户名(Account name)",
	"账号(Account number)",
	"金额(Amount)",
	"备注(Note)",
}

const (
	totalLabel = "合计(Total)"
	sheetName  = "付款明细"
	maxText    = 256 // characters in any text field of a payment file
)

// WritePayments writes the bank payment file for batch to w, in format f and,
// for CSV, in encoding enc. It validates the batch and every line first and
// returns a *domain.FieldError (wrapping domain.ErrInvalid) naming the field,
// e.g. "total" or "lines[3].amount", without writing anything; the file is
// built in memory and written to w in one piece.
func WritePayments(w io.Writer, f Format, enc Encoding, batch BatchHeader, lines []PaymentFileLine) error {
	switch f {
	case CSV:
		if enc != UTF8 && enc != GB18030 {
			return domain.Invalid("encoding", "is not set; use UTF8 or GB18030")
		}
	case XLSX:
		if enc != UTF8 {
			return domain.Invalid("encoding", "XLSX files are always UTF-8 inside; %s applies to CSV only", enc)
		}
	default:
		return domain.Invalid("format", "is not set; use CSV or XLSX")
	}
	if err := validatePayments(batch, lines); err != nil {
		return err
	}
	rows := paymentRows(batch, lines)

	var out []byte
	switch f {
	case CSV:
		var buf bytes.Buffer
		cw := csv.NewWriter(&buf)
		cw.UseCRLF = true
		if err := cw.WriteAll(rows); err != nil {
			return fmt.Errorf("write payment csv: %w", err)
		}
		out = buf.Bytes()
		if enc == GB18030 {
			var err error
			if out, err = simplifiedchinese.GB18030.NewEncoder().Bytes(out); err != nil {
				return fmt.Errorf("encode payment file as gb18030: %w", err)
			}
		}
	case XLSX:
		var err error
		if out, err = paymentXLSX(rows); err != nil {
			return err
		}
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("write payment file: %w", err)
	}
	return nil
}

// paymentRows lays out the header, the lines and the control total.
func paymentRows(batch BatchHeader, lines []PaymentFileLine) [][]string {
	rows := make([][]string, 0, len(lines)+2)
	rows = append(rows, paymentHeader)
	for _, l := range lines {
		rows = append(rows, []string{l.Reference, l.AccountName, l.AccountNumber, l.Amount.String(), l.Note})
	}
	return append(rows, []string{
		totalLabel,
		strconv.Itoa(batch.Count),
		"",
		batch.Total.String(),
		fmt.Sprintf("batch=%s;program=%s;period=%s", batch.BatchID, batch.Program, batch.Period),
	})
}

// paymentXLSX writes rows to one sheet, every cell an inline string in the
// text number format.
func paymentXLSX(rows [][]string) (_ []byte, err error) {
	x := excelize.NewFile()
	defer func() {
		if cerr := x.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close payment workbook: %w", cerr)
		}
	}()
	if err := x.SetSheetName("Sheet1", sheetName); err != nil {
		return nil, fmt.Errorf("name payment sheet: %w", err)
	}
	text, err := x.NewStyle(&excelize.Style{NumFmt: 49}) // 49 is "@", text
	if err != nil {
		return nil, fmt.Errorf("payment cell style: %w", err)
	}
	sw, err := x.NewStreamWriter(sheetName)
	if err != nil {
		return nil, fmt.Errorf("payment sheet writer: %w", err)
	}
	for i, width := range []float64{24, 16, 24, 14, 30} {
		if err := sw.SetColWidth(i+1, i+1, width); err != nil {
			return nil, fmt.Errorf("payment column width: %w", err)
		}
	}
	cells := make([]any, len(paymentHeader))
	for i, row := range rows {
		for j, v := range row {
			cells[j] = excelize.Cell{StyleID: text, Value: v}
		}
		ref, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := sw.SetRow(ref, cells); err != nil {
			return nil, fmt.Errorf("payment row %d: %w", i+1, err)
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, fmt.Errorf("flush payment sheet: %w", err)
	}
	buf, err := x.WriteToBuffer()
	if err != nil {
		return nil, fmt.Errorf("write payment workbook: %w", err)
	}
	return buf.Bytes(), nil
}

// validatePayments checks the batch header and every line; see the package
// documentation for the rules. Messages name a line by its reference and
// masked account, never by its account number.
func validatePayments(batch BatchHeader, lines []PaymentFileLine) error {
	for _, c := range []struct{ field, value string }{
		{"batch_id", batch.BatchID}, {"program", batch.Program}, {"period", batch.Period},
	} {
		if err := checkCode(c.field, c.value); err != nil {
			return err
		}
	}
	if len(lines) == 0 {
		return domain.Invalid("lines", "is empty; a payment file needs at least one payment")
	}
	seen := make(map[string]int, len(lines))
	var sum domain.Money
	for i, l := range lines {
		field := func(name string) func() string { return func() string { return fmt.Sprintf("lines[%d].%s", i, name) } }
		if err := checkReference(l.Reference); err != nil {
			return domain.Invalid(field("reference")(), "%s", err)
		}
		if j, dup := seen[l.Reference]; dup {
			return domain.Invalid(field("reference")(), "%q repeats lines[%d]; every payment needs its own reference", l.Reference, j)
		}
		seen[l.Reference] = i
		if l.AccountMasked != "" && l.AccountMasked == l.AccountNumber {
			return domain.Invalid(field("account_masked")(), "payment %s: equals the full account number; mask it", l.Reference)
		}
		if err := checkText(field("account_masked"), l.AccountMasked, true); err != nil {
			return err
		}
		who := func() string { return fmt.Sprintf("payment %s (account %s)", l.Reference, l.AccountMasked) }
		if err := checkText(field("account_name"), l.AccountName, true); err != nil {
			return err
		}
		if err := checkAccountNumber(l.AccountNumber); err != nil {
			return domain.Invalid(field("account_number")(), "%s: %v", who(), err)
		}
		if err := checkText(field("note"), l.Note, false); err != nil {
			return err
		}
		if l.Amount.IsZero() {
			return domain.Invalid(field("amount")(), "%s: is 0.00; a bank cannot pay nothing", who())
		}
		sum = sum.Add(l.Amount)
	}
	if batch.Count != len(lines) {
		return domain.Invalid("count", "is %d but the file has %d lines", batch.Count, len(lines))
	}
	if !batch.Total.Equal(sum) {
		return domain.Invalid("total", "is %s but the lines add up to %s", batch.Total, sum)
	}
	return nil
}

// MaxReferenceLen is the longest payment reference a payment file carries:
// banks copy it into a remark field, commonly limited to 32 characters.
const MaxReferenceLen = 32

// checkReference accepts 1 to MaxReferenceLen ASCII letters, digits and -.
func checkReference(s string) error {
	switch {
	case s == "":
		return errors.New("is empty")
	case len(s) > MaxReferenceLen:
		return fmt.Errorf("%.40q has %d characters; a bank's remark field takes at most %d", s, len(s), MaxReferenceLen)
	case strings.ContainsFunc(s, func(r rune) bool {
		return r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-')
	}):
		return fmt.Errorf("%.40q: only ASCII letters, digits and - are allowed", s)
	}
	return nil
}

// checkCode accepts 1 to 64 ASCII letters, digits and . _ : -.
func checkCode(field, s string) error {
	if s == "" {
		return domain.Invalid(field, "is empty")
	}
	if len(s) > 64 {
		return domain.Invalid(field, "is longer than 64 characters")
	}
	for _, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == ':' || r == '-'
		if !ok {
			return domain.Invalid(field, "%q contains %q; use ASCII letters, digits and . _ : -", s, r)
		}
	}
	return nil
}

// checkText accepts text a bank system and a spreadsheet read safely;
// field names the field, and is called only when the text is refused.
func checkText(field func() string, s string, required bool) error {
	bad := func(format string, args ...any) error { return domain.Invalid(field(), format, args...) }
	switch {
	case s == "":
		if required {
			return bad("is empty")
		}
		return nil
	case !utf8.ValidString(s):
		return bad("is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxText:
		return bad("is longer than %d characters", maxText)
	case strings.TrimSpace(s) != s:
		return bad("%q has leading or trailing spaces", s)
	case strings.ContainsFunc(s, unicode.IsControl):
		return bad("%q contains a control character (line break, tab, ...)", s)
	case strings.ContainsAny(s[:1], "=+-@"):
		return bad("%q starts with %q, which a spreadsheet would run as a formula", s, s[:1])
	}
	return nil
}

// checkAccountNumber accepts 6 to 40 ASCII digits. Its errors never quote the
// number.
func checkAccountNumber(number string) error {
	switch {
	case number == "":
		return fmt.Errorf("the account number is empty")
	case len(number) < 6 || len(number) > 40:
		return fmt.Errorf("the account number has %d characters; expected 6 to 40 digits", len(number))
	case strings.ContainsFunc(number, func(r rune) bool { return r < '0' || r > '9' }):
		return fmt.Errorf("the account number must be digits only")
	}
	return nil
}
