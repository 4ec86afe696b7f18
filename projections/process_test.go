package projections_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/projections"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// The crash and hand-over tests run the runner in child processes: the
// test binary re-executes itself with LEDGER_RUNNER_CHILD set, and
// TestMain then runs a runner instead of the tests.
func TestMain(m *testing.M) {
	if url := os.Getenv("LEDGER_RUNNER_CHILD"); url != "" {
		os.Exit(runnerChild(url))
	}
	os.Exit(m.Run())
}

// runnerChild runs every projection against the schema in url until it is
// killed (or, with LEDGER_RUNNER_ONCE, until caught up).
func runnerChild(url string) int {
	ctx := context.Background()
	pool, err := postgres.Connect(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	store := pgstore.New(pool, pgstore.WithPollInterval(20*time.Millisecond))
	r := &projections.Runner{
		Pool: pool, Store: store, Projections: projections.All(),
		Log:       slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		BatchSize: 37, MaxWait: 10 * time.Millisecond, ID: os.Getenv("LEDGER_RUNNER_ID"),
	}
	if os.Getenv("LEDGER_RUNNER_ONCE") != "" {
		err = r.RunOnce(ctx)
	} else {
		err = r.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startChild(t *testing.T, url, id string, once bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "LEDGER_RUNNER_CHILD="+url, "LEDGER_RUNNER_ID="+id)
	if once {
		cmd.Env = append(cmd.Env, "LEDGER_RUNNER_ONCE=1")
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// ledgerLog writes a small but realistic ledger through the command path
// and payroll streams: persons, certificates, grants, payments, failures.
func ledgerLog(t *testing.T, s domain.EventStore, persons, months int, seed uint64) {
	t.Helper()
	ctx := context.Background()
	h := app.NewPersons(s)
	key := domain.LookupKey("process-test-lookup-key-0123456789abcdef")
	rnd := rand.New(rand.NewPCG(seed, 7))
	townships := []string{"蛟塘镇", "星子镇", "白鹿镇", "温泉镇"}
	now := time.Date(2024, 1, 2, 9, 0, 0, 0, time.UTC)
	meta := func(id string) domain.CommandMeta {
		return domain.CommandMeta{CommandID: id, Actor: "clerk.li", Role: "clerk", Now: now}
	}
	type person struct {
		id       domain.PersonID
		township string
	}
	var ps []person
	for i := range persons {
		rid, err := domain.NewResidentID("360429", domain.MustDate("1960-01-01").AddDays(i*37), 1+i%998)
		if err != nil {
			t.Fatal(err)
		}
		hash := key.Hash(rid)
		pid := domain.PersonIDFromHash(hash)
		tw := townships[rnd.IntN(len(townships))]
		cert, _ := domain.NewCertificateNumber(rid, domain.CategoryPhysical, domain.DisabilityGrade(1+rnd.IntN(2)))
		cmds := []domain.Command{
			domain.RegisterPerson{IDNumber: rid, IDHash: hash, Name: fmt.Sprintf("居民%d", i), Township: tw,
				Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2023-12-01")},
			domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
			domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-01-01")},
		}
		for k, c := range cmds {
			if _, err := h.Execute(ctx, pid, meta(fmt.Sprintf("p%d-%d", i, k)), c); err != nil {
				t.Fatalf("person %d command %d: %v", i, k, err)
			}
		}
		ps = append(ps, person{pid, tw})
	}
	for m := 1; m <= months; m++ {
		period, _ := domain.NewPeriod(2024, time.Month(m))
		stream := domain.PaymentsStream(domain.ProgramLivingSubsidy, 0)
		var evs []domain.Event
		for i, p := range ps {
			line := domain.PaymentLine{
				Reference: fmt.Sprintf("LS-%s-%04d", period, i), BatchID: "LS-" + period.String(), PersonID: p.id,
				Program: domain.ProgramLivingSubsidy, Period: period, Kind: domain.PaymentRegular,
				Amount: domain.MustMoney("100.00"), Township: p.township, PaidOn: period.First().AddDays(19),
			}
			evs = append(evs, domain.PaymentIssued{PaymentLine: line})
			if rnd.IntN(20) == 0 {
				evs = append(evs, domain.PaymentFailed{PaymentLine: line, Reason: "account closed", FailedOn: period.First().AddDays(24)})
			} else {
				evs = append(evs, domain.PaymentSettled{PaymentLine: line, BankReference: "B" + line.Reference, SettledOn: period.First().AddDays(22)})
			}
		}
		for start := 0; start < len(evs); start += 50 {
			chunk := evs[start:min(start+50, len(evs))]
			data, err := domain.Seal(domain.CommandMeta{CommandID: fmt.Sprintf("pay-%d-%d", m, start), Actor: "fin.wu", Role: "finance", Now: now}, "", chunk)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Append(ctx, stream, domain.AnyRevision(), data...); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// dumpAll returns every projection table's rows.
func dumpAll(t *testing.T, b bundle) map[string][]string {
	out := map[string][]string{}
	for _, p := range projections.All() {
		for _, table := range p.Tables() {
			out[table] = prtest.Dump(t, b.db.Pool, table)
		}
	}
	return out
}

func compareDumps(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for table, w := range want {
		g := got[table]
		if !slices.Equal(g, w) {
			t.Errorf("table %s differs from a clean rebuild: %d rows vs %d", table, len(g), len(w))
			for i := range max(len(g), len(w)) {
				var a, b string
				if i < len(g) {
					a = g[i]
				}
				if i < len(w) {
					b = w[i]
				}
				if a != b {
					t.Errorf("  first difference at row %d:\n    got  %s\n    want %s", i, a, b)
					break
				}
			}
		}
	}
}

// The runner process is killed (SIGKILL) at random points during a long
// catch-up, restarted, and the final tables equal a clean rebuild.
func TestRunnerKilledMidCatchUpLosesAndDoublesNothing(t *testing.T) {
	if testing.Short() {
		t.Log("short mode: a smaller ledger")
	}
	b := setup(t)
	persons := 60
	if testing.Short() {
		persons = 20
	}
	ledgerLog(t, b.store, persons, 12, 1)
	all, _ := b.store.ReadAll(context.Background(), domain.Start, 1_000_000, domain.Filter{})
	rnd := rand.New(rand.NewPCG(42, 42))
	progress := func() (lo, hi int64) {
		_ = b.db.Pool.QueryRow(context.Background(), `SELECT COALESCE(min(events_applied), 0), COALESCE(max(events_applied), 0) FROM projection_checkpoints`).Scan(&lo, &hi)
		return lo, hi
	}
	kills, midway := 0, 0
	for range 6 {
		// Each kill lands on observed progress, not on a timer: once some
		// projection has applied a random number of events between where
		// the last run stopped and half of what is left.
		_, done := progress()
		left := int64(len(all)) - done
		if left < 2 {
			break
		}
		target := done + 1 + rnd.Int64N(left/2)
		child := startChild(t, b.db.URL, "crashy", false)
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Millisecond) {
			if _, hi := progress(); hi >= target {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the runner applied fewer than %d of %d events in 2 minutes", target, len(all))
			}
		}
		_ = child.Process.Signal(syscall.SIGKILL)
		_ = child.Wait()
		kills++
		if lo, hi := progress(); hi > 0 && lo < int64(len(all)) {
			midway++ // killed with work done and work left
		}
	}
	if midway == 0 {
		t.Fatal("no kill landed in the middle of the catch-up; the test proved nothing")
	}
	finish := startChild(t, b.db.URL, "finisher", true)
	if err := finish.Wait(); err != nil {
		t.Fatalf("final run: %v", err)
	}
	var applied int64
	if err := b.db.Pool.QueryRow(context.Background(), `SELECT min(events_applied) FROM projection_checkpoints`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	total, _ := b.store.ReadAll(context.Background(), domain.Start, 1_000_000, domain.Filter{})
	if applied != int64(len(total)) {
		t.Fatalf("a projection applied %d events of %d", applied, len(total))
	}
	after := dumpAll(t, b)

	// A clean rebuild of every projection from the same log.
	r := &projections.Runner{Pool: b.db.Pool, Store: b.store, Log: slog.New(slog.DiscardHandler)}
	for _, p := range projections.All() {
		if err := r.Rebuild(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	compareDumps(t, after, dumpAll(t, b))
	t.Logf("%d events, runner killed %d times, %d of them mid-way", len(total), kills, midway)
}

// Two runner processes started together: exactly one applies events;
// killing it hands over within seconds.
func TestTwoRunnerProcessesOneActiveThenHandOver(t *testing.T) {
	b := setup(t)
	ledgerLog(t, b.store, 5, 1, 2)
	a := startChild(t, b.db.URL, "proc-a", false)
	bb := startChild(t, b.db.URL, "proc-b", false)
	ctx := context.Background()

	appliers := func() []string {
		rows, err := b.db.Pool.Query(ctx, `SELECT DISTINCT applied_by FROM projection_checkpoints WHERE applied_by IS NOT NULL ORDER BY 1`)
		if err != nil {
			return nil
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			out = append(out, s)
		}
		return out
	}
	caughtUp := func() bool {
		var behind int
		total, _ := b.store.ReadAll(ctx, domain.Start, 1_000_000, domain.Filter{})
		if len(total) == 0 {
			return false
		}
		last := total[len(total)-1].Position
		var n int
		err := b.db.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE position_commit <> $1 OR position_prepare <> $2), count(*) FROM projection_checkpoints`,
			int64(last.Commit), int64(last.Prepare)).Scan(&behind, &n)
		return err == nil && behind == 0 && n == len(projections.All())
	}
	waitFor(t, "the first run to catch up", caughtUp)
	// Keep writing for a while: one runner, and only one, applies it all.
	for round := range 5 {
		appendPayments(t, b.store, round*20, 20, 3)
		waitFor(t, "the new events", caughtUp)
		if got := appliers(); len(got) != 1 {
			t.Fatalf("round %d: events applied by %v, want exactly one runner", round, got)
		}
	}
	active := appliers()[0]
	victim, survivor := a, bb
	if active == "proc-b" {
		victim, survivor = bb, a
	}
	_ = victim.Process.Signal(syscall.SIGKILL)
	_ = victim.Wait()
	killed := time.Now()
	appendPayments(t, b.store, 100, 20, 3)
	waitFor(t, "the survivor to take over", func() bool {
		got := appliers()
		return caughtUp() && len(got) == 1 && got[0] != active
	})
	if took := time.Since(killed); took > 10*time.Second {
		t.Errorf("hand-over took %s", took)
	} else {
		t.Logf("hand-over from %s took %s", active, took.Round(time.Millisecond))
	}
	if survivor.ProcessState != nil {
		t.Fatal("the standby exited")
	}
}
