package bankfile

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/lushan-dpf/ledger/domain"
)

// Expected is a payment the batch issued: what the bank was asked to pay,
// and what an earlier return file said of it.
type Expected struct {
	Reference string
	Amount    domain.Money
	// Earlier is "" while the payment waits for the bank's word, or
	// StatusSettled or StatusFailed as an earlier return file reported it.
	Earlier string
}

// MismatchLine is a return line whose reference is in the batch but whose
// amount is not the amount issued.
type MismatchLine struct {
	Line     ReturnLine
	Expected domain.Money // the amount issued; Line.Amount is what the bank reported
}

// DuplicateLine is a later line repeating an earlier one: same reference,
// amount and status.
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
	LateSettled    Tally
	AlreadySettled Tally
	AlreadyFailed  Tally
	AmountMismatch Tally
	Unknown        Tally
	Duplicate      Tally
	Conflicting    Tally
	Contradicting  Tally
	Missing        Tally
}

// Reconciliation is a return file classified against its batch. Lists are in
// file order; Missing is in the order of the expected payments.
//
// Every return line is in exactly one list but Missing. Only Settled,
// Failed and LateSettled are to be applied; AlreadySettled and
// AlreadyFailed repeat what is known (a bank's cumulative file); the rest
// are for a person to look at.
type Reconciliation struct {
	Settled        []ReturnLine
	Failed         []ReturnLine // with the bank's reason
	LateSettled    []ReturnLine // reported failed before, paid after all
	AlreadySettled []ReturnLine // settled before; nothing changes
	AlreadyFailed  []ReturnLine // failed before; nothing changes
	AmountMismatch []MismatchLine
	Unknown        []ReturnLine // reference not in the batch
	Duplicate      []DuplicateLine
	// Conflicting lines are lines of one reference that disagree, in
	// status or amount: none of them is applied.
	Conflicting []ReturnLine
	// Contradicting lines report failed a payment an earlier file settled:
	// a reversal for a person to follow up, not applied.
	Contradicting []ReturnLine
	Missing       []Expected // waiting for the bank, and on no line of the file
	Totals        Totals
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
	// The first line of each reference, and the references whose lines
	// disagree.
	first := make(map[string]int, len(ret.Lines)) // reference → index in ret.Lines
	var conflicting map[string]bool
	for i, l := range ret.Lines {
		if l.Status != StatusSettled && l.Status != StatusFailed {
			panic(fmt.Sprintf("bankfile: return line %d has status %q; lines come from ReadReturn", l.LineNo, l.Status))
		}
		j, seen := first[l.Reference]
		if !seen {
			first[l.Reference] = i
			continue
		}
		if f := ret.Lines[j]; f.Status != l.Status || !f.Amount.Equal(l.Amount) {
			if conflicting == nil {
				conflicting = map[string]bool{}
			}
			conflicting[l.Reference] = true
		}
	}
	for i, l := range ret.Lines {
		if conflicting[l.Reference] {
			rec.Conflicting = append(rec.Conflicting, l)
			rec.Totals.Conflicting.add(l.Amount)
			continue
		}
		if j := first[l.Reference]; j != i {
			rec.Duplicate = append(rec.Duplicate, DuplicateLine{Line: l, FirstLineNo: ret.Lines[j].LineNo})
			rec.Totals.Duplicate.add(l.Amount)
			continue
		}
		k, ok := issued[l.Reference]
		if !ok {
			rec.Unknown = append(rec.Unknown, l)
			rec.Totals.Unknown.add(l.Amount)
			continue
		}
		e := expected[k]
		if !l.Amount.Equal(e.Amount) {
			rec.AmountMismatch = append(rec.AmountMismatch, MismatchLine{Line: l, Expected: e.Amount})
			rec.Totals.AmountMismatch.add(l.Amount)
			continue
		}
		list, tally := rec.sort(e.Earlier, l.Status)
		*list = append(*list, l)
		tally.add(l.Amount)
	}
	for i, e := range expected {
		if issued[e.Reference] != i || e.Earlier != "" {
			continue // a repeated expected reference, or one the bank reported on before
		}
		if _, inFile := first[e.Reference]; !inFile {
			rec.Missing = append(rec.Missing, e)
			rec.Totals.Missing.add(e.Amount)
		}
	}
	return rec
}

