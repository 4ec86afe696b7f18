package bankfile

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lushan-dpf/ledger/domain"
)

func TestClassifyEveryCategory(t *testing.T) {
	m := domain.MustMoney
	expected := []Expected{
		{"P-1", m("110.00")}, // settled
		{"P-2", m("110.00")}, // failed
		{"P-3", m("220.00")}, // amount mismatch (bank says 202.00)
		{"P-4", m("10.00")},  // missing
		{"P-5", m("110.00")}, // settled, then repeated twice with other statuses
		{"P-6", m("30.00")},  // failed and amount differs: a mismatch, not a failure
		{"P-7", m("5.00")},   // missing
	}
	ret := ReturnFile{Lines: []ReturnLine{
		line(2, "P-1", "110.00", StatusSettled, "", "B1"),
		line(3, "P-2", "110.00", StatusFailed, "账户已冻结", "B2"),
		line(4, "P-3", "202.00", StatusSettled, "", "B3"),
		line(5, "X-9", "50.00", StatusSettled, "", "B4"), // unknown
		line(6, "P-5", "110.00", StatusSettled, "", "B5"),
		line(7, "P-5", "110.00", StatusFailed, "", "B6"), // duplicate
		line(8, "X-9", "50.00", StatusSettled, "", "B7"), // duplicate of an unknown
		line(9, "P-6", "3.00", StatusFailed, "金额错误", "B8"),
		line(10, "P-5", "99.00", StatusSettled, "", "B9"), // duplicate
	}}
	rec := Classify(expected, ret)

	refs := func(ls []ReturnLine) string {
		var s []string
		for _, l := range ls {
			s = append(s, fmt.Sprintf("%d:%s", l.LineNo, l.Reference))
		}
		return strings.Join(s, " ")
	}
	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %q, want %q", what, got, want)
		}
	}
	check("settled", refs(rec.Settled), "2:P-1 6:P-5")
	check("failed", refs(rec.Failed), "3:P-2")
	check("failed reason", rec.Failed[0].Reason, "账户已冻结")
	check("unknown", refs(rec.Unknown), "5:X-9")
	var mm, dup, miss []string
	for _, x := range rec.AmountMismatch {
		mm = append(mm, fmt.Sprintf("%d:%s:%s≠%s", x.Line.LineNo, x.Line.Reference, x.Line.Amount, x.Expected))
	}
	for _, x := range rec.Duplicate {
		dup = append(dup, fmt.Sprintf("%d:%s(first %d)", x.Line.LineNo, x.Line.Reference, x.FirstLineNo))
	}
	for _, x := range rec.Missing {
		miss = append(miss, x.Reference)
	}
	check("mismatch", strings.Join(mm, " "), "4:P-3:202.00≠220.00 9:P-6:3.00≠30.00")
	check("duplicate", strings.Join(dup, " "), "7:P-5(first 6) 8:X-9(first 5) 10:P-5(first 6)")
	check("missing", strings.Join(miss, " "), "P-4 P-7")

	tallies := []struct {
		name  string
		got   Tally
		count int
		total string
	}{
		{"expected", rec.Totals.Expected, 7, "595.00"},
		{"settled", rec.Totals.Settled, 2, "220.00"},
		{"failed", rec.Totals.Failed, 1, "110.00"},
		{"mismatch", rec.Totals.AmountMismatch, 2, "205.00"},
		{"unknown", rec.Totals.Unknown, 1, "50.00"},
		{"duplicate", rec.Totals.Duplicate, 3, "259.00"},
		{"missing", rec.Totals.Missing, 2, "15.00"},
	}
	for _, tt := range tallies {
		if tt.got.Count != tt.count || tt.got.Total.String() != tt.total {
			t.Errorf("%s tally %d / %s, want %d / %s", tt.name, tt.got.Count, tt.got.Total, tt.count, tt.total)
		}
	}
}

