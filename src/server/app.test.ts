import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request as httpRequest, type Server } from 'node:http';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteTraceStore } from '../store/SqliteTraceStore.js';
import type { TraceStore } from '../store/TraceStore.js';
import { makeTrace } from '../store/testing/fixtures.js';
import type { TraceRecord } from '../trace/model.js';
import { createApp, type CircuitView } from './app.js';
import { listen, serverUrl } from './listen.js';
import { createMetrics } from './metrics.js';
import { CircuitListSchema, TracePageSchema, TraceSchema } from './schemas.js';

const API = 'a'.repeat(20) + '-api';
/** The security headers of every response (hono's `secureHeaders()` defaults). */
const SECURITY_HEADERS = [
  ['Cross-Origin-Resource-Policy', 'same-origin'],
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=15552000; includeSubDomains'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
] as const;
const ADMIN = 'b'.repeat(20) + '-admin';

describe('HTTP API through a real server on 127.0.0.1', () => {
  let dir: string;
  let store: TraceStore;
  let server: Server;
  let base: string;
  const view = (name: string, state: CircuitView['state']): CircuitView => ({
    name,
    state,
    policy: 'countWindow',
    counts: { calls: 3, successes: 1, failures: 2, timeouts: 0, rejections: 0, ignored: 0, slowCalls: 0 },
    consecutiveFailures: 2,
    window: { calls: 3, failures: 2, slow: 0 },
    cooldownRemainingMs: state === 'open' ? 1500 : 0,
    lastFailureAt: 1_700_000_000_123,
    lastSuccessAt: null,
    lastError: 'upstream said "no" \u2028 <b>',
    probesInFlight: 0,
    generation: 1,
    failureRate: 2 / 3,
    lastStateChangeAt: null,
  });
  const circuits: CircuitView[] = [view('exa', 'open'), view('tavily', 'closed')];
  let ingested: TraceRecord[] = [];
  const stored = [
    makeTrace({ userId: 'alice', agent: 'research', status: 'success', startedAt: Date.parse('2026-01-01T00:00:00Z') }),
    makeTrace({ userId: 'alice', agent: 'research', status: 'error', startedAt: Date.parse('2026-01-01T01:00:00Z') }),
    makeTrace({ userId: 42, agent: 'support', status: 'success', startedAt: Date.parse('2026-01-01T02:00:00Z') }),
  ];

  const call = (p: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token = API, ...rest } = init;
    const headers = new Headers(rest.headers);
    if (token) headers.set('authorization', `Bearer ${token}`);
    return fetch(`${base}${p}`, { ...rest, headers });
  };

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-app-'));
    store = createSqliteTraceStore({ path: path.join(dir, 't.db'), purgeIntervalMs: 0 });
    await store.put(stored);
    const metrics = createMetrics(
      {
        circuits: () => circuits.map((c) => ({ name: c.name, state: c.state, counts: { calls: 3, successes: 1, failures: 2, timeouts: 0, rejections: 0 } })),
        tracePipeline: () => ({ stored: 3, sampledOut: 1, dropped: 0, lost: 0 }),
        cache: () => ({ hits: 5, misses: 2, evictions: 0 }),
        storeUp: () => true,
        storeCounters: () => store.counters(),
        ready: () => true,
      },
      { defaultMetrics: false },
    );
    const app = createApp({
      config: { rateLimit: 1000, adminRateLimit: 5, bodyLimitBytes: 64 * 1024, requestTimeoutMs: 5000, corsOrigins: '' },
      tokens: { api: API, admin: ADMIN },
      logger: pino({ level: 'silent' }),
      store,
      circuits: {
        list: () => circuits,
        reset: (name) => {
          const targets = name === undefined ? circuits : circuits.filter((c) => c.name === name);
          for (const c of targets) c.state = 'closed';
          return targets.length > 0;
        },
      },
      ingest: (traces) => {
        ingested = traces;
        return Promise.resolve({ ok: true, acceptedSpans: traces.reduce((n, t) => n + t.spans.length, 0), rejectedSpans: 0, errorMessage: '' });
      },
      metrics,
      isReady: () => true,
    });
    server = await listen(app, { hostname: '127.0.0.1', port: 0 });
    base = serverUrl(server);
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves health (degraded while a circuit is open) and readiness without a token', async () => {
    const res = await call('/health', { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'degraded', circuits: { exa: 'open', tavily: 'closed' }, store: 'ok' });
    expect((await call('/ready', { token: null })).status).toBe(200);
  });

  it('requires a token for traces and answers 401 the same way for missing and wrong tokens', async () => {
    const missing = await call('/api/traces', { token: null });
    const wrong = await call('/api/traces', { token: 'wrong-token-of-some-length' });
    expect([missing.status, wrong.status]).toEqual([401, 401]);
    expect(await missing.json()).toEqual(await wrong.json());
  });

  it('lists traces newest first with filters and cursor pagination', async () => {
    const res1 = await call('/api/traces?user_id=alice&limit=1');
    expect(res1.headers.get('content-type')).toBe('application/json');
    const page1 = TracePageSchema.parse(await res1.json()); // the documented schema, field for field
    expect(page1.traces).toHaveLength(1);
    expect(page1.traces[0]?.spanCount).toBe(stored.find((t) => t.traceId === page1.traces[0]?.traceId)?.spans.length);
    expect(page1.traces[0]?.status).toBe('error');
    const page2 = (await (await call(`/api/traces?user_id=alice&limit=1&cursor=${encodeURIComponent(page1.nextCursor ?? '')}`)).json());
    expect(page2.traces[0].traceId).toBe(stored[0]!.traceId);
    const errors = (await (await call('/api/traces?status=error')).json());
    expect(errors.traces.map((t: TraceRecord) => t.traceId)).toEqual([stored[1]!.traceId]);
    const numeric = (await (await call('/api/traces?user_id=42')).json());
    expect(numeric.traces[0].userId).toBe(42);
  });

  it('answers 400 naming the invalid field', async () => {
    for (const [query, field] of [
      ['status=bogus', 'status'],
      ['limit=500', 'limit'],
      ['since=yesterday', 'since'],
      ['cursor=%25%25%25', 'cursor'],
    ] as const) {
      const res = await call(`/api/traces?${query}`);
      expect(res.status, query).toBe(400);
      expect(((await res.json())).field, query).toBe(field);
    }
    const badId = await call('/api/traces/not-a-trace-id');
    expect(badId.status).toBe(400);
  });

  it('gets one trace with its spans, 404 for an unknown id', async () => {
    const res = await call(`/api/traces/${stored[2]!.traceId}`);
    expect(res.headers.get('content-type')).toBe('application/json');
    const trace = TraceSchema.parse(await res.json()); // the documented schema
    expect(trace).toEqual(JSON.parse(JSON.stringify(stored[2]))); // the stored record, lossless
    expect((await call(`/api/traces/${'f'.repeat(32)}`)).status).toBe(404);
  });

  it('serves stats and a time series over a range', async () => {
    const res = await call('/api/stats?since=2026-01-01T00:00:00Z&until=2026-01-01T03:00:00Z&bucket_ms=3600000');
    const body = (await res.json());
    expect(body.stats.total).toBe(3);
    expect(body.stats.byStatus.error).toBe(1);
    expect(body.series).toHaveLength(3);
  });

  it('keeps resets and deletions for the admin token', async () => {
    expect((await call('/api/circuits/exa/reset', { method: 'POST' })).status).toBe(401);
    expect((await call('/api/circuits/nope/reset', { method: 'POST', token: ADMIN })).status).toBe(404);
    const reset = await call('/api/circuits/exa/reset', { method: 'POST', token: ADMIN });
    expect(await reset.json()).toEqual({ reset: 'exa' });
    expect(circuits[0]!.state).toBe('closed');
    const res = await call('/api/circuits');
    expect(res.headers.get('content-type')).toBe('application/json');
    const list = CircuitListSchema.parse(await res.json());
    expect(list.circuits.map((c) => c.state)).toEqual(['closed', 'closed']);
    expect(list).toEqual(JSON.parse(JSON.stringify({ circuits })));
    expect((await call('/api/users/alice/traces', { method: 'DELETE' })).status).toBe(401);
    const del = await call('/api/users/alice/traces', { method: 'DELETE', token: ADMIN });
    expect(await del.json()).toEqual({ deleted: 2 });
  });

  it('answers 503 naming the environment variables when no model provider is configured', async () => {
    const res = await call('/api/agent/run', { method: 'POST', body: JSON.stringify({ message: 'hi' }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(503);
    expect(((await res.json())).message).toMatch(/ANTHROPIC_API_KEY.*OPENAI_API_KEY/);
    const bad = await call('/api/agent/run', { method: 'POST', body: JSON.stringify({ message: '' }), headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect(((await bad.json())).field).toBe('message');
  });

  it('ingests OTLP JSON with partial success, refuses other media types and oversize bodies', async () => {
    const span = { traceId: 'ab'.repeat(16), spanId: 'cd'.repeat(8), name: 'chat m', startTimeUnixNano: '1700000000000000000', endTimeUnixNano: '1700000001000000000' };
    const res = await call('/v1/traces', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span, { ...span, spanId: 'zz' }] }] }] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ partialSuccess: { rejectedSpans: 1, errorMessage: expect.stringMatching(/spanId/) } });
    expect(ingested).toHaveLength(1);
    expect((await call('/v1/traces', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(415);
    expect((await call('/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{bad' })).status).toBe(400);
    const huge = await call('/v1/traces', { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(70 * 1024) });
    expect(huge.status).toBe(413);
    expect((await call('/v1/traces', { method: 'POST', token: null, headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401);
  });

  it('exposes Prometheus metrics including request counters', async () => {
    const text = await (await call('/metrics', { token: null })).text();
    expect(text).toMatch(/agentex_circuit_state\{circuit="tavily"\} 0/);
    expect(text).toMatch(/agentex_traces_total\{outcome="sampled_out"\} 1/);
    expect(text).toMatch(/agentex_http_requests_total\{method="GET",route="\/api\/traces",status="200"\} \d+/);
  });

  it('publishes an OpenAPI document with every route, and 404s unknown routes as JSON', async () => {
    const doc = (await (await call('/openapi.json', { token: null })).json());
    for (const p of ['/health', '/ready', '/metrics', '/v1/traces', '/api/traces', '/api/traces/{id}', '/api/stats', '/api/traces/purge', '/api/circuits', '/api/circuits/reset', '/api/circuits/{name}/reset', '/api/agent/run', '/api/users/{userId}/traces']) {
      expect(doc.paths[p], p).toBeDefined();
    }
    const res = await call('/nope', { token: null });
    expect(res.status).toBe(404);
    expect(((await res.json())).error).toBe('not_found');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('sends every security header exactly once and one X-Request-Id on every kind of response', async () => {
    /** Raw response headers (fetch would fold duplicates together). */
    const raw = (p: string, method = 'GET', headers: Record<string, string> = {}, body?: string) =>
      new Promise<{ status: number; headers: Map<string, string[]> }>((resolve, reject) => {
        const req = httpRequest(`${base}${p}`, { method, headers }, (res) => {
          const byName = new Map<string, string[]>();
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            const name = res.rawHeaders[i]!.toLowerCase();
            byName.set(name, [...(byName.get(name) ?? []), res.rawHeaders[i + 1]!]);
          }
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, headers: byName }));
        });
        req.on('error', reject);
        req.end(body);
      });
    const auth = { authorization: `Bearer ${API}` };
    const responses = [
      await raw('/api/circuits', 'GET', auth),
      await raw('/api/circuits'),
      await raw('/nope'),
      await raw('/health', 'HEAD'),
      await raw('/v1/traces', 'POST', { ...auth, 'content-type': 'application/json' }, 'x'.repeat(70 * 1024)),
      await raw('/', 'GET'),
    ];
    expect(responses.map((r) => r.status)).toEqual([200, 401, 404, 200, 413, expect.any(Number)]);
    for (const r of responses) {
      for (const [name, value] of SECURITY_HEADERS) expect(r.headers.get(name.toLowerCase()), name).toEqual([value]);
      expect(r.headers.get('x-request-id')).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    }
    // A well-formed request id from the client is kept; anything else is replaced.
    expect((await raw('/health', 'GET', { 'x-request-id': 'client-id-42_a=' })).headers.get('x-request-id')).toEqual(['client-id-42_a=']);
    const tooLong = (await raw('/health', 'GET', { 'x-request-id': 'a'.repeat(65) })).headers.get('x-request-id');
    expect(tooLong).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
    const replaced = (await raw('/health', 'GET', { 'x-request-id': 'not ok!' })).headers.get('x-request-id');
    expect(replaced).toEqual([expect.stringMatching(/^[0-9a-f-]{36}$/)]);
  });

  it('limits chunked bodies (no Content-Length) as they are read, and accepts them under the limit', async () => {
    const chunked = (chunks: string[]) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${base}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' } }, (res) => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        for (const c of chunks) req.write(c);
        req.end();
      });
    const small = JSON.stringify({ resourceSpans: [] });
    expect(await chunked([small.slice(0, 5), small.slice(5)])).toMatchObject({ status: 200 });
    const big = await chunked(Array.from({ length: 70 }, () => 'x'.repeat(1024)));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body)).toMatchObject({ error: 'payload_too_large' });
  });

  it('rate-limits admin routes with 429 and Retry-After', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 8; i++) last = await call('/api/circuits/reset', { method: 'POST', token: ADMIN });
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    // Requests the front answers itself are counted under the route they were for; unknown paths as "unmatched".
    await call('/no/such/route');
    const text = await (await call('/metrics', { token: null })).text();
    expect(text).toMatch(/agentex_http_requests_total\{method="POST",route="\/api\/circuits\/reset",status="429"\} \d+/);
    expect(text).toMatch(/agentex_http_requests_total\{method="GET",route="unmatched",status="404"\} \d+/);
  });

  it('never answers 5xx to garbage (property test)', async () => {
    const paths = ['/api/traces', '/api/traces/x', '/api/circuits/x/reset', '/api/agent/run', '/v1/traces', '/api/stats', '/api/users/x/traces'];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...paths),
        fc.constantFrom('GET', 'POST', 'DELETE', 'PUT'),
        fc.string({ maxLength: 40 }),
        fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 3 })),
        fc.constantFrom('application/json', 'application/x-protobuf', 'text/plain'),
        async (p, method, query, body, type) => {
          const res = await call(`${p}?q=${encodeURIComponent(query)}&limit=${encodeURIComponent(query)}&since=${encodeURIComponent(query)}`, {
            method,
            token: API,
            headers: { 'content-type': type },
            body: method === 'GET' ? undefined : body,
          });
          await res.arrayBuffer();
          expect(res.status, `${method} ${p} ${query}`).toBeLessThan(500);
        },
      ),
      { numRuns: 150 },
    );
  });
});
