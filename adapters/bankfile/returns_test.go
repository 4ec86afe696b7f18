package bankfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/lushan-dpf/ledger/domain"
)

func line(no int, ref, amount, status, reason, bankRef string) ReturnLine {
	return ReturnLine{LineNo: no, Reference: ref, Amount: domain.MustMoney(amount), Status: status, Reason: reason, BankReference: bankRef}
}

func sameLines(t *testing.T, got, want []ReturnLine) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.LineNo != w.LineNo || g.Reference != w.Reference || !g.Amount.Equal(w.Amount) ||
			g.Status != w.Status || g.Reason != w.Reason || g.BankReference != w.BankReference {
			t.Errorf("line %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
}

func TestReadReturnFormats(t *testing.T) {
	tests := []struct {
		name     string
		file     func(t *testing.T) []byte
		format   Format
		encoding Encoding
		want     []ReturnLine
	}{{
		name: "UTF-8 with BOM, English headers, CRLF",
		file: func(*testing.T) []byte {
			return []byte("\ufeffReference,Amount,Status,Reason,Bank Reference\r\n" +
				"P-1,110.00,success,,B001\r\n" +
				"P-2,110.00,FAILED,account closed,B002\r\n" +
				"P-3,10.5,OK,,B003\r\n" +
				"Total,3,230.50,,\r\n")
		},
		format: CSV, encoding: UTF8,
		want: []ReturnLine{
			line(2, "P-1", "110.00", StatusSettled, "", "B001"),
			line(3, "P-2", "110.00", StatusFailed, "account closed", "B002"),
			line(4, "P-3", "10.50", StatusSettled, "", "B003"),
		},
	}, {
		name: "UTF-8 without BOM, LF",
		file: func(*testing.T) []byte {
			return []byte("reference,amount,status\nP-1,110,settled\n")
		},
		format: CSV, encoding: UTF8,
		want: []ReturnLine{line(2, "P-1", "110.00", StatusSettled, "", "")},
	}, {
		name: "GB18030 with Chinese headers and a 合计 line",
		file: func(t *testing.T) []byte {
			return gb18030(t, "流水号,户名,账号,交易金额,处理结果,失败原因,银行流水号\r\n"+
				"P-2025-01-0001,张三,6222020200112233445,110.00,成功,,20250125000001\r\n"+
				"P-2025-01-0002,李四,6217002020000000017,220.00,退回,账户已冻结,20250125000002\r\n"+
				"P-2025-01-0003,王𪚥,6228480000000000001,0.01,已入账,,20250125000003\r\n"+
				"合计,3,,330.01,,,\r\n")
		},
		format: CSV, encoding: GB18030,
		want: []ReturnLine{
			line(2, "P-2025-01-0001", "110.00", StatusSettled, "", "20250125000001"),
			line(3, "P-2025-01-0002", "220.00", StatusFailed, "账户已冻结", "20250125000002"),
			line(4, "P-2025-01-0003", "0.01", StatusSettled, "", "20250125000003"),
		},
	}, {
		name: "English headers in another order, synonyms, spaces and a total with a colon",
		file: func(*testing.T) []byte {
			return []byte("Result, Message ,BANK_REF,Amount,Account,Payment Reference,Extra\n" +
				"Returned,name mismatch,X9,50.00,6222********1234,P-9,whatever\n" +
				" ok ,, X10 , 60 ,6222********1235, P-10 ,\n" +
				"TOTAL:,,,110.00,,,\n")
		},
		format: CSV, encoding: UTF8,
		want: []ReturnLine{
			line(2, "P-9", "50.00", StatusFailed, "name mismatch", "X9"),
			line(3, "P-10", "60.00", StatusSettled, "", "X10"),
		},
	}, {
		name: "blank lines skipped, line numbers are physical, a quoted reason spans two lines",
		file: func(*testing.T) []byte {
			return []byte("\n参考号,金额,状态,原因,备注\n\nP-1,1.00,失败,\"户名不符\n请核实\",内部备注\n,,,,\n\nP-2,2.00,成功,,\n")
		},
		format: CSV, encoding: UTF8,
		want: []ReturnLine{
			// 原因 outranks 备注 for the reason.
			line(4, "P-1", "1.00", StatusFailed, "户名不符\n请核实", ""),
			line(8, "P-2", "2.00", StatusSettled, "", ""),
		},
	}, {
		name: "XLSX with Chinese headers, text and number amount cells",
		file: func(t *testing.T) []byte {
			return xlsxFile(t, [][]any{
				{"付款参考号", "金额", "状态", "失败原因", "银行参考号"},
				{"P-1", "110.00", "成功", nil, "B1"},
				{"P-2", 110.5, "失败", "账号不存在", "B2"},
				{"P-3", 7, "交易成功", nil, 12345},
				{"合计", "227.50"},
			})
		},
		format: XLSX, encoding: UTF8,
		want: []ReturnLine{
			line(2, "P-1", "110.00", StatusSettled, "", "B1"),
			line(3, "P-2", "110.50", StatusFailed, "账号不存在", "B2"),
			line(4, "P-3", "7.00", StatusSettled, "", "12345"),
		},
	}, {
		name: "our own bilingual header, the bank adding a status",
		file: func(*testing.T) []byte {
			return []byte("付款参考号(Reference),户名(Account name),账号(Account number),金额(Amount),备注(Note),状态（Status）\r\n" +
				"P-1,张三,6222020200112233445,110.00,1月,成功\r\n" +
				"合计(Total),1,,110.00,batch=B;program=p;period=2025-01,\r\n")
		},
		format: CSV, encoding: UTF8,
		want: []ReturnLine{line(2, "P-1", "110.00", StatusSettled, "1月", "")},
	}, {
		name:   "header only",
		file:   func(*testing.T) []byte { return []byte("reference,amount,status\r\n") },
		format: CSV, encoding: UTF8,
		want: nil,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ret, err := ReadReturn(bytes.NewReader(tt.file(t)), "return")
			if err != nil {
				t.Fatal(err)
			}
			if ret.Format != tt.format || ret.Encoding != tt.encoding {
				t.Errorf("detected %v/%v, want %v/%v", ret.Format, ret.Encoding, tt.format, tt.encoding)
			}
			sameLines(t, ret.Lines, tt.want)
		})
	}
}

