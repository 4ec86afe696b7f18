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

// cmdBudget proposes, approves and shows programs' budgets, which the
// spending report compares payments with (maker-checker: one finance user
// proposes a year's budget, another approves it):
//
//	ledger budget allocate --program P --year Y --amount A --user NAME [--reason R] [--key K]
//	ledger budget approve|reject --program P --year Y --user NAME [--reason R] [--key K]
//	ledger budget show --program P
func cmdBudget(ctx context.Context, e *env, args []string) error {
	const list = `usage: ledger budget allocate --program P --year YYYY --amount 1234567.00 --user NAME [--reason R]   propose a year's budget (a later allocation replaces it)
       ledger budget approve --program P --year YYYY --user NAME              allocate the proposed budget (another finance user than the proposer)
       ledger budget reject --program P --year YYYY --user NAME --reason R    turn the proposed budget down
       ledger budget show --program P   the budget of each year, and any waiting for approval`
	if done, err := subcommands(e, args, list); done {
		return err
	}
	switch args[0] {
	case "allocate":
		return cmdBudgetAllocate(ctx, e, args[1:])
	case "approve", "reject":
		return cmdBudgetDecide(ctx, e, args[0], args[1:])
	case "show":
		return cmdBudgetShow(ctx, e, args[1:])
	}
	return usageError{fmt.Sprintf("budget: unknown subcommand %q; want allocate, approve, reject or show", args[0])}
}

func cmdBudgetAllocate(ctx context.Context, e *env, args []string) error {
	var cfg config
	fs := newFlagSet("budget allocate", e)
	cfg.bind(fs, e, false)
	program := fs.String("program", "", "the program, e.g. living_subsidy (required)")
	year := fs.Int("year", 0, "the fiscal (calendar) year (required)")
	amountFlag := fs.String("amount", "", "the year's budget in yuan, e.g. 3600000.00 (required)")
	user := fs.String("user", "", "the finance user proposing it; another approves it (required)")
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
	c := domain.ProposeBudget{AllocateBudget: domain.AllocateBudget{Program: domain.ProgramCode(*program), FiscalYear: *year, Amount: amount}, ProposedBy: *user}
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
	res, replayed, err := app.NewBudgets(d.store).Propose(ctx, meta, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "proposed %s to %s for %d at %s%s; another finance user allocates it: ledger budget approve --program %s --year %d --user NAME\n",
		amount, c.Program, c.FiscalYear, res.Position, ranBefore(replayed), c.Program, c.FiscalYear)
	return nil
}

func ranBefore(replayed bool) string {
	if replayed {
		return " (this key ran before: nothing appended)"
	}
	return ""
}

func cmdBudgetDecide(ctx context.Context, e *env, verb string, args []string) error {
	var cfg config
	fs := newFlagSet("budget "+verb, e)
	cfg.bind(fs, e, false)
	program := fs.String("program", "", "the program, e.g. living_subsidy (required)")
	year := fs.Int("year", 0, "the fiscal (calendar) year (required)")
	user := fs.String("user", "", "the finance user deciding; not the proposer (required)")
	reason := fs.String("reason", "", "why (required to reject)")
	key := commandKey(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *program == "":
		return usageError{fmt.Sprintf("budget %s: --program is required, e.g. --program living_subsidy", verb)}
	case *year == 0:
		return usageError{fmt.Sprintf("budget %s: --year is required, e.g. --year 2025", verb)}
	case *user == "":
		return usageError{fmt.Sprintf("budget %s: --user is required: name the finance user", verb)}
	case verb == "reject" && *reason == "":
		return usageError{"budget reject: --reason is required: say why the budget is turned down"}
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
	meta := payrollMeta(*user, *key)
	meta.Reason = *reason
	b := app.NewBudgets(d.store)
	var res domain.AppendResult
	var replayed bool
	if verb == "approve" {
		res, replayed, err = b.Approve(ctx, meta, domain.ApproveBudget{Program: p, FiscalYear: *year, ApprovedBy: *user})
	} else {
		res, replayed, err = b.Reject(ctx, meta, domain.RejectBudget{Program: p, FiscalYear: *year, RejectedBy: *user, Reason: *reason})
	}
	if err != nil {
		return err
	}
	done := map[string]string{"approve": "allocated", "reject": "rejected"}[verb]
	fmt.Fprintf(e.stdout, "%s's budget for %d %s at %s%s\n", p, *year, done, res.Position, ranBefore(replayed))
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
	st, err := app.NewBudgets(d.store).Of(ctx, p)
	if err != nil {
		return err
	}
	if len(st.Allocated) == 0 && len(st.Pending) == 0 {
		fmt.Fprintf(e.stdout, "%s: no budget allocated\n", p)
		return nil
	}
	for _, y := range slices.Sorted(maps.Keys(st.Allocated)) {
		fmt.Fprintf(e.stdout, "%s %s %s\n", p, strconv.Itoa(y), st.Allocated[y])
	}
	for _, y := range slices.Sorted(maps.Keys(st.Pending)) {
		w := st.Pending[y]
		fmt.Fprintf(e.stdout, "%s %s %s proposed by %s, waiting for approval\n", p, strconv.Itoa(y), w.Amount, w.ProposedBy)
	}
	return nil
}
