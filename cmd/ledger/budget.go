package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
)

// cmdBudget allocates and shows programs' budgets, which the spending
// report compares payments with:
//
//	ledger budget allocate --program P --year Y --amount A --user NAME [--reason R] [--key K]
//	ledger budget show --program P
func cmdBudget(ctx context.Context, e *env, args []string) error {
	const list = `usage: ledger budget allocate --program P --year YYYY --amount 1234567.00 --user NAME [--reason R]   set a year's budget (a later allocation replaces it)
       ledger budget show --program P   the budget of each year`
	if done, err := subcommands(e, args, list); done {
		return err
	}
	switch args[0] {
	case "allocate":
		return cmdBudgetAllocate(ctx, e, args[1:])
	case "show":
		return cmdBudgetShow(ctx, e, args[1:])
	}
	return usageError{fmt.Sprintf("budget: unknown subcommand %q; want allocate or show", args[0])}
}

func cmdBudgetAllocate(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("budget allocate", e)
	cfg.bind(fs, e, false)
	program := fs.String("program", "", "the program, e.g. living_subsidy (required)")
	year := fs.Int("year", 0, "the fiscal (calendar) year (required)")
	amountFlag := fs.String("amount", "", "the year's budget in yuan, e.g. 3600000.00 (required)")
	user := fs.String("user", "", "the finance user allocating (required)")
	reason := fs.String("reason", "", "why, e.g. the budget document's number")
	key := commandKey(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *program == "":
		return usageError{"budget allocate: --program is required, e.g. --program living_subsidy"}
	case *year == 0:
		return usageError{"budget allocate: --year is required, e.g. --year 2025"}
	case *amountFlag == "":
		return usageError{"budget allocate: --amount is required, e.g. --amount 3600000.00"}
	case *user == "":
		return usageError{"budget allocate: --user is required: name the finance user"}
	}
	amount, err := domain.ParseMoney("amount", *amountFlag)
	if err != nil {
		return usageError{err.Error()}
	}
	c := domain.AllocateBudget{Program: domain.ProgramCode(*program), FiscalYear: *year, Amount: amount}
	if err := c.Validate(); err != nil {
		return usageError{err.Error()}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	meta := payrollMeta(*user, *key)
	meta.Reason = *reason
	res, replayed, err := app.NewBudgets(d.store).Allocate(ctx, meta, c)
	if err != nil {
		return err
	}
	again := ""
	if replayed {
		again = " (this key ran before: nothing appended)"
	}
	fmt.Fprintf(e.stdout, "allocated %s to %s for %d at %s%s\n", amount, c.Program, c.FiscalYear, res.Position, again)
	return nil
}

func cmdBudgetShow(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("budget show", e)
	cfg.bind(fs, e, false)
	program := fs.String("program", "", "the program, e.g. living_subsidy (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	p, err := domain.ParseProgramCode("program", *program)
	if err != nil {
		return usageError{err.Error()}
	}
	d, err := open(ctx, e, cfg)
	if err != nil {
		return err
	}
	defer d.Close()
	b, err := app.NewBudgets(d.store).Of(ctx, p)
	if err != nil {
		return err
	}
	if len(b) == 0 {
		fmt.Fprintf(e.stdout, "%s: no budget allocated\n", p)
		return nil
	}
	for _, y := range slices.Sorted(maps.Keys(b)) {
		fmt.Fprintf(e.stdout, "%s %s %s\n", p, strconv.Itoa(y), b[y])
	}
	return nil
}
