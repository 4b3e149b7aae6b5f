/**
 * A trace page as the dashboard loads it, on SQLite and Postgres: the real service (auth, rate limiter, request log,
 * metrics, security headers) over HTTP on 127.0.0.1, one request at a time as one user's browser makes them — the
 * trace list (`GET /api/dashboard/traces?limit=25`, what the dashboard's list view fetches), the API's own list
 * (`GET /api/traces?limit=20`) and the trace detail (`GET /api/traces/:id`) of a typical trace and of the largest
 * trace the default bounds keep (256 KiB). Beside each request: what turning the stored JSON into the response body
 * costs (`get`/`list` + `JSON.stringify`, in the same process), and its share of the request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../src/server/logger.js';
import { startService, type RunningService } from '../src/server/service.js';
import { makeTrace } from '../src/store/testing/fixtures.js';
import { createTestSchema } from '../src/common/persistence/testing/postgres.js';
import type { TraceRecord, TraceStatus } from '../src/trace/model.js';
import { formatNs, measureAsync, table, type BenchSuite } from './lib.js';

const TOKEN = `bench-${'p'.repeat(30)}`;
const STATUSES: TraceStatus[] = ['success', 'success', 'success', 'success', 'success', 'success', 'success', 'error', 'timeout', 'success'];
/** Span counts of the stored traces, in turn: most agent runs are a few model calls and tools. */
const SPAN_COUNTS = [4, 8, 12, 12, 20, 40];

/** Stored traces: realistic agent runs (payloads within the default bounds), newest first. */
function traces(count: number): TraceRecord[] {
  const now = Date.now();
  return Array.from({ length: count }, (_, i) =>
    makeTrace({ userId: `user-${i % 50}`, status: STATUSES[i % STATUSES.length], spans: SPAN_COUNTS[i % SPAN_COUNTS.length], payloadChars: 400, startedAt: now - i * 1000 }),
  );
}

/** The service on a Postgres URL, or on a SQLite file when `database` is a path. */
async function start(database: string): Promise<RunningService> {
  const pg = /^postgres(ql)?:\/\//.test(database);
  return startService({
    env: { AGENTEX_API_TOKEN: TOKEN, AGENTEX_RATE_LIMIT: '100000000', AGENTEX_ADMIN_RATE_LIMIT: '1000000', ...(pg ? { AGENTEX_DATABASE_URL: database } : {}) },
    flags: { '--port': '0', ...(pg ? {} : { '--sqlite-path': database }) },
    logger: createLogger('info', new Writable({ write: (_c, _e, cb) => cb() })),
  });
}

interface Row {
  request: string;
  bytes: number;
  requestNs: number;
  /** Parse the stored JSON and serialise it again. */
  parsedNs: number;
  /** Splicing the stored JSON texts (the removed `getJson`/`listJson`), where measured. */
  splicedNs?: number;
}

