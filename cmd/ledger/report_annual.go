package main

import (
	"context"
	"errors"
)

// cmdReportAnnual writes the annual summary. (Being built.)
func cmdReportAnnual(ctx context.Context, e *env, args []string) error {
	return errors.New("report annual: not implemented yet")
}
