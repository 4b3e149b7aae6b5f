/**
 * Trace store benchmark. SQLite: ingest through the store vs a raw better-sqlite3 batched insert of the same rows
 * (same schema, same pragmas, rounds interleaved); list (user + status, limit 20) at 10k vs 1M stored traces;
 * get of a 50-span trace at 1M; purge of 1M expired traces with the longest event-loop block. Postgres: ingest and
 * list, reported. The 1M-row database is generated with fast raw inserts. What the HTTP API's trace reads cost end
 * to end: `pageload.bench.ts`.
 */
import { copyFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { createPostgresTraceStore, createSqliteTraceStore, createTraceStoreExporter, type TraceStore } from '../src/store/index.js';
import { makeTrace, randomTraceId } from '../src/store/testing/fixtures.js';
import { createTestSchema } from '../src/common/persistence/testing/postgres.js';
import type { TraceRecord, TraceStatus } from '../src/trace/model.js';
import { formatNs, median, table, type BenchSuite } from './lib.js';

const STATUSES: TraceStatus[] = ['success', 'success', 'success', 'success', 'success', 'success', 'success', 'success', 'error', 'timeout'];
const quiet = { warn: () => undefined };

function rate(count: number, ns: number): string {
  const perSec = count / (ns / 1e9);
  return perSec >= 1000 ? `${(perSec / 1000).toFixed(1)}k/s` : `${perSec.toFixed(0)}/s`;
}

/** The same rows the store writes, inserted with plain prepared INSERTs in one transaction per batch. */
function rawWriter(file: string) {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  const insTrace = db.prepare(
    'INSERT INTO traces (trace_id, user_id, agent, status, started_at, ended_at, duration_ms, span_count, expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const insSpan = db.prepare(
    'INSERT INTO spans (trace_id, seq, span_id, parent_id, kind, name, status, started_at, duration_ms, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const expires = Date.now() + 86_400_000;
  const write = db.transaction((batch: readonly TraceRecord[]) => {
    for (const t of batch) {
      const { spans, ...rest } = t;
      insTrace.run(t.traceId, t.userId === null ? null : String(t.userId), t.agent, t.status, t.startedAt, t.endedAt, t.durationMs, spans.length, expires, JSON.stringify(rest));
      for (let i = 0; i < spans.length; i++) {
        const s = spans[i]!;
        insSpan.run(t.traceId, i, s.spanId, s.parentId, s.kind, s.name, s.status, s.startedAt, s.durationMs, JSON.stringify(s));
      }
    }
  });
  return { write, close: () => db.close() };
}

function batches(count: number, size: number): TraceRecord[][] {
  const out: TraceRecord[][] = [];
  for (let i = 0; i < count; i += size) {
    out.push(Array.from({ length: Math.min(size, count - i) }, (_, j) => makeTrace({ userId: `user-${(i + j) % 500}`, status: STATUSES[(i + j) % 10], spans: 10, payloadChars: 400 })));
  }
  return out;
}

async function ingest(dir: string, smoke: boolean): Promise<{ rows: string[][]; ratio: number }> {
  const perRound = smoke ? 200 : 2000;
  const rounds = smoke ? 1 : 3;
  const storeFile = path.join(dir, 'ingest-store.db');
  const rawFile = path.join(dir, 'ingest-raw.db');
  const store = createSqliteTraceStore({ path: storeFile, purgeIntervalMs: 0, logger: quiet });
  const exporter = createTraceStoreExporter(store, { logger: quiet });
  await createSqliteTraceStore({ path: rawFile, purgeIntervalMs: 0 }).close(); // same schema and indexes
  const raw = rawWriter(rawFile);
  const storeNs: number[] = [];
  const rawNs: number[] = [];
  // warm-up
  for (const b of batches(100, 50)) await exporter.export(b);
  for (const b of batches(100, 50)) raw.write(b);
  for (let r = 0; r < rounds; r++) {
    const forStore = batches(perRound, 100);
    const forRaw = batches(perRound, 100);
    let start = process.hrtime.bigint();
    for (const b of forRaw) raw.write(b);
    rawNs.push(Number(process.hrtime.bigint() - start));
    start = process.hrtime.bigint();
    for (const b of forStore) await exporter.export(b);
    storeNs.push(Number(process.hrtime.bigint() - start));
  }
  raw.close();
  await store.close();
  const s = median(storeNs);
  const w = median(rawNs);
  const ratio = w / s;
  return {
    ratio,
    rows: [
      ['raw better-sqlite3 batched INSERT (baseline)', rate(perRound, w), rate(perRound * 10, w), '100%'],
      ['AgentEx SQLite store (exporter → put, upsert)', rate(perRound, s), rate(perRound * 10, s), `${(ratio * 100).toFixed(0)}%`],
    ],
  };
}

/** Fills a store file with `count` expired traces (1 span each) using raw multi-row inserts. */
function generate(file: string, count: number, users: number): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = OFF');
  const body = JSON.stringify({ ...makeTrace({ spans: 0, payloadChars: 200 }), spans: undefined });
  const spanBody = JSON.stringify(makeTrace({ spans: 1, payloadChars: 100 }).spans[0]);
  const insT = db.prepare('INSERT INTO traces (trace_id, user_id, agent, status, started_at, ended_at, duration_ms, span_count, expires_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, 1, 1, ?)');
  const insS = db.prepare("INSERT INTO spans (trace_id, seq, span_id, parent_id, kind, name, status, started_at, duration_ms, body) VALUES (?, 0, 'aaaaaaaaaaaaaaaa', NULL, 'agent', 'agent.run', 'ok', ?, 5, ?)");
  const t0 = Date.now() - 30 * 86_400_000;
  const chunk = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const id = randomTraceId();
      const started = t0 + i * 2;
      insT.run(id, `user-${i % users}`, i % 3 ? 'research' : 'support', STATUSES[i % 10], started, started + 1000, 1000 + (i % 5000), body);
      insS.run(id, started, spanBody);
    }
  });
  for (let i = 0; i < count; i += 20_000) chunk(i, Math.min(count, i + 20_000));
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
}

