package bankfile

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/domain"
)

const benchLines = 100_000

// benchReturnFile generates a batch of n payments and the bank's return file
// for it: GB18030 CSV with Chinese headers, names and account numbers, about
// 2% returned with a reason, and a few mismatched, unknown and repeated
// lines.
func benchReturnFile(tb testing.TB, n int) ([]Expected, []byte) {
	rng := rand.New(rand.NewPCG(2025, 1))
	surnames := []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗")
	given := []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂")
	expected := make([]Expected, n)
	var b strings.Builder
	b.Grow(n * 90)
	b.WriteString("流水号,户名,账号,交易金额,处理结果,失败原因,银行流水号\r\n")
	for i := range expected {
		amount := domain.MustMoney("110.00")
		if i%7 == 0 {
			amount = domain.MustMoney("220.00")
		}
		if i%101 == 0 {
			amount = domain.MustMoney("10.50")
		}
		ref := fmt.Sprintf("P-2025-01-%06d", i)
		expected[i] = Expected{Reference: ref, Amount: amount}
		name := string([]rune{surnames[rng.IntN(len(surnames))], given[rng.IntN(len(given))], given[rng.IntN(len(given))]})
		status, reason := "成功", ""
		switch k := rng.IntN(1000); {
		case k < 20:
			status, reason = "退回", "账户已冻结"
		case k < 22:
			amount = amount.Add(domain.MustMoney("0.01"))
		case k < 24:
			ref = fmt.Sprintf("Q-2025-01-%06d", i)
		case k < 26:
			continue // missing from the file
		}
		fmt.Fprintf(&b, "%s,%s,62220202%011d,%s,%s,%s,%014d\r\n", ref, name, i, amount, status, reason, 20250125000000+i)
		if rng.IntN(1000) == 0 {
			fmt.Fprintf(&b, "%s,%s,62220202%011d,%s,%s,%s,%014d\r\n", ref, name, i, amount, status, reason, 20250126000000+i)
		}
	}
	b.WriteString("合计,,,,,,\r\n")
	data, err := simplifiedchinese.GB18030.NewEncoder().Bytes([]byte(b.String()))
	if err != nil {
		tb.Fatal(err)
	}
	return expected, data
}

// BenchmarkReconcile100k reads a generated 100,000-line GB18030 return file
// and classifies it against its batch. Target: well under 5 s.
func BenchmarkReconcile100k(b *testing.B) {
	expected, data := benchReturnFile(b, benchLines)
	b.SetBytes(int64(len(data)))
	var rec Reconciliation
	for b.Loop() {
		ret, err := ReadReturn(bytes.NewReader(data), "return.csv")
		if err != nil {
			b.Fatal(err)
		}
		if ret.Encoding != GB18030 {
			b.Fatalf("read as %v", ret.Encoding)
		}
		rec = Classify(expected, ret)
	}
	t := rec.Totals
	if t.Expected.Count != benchLines || t.Settled.Count < benchLines*9/10 || t.Failed.Count == 0 ||
		t.AmountMismatch.Count == 0 || t.Unknown.Count == 0 || t.Duplicate.Count == 0 || t.Missing.Count == 0 {
		b.Fatalf("unexpected classification: %+v", t)
	}
	b.ReportMetric(float64(benchLines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkReconcile100kFloor is the floor for BenchmarkReconcile100k: only
// decoding the same file from GB18030 and splitting it with encoding/csv.
func BenchmarkReconcile100kFloor(b *testing.B) {
	_, data := benchReturnFile(b, benchLines)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		text, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil {
			b.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(text)).ReadAll()
		if err != nil || len(recs) < benchLines*9/10 {
			b.Fatal(len(recs), err)
		}
	}
	b.ReportMetric(float64(benchLines)*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}
