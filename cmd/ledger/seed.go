package main

import (
	"context"
	"errors"
)

// cmdSeed generates data through the ledger's own paths:
//
//	ledger seed --scenario lushan-2024 [--seed N]
//	ledger seed --scenario scale --persons N --years Y [--seed N]
//
// (Being built: the dispatcher parses --scenario and hands the remaining
// arguments to seedLushan or seedScale.)
func cmdSeed(ctx context.Context, e *env, args []string) error {
	return errors.New("seed: not implemented yet")
}
