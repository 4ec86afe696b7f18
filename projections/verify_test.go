package projections_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
)

// scratchSchemas lists the verification scratch schemas left in the database.
func scratchSchemas(t *testing.T, b bundle) []string {
	t.Helper()
	rows, err := b.db.Pool.Query(context.Background(), `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, 'vf_')`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	// Other tests' schemas (running in parallel packages) share the
	// database; ours carry the hash of our live schema, as Verify names them.
	var ours []string
	for _, n := range names {
		if strings.Contains(n, "_"+schemaHash(b)+"_") {
			ours = append(ours, n)
		}
	}
	return ours
}

func schemaHash(b bundle) string {
	// shadowPrefix: rb_<name>_<first 4 bytes of sha256(schema)>_
	var h string
	_ = b.db.Pool.QueryRow(context.Background(), `SELECT left(encode(sha256(convert_to(current_schema(), 'UTF8')), 'hex'), 8)`).Scan(&h)
	return h
}

// readLog reads the global log once it shows n events: the store holds
// events back while older transactions anywhere in the database (other
// tests') are running.
func readLog(t *testing.T, b bundle, n int) []domain.RecordedEvent {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		evs, err := b.store.ReadAll(context.Background(), domain.Start, n+1, domain.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == n {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log shows %d events, want %d", len(evs), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func verifyAll(t *testing.T, r *projections.Runner, projs []projections.Projection, limit int) map[string]projections.Verification {
	t.Helper()
	out := map[string]projections.Verification{}
	for _, p := range projs {
		v, err := r.Verify(context.Background(), p, limit)
		if err != nil {
			t.Fatalf("verify %s: %v", p.Name(), err)
		}
		out[p.Name()] = v
	}
	return out
}

func TestVerifyFindsNothingOnAnUntouchedLedger(t *testing.T) {
	b := setup(t)
	ledgerLog(t, b.store, 8, 3, 11)
	r := newRunner(b, projections.All()...)
	r.RebuildBatch = 9 // many pages
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	evs, err := b.store.ReadAll(context.Background(), domain.Start, 10_000, domain.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1].Position
	rows := int64(0)
	for name, v := range verifyAll(t, r, projections.All(), 10) {
		if v.ProblemCount() != 0 || len(v.Problems) != 0 || v.Skipped != "" {
			t.Errorf("%s: %+v", name, v)
		}
		if v.Position != last || v.Events != int64(len(evs)) || v.Status != "running" {
			t.Errorf("%s rebuilt to %s with %d events (status %q); want the checkpoint %s, %d events", name, v.Position, v.Events, v.Status, last, len(evs))
		}
		var p projections.Projection
		for _, q := range projections.All() {
			if q.Name() == name {
				p = q
			}
		}
		if len(v.Tables) != len(p.Tables()) {
			t.Errorf("%s: compared %d tables, want %d", name, len(v.Tables), len(p.Tables()))
		}
		for _, d := range v.Tables {
			if d.LiveRows != d.RebuildRows || len(d.Rows) != 0 {
				t.Errorf("%s.%s: %+v", name, d.Table, d)
			}
			rows += d.LiveRows
		}
	}
	if rows < int64(len(evs)) { // the event index alone has one row per event
		t.Errorf("only %d rows compared over %d events", rows, len(evs))
	}
	if left := scratchSchemas(t, b); len(left) != 0 {
		t.Errorf("scratch schemas left behind: %v", left)
	}
}

func TestVerifyListsDifferingRowsBothWays(t *testing.T) {
	b := setup(t)
	ledgerLog(t, b.store, 6, 2, 5)
	r := newRunner(b, projections.All()...)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var nSpending int64
	if err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM spending`).Scan(&nSpending); err != nil || nSpending < 3 {
		t.Fatalf("spending rows: %d, %v; want at least 3", nSpending, err)
	}
	var gone string
	for _, q := range []string{
		`UPDATE spending SET amount_paid = amount_paid + 0.01`, // every row, changed in place
		`INSERT INTO payments SELECT 'FORGED-1', batch_id, person_id, program, period, kind, 999.00, township, paid_on, status, status_on,
			bank_reference, reason, issued_commit, issued_prepare, updated_commit, updated_prepare FROM payments LIMIT 1`,
	} {
		if _, err := b.db.Pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := b.db.Pool.QueryRow(ctx, `DELETE FROM persons WHERE person_id = (SELECT min(person_id) FROM persons) RETURNING person_id`).Scan(&gone); err != nil {
		t.Fatal(err)
	}

	const limit = 2
	got := verifyAll(t, r, projections.All(), limit)
	table := func(proj, name string) projections.TableDiff {
		for _, d := range got[proj].Tables {
			if d.Table == name {
				return d
			}
		}
		t.Fatalf("%s: table %s not compared", proj, name)
		return projections.TableDiff{}
	}
	sp := table("spending", "spending")
	if sp.OnlyInLive != nSpending || sp.OnlyInRebuild != nSpending || len(sp.Rows) != limit {
		t.Errorf("spending: %d only in live, %d only in rebuild, %d listed; want %d, %d, %d", sp.OnlyInLive, sp.OnlyInRebuild, len(sp.Rows), nSpending, nSpending, limit)
	}
	for _, row := range sp.Rows {
		var m map[string]any
		if err := json.Unmarshal(row.Row, &m); err != nil || m["program"] == nil || m["amount_paid"] == nil {
			t.Errorf("spending row %s: %v; want a JSON object of its columns", row.Row, err)
		}
	}
	if got["spending"].ProblemCount() != 2*nSpending {
		t.Errorf("spending problems %d, want %d (every changed row, both versions)", got["spending"].ProblemCount(), 2*nSpending)
	}
	pay := table("payments", "payments")
	if pay.OnlyInLive != 1 || pay.OnlyInRebuild != 0 || len(pay.Rows) != 1 || pay.Rows[0].Side != projections.OnlyInLive ||
		!strings.Contains(string(pay.Rows[0].Row), `"reference": "FORGED-1"`) {
		t.Errorf("payments: %+v; want the forged row, only in live", pay)
	}
	ps := table("entitlements", "persons")
	if ps.OnlyInLive != 0 || ps.OnlyInRebuild != 1 || len(ps.Rows) != 1 || ps.Rows[0].Side != projections.OnlyInRebuild ||
		!strings.Contains(string(ps.Rows[0].Row), gone) || ps.LiveRows != ps.RebuildRows-1 {
		t.Errorf("persons: %+v; want the deleted person %s, only in the rebuild", ps, gone)
	}
	for _, name := range []string{"event_index", "changelog", "bank_accounts", "overpayments"} {
		if n := got[name].ProblemCount(); n != 0 {
			t.Errorf("%s: %d problems in an untouched read model", name, n)
		}
	}
	// The live tables are as they were: Verify changes nothing.
	var still int64
	_ = b.db.Pool.QueryRow(ctx, `SELECT count(*) FROM payments WHERE reference = 'FORGED-1'`).Scan(&still)
	if still != 1 {
		t.Error("Verify changed a live table")
	}
}

func TestVerifyReportsMissingTablesAndOtherVersions(t *testing.T) {
	b := setup(t)
	ledgerLog(t, b.store, 3, 1, 2)
	r := newRunner(b, projections.All()...)
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := b.db.Pool.Exec(ctx, `DROP TABLE budgets`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Pool.Exec(ctx, `UPDATE projection_checkpoints SET version = 99 WHERE name = 'payments'`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Pool.Exec(ctx, `ALTER TABLE changelog_persons ADD COLUMN note text DEFAULT 'x'`); err != nil {
		t.Fatal(err)
	}
	if _, err := b.db.Pool.Exec(ctx, `DELETE FROM projection_checkpoints WHERE name = 'entitlements'`); err != nil {
		t.Fatal(err)
	}
	never := &counter{name: "c_never", version: 1}
	got := verifyAll(t, r, append(projections.All(), never), 5)

	sp := got["spending"]
	if len(sp.Problems) != 1 || !strings.Contains(sp.Problems[0], "budgets") || len(sp.Tables) != 3 {
		t.Errorf("spending with budgets dropped: %+v", sp)
	}
	pay := got["payments"]
	if len(pay.Problems) != 1 || !strings.Contains(pay.Problems[0], "version 99") || len(pay.Tables) != 0 {
		t.Errorf("payments at another version: %+v", pay)
	}
	cl := got["changelog"]
	var cp projections.TableDiff
	for _, d := range cl.Tables {
		if d.Table == "changelog_persons" {
			cp = d
		}
	}
	if !strings.Contains(cp.Problem, "note text") || cp.OnlyInLive != cp.LiveRows || cp.OnlyInRebuild != cp.RebuildRows || cp.LiveRows == 0 {
		t.Errorf("changelog_persons with a column added: %+v", cp)
	}
	if en := got["entitlements"]; en.Skipped != "" || len(en.Problems) != 1 || !strings.Contains(en.Problems[0], "no checkpoint") {
		t.Errorf("entitlements with its checkpoint deleted under live tables: %+v; want a problem, not skipped", en)
	}
	if v := got["c_never"]; v.Skipped == "" || v.ProblemCount() != 0 {
		t.Errorf("a projection never set up: %+v; want it skipped, not a problem", v)
	}
}

// A projection that is behind, or parked, is compared with the log up to
// its checkpoint, not with the whole log.
func TestVerifyRebuildsToTheCheckpoint(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 30, 3)
	evs := readLog(t, b, 30)
	bad := &counter{name: "c_vparked", version: 1}
	id := evs[17].ID.String()
	bad.failOn.Store(&id)
	behind := projections.SpendingProjection{}
	r := newRunner(b, bad, behind)
	r.RebuildBatch = 4
	if err := r.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	appendPayments(t, b.store, 30, 11, 3) // not yet applied by anyone
	got := verifyAll(t, r, []projections.Projection{bad, behind}, 5)

	if v := got["c_vparked"]; v.Status != "parked" || v.Position != evs[16].Position || v.Events != 17 || v.ProblemCount() != 0 {
		t.Errorf("parked projection: %+v; want it compared at the event before the parked one (%s), 17 events", v, evs[16].Position)
	}
	if v := got["spending"]; v.Status != "running" || v.Position != evs[29].Position || v.Events != 30 || v.ProblemCount() != 0 {
		t.Errorf("projection behind the log: %+v; want it compared at its checkpoint %s, 30 events", v, evs[29].Position)
	}
}

// hooked runs hook once, from inside the verification's own rebuild
// (Apply on a scratch schema), then applies as p does.
type hooked struct {
	projections.Projection
	once sync.Once
	hook func()
}

func (h *hooked) Apply(ctx context.Context, tx pgx.Tx, batch []domain.Envelope) error {
	var path string
	if err := tx.QueryRow(ctx, `SELECT current_setting('search_path')`).Scan(&path); err != nil {
		return err
	}
	if strings.Contains(path, "vf_") {
		h.once.Do(h.hook)
	}
	return h.Projection.Apply(ctx, tx, batch)
}

// The runner moves the checkpoint while the verification rebuilds: the
// comparison catches up with the checkpoint in its snapshot and still
// compares like with like.
func TestVerifyCatchesUpWithARunnerThatMovesOn(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 40, 4)
	live := newRunner(b, projections.SpendingProjection{})
	if err := live.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := &hooked{Projection: projections.SpendingProjection{}}
	h.hook = func() {
		appendPayments(t, b.store, 40, 25, 4)
		if err := live.RunOnce(context.Background()); err != nil {
			t.Error(err)
		}
	}
	r := newRunner(b)
	r.RebuildBatch = 6
	v, err := r.Verify(context.Background(), h, 5)
	if err != nil {
		t.Fatal(err)
	}
	evs := readLog(t, b, 65)
	if v.Position != evs[64].Position || v.Events != 65 || v.ProblemCount() != 0 {
		t.Errorf("verification %+v; want it at the moved checkpoint %s with 65 events and no problem", v, evs[64].Position)
	}
	if n := v.Tables[0].LiveRows; n == 0 || v.Tables[0].RebuildRows != n {
		t.Errorf("spending rows: %+v", v.Tables[0])
	}
}

// The scratch schema is dropped when the verification fails or is
// cancelled half-way.
func TestVerifyDropsItsScratchSchemaWhenCancelled(t *testing.T) {
	b := setup(t)
	appendPayments(t, b.store, 0, 30, 3)
	if err := newRunner(b, projections.PaymentsProjection{}).RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	seen := make(chan []string, 1)
	h := &hooked{Projection: projections.PaymentsProjection{}}
	h.hook = func() {
		seen <- scratchSchemas(t, b)
		cancel()
	}
	r := newRunner(b)
	r.RebuildBatch = 5
	_, err := r.Verify(ctx, h, 5)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled verification returned %v", err)
	}
	if during := <-seen; len(during) != 1 {
		t.Errorf("scratch schemas during the verification: %v, want one", during)
	}
	if left := scratchSchemas(t, b); len(left) != 0 {
		t.Errorf("scratch schemas left behind: %v", left)
	}
	// And it runs again afterwards.
	v, err := r.Verify(context.Background(), projections.PaymentsProjection{}, 5)
	if err != nil || v.ProblemCount() != 0 || v.Events != 30 {
		t.Errorf("verification after a cancelled one: %+v, %v", v, err)
	}
}
