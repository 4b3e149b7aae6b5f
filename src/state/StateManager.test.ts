import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError, ValidationError } from '../common/errors.js';
import { circuitBreaker } from '../resilience/index.js';
import { createTestSchema, PG_URL, REDIS_URL, reportSkipped, type TestSchema } from '../common/persistence/testing/postgres.js';
import { createL2Store } from './createL2Store.js';
import { ValueNotSerializableError, ValueTooLargeError } from './errors.js';
import type { L2Store } from './L2Store.js';
import { createRedisL2Store } from './RedisL2Store.js';
import { createSqliteL2Store } from './SqliteL2Store.js';
import { createStateManager, type ConversationMessage } from './StateManager.js';
import { startTcpProxy } from './testing/tcpProxy.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-state-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { warn: () => undefined };
const dbFile = () => path.join(dir, `s-${randomBytes(4).toString('hex')}.db`);

/** An L2 that fails on demand, to drive the breaker without a network (the outage test below uses a real proxy). */
function flaky(inner: L2Store) {
  let failing = false;
  const wrap =
    <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    (...a: A): Promise<R> =>
      failing ? Promise.reject(new Error('ECONNRESET simulated')) : fn(...a);
  const l2: L2Store = {
    backend: inner.backend,
    get: wrap(inner.get.bind(inner)),
    set: wrap(inner.set.bind(inner)),
    delete: wrap(inner.delete.bind(inner)),
    appendList: wrap(inner.appendList.bind(inner)),
    getList: wrap(inner.getList.bind(inner)),
    purgeExpired: wrap(inner.purgeExpired.bind(inner)),
    ping: wrap(inner.ping.bind(inner)),
    close: () => inner.close(),
  };
  return { l2, fail: (on: boolean) => (failing = on) };
}