func TestClassifyEmptyFileMissesEverything(t *testing.T) {
	exp := []Expected{{"P-1", domain.MustMoney("1.00")}, {"P-1", domain.MustMoney("9.00")}, {"P-2", domain.MustMoney("2.00")}}
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
	Classify([]Expected{{"P-1", domain.MustMoney("1.00")}}, ReturnFile{Lines: []ReturnLine{{LineNo: 2, Reference: "P-1", Amount: domain.MustMoney("1.00"), Status: "pending"}}})
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
		expected[i] = Expected{fmt.Sprintf("P-%06d", i), amount}
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
// expected payment and every return line lands in exactly one list.
func TestClassifyTotalsEqualSumsOverRandomBatches(t *testing.T) {
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 6))
		expected, file := randomBatch(rng, rng.IntN(300))
		ret, err := ReadReturn(strings.NewReader(file), "random.csv")
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		rec := Classify(expected, ret)

		sum := func(amounts ...domain.Money) Tally {
			var fen int64
			for _, a := range amounts {
				fen += a.Fen()
			}
			total, err := domain.MoneyFromFen(fen)
			if err != nil {
				t.Fatal(err)
			}
			return Tally{len(amounts), total}
		}
		amounts := func(ls []ReturnLine) []domain.Money {
			var out []domain.Money
			for _, l := range ls {
				out = append(out, l.Amount)
			}
			return out
		}
		var mismatch, dup, missing, exp []domain.Money
		for _, m := range rec.AmountMismatch {
			mismatch = append(mismatch, m.Line.Amount)
		}
		for _, d := range rec.Duplicate {
			dup = append(dup, d.Line.Amount)
		}
		for _, m := range rec.Missing {
			missing = append(missing, m.Amount)
		}
		for _, e := range expected {
			exp = append(exp, e.Amount)
		}
		for _, c := range []struct {
			name      string
			got, want Tally
		}{
			{"expected", rec.Totals.Expected, sum(exp...)},
			{"settled", rec.Totals.Settled, sum(amounts(rec.Settled)...)},
			{"failed", rec.Totals.Failed, sum(amounts(rec.Failed)...)},
			{"mismatch", rec.Totals.AmountMismatch, sum(mismatch...)},
			{"unknown", rec.Totals.Unknown, sum(amounts(rec.Unknown)...)},
			{"duplicate", rec.Totals.Duplicate, sum(dup...)},
			{"missing", rec.Totals.Missing, sum(missing...)},
		} {
			if c.got.Count != c.want.Count || !c.got.Total.Equal(c.want.Total) {
				t.Fatalf("seed %d: %s tally %d / %s, sum of its lines %d / %s", seed, c.name, c.got.Count, c.got.Total, c.want.Count, c.want.Total)
			}
		}

		// Expected payments: settled + failed + mismatched + missing, by
		// count and by amount (mismatches at the amount issued).
		var issuedMismatch []domain.Money
		for _, m := range rec.AmountMismatch {
			issuedMismatch = append(issuedMismatch, m.Expected)
		}
		parts := sum(append(append(append(amounts(rec.Settled), amounts(rec.Failed)...), issuedMismatch...), missing...)...)
		if parts.Count != len(expected) || !parts.Total.Equal(rec.Totals.Expected.Total) {
			t.Fatalf("seed %d: the expected payments split into %d / %s, not %d / %s", seed, parts.Count, parts.Total, len(expected), rec.Totals.Expected.Total)
		}
		// Return lines: settled + failed + mismatched + unknown + duplicate.
		var inFile []domain.Money
		for _, l := range ret.Lines {
			inFile = append(inFile, l.Amount)
		}
		lines := sum(append(append(append(append(amounts(rec.Settled), amounts(rec.Failed)...), mismatch...), amounts(rec.Unknown)...), dup...)...)
		if all := sum(inFile...); lines.Count != all.Count || !lines.Total.Equal(all.Total) {
			t.Fatalf("seed %d: the file's lines split into %d / %s, not %d / %s", seed, lines.Count, lines.Total, all.Count, all.Total)
		}
	}
}

// Writing a random batch as a payment file and reading it back — as the
// bank's echo — keeps every reference and amount, in every format.
func TestPaymentFileRoundTripsOverRandomBatches(t *testing.T) {
	for seed := range uint64(30) {
		rng := rand.New(rand.NewPCG(seed, 7))
		expected, _ := randomBatch(rng, 1+rng.IntN(200))
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
