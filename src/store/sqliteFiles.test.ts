import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteTraceStore } from './SqliteTraceStore.js';
import { inspectSqliteFiles } from './sqliteFiles.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-sqlitefiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const quiet = { warn: () => undefined, error: () => undefined, info: () => undefined };

function chattr(flag: '+i' | '-i', file: string): boolean {
  return spawnSync('chattr', [flag, file], { stdio: 'ignore' }).status === 0;
}
const CHATTR = (() => {
  const probe = path.join(dir, 'probe');
  writeFileSync(probe, '');
  const ok = chattr('+i', probe) && chattr('-i', probe);
  if (!ok) console.warn('skipped: the unwritable -shm test needs `chattr +i` (ext2/3/4 or xfs, CAP_LINUX_IMMUTABLE)');
  return ok;
})();

describe('inspectSqliteFiles', () => {
  it('reports the database, its -wal and -shm files and free space of a real open store, without warnings', async () => {
    const file = path.join(dir, 'ok.db');
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0, logger: quiet });
    const report = inspectSqliteFiles(file, { minFreeBytes: 1 });
    expect(report.files.map((f) => [f.suffix, f.exists])).toEqual([['', true], ['-wal', true], ['-shm', true]]);
    expect(report.files[0]!.size).toBeGreaterThan(0);
    expect(report.files[2]!.mode).toMatch(/^[0-7]{3}$/);
    expect(report.freeBytes).toBeGreaterThan(0);
    expect(report.warnings).toEqual([]);
    await store.close();
  });

  it('warns about a -shm that is not a file, and about a nearly full file system (the SIGBUS causes)', () => {
    const file = path.join(dir, 'odd.db');
    writeFileSync(file, '');
    mkdirSync(`${file}-shm`);
    const report = inspectSqliteFiles(file, { minFreeBytes: Number.MAX_SAFE_INTEGER });
    expect(report.files.find((f) => f.suffix === '-wal')).toEqual({ suffix: '-wal', exists: false });
    expect(report.warnings).toContain('odd.db-shm is not a regular file');
    expect(report.warnings.some((w) => /MiB free .* SIGBUS/.test(w))).toBe(true);
  });

  // As root, chmod stops nothing; an immutable file (chattr +i) is refused even to root. This is the -shm that made
  // the service die of SIGBUS with no log line once the WAL outgrew it (reproduced: exit 135).
  it.skipIf(!CHATTR)('warns about a -shm this process cannot write (immutable, even for root)', async () => {
    const file = path.join(dir, 'ro.db');
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0, logger: quiet });
    await store.close();
    writeFileSync(`${file}-shm`, '');
    expect(chattr('+i', `${file}-shm`)).toBe(true);
    try {
      const report = inspectSqliteFiles(file, { minFreeBytes: 1 });
      expect(report.files.find((f) => f.suffix === '-shm')).toMatchObject({ exists: true, writable: false });
      expect(report.warnings).toEqual(['ro.db-shm is not writable by this process: writes will fail, and SQLite may die of SIGBUS mapping it']);
    } finally {
      chattr('-i', `${file}-shm`);
    }
  });

  it('never throws, even for a path in a directory that does not exist', () => {
    const report = inspectSqliteFiles(path.join(dir, 'missing', 'x.db'));
    expect(report.files.every((f) => !f.exists)).toBe(true);
    expect(report.warnings[0]).toMatch(/cannot read the free space/);
  });
});
