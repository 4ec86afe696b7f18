package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/lushan-dpf/ledger/adapters/bankfile"
	esdbstore "github.com/lushan-dpf/ledger/adapters/esdb"
	"github.com/lushan-dpf/ledger/adapters/esdb/esdbtest"
	"github.com/lushan-dpf/ledger/adapters/pgstore"
	"github.com/lushan-dpf/ledger/adapters/postgres/pgtest"
	"github.com/lushan-dpf/ledger/domain"
	"github.com/lushan-dpf/ledger/internal/benchenv"
)

// BenchmarkPayrollRun times a month's payroll for LEDGER_BENCH_PERSONS
// persons (default 2,000; `make bench` uses 1,000,000) through the ledger's
// own commands on the embedded PostgreSQL store, one month per benchmark
// iteration (`make bench` runs it once per round and takes medians):
//
//   - run:     `ledger payroll run --program living_subsidy --period 2025-03`:
//     read the program's persons from the entitlements read model, record
//     overpayment claims (none here), open the batch, reserve its lines
//     (one regular line per person) in the program's 16 payment shards in
//     chunks of at most domain.MaxChunkBytes, and close the draft;
//   - approve: `ledger payroll approve`: fold the payroll stream and the
//     shards, record the approval, re-check every line against the
//     entitlements and issue it (PaymentsIssued chunks), shard by shard;
//   - export:  `ledger payroll export`: fold the streams again, read and
//     open every sealed bank account, write the GB18030 payment file and
//     record BatchExported;
//   - reconcile: `ledger reconcile` of the bank's GB18030 return file for
//     the batch (every 100th payment returned as failed, the rest
//     settled), one file for the whole batch (a million lines of this
//     shape are about 60 MB; bankfile.MaxReturnFileSize is 256 MiB): the
//     file is read and classified, the payroll stream folded, and the
//     settlements and failures appended.
//
// Setup, not timed: the read models the commands read are written directly
// with INSERT ... SELECT over generate_series on the server (persons,
// living-subsidy grants effective 2025-03-01 in entitlement_history, and
// bank accounts sealed with the development key and loaded with COPY),
// after `ledger project --once` has created them on the empty log. Before
// the approval and the export, the projections' checkpoints are moved to
// the head of the log as if `ledger serve` had projected the batch: both
// wait for the read models to catch up, and read nothing from them that
// the payments change. Projecting a million payments is what
// BenchmarkRebuild measures.
//
// Each command runs as a process of its own, as an operator runs it, so
// that its peak memory is its own. Reported: seconds per phase and in
// total, each command's peak resident memory in MiB (the largest over the
// iterations), and the largest event's data in KiB (bounded by the
// chunking, whatever n).
func BenchmarkPayrollRun(b *testing.B) {
	n := benchenv.Size(b, "LEDGER_BENCH_PERSONS", 2000)
	store := os.Getenv("LEDGER_BENCH_STORE")
	if store != "" && store != "postgres" && store != "esdb" {
		b.Fatalf("LEDGER_BENCH_STORE=%q is neither postgres nor esdb", store)
	}
	ctx := context.Background()
	peak := map[string]int64{} // the largest peak RSS of each command, in bytes
	for range b.N {
		b.StopTimer()
		db := pgtest.NewSchema(b)
		dir := b.TempDir()
		vars := map[string]string{"DATABASE_URL": db.URL}
		var log domain.EventStore
		if store == "esdb" {
			// The protocol server with the real server's limits, halved
			// for appends as the seed's test does.
			srv := esdbtest.Start(b, esdbtest.WithMaxAppendSize(domain.MaxAppendBytes))
			vars["LEDGER_EVENTSTORE"] = srv.ConnectionString()
			s, err := esdbstore.Open(srv.ConnectionString(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			log = s
		} else {
			s := pgstore.New(db.Pool)
			defer s.Close()
			log = s
		}
		if err := run(ctx, []string{"project", "--once"}, getenvFrom(vars), io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
		ledger := func(args ...string) (string, time.Duration) {
			out, took, rss := ledgerProcess(b, vars, args...)
			name := args[0] // reconcile, or payroll and its subcommand
			if name == "payroll" {
				name += " " + args[1]
			}
			peak[name] = max(peak[name], rss)
			return out, took
		}
		setup := time.Now()
		seedPayrollReadModels(b, db, n)
		b.Logf("set up %d persons' read models in %s", n, time.Since(setup).Round(time.Millisecond))

		b.StartTimer()
		out, runTime := ledger("payroll", "run", "--program", "living_subsidy", "--period", "2025-03", "--user", "fin.wu")
		want := fmt.Sprintf(": %d lines, total %s (regular %d, arrears 0, reissue 0)", n, domain.MustMoney("110.00").Mul(n), n)
		if !strings.Contains(out, want) {
			b.Fatalf("payroll run printed %q, want %q", out, want)
		}
		batch := batchOf(b, out)
		b.StopTimer()
		markProjected(b, db, log)
		b.StartTimer()
		out, approveTime := ledger("payroll", "approve", batch, "--user", "fin.li")
		if !strings.Contains(out, "approved "+batch) {
			b.Fatalf("payroll approve printed %q", out)
		}
		b.StopTimer()
		largest, issued, _ := scanLog(b, log)
		if issued != n {
			b.Fatalf("%d payments issued in the log, want %d", issued, n)
		}
		markProjected(b, db, log)
		file := filepath.Join(dir, "batch.csv")
		b.StartTimer()
		out, exportTime := ledger("payroll", "export", batch, "--user", "fin.wu", "--out", file)
		b.StopTimer()
		if want := fmt.Sprintf("wrote %s: %d payments", file, n); !strings.Contains(out, want) {
			b.Fatalf("payroll export printed %q, want %q", out, want)
		}
		if fi, err := os.Stat(file); err != nil || fi.Size() < int64(n)*40 {
			b.Fatalf("payment file: %v, %v", fi, err)
		}
		returns := writeReturnFiles(b, dir, batch, n, n)
		var reconcileTime time.Duration
		settled, failed := 0, 0
		for _, f := range returns {
			b.StartTimer()
			out, took := ledger("reconcile", batch, "--file", f, "--user", "fin.wu", "--on", "2025-03-21")
			b.StopTimer()
			reconcileTime += took
			s, fl := tally(b, out, "settled"), tally(b, out, "failed")
			if !strings.Contains(out, "applied at") || tally(b, out, "amount mismatch")+tally(b, out, "unknown reference")+tally(b, out, "duplicate line") != 0 {
				b.Fatalf("reconcile %s printed %q", f, out)
			}
			settled, failed = settled+s, failed+fl
		}
		_, _, imports := scanLog(b, log)
		if settled != n-n/100 || failed != n/100 || imports != len(returns) {
			b.Fatalf("reconciled %d settled, %d failed in %d imports; want %d, %d in %d", settled, failed, imports, n-n/100, n/100, len(returns))
		}

		b.ReportMetric(runTime.Seconds(), "run_s")
		b.ReportMetric(approveTime.Seconds(), "approve_s")
		b.ReportMetric(exportTime.Seconds(), "export_s")
		b.ReportMetric(reconcileTime.Seconds(), "reconcile_s")
		b.ReportMetric((runTime + approveTime + exportTime + reconcileTime).Seconds(), "total_s")
		b.ReportMetric(float64(largest)/1024, "largest_event_KiB")
		b.StopTimer()
	}
	b.ReportMetric(float64(peak["payroll run"])/(1<<20), "run_rss_MiB")
	b.ReportMetric(float64(peak["payroll approve"])/(1<<20), "approve_rss_MiB")
	b.ReportMetric(float64(peak["payroll export"])/(1<<20), "export_rss_MiB")
	b.ReportMetric(float64(peak["reconcile"])/(1<<20), "reconcile_rss_MiB")
}

// ledgerProcess runs one ledger command as a process of its own (this test
// binary, made the ledger by runAsLedger) with vars in its environment, and
// returns what it printed, how long it took and its peak resident memory in
// bytes, as the kernel counts it (getrusage's ru_maxrss).
func ledgerProcess(b *testing.B, vars map[string]string, args ...string) (string, time.Duration, int64) {
	b.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), runAsLedger+"=1")
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		b.Fatalf("ledger %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errs.String())
	}
	usage, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		b.Fatalf("no resource usage for ledger %s", strings.Join(args, " "))
	}
	return out.String(), took, usage.Maxrss * 1024 // Linux counts ru_maxrss in KiB
}

