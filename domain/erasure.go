package domain

import (
	"time"
)

// RetentionYears is how long the ledger keeps a person's personal data
// after their last activity: the accounting archive rule (会计档案管理办法,
// 2015: accounting vouchers and ledgers are kept 30 years), since the
// payment records the data supports are the federation's vouchers. A
// person's retention ends on 31 December of the RetentionYears-th year
// after the year of their last activity — the later of the latest
// effective date of the events of their stream and the last day of the
// last month paid to them.
const RetentionYears = 30

// Rules of an erasure.
const (
	RuleErased            = "erased"              // the person's personal data was erased
	RuleErasureOpen       = "erasure_open"        // benefits, proposals, payments or claims are still open
	RuleRetentionNotEnded = "retention_not_ended" // the retention period has not ended
)

// ErasePerson erases a person's personal data (crypto-shredding): it
// records PersonErased, after which the application deletes the person's
// data key. It is refused while an entitlement or proposal is open,
// money is in flight or owed, or the retention period has not ended. The
// application fills On and Money from what the person's stream does not
// hold.
type ErasePerson struct {
	Reason string
	On     Date        // today, China Standard Time
	Money  PersonMoney // what the payment shards hold of the person
}

// PersonMoney is what the payment shards hold of one person.
type PersonMoney struct {
	OpenLines  int    // payment lines reserved or issued and not yet settled or failed
	OpenClaims Money  // what overpayment claims still ask
	LastPaid   Period // the last month paid; zero if none
}

func (ErasePerson) CommandName() string { return "ErasePerson" }

func (c ErasePerson) validate(time.Time) error {
	if err := checkText("reason", c.Reason, 500); err != nil {
		return err
	}
	if c.On.IsZero() {
		return Invalid("on", "is required")
	}
	return nil
}

// RetentionEnds returns the last day of a person's retention period, given
// the day of their last activity.
func RetentionEnds(lastActivity Date) Date {
	return NewDate(lastActivity.Year()+RetentionYears, time.December, 31)
}

func (c ErasePerson) decide(s Beneficiary) ([]Event, error) {
	for _, en := range s.openEntitlements() {
		return nil, Violation(RuleErasureOpen, "entitlement %s is %s; terminate it before erasing the person", en.Program, en.Status)
	}
	for _, p := range s.Proposals {
		if p.Status == ProposalPending {
			return nil, Violation(RuleErasureOpen, "proposal %s is waiting for approval; approve or reject it first", p.ID)
		}
	}
	if c.Money.OpenLines > 0 {
		return nil, Violation(RuleErasureOpen, "%d payment line(s) are not settled yet; reconcile the bank's return file first", c.Money.OpenLines)
	}
	if c.Money.OpenClaims.Cmp(Money{}) > 0 {
		return nil, Violation(RuleErasureOpen, "overpayment claims still ask %s; recover or write them off first", c.Money.OpenClaims)
	}
	last := s.lastActivity
	if !c.Money.LastPaid.IsZero() && c.Money.LastPaid.Last().After(last) {
		last = c.Money.LastPaid.Last()
	}
	if ends := RetentionEnds(last); !c.On.After(ends) {
		return nil, Violation(RuleRetentionNotEnded, "the person's records are kept until %s (%d years after their last activity on %s)", ends, RetentionYears, last)
	}
	return []Event{PersonErased{PersonID: s.ID, ErasedOn: c.On, LastActivity: last}}, nil
}

// PersonErased: the person's personal data was erased. Their data key is
// deleted after it is recorded, so what earlier events hold of them
// (sealed with that key) can no longer be read; the events themselves
// stay, and with them the person ID, the payments and the decisions.
type PersonErased struct {
	PersonID     PersonID `json:"person_id"`
	ErasedOn     Date     `json:"erased_on"`
	LastActivity Date     `json:"last_activity"` // from which the retention period ran
}

func (PersonErased) EventType() string   { return TypePersonErased }
func (e PersonErased) EffectiveOn() Date { return e.ErasedOn }

func (e PersonErased) apply(s *Beneficiary) {
	s.Erased, s.ErasedOn = true, e.ErasedOn
	s.IDNumber, s.Name, s.BirthDate = ResidentID{}, "", Date{}
	s.BankAccount = nil
}
