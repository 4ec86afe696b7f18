package projections_test

import (
	"context"
	"errors"
	"testing"

	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// Before a runner has created the read models, their queries answer an
// error matching ErrNotProjected — neither unavailable nor a bare SQL
// error — and Reached answers false; once the tables exist, the same
// query answers.
func TestReadModelsBeforeTheyAreCreated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.NewSchema(t) // migrated: checkpoints, no read models
	rm := projections.ReadModels{Q: db.Pool}
	pid := domain.PersonID("0123456789abcdef0123")
	for name, err := range map[string]error{
		"PersonByID":         second(rm.PersonByID(ctx, pid)),
		"Changes":            second(rm.Changes(ctx, domain.MustDate("2024-01-01"), domain.MustDate("2024-01-31"), "")),
		"AnnualFigures":      second(rm.AnnualFigures(ctx, 2024)),
		"ChangelogTownships": second(rm.ChangelogTownships(ctx)),
	} {
		if !errors.Is(err, projections.ErrNotProjected) || errors.Is(err, domain.ErrUnavailable) {
			t.Errorf("%s: %v; want ErrNotProjected, not unavailable", name, err)
		}
	}
	if reached, err := rm.Reached(ctx, domain.Start); err != nil || reached {
		t.Errorf("Reached with no checkpoint = %v, %v; want false, nil", reached, err)
	}

	db = prtest.Setup(t, projections.EntitlementsProjection{})
	rm = projections.ReadModels{Q: db.Pool}
	if _, err := rm.PersonByID(ctx, pid); !errors.Is(err, domain.ErrNotFound) || errors.Is(err, projections.ErrNotProjected) {
		t.Errorf("PersonByID once created: %v; want not found", err)
	}
}

func second[T any](_ T, err error) error { return err }
