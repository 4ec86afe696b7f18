#!/usr/bin/env bash
# bench.sh — run the benchmarks that have floors or a peer, and write
# docs/benchmarks.md from this one run: every figure beside its floor or
# peer measured in the same run, as a ratio, medians of COUNT rounds.
#
# Usage: DATABASE_URL=... scripts/bench.sh   (make bench sets DATABASE_URL)
#
# Environment (defaults in brackets):
#   COUNT                        rounds of every measurement [3]
#   LEDGER_BENCH_SECONDS         seconds of each single-event append and look-up round [5]
#   LEDGER_BENCH_EVENTS          events of the rebuild vs COPY [1000000]
#   LEDGER_BENCH_BULK_EVENTS     events of the bulk appends vs COPY [500000]
#   LEDGER_BENCH_PEER_EVENTS     events of the rebuild compared with Emmett's [50000]
#   LEDGER_BENCH_LOOKUP_PERSONS  persons behind the look-ups [100000]
#   LEDGER_BENCH_DESK_PERSONS    persons behind the web desk's pages [100000]
#   LEDGER_BENCH_PAYROLL_PERSONS persons paid by the payroll run [1000000]
#   LEDGER_BENCH_LINES           payments of the whole-reconciliation benchmark [100000]
#   LEDGER_BENCH_PROVINCE_PERSONS persons of the province-scale log every read model is
#                                rebuilt from (ledger seed --scenario scale, one year) [1000000]
#   LEDGER_BENCH_BUDGET          seconds the run up to the payroll should stay within; the
#                                payroll's rounds stop early, never below two, rather than
#                                overrun it [1140]; the province section comes after it
#   LEDGER_BENCH_OUT             the file written [docs/benchmarks.md]
#   LEDGER_BENCH_ONLY            run only these sections (space-separated names
#                                from: append bulk emmett rebuild peer lookup
#                                reconcile payroll payroll_esdb province) and do not write the doc
#
# A smoke run of every part at tiny sizes, in about two minutes:
#   COUNT=2 LEDGER_BENCH_SECONDS=1 LEDGER_BENCH_EVENTS=2000 LEDGER_BENCH_BULK_EVENTS=2000 \
#   LEDGER_BENCH_PEER_EVENTS=2000 LEDGER_BENCH_LOOKUP_PERSONS=1000 LEDGER_BENCH_PAYROLL_PERSONS=2000 LEDGER_BENCH_LINES=2000 \
#   LEDGER_BENCH_OUT=/tmp/benchmarks.md DATABASE_URL=... scripts/bench.sh
#
# The peer, Emmett's PostgreSQL event store, runs with the machine's Node.js
# from scripts/emmett (npm ci installs the pinned versions into its
# node_modules) against a database of its own, ledger_bench_emmett, made
# anew on the same server.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${DATABASE_URL:?set DATABASE_URL (make bench does)}"
COUNT=${COUNT:-3}
GO=${GO:-go}
SECS=${LEDGER_BENCH_SECONDS:-5}
EVENTS=${LEDGER_BENCH_EVENTS:-1000000}
BULK_EVENTS=${LEDGER_BENCH_BULK_EVENTS:-500000}
PEER_EVENTS=${LEDGER_BENCH_PEER_EVENTS:-50000}
LOOKUP_PERSONS=${LEDGER_BENCH_LOOKUP_PERSONS:-100000}
DESK_PERSONS=${LEDGER_BENCH_DESK_PERSONS:-100000}
PAYROLL_PERSONS=${LEDGER_BENCH_PAYROLL_PERSONS:-1000000}
LINES=${LEDGER_BENCH_LINES:-100000}
PROVINCE_PERSONS=${LEDGER_BENCH_PROVINCE_PERSONS:-1000000}
ONLY=${LEDGER_BENCH_ONLY:-}
BUDGET=${LEDGER_BENCH_BUDGET:-1140}
out=${LEDGER_BENCH_OUT:-docs/benchmarks.md}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
began=$(date +%s)
timings=()

# section NAME TITLE: whether to run section NAME; announces it.
section() {
	if [[ -n "$ONLY" && " $ONLY " != *" $1 "* ]]; then
		return 1
	fi
	echo "bench: [$1] $2" >&2
	section_start=$(date +%s)
	return 0
}
# done_section NAME: records how long the section took.
done_section() {
	local took=$(($(date +%s) - section_start))
	timings+=("$1 ${took}s")
	echo "bench: [$1] took ${took}s" >&2
}
# gobench FILE ARGS...: go test -run '^$' -benchtime 1x ARGS, output to FILE and stderr.
gobench() {
	local file=$1
	shift
	"$GO" test -run '^$' -benchtime 1x -timeout 60m "$@" 2>&1 | tee "$work/$file" >&2
}

# med FILE NAME UNIT: the median of metric UNIT over the lines of benchmark
# NAME (its full name before the -GOMAXPROCS suffix) in FILE; NaN if none.
med() {
	[[ -f "$work/$1" ]] || { echo NaN; return; }
	awk -v name="$2-" -v unit="$3" '
		index($1, name) == 1 { for (i = 2; i < NF; i++) if ($(i+1) == unit) v[n++] = $i }
		END {
			if (n == 0) { print "NaN"; exit }
			asort(v); print (n % 2) ? v[(n+1)/2] : (v[n/2] + v[n/2+1]) / 2
		}' "$work/$1"
}
# ratio A B: A / B to two decimals, or n/a.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "NaN" || b == "NaN" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
# num X [DECIMALS]: X rounded, or n/a.
num() { awk -v a="$1" -v d="${2:-0}" 'BEGIN { if (a == "NaN" || a == "") print "n/a"; else printf "%.*f", d, a }'; }
# met VALUE OP TARGET: yes or no (no when VALUE is missing).
met() { awk -v a="$1" -v op="$2" -v t="$3" 'BEGIN {
	if (a == "n/a" || a == "NaN" || a == "") { print "no (not measured)"; exit }
	ok = (op == ">=") ? a >= t : a < t; print ok ? "yes" : "**no**" }'; }

