package pgstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/app"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/benchenv"
	"github.com/lushan-dpf/ledger/projections/prtest"
)

// The append benchmarks of `make bench`, each beside its physical floor
// measured in the same run: single-event commands against pgbench, bulk
// appends against COPY. Sizes come from the environment so that `make
// test` runs them once, tiny.

var benchKey = domain.LookupKey("bench-lookup-key-0123456789abcdef0123")

var benchTowns = []string{"蛟塘镇", "星子镇", "白鹿镇", "温泉镇", "华林镇", "横塘镇"}

// benchPerson decides a person's life through the domain — registration,
// certificate, living and care subsidies, then moves between townships —
// and seals it into a hash-chained stream of `events` events (at least 2).
func benchPerson(b *testing.B, keys domain.PersonalKeys, i, events int) (domain.PersonID, []domain.EventData) {
	b.Helper()
	rid, err := domain.NewResidentID("360429", domain.MustDate("1940-01-01").AddDays(i%20000), 1+i/20000)
	if err != nil {
		b.Fatal(err)
	}
	hash := benchKey.Hash(rid)
	pid := domain.PersonIDFromHash(hash)
	cert, _ := domain.NewCertificateNumber(rid, domain.CategoryPhysical, 2)
	cmds := []domain.Command{
		domain.RegisterPerson{IDNumber: rid, IDHash: hash, Name: "居民" + strconv.Itoa(i), Township: benchTowns[0],
			Household: domain.HouseholdStatus{Dibao: true}, RegisteredOn: domain.MustDate("2023-11-01")},
		domain.IssueCertificate{Number: cert, IssuedOn: domain.MustDate("2020-01-01"), ValidUntil: domain.MustDate("2030-01-01")},
		domain.GrantEntitlement{Program: domain.ProgramLivingSubsidy, EffectiveFrom: domain.MustDate("2024-01-01")},
		domain.GrantEntitlement{Program: domain.ProgramCareSubsidy, EffectiveFrom: domain.MustDate("2024-01-01")},
	}
	for k := 0; len(cmds) < events; k++ {
		cmds = append(cmds, domain.MovePerson{ToTownship: benchTowns[1+k%(len(benchTowns)-1)], EffectiveOn: domain.MustDate("2024-02-01").AddDays(k)})
	}
	cmds = cmds[:events]
	var state domain.Beneficiary
	var out []domain.EventData
	hashPrev := ""
	now := time.Date(2023, 12, 1, 9, 0, 0, 0, time.UTC)
	for k, c := range cmds {
		evs, err := domain.Decide(state, c, now)
		if err != nil {
			b.Fatalf("person %d command %d: %v", i, k, err)
		}
		if evs, err = domain.SealPersonal(context.Background(), keys, pid, evs); err != nil {
			b.Fatal(err)
		}
		data, err := domain.Seal(domain.CommandMeta{CommandID: fmt.Sprintf("bench-%d-%d", i, k), Actor: "clerk.bench", Role: "clerk", Now: now}, hashPrev, evs)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range evs {
			state = domain.Evolve(state, e)
		}
		md, _ := domain.DecodeMetadata(data[len(data)-1].Metadata)
		hashPrev = md.Hash
		out = append(out, data...)
	}
	return pid, out
}

