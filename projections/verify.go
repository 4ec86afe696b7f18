package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
)

// ErrVerifyRunning: another process is verifying the same projection.
var ErrVerifyRunning = errors.New("a verification of this projection is already running")

// Sides of a differing row.
const (
	OnlyInLive    = "only in live"
	OnlyInRebuild = "only in rebuild"
)

// Verification is what Verify found for one projection.
type Verification struct {
	Projection string `json:"projection"`
	Version    int    `json:"version"`
	// Status is the live checkpoint's: "running" or "parked".
	Status string `json:"status,omitempty"`
	// Position is the live checkpoint the rebuild was taken to; Events is
	// how many events it applied.
	Position domain.Position `json:"position"`
	Events   int64           `json:"events"`
	// Skipped says why the projection was not compared without that being
	// a problem (it was never set up: there are no live tables to check).
	Skipped string `json:"skipped,omitempty"`
	// Problems are findings about the projection as a whole: live tables
	// missing, or built by another version of the code.
	Problems []string    `json:"problems,omitempty"`
	Tables   []TableDiff `json:"tables,omitempty"`
}

// TableDiff compares one live table with its rebuild, as multisets of rows.
type TableDiff struct {
	Table         string `json:"table"`
	LiveRows      int64  `json:"live_rows"`
	RebuildRows   int64  `json:"rebuild_rows"`
	OnlyInLive    int64  `json:"only_in_live"`
	OnlyInRebuild int64  `json:"only_in_rebuild"`
	// Problem is set when the live table's columns differ from the
	// rebuild's (its rows are then compared as JSON objects).
	Problem string `json:"problem,omitempty"`
	// Rows lists differing rows, at most the limit given to Verify,
	// ordered by their JSON text, so that a row changed in place usually
	// shows its two versions together.
	Rows []RowDiff `json:"rows,omitempty"`
}

// RowDiff is a row found on one side only.
type RowDiff struct {
	Side string          `json:"side"` // OnlyInLive or OnlyInRebuild
	Row  json.RawMessage `json:"row"`  // the row as a JSON object, column: value
}

// ProblemCount counts the findings: projection problems, table problems
// and every differing row (listed or not).
func (v Verification) ProblemCount() int64 {
	n := int64(len(v.Problems))
	for _, t := range v.Tables {
		n += t.OnlyInLive + t.OnlyInRebuild
		if t.Problem != "" {
			n++
		}
	}
	return n
}

