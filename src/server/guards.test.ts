import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteTraceStore } from '../store/SqliteTraceStore.js';
import type { TraceStore } from '../store/TraceStore.js';
import { createApp } from './app.js';
import { createMetrics } from './metrics.js';

const API = 'r'.repeat(24);
const ADMIN = 'w'.repeat(24);

describe('route guards', () => {
  let dir: string;
  let store: TraceStore;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-guards-'));
    store = createSqliteTraceStore({ path: path.join(dir, 't.db'), purgeIntervalMs: 0 });
  });
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const build = (adminRateLimit: number) =>
    createApp({
      config: { rateLimit: 1000, adminRateLimit, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 1000, corsOrigins: '' },
      tokens: { api: API, admin: ADMIN },
      logger: pino({ level: 'silent' }),
      store,
      circuits: { list: () => [], reset: () => true },
      ingest: () => Promise.resolve({ ok: true, acceptedSpans: 0, rejectedSpans: 0, errorMessage: '' }),
      metrics: createMetrics(
        {
          circuits: () => [],
          tracePipeline: () => ({ stored: 0, sampledOut: 0, dropped: 0, lost: 0 }),
          cache: () => ({ hits: 0, misses: 0, evictions: 0 }),
          storeUp: () => true,
          storeCounters: () => store.counters(),
          ready: () => false,
        },
        { defaultMetrics: false },
      ),
      // Not ready: the dashboard's circuit stream ends at once instead of streaming.
      isReady: () => false,
    });

  const call = async (app: ReturnType<typeof build>, method: string, p: string, token: string) => {
    const res = await app.request(p, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, ...(method === 'GET' || method === 'HEAD' ? {} : { body: '{}' }) });
    await res.arrayBuffer();
    return res.status;
  };

  it('gives every route that needs the admin token the admin rate limit (found from the app, not from a list)', async () => {
    const probe = build(1000);
    const routes = [...new Map(probe.routes.filter((r) => r.method !== 'ALL').map((r) => [`${r.method} ${r.path}`, r])).values()];
    const admin: string[] = [];
    for (const r of routes) {
      const p = r.path.replace(/:\w+/g, 'x');
      if ((await call(probe, r.method, p, API)) === 401 && (await call(probe, r.method, p, ADMIN)) !== 401) admin.push(`${r.method} ${p}`);
    }
    expect(admin.sort()).toEqual(['DELETE /api/users/x/traces', 'POST /api/circuits/reset', 'POST /api/circuits/x/reset', 'POST /api/traces/purge']);
    for (const route of admin) {
      const [method, p] = route.split(' ') as [string, string];
      const app = build(2);
      const statuses = [];
      for (let i = 0; i < 3; i++) statuses.push(await call(app, method, p, ADMIN));
      expect(statuses.slice(0, 2), route).not.toContain(429);
      expect(statuses[2], route).toBe(429);
    }
  });

  it('keeps read routes on the API limit, apart from the admin limit', async () => {
    const app = build(1);
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push(await call(app, 'GET', '/api/circuits', API));
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
  });
});

describe('/metrics with AGENTEX_METRICS_TOKEN', () => {
  const metrics = createMetrics(
    {
      circuits: () => [],
      tracePipeline: () => ({ stored: 0, sampledOut: 0, dropped: 0, lost: 0 }),
      cache: () => ({ hits: 0, misses: 0, evictions: 0 }),
      storeUp: () => true,
      storeCounters: () => ({ tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 }),
      ready: () => true,
    },
    { defaultMetrics: false },
  );
  const app = (metricsToken?: string) =>
    createApp({
      config: { rateLimit: 10, adminRateLimit: 1, bodyLimitBytes: 1024, requestTimeoutMs: 1000, corsOrigins: '', metricsToken },
      tokens: { api: API, admin: ADMIN },
      logger: pino({ level: 'silent' }),
      store: {} as TraceStore,
      circuits: { list: () => [], reset: () => true },
      ingest: () => Promise.resolve({ ok: true, acceptedSpans: 0, rejectedSpans: 0, errorMessage: '' }),
      metrics,
      isReady: () => true,
    });

  it('is open when unset, and needs exactly that bearer token when set (not the API token)', async () => {
    expect((await app().request('/metrics')).status).toBe(200);
    const METRICS = 'm'.repeat(24);
    const guarded = app(METRICS);
    expect((await guarded.request('/metrics')).status).toBe(401);
    expect((await guarded.request('/metrics', { headers: { authorization: `Bearer ${API}` } })).status).toBe(401);
    expect((await guarded.request('/metrics', { headers: { authorization: `Bearer ${METRICS}x` } })).status).toBe(401);
    const ok = await guarded.request('/metrics', { headers: { authorization: `Bearer ${METRICS}` } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/agentex_ready 1/);
  });
});
