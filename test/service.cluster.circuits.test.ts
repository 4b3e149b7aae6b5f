/**
 * Three `agentex serve` processes sharing circuit state, with an Exa emulator that goes down: the circuit opened by
 * failures through instance A is open on B and C, a reset through B closes it on A and C, and `/health` says the
 * circuit state is shared. Once through Redis (with a Postgres database for the rest), once on Postgres alone. Then one
 * process whose Redis goes through a TCP proxy that is cut: circuits fall back to local state (/health, /metrics) and
 * share again once it is restored, and an erasure during the cut answers 503 `erasure_incomplete` with Retry-After.
 * Everything is learnt by polling the instances with generous bounds, never by a fixed sleep.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faults, startEmulators, type EmulatorSet } from '../src/emulators/index.js';
import { startTcpProxy, type TcpProxy } from '../src/state/testing/tcpProxy.js';
import { serveInstance, type ServedInstance } from './support/serve.js';

const PG_URL = process.env.AGENTEX_TEST_DATABASE_URL;
const REDIS_URL = process.env.AGENTEX_TEST_REDIS_URL;
const API = `api-${'e'.repeat(30)}`;
const ADMIN = `admin-${'f'.repeat(30)}`;
/** Propagation must take well under a second; the bound is generous for a loaded machine, and below the 30 s cooldown. */
const POLL = { timeout: 15_000, interval: 50 };
if (!PG_URL) console.warn('[skipped] shared circuits across instances: AGENTEX_TEST_DATABASE_URL not set');
if (PG_URL && !REDIS_URL) console.warn('[skipped] shared circuits through Redis: AGENTEX_TEST_REDIS_URL not set');

interface CircuitListing {
  circuits: { name: string; state: string }[];
}

async function exaState(node: ServedInstance): Promise<string | undefined> {
  const res = await fetch(`${node.url}/api/circuits`, { headers: { authorization: `Bearer ${API}` } });
  if (res.status !== 200) return `HTTP ${res.status}`;
  return ((await res.json()) as CircuitListing).circuits.find((c) => c.name === 'exa')?.state;
}

async function circuitState(node: ServedInstance): Promise<unknown> {
  const res = await fetch(`${node.url}/health`);
  return ((await res.json()) as { circuitState?: string }).circuitState;
}

/** Three instances on a database of their own (and, with `redis`, a key prefix of their own on the test Redis). */
function cluster(redis: boolean) {
  const dbName = `agentex_cc_${randomBytes(4).toString('hex')}`;
  const keyPrefix = `agentex:test:${dbName}:circuits:`;
  const ctx: { admin?: pg.Client; emu?: EmulatorSet; nodes: ServedInstance[] } = { nodes: [] };

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: PG_URL });
    ctx.admin = admin;
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(PG_URL!);
    url.pathname = `/${dbName}`;
    ctx.emu = await startEmulators();
    const env: Record<string, string> = {
      ...ctx.emu.env,
      AGENTEX_DATABASE_URL: url.toString(),
      AGENTEX_API_TOKEN: API,
      AGENTEX_ADMIN_TOKEN: ADMIN,
      ...(redis ? { AGENTEX_REDIS_URL: REDIS_URL!, AGENTEX_CIRCUIT_KEY_PREFIX: keyPrefix } : {}),
    };
    ctx.nodes = await Promise.all([serveInstance(env), serveInstance(env), serveInstance(env)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(ctx.nodes.map((n) => n.stop()));
    await ctx.emu?.close();
    if (redis) {
      const r = new Redis(REDIS_URL!);
      const keys = await r.keys(`${keyPrefix}*`);
      if (keys.length > 0) await r.del(...keys);
      await r.quit();
    }
    await ctx.admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await ctx.admin?.end();
  }, 60_000);

  return ctx;
}

/** One agent run through `node` whose model asks for `n` parallel `web_search` calls (distinct queries: no cache hits). */
async function searchThrough(emu: EmulatorSet, node: ServedInstance, n: number): Promise<void> {
  const tag = randomBytes(3).toString('hex');
  emu.anthropic.enqueue(
    { toolCalls: Array.from({ length: n }, (_, i) => ({ name: 'web_search', input: { query: `outage ${tag} ${i}` } })) },
    { text: 'searched' },
  );
  const res = await fetch(`${node.url}/api/agent/run`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
    body: JSON.stringify({ message: 'search the web', user_id: `u-${tag}` }),
  });
  expect(res.status, node.output().slice(-2000)).toBe(200);
}

