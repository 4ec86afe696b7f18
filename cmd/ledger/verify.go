package main

import (
	"context"
	"errors"
)

// cmdVerify checks the hash chains and the read models. (Being built.)
func cmdVerify(ctx context.Context, e *env, args []string) error {
	return errors.New("verify: not implemented yet")
}
