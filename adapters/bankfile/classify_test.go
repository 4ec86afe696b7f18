package bankfile

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

func TestClassifyEveryCategory(t *testing.T) {
	m := domain.MustMoney
	expected := []Expected{
		{Reference: "P-1", Amount: m("110.00")},                         // settled
		{Reference: "P-2", Amount: m("110.00")},                         // failed
		{Reference: "P-3", Amount: m("220.00")},                         // amount mismatch (bank says 202.00)
		{Reference: "P-4", Amount: m("10.00")},                          // missing
		{Reference: "P-5", Amount: m("110.00")},                         // settled, then repeated twice with other statuses: conflicting
		{Reference: "P-6", Amount: m("30.00")},                          // failed and amount differs: a mismatch, not a failure
		{Reference: "P-7", Amount: m("5.00")},                           // missing
		{Reference: "P-8", Amount: m("20.00"), Earlier: StatusFailed},   // failed before, paid now: late
		{Reference: "P-9", Amount: m("40.00"), Earlier: StatusSettled},  // settled before, again: already
		{Reference: "P-10", Amount: m("50.00"), Earlier: StatusFailed},  // failed before, again: already
		{Reference: "P-11", Amount: m("60.00"), Earlier: StatusSettled}, // settled before, failed now: contradicting
		{Reference: "P-12", Amount: m("70.00"), Earlier: StatusSettled}, // settled before, not in this file: not missing
		{Reference: "P-13", Amount: m("80.00")},                         // settled, and the same line again: a duplicate
	}
	ret := ReturnFile{Lines: []ReturnLine{
		line(2, "P-1", "110.00", StatusSettled, "", "B1"),
		line(3, "P-2", "110.00", StatusFailed, "账户已冻结", "B2"),
		line(4, "P-3", "202.00", StatusSettled, "", "B3"),
		line(5, "X-9", "50.00", StatusSettled, "", "B4"), // unknown
		line(6, "P-5", "110.00", StatusSettled, "", "B5"),
		line(7, "P-5", "110.00", StatusFailed, "", "B6"), // conflicting status
		line(8, "X-9", "50.00", StatusSettled, "", "B7"), // duplicate of an unknown
		line(9, "P-6", "3.00", StatusFailed, "金额错误", "B8"),
		line(10, "P-5", "99.00", StatusSettled, "", "B9"), // conflicting amount
		line(11, "P-8", "20.00", StatusSettled, "", "B10"),
		line(12, "P-9", "40.00", StatusSettled, "", "B11"),
		line(13, "P-10", "50.00", StatusFailed, "户名不符", ""),
		line(14, "P-11", "60.00", StatusFailed, "退票", ""),
		line(15, "P-13", "80.00", StatusSettled, "", "B12"),
		line(16, "P-13", "80.00", StatusSettled, "", "B12"),
	}}
	rec := Classify(expected, ret)

	byCategory := map[string][]string{}
	for _, r := range rec.Rows() {
		byCategory[r.Category.Name] = append(byCategory[r.Category.Name], fmt.Sprintf("%d:%s", r.LineNo, r.Reference))
	}
	for _, c := range []struct{ category, want string }{
		{"settled", "2:P-1 15:P-13"},
		{"failed", "3:P-2"},
		{"late_settled", "11:P-8"},
		{"already_settled", "12:P-9"},
		{"already_failed", "13:P-10"},
		{"amount_mismatch", "4:P-3 9:P-6"},
		{"unknown", "5:X-9"},
		{"duplicate", "8:X-9 16:P-13"},
		{"conflicting", "6:P-5 7:P-5 10:P-5"},
		{"contradicting", "14:P-11"},
		{"missing", "0:P-4 0:P-7"},
	} {
		if got := strings.Join(byCategory[c.category], " "); got != c.want {
			t.Errorf("%s: got %q, want %q", c.category, got, c.want)
		}
	}
	if rec.Failed[0].Reason != "账户已冻结" || rec.AmountMismatch[0].Expected.String() != "220.00" || rec.Duplicate[1].FirstLineNo != 15 {
		t.Errorf("details: %+v %+v %+v", rec.Failed, rec.AmountMismatch, rec.Duplicate)
	}

	want := map[string]string{
		"expected": "13 / 915.00", "settled": "2 / 190.00", "failed": "1 / 110.00", "late_settled": "1 / 20.00",
		"already_settled": "1 / 40.00", "already_failed": "1 / 50.00", "amount_mismatch": "2 / 205.00", "unknown": "1 / 50.00",
		"duplicate": "2 / 130.00", "conflicting": "3 / 319.00", "contradicting": "1 / 60.00", "missing": "2 / 15.00",
	}
	for _, c := range rec.Tallies() {
		if got := fmt.Sprintf("%d / %s", c.Count, c.Total); got != want[c.Name] {
			t.Errorf("%s tally %s, want %s", c.Name, got, want[c.Name])
		}
	}
}

