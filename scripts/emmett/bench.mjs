// bench.mjs — the peer in `make bench`: the same append and projection
// work as the ledger's own benchmarks, done with Emmett's PostgreSQL event
// store (@event-driven-io/emmett-postgresql) on the same PostgreSQL server.
//
//   node bench.mjs append  --url URL [--seconds 5] [--writers 8] [--persons 250] [--rounds 3]
//   node bench.mjs rebuild --url URL [--events 2000] [--rounds 3] [--batch 1000]
//
// URL names a database of its own (scripts/bench.sh creates
// ledger_bench_emmett); the script creates Emmett's schema in it. Results go
// to stdout as Go-benchmark-style lines, one per round, which bench.sh
// reads:
//
//   BenchmarkEmmett/append-8   1   1234.5 commands/s   6.20 p99_ms
//   BenchmarkEmmett/rebuild-1  1   4567.8 events/s
//
// Progress and checks go to stderr. Any failed check exits non-zero.
//
// append: single-event commands through Emmett's CommandHandler, as the Go
// BenchmarkAppend runs them through app.Persons.Execute: read the
// person's stream and fold it, decide, append one PersonMoved at the
// stream version read (Emmett checks it). WRITERS concurrent writers
// (async loops in one Node.js process on the store's pool, as a Node.js
// service runs them) each move their own PERSONS persons in turn, whose
// streams hold a registration, a certificate and two grants before the
// clock starts. Rate = commands / seconds; p99 over every command.
//
// rebuild: EVENTS PaymentIssued events (the shape and spread of the Go
// BenchmarkRebuild's: 12 months over EVENTS/12 persons, 4 townships, 1,000
// events per stream) are appended once; each round then rebuilds the
// "spending" read model (the ledger's own DDL, projections/sql/spending.sql)
// from the whole log with Emmett's rebuildPostgreSQLProjections and a
// postgreSQLRawSQLProjection: per event, one SQL statement upserts the
// person's count of the month in spending_persons, the (program, month, township) totals
// in spending (persons +1 when a person's count becomes positive) and the
// year's budget row. Rate = EVENTS / seconds from start to the consumer
// stopping at the end of the log; the tables are then checked.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CommandHandler, isExpectedVersionConflictError, STREAM_DOES_NOT_EXIST } from '@event-driven-io/emmett';
import {
  getPostgreSQLEventStore,
  postgreSQLRawSQLProjection,
  rebuildPostgreSQLProjections,
} from '@event-driven-io/emmett-postgresql';
import { dumbo, rawSql, sql } from '@event-driven-io/dumbo';

const [mode, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i += 2) {
  if (!rest[i].startsWith('--') || rest[i + 1] === undefined) die(`bad argument ${rest[i]}: want --name value pairs`);
  opts[rest[i].slice(2)] = rest[i + 1];
}
const url = opts.url ?? die('--url: name the PostgreSQL database for Emmett');
const int = (name, def) => {
  const v = opts[name] ?? String(def);
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) die(`--${name}=${v} is not a positive whole number`);
  return n;
};

function die(msg) {
  console.error(`emmett bench: ${msg}`);
  process.exit(2);
}
const log = (msg) => console.error(`emmett bench: ${msg}`);

// Metadata of the size and shape the ledger seals onto every event.
const metadata = (command, recordedAt, effective) => ({
  actor: 'bench', role: 'finance', command_id: command, correlation_id: command,
  recorded_at: recordedAt, schema_version: 1, effective_date: effective,
  prev_hash: '', hash: 'sha256:' + '0'.repeat(64),
});

if (mode !== 'append' && mode !== 'rebuild') die(`unknown mode ${mode}: want append or rebuild`);
const store = getPostgreSQLEventStore(url, { schema: { autoMigration: 'CreateOrUpdate' } });
try {
  if (mode === 'append') await appendBench();
  else if (mode === 'rebuild') await rebuildBench();
} finally {
  await store.close();
}

