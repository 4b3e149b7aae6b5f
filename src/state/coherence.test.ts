/**
 * Several state managers over one L2 (as several service instances): no lost conversation turn, also with appends at
 * once, and an instance's L1 copy dropped when another instance writes or erases (invalidation feed), on Postgres
 * (LISTEN/NOTIFY) and Redis (pub/sub).
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestSchema, PG_URL, REDIS_URL, reportSkipped, type TestSchema } from '../common/persistence/testing/postgres.js';
import { createL2Store } from './createL2Store.js';
import type { L2Store } from './L2Store.js';
import { createStateManager, type StateManager } from './StateManager.js';

const quiet = { warn: () => undefined };

/** Resolves once the manager listens to the invalidation feed. */
async function listening(state: StateManager): Promise<void> {
  await expect.poll(() => state.stats().invalidation.listening, { timeout: 10_000, interval: 10 }).toBe(true);
}

function coherenceSuite(open: () => Promise<L2Store>): void {
  let managers: StateManager[] = [];
  afterAll(async () => {
    await Promise.all(managers.map((m) => m.close()));
    managers = [];
  });
  const instance = async () => {
    const m = createStateManager({ l2: await open(), logger: quiet, purgeIntervalMs: 0 });
    managers.push(m);
    await listening(m);
    return m;
  };

  it('keeps every turn of a user whose turns reach different instances, in sequence and at once', async () => {
    const [a, b, c] = [await instance(), await instance(), await instance()];
    const user = `u-${randomBytes(4).toString('hex')}`;
    await a.conversations.append(user, { role: 'user', content: 't1' }, { role: 'assistant', content: 'r1' });
    await b.conversations.append(user, { role: 'user', content: 't2' }, { role: 'assistant', content: 'r2' });
    expect((await a.conversations.load(user)).map((m) => m.content)).toEqual(['t1', 'r1', 't2', 'r2']);
    await Promise.all(
      Array.from({ length: 12 }, (_, i) => [a, b, c][i % 3]!.conversations.append(user, { role: 'user', content: `c${i}` }, { role: 'assistant', content: `d${i}` })),
    );
    const all = (await c.conversations.load(user)).map((m) => m.content as string);
    expect(all).toHaveLength(4 + 24);
    for (let i = 0; i < 12; i++) expect(all.indexOf(`d${i}`)).toBe(all.indexOf(`c${i}`) + 1);
  });

  it("drops another instance's L1 copy when one instance writes, and erases a conversation for all", async () => {
    const [a, b] = [await instance(), await instance()];
    const key = `k-${randomBytes(4).toString('hex')}`;
    await a.set('sessions', key, { v: 1 });
    expect(await b.get('sessions', key)).toEqual({ v: 1 }); // now in b's L1
    const received = b.stats().invalidation.received;
    await a.set('sessions', key, { v: 2 });
    await expect.poll(() => b.stats().invalidation.received, { timeout: 5000, interval: 5 }).toBeGreaterThan(received);
    expect(await b.get('sessions', key)).toEqual({ v: 2 });

    const user = `erase-${randomBytes(4).toString('hex')}`;
    await b.conversations.append(user, { role: 'user', content: 'secret' });
    expect(await a.conversations.load(user)).toHaveLength(1);
    expect(await b.conversations.clear(user)).toEqual({ everywhere: true });
    expect(await a.conversations.load(user)).toEqual([]);
  });
}

if (!PG_URL) reportSkipped('state coherence on Postgres (src/state/coherence.test.ts)', 'AGENTEX_TEST_DATABASE_URL');
describe.skipIf(!PG_URL)('state coherence across instances on Postgres', () => {
  let schema: TestSchema | undefined;
  afterAll(async () => schema?.drop());
  coherenceSuite(async () => {
    schema ??= await createTestSchema(PG_URL!, 'coherence');
    return createL2Store({ url: PG_URL!, schema: schema.schema, logger: quiet });
  });
});

if (!REDIS_URL) reportSkipped('state coherence on Redis (src/state/coherence.test.ts)', 'AGENTEX_TEST_REDIS_URL');
describe.skipIf(!REDIS_URL)('state coherence across instances on Redis', () => {
  const prefix = `agentex-test:coh:${process.pid}:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    const r = new Redis(REDIS_URL!);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  });
  coherenceSuite(() => createL2Store({ url: REDIS_URL!, keyPrefix: prefix, logger: quiet }));
});
