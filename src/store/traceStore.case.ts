/**
 * The one contract every TraceStore backend passes (hono-style: each backend's test file calls
 * `runTraceStoreContract`). Each test gets a fresh, empty store from `create`.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { isValidationError, ValidationError } from '../common/errors.js';
import type { TraceRecord } from '../trace/model.js';
import { StoreClosedError } from '../common/persistence/errors.js';
import { decodeCursor, encodeCursor } from './query.js';
import { makeTrace, randomSpanId, randomTraceId } from './testing/fixtures.js';
import { createTraceStoreExporter } from './TraceStoreExporter.js';
import { assemblePending, type ClaimedTrace, type PendingHeader, type PendingTraceInput } from './pending.js';
import type { SpanRecord } from '../trace/model.js';
import type { TraceStore } from './TraceStore.js';

export interface TraceStoreContractOptions {
  retentionMs?: number;
  retentionFor?: (trace: TraceRecord) => number | undefined;
}

export interface TraceStoreContract {
  /** A fresh, empty store (own file or own schema). */
  create: (options?: TraceStoreContractOptions) => Promise<TraceStore>;
}

const T0 = Date.parse('2025-03-01T12:00:00.000Z');
const quiet = { warn: () => undefined };

function expectValidation(promise: Promise<unknown>, field: string): Promise<void> {
  return promise.then(
    () => {
      throw new Error(`expected a ValidationError on ${field}`);
    },
    (err: unknown) => {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).field).toBe(field);
    },
  );
}

