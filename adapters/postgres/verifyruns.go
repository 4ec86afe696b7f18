package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/pg"
)

// VerifyRuns keeps the runs of `ledger verify` in verify_runs.
type VerifyRuns struct{ Pool *pgxpool.Pool }

var _ app.VerifyRuns = VerifyRuns{}

// Record stores a run.
func (v VerifyRuns) Record(ctx context.Context, run app.VerifyRun) error {
	models, err := json.Marshal(run.ReadModels)
	if err != nil {
		return fmt.Errorf("record verify run: %w", err)
	}
	if run.ReadModels == nil {
		models = []byte("[]")
	}
	var (
		events, digestEvents      *int64
		streams, broken           *int
		digestPosition, digestHex *string
	)
	if c := run.Chains; c != nil {
		pos := c.Digest.Position.String()
		events, streams, broken = &c.Events, &c.Streams, &c.Broken
		digestPosition, digestEvents, digestHex = &pos, &c.Digest.Events, &c.Digest.Hex
	}
	_, err = v.Pool.Exec(ctx, `
INSERT INTO verify_runs (finished_at, ran_by, problems, events, streams, broken_streams,
    digest_position, digest_events, digest_hex, read_models, overpaid_months, report)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		run.FinishedAt, run.RanBy, run.Problems, events, streams, broken,
		digestPosition, digestEvents, digestHex, string(models), run.OverpaidMonths, string(run.Report))
	if err != nil {
		return fmt.Errorf("record verify run: %w", pg.Classify(ctx, err))
	}
	return nil
}

// Latest returns the last run recorded (domain.ErrNotFound when none).
func (v VerifyRuns) Latest(ctx context.Context) (app.VerifyRun, error) {
	var (
		run                       app.VerifyRun
		events, digestEvents      *int64
		streams, broken           *int
		digestPosition, digestHex *string
		models, report            []byte
	)
	err := v.Pool.QueryRow(ctx, `
SELECT finished_at, ran_by, problems, events, streams, broken_streams,
    digest_position, digest_events, digest_hex, read_models, overpaid_months, report
FROM verify_runs ORDER BY id DESC LIMIT 1`).Scan(&run.FinishedAt, &run.RanBy, &run.Problems, &events, &streams, &broken,
		&digestPosition, &digestEvents, &digestHex, &models, &run.OverpaidMonths, &report)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return app.VerifyRun{}, fmt.Errorf("no run of ledger verify recorded: %w", domain.ErrNotFound)
	case err != nil:
		return app.VerifyRun{}, fmt.Errorf("latest verify run: %w", pg.Classify(ctx, err))
	}
	if events != nil {
		c := &app.VerifiedChains{Events: *events, Streams: *streams, Broken: *broken, Digest: domain.Digest{Events: *digestEvents, Hex: *digestHex}}
		if c.Digest.Position, err = domain.ParsePosition("digest_position", *digestPosition); err != nil {
			return app.VerifyRun{}, fmt.Errorf("latest verify run: %w", err)
		}
		run.Chains = c
	}
	if err := json.Unmarshal(models, &run.ReadModels); err != nil {
		return app.VerifyRun{}, fmt.Errorf("latest verify run: read models: %w", err)
	}
	run.Report = report
	return run, nil
}
