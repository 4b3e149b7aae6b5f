/**
 * Conversation append throughput across two instances (two state managers over one L2, as two service processes
 * would have): concurrent appends of many users from both, every one kept (checked), on Redis and on Postgres.
 * Runs with `npm run bench -- cluster` (its name contains "cluster").
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { createL2Store, createStateManager, type StateManager } from '../src/state/index.js';
import { table, type BenchSuite } from './lib.js';

const quiet = { warn: () => undefined };

async function appendRate(open: () => Promise<StateManager>, total: number): Promise<{ perSecond: number; lost: number }> {
  const a = await open();
  const b = await open();
  const users = 50;
  const run = randomBytes(3).toString('hex');
  const concurrency = 32;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      const instance = w % 2 ? a : b;
      while (next < total) {
        const i = next++;
        await instance.conversations.append(`${run}-${i % users}`, { role: 'user', content: `m${i}` });
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  let kept = 0;
  for (let u = 0; u < users; u++) kept += (await a.conversations.load(`${run}-${u}`)).length;
  for (let u = 0; u < users; u++) await a.conversations.clear(`${run}-${u}`);
  await Promise.all([a.close(), b.close()]);
  return { perSecond: total / seconds, lost: total - kept };
}

const suite: BenchSuite = {
  name: 'cluster-state',
  title: 'Cluster state: conversation appends across two instances',
  async run({ smoke }) {
    const total = smoke ? 200 : 2000; // ≤ 50 messages per user: the default bound keeps them all
    const rows: string[][] = [];
    const redisUrl = process.env.AGENTEX_TEST_REDIS_URL;
    const pgUrl = process.env.AGENTEX_TEST_DATABASE_URL;
    if (redisUrl) {
      const prefix = `agentex-bench:${randomBytes(4).toString('hex')}:`;
      const r = await appendRate(async () => createStateManager({ l2: await createL2Store({ url: redisUrl, keyPrefix: prefix, logger: quiet }), logger: quiet, purgeIntervalMs: 0 }), total);
      rows.push(['Redis', total.toString(), r.perSecond.toFixed(0), r.lost.toString()]);
      const c = new Redis(redisUrl);
      const keys = await c.keys(`${prefix}*`);
      if (keys.length) await c.del(...keys);
      await c.quit();
    }
    if (pgUrl) {
      const schema = `bench_cluster_${randomBytes(4).toString('hex')}`;
      const r = await appendRate(async () => createStateManager({ l2: await createL2Store({ url: pgUrl, schema, logger: quiet }), logger: quiet, purgeIntervalMs: 0 }), total);
      rows.push(['Postgres', total.toString(), r.perSecond.toFixed(0), r.lost.toString()]);
      const { default: pg } = await import('pg');
      const c = new pg.Client({ connectionString: pgUrl });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    }
    if (rows.length === 0) return { markdown: '_skipped: set AGENTEX_TEST_REDIS_URL and/or AGENTEX_TEST_DATABASE_URL_' };
    return {
      markdown: `${table(['L2', 'appends (2 instances, 32 at once, 50 users)', 'appends/s', 'lost'], rows)}\n\nEvery append is one atomic append-and-trim in L2 plus an invalidation message.`,
    };
  },
};
export default suite;
