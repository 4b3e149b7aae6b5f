/**
 * Every time parameter of the read routes against the real service in a child process (`agentex serve`, temp SQLite,
 * a small heap so a runaway loop dies fast instead of eating the machine): each request is answered 200 or a 400
 * naming the field, and the service still answers `/health` afterwards. Issue #16.1: a range near 1e20 made the
 * overview's bucket loop stand still (`since + 1000 === since`) until the process died.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_TIME_MS } from '../src/store/query.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const API = `api-${'t'.repeat(30)}`;
const auth = { authorization: `Bearer ${API}` };

let dir: string;
let child: ChildProcess;
let url: string;
let stderr = '';

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'agentex-time-'));
  url = await new Promise<string>((resolve, reject) => {
    child = spawn(process.execPath, ['--max-old-space-size=192', TSX, path.join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', '--sqlite-path', path.join(dir, 't.db')], {
      env: { ...process.env, AGENTEX_API_TOKEN: API, AGENTEX_LOG_LEVEL: 'silent', AGENTEX_RATE_LIMIT: '1000000', AGENTEX_SHUTDOWN_GRACE_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
  });
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.on('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

/** One request with a deadline, so a service that stopped answering fails the test instead of hanging it. */
async function get(pathAndQuery: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${url}${pathAndQuery}`, { headers: auth, signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: await res.json() };
}

async function expectAlive(): Promise<void> {
  const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(15_000) });
  expect(res.status).toBe(200);
  await res.body?.cancel();
}

const query = (params: Record<string, string | undefined>) => {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, v);
  return `?${q.toString()}`;
};

describe('time parameters (#16.1)', () => {
  it('answers the request from the issue with 400 naming the field, and keeps serving', async () => {
    const res = await get('/api/dashboard/overview?since=100000000000000000000&until=100000000000000016384');
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: 'invalid_request', field: 'until' });
    expect(res.body.message).toContain('9999-12-31');
    await expectAlive();
  }, 30_000);

  it('accepts the widest range the store allows, with a bounded number of buckets', async () => {
    const overview = await get(`/api/dashboard/overview${query({ since: '0', until: String(MAX_TIME_MS) })}`);
    expect(overview.status).toBe(200);
    expect(overview.body.series.length).toBeLessThanOrEqual(30);
    expect(overview.body.series.at(-1).start).toBeLessThan(MAX_TIME_MS);
    const stats = await get(`/api/stats${query({ since: '1970-01-01T00:00:00Z', until: '9999-12-31T23:59:59.999Z' })}`);
    expect(stats.status).toBe(200);
    expect(stats.body.series.length).toBeLessThanOrEqual(60);
    expect((await get(`/api/stats${query({ since: '0', until: String(MAX_TIME_MS + 1) })}`)).body).toMatchObject({ field: 'until' });
    expect((await get(`/api/traces${query({ since: '1e20' })}`)).body).toMatchObject({ field: 'since' });
    expect((await get(`/api/traces${query({ since: String(Date.now() - 1000) })}`)).status).toBe(200);
    await expectAlive();
  }, 30_000);

  // Times as a client could send them: epoch digits of any length, exponents, ISO strings with any year, offset or
  // fraction, negatives, junk — and the edges of the accepted range.
  const digits = fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String);
  const edge = fc.constantFrom('0', '1', String(MAX_TIME_MS), String(MAX_TIME_MS + 1), '9007199254740993', '-1', '1e20', '1e3', 'Infinity', 'NaN', '', ' 1', '0x10', '٣');
  const iso = fc
    .tuple(
      fc.integer({ min: 0, max: 99_999 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.option(fc.tuple(fc.integer({ min: 0, max: 25 }), fc.integer({ min: 0, max: 61 }), fc.constantFrom('Z', '+14:00', '-23:59', '.999Z', ''))),
    )
    .map(([y, m, d, t]) => {
      const p = (n: number, w = 2) => String(n).padStart(w, '0');
      return `${p(y, 4)}-${p(m)}-${p(d)}${t ? `T${p(t[0])}:${p(t[1])}:00${t[2]}` : ''}`;
    });
  const valid = fc.oneof(
    fc.integer({ min: 0, max: MAX_TIME_MS }).map(String),
    fc.date({ min: new Date(0), max: new Date(MAX_TIME_MS), noInvalidDate: true }).map((d) => d.toISOString()),
  );
  const time = fc.oneof(valid, valid, digits, edge, iso, fc.string({ maxLength: 24 }));
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const bucket = fc.oneof(digits, edge, fc.integer({ min: -5, max: 5000 }).map(String));

  const routes: { name: string; path: string; fields: string[]; args: fc.Arbitrary<Record<string, string | undefined>> }[] = [
    { name: 'overview', path: '/api/dashboard/overview', fields: ['since', 'until'], args: fc.record({ since: maybe(time), until: maybe(time) }) },
    { name: 'stats', path: '/api/stats', fields: ['since', 'until', 'bucket_ms'], args: fc.record({ since: maybe(time), until: maybe(time), bucket_ms: maybe(bucket) }) },
    { name: 'traces', path: '/api/traces', fields: ['since', 'until'], args: fc.record({ since: maybe(time), until: maybe(time) }) },
    { name: 'dashboard traces', path: '/api/dashboard/traces', fields: ['since', 'until'], args: fc.record({ since: maybe(time), until: maybe(time) }) },
  ];

  for (const route of routes) {
    it(`${route.name}: every time parameter gets 200 or a 400 naming it, and /health still answers`, async () => {
      await fc.assert(
        fc.asyncProperty(route.args, async (params) => {
          const res = await get(`${route.path}${query(params)}`);
          expect([200, 400]).toContain(res.status);
          if (res.status === 400) {
            expect(route.fields).toContain(res.body.field);
            expect(typeof res.body.message).toBe('string');
          }
          await expectAlive();
        }),
        { numRuns: 120 },
      );
    }, 120_000);
  }
});