export function runTraceStoreContract({ create }: TraceStoreContract): void {
  let stores: TraceStore[] = [];
  const open = async (options?: TraceStoreContractOptions) => {
    const store = await create(options);
    stores.push(store);
    return store;
  };
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()));
    stores = [];
  });

  describe('put and get', () => {
    it('round-trips a trace losslessly, spans in recorded order, userId type kept', async () => {
      const store = await open();
      const a = makeTrace({ userId: 42, spans: 7 });
      const b = makeTrace({ userId: '42', spans: 0, status: 'running', durationMs: null });
      await store.put([a, b]);
      expect(await store.get(a.traceId)).toEqual(a);
      const gotB = await store.get(b.traceId);
      expect(gotB).toEqual(b);
      expect(typeof (await store.get(a.traceId))?.userId).toBe('number');
      expect(typeof gotB?.userId).toBe('string');
    });

    it('accepts the UUID and upper-case forms of an id and returns the normalised id', async () => {
      const store = await open();
      const t = makeTrace();
      await store.put([{ ...t, traceId: t.traceId.toUpperCase() }]);
      const uuid = `${t.traceId.slice(0, 8)}-${t.traceId.slice(8, 12)}-${t.traceId.slice(12, 16)}-${t.traceId.slice(16, 20)}-${t.traceId.slice(20)}`;
      expect((await store.get(uuid))?.traceId).toBe(t.traceId);
      expect((await store.get(t.traceId.toUpperCase()))?.traceId).toBe(t.traceId);
    });

    it('returns null for an unknown id', async () => {
      const store = await open();
      expect(await store.get(randomTraceId())).toBeNull();
    });

    it('gets a trace back as it was put, spans in order', async () => {
      const store = await open();
      const traces = [makeTrace({ spans: 0 }), makeTrace({ spans: 1 }), makeTrace({ spans: 250, payloadChars: 50 })];
      await store.put(traces);
      for (const t of traces) expect(await store.get(t.traceId.toUpperCase())).toEqual(JSON.parse(JSON.stringify(t)));
    });

    it('gets any stored record and spans back as put (property)', async () => {
      const store = await open();
      await fc.assert(
        fc.asyncProperty(fc.array(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue(), { maxKeys: 4 }), { maxLength: 4 }), async (outputs) => {
          const base = makeTrace({ spans: outputs.length });
          const t = { ...base, spans: base.spans.map((s, i) => ({ ...s, output: outputs[i] })) };
          await store.put([t]);
          expect((await store.get(t.traceId))?.spans.map((s) => s.output)).toEqual(JSON.parse(JSON.stringify(outputs)));
        }),
        { numRuns: 30 },
      );
    });

    it.each([
      ['empty', ''],
      ['too short', 'abc123'],
      ['31 hex', 'a'.repeat(31)],
      ['not hex', 'g'.repeat(32)],
      ['all zeros', '0'.repeat(32)],
      ['injection', "' OR 1=1; DROP TABLE traces; --    "],
      ['a number', 12345],
      ['a misplaced dash', `${'a'.repeat(9)}-aaa-aaaa-aaaa-aaaaaaaaaaaa`],
    ])('rejects an invalid id (%s) with ValidationError', async (_label, id) => {
      const store = await open();
      await expectValidation(store.get(id as string), 'traceId');
    });

    it('is idempotent: a retried batch never duplicates, and the later version wins', async () => {
      const store = await open();
      const t = makeTrace({ status: 'running', spans: 3, durationMs: null });
      await store.put([t]);
      await store.put([t]);
      const done = { ...makeTrace({ traceId: t.traceId, spans: 5 }), status: 'success' as const };
      await store.put([done]);
      await store.put([done]);
      const page = await store.list();
      expect(page.traces).toHaveLength(1);
      expect(page.traces[0]?.spanCount).toBe(5);
      expect((await store.get(t.traceId))?.spans).toHaveLength(5);
      expect((await store.get(t.traceId))?.status).toBe('success');
    });

    it('keeps the last version of a trace repeated within one batch', async () => {
      const store = await open();
      const t = makeTrace({ spans: 2 });
      const later = { ...t, spans: t.spans.slice(0, 1), finalOutput: 'later' };
      await store.put([t, later]);
      const got = await store.get(t.traceId);
      expect(got?.finalOutput).toBe('later');
      expect(got?.spans).toHaveLength(1);
    });

    it('rejects a malformed trace and writes nothing of its batch', async () => {
      const store = await open();
      const good = makeTrace();
      const cases: [unknown, string][] = [
        [{ ...makeTrace(), traceId: 'nope' }, 'traces[1].traceId'],
        [{ ...makeTrace(), status: 'weird' }, 'traces[1].status'],
        [{ ...makeTrace(), startedAt: Number.NaN }, 'traces[1].startedAt'],
        [{ ...makeTrace(), spans: 'x' }, 'traces[1].spans'],
        [{ ...makeTrace(), spans: [{ kind: 'nope' }] }, 'traces[1].spans[0]'],
        [{ ...makeTrace(), userId: '' }, 'traces[1].userId'],
        [{ ...makeTrace(), agent: 'a'.repeat(300) }, 'traces[1].agent'],
        [{ ...makeTrace(), endedAt: 'x' }, 'traces[1].endedAt'],
        [{ ...makeTrace(), durationMs: Infinity }, 'traces[1].durationMs'],
        [null, 'traces[1]'],
      ];
      for (const [bad, field] of cases) await expectValidation(store.put([good, bad as TraceRecord]), field);
      await expectValidation(store.put('nope' as never), 'traces');
      expect(await store.get(good.traceId)).toBeNull();
    });

    it('writes a batch larger than one transaction whole', async () => {
      const store = await open();
      const batch = Array.from({ length: 250 }, (_, i) => makeTrace({ startedAt: T0 + i, spans: 12, payloadChars: 40 }));
      await store.put(batch);
      const counts = await store.stats({ since: T0, until: T0 + 1000 });
      expect(counts.total).toBe(250);
      expect((await store.get(batch[249]!.traceId))?.spans).toHaveLength(12);
      expect(store.counters().tracesWritten).toBe(250);
    });
  });

  describe('list', () => {
    async function seeded() {
      const store = await open();
      const traces: TraceRecord[] = [];
      for (let i = 0; i < 30; i++) {
        traces.push(
          makeTrace({
            startedAt: T0 + Math.floor(i / 3) * 1000, // ties on startedAt exercise the trace_id tiebreak
            userId: i % 2 ? 'alice' : 7,
            status: (['success', 'error', 'timeout', 'running'] as const)[i % 4],
            agent: i % 3 ? 'research' : 'support',
            spans: 2,
          }),
        );
      }
      await store.put(traces);
      const newestFirst = [...traces].sort((a, b) => b.startedAt - a.startedAt || (a.traceId < b.traceId ? 1 : -1));
      return { store, traces, newestFirst };
    }

    it('pages newest first with a cursor, every trace exactly once', async () => {
      const { store, newestFirst } = await seeded();
      const seen: string[] = [];
      let cursor: string | undefined;
      for (let pages = 0; pages < 10; pages++) {
        const page = await store.list({ limit: 7, cursor });
        seen.push(...page.traces.map((t) => t.traceId));
        if (!page.nextCursor) break;
        cursor = page.nextCursor;
      }
      expect(seen).toEqual(newestFirst.map((t) => t.traceId));
      const first = await store.list();
      expect(first.traces).toHaveLength(20);
      expect(first.traces[0]).not.toHaveProperty('spans');
      expect(first.traces[0]?.spanCount).toBe(2);
    });

    it('filters by user (text form), status, agent and time, combined', async () => {
      const { store, traces } = await seeded();
      const ids = (page: { traces: { traceId: string }[] }) => page.traces.map((t) => t.traceId).sort();
      const expectIds = (pred: (t: TraceRecord) => boolean) => traces.filter(pred).map((t) => t.traceId).sort();
      expect(ids(await store.list({ userId: 'alice', limit: 100 }))).toEqual(expectIds((t) => t.userId === 'alice'));
      expect(ids(await store.list({ userId: '7', limit: 100 }))).toEqual(expectIds((t) => t.userId === 7));
      expect(ids(await store.list({ userId: 7, status: 'error', limit: 100 }))).toEqual(expectIds((t) => t.userId === 7 && t.status === 'error'));
      expect(ids(await store.list({ agent: 'support', status: 'success', limit: 100 }))).toEqual(
        expectIds((t) => t.agent === 'support' && t.status === 'success'),
      );
      const since = new Date(T0 + 3000).toISOString();
      const until = T0 + 6000;
      expect(ids(await store.list({ since, until, limit: '100' }))).toEqual(expectIds((t) => t.startedAt >= T0 + 3000 && t.startedAt < until));
      expect((await store.list({ userId: 'nobody' })).traces).toEqual([]);
    });

    it.each([
      [{ status: 'done' }, 'status'],
      [{ status: "success' OR '1'='1" }, 'status'],
      [{ limit: 0 }, 'limit'],
      [{ limit: 101 }, 'limit'],
      [{ limit: 2.5 }, 'limit'],
      [{ limit: 'abc' }, 'limit'],
      [{ since: 'yesterday' }, 'since'],
      [{ until: '2025-13-45T99:00:00Z' }, 'until'],
      [{ since: T0 + 10, until: T0 }, 'until'],
      [{ userId: '' }, 'userId'],
      [{ userId: {} }, 'userId'],
      [{ agent: 'x'.repeat(257) }, 'agent'],
      [{ cursor: 'not-a-cursor' }, 'cursor'],
      [{ cursor: Buffer.from('1:xyz').toString('base64url') }, 'cursor'],
      [{ cursor: '!!!' }, 'cursor'],
      [{ orderBy: 'id' }, 'orderBy'],
    ])('rejects %j naming %s', async (query, field) => {
      const store = await open();
      await expectValidation(store.list(query as never), field);
    });

    it('lists any stored record as its summary (property)', async () => {
      const store = await open();
      await fc.assert(
        fc.asyncProperty(fc.dictionary(fc.string({ unit: 'binary' }), fc.jsonValue(), { maxKeys: 5 }), fc.string({ unit: 'binary', maxLength: 40 }), async (metadata, output) => {
          const user = `json-${randomTraceId().slice(0, 8)}`;
          await store.put([{ ...makeTrace({ userId: user, spans: 1 }), metadata, finalOutput: output }]);
          const listed = (await store.list({ userId: user })).traces[0];
          expect(listed?.metadata).toEqual(JSON.parse(JSON.stringify(metadata)));
          expect(listed?.finalOutput).toBe(output);
        }),
        { numRuns: 40 },
      );
    });

    it('never lists a spanCount a record brought itself: the summary counts the stored spans', async () => {
      const store = await open();
      await store.put([{ ...makeTrace({ spans: 3 }), spanCount: 99, extra: 'kept' } as TraceRecord]);
      const page = await store.list();
      expect(page.traces[0]).toMatchObject({ spanCount: 3, extra: 'kept' });
      expect(JSON.stringify(page).match(/"spanCount"/g)).toHaveLength(1);
    });

    it('pages correctly for any set of start times (property)', async () => {
      const store = await open();
      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 0, maxLength: 25 }), fc.integer({ min: 1, max: 6 }), async (offsets, limit) => {
          const user = `prop-${randomTraceId().slice(0, 8)}`;
          const traces = offsets.map((o) => makeTrace({ userId: user, startedAt: T0 + o * 0.5, spans: 0 }));
          await store.put(traces);
          const seen: string[] = [];
          let cursor: string | undefined;
          do {
            const page = await store.list({ userId: user, limit, cursor });
            seen.push(...page.traces.map((t) => t.traceId));
            cursor = page.nextCursor ?? undefined;
          } while (cursor);
          const expected = [...traces].sort((a, b) => b.startedAt - a.startedAt || (a.traceId < b.traceId ? 1 : -1)).map((t) => t.traceId);
          expect(seen).toEqual(expected);
        }),
        { numRuns: 15 },
      );
    });
  });

  describe('aggregates', () => {
    it('counts by status and gives nearest-rank p50/p95 over finished traces in the range', async () => {
      const store = await open();
      const traces = Array.from({ length: 20 }, (_, i) =>
        makeTrace({ startedAt: T0 + i * 1000, durationMs: (i + 1) * 10, status: i < 15 ? 'success' : 'error', spans: 0 }),
      );
      traces.push(makeTrace({ startedAt: T0 + 500, status: 'running', durationMs: null, spans: 0 }));
      traces.push(makeTrace({ startedAt: T0 + 60_000, durationMs: 99_999, spans: 0 })); // outside the range
      await store.put(traces);
      const stats = await store.stats({ since: new Date(T0).toISOString(), until: T0 + 20_000 });
      expect(stats).toEqual({ total: 21, byStatus: { running: 1, success: 15, error: 5, timeout: 0 }, p50DurationMs: 100, p95DurationMs: 190 });
      const one = await store.stats({ since: T0, until: T0 + 20_000, userId: 'user-1', agent: 'research' });
      expect(one.total).toBe(21);
      const none = await store.stats({ since: T0 - 10_000, until: T0 - 1 });
      expect(none).toEqual({ total: 0, byStatus: { running: 0, success: 0, error: 0, timeout: 0 }, p50DurationMs: null, p95DurationMs: null });
      await expectValidation(store.stats({ since: T0 } as never), 'until');
      await expectValidation(store.stats({ until: T0 } as never), 'since');
      await expectValidation(store.stats({ since: T0, until: T0 - 1 }), 'until');
      await expectValidation(store.stats({ since: T0, until: T0 + 1, status: 'x' } as never), 'status');
    });

    it('buckets counts over time, empty buckets included', async () => {
      const store = await open();
      await store.put([
        makeTrace({ startedAt: T0 + 100, status: 'success', spans: 0 }),
        makeTrace({ startedAt: T0 + 900, status: 'error', spans: 0 }),
        makeTrace({ startedAt: T0 + 2500, status: 'success', spans: 0 }),
      ]);
      const series = await store.timeseries({ since: T0, until: T0 + 3000, bucketMs: 1000 });
      expect(series.map((b) => [b.start - T0, b.total, b.byStatus.success, b.byStatus.error])).toEqual([
        [0, 2, 1, 1],
        [1000, 0, 0, 0],
        [2000, 1, 1, 0],
      ]);
      await expectValidation(store.timeseries({ since: T0, until: T0 + 1e9, bucketMs: 1000 }), 'bucketMs');
      await expectValidation(store.timeseries({ since: T0, until: T0 + 1000, bucketMs: 10 }), 'bucketMs');
    });
  });

  describe('retention and deletion', () => {
    it('purges expired traces and their spans in chunks, reporting progress', async () => {
      const store = await open({ retentionFor: (t) => (t.status === 'error' ? 30 * 86_400_000 : undefined), retentionMs: 60_000 });
      const batch = Array.from({ length: 1200 }, (_, i) => makeTrace({ status: i % 100 === 0 ? 'error' : 'success', spans: 1, payloadChars: 20 }));
      await store.put(batch);
      expect(await store.purgeExpired()).toBe(0);
      const progress: number[] = [];
      const deleted = await store.purgeExpired({ now: Date.now() + 120_000, onProgress: (n) => progress.push(n) });
      expect(deleted).toBe(1188);
      expect(progress.at(-1)).toBe(1188);
      expect(progress.length).toBeGreaterThan(1);
      expect(await store.get(batch[1]!.traceId)).toBeNull();
      expect(await store.get(batch[0]!.traceId)).not.toBeNull();
      expect(store.counters().purged).toBe(1188);
      const ctl = new AbortController();
      ctl.abort();
      expect(await store.purgeExpired({ now: Date.now() + 1e12, signal: ctl.signal })).toBe(0);
    });

    it('deletes every trace of a user (text form) and confirms the count', async () => {
      const store = await open();
      const mine = Array.from({ length: 5 }, () => makeTrace({ userId: 99 }));
      const theirs = makeTrace({ userId: 'bob' });
      await store.put([...mine, theirs, makeTrace({ userId: '99' })]);
      expect(await store.deleteByUser('99')).toBe(6);
      expect(await store.get(mine[0]!.traceId)).toBeNull();
      expect((await store.list({ userId: 99 })).traces).toEqual([]);
      expect(await store.get(theirs.traceId)).not.toBeNull();
      expect(await store.deleteByUser(99)).toBe(0);
      await expect(store.deleteByUser('')).rejects.toSatisfy(isValidationError);
    });
  });

  describe('lifecycle and exporter', () => {
    it('pings, closes idempotently, and refuses work after close', async () => {
      const store = await open();
      const health = await store.ping();
      expect(health.ok).toBe(true);
      await store.close();
      await store.close();
      await expect(store.get(randomTraceId())).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.put([makeTrace()])).rejects.toBeInstanceOf(StoreClosedError);
      await expect(store.list()).rejects.toBeInstanceOf(StoreClosedError);
      expect((await store.ping()).ok).toBe(false);
    });

    it('exports batches idempotently and drops (and counts) malformed traces', async () => {
      const store = await open();
      const exporter = createTraceStoreExporter(store, { logger: quiet });
      const batch = [makeTrace(), makeTrace(), { ...makeTrace(), traceId: 'bad' }];
      await exporter.export(batch);
      await exporter.export(batch); // a retry
      expect((await store.list()).traces).toHaveLength(2);
      expect(exporter.dropped).toBe(2);
      expect(exporter.name).toBe('trace-store');
      await exporter.shutdown?.();
      expect((await store.ping()).ok).toBe(true);
      const closing = createTraceStoreExporter(store, { name: 'db', closeStoreOnShutdown: true });
      await closing.shutdown?.();
      expect((await store.ping()).ok).toBe(false);
    });

    it('round-trips cursors and rejects tampered ones', () => {
      const c = { startedAt: T0 + 0.25, traceId: randomTraceId() };
      expect(decodeCursor(encodeCursor(c))).toEqual(c);
      expect(() => decodeCursor(encodeCursor(c).slice(0, -3))).toThrow(ValidationError);
    });
  });

  describe('OTLP ingest: the pending area', () => {
    const limits = { maxPendingSpans: 1000, maxPendingTraces: 100 };
    const claimOpts = { settleMs: 1000, windowMs: 60_000, limit: 100, leaseMs: 30_000 };
    const header = (h: Partial<PendingHeader> = {}): PendingHeader => ({ userId: null, agent: null, finalOutput: null, metadata: { source: 'otlp' }, ...h });
    const span = (id: string, parentId: string | null, extra: Partial<SpanRecord> = {}): SpanRecord =>
      ({ spanId: id, parentId, kind: 'custom', name: `s-${id.slice(0, 4)}`, startedAt: T0 + 1, endedAt: T0 + 5, durationMs: 4, status: 'ok', attributes: {}, ...extra });
    const piece = (traceId: string, spans: SpanRecord[], h?: Partial<PendingHeader>): PendingTraceInput => ({ traceId, header: header(h), spans });
    const finish = (store: TraceStore, claimed: ClaimedTrace[], keep = true, maxSpans = 1000) =>
      store.completePending(claimed.map((c) => ({ traceId: c.traceId, claim: c.claim, spanIds: c.spans.map((p) => p.span.spanId), record: assemblePending(c.traceId, c.spans), keep, maxSpans })));

    it('assembles a trace from spans sent over several requests, children first, root last', async () => {
      const store = await open();
      const traceId = randomTraceId();
      const root = randomSpanId();
      const mid = randomSpanId();
      const leaves = [randomSpanId(), randomSpanId()];
      expect(await store.addPending([piece(traceId, [span(leaves[0]!, mid), span(leaves[1]!, mid, { status: 'error' })])], { ...limits, now: T0 })).toMatchObject({ ok: true, accepted: 2 });
      await store.addPending([piece(traceId, [span(mid, root)])], { ...limits, now: T0 + 10 });
      // No root yet: nothing is ready before the window ends.
      expect(await store.claimPending({ ...claimOpts, now: T0 + 5000 })).toEqual([]);
      await store.addPending([piece(traceId, [span(root, null, { kind: 'agent' })], { userId: 'u1', agent: 'bot', finalOutput: 'done' })], { ...limits, now: T0 + 6000 });
      expect(await store.pendingSize()).toEqual({ spans: 4, traces: 1 });
      // Root arrived, not quiet yet.
      expect(await store.claimPending({ ...claimOpts, now: T0 + 6500 })).toEqual([]);
      const claimed = await store.claimPending({ ...claimOpts, now: T0 + 7000 });
      expect(claimed).toHaveLength(1);
      expect(claimed[0]!.spans.map((p) => p.span.spanId)).toEqual([...leaves, mid, root]);
      const done = await finish(store, claimed);
      expect(done).toMatchObject({ stored: 1, merged: 0, spansAdded: 4, lostClaims: 0 });
      const got = await store.get(traceId);
      expect(got?.spans.map((s) => s.spanId).sort()).toEqual([...leaves, mid, root].sort());
      expect(got).toMatchObject({ userId: 'u1', agent: 'bot', finalOutput: 'done', status: 'error' });
      expect(got?.metadata.partial).toBeUndefined();
      expect(await store.pendingSize()).toEqual({ spans: 0, traces: 0 });
      expect(store.counters()).toMatchObject({ ingestSpansAccepted: 4, tracesFinalized: 1, pendingSpans: 0 });
    });

    it('is idempotent on a repeated span and keeps the first of two different spans under one id', async () => {
      const store = await open();
      const traceId = randomTraceId();
      const id = randomSpanId();
      await store.addPending([piece(traceId, [span(id, null, { name: 'first' })])], limits);
      const again = await store.addPending([piece(traceId, [span(id, null, { name: 'first' })]), piece(randomTraceId(), [])], limits);
      expect(again).toMatchObject({ ok: true, accepted: 0, duplicates: 1, conflicts: 0 });
      const other = await store.addPending([piece(traceId, [span(id, null, { name: 'rewritten' })])], limits);
      expect(other).toMatchObject({ ok: true, accepted: 0, duplicates: 0, conflicts: 1 });
      await finish(store, await store.claimPending({ ...claimOpts, all: true }));
      expect((await store.get(traceId))?.spans.map((s) => s.name)).toEqual(['first']);
      expect(store.counters()).toMatchObject({ ingestSpansDuplicate: 1, ingestSpanConflicts: 1 });
    });

    it('never touches a trace our own runs recorded, at ingest and at finalization', async () => {
      const store = await open();
      const own = makeTrace({ userId: 'owner' });
      await store.put([own]);
      const r = await store.addPending([piece(own.traceId, [span(randomSpanId(), null), span(randomSpanId(), null)], { userId: 'attacker' })], limits);
      expect(r.ok && [...r.rejectedOwn]).toEqual([[own.traceId, 2]]);
      expect(await store.pendingSize()).toEqual({ spans: 0, traces: 0 });
      // Our run records the trace after its spans were accepted: finalization refuses them.
      const late = makeTrace();
      await store.addPending([piece(late.traceId, [span(randomSpanId(), null)], { userId: 'attacker' })], limits);
      const claimed = await store.claimPending({ ...claimOpts, all: true });
      await store.put([late]);
      expect(await finish(store, claimed)).toMatchObject({ rejectedOwn: 1, rejectedOwnSpans: 1, stored: 0 });
      expect(await store.get(own.traceId)).toEqual(own);
      expect(await store.get(late.traceId)).toEqual(late);
      expect(await store.pendingSize()).toEqual({ spans: 0, traces: 0 });
      expect(store.counters().ingestSpansRejectedOwn).toBe(3);
    });

    it('refuses a request whole when the pending area cannot take it, writing nothing', async () => {
      const store = await open();
      const small = { maxPendingSpans: 3, maxPendingTraces: 2 };
      expect(await store.addPending([piece(randomTraceId(), [span(randomSpanId(), null), span(randomSpanId(), null)])], small)).toMatchObject({ ok: true, accepted: 2 });
      const full = await store.addPending([piece(randomTraceId(), [span(randomSpanId(), null), span(randomSpanId(), null)])], small);
      expect(full).toEqual({ ok: false, reason: 'full', pendingSpans: 2, pendingTraces: 1 });
      const tooManyTraces = await store.addPending([piece(randomTraceId(), [span(randomSpanId(), null)]), piece(randomTraceId(), [span(randomSpanId(), null)])], { maxPendingSpans: 100, maxPendingTraces: 2 });
      expect(tooManyTraces.ok).toBe(false);
      expect(await store.pendingSize()).toEqual({ spans: 2, traces: 1 });
      expect(store.counters().ingestRequestsRejectedFull).toBe(2);
      await expectValidation(store.addPending([piece('nope', [])], limits), 'traces[0].traceId');
      await expectValidation(store.addPending([], { maxPendingSpans: 0, maxPendingTraces: 1 }), 'limits.maxPendingSpans');
      await expectValidation(store.claimPending({ ...claimOpts, limit: 0 }), 'limit');
    });

    it('finishes a trace whose root never arrives at the end of the window, flagged partial; late spans merge in', async () => {
      const store = await open();
      const traceId = randomTraceId();
      const root = randomSpanId();
      const child = randomSpanId();
      await store.addPending([piece(traceId, [span(child, root)], { userId: 'u1' })], { ...limits, now: T0 });
      expect(await store.claimPending({ ...claimOpts, now: T0 + 59_999 })).toEqual([]);
      const claimed = await store.claimPending({ ...claimOpts, now: T0 + 60_000 });
      expect(claimed).toHaveLength(1);
      await finish(store, claimed);
      expect((await store.get(traceId))?.metadata.partial).toBe(true);
      expect(store.counters().tracesFinalizedPartial).toBe(1);
      // The root comes late, with a repeat of the child, a rewritten child and another user: merged, first writer wins.
      const sneaky = randomSpanId();
      await store.addPending([piece(traceId, [span(root, null, { status: 'error' }), span(child, root)], { userId: 'u2' })], { ...limits, now: T0 + 70_000 });
      await store.addPending([piece(traceId, [span(sneaky, root)])], { ...limits, now: T0 + 70_000 });
      const before = await store.get(traceId);
      // A stored trace needs no root to be ready: the settle time is enough.
      const again = await store.claimPending({ ...claimOpts, now: T0 + 71_000 });
      expect(again.map((c) => c.stored)).toEqual([true]);
      const r = await finish(store, again);
      expect(r).toMatchObject({ merged: 1, stored: 0, spansAdded: 2, duplicates: 1, conflicts: 1 });
      const got = await store.get(traceId);
      expect(got?.spans.slice(0, 1)).toEqual(before?.spans);
      expect(got?.spans.map((s) => s.spanId)).toEqual([child, root, sneaky]);
      expect(got).toMatchObject({ userId: 'u1', status: 'error', keepReason: 'error' });
      expect(got?.metadata.partial).toBeUndefined();
      expect((await store.list()).traces[0]?.spanCount).toBe(3);
    });

    it('caps a merged trace at maxSpans, counting the rest as dropped', async () => {
      const store = await open();
      const traceId = randomTraceId();
      const root = randomSpanId();
      await store.addPending([piece(traceId, [span(root, null), span(randomSpanId(), root)])], limits);
      await finish(store, await store.claimPending({ ...claimOpts, all: true }), true, 3);
      await store.addPending([piece(traceId, [span(randomSpanId(), root), span(randomSpanId(), root)])], limits);
      expect(await finish(store, await store.claimPending({ ...claimOpts, all: true }), true, 3)).toMatchObject({ spansAdded: 1, droppedSpans: 1 });
      expect(await store.get(traceId)).toMatchObject({ droppedSpans: 1, truncated: true });
    });

    it('claims a trace once while its lease holds, again after it lapses, and ignores a lapsed claim', async () => {
      const store = await open();
      const traceId = randomTraceId();
      await store.addPending([piece(traceId, [span(randomSpanId(), null)])], { ...limits, now: T0 });
      const [a, b] = await Promise.all([
        store.claimPending({ ...claimOpts, now: T0 + 2000 }),
        store.claimPending({ ...claimOpts, now: T0 + 2000 }),
      ]);
      expect(a.length + b.length).toBe(1);
      expect(await store.claimPending({ ...claimOpts, now: T0 + 2000 + 29_000 })).toEqual([]);
      const taken = await store.claimPending({ ...claimOpts, now: T0 + 2000 + 31_000 });
      expect(taken).toHaveLength(1);
      expect(await finish(store, [...a, ...b])).toMatchObject({ lostClaims: 1, stored: 0 });
      expect(await finish(store, taken)).toMatchObject({ stored: 1 });
      expect(store.counters().lostClaims).toBe(1);
    });

    it('keeps spans that arrive after the claim pending, and deletes a sampled-out trace\'s spans', async () => {
      const store = await open();
      const traceId = randomTraceId();
      const root = randomSpanId();
      await store.addPending([piece(traceId, [span(root, null)])], limits);
      const claimed = await store.claimPending({ ...claimOpts, all: true });
      await store.addPending([piece(traceId, [span(randomSpanId(), root)])], limits);
      expect(await finish(store, claimed, false)).toMatchObject({ sampledOut: 1, stored: 0 });
      expect(await store.get(traceId)).toBeNull();
      expect(await store.pendingSize()).toEqual({ spans: 1, traces: 1 });
      const next = await store.claimPending({ ...claimOpts, all: true });
      expect(next[0]?.spans).toHaveLength(1);
    });

    it('erases a user\'s spans still pending along with their stored traces', async () => {
      const store = await open();
      const mine = randomTraceId();
      const other = randomTraceId();
      await store.addPending([piece(mine, [span(randomSpanId(), null)], { userId: 42 }), piece(other, [span(randomSpanId(), null)], { userId: 'someone' })], limits);
      await store.addPending([piece(mine, [span(randomSpanId(), null)])], limits);
      expect(await store.deleteByUser('42')).toBe(0);
      expect(await store.pendingSize()).toEqual({ spans: 1, traces: 1 });
      await finish(store, await store.claimPending({ ...claimOpts, all: true }));
      expect(await store.get(mine)).toBeNull();
      expect(await store.get(other)).not.toBeNull();
    });

    it('erases spans pending for a stored trace of the user even when their request named no user', async () => {
      const store = await open();
      const t = { ...makeTrace(), userId: 'gone-too' };
      await store.put([t], { origin: 'ingest' });
      await store.addPending([piece(t.traceId, [span(randomSpanId(), t.spans[0]!.spanId)])], limits);
      expect(await store.deleteByUser('gone-too')).toBe(1);
      expect(await store.pendingSize()).toEqual({ spans: 0, traces: 0 });
      await finish(store, await store.claimPending({ ...claimOpts, all: true }));
      expect(await store.get(t.traceId)).toBeNull();
    });

    it('stores nothing of a trace claimed for finalization when its user is erased before the completion', async () => {
      const store = await open();
      const traceId = randomTraceId();
      await store.addPending([piece(traceId, [span(randomSpanId(), null)], { userId: 'gone' })], limits);
      const claimed = await store.claimPending({ ...claimOpts, all: true });
      expect(await store.deleteByUser('gone')).toBe(0);
      expect(await finish(store, claimed)).toMatchObject({ stored: 0, lostClaims: 1 });
      expect(await store.get(traceId)).toBeNull();
      expect(await store.pendingSize()).toEqual({ spans: 0, traces: 0 });
    });

    it('stores an ingested trace put with origin ingest as mergeable', async () => {
      const store = await open();
      const t = makeTrace();
      await store.put([t], { origin: 'ingest' });
      const extra = randomSpanId();
      await store.addPending([piece(t.traceId, [span(extra, t.spans[0]!.spanId)])], limits);
      await finish(store, await store.claimPending({ ...claimOpts, all: true }));
      expect((await store.get(t.traceId))?.spans).toHaveLength(t.spans.length + 1);
      await expectValidation(store.put([t], { origin: 'x' as 'own' }), 'origin');
    });
  });
}
