package domain

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

func per(s string) Period {
	p, err := ParsePeriod("period", s)
	if err != nil {
		panic(err)
	}
	return p
}

func grant(from string) EntitlementChange {
	return EntitlementChange{Kind: ChangeGranted, EffectiveDate: d(from)}
}

// state folds events of a payroll stream.
func payrollState(events ...Event) PayrollState {
	var s PayrollState
	EvolvePayroll(&s, nil)
	for _, e := range events {
		EvolvePayroll(&s, e)
	}
	return s
}

func issued(person PersonID, period string, amount string) *PaymentIssued {
	return &PaymentIssued{PaymentLine: PaymentLine{Reference: fmt.Sprint("r-", person, period), PersonID: person, Program: ProgramLivingSubsidy,
		Period: per(period), Kind: PaymentRegular, Amount: m(amount)}}
}

func lines(t *testing.T, evs []Event) []string {
	t.Helper()
	b := evs[0].(BatchDrafted)
	var out []string
	total := Money{}
	for _, l := range b.Lines {
		out = append(out, fmt.Sprintf("%s %s %s %s", l.PersonID, l.Period, l.Kind, l.Amount))
		total = total.Add(l.Amount)
	}
	if !total.Equal(b.Total) || b.Count != len(b.Lines) {
		t.Fatalf("batch total %s / count %d do not match its lines (%s / %d)", b.Total, b.Count, total, len(b.Lines))
	}
	return out
}

func draft(period string, persons ...PayrollPerson) DraftPayroll {
	return DraftPayroll{BatchID: "LS-" + period + "-1", Program: ProgramLivingSubsidy, Period: per(period), PaidOn: per(period).First().AddDays(19),
		DraftedBy: "fin.wu", Persons: persons}
}

