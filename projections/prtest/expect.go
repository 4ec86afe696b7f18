package prtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// Check is a query and the rows it must return, in order, each as Rows
// renders it (columns joined by " | "). No Want: no rows.
type Check struct {
	SQL  string
	Args []any
	Want []string
}

// Expect is "these rows after these events": it projects envs with p in
// one batch and again one event per batch, which must leave the same
// tables (Project), then reports each check whose rows differ (CheckRows).
// It returns the pool of the one-batch schema, for the test's own queries.
func Expect(t testing.TB, p projections.Projection, envs []domain.Envelope, checks ...Check) *pgxpool.Pool {
	t.Helper()
	pool := Project(t, p, envs, []int{1})
	CheckRows(t, pool, checks...)
	return pool
}

// Project projects envs with p into a fresh schema in one batch, and into
// another in batches of the given sizes (as ApplyBatches); fails the test
// unless both leave every table of p the same (SameTables); and returns
// the first schema's pool.
func Project(t testing.TB, p projections.Projection, envs []domain.Envelope, sizes []int) *pgxpool.Pool {
	t.Helper()
	one := Setup(t, p)
	Apply(t, one.Pool, p, envs)
	split := Setup(t, p)
	ApplyBatches(t, split.Pool, p, envs, sizes)
	how := "split batches"
	if len(sizes) == 1 && sizes[0] <= 1 {
		how = "one event per batch"
	}
	SameTables(t, p, one.Pool, split.Pool, "one batch", how)
	return one.Pool
}

// CheckRows runs each check on q and reports (t.Errorf) every one whose
// rows are not exactly its Want.
func CheckRows(t testing.TB, q projections.Querier, checks ...Check) {
	t.Helper()
	for _, c := range checks {
		if got := Rows(t, q, c.SQL, c.Args...); !slices.Equal(got, c.Want) {
			t.Errorf("%s\ngot:\n%swant:\n%s", strings.TrimSpace(c.SQL), Lines(got), Lines(c.Want))
		}
	}
}

// SameTables fails the test (t.Fatalf) at the first table of p whose rows
// differ between a and b, showing both; aName and bName say what a and b
// hold ("one batch", "random batches").
func SameTables(t testing.TB, p projections.Projection, a, b projections.Querier, aName, bName string) {
	t.Helper()
	for _, table := range p.Tables() {
		x, y := Dump(t, a, table), Dump(t, b, table)
		if !slices.Equal(x, y) {
			t.Fatalf("%s: %s and %s differ\n%s:\n%s%s:\n%s", table, aName, bName, aName, Lines(x), bName, Lines(y))
		}
	}
}

// Lines renders rows one per line, indented, for a failure message.
func Lines(rows []string) string {
	var b strings.Builder
	for _, r := range rows {
		b.WriteString("  " + r + "\n")
	}
	return b.String()
}
