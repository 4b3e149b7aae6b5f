/**
 * scripts/copy-traces.ts, the SQLite → Postgres move: every live trace arrives whole (spans and all), expired ones
 * are skipped, retention is not renewed, and running it twice changes nothing. SQLite → SQLite always; SQLite →
 * Postgres when AGENTEX_TEST_DATABASE_URL is set (skipped with a printed reason otherwise).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTraces, openStore, COPY_BATCH } from '../../scripts/copy-traces.js';
import type { TraceStore } from '../../src/store/TraceStore.js';
import { makeTrace } from '../../src/store/testing/fixtures.js';
import { createTestSchema, PG_URL, reportSkipped, type TestSchema } from '../../src/common/persistence/testing/postgres.js';

const DAY = 24 * 60 * 60 * 1000;
const RETENTION = 7 * DAY;
const ALL_TIME = { since: 0, until: Date.now() + 365 * DAY };

if (!PG_URL) reportSkipped('copy-traces SQLite → Postgres', 'AGENTEX_TEST_DATABASE_URL');

describe('copy-traces', () => {
  let dir: string;
  let source: TraceStore;
  let schema: TestSchema | undefined;
  const now = Date.now();
  // More than one page, a spread of statuses and users, and some past retention.
  const live = Array.from({ length: COPY_BATCH + 23 }, (_, i) =>
    makeTrace({ userId: `u${i % 5}`, status: i % 7 === 0 ? 'error' : 'success', startedAt: now - i * 60_000, spans: 1 + (i % 4) }),
  );
  const expired = Array.from({ length: 4 }, (_, i) => makeTrace({ startedAt: now - RETENTION - (i + 1) * DAY }));

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-copy-'));
    source = await openStore(path.join(dir, 'source.db'), RETENTION);
    await source.put([...live, ...expired]);
    if (PG_URL) schema = await createTestSchema(PG_URL, 'copy_traces');
  });
  afterAll(async () => {
    await source?.close();
    await schema?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const targets: [string, () => string | undefined][] = [
    ['SQLite', () => path.join(dir, 'target.db')],
    ['Postgres', () => (schema ? `${schema.url}${schema.url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema.schema}`)}` : undefined)],
  ];

  for (const [name, targetUrl] of targets) {
    it.skipIf(name === 'Postgres' && !PG_URL)(`copies every live trace to ${name}, whole, skipping expired ones; a second run changes nothing`, async () => {
      const target = await openStore(targetUrl()!, RETENTION);
      try {
        const progress: number[] = [];
        const result = await copyTraces({ from: source, to: target, retentionMs: RETENTION, onProgress: (p) => progress.push(p.read) });
        expect(result).toEqual({ read: live.length + expired.length, copied: live.length, expired: expired.length, vanished: 0 });
        expect(progress.length).toBe(2);
        expect((await target.stats(ALL_TIME)).total).toBe(live.length);
        for (const t of [live[0]!, live[COPY_BATCH + 5]!, live[14]!]) {
          expect(await target.get(t.traceId)).toEqual(await source.get(t.traceId));
        }
        expect(await target.get(expired[0]!.traceId)).toBeNull();
        const again = await copyTraces({ from: source, to: target, retentionMs: RETENTION });
        expect(again.copied).toBe(live.length);
        expect((await target.stats(ALL_TIME)).byStatus).toEqual((await source.stats({ ...ALL_TIME, since: now - RETENTION + 1000 })).byStatus);
        expect((await target.stats(ALL_TIME)).total).toBe(live.length);
        // Retention continues from the trace's start: purging as of 6 days from now drops the traces that started
        // over a day ago (in the source they would be gone by then too), not none of them.
        const purged = await target.purgeExpired({ now: now + 6 * DAY + 60_000 });
        expect(purged).toBe(live.filter((t) => t.startedAt + RETENTION <= now + 6 * DAY + 60_000).length);
      } finally {
        await target.close();
      }
    });
  }

  it('refuses a bad retention and stops between batches when aborted', async () => {
    const target = await openStore(path.join(dir, 'aborted.db'), RETENTION);
    try {
      await expect(copyTraces({ from: source, to: target, retentionMs: Number.NaN })).rejects.toThrow(/retentionMs/);
      const controller = new AbortController();
      const run = copyTraces({ from: source, to: target, retentionMs: RETENTION, signal: controller.signal, onProgress: () => controller.abort(new Error('stop')) });
      await expect(run).rejects.toThrow('stop');
      expect((await target.stats(ALL_TIME)).total).toBe(COPY_BATCH);
    } finally {
      await target.close();
    }
  });
});