// xlsxFile builds a one-sheet workbook; strings become string cells, numbers
// number cells.
func xlsxFile(t testing.TB, rows [][]any) []byte {
	t.Helper()
	x := excelize.NewFile()
	defer x.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	buf, err := x.WriteToBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type problem struct {
	line  int
	field string
}

func problemsOf(t *testing.T, err error) []problem {
	t.Helper()
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v (%T), want a *FileError", err, err)
	}
	if !errors.Is(err, domain.ErrInvalid) {
		t.Errorf("a FileError does not wrap domain.ErrInvalid")
	}
	var got []problem
	for _, p := range fe.Problems {
		if p.Reason == "" {
			t.Errorf("problem %+v has no reason", p)
		}
		got = append(got, problem{p.LineNo, p.Field})
	}
	return got
}

func TestReadReturnReportsEveryMalformedLineAndReturnsNothing(t *testing.T) {
	file := "参考号,金额,状态,原因\r\n" + // 1
		"P-01,110.00,成功,\r\n" + // 2 good
		"P-02,-110.00,成功,\r\n" + // 3 negative
		"P-03,110.001,成功,\r\n" + // 4 three decimals
		"P-04,1.1e2,成功,\r\n" + // 5 exponent
		"P-05,\"1,234.00\",成功,\r\n" + // 6 thousands separator
		",110.00,成功,\r\n" + // 7 no reference
		"P-07,110.00,处理中,\r\n" + // 8 unknown status
		"P-08,,,\r\n" + // 9 no amount, no status
		"P-09,110.00,成功,账户,已销户\r\n" + // 10 an unquoted comma: one field too many
		"P-10,110.00,失败,\"bad \"quote\r\n" + // 11 broken quoting
		"P-11,¥110.00,成功,\r\n" + // 12 currency sign
		"P-12,110.00,成功,\r\n" + // 13 good
		"合计,12,,\r\n" + // 14 a total line that is not the last
		"P-13,NaN,success,\r\n" // 15 not a number
	for _, enc := range []Encoding{UTF8, GB18030} {
		t.Run(enc.String(), func(t *testing.T) {
			data := []byte(file)
			if enc == GB18030 {
				data = gb18030(t, file)
			}
			ret, err := ReadReturn(bytes.NewReader(data), "bad.csv")
			if ret.Lines != nil || ret.Format != (Format{}) {
				t.Errorf("returned %+v alongside the error", ret)
			}
			got := problemsOf(t, err)
			want := []problem{
				{3, "amount"}, {4, "amount"}, {5, "amount"}, {6, "amount"}, {7, "reference"},
				{8, "status"}, {9, "amount"}, {9, "status"}, {10, "line"}, {11, "line"},
				{12, "amount"}, {14, "line"}, {15, "amount"},
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("problems\n got %v\nwant %v\n%v", got, want, err)
			}
			msg := err.Error()
			for _, s := range []string{"bad.csv", "13 problems", "line 3: amount:", "negative", "and 3 more"} {
				if !strings.Contains(msg, s) {
					t.Errorf("message lacks %q: %s", s, msg)
				}
			}
		})
	}
}

