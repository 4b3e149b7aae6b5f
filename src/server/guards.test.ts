import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteTraceStore } from '../store/SqliteTraceStore.js';
import type { TraceStore } from '../store/TraceStore.js';
import { createApp } from './app.js';
import { listen } from './listen.js';
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

describe('rate limits per client, through a real server', () => {
  let dir: string;
  let store: TraceStore;
  let server: Server;
  let port: number;
  const agents: Agent[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-limits-'));
    store = createSqliteTraceStore({ path: path.join(dir, 't.db'), purgeIntervalMs: 0 });
    const app = createApp({
      config: { rateLimit: 600, adminRateLimit: 5, ingestRateLimit: 50, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 1000, corsOrigins: '' },
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
          ready: () => true,
        },
        { defaultMetrics: false },
      ),
      isReady: () => true,
    });
    server = await listen(app, { hostname: '127.0.0.1', port: 0 });
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    for (const a of agents) a.destroy();
    await new Promise((r) => server.close(r));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One client: its own loopback source address (Linux routes all of 127/8 to lo) over keep-alive connections. */
  const client = (localAddress: string) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    agents.push(agent);
    return (method: string, p: string, headers: Record<string, string>, body?: string) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path: p, method, headers, localAddress, agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        req.on('error', reject);
        req.end(body);
      });
  };
  const bearer = { authorization: `Bearer ${API}` };

  it('600 requests from one client lock out neither another client with the same token nor the dashboard', async () => {
    const busy = client('127.0.0.1');
    const statuses: number[] = [];
    for (let i = 0; i < 601; i++) statuses.push(await busy('GET', '/api/circuits', bearer));
    expect(statuses.slice(0, 600).every((s) => s === 200)).toBe(true);
    expect(statuses[600]).toBe(429);
    expect(await client('127.0.0.2')('GET', '/api/circuits', bearer)).toBe(200);
    // The dashboard in the same browser host: its cookie session is a client of its own.
    expect(await busy('GET', '/api/circuits', { cookie: `agentex_token=${API}` })).toBe(200);
    // Made-up tokens from the busy address count against that address, not a fresh bucket per token.
    const unauth = client('127.0.0.5');
    const refused: number[] = [];
    for (let i = 0; i < 601; i++) refused.push(await unauth('GET', '/api/circuits', { authorization: `Bearer made-up-${i}-${'z'.repeat(16)}` }));
    expect(refused.at(-1)).toBe(429);
  });

  it('ingest has its own limit: an ingest flood answers 429 on ingest only, never on the API', async () => {
    const exporter = client('127.0.0.3');
    const otlp = { ...bearer, 'content-type': 'application/json' };
    const statuses: number[] = [];
    for (let i = 0; i < 51; i++) statuses.push(await exporter('POST', '/v1/traces', otlp, '{"resourceSpans":[]}'));
    expect(statuses.slice(0, 50).every((s) => s === 200)).toBe(true);
    expect(statuses[50]).toBe(429);
    expect(await exporter('GET', '/api/circuits', bearer)).toBe(200);
    expect(await client('127.0.0.4')('POST', '/v1/traces', otlp, '{"resourceSpans":[]}')).toBe(200);
  });
});