async function listCost(store: TraceStore, users: number, iterations: number): Promise<number> {
  const samples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await store.list({ userId: `user-${(i * 7919) % users}`, status: 'error', limit: 20 });
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return median(samples);
}

async function scale(dir: string, smoke: boolean) {
  const small = smoke ? 2_000 : 10_000;
  const large = smoke ? 20_000 : 1_000_000;
  const users = smoke ? 100 : 1000;
  const out: string[][] = [];
  const smallFile = path.join(dir, 'small.db');
  const largeFile = path.join(dir, 'large.db');
  for (const [file, n] of [
    [smallFile, small],
    [largeFile, large],
  ] as const) {
    await createSqliteTraceStore({ path: file, purgeIntervalMs: 0 }).close();
    const started = Date.now();
    generate(file, n, users);
    out.push([`generate ${n.toLocaleString('en')} traces (raw inserts)`, `${((Date.now() - started) / 1000).toFixed(1)} s`, '']);
  }
  const smallStore = createSqliteTraceStore({ path: smallFile, purgeIntervalMs: 0 });
  const largeStore = createSqliteTraceStore({ path: largeFile, purgeIntervalMs: 0 });
  const iterations = smoke ? 50 : 1000;
  const a = await listCost(smallStore, users, iterations);
  const b = await listCost(largeStore, users, iterations);
  out.push([`list user+status limit 20 @ ${small.toLocaleString('en')}`, formatNs(a), '']);
  out.push([`list user+status limit 20 @ ${large.toLocaleString('en')}`, formatNs(b), `${(b / a).toFixed(2)}× (goal ≤ 2×)`]);

  const fifty = makeTrace({ spans: 50, payloadChars: 400 });
  await largeStore.put([fifty]);
  const getSamples: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await largeStore.get(fifty.traceId);
    getSamples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  out.push([`get 50-span trace @ ${large.toLocaleString('en')}`, formatNs(median(getSamples)), '']);

  await smallStore.close();

  // The checkpoint comparison on one mid-size file, copied: SQLite's auto-checkpoint in the writer (the old default)
  // against the background checkpointer.
  const mid = smoke ? 5_000 : 200_000;
  const midFile = path.join(dir, 'mid.db');
  await createSqliteTraceStore({ path: midFile, purgeIntervalMs: 0 }).close();
  generate(midFile, mid, users);
  for (const mode of ['writer', 'background'] as const) {
    const file = path.join(dir, `mid-${mode}.db`);
    copyFileSync(midFile, file);
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0, walCheckpoint: mode });
    out.push(await purgeRow(store, file, `purge ${mid.toLocaleString('en')} expired traces, \`walCheckpoint: '${mode}'\``));
    await store.close();
  }
  out.push(await purgeRow(largeStore, largeFile, `purge ${large.toLocaleString('en')} expired traces (+1 span each), background checkpoints`));
  await largeStore.close();
  return out;
}

