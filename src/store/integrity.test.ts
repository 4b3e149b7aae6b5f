/**
 * Crash safety and isolation of the SQLite store, tested with real processes: a writer killed with SIGKILL loses
 * nothing it acknowledged and leaves a sound file; readers never see half of a trace a concurrent writer rewrites.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteTraceStore } from './SqliteTraceStore.js';
import { makeTrace } from './testing/fixtures.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const writer = path.join(here, 'testing', 'writer.ts');
const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-crash-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function startWriter(args: string[]): { child: ChildProcess; lines: AsyncIterableIterator<string> } {
  const child = spawn(process.execPath, ['--import', 'tsx', writer, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { child, lines };
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

describe('SQLite crash safety and isolation', () => {
  it('keeps every acknowledged trace and passes integrity_check after SIGKILL mid-write', async () => {
    const file = path.join(dir, 'crash.db');
    const { child, lines } = startWriter([file, 'crash']);
    const acked: string[] = [];
    let batches = 0;
    for (;;) {
      const { value, done } = await lines.next();
      if (done) throw new Error('writer exited early');
      if (!value.startsWith('ack ')) continue;
      acked.push(...value.slice(4).split(','));
      if (++batches >= 12) break;
    }
    child.kill('SIGKILL'); // mid-way through a later batch
    await exited(child);
    expect(child.signalCode).toBe('SIGKILL');

    const db = new Database(file);
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0 });
    for (const id of acked) {
      const t = await store.get(id);
      expect(t?.spans).toHaveLength(10);
    }
    // No trace is half-written: every stored trace has all its spans.
    const check = new Database(file, { readonly: true });
    const partial = check.prepare('SELECT COUNT(*) FROM traces t WHERE span_count != (SELECT COUNT(*) FROM spans s WHERE s.trace_id = t.trace_id)').pluck().get();
    check.close();
    expect(partial).toBe(0);
    await store.close();
  });

  it('never shows a reader half of a trace that another process is rewriting (WAL)', async () => {
    const file = path.join(dir, 'concurrent.db');
    const seed = Array.from({ length: 8 }, () => makeTrace({ spans: 1 }));
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0 });
    await store.put(seed);
    const { child, lines } = startWriter([file, 'rewrite', seed.map((t) => t.traceId).join(',')]);
    await lines.next(); // ready
    const versionsSeen = new Set<number>();
    const deadline = Date.now() + 1500;
    let reads = 0;
    while (Date.now() < deadline || versionsSeen.size < 3) {
      for (const { traceId } of seed) {
        const t = await store.get(traceId);
        const meta = t!.metadata as { version?: number; spans?: number };
        if (meta.version === undefined) continue;
        versionsSeen.add(meta.version);
        expect(t!.spans).toHaveLength(meta.spans!);
        for (const s of t!.spans) expect(s.attributes.version).toBe(meta.version);
        reads++;
      }
      const page = await store.list({ limit: 100 });
      for (const summary of page.traces) {
        const meta = summary.metadata as { spans?: number };
        if (meta.spans !== undefined) expect(summary.spanCount).toBe(meta.spans);
      }
      await new Promise((r) => setImmediate(r));
      if (Date.now() > deadline + 10_000) break;
    }
    child.kill('SIGKILL');
    await exited(child);
    expect(reads).toBeGreaterThan(0);
    expect(versionsSeen.size).toBeGreaterThanOrEqual(3);
    await store.close();
  });
});