# ---------------------------------------------------------------- appends
if section append "single-event appends, 8 writers, ${SECS} s × $COUNT rounds: ours and pgbench inserting the same row shape"; then
	LEDGER_BENCH_SECONDS=$SECS LEDGER_BENCH_RUNS=$COUNT gobench append.txt -bench '^BenchmarkAppend$' ./adapters/pgstore
	done_section append
fi
if section bulk "bulk appends of $BULK_EVENTS events × $COUNT rounds: ours and COPY of the same rows"; then
	LEDGER_BENCH_EVENTS=$BULK_EVENTS LEDGER_BENCH_RUNS=$COUNT gobench bulk.txt -bench '^BenchmarkBulkAppend$' ./adapters/pgstore
	done_section bulk
fi

# ---------------------------------------------------------------- the peer
emmett_url=""
emmett_version=n/a
if [[ -z "$ONLY" || " $ONLY " == *" emmett "* || " $ONLY " == *" peer "* ]]; then
	case "$DATABASE_URL" in
	postgres://* | postgresql://*) ;;
	*)
		echo "bench: DATABASE_URL must be a postgres:// URL to derive Emmett's database from it" >&2
		exit 2
		;;
	esac
	emmett_url=$(sed -E 's#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\1/ledger_bench_emmett#' <<<"$DATABASE_URL")
	# new_emmett_db: Emmett's database, made anew (each mode starts empty).
	new_emmett_db() {
		psql "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c 'DROP DATABASE IF EXISTS ledger_bench_emmett WITH (FORCE)' \
			-c 'CREATE DATABASE ledger_bench_emmett' >&2
	}
	echo "bench: installing Emmett (scripts/emmett, npm ci)" >&2
	(cd scripts/emmett && npm ci --no-audit --no-fund --loglevel=error >&2)
	emmett_version=$(node -p 'require("./scripts/emmett/node_modules/@event-driven-io/emmett-postgresql/package.json").version')
fi
if section emmett "Emmett $emmett_version: single-event appends, 8 writers, ${SECS} s × $COUNT rounds"; then
	new_emmett_db
	node scripts/emmett/bench.mjs append --url "$emmett_url" --seconds "$SECS" --writers 8 --persons 250 --rounds "$COUNT" | tee "$work/emmett_append.txt" >&2
	done_section emmett
fi

# ---------------------------------------------------------------- rebuilds
if section rebuild "rebuild of $EVENTS payment events vs COPY, $COUNT rounds"; then
	LEDGER_BENCH_EVENTS=$EVENTS LEDGER_BENCH_RUNS=$COUNT gobench rebuild.txt -bench '^BenchmarkRebuild$' ./projections
	done_section rebuild
fi
if section peer "rebuild of the spending projection from $PEER_EVENTS events, ours and Emmett's $emmett_version, $COUNT rounds each"; then
	LEDGER_BENCH_EVENTS=$PEER_EVENTS LEDGER_BENCH_RUNS=$COUNT gobench peer_ours.txt -bench '^BenchmarkRebuild$' ./projections
	new_emmett_db
	node scripts/emmett/bench.mjs rebuild --url "$emmett_url" --events "$PEER_EVENTS" --rounds "$COUNT" --batch 1000 | tee "$work/peer_emmett.txt" >&2
	done_section peer
fi

# ---------------------------------------------------------------- look-ups
if section lookup "entitlement look-ups over HTTP vs the bare pgx query, $LOOKUP_PERSONS persons, ${SECS} s × $COUNT rounds"; then
	LEDGER_BENCH_PERSONS=$LOOKUP_PERSONS LEDGER_BENCH_SECONDS=$SECS LEDGER_BENCH_RUNS=$COUNT \
		gobench lookup.txt -bench '^BenchmarkEntitlementLookup$' ./adapters/httpapi
	done_section lookup
fi

# ---------------------------------------------------------------- web desk
if section desk "the web desk's pages rendered on the server, $DESK_PERSONS persons, 100 requests a page"; then
	LEDGER_BENCH_PERSONS=$DESK_PERSONS LEDGER_BENCH_REQUESTS=100 gobench desk.txt -bench '^BenchmarkDeskPages$' ./adapters/web
	done_section desk
fi

# ---------------------------------------------------------------- bank files
if section reconcile "reconciliation of a 100,000-line return file, and a whole $LINES-payment reconciliation, $COUNT rounds"; then
	gobench reconcile.txt -bench '^BenchmarkReconcile100k(Floor)?$' -count "$COUNT" ./adapters/bankfile
	LEDGER_BENCH_LINES=$LINES gobench reconcile_batch.txt -bench '^BenchmarkReconcileBatch$' -count "$COUNT" ./app
	done_section reconcile
fi