func TestReadReturnRefusesBadHeadersAndFiles(t *testing.T) {
	big := io.MultiReader(strings.NewReader("reference,amount,status\n"), io.LimitReader(zeros{}, MaxReturnFileSize))
	tests := []struct {
		name string
		r    io.Reader
		want []problem
	}{
		{"missing status and amount", strings.NewReader("reference,备注\nP-1,x\n"), []problem{{1, "amount"}, {1, "status"}}},
		{"no header at all", strings.NewReader("P-1,110.00,成功\n"), []problem{{1, "reference"}, {1, "amount"}, {1, "status"}}},
		{"header after blank lines", strings.NewReader("\n\nref,amount\n"), []problem{{3, "status"}}},
		{"two amount columns", strings.NewReader("ref,金额,交易金额,status\nP-1,1.00,1.00,ok\n"), []problem{{1, "amount"}}},
		{"two equally good reason columns", strings.NewReader("ref,amount,status,失败原因,reason\n"), []problem{{1, "reason"}}},
		{"empty", strings.NewReader(""), []problem{{1, "header"}}},
		{"whitespace only", strings.NewReader(" \r\n\r\n"), []problem{{1, "header"}}},
		{"blank fields only", strings.NewReader(",,,\r\n"), []problem{{1, "header"}}},
		{"broken quoting in the header", strings.NewReader("ref,\"amount,status\n"), []problem{{1, "header"}}},
		{"UTF-16", bytes.NewReader([]byte("\xff\xfer\x00e\x00f\x00")), []problem{{0, "file"}}},
		{"legacy xls", bytes.NewReader([]byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1rest")), []problem{{0, "file"}}},
		{"a zip that is no workbook", bytes.NewReader([]byte("PK\x03\x04garbage")), []problem{{0, "file"}}},
		{"too large", big, []problem{{0, "file"}}},
		{"bytes neither UTF-8 nor GB18030", bytes.NewReader([]byte("ref,amount,status\nP-\xff,1.00,ok\nP-2,1.00,ok\n")), []problem{{2, "encoding"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ret, err := ReadReturn(tt.r, "x")
			if got := problemsOf(t, err); fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("problems %v, want %v\n%v", got, tt.want, err)
			}
			if ret.Lines != nil {
				t.Errorf("returned lines %+v", ret.Lines)
			}
		})
	}
}

func TestReadReturnXLSXProblemsUseRowNumbers(t *testing.T) {
	file := xlsxFile(t, [][]any{
		{"Reference", "Amount", "Status"},
		{"P-1", "110.00", "ok"},
		{},
		{"P-2", 0.001, "ok"},      // a number cell with three decimals
		{"P-3", 1e21, "ok"},       // stored as 1E+21
		{"P-4", 110.1, "pending"}, // fine amount, unknown status
		{"P-5", "1,234.00", "ok"}, // separators are refused, not guessed at
	})
	_, err := ReadReturn(bytes.NewReader(file), "r.xlsx")
	want := []problem{{4, "amount"}, {5, "amount"}, {6, "status"}, {7, "amount"}}
	if got := problemsOf(t, err); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("problems %v, want %v\n%v", got, want, err)
	}
}

func TestReadReturnPassesReaderErrorsOn(t *testing.T) {
	boom := errors.New("connection reset")
	_, err := ReadReturn(io.MultiReader(strings.NewReader("ref,"), errReader{boom}), "x")
	if !errors.Is(err, boom) {
		t.Errorf("error %v, want one wrapping %v", err, boom)
	}
	var fe *FileError
	if errors.As(err, &fe) || errors.Is(err, domain.ErrInvalid) {
		t.Errorf("a read failure is reported as bad input: %v", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
