/**
 * Child process of lazyDrivers.test.ts: makes `pg` and `ioredis` unresolvable with a public module hook
 * (`module.register`), then uses the SQLite backends through the public entries and the URL switches. Prints one JSON
 * line: what worked, what a Postgres/Redis URL did (the control: the hook is live), and whether either driver is in
 * `require.cache` (where a CommonJS package lands however it was loaded).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const BLOCKED = ['pg', 'ioredis'];
const hooks = `export async function resolve(specifier, context, next) {
  if (${JSON.stringify(BLOCKED)}.includes(specifier)) {
    throw Object.assign(new Error('driver blocked: ' + specifier), { code: 'ERR_MODULE_NOT_FOUND' });
  }
  return next(specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`);

const dir = mkdtempSync(path.join(tmpdir(), 'agentex-lazy-drivers-'));
const result: Record<string, unknown> = {};
try {
  const store = await import('../../src/store/index.js');
  const state = await import('../../src/state/index.js');
  await import('../../src/index.js');
  const { makeTrace } = await import('../../src/store/testing/fixtures.js');

  const file = path.join(dir, 'agentex.db');
  const traces = await store.createTraceStore({ databaseUrl: `sqlite:${file}`, purgeIntervalMs: 0 });
  const trace = makeTrace();
  await traces.put([trace]);
  result.traceRead = (await traces.get(trace.traceId))?.traceId === trace.traceId;
  await traces.close();

  const l2 = await state.createL2Store({ url: file });
  await l2.set('c', 'k', '"v"', 60_000);
  result.l2Read = (await l2.get('c', 'k'))?.value === '"v"';
  await l2.close();

  const refusal = async (open: () => Promise<unknown>) =>
    open().then(
      () => 'opened',
      (err: unknown) => (err instanceof Error ? err.message : String(err)),
    );
  result.postgresTraceStore = await refusal(() => store.createTraceStore({ databaseUrl: 'postgres://127.0.0.1:1/none' }));
  result.postgresL2 = await refusal(() => state.createL2Store({ url: 'postgres://127.0.0.1:1/none' }));
  result.redisL2 = await refusal(() => state.createL2Store({ url: 'redis://127.0.0.1:1' }));

  const cache = Object.keys(createRequire(import.meta.url).cache);
  result.driversInRequireCache = cache.filter((p) => BLOCKED.some((d) => p.includes(`${path.sep}node_modules${path.sep}${d}${path.sep}`)));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
process.stdout.write(`${JSON.stringify(result)}\n`);