# ---------------------------------------------------------------- payroll
# A round of the payroll takes minutes: rounds stop early (never below
# two) when another, and the EventStoreDB round after them, would end the
# run past BUDGET seconds.
payroll_rounds=0
if section payroll "a month's payroll for $PAYROLL_PERSONS persons: run, approve, export, reconcile; up to $COUNT rounds within ${BUDGET}s in all"; then
	while ((payroll_rounds < COUNT)); do
		round_start=$(date +%s)
		LEDGER_BENCH_PERSONS=$PAYROLL_PERSONS "$GO" test -run '^$' -benchtime 1x -timeout 60m -bench '^BenchmarkPayrollRun$' ./cmd/ledger 2>&1 |
			tee -a "$work/payroll.txt" >&2
		payroll_rounds=$((payroll_rounds + 1))
		now=$(date +%s)
		# Another round, and the round on EventStoreDB after it, take
		# about as long as this one did each.
		after=$((now - round_start))
		if [[ -z "$ONLY" || " $ONLY " == *" payroll_esdb "* ]]; then
			after=$((2 * after))
		fi
		if ((payroll_rounds >= 2 && payroll_rounds < COUNT && now - began + after > BUDGET)); then
			echo "bench: [payroll] stopping after $payroll_rounds rounds: another would end the run past ${BUDGET}s" >&2
			break
		fi
	done
	done_section payroll
fi

# The same month on the EventStoreDB protocol server (in the benchmark's
# process, with the real server's limits): one round, to show it completes
# and what it takes.
if section payroll_esdb "the same month on the EventStoreDB protocol server: one round"; then
	LEDGER_BENCH_STORE=esdb LEDGER_BENCH_PERSONS=$PAYROLL_PERSONS "$GO" test -run '^$' -benchtime 1x -timeout 60m -bench '^BenchmarkPayrollRun$' ./cmd/ledger 2>&1 |
		tee -a "$work/payroll_esdb.txt" >&2
	done_section payroll_esdb
fi

