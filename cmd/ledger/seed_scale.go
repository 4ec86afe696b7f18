package main

import (
	"context"
	"errors"
)

// seedScale generates province-scale synthetic data. (Being built.)
func seedScale(ctx context.Context, e *env, args []string) error {
	return errors.New("seed --scenario scale: not implemented yet")
}
