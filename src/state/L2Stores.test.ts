import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { SchemaVersionError, StoreUnavailableError } from '../common/persistence/errors.js';
import { createTestSchema, PG_URL, REDIS_URL, reportSkipped, type TestSchema } from '../common/persistence/testing/postgres.js';
import { createL2Store } from './createL2Store.js';
import { runL2Contract } from './l2.case.js';
import { createPostgresL2Store } from './PostgresL2Store.js';
import { createRedisL2Store } from './RedisL2Store.js';
import { createSqliteL2Store } from './SqliteL2Store.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-l2-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { warn: () => undefined };

describe('SqliteL2Store', () => {
  let last = '';
  runL2Contract({
    create: async () => {
      last = path.join(dir, `l2-${randomBytes(4).toString('hex')}.db`);
      return createSqliteL2Store({ path: last });
    },
    createPeer: async () => createSqliteL2Store({ path: last }),
  });

  it('refuses a newer state schema and validates options', async () => {
    const file = path.join(dir, 'newer.db');
    await createSqliteL2Store({ path: file }).close();
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(file);
    db.prepare("INSERT INTO schema_migrations VALUES ('state', 5, 'future', 0)").run();
    db.close();
    expect(() => createSqliteL2Store({ path: file })).toThrow(SchemaVersionError);
    expect(() => createSqliteL2Store({ busyTimeoutMs: -1 })).toThrow(InvalidOptionsError);
    expect(() => createSqliteL2Store({ path: path.join(file, 'x.db') })).toThrow(StoreUnavailableError);
    const viaUrl = await createL2Store({ url: `sqlite:${path.join(dir, 'url.db')}` });
    expect(viaUrl.backend).toBe('sqlite');
    await viaUrl.close();
    await expect(createL2Store({ url: '' })).rejects.toThrow(/url/);
    await expect(createL2Store({ schema: 'x' })).rejects.toThrow(/schema/);
    await expect(createL2Store({ keyPrefix: 'x' })).rejects.toThrow(/keyPrefix/);
    await expect(createL2Store({ url: 'redis://127.0.0.1:1', schema: 'x' })).rejects.toThrow(/schema/);
  });
});

if (!PG_URL) reportSkipped('Postgres L2 suites (src/state/L2Stores.test.ts)', 'AGENTEX_TEST_DATABASE_URL');
describe.skipIf(!PG_URL)('PostgresL2Store', () => {
  const schemas: TestSchema[] = [];
  afterAll(async () => {
    await Promise.all(schemas.map((s) => s.drop()));
  });
  let last: TestSchema | undefined;
  runL2Contract({
    create: async () => {
      last = await createTestSchema(PG_URL!, 'l2');
      schemas.push(last);
      return createPostgresL2Store({ url: PG_URL!, schema: last.schema, logger: quiet });
    },
    createPeer: async () => createL2Store({ url: PG_URL!, schema: last!.schema, logger: quiet }),
  });

  // #16.11: a burst larger than the pool used to wait in pg's pool queue, where connectionTimeoutMs also applies, and
  // failed with "timeout exceeded when trying to connect" once the machine was busy. Queued in the store, the wait
  // for a free connection is not a connect timeout, however short the timeout and however long the queue.
  it('serves a burst far larger than the pool without a connect timeout', async () => {
    const s = await createTestSchema(PG_URL!, 'l2burst');
    schemas.push(s);
    const l2 = await createPostgresL2Store({ url: PG_URL!, schema: s.schema, maxConnections: 2, connectionTimeoutMs: 500, logger: quiet });
    try {
      await Promise.all(Array.from({ length: 600 }, (_, i) => l2.set('search', `burst-${i}`, String(i), 60_000)));
      expect((await l2.get('search', 'burst-599'))?.value).toBe('599');
    } finally {
      await l2.close();
    }
  }, 60_000);

  it('refuses a newer schema, fails clearly when unreachable, validates options', async () => {
    const s = await createTestSchema(PG_URL!, 'l2newer');
    schemas.push(s);
    await (await createPostgresL2Store({ pool: s.pool })).close();
    await s.pool.query("INSERT INTO schema_migrations VALUES ('state', 9, 'future', 0)");
    await expect(createPostgresL2Store({ pool: s.pool })).rejects.toBeInstanceOf(SchemaVersionError);
    await expect(createPostgresL2Store({ url: 'postgres://u:pw@127.0.0.1:1/x', connectionTimeoutMs: 300 })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(createPostgresL2Store({})).rejects.toBeInstanceOf(InvalidOptionsError);
    await expect(createPostgresL2Store({ url: 'http://x' })).rejects.toThrow(/url/);
    await expect(createPostgresL2Store({ url: PG_URL!, schema: 'Bad Name' })).rejects.toThrow(/schema/);
  });
});

if (!REDIS_URL) reportSkipped('Redis L2 suites (src/state/L2Stores.test.ts)', 'AGENTEX_TEST_REDIS_URL');
describe.skipIf(!REDIS_URL)('RedisL2Store', () => {
  const prefix = `agentex-test:${process.pid}:${randomBytes(4).toString('hex')}:`;
  afterAll(async () => {
    const r = new Redis(REDIS_URL!);
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await r.quit();
  });
  let run = 0;
  let current = prefix;
  runL2Contract({
    create: async () => {
      current = `${prefix}${run++}:`;
      return createRedisL2Store({ url: REDIS_URL!, keyPrefix: current, logger: quiet });
    },
    createPeer: async () => createL2Store({ url: REDIS_URL!, keyPrefix: current, logger: quiet }),
  });

  it('returns from create when Redis is unreachable, and its calls fail fast', async () => {
    const warnings: string[] = [];
    const started = Date.now();
    const l2 = await createRedisL2Store({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200, logger: { warn: (_f, m) => warnings.push(m) } });
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(l2.get('sessions', 'k')).rejects.toBeInstanceOf(StoreUnavailableError);
    expect(warnings.length).toBe(1);
    await l2.close();
    await expect(createRedisL2Store({ url: 'http://x' })).rejects.toThrow(/url/);
    await expect(createRedisL2Store({ url: REDIS_URL!, bogus: 1 } as never)).rejects.toThrow(/bogus/);
  });
});
