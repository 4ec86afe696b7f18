package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/lushan-dpf/ledger/seed"
)

// cmdSeed generates data through the ledger's own paths:
//
//	ledger seed --scenario lushan-2024 [--seed N] [--if-empty] [--workers N] [--files DIR]
//	ledger seed --scenario scale --persons N --years Y [--seed N]
//
// It takes --scenario from the arguments and hands the rest to the
// scenario, which parses its own flags.
func cmdSeed(ctx context.Context, e *env, args []string) error {
	scenario, rest, err := scenarioArg(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(e.stdout, seedUsage)
	}
	if err != nil {
		return err
	}
	switch scenario {
	case seed.Lushan2024:
		return seedLushan(ctx, e, rest)
	case "scale":
		return seedScale(ctx, e, rest)
	}
	return usageError{fmt.Sprintf("scenario: %q is not a scenario; want %s or scale", scenario, seed.Lushan2024)}
}

const seedUsage = "usage: ledger seed --scenario lushan-2024|scale [flags] (ledger seed --scenario NAME -h lists them)"

// scenarioArg removes --scenario NAME (or -scenario, or =NAME) from args.
func scenarioArg(args []string) (scenario string, rest []string, err error) {
	found := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "scenario" {
			rest = append(rest, a)
			continue
		}
		if found {
			return "", nil, usageError{"scenario: given twice"}
		}
		found = true
		if !hasValue {
			if i+1 >= len(args) {
				return "", nil, usageError{"scenario: needs a name: lushan-2024 or scale"}
			}
			i++
			value = args[i]
		}
		scenario = value
	}
	if !found {
		for _, a := range rest {
			if a == "-h" || a == "--help" || a == "-help" {
				return "", nil, flag.ErrHelp
			}
		}
		return "", nil, usageError{"scenario: is required (--scenario lushan-2024 or --scenario scale); " + seedUsage}
	}
	return scenario, rest, nil
}
