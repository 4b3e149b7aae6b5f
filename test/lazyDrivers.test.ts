/**
 * SQLite users never load `pg` or `ioredis`: a child process in which both drivers cannot be resolved (a public
 * module hook) imports the public entries and opens SQLite trace and L2 stores through `createTraceStore` and
 * `createL2Store`. A Postgres or Redis URL in the same process fails on the blocked driver, which shows the hook is
 * live — so everything before it ran without loading either driver.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');

describe('database drivers load lazily', () => {
  it('opens SQLite trace and L2 stores with pg and ioredis unresolvable; Postgres and Redis URLs load their driver', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, 'test', 'drivers', 'sqliteOnly.ts')], {
      cwd: ROOT,
      timeout: 60_000,
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result).toEqual({
      traceRead: true,
      l2Read: true,
      postgresTraceStore: expect.stringContaining('driver blocked: pg'),
      postgresL2: expect.stringContaining('driver blocked: pg'),
      redisL2: expect.stringContaining('driver blocked: ioredis'),
      driversInRequireCache: [],
    });
  });
});
