/* eslint-disable @typescript-eslint/no-unsafe-return -- JSON bodies of the API under test are read loosely */
/**
 * The dashboard's server side through a real service on 127.0.0.1 (no browser): page routes and their CSP, the
 * start-up token exchange, the session routes, cookie auth and its CSRF rule, the circuit stream, the overview and
 * trace-page routes, asset serving, and the page shown when the UI was never built.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CSRF_HEADER, cookieToken, requireRole } from '../../src/server/auth.js';
import { createDashboard, DASHBOARD_CSP, MAX_CIRCUIT_STREAMS, pipelineFromMetrics } from '../../src/server/dashboard.js';
import { ADMIN_TOKEN, API_TOKEN, startFixture, type Fixture } from './fixture.js';

let fx: Fixture;
let url: string;
const cookie = (token: string) => ({ cookie: `agentex_token=${encodeURIComponent(token)}` });

beforeAll(async () => {
  fx = await startFixture();
  url = fx.svc.url;
  await fx.run('What is a bulkhead?', { user: 'u1', agent: 'research' });
  await fx.run('fail now', { user: 'u2', agent: 'research' });
  await fx.flush();
}, 60_000);
afterAll(async () => fx?.close());

describe('pages', () => {
  it('serves the app on every view path with a strict CSP and no inline script', async () => {
    for (const p of ['/', '/circuits', '/traces', '/traces/abc', '/signin']) {
      const res = await fetch(`${url}${p}`);
      expect(res.status, p).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(res.headers.get('cache-control')).toBe('no-cache');
      const html = await res.text();
      expect(html).toMatch(/<script type="module" src="\/assets\/app-[A-Z0-9]+\.js"><\/script>/);
      expect(html).not.toMatch(/<script>|<style|style=/);
    }
    expect(DASHBOARD_CSP).not.toContain('unsafe');
    expect((await fetch(`${url}/nope`)).status).toBe(404);
  });

  it('serves hashed assets gzipped and immutable, and 404s unknown ones', async () => {
    const html = await (await fetch(`${url}/`)).text();
    const js = /src="(\/assets\/[^"]+)"/.exec(html)![1]!;
    const res = await fetch(`${url}${js}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-encoding')).toBe('gzip');
    expect(res.headers.get('content-type')).toContain('text/javascript');
    expect(res.headers.get('cache-control')).toContain('immutable');
    expect((await res.text()).length).toBeGreaterThan(1000);
    expect((await fetch(`${url}/assets/favicon.svg`)).headers.get('content-type')).toBe('image/svg+xml');
    expect((await fetch(`${url}/assets/missing.js`)).status).toBe(404);
  });

  it('swaps a valid ?token= for an HttpOnly SameSite=Strict cookie and redirects without it', async () => {
    const res = await fetch(`${url}/traces?status=error&token=${API_TOKEN}`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/traces?status=error');
    expect(res.headers.get('set-cookie')).toBe(`agentex_token=${API_TOKEN}; Path=/; HttpOnly; SameSite=Strict`);
    const https = await fetch(`${url}/?token=${ADMIN_TOKEN}`, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https' } });
    expect(https.headers.get('set-cookie')).toContain('; Secure');
  });

  it('sets no cookie for a wrong ?token= and sends the page to the sign-in form', async () => {
    const res = await fetch(`${url}/circuits?token=wrong`, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/circuits?signin=invalid');
    expect(res.headers.get('set-cookie')).toBeNull();
  });

  it('explains how to build the UI when it was never built', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentex-noui-'));
    try {
      const app = new Hono().route('/', createDashboard({ tokens: { api: API_TOKEN, admin: ADMIN_TOKEN } } as never, { assetsDir: dir }));
      const res = await app.request('/');
      expect(res.status).toBe(503);
      expect(res.headers.get('content-security-policy')).toBe(DASHBOARD_CSP);
      expect(await res.text()).toContain('npm run build:ui');
      expect((await app.request('/assets/app.js')).status).toBe(404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('session and cookie auth', () => {
  it('reports the role of the cookie, or not signed in, without a 401', async () => {
    expect(await (await fetch(`${url}/api/session`)).json()).toEqual({ authenticated: false });
    expect(await (await fetch(`${url}/api/session`, { headers: cookie('wrong') })).json()).toEqual({ authenticated: false });
    expect(await (await fetch(`${url}/api/session`, { headers: cookie(API_TOKEN) })).json()).toEqual({ authenticated: true, role: 'read' });
    expect(await (await fetch(`${url}/api/session`, { headers: cookie(ADMIN_TOKEN) })).json()).toEqual({ authenticated: true, role: 'admin' });
  });

  it('signs in with a token in the body (CSRF header required), validates the body and signs out', async () => {
    const post = (body: string, headers: Record<string, string> = { [CSRF_HEADER]: '1' }) =>
      fetch(`${url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post(JSON.stringify({ token: API_TOKEN }), {})).status).toBe(403);
    expect((await post('not json')).status).toBe(400);
    const bad = await post(JSON.stringify({ token: 42 }));
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'token' });
    expect((await post(JSON.stringify({ token: 'x'.repeat(600) }))).status).toBe(400);
    const wrong = await post(JSON.stringify({ token: 'wrong' }));
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    const ok = await post(JSON.stringify({ token: ADMIN_TOKEN }));
    expect(await ok.json()).toEqual({ authenticated: true, role: 'admin' });
    expect(ok.headers.get('set-cookie')).toContain('HttpOnly; SameSite=Strict');
    expect((await fetch(`${url}/api/session`, { method: 'DELETE' })).status).toBe(403);
    const out = await fetch(`${url}/api/session`, { method: 'DELETE', headers: { [CSRF_HEADER]: '1' } });
    expect(out.headers.get('set-cookie')).toContain('agentex_token=; Max-Age=0');
  });

  it('lets the API accept the cookie; cookie writes need the CSRF header; the read cookie cannot reset', async () => {
    expect((await fetch(`${url}/api/traces`, { headers: cookie(API_TOKEN) })).status).toBe(200);
    expect((await fetch(`${url}/api/traces`, { headers: cookie('wrong') })).status).toBe(401);
    expect((await fetch(`${url}/api/circuits/reset`, { method: 'POST', headers: cookie(ADMIN_TOKEN) })).status).toBe(403);
    expect((await fetch(`${url}/api/circuits/reset`, { method: 'POST', headers: { ...cookie(API_TOKEN), [CSRF_HEADER]: '1' } })).status).toBe(401);
    expect((await fetch(`${url}/api/circuits/reset`, { method: 'POST', headers: { ...cookie(ADMIN_TOKEN), [CSRF_HEADER]: '1' } })).status).toBe(200);
    // Bearer clients are unchanged: no CSRF header needed.
    expect((await fetch(`${url}/api/circuits/reset`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status).toBe(200);
  });

  it('parses the cookie header defensively', () => {
    expect(cookieToken(undefined)).toBeNull();
    expect(cookieToken('a=1; agentex_token=abc%20d; b=2')).toBe('abc d');
    expect(cookieToken('agentex_token=')).toBeNull();
    expect(cookieToken('agentex_token=%E0%A4%A')).toBeNull();
    expect(cookieToken('other_agentex_token=x')).toBeNull();
  });

  it('prefers the Authorization header over the cookie', async () => {
    const app = new Hono().get('/r', requireRole('read', { api: API_TOKEN, admin: ADMIN_TOKEN }), (c) => c.text('ok'));
    expect((await app.request('/r', { headers: { authorization: 'Bearer wrong', ...cookie(API_TOKEN) } })).status).toBe(401);
  });
});

describe('circuit stream', () => {
  it('needs the read token', async () => {
    expect((await fetch(`${url}/api/circuits/stream`)).status).toBe(401);
  });

  it('sends the circuits at once and again when one changes', async () => {
    const ctl = new AbortController();
    const res = await fetch(`${url}/api/circuits/stream`, { headers: cookie(API_TOKEN), signal: ctl.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    const nextEvent = async () => {
      for (;;) {
        const end = buffer.indexOf('\n\n');
        if (end >= 0) {
          const raw = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (raw.startsWith(':')) continue;
          const data = raw.split('\n').find((l) => l.startsWith('data: '))!.slice(6);
          return JSON.parse(data) as { circuits: { name: string; state: string }[] };
        }
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    };
    const first = await nextEvent();
    expect(first.circuits.map((c) => c.name).sort()).toEqual(['exa', 'tavily']);
    fx.emu.exa.setHandler(() => ({ fault: 'status', status: 500 }) as never);
    for (let i = 0; i < 3; i++) await fx.run(`outage ${i}`, { agent: 'research' });
    fx.emu.exa.setHandler(undefined);
    let event = await nextEvent();
    while (event.circuits.find((c) => c.name === 'exa')?.state !== 'open') event = await nextEvent();
    expect(event.circuits.find((c) => c.name === 'exa')).toMatchObject({ state: 'open', lastError: expect.stringContaining('500') });
    fx.svc.circuits.reset('exa');
    event = await nextEvent();
    expect(event.circuits.find((c) => c.name === 'exa')?.state).toBe('closed');
    ctl.abort();
  });
});

describe('circuit stream bounds', () => {
  it('refuses streams beyond the bound and ends every stream when the service stops being ready', async () => {
    let ready = true;
    const dash = createDashboard({ tokens: { api: API_TOKEN, admin: ADMIN_TOKEN }, circuits: { list: () => [], reset: () => true }, isReady: () => ready } as never);
    const app = new Hono().route('/', dash);
    const open = await Promise.all(Array.from({ length: MAX_CIRCUIT_STREAMS }, async () => app.request('/api/circuits/stream', { headers: cookie(API_TOKEN) })));
    expect(open.every((r) => r.status === 200)).toBe(true);
    const extra = await app.request('/api/circuits/stream', { headers: cookie(API_TOKEN) });
    expect(extra.status).toBe(503);
    expect(extra.headers.get('retry-after')).toBe('5');
    expect(dash.dashboardStats()).toEqual({ streamsActive: MAX_CIRCUIT_STREAMS, streamsRejected: 1 });
    ready = false;
    await Promise.all(open.map((r) => r.text()));
    expect(dash.dashboardStats().streamsActive).toBe(0);
  });
});

describe('overview and trace page', () => {
  it('aggregates runs by status per bucket with percentiles, open circuits and the pipeline', async () => {
    const until = Date.now() + 1000;
    const res = await fetch(`${url}/api/dashboard/overview?since=${until - 15 * 60_000}&until=${until}`, { headers: cookie(API_TOKEN) });
    const body = (await res.json());
    expect(body.totals.byStatus.success).toBeGreaterThanOrEqual(1);
    expect(body.totals.byStatus.error).toBe(1);
    expect(body.series).toHaveLength(30);
    expect(body.bucketMs).toBe(30_000);
    const sum = body.series.reduce((s: number, b: any) => s + b.total, 0);
    expect(sum).toBe(body.totals.total);
    expect(body.series.some((b: any) => b.p95DurationMs > 0)).toBe(true);
    expect(body.circuits.total).toBe(2);
    expect(body.pipeline.stored).toBeGreaterThanOrEqual(body.totals.total);
  });

  it('rejects bad ranges naming the field', async () => {
    const get = async (q: string) => {
      const res = await fetch(`${url}/api/dashboard/overview${q}`, { headers: cookie(API_TOKEN) });
      return { status: res.status, body: (await res.json()) };
    };
    expect(await get('?since=yesterday')).toMatchObject({ status: 400, body: { field: 'since' } });
    expect(await get('?until=soon')).toMatchObject({ status: 400, body: { field: 'until' } });
    expect(await get('?since=2000&until=1000')).toMatchObject({ status: 400, body: { field: 'since' } });
    expect((await fetch(`${url}/api/dashboard/overview`)).status).toBe(401);
  });

  it('pages traces with tool counts and validates the limit and filters', async () => {
    const res = await fetch(`${url}/api/dashboard/traces?limit=1&agent=research`, { headers: cookie(API_TOKEN) });
    const page = (await res.json());
    expect(page.traces).toHaveLength(1);
    expect(page.nextCursor).toEqual(expect.any(String));
    expect(typeof page.traces[0].toolCount).toBe('number');
    const next = (await (await fetch(`${url}/api/dashboard/traces?limit=50&agent=research&cursor=${encodeURIComponent(page.nextCursor)}`, { headers: cookie(API_TOKEN) })).json());
    expect(next.traces.map((t: any) => t.traceId)).not.toContain(page.traces[0].traceId);
    const ok = (await (await fetch(`${url}/api/dashboard/traces?status=success&user_id=u1`, { headers: cookie(API_TOKEN) })).json());
    expect(ok.traces.map((t: any) => [t.userId, t.status, t.toolCount])).toEqual([['u1', 'success', 1]]);
    expect((await fetch(`${url}/api/dashboard/traces?limit=51`, { headers: cookie(API_TOKEN) })).status).toBe(400);
    expect((await fetch(`${url}/api/dashboard/traces?limit=x`, { headers: cookie(API_TOKEN) })).status).toBe(400);
    const badStatus = await fetch(`${url}/api/dashboard/traces?status=weird`, { headers: cookie(API_TOKEN) });
    expect(badStatus.status).toBe(400);
  });

  it('reads the pipeline counters from the metrics exposition', () => {
    const text = ['# HELP agentex_traces_total x', 'agentex_traces_total{outcome="stored"} 12', 'agentex_traces_total{outcome="sampled_out"} 3', 'agentex_traces_total{outcome="dropped"} 1e0'].join('\n');
    expect(pipelineFromMetrics(text)).toEqual({ stored: 12, sampledOut: 3, dropped: 1, lost: 0, ingested: 0 });
    expect(pipelineFromMetrics('')).toBeNull();
    // Traces assembled from OTLP ingest count too (merged late spans and lost claims are not new traces).
    const ingest = ['agentex_ingest_traces_total{result="stored"} 5', 'agentex_ingest_traces_total{result="stored_partial"} 1', 'agentex_ingest_traces_total{result="merged"} 2', 'agentex_ingest_traces_total{result="sampled_out"} 4'];
    expect(pipelineFromMetrics([text, ...ingest].join('\n'))).toEqual({ stored: 17, sampledOut: 7, dropped: 1, lost: 0, ingested: 5 });
    expect(pipelineFromMetrics(ingest.join('\n'))).toEqual({ stored: 5, sampledOut: 4, dropped: 0, lost: 0, ingested: 5 });
  });
});
