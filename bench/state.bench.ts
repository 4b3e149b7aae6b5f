/**
 * State benchmark: the L1 cache against raw lru-cache with the same bounds and TTL (goal: within 1.5×), and the
 * state manager's get (L1 hit), read-through (L1 miss → L2) and write-through set on SQLite and Redis.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { Redis } from 'ioredis';
import { createL1Cache, createRedisL2Store, createSqliteL2Store, createStateManager, type L2Store } from '../src/state/index.js';
import { formatNs, measureAsync, measureSync, median, table, type BenchSuite } from './lib.js';

const quiet = { warn: () => undefined };
const KEYS = 5000;

function l1Cases(smoke: boolean): string[][] {
  const iterations = smoke ? 20_000 : 500_000;
  const value = Object.freeze({ role: 'user', content: 'a short cached value' });
  const keys = Array.from({ length: KEYS }, (_, i) => `sessions\u0000key-${i}`);
  const raw = new LRUCache<string, object>({ max: 10_000, maxSize: 64 * 1024 * 1024, ttlAutopurge: false, allowStale: false, updateAgeOnGet: false });
  const l1 = createL1Cache<object>({ maxEntries: 10_000, maxBytes: 64 * 1024 * 1024, sweepIntervalMs: 0 });
  for (const k of keys) {
    raw.set(k, value, { size: 64, ttl: 3_600_000 });
    l1.set(k, value, 64, 3_600_000);
  }
  let i = 0;
  const rounds = smoke ? 2 : 7;
  const samples = { rawGet: [] as number[], l1Get: [] as number[], rawSet: [] as number[], l1Set: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    samples.rawGet.push(measureSync(() => raw.get(keys[i++ % KEYS]!), { iterations, rounds: 1, warmup: 1000 }));
    samples.l1Get.push(measureSync(() => l1.get(keys[i++ % KEYS]!), { iterations, rounds: 1, warmup: 1000 }));
    samples.rawSet.push(measureSync(() => raw.set(keys[i++ % KEYS]!, value, { size: 64, ttl: 3_600_000 }), { iterations, rounds: 1, warmup: 1000 }));
    samples.l1Set.push(measureSync(() => l1.set(keys[i++ % KEYS]!, value, 64, 3_600_000), { iterations, rounds: 1, warmup: 1000 }));
  }
  const [rg, lg, rs, ls] = [median(samples.rawGet), median(samples.l1Get), median(samples.rawSet), median(samples.l1Set)];
  l1.close();
  return [
    ['get (hit)', formatNs(rg), formatNs(lg), `${(lg / rg).toFixed(2)}×`],
    ['set (size + TTL)', formatNs(rs), formatNs(ls), `${(ls / rs).toFixed(2)}×`],
  ];
}

async function managerCases(label: string, l2: L2Store, smoke: boolean): Promise<string[]> {
  const state = createStateManager({ l2, logger: quiet, purgeIntervalMs: 0 });
  const value = { messages: Array.from({ length: 10 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message number ${i} with some text` })) };
  const iterations = smoke ? 200 : 5000;
  for (let i = 0; i < KEYS; i++) await state.set('sessions', `k${i}`, value);
  let n = 0;
  const hit = await measureAsync(() => state.get('sessions', `k${n++ % KEYS}`), { iterations: iterations * 10, rounds: 3, warmup: 100 });
  const set = await measureAsync(() => state.set('sessions', `k${n++ % KEYS}`, value), { iterations, rounds: 3, warmup: 100 });
  // Read-through: a second manager with an empty L1 over the same L2.
  const cold = createStateManager({ l2, logger: quiet, purgeIntervalMs: 0, l1: { maxEntries: 1, sweepIntervalMs: 0 } });
  const miss = await measureAsync(() => cold.get('sessions', `k${n++ % KEYS}`), { iterations, rounds: 3, warmup: 100 });
  await state.close();
  return [label, formatNs(hit), formatNs(miss), formatNs(set)];
}

const suite: BenchSuite = {
  name: 'state',
  title: 'State manager (L1 lru-cache, L2 SQLite / Redis)',
  async run({ smoke }) {
    const l1 = l1Cases(smoke);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-bench-state-'));
    const rows: string[][] = [];
    try {
      rows.push(await managerCases('SQLite (WAL, same host)', createSqliteL2Store({ path: path.join(dir, 'state.db') }), smoke));
      const url = process.env.AGENTEX_TEST_REDIS_URL;
      let note = '';
      if (url) {
        const prefix = `agentex-bench:${randomBytes(4).toString('hex')}:`;
        rows.push(await managerCases('Redis (127.0.0.1)', await createRedisL2Store({ url, keyPrefix: prefix, logger: quiet }), smoke));
        const r = new Redis(url);
        const keys = await r.keys(`${prefix}*`);
        if (keys.length) await r.del(...keys);
        await r.quit();
      } else note = '\n\n_Redis case skipped: AGENTEX_TEST_REDIS_URL is not set._';
      const markdown = [
        'L1: `L1Cache` against a raw `LRUCache` with the same bounds (10 000 entries, 64 MiB), explicit sizes and a 1 h TTL; 5 000 keys, ' +
          'rounds interleaved. Goal: within 1.5×.',
        '',
        table(['L1 operation', 'raw lru-cache', 'AgentEx L1Cache', 'ratio'], l1),
        '',
        'State manager, a 10-message value (~500 B of JSON): `get` served by L1, read-through on an L1 miss (L2 read, parse, freeze, fill L1), ' +
          'and write-through `set` (validate, serialise, freeze, L1 + L2 through the circuit breaker).',
        '',
        table(['L2 backend', 'get (L1 hit)', 'get (L1 miss → L2)', 'set (write-through)'], rows) + note,
      ].join('\n');
      return { markdown };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default suite;