/** Purges every generated (expired) trace, probing the event loop and sampling the WAL size meanwhile. */
async function purgeRow(store: TraceStore, file: string, label: string): Promise<string[]> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let probeMax = 0;
  let last = performance.now();
  let probing = true;
  const probe = () => {
    const now = performance.now();
    probeMax = Math.max(probeMax, now - last);
    last = now;
    if (probing) setImmediate(probe);
  };
  let walMax = 0;
  const sampleWal = () => {
    try {
      walMax = Math.max(walMax, statSync(`${file}-wal`).size);
    } catch {
      // no WAL yet
    }
  };
  histogram.enable();
  setImmediate(probe);
  const started = performance.now();
  const deleted = await store.purgeExpired({ onProgress: sampleWal });
  const total = performance.now() - started;
  probing = false;
  histogram.disable();
  const c = store.counters();
  return [
    label,
    `${(total / 1000).toFixed(1)} s total (${rate(deleted, total * 1e6)})`,
    `longest block ${probeMax.toFixed(1)} ms (probe), ${(histogram.max / 1e6).toFixed(1)} ms (monitorEventLoopDelay); goal ≤ 50 ms; ` +
      `WAL peak ${(walMax / 1048576).toFixed(0)} MiB${c.walCheckpoints === undefined ? '' : `, ${c.walCheckpoints} checkpoints off-thread`}`,
  ];
}

async function postgres(smoke: boolean): Promise<string> {
  const url = process.env.AGENTEX_TEST_DATABASE_URL;
  if (!url) return '_Postgres cases skipped: AGENTEX_TEST_DATABASE_URL is not set._';
  const schema = await createTestSchema(url, 'bench');
  try {
    const store = await createPostgresTraceStore({ url, schema: schema.schema, purgeIntervalMs: 0, logger: quiet });
    const count = smoke ? 200 : 5000;
    const all = batches(count, 100);
    const start = process.hrtime.bigint();
    for (const b of all) await store.put(b);
    const ns = Number(process.hrtime.bigint() - start);
    const iterations = smoke ? 20 : 500;
    const listNs = await listCost(store, 500, iterations);
    const id = all[0]![0]!.traceId;
    const getStart = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await store.get(id);
    const getNs = Number(process.hrtime.bigint() - getStart) / iterations;
    await store.close();
    return table(
      ['Postgres case', 'result'],
      [
        [`ingest ${count.toLocaleString('en')} traces × 10 spans, batches of 100`, `${rate(count, ns)} traces, ${rate(count * 10, ns)} spans`],
        [`list user+status limit 20 @ ${count.toLocaleString('en')}`, formatNs(listNs)],
        ['get 10-span trace', formatNs(getNs)],
      ],
    );
  } finally {
    await schema.drop();
  }
}

const suite: BenchSuite = {
  name: 'store',
  title: 'Trace store (SQLite, Postgres)',
  async run({ smoke }) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-bench-store-'));
    try {
      const ing = await ingest(dir, smoke);
      const sc = await scale(dir, smoke);
      const pg = await postgres(smoke);
      const markdown = [
        'Ingest: traces of 10 spans with realistic payloads (~8 KB of JSON each), batches of 100, SQLite WAL with `synchronous=NORMAL`, ' +
          'same schema and indexes for both. The baseline serialises and inserts the same rows with plain prepared INSERTs; the store also ' +
          'validates, upserts (idempotent) and clears old spans of each trace. Goal ≥ 60%.',
        '',
        table(['SQLite ingest', 'traces', 'spans', 'vs raw'], ing.rows),
        '',
        table(['SQLite at scale', 'result', 'note'], sc),
        '',
        pg,
      ].join('\n');
      return { markdown };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default suite;