describe('StateManager', () => {
  it('reads through and writes through, filling L1 from L2 with the remaining TTL', async () => {
    const file = dbFile();
    const a = createStateManager({ l2: createSqliteL2Store({ path: file }), logger: quiet });
    await a.set('sessions', 's1', { step: 1, tags: ['x'] });
    const b = createStateManager({ l2: createSqliteL2Store({ path: file }), logger: quiet });
    const got = await b.get<{ step: number }>('sessions', 's1');
    expect(got).toEqual({ step: 1, tags: ['x'] });
    expect(Object.isFrozen(got)).toBe(true);
    expect(b.stats().l1.misses).toBe(1);
    await b.get('sessions', 's1');
    expect(b.stats().l1.hits).toBe(1);
    expect(await b.get('sessions', 'absent')).toBeUndefined();
    await a.delete('sessions', 's1');
    expect(await a.get('sessions', 's1')).toBeUndefined();
    await a.set('search', 'nullish', null);
    expect(await b.get('search', 'nullish')).toBeNull();
    await Promise.all([a.close(), b.close()]);
  });

  it('never hands out the caller\'s object and never lets a returned value be mutated', async () => {
    const state = createStateManager({ logger: quiet });
    const value = { n: 1, nested: { m: 2 } };
    await state.set('sessions', 'k', value);
    value.nested.m = 99;
    const got = await state.get<typeof value>('sessions', 'k');
    expect(got?.nested.m).toBe(2);
    expect(() => {
      (got as { n: number }).n = 5;
    }).toThrow(TypeError);
    expect(Object.isFrozen(value)).toBe(false);
    await state.close();
  });

  it('applies per-collection TTLs, custom collections and per-call TTLs', async () => {
    const state = createStateManager({ collections: { tools: { ttlMs: 30 } }, logger: quiet });
    await state.set('tools', 'k', 1);
    await state.set('sessions', 'k', 1, { ttlMs: 30 });
    await state.set('conversations', 'k', 1);
    await new Promise((r) => setTimeout(r, 80));
    expect(await state.get('tools', 'k')).toBeUndefined();
    expect(await state.get('sessions', 'k')).toBeUndefined();
    expect(await state.get('conversations', 'k')).toBe(1);
    await state.close();
  });

  it('rejects bad collections, keys, TTLs and values with typed errors', async () => {
    const state = createStateManager({ maxValueBytes: 1000, logger: quiet });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(state.get('nope', 'k')).rejects.toMatchObject({ field: 'collection' });
    await expect(state.set('sessions', '', 1)).rejects.toMatchObject({ field: 'key' });
    await expect(state.set('sessions', 'x'.repeat(513), 1)).rejects.toBeInstanceOf(ValidationError);
    await expect(state.set('sessions', 'k', 1, { ttlMs: 0 })).rejects.toMatchObject({ field: 'ttlMs' });
    await expect(state.set('sessions', 'k', cyclic)).rejects.toThrow(/circular/);
    await expect(state.set('sessions', 'k', { n: 10n })).rejects.toBeInstanceOf(ValueNotSerializableError);
    await expect(state.set('sessions', 'k', { f: () => 1 })).rejects.toThrow(/function/);
    await expect(state.set('sessions', 'k', { n: Number.NaN })).rejects.toThrow(/non-finite/);
    await expect(state.set('sessions', 'k', undefined)).rejects.toBeInstanceOf(ValueNotSerializableError);
    await expect(state.set('sessions', 'k', Symbol('s'))).rejects.toBeInstanceOf(ValueNotSerializableError);
    const err = await state.set('sessions', 'secret-key', { text: 'secret-value'.repeat(100) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValueTooLargeError);
    expect((err as Error).message).not.toMatch(/secret/);
    expect(await state.get('sessions', 'k')).toBeUndefined();
    await state.close();
  });

  it('validates its options', () => {
    expect(() => createStateManager({ bogus: 1 } as never)).toThrow(InvalidOptionsError);
    expect(() => createStateManager({ collections: { 'Bad Name': { ttlMs: 1 } } })).toThrow(/Bad Name/);
    expect(() => createStateManager({ collections: { ok: { ttlMs: 0 } } })).toThrow(/ttlMs/);
    expect(() => createStateManager({ conversation: { maxMessages: 0 } })).toThrow(/maxMessages/);
    expect(() => createStateManager({ l2: {} as never })).toThrow(/l2\.get/);
    expect(() => createStateManager({ logger: {} as never })).toThrow(/logger/);
  });

  it('bounds conversations by message count and bytes, and serialises appends per user', async () => {
    const state = createStateManager({ conversation: { maxMessages: 5, maxBytes: 400 }, logger: quiet });
    const msg = (i: number): ConversationMessage => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}` });
    await Promise.all(Array.from({ length: 8 }, (_, i) => state.conversations.append(42, msg(i))));
    const history = await state.conversations.load('42');
    expect(history.map((m) => m.content)).toEqual(['message 3', 'message 4', 'message 5', 'message 6', 'message 7']);
    const long = (i: number): ConversationMessage => ({ role: 'user', content: `${i}`.padEnd(150, '.') });
    const kept = await state.conversations.save(42, [long(1), long(2), long(3)]);
    expect(kept.map((m) => (m.content as string)[0])).toEqual(['2', '3']);
    expect(Buffer.byteLength(JSON.stringify(kept))).toBeLessThanOrEqual(400);
    await expect(state.conversations.append(42, { role: 'user', content: 'x'.repeat(500) })).rejects.toBeInstanceOf(ValueTooLargeError);
    await expect(state.conversations.append(42, { content: 'no role' } as never)).rejects.toMatchObject({ field: 'messages[0]' });
    await expect(state.conversations.load('')).rejects.toMatchObject({ field: 'userId' });
    await expect(state.conversations.save(1, 'x' as never)).rejects.toMatchObject({ field: 'messages' });
    await state.conversations.clear(42);
    expect(await state.conversations.load(42)).toEqual([]);
    await state.close();
  });

  it('degrades to L1 on L2 failure: no throw, one warning, counters, breaker opens, then recovers', async () => {
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const { l2, fail } = flaky(createSqliteL2Store({ path: dbFile() }));
    const state = createStateManager({
      l2,
      breaker: { threshold: 2, cooldownMs: 100, timeoutMs: 1000 },
      logger: { warn: (fields, message) => warnings.push({ fields, message }) },
      purgeIntervalMs: 0,
    });
    await state.set('sessions', 'before', { ok: 1 });
    fail(true);
    await state.set('sessions', 'during', { ok: 2 }); // L2 error 1
    await state.delete('sessions', 'before'); // L2 error 2 → breaker opens; a tombstone hides the L2 copy
    expect(await state.get('sessions', 'during')).toEqual({ ok: 2 });
    expect(await state.get('sessions', 'before')).toBeUndefined();
    expect(await state.get('sessions', 'missing')).toBeUndefined(); // short-circuited
    expect(await state.purgeExpired()).toBe(0);
    const s = state.stats().l2;
    expect(s).toMatchObject({ backend: 'sqlite', degraded: true, errors: 2, circuit: 'open' });
    expect(s.shortCircuited).toBeGreaterThanOrEqual(1);
    expect(warnings).toHaveLength(1);
    expect(JSON.stringify(warnings)).not.toMatch(/during|before|ok/);
    fail(false);
    await new Promise((r) => setTimeout(r, 150));
    await state.set('sessions', 'after', { ok: 3 });
    expect(state.stats().l2).toMatchObject({ degraded: false, circuit: 'closed' });
    expect(warnings.at(-1)?.message).toMatch(/recovered/);
    await state.close();
  });

  it('accepts a breaker of your own and purges L2 on its timer', async () => {
    const breaker = circuitBreaker({ name: 'my-l2', threshold: 5, cooldownMs: 1000 });
    const l2 = createSqliteL2Store({ path: dbFile() });
    const state = createStateManager({ l2, breaker, purgeIntervalMs: 25, logger: quiet });
    await state.set('search', 'q', 'r', { ttlMs: 5 });
    await expect.poll(() => breaker.stats().counts?.successes ?? 0, { timeout: 3000 }).toBeGreaterThan(1);
    expect(state.stats().l2.circuit).toBe('closed');
    await state.close();
    await state.close();
  });

  it('runs with no L2 at all', async () => {
    const state = createStateManager({ logger: quiet });
    await state.set('search', 'q', [1, 2]);
    await state.delete('search', 'q');
    expect(await state.get('search', 'q')).toBeUndefined();
    expect(state.stats().l2).toMatchObject({ backend: 'none', circuit: 'none', degraded: false });
    expect(await state.purgeExpired()).toBe(0);
    await state.close();
  });
});

if (!REDIS_URL) reportSkipped('Redis outage test (src/state/StateManager.test.ts)', 'AGENTEX_TEST_REDIS_URL');
describe.skipIf(!REDIS_URL)('StateManager over Redis through a TCP proxy we can cut', () => {
  const prefix = `agentex-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    const r = new Redis(REDIS_URL!);
    const keys = await r.keys(`${prefix}*`);
    if (keys.length) await r.del(...keys);
    await r.quit();
  });

  it('serves from L1 during the outage, counts, never throws, and recovers when Redis is reachable again', async () => {
    const target = new URL(REDIS_URL!);
    const proxy = await startTcpProxy(target.hostname, Number(target.port || 6379));
    const warnings: string[] = [];
    const logger = { warn: (_f: Record<string, unknown>, m: string) => warnings.push(m) };
    const l2 = await createRedisL2Store({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: prefix, commandTimeoutMs: 300, maxReconnectDelayMs: 100, logger });
    const state = createStateManager({ l2, breaker: { threshold: 2, cooldownMs: 200, timeoutMs: 500 }, logger, purgeIntervalMs: 0 });
    await state.set('sessions', 'a', { v: 1 });
    const direct = new Redis(REDIS_URL!);
    expect(await direct.get(`${prefix}sessions:a`)).toBe('{"v":1}');

    proxy.cut();
    await state.set('sessions', 'b', { v: 2 });
    await state.set('sessions', 'c', { v: 3 });
    expect(await state.get('sessions', 'b')).toEqual({ v: 2 });
    expect(await state.get('sessions', 'never')).toBeUndefined();
    const during = state.stats().l2;
    expect(during.degraded).toBe(true);
    expect(during.errors + during.shortCircuited).toBeGreaterThanOrEqual(3);
    expect(await direct.get(`${prefix}sessions:b`)).toBeNull();

    proxy.restore();
    await expect
      .poll(
        async () => {
          await state.set('sessions', 'd', { v: 4 });
          return direct.get(`${prefix}sessions:d`);
        },
        { timeout: 8000, interval: 100 },
      )
      .toBe('{"v":4}');
    expect(state.stats().l2.degraded).toBe(false);
    expect(warnings.some((m) => /recovered/.test(m))).toBe(true);
    await direct.quit();
    await state.close();
    await proxy.close();
  });
});

if (!PG_URL) reportSkipped('Postgres shared-state test (src/state/StateManager.test.ts)', 'AGENTEX_TEST_DATABASE_URL');
describe.skipIf(!PG_URL)('StateManager on Postgres', () => {
  let schema: TestSchema;
  afterAll(async () => schema?.drop());
  it('two instances (two pools) see each other\'s state', async () => {
    schema = await createTestSchema(PG_URL!, 'state');
    const a = createStateManager({ l2: await createL2Store({ url: PG_URL!, schema: schema.schema }), logger: quiet });
    const b = createStateManager({ l2: await createL2Store({ url: PG_URL!, schema: schema.schema }), logger: quiet });
    await a.conversations.append('u1', { role: 'user', content: 'hello' });
    expect((await b.conversations.load('u1')).map((m) => m.content)).toEqual(['hello']);
    await b.set('sessions', 'x', { by: 'b' });
    expect(await a.get('sessions', 'x')).toEqual({ by: 'b' });
    await Promise.all([a.close(), b.close()]);
  });
});
