/**
 * Three `agentex serve` processes on one Postgres database and one Redis, with the Anthropic emulator: a user's
 * turns on different instances (in sequence and at once) all reach the model, erasure through one instance reaches
 * all, and the admin rate limit is one window for all instances. Then one process whose Redis is cut mid-run
 * through a TCP proxy: it keeps serving on local state, says so on /metrics, and rejoins when Redis is back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type EmulatorSet } from '../src/emulators/index.js';
import { startTcpProxy } from '../src/state/testing/tcpProxy.js';
import { serveInstance, type ServedInstance } from './support/serve.js';

const PG_URL = process.env.AGENTEX_TEST_DATABASE_URL;
const REDIS_URL = process.env.AGENTEX_TEST_REDIS_URL;
const API = `api-${'c'.repeat(30)}`;
const ADMIN = `admin-${'d'.repeat(30)}`;
if (!PG_URL || !REDIS_URL) console.warn('[skipped] three instances on Postgres and Redis: AGENTEX_TEST_DATABASE_URL / AGENTEX_TEST_REDIS_URL not set');

describe.skipIf(!PG_URL || !REDIS_URL)('three service processes sharing Postgres and Redis', () => {
  const dbName = `agentex_cl_${randomBytes(4).toString('hex')}`;
  let admin: pg.Client;
  let emu: EmulatorSet;
  let nodes: ServedInstance[] = [];

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(PG_URL!);
    url.pathname = `/${dbName}`;
    emu = await startEmulators();
    // A Redis database of its own (flushed after) so the shared rate-limit counters start at zero.
    const env = {
      ...emu.env,
      AGENTEX_DATABASE_URL: url.toString(),
      AGENTEX_REDIS_URL: `${REDIS_URL}/${7 + (process.pid % 8)}`,
      AGENTEX_API_TOKEN: API,
      AGENTEX_ADMIN_TOKEN: ADMIN,
      AGENTEX_ADMIN_RATE_LIMIT: '9',
    };
    nodes = await Promise.all([serveInstance(env), serveInstance(env), serveInstance(env)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await emu?.close();
    const r = new Redis(`${REDIS_URL}/${7 + (process.pid % 8)}`);
    await r.flushdb();
    await r.quit();
    await admin?.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin?.end();
  });

  const run = (node: ServedInstance, user: string, message: string) =>
    fetch(`${node.url}/api/agent/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message, user_id: user }),
    });

  it('keeps every turn of a user whose turns reach different instances, then erases it on all', async () => {
    const [a, b, c] = nodes as [ServedInstance, ServedInstance, ServedInstance];
    const user = `u-${randomBytes(3).toString('hex')}`;
    emu.anthropic.enqueue({ text: 'r1' }, { text: 'r2' });
    expect((await run(a, user, 'turn one')).status).toBe(200);
    expect((await run(b, user, 'turn two')).status).toBe(200);
    emu.anthropic.enqueue({ text: 'r3' }, { text: 'r4' }, { text: 'r5' });
    await Promise.all([run(a, user, 'turn three-a'), run(c, user, 'turn three-c')]).then((rs) => rs.forEach((r) => expect(r.status).toBe(200)));
    const seen = emu.anthropic.nextRequest();
    expect((await run(a, user, 'turn four')).status).toBe(200);
    const history = JSON.stringify(await seen);
    for (const t of ['turn one', 'turn two', 'turn three-a', 'turn three-c', 'r1', 'r2']) expect(history).toContain(t);

    const erased = await fetch(`${c.url}/api/users/${user}/traces`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(erased.status).toBe(200);
    emu.anthropic.enqueue({ text: 'fresh' });
    const next = emu.anthropic.nextRequest();
    expect((await run(a, user, 'after erasure')).status).toBe(200);
    const after = JSON.stringify(await next);
    expect(after).toContain('after erasure');
    expect(after).not.toContain('turn one');
  }, 120_000);

  it('counts one admin rate-limit window for all instances', async () => {
    const admins: Response[] = [];
    for (let i = 0; i < 12; i++) {
      admins.push(await fetch(`${nodes[i % 3]!.url}/api/circuits/none/reset`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}` } }));
    }
    const limited = admins.filter((r) => r.status === 429);
    // 9 per window across the three instances, not 27; the erasure above (an admin request) used one of them.
    expect(limited).toHaveLength(4);
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

describe.skipIf(!PG_URL || !REDIS_URL)('a service process whose Redis is cut mid-run', () => {
  it('degrades to local state and limits, says so on /metrics, and rejoins when Redis is back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentex-cut-'));
    const target = new URL(REDIS_URL!);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const emu = await startEmulators();
    const node = await serveInstance({
      ...emu.env,
      AGENTEX_REDIS_URL: `redis://127.0.0.1:${proxy.port}/${7 + (process.pid % 8)}`,
      AGENTEX_SQLITE_PATH: path.join(dir, 'cut.db'),
      AGENTEX_API_TOKEN: API,
      AGENTEX_ADMIN_TOKEN: ADMIN,
    });
    const shared = async () => {
      // A guarded request, so the rate limiter tries Redis (it learns of an outage or recovery by trying).
      await fetch(`${node.url}/api/circuits`, { headers: { authorization: `Bearer ${API}` } });
      const text = await (await fetch(`${node.url}/metrics`)).text();
      return text.split('\n').filter((l) => l.startsWith('agentex_shared_state_up{')).sort().join('\n');
    };
    try {
      const up = 'agentex_shared_state_up{part="rate_limits"} 1\nagentex_shared_state_up{part="state_invalidation"} 1';
      await expect.poll(shared, { timeout: 20_000, interval: 100 }).toBe(up);
      const user = `cut-${randomBytes(3).toString('hex')}`;
      const turn = (message: string) =>
        fetch(`${node.url}/api/agent/run`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' }, body: JSON.stringify({ message, user_id: user }) });
      emu.anthropic.enqueue({ text: 'a' });
      expect((await turn('before the cut')).status).toBe(200);
      proxy.cut();
      emu.anthropic.enqueue({ text: 'b' });
      expect((await turn('during the cut')).status).toBe(200);
      await expect.poll(shared, { timeout: 20_000, interval: 100 }).toContain('part="rate_limits"} 0');
      proxy.restore();
      await expect.poll(shared, { timeout: 20_000, interval: 100 }).toBe(up);
      emu.anthropic.enqueue({ text: 'c' });
      const seen = emu.anthropic.nextRequest();
      expect((await turn('after the cut')).status).toBe(200);
      expect(JSON.stringify(await seen)).toContain('before the cut');
    } finally {
      await node.stop();
      await emu.close();
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

