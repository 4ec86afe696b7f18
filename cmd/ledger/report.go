package main

import (
	"context"
	"fmt"
)

// cmdReport writes the federation's reports:
//
//	ledger report changes --from DATE --to DATE [--township T] [--department D] --format csv|xlsx --user NAME
//	ledger report annual --year YYYY [--format table|csv|json|xlsx]
func cmdReport(ctx context.Context, e *env, args []string) error {
	if done, err := subcommands(e, args, "usage: ledger report changes|annual … (see ledger report changes -h)"); done {
		return err
	}
	switch args[0] {
	case "changes":
		return cmdReportChanges(ctx, e, args[1:])
	case "annual":
		return cmdReportAnnual(ctx, e, args[1:])
	}
	return usageError{fmt.Sprintf("report: unknown subcommand %q; want changes or annual", args[0])}
}