// BenchmarkAppend measures single-event commands through the real command
// path — app.Persons.Execute: read the person's stream, decide, seal
// into the hash chain, append at the exact revision read — from 8
// concurrent writers, each moving its own persons between townships, for
// LEDGER_BENCH_SECONDS (default 1). Its floor is pgbench with the same 8
// clients (-c 8 -j 2) for the same time, each transaction one INSERT of
// the same row shape (same columns, the same data and metadata as a sealed
// PersonMoved event) into a table with the events table's indexes. Both
// report commands/s and the p99 latency in ms, medians of
// LEDGER_BENCH_RUNS rounds (default 1) that alternate which goes first.
func BenchmarkAppend(b *testing.B) {
	secs := benchenv.Size(b, "LEDGER_BENCH_SECONDS", 1)
	runs := benchenv.Size(b, "LEDGER_BENCH_RUNS", 1)
	pgbench := findPgbench(b)
	const writers, perWriter = 8, 250
	ctx := context.Background()
	db := pgtest.NewSchema(b)
	store := pgstore.New(db.Pool)
	defer store.Close()

	// The persons, registered in bulk: each writer owns perWriter of them.
	ids := make([]domain.PersonID, writers*perWriter)
	var appends []domain.StreamAppend
	for i := range ids {
		pid, evs := benchPerson(b, store.PersonalKeys(), i, 4)
		ids[i] = pid
		appends = append(appends, domain.StreamAppend{Stream: pid.Stream(), Expected: domain.NoStream(), Events: evs})
	}
	if _, err := store.AppendMany(ctx, appends); err != nil {
		b.Fatal(err)
	}
	_, sample := benchPerson(b, store.PersonalKeys(), 0, 5) // a sealed PersonMoved, for the floor's row shape
	if _, err := db.Pool.Exec(ctx, `CREATE TABLE append_floor (LIKE events INCLUDING ALL)`); err != nil {
		b.Fatal(err)
	}
	script := writePgbenchScript(b, db.Name, sample[4])

	moves := make([]int, len(ids)) // moves done per person: picks the next township
	h := app.NewPersons(store)
	ours := func() (cps, p99 float64) {
		deadline := time.Now().Add(time.Duration(secs) * time.Second)
		lat := make([][]float64, writers)
		var wg sync.WaitGroup
		var failed sync.Once
		start := time.Now()
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; time.Now().Before(deadline); n++ {
					i := w*perWriter + n%perWriter
					moves[i]++
					cmd := domain.MovePerson{ToTownship: benchTowns[1+moves[i]%(len(benchTowns)-1)], EffectiveOn: domain.MustDate("2024-06-01")}
					meta := domain.CommandMeta{CommandID: fmt.Sprintf("move-%d-%d", i, moves[i]), Actor: "clerk.bench", Role: "clerk", Now: time.Now()}
					t0 := time.Now()
					if _, err := h.Execute(ctx, ids[i], meta, cmd); err != nil {
						failed.Do(func() { b.Errorf("writer %d: %v", w, err) })
						return
					}
					lat[w] = append(lat[w], float64(time.Since(t0).Microseconds())/1000)
				}
			}()
		}
		wg.Wait()
		all := slices.Concat(lat...)
		return float64(len(all)) / time.Since(start).Seconds(), benchenv.Percentile(all, 99)
	}
	floor := func(round int) (tps, p99 float64) {
		return runPgbench(b, pgbench, pgtest.URL(b), script, secs, round)
	}

	m := map[string][]float64{}
	for r := range runs {
		for k := range 2 { // alternate which goes first
			if (r+k)%2 == 0 {
				tps, fp99 := floor(r)
				m["floor_cps"], m["floor_p99"] = append(m["floor_cps"], tps), append(m["floor_p99"], fp99)
			} else {
				cps, op99 := ours()
				m["ours_cps"], m["ours_p99"] = append(m["ours_cps"], cps), append(m["ours_p99"], op99)
			}
		}
	}
	if b.Failed() {
		return
	}
	for _, name := range []string{"ours", "pgbench_floor"} {
		key := map[string]string{"ours": "ours", "pgbench_floor": "floor"}[name]
		b.Run(name, func(b *testing.B) {
			for range b.N {
			}
			b.ReportMetric(benchenv.Median(m[key+"_cps"]), "commands/s")
			b.ReportMetric(benchenv.Median(m[key+"_p99"]), "p99_ms")
		})
	}
}

// findPgbench finds the pgbench binary on PATH or in Debian's
// /usr/lib/postgresql/*/bin (the newest), or fails the benchmark.
func findPgbench(b *testing.B) string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	if len(found) == 0 {
		b.Fatal("pgbench not found on PATH nor in /usr/lib/postgresql/*/bin: install PostgreSQL's client programs (Debian: postgresql-client)")
	}
	slices.SortFunc(found, func(a, c string) int { return versionOf(a) - versionOf(c) })
	return found[len(found)-1]
}

func versionOf(path string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return n
}

