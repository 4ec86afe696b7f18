package bankfile

import (
	"bytes"
	"errors"
	"os"
	"testing"
)

// FuzzReadReturn: ReadReturn never panics, and either returns well-formed
// lines or a *FileError with at least one problem — never both.
func FuzzReadReturn(f *testing.F) {
	f.Add([]byte("reference,amount,status\r\nP-1,110.00,ok\r\n合计,1,110.00\r\n"))
	f.Add([]byte("\ufeff参考号,金额,状态,原因,银行流水号\nP-1,1.5,失败,\"a,b\",X\n\nP-2,2,成功,,\n"))
	f.Add([]byte("ref,amount,status\nP-1,1e2,ok\nP-2,\"1,234.00\",ok\nP-3,-1,ok\nP-4,\"x\"y,ok\n"))
	f.Add(gb18030(f, "流水号,交易金额,处理结果,失败原因\r\nP-1,110.00,退回,账户已冻结\r\n"))
	f.Add(xlsxFile(f, [][]any{{"Reference", "Amount", "Status"}, {"P-1", 110.5, "ok"}, {"合计", "110.50"}}))
	for _, name := range []string{"payments.utf8.csv", "payments.gb18030.csv"} {
		if b, err := os.ReadFile("testdata/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ret, err := ReadReturn(bytes.NewReader(data), "fuzz")
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) || len(fe.Problems) == 0 {
				t.Fatalf("error %v is not a FileError with problems", err)
			}
			if ret.Lines != nil {
				t.Fatalf("lines returned with an error")
			}
			return
		}
		prev := 1
		for _, l := range ret.Lines {
			if l.LineNo <= prev || l.Reference == "" || (l.Status != StatusSettled && l.Status != StatusFailed) {
				t.Fatalf("malformed line accepted: %+v", l)
			}
			prev = l.LineNo
		}
		_ = Classify([]Expected{{Reference: "P-1"}}, ret)
	})
}