// Merge joins the classifications of parts of one return file against
// parts of one batch, as Classify would have classified the whole: the
// lists in file order (Missing in reference order), the tallies summed.
// The parts must split by reference — every line and expected payment of
// a reference in the same part — as the payment shards of a batch do; a
// reference's lines are then judged together, as Classify judges them.
func Merge(parts ...Reconciliation) Reconciliation {
	var rec Reconciliation
	lists := func(r *Reconciliation) []*[]ReturnLine {
		return []*[]ReturnLine{&r.Settled, &r.Failed, &r.LateSettled, &r.AlreadySettled, &r.AlreadyFailed, &r.Unknown, &r.Conflicting, &r.Contradicting}
	}
	tallies := func(t *Totals) []*Tally {
		return []*Tally{&t.Expected, &t.Settled, &t.Failed, &t.LateSettled, &t.AlreadySettled, &t.AlreadyFailed,
			&t.AmountMismatch, &t.Unknown, &t.Duplicate, &t.Conflicting, &t.Contradicting, &t.Missing}
	}
	into, intoTallies := lists(&rec), tallies(&rec.Totals)
	for i := range parts {
		for k, l := range lists(&parts[i]) {
			*into[k] = append(*into[k], *l...)
		}
		rec.AmountMismatch = append(rec.AmountMismatch, parts[i].AmountMismatch...)
		rec.Duplicate = append(rec.Duplicate, parts[i].Duplicate...)
		rec.Missing = append(rec.Missing, parts[i].Missing...)
		for k, t := range tallies(&parts[i].Totals) {
			intoTallies[k].Count += t.Count
			intoTallies[k].Total = intoTallies[k].Total.Add(t.Total)
		}
	}
	byLine := func(a, b ReturnLine) int { return cmp.Compare(a.LineNo, b.LineNo) }
	for _, l := range into {
		slices.SortFunc(*l, byLine)
	}
	slices.SortFunc(rec.AmountMismatch, func(a, b MismatchLine) int { return byLine(a.Line, b.Line) })
	slices.SortFunc(rec.Duplicate, func(a, b DuplicateLine) int { return byLine(a.Line, b.Line) })
	slices.SortFunc(rec.Missing, func(a, b Expected) int { return cmp.Compare(a.Reference, b.Reference) })
	return rec
}

// sort returns the list and tally of a line of the expected amount, by
// what was known of its payment and what the line says.
func (rec *Reconciliation) sort(earlier, status string) (*[]ReturnLine, *Tally) {
	switch {
	case earlier == "" && status == StatusSettled:
		return &rec.Settled, &rec.Totals.Settled
	case earlier == "":
		return &rec.Failed, &rec.Totals.Failed
	case earlier == StatusFailed && status == StatusSettled:
		return &rec.LateSettled, &rec.Totals.LateSettled
	case earlier == StatusFailed:
		return &rec.AlreadyFailed, &rec.Totals.AlreadyFailed
	case earlier == StatusSettled && status == StatusSettled:
		return &rec.AlreadySettled, &rec.Totals.AlreadySettled
	case earlier == StatusSettled:
		return &rec.Contradicting, &rec.Totals.Contradicting
	}
	panic(fmt.Sprintf("bankfile: expected payment with earlier status %q", earlier))
}

// Category is a class of a reconciliation's lines, for reports.
type Category struct {
	Name  string // stable code, e.g. "late_settled"
	Title string // in words, e.g. "settled late"
	// Exception: a person should look at its lines.
	Exception bool
}