// Verify checks projection p's live tables against a rebuild of it. It
// rebuilds p into a scratch schema from the start of the log up to the
// position the live checkpoint has reached — so a projection that is
// behind or parked is compared with the log as it has seen it — and then
// compares every table of p with its rebuild in both directions, listing
// up to limit differing rows per table and counting all of them. The live
// tables and their checkpoint are read in one snapshot, after the rebuild
// has caught up with the checkpoint in that snapshot, so a runner may go
// on applying events meanwhile. The scratch schema is dropped on every
// return, cancellation included. Verify changes nothing live.
func (r *Runner) Verify(ctx context.Context, p Projection, limit int) (Verification, error) {
	r.defaults()
	limit = max(limit, 0)
	v := Verification{Projection: p.Name(), Version: p.Version()}
	c, found, err := LoadCheckpoint(ctx, r.Pool, p.Name())
	if err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	var base string
	if err := r.Pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&base); err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	if !found {
		// No checkpoint: never set up — unless its tables are there, which
		// is a checkpoint removed from under live tables (they would be
		// served unchecked).
		var live []string
		err := pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) (err error) {
			live, err = existingTables(ctx, tx, base, p.Tables())
			return err
		})
		if err != nil {
			return v, fmt.Errorf("verify %s: %w", p.Name(), err)
		}
		if len(live) > 0 {
			v.Problems = append(v.Problems, fmt.Sprintf("live tables %s exist but the projection has no checkpoint: they cannot be compared with a rebuild (`ledger project rebuild %s` rebuilds them)", strings.Join(live, ", "), p.Name()))
			return v, nil
		}
		v.Skipped = "never set up (no checkpoint, no live tables); run the projections first"
		return v, nil
	}
	v.Status, v.Position = c.Status, c.Position
	if c.Version != p.Version() {
		v.Problems = append(v.Problems, fmt.Sprintf("the live tables were built by version %d of the projection and the code is at version %d: the runner rebuilds them when it next starts (or `ledger project rebuild %s`); not compared", c.Version, p.Version(), p.Name()))
		return v, nil
	}
	var live []string
	err = pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		live, err = existingTables(ctx, tx, base, p.Tables())
		return err
	})
	if err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	for _, t := range p.Tables() {
		if !slices.Contains(live, t) {
			v.Problems = append(v.Problems, fmt.Sprintf("live table %s is missing", t))
		}
	}

	// One verification per projection and schema at a time: each drops
	// the scratch schemas a crashed one left.
	lockConn, err := r.Pool.Acquire(ctx)
	if err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	defer lockConn.Release()
	key, err := lockKey(ctx, lockConn, "verify:"+p.Name())
	if err != nil {
		return v, err
	}
	var ok bool
	if err := lockConn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	if !ok {
		return v, fmt.Errorf("verify %s: %w", p.Name(), ErrVerifyRunning)
	}
	defer lockConn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key) //nolint:errcheck

	prefix := "vf_" + strings.TrimPrefix(shadowPrefix(base, p.Name()), "rb_")
	if err := dropShadows(ctx, r, prefix); err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	scratch := prefix + hex.EncodeToString(rnd[:])
	if _, err := r.Pool.Exec(ctx, `CREATE SCHEMA `+ident(scratch)); err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	defer func() {
		if _, err := r.Pool.Exec(context.WithoutCancel(ctx), `DROP SCHEMA IF EXISTS `+ident(scratch)+` CASCADE`); err != nil {
			r.Log.Warn("could not drop a verification's scratch schema; the next verification drops it",
				slog.String("schema", scratch), slog.String("error", err.Error()))
		}
	}()
	err = pgx.BeginFunc(ctx, r.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL search_path TO `+ident(scratch)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, p.Schema())
		return err
	})
	if err != nil {
		return v, fmt.Errorf("verify %s: create tables: %w", p.Name(), err)
	}
	r.Log.Info("verification rebuild started", slog.String("projection", p.Name()),
		slog.String("scratch_schema", scratch), slog.String("to", c.Position.String()))

	// Rebuild up to the checkpoint as it was, page by page.
	var pos domain.Position
	if !c.Position.IsStart() {
		until := c.Position
		if pos, v.Events, _, err = r.fillShadow(ctx, p, scratch, &until, "verification rebuild progress"); err != nil {
			return v, fmt.Errorf("verify %s: %w", p.Name(), err)
		}
	}

	// Then, in one snapshot of the live tables and checkpoint, apply what
	// the runner applied meanwhile and compare.
	err = pgx.BeginTxFunc(ctx, r.Pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, func(tx pgx.Tx) error {
		if len(live) > 0 {
			// Before the snapshot is taken; keeps a rebuild from swapping
			// the tables under the comparison (runners are not blocked).
			if _, err := tx.Exec(ctx, `LOCK TABLE `+qualified(base, live)+` IN ACCESS SHARE MODE`); err != nil {
				return err
			}
		}
		now, found, err := LoadCheckpoint(ctx, tx, p.Name())
		if err != nil {
			return err
		}
		switch {
		case !found || now.Version != c.Version:
			return fmt.Errorf("the projection was set up anew while being verified; verify again")
		case now.Position.Less(pos):
			return fmt.Errorf("the checkpoint moved back from %s to %s while being verified (a rebuild?); verify again", pos, now.Position)
		}
		for pos.Less(now.Position) {
			envs, err := r.readPage(ctx, pos)
			if err != nil {
				return err
			}
			n := len(envs)
			for n > 0 && now.Position.Less(envs[n-1].Position) {
				n--
			}
			if n == 0 {
				return fmt.Errorf("the log has no event at the checkpoint %s", now.Position)
			}
			if err := r.applyShadow(ctx, tx, p, scratch, envs[:n]); err != nil {
				return err
			}
			pos = envs[n-1].Position
			v.Events += int64(n)
		}
		v.Status, v.Position = now.Status, now.Position
		for _, t := range p.Tables() {
			if !slices.Contains(live, t) {
				continue
			}
			d, err := diffTable(ctx, tx, base, scratch, t, limit)
			if err != nil {
				return fmt.Errorf("compare %s: %w", t, err)
			}
			v.Tables = append(v.Tables, d)
		}
		return nil
	})
	if err != nil {
		return v, fmt.Errorf("verify %s: %w", p.Name(), err)
	}
	r.Log.Info("verification compared", slog.String("projection", p.Name()), slog.String("position", v.Position.String()),
		slog.Int64("events", v.Events), slog.Int64("problems", v.ProblemCount()))
	return v, nil
}

// diffTable compares base.table with scratch.table as multisets of rows.
func diffTable(ctx context.Context, tx pgx.Tx, base, scratch, table string, limit int) (TableDiff, error) {
	d := TableDiff{Table: table}
	liveT, rebuiltT := ident(base)+"."+ident(table), ident(scratch)+"."+ident(table)
	var liveCols, rebuiltCols string
	const columns = `SELECT COALESCE(string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum), '')
		FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`
	if err := tx.QueryRow(ctx, columns, liveT).Scan(&liveCols); err != nil {
		return d, err
	}
	if err := tx.QueryRow(ctx, columns, rebuiltT).Scan(&rebuiltCols); err != nil {
		return d, err
	}
	// Rows compare column by column, as the column types define equality,
	// when both tables have the same columns; else as JSON objects.
	except := func(a, b string) string {
		return `SELECT to_jsonb(x) AS r FROM (SELECT * FROM ` + a + ` EXCEPT ALL SELECT * FROM ` + b + `) x`
	}
	if liveCols != rebuiltCols {
		d.Problem = fmt.Sprintf("the live table's columns (%s) are not the rebuild's (%s)", liveCols, rebuiltCols)
		except = func(a, b string) string {
			return `SELECT to_jsonb(x) AS r FROM ` + a + ` x EXCEPT ALL SELECT to_jsonb(y) FROM ` + b + ` y`
		}
	}
	if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+liveT+`), (SELECT count(*) FROM `+rebuiltT+`)`).Scan(&d.LiveRows, &d.RebuildRows); err != nil {
		return d, err
	}
	rows, err := tx.Query(ctx, `
		WITH live_only AS (`+except(liveT, rebuiltT)+`),
		     rebuild_only AS (`+except(rebuiltT, liveT)+`),
		     d AS (SELECT $2::text AS side, r FROM live_only UNION ALL SELECT $3::text, r FROM rebuild_only)
		SELECT side, r::text, count(*) FILTER (WHERE side = $2) OVER (), count(*) FILTER (WHERE side = $3) OVER ()
		FROM d ORDER BY r::text, side LIMIT greatest($1::int, 1)`, limit, OnlyInLive, OnlyInRebuild)
	if err != nil {
		return d, err
	}
	defer rows.Close()
	for rows.Next() {
		var side, row string
		if err := rows.Scan(&side, &row, &d.OnlyInLive, &d.OnlyInRebuild); err != nil {
			return d, err
		}
		if len(d.Rows) < limit {
			d.Rows = append(d.Rows, RowDiff{Side: side, Row: json.RawMessage(row)})
		}
	}
	return d, rows.Err()
}
