package bankfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/domain"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenBatch is the batch of the golden payment files: a name with a
// middle dot, a note with a comma (quoted) and a name outside GBK (𪚥,
// four bytes in GB18030).
func goldenBatch() (BatchHeader, []PaymentFileLine) {
	lines := []PaymentFileLine{
		{Reference: "P-2025-01-0001", AccountName: "张三", AccountMasked: "622202*********3445", AccountNumber: "6222020200112233445", Amount: domain.MustMoney("110.00"), Note: "2025年1月生活补贴"},
		{Reference: "P-2025-01-0002", AccountName: "李四", AccountMasked: "621700*********0017", AccountNumber: "6217002020000000017", Amount: domain.MustMoney("220"), Note: "生活补贴+护理补贴"},
		{Reference: "P-2025-01-0003", AccountName: "阿依古丽·买买提", AccountMasked: "623059*********5678", AccountNumber: "6230591234567895678", Amount: domain.MustMoney("10.5"), Note: "补发,2024年12月"},
		{Reference: "P-2025-01-0004", AccountName: "王𪚥", AccountMasked: "622848*********0001", AccountNumber: "6228480000000000001", Amount: domain.MustMoney("0.01")},
	}
	return BatchHeader{BatchID: "B-2025-01-01", Program: "living_subsidy", Period: "2025-01", Count: 4, Total: domain.MustMoney("340.51")}, lines
}

func golden(t *testing.T, name string, got []byte) []byte {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n got: %q\nwant: %q", name, got, want)
	}
	return want
}

const wantPaymentCSV = "付款参考号(Reference),户名(Account name),账号(Account number),金额(Amount),备注(Note)\r\n" +
	"P-2025-01-0001,张三,6222020200112233445,110.00,2025年1月生活补贴\r\n" +
	"P-2025-01-0002,李四,6217002020000000017,220.00,生活补贴+护理补贴\r\n" +
	"P-2025-01-0003,阿依古丽·买买提,6230591234567895678,10.50,\"补发,2024年12月\"\r\n" +
	"P-2025-01-0004,王𪚥,6228480000000000001,0.01,\r\n" +
	"合计(Total),4,,340.51,batch=B-2025-01-01;program=living_subsidy;period=2025-01\r\n"

func TestWritePaymentsCSVGolden(t *testing.T) {
	batch, lines := goldenBatch()

	var u bytes.Buffer
	if err := WritePayments(&u, CSV, UTF8, batch, lines); err != nil {
		t.Fatal(err)
	}
	if u.String() != wantPaymentCSV {
		t.Errorf("UTF-8 file:\n got %q\nwant %q", u.String(), wantPaymentCSV)
	}
	golden(t, "payments.utf8.csv", u.Bytes())

	var g bytes.Buffer
	if err := WritePayments(&g, CSV, GB18030, batch, lines); err != nil {
		t.Fatal(err)
	}
	golden(t, "payments.gb18030.csv", g.Bytes())
	if utf8.Valid(g.Bytes()) {
		t.Error("the GB18030 file is valid UTF-8; it was not encoded")
	}
	if !bytes.HasPrefix(g.Bytes(), []byte("\xb8\xb6\xbf\xee")) { // 付款 in GBK
		t.Errorf("GB18030 file starts % x, want 付款 as GBK b8b6 bfee", g.Bytes()[:4])
	}
	back, err := simplifiedchinese.GB18030.NewDecoder().Bytes(g.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if string(back) != wantPaymentCSV {
		t.Errorf("GB18030 file decodes to\n%q\nwant\n%q", back, wantPaymentCSV)
	}
	// Only 𪚥 (outside GBK) takes four bytes; everything else is plain GBK.
	if gbk, err := simplifiedchinese.GBK.NewEncoder().String(strings.ReplaceAll(wantPaymentCSV, "𪚥", "")); err != nil {
		t.Fatal(err)
	} else if len(gbk)+4 != g.Len() {
		t.Errorf("GB18030 file has %d bytes; GBK plus one four-byte character is %d", g.Len(), len(gbk)+4)
	}
}

func TestWritePaymentsXLSXCellsAreText(t *testing.T) {
	batch, lines := goldenBatch()
	var buf bytes.Buffer
	if err := WritePayments(&buf, XLSX, UTF8, batch, lines); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("PK\x03\x04")) {
		t.Fatal("not a zip archive")
	}
	x, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if got := x.GetSheetList(); len(got) != 1 || got[0] != "付款明细" {
		t.Fatalf("sheets %q, want [付款明细]", got)
	}
	rows, err := x.GetRows("付款明细", excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"付款参考号(Reference)", "户名(Account name)", "账号(Account number)", "金额(Amount)", "备注(Note)"},
		{"P-2025-01-0001", "张三", "6222020200112233445", "110.00", "2025年1月生活补贴"},
		{"P-2025-01-0002", "李四", "6217002020000000017", "220.00", "生活补贴+护理补贴"},
		{"P-2025-01-0003", "阿依古丽·买买提", "6230591234567895678", "10.50", "补发,2024年12月"},
		{"P-2025-01-0004", "王𪚥", "6228480000000000001", "0.01"}, // excelize drops a trailing empty cell
		{"合计(Total)", "4", "", "340.51", "batch=B-2025-01-01;program=living_subsidy;period=2025-01"},
	}
	if fmt.Sprint(rows) != fmt.Sprint(want) {
		t.Fatalf("rows\n%q\nwant\n%q", rows, want)
	}
	for r, row := range want {
		for c, v := range row {
			if v == "" {
				continue
			}
			cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
			typ, err := x.GetCellType("付款明细", cell)
			if err != nil {
				t.Fatal(err)
			}
			if typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
				t.Errorf("cell %s (%q) has type %v, want a string cell", cell, v, typ)
			}
			style, err := x.GetCellStyle("付款明细", cell)
			if err != nil {
				t.Fatal(err)
			}
			if s, err := x.GetStyle(style); err != nil || s.NumFmt != 49 {
				t.Errorf("cell %s has number format %v (%v), want 49 (text)", cell, s, err)
			}
		}
	}
	if v, _ := x.GetCellValue("付款明细", "D2"); v != "110.00" {
		t.Errorf("D2 shows %q, want 110.00", v)
	}
}