async function appendBench() {
  const seconds = int('seconds', 5), writers = int('writers', 8), persons = int('persons', 250), rounds = int('rounds', 1);
  const run = Date.now().toString(36);
  const towns = ['蛟塘镇', '星子镇', '白鹿镇', '温泉镇', '华林镇', '横塘镇'];
  const meta = (command, effective) => metadata(command, new Date().toISOString(), effective);
  const id = (i) => `${run}${i.toString(16).padStart(12, '0')}`; // 20 characters, like a person ID
  // A person's life before the moves, as in the Go benchmark: registered,
  // certified, granted the living and the care subsidy.
  const life = (i) => [
    { type: 'beneficiary.PersonRegistered', data: { person_id: id(i), id_number: '3604291940010100' + pad2(i), id_hash: 'h'.repeat(64),
      id_masked: '360429********0011', name: `居民${i}`, birth_date: '1940-01-01', gender: 'male', township: towns[0], household_id: id(i),
      household: { class: '', dibao: true, tekun: false, work_injury_nursing: false }, registered_on: '2023-11-01' },
      metadata: meta(`bench-${i}-0`, '2023-11-01') },
    { type: 'beneficiary.CertificateIssued', data: { category: 'physical', grade: 2, number_masked: '360429**********0062', issued_on: '2020-01-01',
      valid_until: '2030-01-01' }, metadata: meta(`bench-${i}-1`, '2020-01-01') },
    ...['living_subsidy', 'care_subsidy'].map((program, k) => ({ type: 'beneficiary.EntitlementGranted',
      data: { program, effective_from: '2024-01-01', amount: '110.00' }, metadata: meta(`bench-${i}-${2 + k}`, '2024-01-01') })),
  ];
  function pad2(i) { return String(i % 100).padStart(2, '0'); }
  // The command: move the person to the next township. evolve folds the
  // stream into the person's township and number of moves; decide refuses
  // a move to where the person lives.
  const handle = CommandHandler({
    initialState: () => ({ township: '', moves: 0 }),
    evolve: (state, e) => {
      switch (e.type) {
        case 'beneficiary.PersonRegistered': return { ...state, township: e.data.township };
        case 'beneficiary.PersonMoved': return { township: e.data.to_township, moves: state.moves + 1 };
        default: return state;
      }
    },
  });
  const move = (i, to) => (state) => {
    if (state.township === '') throw new Error(`person ${id(i)} is not registered`);
    if (state.township === to) throw new Error(`person ${id(i)} already lives in ${to}`);
    return { type: 'beneficiary.PersonMoved', data: { from_township: state.township, to_township: to, effective_on: '2024-06-01' },
      metadata: meta(`move-${i}-${state.moves + 1}`, '2024-06-01') };
  };
  // Every person is registered before the clock starts.
  for (let i = 0; i < writers * persons; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, writers * persons - i) }, (_, k) =>
      store.appendToStream(`person-${id(i + k)}`, life(i + k), { expectedStreamVersion: STREAM_DOES_NOT_EXIST })));
  }
  const moves = new Array(writers * persons).fill(0);
  log(`append: ${writers * persons} persons registered; ${rounds} rounds of ${seconds} s, ${writers} writers`);
  for (let round = 1; round <= rounds; round++) {
    const lat = [];
    const deadline = performance.now() + seconds * 1000;
    const start = performance.now();
    await Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let n = 0; performance.now() < deadline; n++) {
        const i = w * persons + (n % persons);
        moves[i]++;
        const t0 = performance.now();
        const r = await handle(store, `person-${id(i)}`, move(i, towns[1 + (moves[i] % (towns.length - 1))]));
        lat.push(performance.now() - t0);
        if (r.newEvents.length !== 1 || r.nextExpectedStreamVersion !== BigInt(4 + moves[i])) {
          throw new Error(`person ${id(i)}: stream at ${r.nextExpectedStreamVersion} after ${moves[i]} moves, want ${4 + moves[i]}`);
        }
      }
    }));
    const elapsed = (performance.now() - start) / 1000;
    lat.sort((a, b) => a - b);
    const p = (q) => lat[Math.min(lat.length - 1, Math.max(0, Math.round(lat.length * q) - 1))];
    console.log(`BenchmarkEmmett/append-${writers}\t1\t${(lat.length / elapsed).toFixed(1)} commands/s\t${p(0.5).toFixed(3)} p50_ms\t${p(0.99).toFixed(3)} p99_ms`);
  }
  // A stale expected version must be refused, or the figures mean nothing.
  let refused = false;
  try {
    await store.appendToStream(`person-${id(0)}`, [move(0, 'nowhere')({ township: towns[0], moves: -1 })], { expectedStreamVersion: 1n });
  } catch (err) {
    if (!isExpectedVersionConflictError(err) && err?.errorCode !== 412) throw err;
    refused = true;
  }
  if (!refused) throw new Error('Emmett accepted an append with a stale expected version');
}