func TestClassifyEmptyFileMissesEverything(t *testing.T) {
	exp := []Expected{{Reference: "P-1", Amount: domain.MustMoney("1.00")}, {Reference: "P-1", Amount: domain.MustMoney("9.00")}, {Reference: "P-2", Amount: domain.MustMoney("2.00")}}
	rec := Classify(exp, ReturnFile{})
	if len(rec.Missing) != 2 || rec.Totals.Missing.Total.String() != "3.00" || rec.Totals.Expected.Total.String() != "3.00" {
		t.Errorf("a repeated expected reference counts once: %+v", rec)
	}
}

func TestClassifyPanicsOnAStatusReadReturnNeverMakes(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	Classify([]Expected{{Reference: "P-1", Amount: domain.MustMoney("1.00")}}, ReturnFile{Lines: []ReturnLine{{LineNo: 2, Reference: "P-1", Amount: domain.MustMoney("1.00"), Status: "pending"}}})
}

// randomBatch makes n expected payments and a return file for them with
// every kind of line, as CSV text, and the lines it should read as.
func randomBatch(rng *rand.Rand, n int) ([]Expected, string) {
	expected := make([]Expected, n)
	for i := range expected {
		fen := rng.Int64N(1_000_000) + 1
		if rng.IntN(10) == 0 {
			fen = rng.Int64N(99_999_999_999) + 1 // large amounts too
		}
		amount, _ := domain.MoneyFromFen(fen)
		expected[i] = Expected{Reference: fmt.Sprintf("P-%06d", i), Amount: amount}
		switch rng.IntN(5) { // a cumulative file: some payments were reported on before
		case 0:
			expected[i].Earlier = StatusSettled
		case 1:
			expected[i].Earlier = StatusFailed
		}
	}
	var b strings.Builder
	b.WriteString("付款参考号,金额,状态,失败原因\r\n")
	for _, e := range expected {
		switch k := rng.IntN(20); {
		case k == 0: // missing
			continue
		case k == 1: // amount differs
			fmt.Fprintf(&b, "%s,%s,成功,\r\n", e.Reference, e.Amount.Add(domain.MustMoney("0.01")))
		case k < 5:
			fmt.Fprintf(&b, "%s,%s,失败,账户已冻结\r\n", e.Reference, e.Amount)
		default:
			fmt.Fprintf(&b, "%s,%s,成功,\r\n", e.Reference, e.Amount)
		}
		if rng.IntN(30) == 0 { // repeated, perhaps with another amount or status
			fmt.Fprintf(&b, "%s,%d.%02d,%s,\r\n", e.Reference, rng.IntN(1000), rng.IntN(100), []string{"成功", "失败"}[rng.IntN(2)])
		}
		if rng.IntN(40) == 0 {
			fmt.Fprintf(&b, "X-%d,%d.%02d,成功,\r\n", rng.IntN(1000), rng.IntN(1000), rng.IntN(100))
		}
	}
	return expected, b.String()
}

// Every tally equals the count and the sum of its lines, to the fen; every
// return line lands in exactly one list; every payment waiting for the
// bank is on a line of the file or missing, and no other is missing.
func TestClassifyTotalsEqualSumsOverRandomBatches(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 6))
		expected, file := randomBatch(rng, rng.IntN(300))
		ret, err := ReadReturn(strings.NewReader(file), "random.csv")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		rec := Classify(expected, ret)
		rows := rec.Rows()

		sums := map[string]Tally{}
		lineRows := map[int]int{}
		inFile := map[string]bool{}
		for _, r := range rows {
			t := sums[r.Category.Name]
			t.add(r.Amount)
			sums[r.Category.Name] = t
			if r.LineNo > 0 {
				lineRows[r.LineNo]++
				inFile[r.Reference] = true
			}
		}
		var exp Tally
		for _, e := range expected {
			exp.add(e.Amount)
		}
		sums[CatExpected.Name] = exp
		for _, c := range rec.Tallies() {
			if got := sums[c.Name]; c.Count != got.Count || !c.Total.Equal(got.Total) {
				t.Fatalf("seed %d: %s tally %d / %s, sum of its rows %d / %s", seed, c.Name, c.Count, c.Total, got.Count, got.Total)
			}
		}
		if len(lineRows) != len(ret.Lines) {
			t.Fatalf("seed %d: %d of the file's %d lines are classified", seed, len(lineRows), len(ret.Lines))
		}
		for _, l := range ret.Lines {
			if lineRows[l.LineNo] != 1 {
				t.Fatalf("seed %d: line %d is in %d lists", seed, l.LineNo, lineRows[l.LineNo])
			}
		}
		missing := map[string]bool{}
		for _, m := range rec.Missing {
			missing[m.Reference] = true
		}
		for _, e := range expected {
			switch {
			case e.Earlier == "" && inFile[e.Reference] == missing[e.Reference]:
				t.Fatalf("seed %d: payment %s waiting for the bank: in the file %v, missing %v", seed, e.Reference, inFile[e.Reference], missing[e.Reference])
			case e.Earlier != "" && missing[e.Reference]:
				t.Fatalf("seed %d: payment %s, %s before, is missing", seed, e.Reference, e.Earlier)
			}
		}
	}
}