func TestWritePaymentsRefusesBadInputAndWritesNothing(t *testing.T) {
	const secret = "6222020200112233445"
	tests := []struct {
		name      string
		format    Format
		enc       Encoding
		change    func(*BatchHeader, []PaymentFileLine) []PaymentFileLine
		wantField string
	}{
		{"control total off by a fen", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			b.Total = domain.MustMoney("340.50")
			return l
		}, "total"},
		{"count differs", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { b.Count = 5; return l }, "count"},
		{"no lines", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			b.Count, b.Total = 0, domain.Money{}
			return nil
		}, "lines"},
		{"XLSX in GB18030", XLSX, GB18030, nil, "encoding"},
		{"zero format", Format{}, UTF8, nil, "format"},
		{"zero encoding", CSV, Encoding{}, nil, "encoding"},
		{"empty batch ID", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { b.BatchID = ""; return l }, "batch_id"},
		{"period with a semicolon", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { b.Period = "2025-01;x=1"; return l }, "period"},
		{"repeated reference", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			l[2].Reference = l[0].Reference
			return l
		}, "lines[2].reference"},
		{"reference with a space", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[1].Reference = "P 1"; return l }, "lines[1].reference"},
		{"reference too long for a bank's remark field", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			l[1].Reference = strings.Repeat("a", MaxReferenceLen+1)
			return l
		}, "lines[1].reference"},
		{"reference with a dot", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[1].Reference = "P.1"; return l }, "lines[1].reference"},
		{"zero amount", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			l[3].Amount, b.Total = domain.Money{}, domain.MustMoney("340.50")
			return l
		}, "lines[3].amount"},
		{"account number with letters", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			l[0].AccountNumber = secret + "X"
			return l
		}, "lines[0].account_number"},
		{"account number too short", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[0].AccountNumber = "12345"; return l }, "lines[0].account_number"},
		{"account number missing", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[0].AccountNumber = ""; return l }, "lines[0].account_number"},
		{"masked account is the full number", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			l[0].AccountMasked = secret
			return l
		}, "lines[0].account_masked"},
		{"no masked account", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[0].AccountMasked = ""; return l }, "lines[0].account_masked"},
		{"empty account name", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[1].AccountName = ""; return l }, "lines[1].account_name"},
		{"name with a trailing space", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[1].AccountName = "李四 "; return l }, "lines[1].account_name"},
		{"note with a line break", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[1].Note = "a\nb"; return l }, "lines[1].note"},
		{"note that is a formula", XLSX, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			l[1].Note = "=HYPERLINK(\"http://x\")"
			return l
		}, "lines[1].note"},
		{"note too long", CSV, UTF8, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine {
			l[1].Note = strings.Repeat("补", 257)
			return l
		}, "lines[1].note"},
		{"name not UTF-8", CSV, GB18030, func(b *BatchHeader, l []PaymentFileLine) []PaymentFileLine { l[1].AccountName = "\xff"; return l }, "lines[1].account_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			batch, lines := goldenBatch()
			if tt.change != nil {
				lines = tt.change(&batch, lines)
			}
			var buf bytes.Buffer
			err := WritePayments(&buf, tt.format, tt.enc, batch, lines)
			var fe *domain.FieldError
			if !errors.As(err, &fe) || !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %v, want a *domain.FieldError", err)
			}
			if fe.Field != tt.wantField {
				t.Errorf("field %q (%v), want %q", fe.Field, err, tt.wantField)
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %d bytes despite the error", buf.Len())
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error shows the full account number: %v", err)
			}
		})
	}
}