// scanLog reads the whole log and returns the largest event's data in
// bytes, the payments issued and the return files imported.
func scanLog(b *testing.B, s domain.EventStore) (largest, issued, imports int) {
	b.Helper()
	eachEvent(b, s, func(ev domain.RecordedEvent) {
		largest = max(largest, len(ev.Data))
		switch ev.Type {
		case domain.TypePaymentsIssued:
			var e struct{ Payments []json.RawMessage }
			if err := json.Unmarshal(ev.Data, &e); err != nil {
				b.Fatal(err)
			}
			issued += len(e.Payments)
		case domain.TypeReturnImported:
			imports++
		}
	})
	return largest, issued, imports
}

// benchPID is the person ID of the i-th person of the benchmark: the first
// 20 hex characters of the MD5 of i, as PostgreSQL's md5(i::text) writes
// them (the setup's SQL), so that the persons spread over the 16 payment
// shards as real person IDs do — those are the first 20 hex characters of
// a keyed SHA-256 (domain.PersonIDFromHash). IDs written as padded
// counters (%020x) all begin with "0" and put every line of the month in
// one shard, which no county's payroll looks like.
func benchPID(i int) domain.PersonID {
	sum := md5.Sum([]byte(strconv.Itoa(i)))
	return domain.PersonID(hex.EncodeToString(sum[:])[:20])
}