// writePgbenchScript writes the floor's transaction: one INSERT of ev's
// type, data and metadata under a fresh event ID and stream name.
func writePgbenchScript(b *testing.B, schema string, ev domain.EventData) string {
	b.Helper()
	lit := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	sql := fmt.Sprintf("INSERT INTO %s (event_id, stream, revision, type, data, metadata)\n"+
		"VALUES (gen_random_uuid(), 'person-' || substr(md5(random()::text), 1, 20), 0, %s, %s, %s);\n",
		pgx.Identifier{schema, "append_floor"}.Sanitize(), lit(ev.Type), lit(string(ev.Data)), lit(string(ev.Metadata)))
	path := filepath.Join(b.TempDir(), "append_floor.sql")
	if err := os.WriteFile(path, []byte(sql), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

var tpsLine = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((without|excluding)`)

// runPgbench runs the script with 8 clients on 2 threads for secs seconds
// and returns its transactions per second and the p99 latency in ms from
// its per-transaction log.
func runPgbench(b *testing.B, pgbench, url, script string, secs, round int) (tps, p99 float64) {
	b.Helper()
	logDir := b.TempDir()
	cmd := exec.Command(pgbench, "-n", "-c", "8", "-j", "2", "-T", strconv.Itoa(secs), "-f", script,
		"-l", "--log-prefix", filepath.Join(logDir, fmt.Sprintf("round%d", round)), url)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("pgbench: %v\n%s", err, out)
	}
	mt := tpsLine.FindSubmatch(out)
	if mt == nil {
		b.Fatalf("pgbench printed no tps line:\n%s", out)
	}
	tps, _ = strconv.ParseFloat(string(mt[1]), 64)
	// Log lines: client_id transaction_no latency_us script_no epoch epoch_us.
	logs, _ := filepath.Glob(filepath.Join(logDir, "round*"))
	var lat []float64
	for _, l := range logs {
		f, err := os.Open(l)
		if err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if fields := strings.Fields(sc.Text()); len(fields) >= 3 {
				if us, err := strconv.ParseFloat(fields[2], 64); err == nil {
					lat = append(lat, us/1000)
				}
			}
		}
		f.Close()
	}
	if len(lat) == 0 {
		b.Fatalf("pgbench wrote no per-transaction log in %s:\n%s", logDir, out)
	}
	return tps, benchenv.Percentile(lat, 99)
}

// BenchmarkBulkAppend measures AppendMany: LEDGER_BENCH_EVENTS events
// (default 2,000) in streams of 24 — one person's registration,
// certificate, two grants and moves, decided and sealed through the
// domain — written by one writer in calls of 1,000 streams. Its floor is
// pgx's CopyFrom of the same rows, in one COPY, into a table of the events
// table's shape (LIKE events INCLUDING ALL: the same columns, defaults,
// keys and indexes). Each measurement writes into a fresh schema after a
// checkpoint; both report events/s, the medians of LEDGER_BENCH_RUNS
// rounds (default 1) that alternate which goes first.
func BenchmarkBulkAppend(b *testing.B) {
	n := benchenv.Size(b, "LEDGER_BENCH_EVENTS", 2000)
	runs := benchenv.Size(b, "LEDGER_BENCH_RUNS", 1)
	const perStream, perCall = 24, 1000
	ctx := context.Background()
	keys := prtest.NewKeys() // nothing here reads the events back
	var appends []domain.StreamAppend
	for i, left := 0, n; left > 0; i++ {
		k := min(perStream, left)
		if k < 2 {
			k = 2 // a stream starts with registration and certificate
		}
		pid, evs := benchPerson(b, keys, i, k)
		appends = append(appends, domain.StreamAppend{Stream: pid.Stream(), Expected: domain.NoStream(), Events: evs})
		left -= k
	}
	total := 0
	for _, a := range appends {
		total += len(a.Events)
	}

	ours := func() float64 {
		db := pgtest.NewSchema(b)
		store := pgstore.New(db.Pool)
		defer store.Close()
		start := time.Now()
		for from := 0; from < len(appends); from += perCall {
			if _, err := store.AppendMany(ctx, appends[from:min(from+perCall, len(appends))]); err != nil {
				b.Fatal(err)
			}
		}
		rate := float64(total) / time.Since(start).Seconds()
		var stored int
		if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&stored); err != nil || stored != total {
			b.Fatalf("events table holds %d events, want %d (%v)", stored, total, err)
		}
		return rate
	}
	floor := func() float64 {
		db := pgtest.NewSchema(b)
		if _, err := db.Pool.Exec(ctx, `CREATE TABLE copy_floor (LIKE events INCLUDING ALL)`); err != nil {
			b.Fatal(err)
		}
		rows := make([][]any, 0, total)
		for _, a := range appends {
			for k, e := range a.Events {
				rows = append(rows, []any{pgtype.UUID{Bytes: e.ID, Valid: true}, a.Stream, int64(k), e.Type, e.Data, e.Metadata})
			}
		}
		start := time.Now()
		copied, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"copy_floor"},
			[]string{"event_id", "stream", "revision", "type", "data", "metadata"}, pgx.CopyFromRows(rows))
		if err != nil || copied != int64(total) {
			b.Fatalf("copy: %d rows, %v", copied, err)
		}
		return float64(total) / time.Since(start).Seconds()
	}

	// A million events write gigabytes of WAL: whichever runs second would
	// pay for the first one's checkpoint. So each measurement starts from a
	// checkpoint (where the role may request one), and the order alternates.
	checkpoint := func() {
		conn, err := pgx.Connect(ctx, pgtest.URL(b))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = conn.Exec(ctx, `CHECKPOINT`) // refused without the privilege: then measure as is
		_ = conn.Close(ctx)
	}
	rates := map[string][]float64{}
	for r := range runs {
		for k := range 2 {
			checkpoint()
			if (r+k)%2 == 0 {
				rates["copy_floor"] = append(rates["copy_floor"], floor())
			} else {
				rates["ours"] = append(rates["ours"], ours())
			}
		}
	}
	for _, name := range []string{"ours", "copy_floor"} {
		b.Run(name, func(b *testing.B) {
			for range b.N {
			}
			b.ReportMetric(benchenv.Median(rates[name]), "events/s")
		})
	}
}