# ---------------------------------------------------------------- province
# Every read model rebuilt, one after another, from the province-scale log
# (`ledger seed --scenario scale`), beside PostgreSQL reading that log
# once. The log lives in a database of its own per size,
# ledger_bench_province_<persons>, kept between runs: seeding a million
# persons takes minutes.
if section province "a rebuild of every read model over the province-scale log of $PROVINCE_PERSONS persons and a year of payroll"; then
	case "$DATABASE_URL" in
	postgres://* | postgresql://*) ;;
	*)
		echo "bench: DATABASE_URL must be a postgres:// URL to derive the province's database from it" >&2
		exit 2
		;;
	esac
	province_db=ledger_bench_province_$PROVINCE_PERSONS
	province_url=$(sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\\1/$province_db#" <<<"$DATABASE_URL")
	if [[ -z $(psql "$DATABASE_URL" -AtXc "SELECT 1 FROM pg_database WHERE datname = '$province_db'") ]]; then
		psql "$DATABASE_URL" -qX -v ON_ERROR_STOP=1 -c "CREATE DATABASE $province_db" >&2
	fi
	"$GO" build -o "$work/ledger" ./cmd/ledger
	DATABASE_URL=$province_url "$work/ledger" migrate >&2
	# Seeded by an earlier run (the table below records it), or seed now;
	# an interrupted seed resumes where it stopped.
	seeded=$(psql "$province_url" -AtXc "SELECT persons FROM bench_province_seeded" 2>/dev/null || true)
	if [[ "$seeded" != "$PROVINCE_PERSONS" ]]; then
		DATABASE_URL=$province_url "$work/ledger" seed --scenario scale --persons "$PROVINCE_PERSONS" --years 1 2>&1 |
			grep -v '%,' | tee "$work/province_seed.txt" >&2
		psql "$province_url" -qX -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS bench_province_seeded (persons int NOT NULL)" \
			-c "TRUNCATE bench_province_seeded" -c "INSERT INTO bench_province_seeded VALUES ($PROVINCE_PERSONS)" >&2
	fi
	province_events=$(psql "$province_url" -AtXc 'SELECT count(*) FROM events')
	province_bytes=$(psql "$province_url" -AtXc 'SELECT sum(octet_length(data::text) + octet_length(metadata::text)) FROM events')
	# The floor: PostgreSQL reading the whole log once, in its order.
	floor_start=$(date +%s.%N)
	psql "$province_url" -qX -c '\copy (SELECT type, data FROM events ORDER BY tx_id, position) TO /dev/null'
	province_floor=$(awk -v a="$floor_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	rebuild_start=$(date +%s.%N)
	# A failed rebuild is reported in the doc (the read models it reached,
	# and the error), not lost with the other sections' figures.
	if DATABASE_URL=$province_url LEDGER_LOG_FORMAT=json "$work/ledger" project rebuild all 2>"$work/province_rebuild.log"; then
		province_total=$(awk -v a="$rebuild_start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	else
		province_total=NaN
		province_error=$(tail -1 "$work/province_rebuild.log" | cut -c1-400)
		echo "bench: [province] the rebuild failed: $province_error" >&2
	fi
	# One line per read model: name, events, seconds.
	awk '/"rebuild swapped in"/ {
			match($0, /"projection":"[^"]*"/); p = substr($0, RSTART + 14, RLENGTH - 15)
			match($0, /"events":[0-9]+/); e = substr($0, RSTART + 9, RLENGTH - 9)
			match($0, /"took":[0-9]+/); t = substr($0, RSTART + 7, RLENGTH - 7)
			printf "%s %s %.1f\n", p, e, t / 1e9
		}' "$work/province_rebuild.log" >"$work/province.txt"
	echo "bench: [province] $province_events events ($province_bytes bytes), read once in ${province_floor}s; rebuilt in ${province_total}s:" >&2
	cat "$work/province.txt" >&2
	done_section province
fi

total=$(($(date +%s) - began))
echo "bench: time per section: ${timings[*]:-none}; total ${total}s" >&2
if [[ -n "$ONLY" ]]; then
	echo "bench: LEDGER_BENCH_ONLY is set: $out not written" >&2
	exit 0
fi

# ---------------------------------------------------------------- the figures
a_ours=$(med append.txt BenchmarkAppend/ours commands/s)
a_ours_p99=$(med append.txt BenchmarkAppend/ours p99_ms)
a_floor=$(med append.txt BenchmarkAppend/pgbench_floor commands/s)
a_floor_p99=$(med append.txt BenchmarkAppend/pgbench_floor p99_ms)
a_emmett=$(med emmett_append.txt BenchmarkEmmett/append commands/s)
a_emmett_p99=$(med emmett_append.txt BenchmarkEmmett/append p99_ms)
b_ours=$(med bulk.txt BenchmarkBulkAppend/ours events/s)
b_floor=$(med bulk.txt BenchmarkBulkAppend/copy_floor events/s)
r_copy=$(med rebuild.txt BenchmarkRebuild/copy_floor rows/s)
r_spending=$(med rebuild.txt BenchmarkRebuild/spending events/s)
r_payments=$(med rebuild.txt BenchmarkRebuild/payments events/s)
p_ours=$(med peer_ours.txt BenchmarkRebuild/spending events/s)
p_emmett=$(med peer_emmett.txt BenchmarkEmmett/rebuild events/s)
l_api=$(med lookup.txt BenchmarkEntitlementLookup api_rps)
l_floor=$(med lookup.txt BenchmarkEntitlementLookup floor_rps)
l_api_p99=$(med lookup.txt BenchmarkEntitlementLookup api_p99_ms)
l_floor_p99=$(med lookup.txt BenchmarkEntitlementLookup floor_p99_ms)
l_api_p50=$(med lookup.txt BenchmarkEntitlementLookup api_p50_ms)
l_floor_p50=$(med lookup.txt BenchmarkEntitlementLookup floor_p50_ms)
c_file=$(med reconcile.txt BenchmarkReconcile100k ns/op)
c_floor=$(med reconcile.txt BenchmarkReconcile100kFloor ns/op)
c_batch=$(med reconcile_batch.txt BenchmarkReconcileBatch seconds)
pay() { med payroll.txt BenchmarkPayrollRun "$1"; }
pay_esdb() { med payroll_esdb.txt BenchmarkPayrollRun "$1"; }

r() { ratio "$@"; }

# notes: what the figures above do not say by themselves. Kept here by
# hand, from profiles of earlier runs of these benchmarks (dated below);
# re-check them when the figures move.
notes() {
	cat <<'MD'

## Where targets are missed, and why

Profiles and CPU counts from 2026-11-29, on this 2-core machine while other
work ran on it.

- **Single-event appends (targets: ≥ 0.5× pgbench, ≥ 2× Emmett).** On two
  cores shared by the writers and PostgreSQL both sides are bound by CPU,
  not by the disk (pg_test_fsync: an fdatasync of two 8 kB writes takes
  ~0.1 ms). Three changes on 2026-11-29 took ours from ~700 to ~4,900
  commands/s: (1) the append's NOTIFY moved out of its transaction to one
  background notifier after commit — a NOTIFY in every transaction
  serialised the commits on PostgreSQL's notification queue lock
  (pgbench, 8 clients: 4,200 single-insert transactions/s, 700 with a
  NOTIFY in each); (2) the append is one statement (check-and-advance of
  the stream row and the insert in one CTE), one round trip instead of
  four; (3) the command handler caches folded person streams and reads
  only the events after the cached revision, where it used to read and
  decode the whole stream (56 % of the Go CPU in an earlier profile;
  Emmett's command handler still does so). Against pgbench, what remains
  is the second round trip — every command reads its stream before it
  appends — and the Go side's decide, seal and hash on the same cores.
- **Look-up throughput (target ≥ 0.5×), when missed.** An API request runs
  the floor's query and, on the same two cores, the HTTP server (chi's
  middlewares, the request log and metrics, the JSON answer) and the
  benchmark's own loopback HTTP client. A CPU profile of a floor round and
  an API round (100,000 persons, 5 s each): the query and its scanning
  (both sides) 49 % of the Go CPU, the HTTP server 40 % (JSON encoding
  9 %, socket writes ~13 %). With client and server on the cores the
  floor has to itself, half its rate is at the edge: 0.52× and 0.41× in
  two runs on 2026-11-29, 0.32× on 2026-12-04 with the same code. Since
  2026-12-04 the benchmark's client reads each answer through io.Discard;
  it used to make a 32 KB buffer per request, garbage charged to the
  API's side. A ratio is only as good as the share of the two cores each
  side gets: the floor's goroutines and PostgreSQL have them to
  themselves, the API round shares them with the HTTP client and the
  kernel's loopback TCP on both ends.
- **Rebuilds vs COPY (targets: spending ≥ 2×, payments ≥ 0.5×).** Since
  2026-12-04 both rebuild through bulk loaders (docs/architecture.md,
  "Performance choices"): spending folds the log in memory and writes each
  key once at the end — its totals, and by COPY the person counts that keep
  "distinct persons" exact (then one `spending_persons` row per person,
  month and township: a million here), the primary key built afterwards; the
  payments register COPYs windows of 65,536 payments in the background and
  builds its secondary indexes once. That took spending from 0.38× to
  0.8–1.2× COPY and payments from 0.37× to 0.5–0.85×. Reading the log was
  then what kept spending under 2× (a CPU profile of a 1,000,000-event
  rebuild: 35 % of the Go CPU scanning every column of the event rows, the
  metadata too, 35 % decoding the data, 14 % folding, 7 % collecting
  garbage). Three changes on the evening of 2026-12-04, each measured with
  `BenchmarkRebuild` at 1,000,000 events, medians of 3 rounds: (1) the
  rebuild reads the log without the events' IDs, metadata and recorded-at
  (`domain.DataReader`, `pgstore.ReadAllData`, scanned from the
  connection's buffer: a read of the million events from 2.2 s to 1.0 s of
  wall time and from 2.2 s to 0.7 s of Go CPU) — spending 2.04× COPY; (2)
  the line codec reads the amounts, months and dates json.Marshal writes
  without the general parsers (and allocates no text it does not keep) —
  decoding from 1.55 s to 0.86 s of CPU; (3) spending counts persons by
  8-byte marks sorted at the write instead of a map of counts per key —
  the fold from 0.77 s to 0.30 s of CPU. The rebuild's own time went from
  ~4.5 s to 2.3–2.7 s for the million, with 1.5 s of Go CPU, where about
  0.95 s is the final write (sorting the marks 0.07 s, COPY of the million
  `spending_persons` rows 0.4 s, building their key 0.54 s), which cannot
  overlap the reading since a count is final only at the end of the log.
  The ratio still moved with the floor, which the machine's other load
  moves more than it moves the rebuild: COPY ran 133,000–216,000 rows/s
  in the runs of that evening, and spending 1.6–2.1× it. On 2026-12-06
  `spending_persons` became one row per person, program, fiscal year and
  township with the twelve months' counts in an array (version 2 of the
  read model): the runner's `Apply` reads and rewrites the row of each
  person it touches, and a rebuild COPYs a row per person and year rather
  than per payment — 333,333 rows for the million here, where each person
  moves township every month (a county's persons rarely move: their share
  is nearer a twelfth). Version 3, the same day, keys the rows by person
  before township and keeps the reports' distinct persons per month,
  township and year in `spending_groups`, worked out person by person over
  all their townships as the rows are written, so that a report reads a
  row per group instead of counting persons (the finance desk's spending
  page: 100 ms at p95 with 2,000 persons while it counted them from the
  arrays, 7 ms after). Spending went
  from 2.04× COPY (217,402 vs 106,429 events/s, the old schema, medians of
  3 rounds) to 2.28× and 3.08× in the next two runs of 3 rounds. The
  price is paid by the incremental path, which now rewrites a person's
  row where it used to insert one: `BenchmarkSpendingApply` (100,000
  events, medians of 3) from 116,149 to 101,796 events/s for a payroll's
  mix and from 68,276 to 45,780 for issues alone in random person order
  — still a county's month in seconds. A fill factor of 75 % (room for
  HOT updates) did not change that beyond the noise and was left out.
- **Look-up p99 (target < 10 ms).** Client, server and PostgreSQL share two
  cores with 32 requests in flight; the floor's own p99 is about 10 ms
  (9.8–10.5 ms in runs on 2026-11-29), and the API's comes on top of it.
  The throughput ratio is the meaningful figure.

## What the payroll of a million shows

Profiles of each command of a 1,000,000-person month (2026-12-03, CPU
profiles written by the commands run with LEDGER_TEST_CPUPROFILE, on this
2-core machine):

- **Events are bounded; the work is not yet.** No event is over 256 KiB
  and no append over 512 KiB, on both stores. But each command still
  reads every line event of the shards it works on — about 2,000,000
  line records for a month of a million (reserved, then issued). The five
  events that carry lines are written and read by a direct JSON codec
  (domain/linecodec.go: the bytes encoding/json writes, without
  reflection; anything else is handed to encoding/json), which took
  decoding from ~30 % of a command's CPU to ~7–10 %. What is left of the
  fold is the folded state itself: inserting the lines into the shards'
  maps (cache misses: ~10–15 % of CPU) and garbage collection (30–35 %).
- **A few shards at a time.** Since 2026-12-03 (afternoon) approval,
  rejection, resumption and reconciliation fold each payment shard as
  they reach it, two at a time, and let it go: what is live during a
  million-line reconciliation is ~335 MB (heap profile after a forced
  collection), of which the return file's lines are ~130 MB, where it was
  the whole folded month before. Peak resident memory fell less, to
  1.4–2.6 GB (the table above; 1.3–2.8 GB before): the collector's marks take seconds on two busy cores, and what is
  allocated meanwhile counts as live until the next one (gctrace: 1.3 GB
  "live" at the end of a mark while a forced collection finds 335 MB);
  GOMEMLIMIT caps it where memory is scarce. Time did not change (A/B on
  one machine, same minute: 15.6/15.7 s before, 13.3/15.5 s after).
- **Two cores are both busy.** The Go process uses about one core; the
  rest is PostgreSQL (or the protocol server) reading the streams and
  storing the appends. Appending the settlements of a million lines
  (250 MB of JSON) was half of `ledger reconcile`, most of it PostgreSQL
  compressing the events' data with pglz; since migration 0005 the
  events table compresses with LZ4 (about three times faster on such
  JSON, as small), which took the whole reconciliation of a million
  lines in one process from 17–20 s to 14 s. Working on the 16 shards two
  at a time (`app.Payroll.WithWorkers`, default: the number of
  processors) gains more where the store has cores of its own. GOGC=400
  did not help (measured again on the reconciliation: within the noise).
- **Until 2026-12-05 the benchmark put the whole month in one shard.**
  Its person IDs were padded counters (\`%020x\`), which all begin with
  "0"; the payment shard is named by a person ID's first hex character,
  so every line of the million landed in shard 0 and one worker did the
  month alone, the store and the command taking turns. Real person IDs are
  the first 20 hex characters of a keyed SHA-256 and spread evenly over
  the 16 shards; the benchmark's IDs are now the first 20 hex characters
  of an MD5 of the counter, spread the same way. On one machine, the same
  code, one round each: the month 54.3 s (reconcile 17.1 s) with every
  line in one shard, 23.5 s (reconcile 6.8 s) spread.
- **The store and the command work at once** (2026-12-05): within a long
  step the next append is sealed, and the last folded, while an append is
  in flight; two chunk events share an append when both fit in 512 KiB
  (half the commits); a stream's next page is read and decoded while the
  last is folded; the shard fold allocates a chunk's lines and months at
  once. Every event is still sealed as if appended alone, so its ID, data
  and hash are what they were. Measured on the one-shard reconciliation
  in-process (interleaved A/B): packing alone 9.95 → 6.54 s (median of 3);
  all of it 21.5 → 10.7 s under load. What would take more off: a
  snapshot of each shard's folded state at the end of a long step (later
  commands read one compact record per shard, not every line event), and
  settlement events that name the payments they settle instead of
  repeating every line (250 MB of JSON for a million).
- **Emmett 0.42.0's rebuild skips events of concurrent appends.** It reads
  its log in (transaction_id, global_position) order but resumes after
  the last global_position it saw, so events of concurrent transactions
  whose positions interleave are skipped (4 of 20,000 events lost when
  seeded by four concurrent appenders). The peer's log is therefore
  appended by one appender, which keeps it whole; the rebuild checks its
  totals.
MD
}

pgver=$(psql "$DATABASE_URL" -AtXc 'show server_version' 2>/dev/null || echo unknown)
{
	cat <<MD
# Benchmarks

Written by \`make bench\` (scripts/bench.sh) from one run on $(date -u '+%Y-%m-%d %H:%M UTC'), in ${total} s;
do not edit by hand. Each figure is the median of $COUNT rounds (the payroll's:
of $payroll_rounds), beside its floor or peer measured in the same run. Machines
here are shared and noisy: compare ratios, not absolute rates.

Machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2/1048576 }' /proc/meminfo) of memory, PostgreSQL $pgver, $("$GO" version | cut -d' ' -f3), Node.js $(node --version 2>/dev/null || echo n/a), Emmett (@event-driven-io/emmett-postgresql) $emmett_version.
Time per section: ${timings[*]:-none}.

| figure | ours | floor or peer | ratio | target | met? |
|---|---:|---:|---:|---:|---|
| single-event appends, 8 writers (commands/s) | $(num "$a_ours") | pgbench: $(num "$a_floor") | $(r "$a_ours" "$a_floor")× | ≥ 0.5× | $(met "$(r "$a_ours" "$a_floor")" ">=" 0.5) |
| single-event appends, 8 writers: p99 | $(num "$a_ours_p99" 2) ms | pgbench: $(num "$a_floor_p99" 2) ms | | | |
| **single-event appends vs Emmett** (commands/s) | $(num "$a_ours") | Emmett: $(num "$a_emmett") | $(r "$a_ours" "$a_emmett")× | ≥ 2× | $(met "$(r "$a_ours" "$a_emmett")" ">=" 2) |
| single-event appends vs Emmett: p99 | $(num "$a_ours_p99" 2) ms | Emmett: $(num "$a_emmett_p99" 2) ms | | | |
| bulk appends, $(num "$BULK_EVENTS") events (events/s) | $(num "$b_ours") | COPY: $(num "$b_floor") | $(r "$b_ours" "$b_floor")× | ≥ 0.5× | $(met "$(r "$b_ours" "$b_floor")" ">=" 0.5) |
| spending projection rebuild, $(num "$EVENTS") events (events/s) | $(num "$r_spending") | COPY: $(num "$r_copy") rows/s | $(r "$r_spending" "$r_copy")× | ≥ 2× | $(met "$(r "$r_spending" "$r_copy")" ">=" 2) |
| payments register rebuild, $(num "$EVENTS") events (events/s) | $(num "$r_payments") | COPY: $(num "$r_copy") rows/s | $(r "$r_payments" "$r_copy")× | ≥ 0.5× | $(met "$(r "$r_payments" "$r_copy")" ">=" 0.5) |
| **spending projection rebuild vs Emmett**, $(num "$PEER_EVENTS") events (events/s) | $(num "$p_ours") | Emmett: $(num "$p_emmett") | $(r "$p_ours" "$p_emmett")× | ≥ 2× | $(met "$(r "$p_ours" "$p_emmett")" ">=" 2) |
| entitlement look-ups over HTTP (requests/s) | $(num "$l_api") | bare pgx query: $(num "$l_floor") | $(r "$l_api" "$l_floor")× | ≥ 0.5× | $(met "$(r "$l_api" "$l_floor")" ">=" 0.5) |
| entitlement look-ups: p50 | $(num "$l_api_p50" 2) ms | bare pgx query: $(num "$l_floor_p50" 2) ms | | | |
| entitlement look-ups: p99 | $(num "$l_api_p99" 2) ms | bare pgx query: $(num "$l_floor_p99" 2) ms | | < 10 ms | $(met "$l_api_p99" "<" 10) |
$(for page in home person history search payroll batch batch_lines drafted_lines spending claims audit notices; do
	p95=$(med desk.txt BenchmarkDeskPages "${page}_p95_ms")
	echo "| web desk page \"$page\", $(num "$DESK_PERSONS") persons: p95 on the server | $(num "$p95" 2) ms | | | < 100 ms | $(met "$p95" "<" 100) |"
done)
| read and classify a 100,000-line return file | $(awk -v n="$c_file" 'BEGIN { if (n == "NaN") print "n/a"; else printf "%.2f s", n / 1e9 }') | decode + CSV only: $(awk -v n="$c_floor" 'BEGIN { if (n == "NaN") print "n/a"; else printf "%.2f s", n / 1e9 }') | $(r "$c_file" "$c_floor")× the floor's time | | |
| whole reconciliation of a $(num "$LINES")-payment batch | $(num "$c_batch" 2) s | | | < 5 s | $(met "$c_batch" "<" 5) |
| payroll for $(num "$PAYROLL_PERSONS") persons: \`ledger payroll run\` (read persons, claims, reserve the lines in 16 payment shards) | $(num "$(pay run_s)" 1) s, peak $(num "$(pay run_rss_MiB)") MiB | | | | |
| … \`ledger payroll approve\` (re-check and issue $(num "$PAYROLL_PERSONS") payments, in chunks) | $(num "$(pay approve_s)" 1) s, peak $(num "$(pay approve_rss_MiB)") MiB | | | | |
| … \`ledger payroll export\` (GB18030 payment file) | $(num "$(pay export_s)" 1) s, peak $(num "$(pay export_rss_MiB)") MiB | | | | |
| … \`ledger reconcile\` of $(num "$PAYROLL_PERSONS") bank lines, one return file | $(num "$(pay reconcile_s)" 1) s, peak $(num "$(pay reconcile_rss_MiB)") MiB | | | < 10 s | $(met "$(pay reconcile_s)" "<" 10) |
| … the month in total | $(num "$(pay total_s)" 1) s | | | < 60 s | $(met "$(pay total_s)" "<" 60) |
| … the largest event written (its JSON data) | $(num "$(pay largest_event_KiB)" 1) KiB | | | ≤ 256 KiB | $(met "$(pay largest_event_KiB)" "<" 256.01) |
| … the month on the EventStoreDB protocol server (one round) | $(num "$(pay_esdb total_s)" 1) s; reconcile's peak $(num "$(pay_esdb reconcile_rss_MiB)") MiB | | | completes | $(met "$(pay_esdb total_s)" ">=" 0) |
| rebuild of every read model from the province-scale log: $(num "$PROVINCE_PERSONS") persons, a year of payroll, $(num "${province_events:-NaN}") events ($(awk -v b="${province_bytes:-NaN}" 'BEGIN { if (b == "NaN" || b == "") print "n/a"; else printf "%.1f GB", b / 1e9 }') of JSON) | $(num "${province_total:-NaN}" 1) s | PostgreSQL reading the log once: $(num "${province_floor:-NaN}" 1) s | $(r "${province_total:-NaN}" "${province_floor:-NaN}")× the floor's time | timed | $(met "${province_total:-NaN}" ">=" 0) |
MD
	if [[ -s "$work/province.txt" || -n "${province_error:-}" ]]; then
		cat <<MD

### Each read model's rebuild at province scale

\`ledger project rebuild all\` over the log of \`ledger seed --scenario scale --persons $PROVINCE_PERSONS --years 1\`,
one read model after another (one run; seconds from each rebuild's own log line, which
counts the events it applied).

| read model | events applied | seconds | events/s |
|---|---:|---:|---:|
$(awk '{ printf "| %s | %d | %.1f | %.0f |\n", $1, $2, $3, ($3 > 0 ? $2 / $3 : 0) }' "$work/province.txt")
$(if [[ -n "${province_error:-}" ]]; then printf '\nThe rebuild of all failed after these: `%s`\n' "$province_error"; fi)
MD
	fi
	cat <<'MD'

## What each figure measures

MD
	cat <<MD
- **Single-event appends** (\`BenchmarkAppend\`, ./adapters/pgstore): single-event
  commands through the real command path, \`app.Persons.Execute\` (read
  the person's stream, decide, seal into the hash chain, append at the
  exact revision read), from 8 concurrent writers each moving its own 250
  persons between townships, ${SECS} s a round. The floor is \`pgbench\`
  with 8 clients for as long, each transaction one INSERT of the same row
  shape (the data and metadata of a sealed PersonMoved) into a table with
  the events table's indexes.
- **Emmett's appends** (scripts/emmett/bench.mjs \`append\`): the same
  commands with Emmett $emmett_version on the same server, in a database of
  its own: Emmett's \`CommandHandler\` reads and folds the person's stream,
  decides the move, and appends one PersonMoved at the stream version it
  read (which Emmett checks); 8 concurrent writers (async loops in one
  Node.js process, on the store's own pool) each move their own 250
  persons, whose streams hold a registration, a certificate and two grants
  of the ledger's sizes before the clock starts; ${SECS} s a round. A stale
  expected version is checked to be refused. Emmett keeps no hash chain.
- **Bulk appends** (\`BenchmarkBulkAppend\`): $(num "$BULK_EVENTS") events in streams of
  24 (a person's registration, certificate, grants and moves, decided and
  sealed through the domain) appended by one writer with \`AppendMany\`,
  1,000 streams a call, beside pgx's \`COPY\` of the same rows into a table
  of the events table's shape; each round into a fresh schema.
- **Rebuild vs COPY** (\`BenchmarkRebuild\`, ./projections): a blue/green
  rebuild from $(num "$EVENTS") \`PaymentIssued\` events in the embedded store
  (read in pages of 10,000 and decoded, folded in memory and written into a
  shadow schema — spending once at the end, the payments register in
  windows of 65,536 payments — and swapped in), beside \`COPY\` of as many
  rows of the payments register's shape into a table with the same keys
  and indexes; rounds interleave floor and projections.
- **Rebuild vs Emmett**: the same spending rebuild from $(num "$PEER_EVENTS") events,
  beside Emmett's own rebuild of the same read model (the same DDL,
  projections/sql/spending.sql) from the same events (the same JSON data,
  12 months over events/12 persons and 4 townships, 1,000 events per
  stream) in its store: \`rebuildPostgreSQLProjections\` with a
  \`postgreSQLRawSQLProjection\` whose handler sends, per event, one
  statement upserting the person's count of the month in spending_persons, the
  (program, month, township) totals in spending (persons + 1 when a
  person's count turns positive) and the year's budget row. Emmett calls a
  projection once per event, in a transaction per page of events, and
  stores its checkpoint after each event; it was given pages of 1,000
  events and no pause between pages (its defaults are 100 and 50 ms).
  Both sides check the totals they wrote. The sizes are equal, and smaller
  than the $(num "$EVENTS") of the COPY comparison, because Emmett's rebuild of a
  million events alone would take most of the time \`make bench\` may run.
- **Look-ups** (\`BenchmarkEntitlementLookup\`, ./adapters/httpapi):
  \`GET /v1/persons/{id}/entitlements\` with a bearer token, 32 concurrent
  clients over loopback, against read models of $(num "$LOOKUP_PERSONS") persons (two
  entitlements and twelve paid months each), beside the same SQL query
  issued through pgx by 32 goroutines on the same pool. Client, server and
  PostgreSQL share the machine's cores.
- **Web desk pages** (\`BenchmarkDeskPages\`, ./adapters/web): each page of the
  desk asked for 100 times (random persons, batches, townships), signed in
  as an admin, the handler called in the process (no network), over a
  ledger of $(num "$DESK_PERSONS") persons seeded by the scale scenario with a year
  of payroll; p95 of the server's time per page. "batch_lines" is the first
  page of all the lines of one of the year's issued batches, "drafted_lines"
  the same of the next month's batch, drafted and not yet approved (its
  lines only reserved in the payment shards); both read the read model
  \`batch_lines\`.
- **Return files** (\`BenchmarkReconcile100k\`, ./adapters/bankfile): reading a
  generated 100,000-line GB18030 CSV return file and classifying every line
  against 100,000 issued payments, beside only decoding GB18030 and
  splitting the CSV; \`BenchmarkReconcileBatch\`: the whole reconciliation
  on the embedded store (read, classify, fold the batch's stream, decide,
  append).
- **Payroll** (\`BenchmarkPayrollRun\`, ./cmd/ledger): the ledger's own
  commands, each run as a process of its own (so that its peak memory,
  getrusage's ru_maxrss, is its own) and timed one by one, for
  $(num "$PAYROLL_PERSONS") persons with a living-subsidy grant: \`ledger payroll run\`
  (read the persons from the entitlements read model, record overpayment
  claims — none — open the batch and reserve its lines in the program's 16
  payment shards, in chunks of at most 200 KiB), \`ledger payroll approve\`
  (re-check every line and issue it, in \`PaymentsIssued\` chunks),
  \`ledger payroll export\` (open every sealed bank account, write the
  GB18030 payment file, record \`BatchExported\`) and \`ledger reconcile\`
  of the bank's return file for every line, one file of ~60 MB (1 in 100
  returned as failed). Not timed: the read models the commands read are
  written directly on the server (INSERT ... SELECT over generate_series,
  bank accounts sealed in Go and loaded with COPY), and before the approval
  and the export the projections' checkpoints are moved to the head of the
  log as if \`ledger serve\` had projected the batch (projecting is what
  the rebuild measures). The round on the EventStoreDB protocol server
  (LEDGER_BENCH_STORE=esdb) runs the same commands against the in-process
  server with the real server's limits.
- **Province-scale rebuild**: \`ledger seed --scenario scale --persons $(num "$PROVINCE_PERSONS") --years 1\`
  writes the province's log through the bulk append path (persons,
  certificates, household status and grants, then twelve months of every
  monthly program's payroll in chunk events of 400 lines) into a database
  of its own (ledger_bench_province_<persons>), kept between runs; then \`ledger project rebuild all\`
  rebuilds every read model from it, one after another, each blue/green
  into a shadow schema and swapped in. The floor is PostgreSQL reading the
  whole log once in its order (\`COPY (SELECT type, data FROM events
  ORDER BY tx_id, position) TO\` /dev/null through psql); every rebuild
  reads the log once itself.
MD
	notes
} >"$out"
echo "bench: wrote $out" >&2
