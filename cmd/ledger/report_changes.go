package main

import (
	"context"
	"errors"
)

// cmdReportChanges writes the monthly change notice. (Being built.)
func cmdReportChanges(ctx context.Context, e *env, args []string) error {
	return errors.New("report changes: not implemented yet")
}