func TestPayrollDraftScenarios(t *testing.T) {
	a, b := PersonID("aaaaaaaaaaaaaaaaaaaa"), PersonID("bbbbbbbbbbbbbbbbbbbb")
	cases := []struct {
		name  string
		state PayrollState
		cmd   DraftPayroll
		want  []string
	}{
		{"a grant approved in March effective from January: arrears for January and February",
			payrollState(), draft("2025-03", PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-01-01")}}),
			[]string{"aaaaaaaaaaaaaaaaaaaa 2025-01 arrears 110.00", "aaaaaaaaaaaaaaaaaaaa 2025-02 arrears 110.00", "aaaaaaaaaaaaaaaaaaaa 2025-03 regular 110.00"}},
		{"a rate rise effective 2025-01 recorded in February: January paid at 100.00, February carries 10.00 arrears",
			payrollState(), func() DraftPayroll {
				c := draft("2025-02", PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2024-06-01")}})
				c.PaidElsewhere = map[PersonPeriod]Money{}
				for p := per("2024-06"); p.Compare(per("2024-12")) <= 0; p = p.Next() {
					c.PaidElsewhere[PersonPeriod{a, p}] = m("100.00")
				}
				c.PaidElsewhere[PersonPeriod{a, per("2025-01")}] = m("100.00")
				return c
			}(),
			[]string{"aaaaaaaaaaaaaaaaaaaa 2025-01 arrears 10.00", "aaaaaaaaaaaaaaaaaaaa 2025-02 regular 110.00"}},
		{"suspended, terminated and deceased persons are not paid for the months concerned",
			payrollState(), draft("2025-03",
				PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-03-01"), {Kind: ChangeSuspended, EffectiveDate: d("2025-03-01")}}},
				PayrollPerson{PersonID: b, Changes: []EntitlementChange{grant("2025-02-01"), {Kind: ChangeTerminated, EffectiveDate: d("2025-02-20")}}},
			), []string{"bbbbbbbbbbbbbbbbbbbb 2025-02 arrears 110.00"}},
		{"a failed payment is re-issued in a follow-up batch for the same period",
			payrollState(
				&BatchDrafted{BatchID: "LS-2025-03-1"}, &BatchApproved{BatchID: "LS-2025-03-1"},
				issued(a, "2025-03", "110.00"), issued(b, "2025-03", "110.00"),
				&PaymentFailed{PaymentLine: issued(b, "2025-03", "110.00").PaymentLine, Reason: "account closed"},
			), func() DraftPayroll {
				c := draft("2025-03", PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-03-01")}},
					PayrollPerson{PersonID: b, Changes: []EntitlementChange{grant("2025-03-01")}})
				c.BatchID = "LS-2025-03-2"
				return c
			}(),
			[]string{"bbbbbbbbbbbbbbbbbbbb 2025-03 reissue 110.00"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			evs, err := DecideDraft(c.state, c.cmd)
			if err != nil {
				t.Fatal(err)
			}
			got := lines(t, evs)
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("lines\n got %v\nwant %v", got, c.want)
			}
		})
	}
}

func TestPayrollNeverTwiceAndMakerChecker(t *testing.T) {
	a := PersonID("aaaaaaaaaaaaaaaaaaaa")
	c := draft("2025-03", PayrollPerson{PersonID: a, Changes: []EntitlementChange{grant("2025-03-01")}})
	evs, err := DecideDraft(payrollState(), c)
	if err != nil {
		t.Fatal(err)
	}
	drafted := evs[0].(BatchDrafted)
	s := payrollState(&drafted)

	// A second draft while the first waits: conflict.
	c2 := c
	c2.BatchID = "LS-2025-03-2"
	if _, err := DecideDraft(s, c2); !errors.Is(err, ErrConflict) {
		t.Errorf("second draft while one waits: %v, want a conflict", err)
	}
	// The drafter may not approve.
	var re *RuleError
	if _, err := DecideApproval(s, drafted.BatchID, "fin.wu"); !errors.As(err, &re) || re.Rule != RuleMakerChecker {
		t.Errorf("self-approval: %v", err)
	}
	approved, err := DecideApproval(s, drafted.BatchID, "fin.li")
	if err != nil {
		t.Fatal(err)
	}
	if len(approved) != 2 || approved[1].(PaymentIssued).Amount.String() != "110.00" || approved[1].(PaymentIssued).PaidOn != drafted.PaidOn {
		t.Fatalf("approval events %+v", approved)
	}
	// Once issued, the same run again owes nothing.
	folded := []Event{&drafted}
	for _, e := range approved {
		switch e := e.(type) {
		case BatchApproved:
			folded = append(folded, &e)
		case PaymentIssued:
			folded = append(folded, &e)
		}
	}
	s = payrollState(folded...)
	if _, err := DecideDraft(s, c2); !errors.As(err, &re) || re.Rule != RuleNothingToPay {
		t.Errorf("the same run again: %v, want nothing to pay", err)
	}
	if _, err := DecideApproval(s, drafted.BatchID, "fin.li"); !errors.Is(err, ErrConflict) {
		t.Errorf("approving twice: %v", err)
	}
	if _, err := DecideRejection(payrollState(&drafted), drafted.BatchID, "fin.li", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("rejection without reason: %v", err)
	}
	rej, err := DecideRejection(payrollState(&drafted), drafted.BatchID, "fin.li", "wrong paid-on date")
	if err != nil {
		t.Fatal(err)
	}
	r := rej[0].(BatchRejected)
	if _, err := DecideDraft(payrollState(&drafted, &r), c2); err != nil {
		t.Errorf("redraft after a rejection: %v", err)
	}
}

// Every batch total equals the sum of its lines, to the fen, over random
// persons, grants, suspensions and earlier payments.
func TestPayrollTotalsEqualTheirLines(t *testing.T) {
	for seed := range uint64(30) {
		r := rand.New(rand.NewPCG(seed, 1))
		var persons []PayrollPerson
		paid := map[PersonPeriod]Money{}
		for i := range 1 + r.IntN(40) {
			id := PersonID(fmt.Sprintf("%020d", i))
			changes := []EntitlementChange{{Kind: ChangeGranted, EffectiveDate: NewDate(2024, time.January, 1).AddDays(r.IntN(500)),
				Amount: func() Money {
					if r.IntN(3) == 0 {
						return MustMoney(fmt.Sprintf("%d.%02d", 50+r.IntN(200), r.IntN(100)))
					}
					return Money{}
				}()}}
			if r.IntN(4) == 0 {
				changes = append(changes, EntitlementChange{Kind: ChangeSuspended, EffectiveDate: NewDate(2024, 6, 1).AddDays(r.IntN(300))})
			}
			for p := per("2024-01"); p.Compare(per("2025-05")) <= 0; p = p.Next() {
				if r.IntN(3) == 0 {
					paid[PersonPeriod{id, p}] = MustMoney(fmt.Sprintf("%d.%02d", r.IntN(120), r.IntN(100)))
				}
			}
			persons = append(persons, PayrollPerson{PersonID: id, Township: "星子镇", Changes: changes})
		}
		c := DraftPayroll{BatchID: "b", Program: ProgramLivingSubsidy, Period: per("2025-06"), PaidOn: d("2025-06-20"), DraftedBy: "fin", Persons: persons, PaidElsewhere: paid}
		evs, err := DecideDraft(payrollState(), c)
		if err != nil {
			var re *RuleError
			if errors.As(err, &re) && re.Rule == RuleNothingToPay {
				continue
			}
			t.Fatal(err)
		}
		lines(t, evs) // checks the total against the lines
		for _, l := range evs[0].(BatchDrafted).Lines {
			if l.Amount.IsZero() {
				t.Fatalf("seed %d: a zero line %+v", seed, l)
			}
		}
	}
}

// Every total in a batch report equals the sum of its lines, to the fen,
// over random batches and payment outcomes.
func TestBatchReportTotalsEqualTheirLines(t *testing.T) {
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 2))
		var lines []PayrollLine
		total := Money{}
		for i := range 1 + r.IntN(200) {
			amt := MustMoney(fmt.Sprintf("%d.%02d", r.IntN(5000), r.IntN(100)))
			lines = append(lines, PayrollLine{Reference: fmt.Sprint("r", i), PersonID: PersonID(fmt.Sprintf("%020d", i)), Kind: PaymentRegular,
				Period: per("2025-03"), Amount: amt})
			total = total.Add(amt)
		}
		d := &BatchDrafted{BatchID: "b", Program: ProgramLivingSubsidy, Period: per("2025-03"), Lines: lines, Count: len(lines), Total: total}
		events := []Event{d, &BatchApproved{BatchID: "b"}}
		for _, l := range lines {
			pl := PaymentLine{Reference: l.Reference, PersonID: l.PersonID, Program: ProgramLivingSubsidy, Period: l.Period, Amount: l.Amount}
			events = append(events, &PaymentIssued{PaymentLine: pl})
			switch r.IntN(4) {
			case 0:
				events = append(events, &PaymentSettled{PaymentLine: pl})
			case 1:
				events = append(events, &PaymentFailed{PaymentLine: pl})
			case 2:
				events = append(events, &PaymentSettled{PaymentLine: pl}, &PaymentReversed{PaymentLine: pl})
			}
		}
		rep, err := payrollState(events...).Report("b")
		if err != nil {
			t.Fatal(err)
		}
		sums := map[string]*CountTotal{"settled": {}, "failed": {}, "reversed": {}, "issued": {}}
		for _, l := range rep.Lines {
			sums[l.Status].add(l.Amount)
		}
		check := func(name string, got, want CountTotal) {
			if got.Count != want.Count || !got.Total.Equal(want.Total) {
				t.Fatalf("seed %d: %s = %+v, sum of its lines %+v", seed, name, got, want)
			}
		}
		check("settled", rep.Settled, *sums["settled"])
		check("failed", rep.Failed, *sums["failed"])
		check("reversed", rep.Reversed, *sums["reversed"])
		check("outstanding", rep.Outstanding, *sums["issued"])
		check("expected", rep.Expected, CountTotal{len(lines), total})
		parts := rep.Settled.Total.Add(rep.Failed.Total).Add(rep.Reversed.Total).Add(rep.Outstanding.Total)
		if !parts.Equal(rep.Expected.Total) {
			t.Fatalf("seed %d: the parts add up to %s, expected %s", seed, parts, rep.Expected.Total)
		}
	}
}
