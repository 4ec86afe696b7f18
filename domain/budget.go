package domain

import "fmt"

// AllocateBudget sets a program's budget for a fiscal (calendar) year, in
// its program stream (ProgramStream): the spending report compares what
// the program paid that year with it. A later allocation for the same
// year replaces the earlier one (a supplementary budget is allocated as
// the new total).
type AllocateBudget struct {
	Program    ProgramCode
	FiscalYear int
	Amount     Money
}

// Budgets is a program stream folded: the budget allocated for each year.
type Budgets map[int]Money

// EvolveBudgets folds an event of a program stream into b.
func EvolveBudgets(b Budgets, e Event) Budgets {
	if a, ok := e.(*BudgetAllocated); ok {
		if b == nil {
			b = Budgets{}
		}
		b[a.FiscalYear] = a.Amount
	}
	return b
}

// Validate checks the command's fields; errors name them.
func (c AllocateBudget) Validate() error {
	if _, err := ParseProgramCode("program", string(c.Program)); err != nil {
		return err
	}
	if c.FiscalYear < 2000 || c.FiscalYear > 2100 {
		return Invalid("fiscal_year", "%d is not a year from 2000 to 2100", c.FiscalYear)
	}
	if c.Amount.Fen() < 0 {
		return Invalid("amount", "is negative")
	}
	return nil
}

// DecideBudget decides an allocation on the program's budgets: the
// allocation, or a conflict when the year already has exactly that budget.
func DecideBudget(b Budgets, c AllocateBudget) ([]Event, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if was, ok := b[c.FiscalYear]; ok && was.Equal(c.Amount) {
		return nil, &ConflictError{Reason: fmt.Sprintf("%s's budget for %d is %s already", c.Program, c.FiscalYear, c.Amount)}
	}
	return []Event{BudgetAllocated{Program: c.Program, FiscalYear: c.FiscalYear, Amount: c.Amount}}, nil
}
