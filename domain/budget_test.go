package domain

import (
	"errors"
	"testing"
)

func TestDecideBudget(t *testing.T) {
	b := EvolveBudgets(nil, &BudgetAllocated{Program: ProgramLivingSubsidy, FiscalYear: 2025, Amount: MustMoney("3600000.00")})
	evs, err := DecideBudget(b, AllocateBudget{Program: ProgramLivingSubsidy, FiscalYear: 2025, Amount: MustMoney("3800000.00")})
	if err != nil || len(evs) != 1 || evs[0].(BudgetAllocated).Amount != MustMoney("3800000.00") {
		t.Fatalf("a new total for the year: %v, %v", evs, err)
	}
	var conflict *ConflictError
	if _, err := DecideBudget(b, AllocateBudget{Program: ProgramLivingSubsidy, FiscalYear: 2025, Amount: MustMoney("3600000.00")}); !errors.As(err, &conflict) {
		t.Errorf("the same budget again: %v, want a conflict", err)
	}
	for field, c := range map[string]AllocateBudget{
		"program":     {Program: "pension", FiscalYear: 2025, Amount: MustMoney("1.00")},
		"fiscal_year": {Program: ProgramLivingSubsidy, FiscalYear: 1999, Amount: MustMoney("1.00")},
	} {
		var fe *FieldError
		if _, err := DecideBudget(b, c); !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%+v: %v, want an error naming %s", c, err, field)
		}
	}
}