// The categories, in report order. Expected has a tally and no rows.
var (
	CatExpected       = Category{"expected", "expected", false}
	CatSettled        = Category{"settled", "settled", false}
	CatFailed         = Category{"failed", "failed", true}
	CatLateSettled    = Category{"late_settled", "settled late", true}
	CatAlreadySettled = Category{"already_settled", "already settled", false}
	CatAlreadyFailed  = Category{"already_failed", "already failed", false}
	CatAmountMismatch = Category{"amount_mismatch", "amount mismatch", true}
	CatUnknown        = Category{"unknown", "unknown reference", true}
	CatDuplicate      = Category{"duplicate", "duplicate line", true}
	CatConflicting    = Category{"conflicting", "conflicting lines", true}
	CatContradicting  = Category{"contradicting", "contradicting", true}
	CatMissing        = Category{"missing", "missing from file", true}
)

// CategoryTally is a category's tally.
type CategoryTally struct {
	Category
	Tally
}

// Tallies returns every category's tally, in report order.
func (rec Reconciliation) Tallies() []CategoryTally {
	t := rec.Totals
	return []CategoryTally{
		{CatExpected, t.Expected}, {CatSettled, t.Settled}, {CatFailed, t.Failed}, {CatLateSettled, t.LateSettled},
		{CatAlreadySettled, t.AlreadySettled}, {CatAlreadyFailed, t.AlreadyFailed}, {CatAmountMismatch, t.AmountMismatch},
		{CatUnknown, t.Unknown}, {CatDuplicate, t.Duplicate}, {CatConflicting, t.Conflicting}, {CatContradicting, t.Contradicting},
		{CatMissing, t.Missing},
	}
}

// Row is a classified line, or a missing payment, for reports.
type Row struct {
	Category  Category
	LineNo    int // 0 for a missing payment
	Reference string
	Amount    domain.Money // as the bank reported it; as issued for a missing payment
	Detail    string       // the bank's reference or reason, or what the category needs said
}

// Rows returns every classified line and missing payment, by category in
// report order, then in file order.
func (rec Reconciliation) Rows() []Row {
	n := len(rec.AmountMismatch) + len(rec.Duplicate) + len(rec.Missing)
	for _, ls := range [][]ReturnLine{rec.Settled, rec.Failed, rec.LateSettled, rec.AlreadySettled, rec.AlreadyFailed, rec.Unknown, rec.Conflicting, rec.Contradicting} {
		n += len(ls)
	}
	out := make([]Row, 0, n)
	lines := func(c Category, ls []ReturnLine, detail func(ReturnLine) string) {
		for _, l := range ls {
			out = append(out, Row{c, l.LineNo, l.Reference, l.Amount, detail(l)})
		}
	}
	say := func(s string) func(ReturnLine) string { return func(ReturnLine) string { return s } }
	lines(CatSettled, rec.Settled, func(l ReturnLine) string { return l.BankReference })
	lines(CatFailed, rec.Failed, func(l ReturnLine) string { return l.Reason })
	lines(CatLateSettled, rec.LateSettled, say("reported failed by an earlier file, paid after all: applied (a re-issue not yet approved is withheld; one already issued is claimed back)"))
	lines(CatAlreadySettled, rec.AlreadySettled, func(l ReturnLine) string { return l.BankReference })
	lines(CatAlreadyFailed, rec.AlreadyFailed, func(l ReturnLine) string { return l.Reason })
	for _, m := range rec.AmountMismatch {
		out = append(out, Row{CatAmountMismatch, m.Line.LineNo, m.Line.Reference, m.Line.Amount, "issued " + m.Expected.String() + " (not applied)"})
	}
	lines(CatUnknown, rec.Unknown, say("no such payment in this batch"))
	for _, d := range rec.Duplicate {
		out = append(out, Row{CatDuplicate, d.Line.LineNo, d.Line.Reference, d.Line.Amount, fmt.Sprintf("repeats line %d (ignored)", d.FirstLineNo)})
	}
	lines(CatConflicting, rec.Conflicting, say("lines of this payment disagree; none applied: review with the bank"))
	lines(CatContradicting, rec.Contradicting, say("settled by an earlier file, failed in this one; not applied: review with the bank"))
	for _, m := range rec.Missing {
		out = append(out, Row{CatMissing, 0, m.Reference, m.Amount, ""})
	}
	return out
}