// seedPayrollReadModels writes n persons with a living-subsidy grant
// effective 2025-03-01 at 110.00 a month (the program's standard rate) and
// a bank account each into the read models.
func seedPayrollReadModels(b *testing.B, db *pgtest.Schema, n int) {
	b.Helper()
	ctx := context.Background()
	for _, q := range []string{`
		INSERT INTO persons (person_id, id_hash, id_masked, name, township, household_id, household_class,
			dibao, tekun, work_injury_nursing, birth_date, gender, certificate_category, certificate_grade,
			certificate_number_masked, certificate_issued_on, certificate_valid_until, certificate_revoked,
			deceased_on, registered_on, updated_position)
		SELECT substr(md5(i::text), 1, 20), 'h' || i, '360429********' || lpad((i % 10000)::text, 4, '0'),
			'居民' || i, (ARRAY['蛟塘镇','星子镇','白鹿镇','温泉镇'])[1 + i % 4], substr(md5(i::text), 1, 20), '',
			false, false, false, DATE '1960-01-01' + (i % 20000), 'female', 'physical', 2,
			'360429**********4221', DATE '2020-01-01', DATE '2030-01-01', false, NULL, DATE '2024-12-01', '1/1'
		FROM generate_series(1, $1::int) i`, `
		INSERT INTO entitlement_history (position_commit, position_prepare, person_id, program, change,
			effective_date, recorded_at, actor, role, reason_code, reason, amount)
		SELECT i, 0, substr(md5(i::text), 1, 20), 'living_subsidy', 'granted', DATE '2025-03-01',
			TIMESTAMPTZ '2025-02-20 09:00:00+08', 'clerk', 'clerk', NULL, '', NULL
		FROM generate_series(1, $1::int) i`,
	} {
		if _, err := db.Pool.Exec(ctx, q, n); err != nil {
			b.Fatal(err)
		}
	}
	v := (&config{}).vault()
	rows := make([][]any, n)
	for i := range rows {
		number := fmt.Sprintf("6222020200%09d", i+1)
		sealed, err := v.Seal(number)
		if err != nil {
			b.Fatal(err)
		}
		rows[i] = []any{string(benchPID(i + 1)), fmt.Sprintf("居民%d", i+1), "中国工商银行",
			"6222 **** **** " + number[len(number)-4:], sealed, int64(i + 1), int64(0)}
	}
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"bank_accounts"},
		[]string{"person_id", "account_name", "bank", "account_masked", "account_sealed", "updated_commit", "updated_prepare"},
		pgx.CopyFromRows(rows)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `ANALYZE persons; ANALYZE entitlement_history; ANALYZE bank_accounts`); err != nil {
		b.Fatal(err)
	}
}

// writeReturnFiles writes the bank's return files for the batch, at most
// per lines each, and returns their paths. Every 100th payment failed.
func writeReturnFiles(b *testing.B, dir, batch string, n, per int) []string {
	b.Helper()
	march, _ := domain.NewPeriod(2025, time.March)
	var files []string
	for first := 1; first <= n; first += per {
		var csv bytes.Buffer
		csv.WriteString("参考号,金额,状态,失败原因,银行流水号\r\n")
		for i := first; i < first+per && i <= n; i++ {
			status, reason := "成功", ""
			if i%100 == 0 {
				status, reason = "退回", "账户已冻结"
			}
			fmt.Fprintf(&csv, "%s,110.00,%s,%s,B%09d\r\n", domain.LineReference(batch, benchPID(i), march), status, reason, i)
		}
		raw, err := simplifiedchinese.GB18030.NewEncoder().Bytes(csv.Bytes())
		if err != nil {
			b.Fatal(err)
		}
		if len(raw) > bankfile.MaxReturnFileSize {
			b.Fatalf("return file of %d bytes is over the %d-byte limit", len(raw), bankfile.MaxReturnFileSize)
		}
		f := filepath.Join(dir, fmt.Sprintf("return-%d.csv", len(files)+1))
		if err := os.WriteFile(f, raw, 0o600); err != nil {
			b.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// tally returns the count of a row of `ledger reconcile`'s totals.
func tally(b *testing.B, out, row string) int {
	b.Helper()
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), row+" "); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.Atoi(f[0]); err == nil {
					return n
				}
			}
		}
	}
	b.Fatalf("no %q row in the reconciliation:\n%s", row, out)
	return 0
}

// markProjected moves every projection's checkpoint to the head of the log.
func markProjected(b *testing.B, db *pgtest.Schema, s domain.EventStore) {
	b.Helper()
	head, err := s.Head(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if _, err := db.Pool.Exec(context.Background(), `
		UPDATE projection_checkpoints SET (position_commit, position_prepare) = ($1, $2)`,
		int64(head.Commit), int64(head.Prepare)); err != nil {
		b.Fatal(err)
	}
}