async function measure(svc: RunningService, smoke: boolean): Promise<Row[]> {
  const { store } = svc;
  const n = smoke ? 60 : 2000;
  await store.put(traces(n));
  const typical = makeTrace({ spans: 12, payloadChars: 400, startedAt: Date.now() - 10 * 86_400_000 });
  // The largest trace the default bounds keep: 256 KiB of JSON (DEFAULT_MAX_TRACE_BYTES).
  const large = makeTrace({ spans: 290, payloadChars: 400, startedAt: Date.now() - 10 * 86_400_000 });
  await store.put([typical, large]);
  const iterations = smoke ? 3 : 40;
  const opts = { iterations, rounds: smoke ? 1 : 5, warmup: smoke ? 1 : 10 };
  const headers = { authorization: `Bearer ${TOKEN}` };
  const cases: { request: string; path: string; parsed: () => Promise<unknown>; spliced?: () => Promise<unknown> }[] = [
    {
      // The dashboard's list: a page of 25 plus, per row, the whole trace (for its tool count).
      request: 'list view: `GET /api/dashboard/traces?limit=25`',
      path: '/api/dashboard/traces?limit=25',
      parsed: async () => {
        const page = await store.list({ limit: 25 });
        const full = await Promise.all(page.traces.map((t) => store.get(t.traceId)));
        return JSON.stringify({ traces: page.traces.map((t, i) => ({ ...t, toolCount: full[i]?.spans.length })), nextCursor: page.nextCursor });
      },
    },
    {
      request: 'API list: `GET /api/traces?limit=20`',
      path: '/api/traces?limit=20',
      parsed: async () => JSON.stringify(await store.list({ limit: 20 })),
    },
    ...[typical, large].map((t) => ({
      request: `detail view: \`GET /api/traces/:id\`, ${t.spans.length} spans`,
      path: `/api/traces/${t.traceId}`,
      parsed: async () => JSON.stringify(await store.get(t.traceId)),
    })),
  ];
  // Every HTTP case first, back to back: a keep-alive connection left idle past the server's keep-alive timeout
  // while the in-process cases run would race its close (ECONNRESET).
  const http: { requestNs: number; bytes: number }[] = [];
  for (const c of cases) {
    let bytes = 0;
    const requestNs = await measureAsync(async () => {
      const res = await fetch(`${svc.url}${c.path}`, { headers });
      if (!res.ok) throw new Error(`${c.path}: HTTP ${res.status}`);
      bytes = Buffer.byteLength(await res.text());
    }, opts);
    http.push({ requestNs, bytes });
  }
  const rows: Row[] = [];
  for (const [i, c] of cases.entries()) {
    const parsedNs = await measureAsync(c.parsed, opts);
    const splicedNs = c.spliced ? await measureAsync(c.spliced, opts) : undefined;
    rows.push({ request: c.request, ...http[i]!, parsedNs, ...(splicedNs === undefined ? {} : { splicedNs }) });
  }
  return rows;
}

function render(backend: string, rows: Row[]): string[][] {
  const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
  return rows.map((r) => [
    backend,
    r.request,
    `${(r.bytes / 1024).toFixed(1)} KiB`,
    formatNs(r.requestNs),
    `${formatNs(r.parsedNs)} (${pct(r.parsedNs, r.requestNs)})`,
    r.splicedNs === undefined ? '—' : `${formatNs(r.splicedNs)}; saves ${pct(r.parsedNs - r.splicedNs, r.requestNs)} of the request`,
  ]);
}

const suite: BenchSuite = {
  name: 'pageload',
  title: 'A trace page as the dashboard loads it (SQLite, Postgres)',
  async run({ smoke }) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-bench-pageload-'));
    const out: string[][] = [];
    try {
      const sqlite = await start(path.join(dir, 'pageload.db'));
      try {
        out.push(...render('SQLite', await measure(sqlite, smoke)));
      } finally {
        await sqlite.close();
      }
      const url = process.env.AGENTEX_TEST_DATABASE_URL;
      if (url) {
        const schema = await createTestSchema(url, 'pageload');
        try {
          const sep = url.includes('?') ? '&' : '?';
          const pg = await start(`${url}${sep}options=${encodeURIComponent(`-c search_path=${schema.schema}`)}`);
          try {
            out.push(...render('Postgres', await measure(pg, smoke)));
          } finally {
            await pg.close();
          }
        } finally {
          await schema.drop();
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return {
      markdown: [
        `One request at a time (sequential fetch, keep-alive) through the real service, median of 5 rounds; ${smoke ? 60 : 2000} stored ` +
          'traces of 4–40 spans (~400-char model payloads). "Parse + serialise" is `get`/`list` + `JSON.stringify` of what the route ' +
          'sends, timed in the same process; its share of the request is the most any cheaper serialisation could save.',
        '',
        table(['backend', 'request', 'body', 'request time', 'parse + serialise (share)', 'spliced stored JSON'], out),
        ...(process.env.AGENTEX_TEST_DATABASE_URL ? [] : ['', '_Postgres cases skipped: AGENTEX_TEST_DATABASE_URL is not set._']),
      ].join('\n'),
    };
  },
};

export default suite;