// Classifying a batch part by part — its payments and the file's lines
// split by reference, as the payment shards split them — and merging the
// parts gives what classifying the whole gives, list for list.
func TestMergeOfPartsIsTheWholeOverRandomBatches(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		expected, file := randomBatch(rng, rng.IntN(300))
		ret, err := ReadReturn(strings.NewReader(file), "random.csv")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		parts := 1 + rng.IntN(5)
		part := func(ref string) int { return int(crc32.ChecksumIEEE([]byte(ref))) % parts }
		exp := make([][]Expected, parts)
		for _, e := range expected {
			exp[part(e.Reference)] = append(exp[part(e.Reference)], e)
		}
		lines := make([][]ReturnLine, parts)
		for _, l := range ret.Lines {
			lines[part(l.Reference)] = append(lines[part(l.Reference)], l)
		}
		recs := make([]Reconciliation, parts)
		for i := range recs {
			recs[i] = Classify(exp[i], ReturnFile{Lines: lines[i]})
		}
		whole, merged := Classify(expected, ret), Merge(recs...)
		if !reflect.DeepEqual(whole.Rows(), merged.Rows()) {
			t.Fatalf("seed %d, %d parts: merged rows differ from the whole's:\nwhole  %+v\nmerged %+v", seed, parts, whole.Rows(), merged.Rows())
		}
		for k, c := range whole.Tallies() {
			if m := merged.Tallies()[k]; m.Count != c.Count || !m.Total.Equal(c.Total) {
				t.Fatalf("seed %d, %d parts: %s tally %d / %s, merged %d / %s", seed, parts, c.Name, c.Count, c.Total, m.Count, m.Total)
			}
		}
	}
}

// Writing a random batch as a payment file and reading it back — as the
// bank's echo — keeps every reference and amount, in every format.
func TestPaymentFileRoundTripsOverRandomBatches(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		expected, _ := randomBatch(rng, 1+rng.IntN(200))
		for i := range expected {
			expected[i].Earlier = "" // all waiting for the bank
		}
		batch := BatchHeader{BatchID: fmt.Sprintf("B-%d", seed), Program: "care_subsidy", Period: "2025-02", Count: len(expected)}
		lines := make([]PaymentFileLine, len(expected))
		for i, e := range expected {
			lines[i] = PaymentFileLine{Reference: e.Reference, AccountName: "张三", AccountMasked: "6222********1234",
				AccountNumber: fmt.Sprintf("6222%015d", i), Amount: e.Amount}
			batch.Total = batch.Total.Add(e.Amount)
		}
		for _, f := range []struct {
			format Format
			enc    Encoding
		}{{CSV, UTF8}, {CSV, GB18030}, {XLSX, UTF8}} {
			var buf bytes.Buffer
			if err := WritePayments(&buf, f.format, f.enc, batch, lines); err != nil {
				t.Fatal(err)
			}
			// The payment file has no status column: ReadReturn says so, on line 1.
			_, err := ReadReturn(bytes.NewReader(buf.Bytes()), "payments")
			if got := problemsOf(t, err); fmt.Sprint(got) != fmt.Sprint([]problem{{1, "status"}}) {
				t.Fatalf("seed %d %v/%v: %v", seed, f.format, f.enc, err)
			}
			if f.format != CSV {
				continue
			}
			text := buf.String()
			if f.enc == GB18030 {
				text = decodeGB(t, buf.Bytes())
			}
			text = strings.Replace(text, "备注(Note)", "备注(Note),状态", 1)
			text = strings.ReplaceAll(text, ",\r\nP-", ",,成功\r\nP-")
			text = strings.Replace(text, ",\r\n合计", ",,成功\r\n合计", 1)
			ret, err := ReadReturn(strings.NewReader(text), "echo")
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			rec := Classify(expected, ret)
			if len(rec.Settled) != len(expected) || !rec.Totals.Settled.Total.Equal(batch.Total) {
				t.Fatalf("seed %d: settled %d / %s of %d / %s", seed, len(rec.Settled), rec.Totals.Settled.Total, len(expected), batch.Total)
			}
		}
	}
}