async function rebuildBench() {
  const events = int('events', 2000), rounds = int('rounds', 1), batch = int('batch', 1000);
  const towns = ['蛟塘镇', '星子镇', '白鹿镇', '温泉镇'];
  const persons = Math.max(Math.floor(events / 12), 1);
  const pad = (n, w) => String(n).padStart(w, '0');
  const line = (i) => {
    const month = 1 + (Math.floor(i / persons) % 12);
    const period = `2024-${pad(month, 2)}`;
    return {
      reference: `LS-${period}-${pad(i, 7)}`, batch_id: `LS-${period}`, person_id: (i % persons).toString(16).padStart(20, '0'),
      program: 'living_subsidy', period, kind: 'regular', amount: '100.00', township: towns[i % towns.length], paid_on: `${period}-20`,
    };
  };
  const pool = dumbo({ connectionString: url });
  try {
    // Append the log once, 1,000 events per stream, from one appender.
    // Not four concurrent ones, as the Go benchmark seeds: Emmett reads
    // its log in (transaction_id, global_position) order but resumes after
    // the last global_position it saw, so events of concurrent appends
    // whose positions interleave are skipped by the rebuild (seen with
    // 0.42.0: 4 of 20,000 events lost). One appender keeps the log whole.
    const t0 = performance.now();
    const chunk = 1000, run = Date.now().toString(36);
    for (let start = 0; start < events; start += chunk) {
      const evs = [];
      for (let i = start; i < Math.min(start + chunk, events); i++) {
        const l = line(i);
        evs.push({ type: 'payroll.PaymentIssued', data: l, metadata: metadata(`seed-${start}`, '2025-01-01T00:00:00Z', l.paid_on) });
      }
      await store.appendToStream(`payroll-bench.${run}.${start / chunk}`, evs, { expectedStreamVersion: STREAM_DOES_NOT_EXIST });
    }
    log(`rebuild: ${events} PaymentIssued events appended in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const ddl = readFileSync(new URL('../../projections/sql/spending.sql', import.meta.url), 'utf8');

    for (let round = 1; round <= rounds; round++) {
      // Fresh tables, as the ledger's rebuild writes into a fresh schema.
      await pool.execute.command(rawSql(`DROP TABLE IF EXISTS spending, spending_persons, spending_groups, budgets`));
      await pool.execute.command(rawSql(ddl));
      let applied = 0;
      const projection = postgreSQLRawSQLProjection({
        name: `spending-${run}-${round}`, // a new projection each round: the rebuild starts from the beginning
        canHandle: ['payroll.PaymentIssued', 'payroll.PaymentFailed', 'payroll.PaymentReversed'],
        evolve: (e) => {
          applied++;
          const l = e.data, sign = e.type === 'payroll.PaymentIssued' ? 1 : -1;
          const month = l.paid_on.slice(0, 7) + '-01', year = Number(l.paid_on.slice(0, 4));
          const m = Number(l.paid_on.slice(5, 7)); // the month's element of the person's counts
          const counts = '{' + Array.from({ length: 12 }, (_, i) => (i === m - 1 ? sign : 0)).join(',') + '}';
          const amount = (sign < 0 ? '-' : '') + l.amount;
          // The person's row of the year and township, then whether they
          // started or stopped counting: in the month and township
          // (spending.persons), and — with their other townships' rows —
          // in the month, the township's year and the whole year
          // (spending_groups).
          return sql(`
            WITH p AS (
              INSERT INTO spending_persons AS sp (program, fiscal_year, person_id, township, n) VALUES (%L, %s, %L, %L, %L::int[])
              ON CONFLICT (program, fiscal_year, person_id, township) DO UPDATE SET n[%s] = sp.n[%s] + %s
              RETURNING n
            ), o AS (
              SELECT coalesce(bool_or(n[%s] > 0), false) AS month_other, coalesce(bool_or(0 < ANY (n)), false) AS any_other
              FROM spending_persons WHERE program = %L AND fiscal_year = %s AND person_id = %L AND township <> %L
            ), t AS (
              SELECT p.n[%s] AS now, p.n[%s] - %s AS was, o.month_other, o.any_other,
                (SELECT bool_or(c > 0) FROM unnest(p.n) AS c) AS row_now,
                (SELECT bool_or(CASE WHEN i = %s THEN c - %s ELSE c END > 0) FROM unnest(p.n) WITH ORDINALITY AS u(c, i)) AS row_was
              FROM p, o
            ), s AS (
              INSERT INTO spending AS s (program, month, township, amount_paid, payments, persons)
              SELECT %L, %L, %L, %L::numeric, %s, (t.now > 0)::int - (t.was > 0)::int FROM t
              ON CONFLICT (program, month, township) DO UPDATE SET amount_paid = s.amount_paid + EXCLUDED.amount_paid,
                payments = s.payments + EXCLUDED.payments, persons = s.persons + EXCLUDED.persons
            ), g AS (
              INSERT INTO spending_groups AS g (program, fiscal_year, month, township, persons)
              SELECT %L, %s, %s, '', (t.month_other OR t.now > 0)::int - (t.month_other OR t.was > 0)::int FROM t
              UNION ALL SELECT %L, %s, 0, %L, t.row_now::int - t.row_was::int FROM t
              UNION ALL SELECT %L, %s, 0, '', (t.any_other OR t.row_now)::int - (t.any_other OR t.row_was)::int FROM t
              ON CONFLICT (program, fiscal_year, month, township) DO UPDATE SET persons = g.persons + EXCLUDED.persons
            )
            INSERT INTO budgets AS b (program, fiscal_year, allocated, spent) VALUES (%L, %s, 0, %L::numeric)
            ON CONFLICT (program, fiscal_year) DO UPDATE SET spent = b.spent + EXCLUDED.spent`,
          l.program, year, l.person_id, l.township, counts, m, m, sign,
          m, l.program, year, l.person_id, l.township,
          m, m, sign, m, sign,
          l.program, month, l.township, amount, sign,
          l.program, year, m, l.program, year, l.township, l.program, year,
          l.program, year, amount);
        },
      });
      const start = performance.now();
      const consumer = rebuildPostgreSQLProjections({
        connectionString: url,
        projection,
        // Give the peer its best shot: big pages and no pause between them
        // (the defaults are 100 events and 50 ms).
        pulling: { batchSize: batch, pullingFrequencyInMs: 0 },
      });
      await consumer.start();
      const elapsed = (performance.now() - start) / 1000;
      await consumer.close();
      const got = (await pool.execute.query(rawSql(
        `SELECT coalesce(sum(payments), 0)::int AS payments, coalesce(sum(amount_paid), 0)::text AS paid,
                (SELECT count(*) FROM spending_persons, unnest(n) AS c WHERE c > 0)::int AS person_keys, coalesce(sum(persons), 0)::int AS persons,
                (SELECT persons FROM spending_groups WHERE month = 0 AND township = '')::int AS year_persons FROM spending`))).rows[0];
      const wantPaid = (events * 100).toFixed(2);
      if (applied !== events || got.payments !== events || got.paid !== wantPaid || got.persons !== got.person_keys || got.persons < persons || got.year_persons !== persons) {
        throw new Error(`round ${round}: applied ${applied} events, spending holds ${JSON.stringify(got)}; want ${events} payments, ${wantPaid} paid, persons = person keys ≥ ${persons}, ${persons} in the year`);
      }
      log(`rebuild round ${round}: ${events} events in ${elapsed.toFixed(1)} s; spending: ${got.payments} payments, ${got.paid} paid, ${got.persons} persons`);
      console.log(`BenchmarkEmmett/rebuild-1\t1\t${(events / elapsed).toFixed(1)} events/s`);
    }
  } finally {
    await pool.close();
  }
}
