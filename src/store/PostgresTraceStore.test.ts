import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { SchemaVersionError, StoreUnavailableError } from '../common/persistence/errors.js';
import { createPostgresTraceStore, POSTGRES_TRACE_MIGRATIONS } from './PostgresTraceStore.js';
import { createTestSchema, PG_URL, reportSkipped, type TestSchema } from '../common/persistence/testing/postgres.js';
import { makeTrace } from './testing/fixtures.js';
import { runTraceStoreContract } from './traceStore.case.js';
import { createTraceStore } from './createTraceStore.js';

const quiet = { warn: () => undefined };
if (!PG_URL) reportSkipped('Postgres trace store suites (src/store/PostgresTraceStore.test.ts)', 'AGENTEX_TEST_DATABASE_URL');

describe.skipIf(!PG_URL)('PostgresTraceStore', () => {
  const url = PG_URL!;
  const schemas: TestSchema[] = [];
  const fresh = async (label: string) => {
    const s = await createTestSchema(url, label);
    schemas.push(s);
    return s;
  };
  afterAll(async () => {
    await Promise.all(schemas.map((s) => s.drop()));
  });

  describe('contract', () => {
    runTraceStoreContract({
      create: async (options) => {
        const { schema } = await fresh('contract');
        return createPostgresTraceStore({ url, schema, purgeIntervalMs: 0, logger: quiet, ...options });
      },
    });
  });

  describe('specifics', () => {
    let shared: TestSchema;
    beforeAll(async () => {
      shared = await fresh('shared');
    });

    it('two instances (two pools) on one database see each other\'s traces', async () => {
      const a = await createPostgresTraceStore({ url, schema: shared.schema, purgeIntervalMs: 0 });
      const b = await createTraceStore({ databaseUrl: url, schema: shared.schema, purgeIntervalMs: 0 });
      const ta = makeTrace({ userId: 'two-instances' });
      const tb = makeTrace({ userId: 'two-instances' });
      await a.put([ta]);
      await b.put([tb]);
      expect((await b.get(ta.traceId))?.traceId).toBe(ta.traceId);
      expect((await a.get(tb.traceId))?.traceId).toBe(tb.traceId);
      expect((await a.list({ userId: 'two-instances' })).traces).toHaveLength(2);
      expect(b.backend).toBe('postgres');
      await Promise.all([a.close(), b.close()]);
    });

    it('migrates once when instances start together, and refuses a newer database naming both versions', async () => {
      const s = await fresh('migrate');
      const stores = await Promise.all([1, 2, 3].map(() => createPostgresTraceStore({ url, schema: s.schema, purgeIntervalMs: 0 })));
      await Promise.all(stores.map((x) => x.close()));
      const { rows } = await s.pool.query("SELECT COUNT(*)::int AS n FROM schema_migrations WHERE component = 'traces'");
      expect(rows[0].n).toBe(POSTGRES_TRACE_MIGRATIONS.length);
      await s.pool.query("INSERT INTO schema_migrations VALUES ('traces', 7, 'future', 0)");
      const err = await createPostgresTraceStore({ url, schema: s.schema }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SchemaVersionError);
      expect((err as Error).message).toMatch(/version 7.*up to version 2/);
    });

    // #16.11: a burst wider than the pool waits in the store's queue, where a connect timeout does not apply.
    it('serves a burst of writes and reads far wider than the pool without a connect timeout', async () => {
      const s = await fresh('burst');
      const store = await createPostgresTraceStore({ url, schema: s.schema, purgeIntervalMs: 0, maxConnections: 2, connectionTimeoutMs: 500, logger: quiet });
      try {
        const traces = Array.from({ length: 200 }, () => makeTrace({ userId: 'burst' }));
        await Promise.all(traces.map((t) => store.put([t])));
        const found = await Promise.all(traces.map((t) => store.get(t.traceId)));
        expect(found.every((t, i) => t?.traceId === traces[i]!.traceId)).toBe(true);
      } finally {
        await store.close();
      }
    }, 60_000);

    it('works on a pool the caller owns and leaves it open', async () => {
      const store = await createPostgresTraceStore({ pool: shared.pool, purgeIntervalMs: 0 });
      await store.put([makeTrace()]);
      await store.close();
      expect((await shared.pool.query('SELECT 1 AS x')).rows[0].x).toBe(1);
    });

    it('reports an unreachable server as StoreUnavailableError without leaking credentials', async () => {
      const err = await createPostgresTraceStore({ url: 'postgres://agentex:s3cret@127.0.0.1:1/nope', connectionTimeoutMs: 500 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).not.toContain('s3cret');
    });

    it('validates its options', async () => {
      await expect(createPostgresTraceStore({})).rejects.toBeInstanceOf(InvalidOptionsError);
      await expect(createPostgresTraceStore({ url: 'mysql://x' })).rejects.toThrow(/url/);
      await expect(createPostgresTraceStore({ url, schema: 'Bad-Name; DROP' })).rejects.toThrow(/schema/);
      await expect(createPostgresTraceStore({ pool: shared.pool, schema: 'x' })).rejects.toThrow(/schema/);
      await expect(createTraceStore({ databaseUrl: url, synchronous: 'full' })).rejects.toThrow(/synchronous/);
      await expect(createTraceStore({ schema: 'x' })).rejects.toThrow(/schema/);
      await expect(createTraceStore({ databaseUrl: '' })).rejects.toThrow(/databaseUrl/);
    });
  });
});
