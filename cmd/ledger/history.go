package main

import (
	"context"
	"errors"
)

// cmdHistory lists a person's events and replays them. (Being built.)
func cmdHistory(ctx context.Context, e *env, args []string) error {
	return errors.New("history: not implemented yet")
}