async function outageResetScenario(ctx: ReturnType<typeof cluster>): Promise<void> {
  const emu = ctx.emu!;
  const [a, b, c] = ctx.nodes as [ServedInstance, ServedInstance, ServedInstance];
  for (const node of ctx.nodes) await expect.poll(() => circuitState(node), POLL).toBe('shared');
  for (const node of ctx.nodes) expect(await exaState(node)).toBe('closed');

  // Exa goes down; three failing searches through A (threshold 3) open its circuit. Tavily, the fallback, answers.
  emu.exa.setHandler(() => faults.status(503, 'Exa is down'));
  await searchThrough(emu, a, 3);
  expect(emu.exa.requestCount).toBeGreaterThanOrEqual(3);
  await expect.poll(() => exaState(a), POLL).toBe('open');
  // B and C never called Exa, yet they know it is down, and B does not call the dead provider.
  await expect.poll(() => exaState(b), POLL).toBe('open');
  await expect.poll(() => exaState(c), POLL).toBe('open');
  const calls = emu.exa.requestCount;
  await searchThrough(emu, b, 2);
  expect(emu.exa.requestCount).toBe(calls);
  expect(emu.tavily.requestCount).toBeGreaterThanOrEqual(5);

  emu.exa.setHandler(undefined);
  const reset = await fetch(`${b.url}/api/circuits/exa/reset`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } });
  expect(reset.status).toBe(200);
  await expect.poll(() => exaState(b), POLL).toBe('closed');
  await expect.poll(() => exaState(a), POLL).toBe('closed');
  await expect.poll(() => exaState(c), POLL).toBe('closed');
  for (const node of ctx.nodes) expect(await circuitState(node)).toBe('shared');
}

describe.skipIf(!PG_URL || !REDIS_URL)('three service processes sharing circuit state through Redis', () => {
  const ctx = cluster(true);
  it('opens on every instance when Exa fails through one, and a reset through another closes it on all', () => outageResetScenario(ctx), 120_000);
});

describe.skipIf(!PG_URL)('three service processes sharing circuit state on Postgres alone', () => {
  const ctx = cluster(false);
  it('opens on every instance when Exa fails through one, and a reset through another closes it on all', () => outageResetScenario(ctx), 120_000);
});

describe.skipIf(!REDIS_URL)('a service process whose Redis is cut through a TCP proxy', () => {
  const keyPrefix = `agentex:test:cut-${randomBytes(4).toString('hex')}:circuits:`;
  let dir: string;
  let proxy: TcpProxy;
  let emu: EmulatorSet;
  let node: ServedInstance;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-cc-cut-'));
    const target = new URL(REDIS_URL!);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    emu = await startEmulators();
    node = await serveInstance({
      ...emu.env,
      AGENTEX_REDIS_URL: `redis://127.0.0.1:${proxy.port}/${7 + (process.pid % 8)}`,
      AGENTEX_CIRCUIT_KEY_PREFIX: keyPrefix,
      AGENTEX_SQLITE_PATH: path.join(dir, 'cut.db'),
      AGENTEX_API_TOKEN: API,
      AGENTEX_ADMIN_TOKEN: ADMIN,
    });
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await emu?.close();
    await proxy?.close();
    const r = new Redis(`${REDIS_URL}/${7 + (process.pid % 8)}`);
    const keys = await r.keys(`${keyPrefix}*`);
    if (keys.length > 0) await r.del(...keys);
    await r.quit();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const sharedGauge = async () =>
    (await (await fetch(`${node.url}/metrics`)).text()).split('\n').find((l) => l.startsWith('agentex_circuit_state_shared'));
  const erase = (user: string) => fetch(`${node.url}/api/users/${user}/traces`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });

  it('falls back to local circuit state while Redis is cut, says so on /health and /metrics, and shares again after', async () => {
    await expect.poll(() => circuitState(node), POLL).toBe('shared');
    expect(await sharedGauge()).toBe('agentex_circuit_state_shared 1');
    proxy.cut();
    try {
      await expect.poll(() => circuitState(node), { timeout: 30_000, interval: 100 }).toBe('local_fallback');
      await expect.poll(sharedGauge, { timeout: 30_000, interval: 100 }).toBe('agentex_circuit_state_shared 0');
      const health = (await (await fetch(`${node.url}/health`)).json()) as { status: string };
      expect(health.status).toBe('degraded');
    } finally {
      proxy.restore();
    }
    await expect.poll(() => circuitState(node), { timeout: 30_000, interval: 100 }).toBe('shared');
    await expect.poll(sharedGauge, { timeout: 30_000, interval: 100 }).toBe('agentex_circuit_state_shared 1');
  }, 120_000);

  it('answers 503 erasure_incomplete with Retry-After when the shared state is cut, and 200 once it is back', async () => {
    const user = `cut-${randomBytes(3).toString('hex')}`;
    emu.anthropic.enqueue({ text: 'remember me' });
    const run = await fetch(`${node.url}/api/agent/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'hello', user_id: user }),
    });
    expect(run.status, node.output().slice(-2000)).toBe(200);
    await expect.poll(() => circuitState(node), POLL).toBe('shared');
    proxy.cut();
    try {
      await expect.poll(() => circuitState(node), { timeout: 30_000, interval: 100 }).toBe('local_fallback');
      const res = await erase(user);
      expect(res.status).toBe(503);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const body = (await res.json()) as { error: string; message: string };
      expect(body.error).toBe('erasure_incomplete');
      expect(body.message).toMatch(/^Deleted \d+ traces/);
    } finally {
      proxy.restore();
    }
    await expect.poll(() => circuitState(node), { timeout: 30_000, interval: 100 }).toBe('shared');
    await expect.poll(async () => (await erase(user)).status, { timeout: 30_000, interval: 200 }).toBe(200);
  }, 120_000);
});
