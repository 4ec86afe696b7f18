package bankfile

import (
	"fmt"

	"github.com/lushan-dpf/ledger/domain"
)

// Expected is a payment the batch issued: what the bank was asked to pay.
type Expected struct {
	Reference string
	Amount    domain.Money
}

// MismatchLine is a return line whose reference is in the batch but whose
// amount is not the amount issued.
type MismatchLine struct {
	Line     ReturnLine
	Expected domain.Money // the amount issued; Line.Amount is what the bank reported
}

// DuplicateLine is the second or later line with the same reference.
type DuplicateLine struct {
	Line        ReturnLine
	FirstLineNo int // the line that counted
}

// Tally is a count of lines and the sum of their amounts.
type Tally struct {
	Count int
	Total domain.Money
}

func (t *Tally) add(m domain.Money) {
	t.Count++
	t.Total = t.Total.Add(m)
}

// Totals tallies a reconciliation. Each tally counts and sums the lines of
// the list of the same name; Expected covers the batch's payments,
// AmountMismatch sums the amounts the bank reported.
type Totals struct {
	Expected       Tally
	Settled        Tally
	Failed         Tally
	AmountMismatch Tally
	Unknown        Tally
	Duplicate      Tally
	Missing        Tally
}

// Reconciliation is a return file classified against its batch. Lists are in
// file order; Missing is in the order of the expected payments.
//
// Every expected payment is in exactly one of Settled, Failed,
// AmountMismatch and Missing; every return line is in exactly one of
// Settled, Failed, AmountMismatch, Unknown and Duplicate. Only Settled and
// Failed are to be applied; the rest are for a person to look at.
type Reconciliation struct {
	Settled        []ReturnLine
	Failed         []ReturnLine // with the bank's reason
	AmountMismatch []MismatchLine
	Unknown        []ReturnLine // reference not in the batch
	Duplicate      []DuplicateLine
	Missing        []Expected // issued, but on no line of the file
	Totals         Totals
}

// Classify sorts every line of ret against the expected payments of a batch;
// see the package documentation for the rules. It is pure. The lines are
// ReadReturn's: a status other than StatusSettled or StatusFailed is a
// programming error and panics, rather than be taken for either.
//
// References in expected are unique in a batch. Should one repeat, its first
// occurrence is the payment and the repeat is ignored, in the lists and in
// Totals.Expected alike.
func Classify(expected []Expected, ret ReturnFile) Reconciliation {
	// Nearly every line settles: size that list once.
	rec := Reconciliation{Settled: make([]ReturnLine, 0, len(ret.Lines))}
	issued := make(map[string]int, len(expected)) // reference → index in expected
	for i, e := range expected {
		if _, dup := issued[e.Reference]; dup {
			continue
		}
		issued[e.Reference] = i
		rec.Totals.Expected.add(e.Amount)
	}
	firstLine := make(map[string]int, len(ret.Lines)) // reference → line that counted
	for _, l := range ret.Lines {
		if first, seen := firstLine[l.Reference]; seen {
			rec.Duplicate = append(rec.Duplicate, DuplicateLine{Line: l, FirstLineNo: first})
			rec.Totals.Duplicate.add(l.Amount)
			continue
		}
		firstLine[l.Reference] = l.LineNo
		i, ok := issued[l.Reference]
		switch {
		case !ok:
			rec.Unknown = append(rec.Unknown, l)
			rec.Totals.Unknown.add(l.Amount)
		case !l.Amount.Equal(expected[i].Amount):
			rec.AmountMismatch = append(rec.AmountMismatch, MismatchLine{Line: l, Expected: expected[i].Amount})
			rec.Totals.AmountMismatch.add(l.Amount)
		case l.Status == StatusSettled:
			rec.Settled = append(rec.Settled, l)
			rec.Totals.Settled.add(l.Amount)
		case l.Status == StatusFailed:
			rec.Failed = append(rec.Failed, l)
			rec.Totals.Failed.add(l.Amount)
		default:
			panic(fmt.Sprintf("bankfile: return line %d has status %q; lines come from ReadReturn", l.LineNo, l.Status))
		}
	}
	for i, e := range expected {
		if issued[e.Reference] != i {
			continue // a repeated expected reference
		}
		if _, inFile := firstLine[e.Reference]; !inFile {
			rec.Missing = append(rec.Missing, e)
			rec.Totals.Missing.add(e.Amount)
		}
	}
	return rec
}