func TestPaymentFileLineNeverPrintsTheAccountNumber(t *testing.T) {
	_, lines := goldenBatch()
	l := lines[0]
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("paying", "line", l)
	js, err := json.Marshal(lines)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprint(l), fmt.Sprintf("%+v", struct{ L PaymentFileLine }{l}), string(js), fmt.Sprintf("%v %+v %#v %s", l, l, l, l), fmt.Sprint(lines), fmt.Sprintf("%+v", lines), logged.String(),
	} {
		if strings.Contains(out, l.AccountNumber) {
			t.Errorf("printed the account number: %s", out)
		}
		if !strings.Contains(out, l.AccountMasked) {
			t.Errorf("printed no masked account: %s", out)
		}
	}
}

func TestParseFormatAndEncoding(t *testing.T) {
	for s, want := range map[string]Format{"csv": CSV, "XLSX": XLSX} {
		if got, err := ParseFormat(s); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %v, %v", s, got, err)
		}
	}
	for s, want := range map[string]Encoding{"utf-8": UTF8, "UTF8": UTF8, "gb18030": GB18030} {
		if got, err := ParseEncoding(s); err != nil || got != want {
			t.Errorf("ParseEncoding(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := ParseFormat("xls"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ParseFormat(xls) = %v", err)
	}
	if _, err := ParseEncoding("gbk"); !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("ParseEncoding(gbk) = %v", err)
	}
}

// The bank echoes our payment file with a status column: it reads back,
// whatever the encoding, and every payment settles.
func TestPaymentFileEchoedByTheBankReconciles(t *testing.T) {
	batch, lines := goldenBatch()
	var expected []Expected
	for _, l := range lines {
		expected = append(expected, Expected{Reference: l.Reference, Amount: l.Amount})
	}
	for _, enc := range []Encoding{UTF8, GB18030} {
		t.Run(enc.String(), func(t *testing.T) {
			var buf bytes.Buffer
			if err := WritePayments(&buf, CSV, UTF8, batch, lines); err != nil {
				t.Fatal(err)
			}
			recs := strings.Split(strings.TrimSuffix(buf.String(), "\r\n"), "\r\n")
			recs[0] += ",状态(Status),银行流水号"
			for i := 1; i < len(recs)-1; i++ {
				recs[i] += fmt.Sprintf(",成功,B%04d", i)
			}
			file := []byte(strings.Join(recs, "\r\n") + "\r\n")
			if enc == GB18030 {
				file = gb18030(t, string(file))
			}
			ret, err := ReadReturn(bytes.NewReader(file), "echo.csv")
			if err != nil {
				t.Fatal(err)
			}
			if ret.Encoding != enc || ret.Format != CSV {
				t.Errorf("detected %v %v, want csv %v", ret.Format, ret.Encoding, enc)
			}
			rec := Classify(expected, ret)
			if len(rec.Settled) != 4 || !rec.Totals.Settled.Total.Equal(batch.Total) {
				t.Fatalf("settled %d lines, %s; want 4, %s: %+v", len(rec.Settled), rec.Totals.Settled.Total, batch.Total, rec)
			}
			// 备注(Note) is taken as the reason: the bank had no better column.
			if got := rec.Settled[2]; got.Reason != "补发,2024年12月" || got.BankReference != "B0003" || got.LineNo != 4 {
				t.Errorf("line 4 read as %+v", got)
			}
		})
	}
}

func gb18030(t testing.TB, s string) []byte {
	t.Helper()
	b, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decodeGB(t testing.TB, b []byte) string {
	t.Helper()
	s, err := simplifiedchinese.GB18030.NewDecoder().Bytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(s)
}
