import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { createSqliteTraceStore } from './SqliteTraceStore.js';
import { createTraceStoreExporter } from './TraceStoreExporter.js';
import { createWriteHealth, trackWrites, type WriteHealthChange } from './WriteHealth.js';
import { makeTrace } from './testing/fixtures.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-writehealth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { warn: () => undefined, error: () => undefined, info: () => undefined };

/** `chattr +i` makes a file immutable even for root and for descriptors already open: the real unwritable WAL. */
function chattr(flag: '+i' | '-i', file: string): boolean {
  return spawnSync('chattr', [flag, file], { stdio: 'ignore' }).status === 0;
}
const probe = path.join(dir, 'probe');
const CHATTR = (() => {
  rmSync(probe, { force: true });
  spawnSync('touch', [probe]);
  const ok = chattr('+i', probe) && chattr('-i', probe);
  if (!ok) console.warn('skipped: the unwritable-WAL test needs `chattr +i` (ext2/3/4 or xfs, CAP_LINUX_IMMUTABLE)');
  return ok;
})();

describe('store write health', () => {
  it('turns degraded after consecutive failed writes to a real SQLite file while its ping still answers, and recovers by itself', async () => {
    const file = path.join(dir, 'broken.db');
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0, logger: quiet });
    const health = createWriteHealth({ failureThreshold: 3 });
    const changes: WriteHealthChange[] = [];
    health.onChange((c) => changes.push(c));
    const exporter = trackWrites(createTraceStoreExporter(store, { logger: quiet }), health);

    await exporter.export([makeTrace({ spans: 2 })]);
    expect(health.snapshot()).toMatchObject({ degraded: false, errors: 0 });

    // Break writes underneath the service, from another connection to the same file: every insert now fails inside
    // SQLite, as with a WAL that cannot grow. Reads (the health ping) still work — the case /health used to miss.
    const saboteur = new Database(file);
    saboteur.exec("CREATE TRIGGER break_writes BEFORE INSERT ON traces BEGIN SELECT RAISE(ABORT, 'disk I/O error (injected)'); END;");
    for (let i = 1; i <= 3; i++) {
      await expect(exporter.export([makeTrace({ spans: 2 })])).rejects.toThrow(/disk I\/O error/);
      expect(health.snapshot().degraded).toBe(i >= 3);
    }
    expect((await store.ping()).ok).toBe(true);
    const snap = health.snapshot();
    expect(snap).toMatchObject({ degraded: true, consecutiveFailures: 3, errors: 3 });
    expect(snap.lastError?.code).toMatch(/^SQLITE_/);
    expect(snap.lastError?.message).toMatch(/disk I\/O error/);
    expect(changes).toEqual([{ state: 'degraded', consecutiveFailures: 3, code: snap.lastError!.code, message: snap.lastError!.message }]);

    // Repaired: the next successful write clears the verdict; the error count stays (it is a counter).
    saboteur.exec('DROP TRIGGER break_writes');
    saboteur.close();
    const fixed = makeTrace({ spans: 2 });
    await exporter.export([fixed]);
    expect(health.snapshot()).toMatchObject({ degraded: false, consecutiveFailures: 0, errors: 3 });
    expect(changes[1]).toEqual({ state: 'recovered', failedWrites: 3 });
    expect(await store.get(fixed.traceId)).not.toBeNull();
    await store.close();
  });

  it.skipIf(!CHATTR)('sees SQLITE_IOERR from a WAL made immutable under an open store (ping still ok), and recovers when it is writable again', async () => {
    const file = path.join(dir, 'immutable-wal.db');
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0, logger: quiet });
    const health = createWriteHealth({ failureThreshold: 2 });
    const exporter = trackWrites(createTraceStoreExporter(store, { logger: quiet }), health);
    await exporter.export([makeTrace({ spans: 2 })]);
    expect(chattr('+i', `${file}-wal`)).toBe(true);
    try {
      for (let i = 0; i < 2; i++) await expect(exporter.export([makeTrace({ spans: 2 })])).rejects.toThrow(/SQLITE_IOERR/);
      expect((await store.ping()).ok).toBe(true);
      expect(health.snapshot()).toMatchObject({ degraded: true, errors: 2, lastError: { code: expect.stringMatching(/^SQLITE_IOERR/) as unknown } });
    } finally {
      chattr('-i', `${file}-wal`);
    }
    const after = makeTrace({ spans: 2 });
    await exporter.export([after]);
    expect(health.snapshot()).toMatchObject({ degraded: false, errors: 2 });
    expect(await store.get(after.traceId)).not.toBeNull();
    await store.close();
  });

  it('does not call a single failure degraded, and a success in between resets the streak', () => {
    const health = createWriteHealth({ failureThreshold: 2 });
    health.failure(new Error('x'));
    health.success();
    health.failure(Object.assign(new Error('wrapped'), { code: 'STORE_UNAVAILABLE', cause: Object.assign(new Error('io'), { code: 'SQLITE_IOERR_WRITE' }) }));
    expect(health.snapshot()).toMatchObject({ degraded: false, consecutiveFailures: 1, errors: 2, lastError: { code: 'SQLITE_IOERR_WRITE' } });
    health.failure('not an error');
    expect(health.snapshot()).toMatchObject({ degraded: true, lastError: { code: null, message: 'unknown error' } });
  });

  it('validates its options', () => {
    expect(() => createWriteHealth({ failureThreshold: 0 })).toThrow(InvalidOptionsError);
    expect(() => createWriteHealth({ failureThreshold: 1.5 })).toThrow(/failureThreshold/);
    expect(() => createWriteHealth({ nope: 1 } as never)).toThrow(InvalidOptionsError);
  });
});
