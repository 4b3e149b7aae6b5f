import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { REDIS_URL, reportSkipped } from '../common/persistence/testing/postgres.js';
import { createRunLimits, RUN_RETRY_AFTER_SECONDS } from './runLimits.js';
import { createSharedRateLimits } from './sharedRateLimit.js';

/** A run that finishes when told to. */
function gated() {
  let open!: () => void;
  const done = new Promise<void>((resolve) => (open = resolve));
  return { run: async () => done.then(() => 'ran'), open };
}

describe('run limits', () => {
  it('refuses beyond the per-user and the instance cap at once, counts, and frees slots as runs end', async () => {
    const limits = createRunLimits({ maxConcurrent: 3, maxPerUser: 2 });
    const g = gated();
    const running = [limits.run('u1', g.run), limits.run('u1', g.run), limits.run(7, g.run)];
    expect(await limits.run('u1', g.run)).toEqual({ ok: false, reason: 'user', retryAfterSeconds: RUN_RETRY_AFTER_SECONDS });
    expect(await limits.run('u2', g.run)).toEqual({ ok: false, reason: 'instance', retryAfterSeconds: RUN_RETRY_AFTER_SECONDS });
    expect(limits.stats()).toMatchObject({ running: 3, users: 2, rejected: { instance: 1, user: 1 } });
    g.open();
    expect(await Promise.all(running)).toEqual([{ ok: true, value: 'ran' }, { ok: true, value: 'ran' }, { ok: true, value: 'ran' }]);
    expect(limits.stats()).toMatchObject({ running: 0, users: 0 });
    await expect(limits.run('u1', () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(limits.stats().users).toBe(0);
  });
});

if (!REDIS_URL) reportSkipped('shared rate limits (src/server/runLimits.test.ts)', 'AGENTEX_TEST_REDIS_URL');
describe.skipIf(!REDIS_URL)('shared rate limits on Redis', () => {
  const prefix = `agentex-test:rl:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    const r = new Redis(REDIS_URL!);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  });

  it('counts one window for all instances, atomically, and answers undefined when Redis is unreachable', async () => {
    const quiet = { warn: () => undefined };
    const a = await createSharedRateLimits({ url: REDIS_URL!, keyPrefix: prefix, logger: quiet, commandTimeoutMs: 2000 });
    const b = await createSharedRateLimits({ url: REDIS_URL!, keyPrefix: prefix, logger: quiet, commandTimeoutMs: 2000 });
    await expect.poll(async () => (await a.hit('probe', 'x', 1000, 60_000)) !== undefined, { timeout: 5000 }).toBe(true);
    await expect.poll(async () => (await b.hit('probe', 'x', 1000, 60_000)) !== undefined, { timeout: 5000 }).toBe(true);
    const decisions = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).hit('read', 'client-1', 12, 60_000)));
    expect(decisions.filter((d) => d?.allowed)).toHaveLength(12);
    expect(decisions.every((d) => d!.retryAfterSeconds >= 1 && d!.retryAfterSeconds <= 60)).toBe(true);
    expect((await a.hit('read', 'client-2', 12, 60_000))?.allowed).toBe(true);
    await Promise.all([a.close(), b.close()]);
    const dead = await createSharedRateLimits({ url: 'redis://127.0.0.1:1', keyPrefix: prefix, logger: quiet });
    expect(await dead.hit('read', 'k', 1, 60_000)).toBeUndefined();
    expect(dead.stats()).toEqual({ degraded: true, errors: 1 });
    await dead.close();
  });
});
