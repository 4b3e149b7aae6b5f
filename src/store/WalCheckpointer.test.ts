import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { startWalCheckpointer } from './WalCheckpointer.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function walDb(name: string) {
  const file = path.join(dir, name);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('wal_autocheckpoint = 0');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = db.transaction((n: number) => {
    const s = db.prepare('INSERT INTO t (v) VALUES (?)');
    for (let i = 0; i < n; i++) s.run('x'.repeat(3000)); // about one page per row
  });
  return { file, db, insert, walBytes: () => statSync(`${file}-wal`).size };
}

function collect() {
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  return { warnings, logger: { warn: (fields: Record<string, unknown>, message: string) => warnings.push({ fields, message }) } };
}

describe('WalCheckpointer', () => {
  it('checkpoints from its worker after writes, so the next write restarts the WAL instead of growing it', async () => {
    const { file, db, insert, walBytes } = walDb('restart.db');
    const { warnings, logger } = collect();
    const cp = startWalCheckpointer(file, logger, () => undefined, { settleFrames: 100 })!;
    expect(cp).not.toBeNull();
    insert(300);
    cp.wrote();
    cp.wrote(); // coalesced with the one in flight
    await cp.settle();
    const c = cp.counters();
    expect(c.checkpoints).toBeGreaterThanOrEqual(1);
    expect(c.walFrames).toBeGreaterThan(300);
    expect(cp.behind).toBe(false); // settled: the last WAL size is stale until the next checkpoint reports
    const peak = walBytes();
    // Three more rounds of the same size: each restarts the WAL from its start, so the file stays near one round
    // (without restarts it would reach four).
    for (let round = 0; round < 3; round++) {
      insert(300);
      cp.wrote();
      await cp.settle();
    }
    expect(walBytes()).toBeLessThan(peak * 1.5);
    expect(cp.counters().walFrames).toBeLessThan(400);
    expect(db.prepare('SELECT COUNT(*) FROM t').pluck().get()).toBe(1200);
    await cp.close();
    await cp.close(); // idempotent
    cp.wrote(); // ignored once closed
    await cp.settle(); // resolves at once once closed
    db.close();
    expect(warnings).toEqual([]);
  });

  it('reports being behind once the WAL passes the settle mark while writes never pause', async () => {
    const { file, db, insert } = walDb('behind.db');
    const cp = startWalCheckpointer(file, collect().logger, () => undefined, { settleFrames: 50 })!;
    const reader = new Database(file, { readonly: true });
    // A long read transaction pins the WAL: it cannot restart, so it only grows.
    reader.exec('BEGIN');
    reader.prepare('SELECT COUNT(*) FROM t').get();
    insert(120);
    await cp.settle();
    insert(10);
    await cp.settle(); // releases the settled flag: this checkpoint reports the real size
    cp.wrote();
    await expect.poll(() => cp.behind).toBe(true);
    reader.exec('COMMIT');
    reader.close();
    await cp.close();
    db.close();
  });

  it('calls onStopped, logs and counts when its worker dies, and never leaves a settle() hanging', async () => {
    const { warnings, logger } = collect();
    let stopped = 0;
    // The worker opens with fileMustExist: a missing file kills it at start.
    const cp = startWalCheckpointer(path.join(dir, 'missing', 'none.db'), logger, () => stopped++)!;
    const waiting = cp.settle();
    await waiting;
    await expect.poll(() => stopped).toBe(1);
    expect(cp.counters().checkpointErrors).toBe(1);
    expect(cp.behind).toBe(false);
    expect(warnings[0]?.message).toMatch(/worker stopped/);
    cp.wrote();
    await cp.settle();
    await cp.close();
  });
});
