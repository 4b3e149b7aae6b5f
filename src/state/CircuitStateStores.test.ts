/**
 * The Redis and Postgres circuit-state stores: the shared contract on the real servers, then an outage cut through a
 * TCP proxy: the store says it is unavailable, fails its operations fast, and comes back (re-subscribed) by itself.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { runCircuitStateStoreContract } from '../resilience/circuitStateStore.case.js';
import type { CircuitStateStore } from '../resilience/CircuitStateStore.js';
import { StoreUnavailableError } from '../common/persistence/errors.js';
import { createTestSchema, PG_URL, REDIS_URL, reportSkipped, type TestSchema } from '../common/persistence/testing/postgres.js';
import { createPostgresCircuitStateStore } from './PostgresCircuitStateStore.js';
import { createRedisCircuitStateStore } from './RedisCircuitStateStore.js';
import { startTcpProxy } from './testing/tcpProxy.js';

const quiet = { warn: () => undefined };

/** Resolves when `store` reports `up`. */
const until = (store: CircuitStateStore, up: boolean) =>
  store.available === up
    ? Promise.resolve()
    : new Promise<void>((resolve) => {
        const off = store.onAvailability((now) => {
          if (now !== up) return;
          off();
          resolve();
        });
      });

/** Cuts the store's backend, checks it degrades, restores it and checks a change made elsewhere is heard again. */
async function outage(open: (port: number) => Promise<CircuitStateStore>, peer: CircuitStateStore, target: URL): Promise<void> {
  const proxy = await startTcpProxy(target.hostname, Number(target.port));
  const store = await open(proxy.port);
  try {
    expect(store.available).toBe(true);
    proxy.cut();
    await until(store, false);
    await expect(store.apply('x', { type: 'reset' })).rejects.toThrow(StoreUnavailableError);
    proxy.restore();
    await until(store, true);
    const name = `after-${randomBytes(4).toString('hex')}`;
    const heard = new Promise((resolve) => store.onChange((c) => c.name === name && resolve(c.record.state)));
    await peer.apply(name, { type: 'open', reason: 'consecutive_failures', openUntil: Date.now() + 1000 });
    expect(await heard).toBe('open');
    expect((await store.read(name)).state).toBe('open');
  } finally {
    await store.close();
    await proxy.close();
  }
}

if (!REDIS_URL) reportSkipped('Redis circuit-state suites (src/state/CircuitStateStores.test.ts)', 'AGENTEX_TEST_REDIS_URL');
describe.skipIf(!REDIS_URL)('RedisCircuitStateStore', () => {
  const keyPrefix = `agentex:test:circuits:${process.pid}:${randomBytes(4).toString('hex')}:`;
  const opened: CircuitStateStore[] = [];
  const open = async (url = REDIS_URL!) => {
    const s = await createRedisCircuitStateStore({ url, keyPrefix, logger: quiet, maxReconnectDelayMs: 100 });
    opened.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
  });
  runCircuitStateStoreContract('redis', () => open());

  it('degrades while Redis is cut and rejoins when it returns', async () => {
    const peer = await open();
    const target = new URL(REDIS_URL!);
    await outage((port) => open(`redis://${target.hostname === 'localhost' ? '127.0.0.1' : target.hostname}:${port}`), peer, new URL(`redis://${target.hostname}:${target.port || 6379}`));
  }, 30_000);

  it('validates options', async () => {
    await expect(createRedisCircuitStateStore({ url: 'http://x' })).rejects.toThrow(/redis:\/\//);
    await expect(createRedisCircuitStateStore({ url: REDIS_URL!, bogus: 1 } as never)).rejects.toThrow(/bogus/);
  });
});

if (!PG_URL) reportSkipped('Postgres circuit-state suites (src/state/CircuitStateStores.test.ts)', 'AGENTEX_TEST_DATABASE_URL');
describe.skipIf(!PG_URL)('PostgresCircuitStateStore', () => {
  let schema: TestSchema;
  const opened: CircuitStateStore[] = [];
  const open = async (url = PG_URL!) => {
    schema ??= await createTestSchema(PG_URL!, 'circuits');
    const s = await createPostgresCircuitStateStore({ url, schema: schema.schema, logger: quiet, maxReconnectDelayMs: 100 });
    opened.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(opened.map((s) => s.close()));
    await schema?.drop();
  });
  runCircuitStateStoreContract('postgres', () => open());

  it('degrades while Postgres is cut and rejoins when it returns', async () => {
    const peer = await open();
    const target = new URL(PG_URL!);
    await outage(
      (port) => {
        const via = new URL(PG_URL!);
        via.hostname = '127.0.0.1';
        via.port = String(port);
        return open(via.toString());
      },
      peer,
      new URL(`postgres://${target.hostname}:${target.port || 5432}`),
    );
  }, 30_000);

  it('validates options', async () => {
    await expect(createPostgresCircuitStateStore({ url: 'mysql://x' })).rejects.toThrow(/postgres:\/\//);
    await expect(createPostgresCircuitStateStore({ url: PG_URL!, schema: 'Bad-Name' })).rejects.toThrow(/schema/);
  });
});
