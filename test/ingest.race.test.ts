/**
 * The Postgres completion race of OTLP ingest: two assemblers (two instances: two pools, two tracers) on one real
 * Postgres schema finalize the same pending traces concurrently, while an own run records one of those trace ids.
 * Every ingested trace is stored exactly once and whole, the own trace is never overwritten by ingest, nothing stays
 * pending, and the two stores' counters add up.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, PG_URL, type TestSchema } from '../src/common/persistence/testing/postgres.js';
import { createIngestAssembler } from '../src/server/IngestAssembler.js';
import { createPostgresTraceStore } from '../src/store/PostgresTraceStore.js';
import { assemblePending } from '../src/store/pending.js';
import { makeTrace } from '../src/store/testing/fixtures.js';
import type { TraceStore } from '../src/store/TraceStore.js';
import { createTracer } from '../src/trace/Tracer.js';
import type { TraceRecord } from '../src/trace/model.js';

const quiet = { warn: () => undefined };

describe.skipIf(!PG_URL)('two assemblers finalizing concurrently on one Postgres schema', () => {
  let schema: TestSchema;
  let a: TraceStore;
  let b: TraceStore;

  beforeAll(async () => {
    schema = await createTestSchema(PG_URL!, 'ingest_race');
    a = await createPostgresTraceStore({ url: PG_URL!, schema: schema.schema, purgeIntervalMs: 0, logger: quiet });
    b = await createPostgresTraceStore({ url: PG_URL!, schema: schema.schema, purgeIntervalMs: 0, logger: quiet });
  }, 60_000);
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await schema?.drop();
  });

  it('stores each trace exactly once and whole, never over an own trace, with consistent counters', async () => {
    const asmA = createIngestAssembler({ store: a, tracer: createTracer({ sampleRate: 1 }), claimLimit: 3, logger: quiet });
    const asmB = createIngestAssembler({ store: b, tracer: createTracer({ sampleRate: 1 }), claimLimit: 3, logger: quiet });
    const traces: TraceRecord[] = Array.from({ length: 30 }, () => makeTrace({ spans: 6, payloadChars: 40 }));
    // Children through one instance, roots through the other, as a load balancer spreads the requests.
    for (const t of traces) {
      expect(await asmA.accept([{ ...t, spans: t.spans.slice(1) }])).toMatchObject({ ok: true, rejectedSpans: 0 });
      expect(await asmB.accept([{ ...t, spans: t.spans.slice(0, 1) }])).toMatchObject({ ok: true, rejectedSpans: 0 });
    }
    // One trace id is recorded by an own run while both instances finalize.
    const contested = traces[7]!;
    const own = makeTrace({ traceId: contested.traceId, spans: 3, payloadChars: 40 });

    const [doneA, doneB] = await Promise.all([asmA.flush(), asmB.flush(), b.put([own], { origin: 'own' })]);

    // Both took part (claims of 3 alternate between them), and together finalized every trace once.
    expect(doneA).toBeGreaterThan(0);
    expect(doneB).toBeGreaterThan(0);
    expect(doneA + doneB).toBe(traces.length);
    expect(asmA.stats().sweepErrors + asmB.stats().sweepErrors).toBe(0);
    expect(await a.pendingSize()).toEqual({ spans: 0, traces: 0 });
    for (const t of traces) {
      const stored = await b.get(t.traceId);
      const ids = stored?.spans.map((s) => s.spanId) ?? [];
      expect(new Set(ids).size).toBe(ids.length);
      const want = t === contested ? own : t;
      expect([...ids].sort()).toEqual(want.spans.map((s) => s.spanId).sort());
    }
    const { rows } = await schema.pool.query<{ n: number }>(
      `SELECT COUNT(*)::int AS n FROM (SELECT trace_id, span_id FROM spans GROUP BY trace_id, span_id HAVING COUNT(*) > 1) d`,
    );
    expect(rows[0]!.n).toBe(0);

    // Counters of both instances together: every trace finalized once; the contested one either lost to the own run
    // at finalization (its 6 spans rejected) or was stored first and then replaced by the own run's record.
    const ca = a.counters();
    const cb = b.counters();
    const finalized = (ca.tracesFinalized ?? 0) + (cb.tracesFinalized ?? 0);
    const rejectedOwn = (ca.ingestSpansRejectedOwn ?? 0) + (cb.ingestSpansRejectedOwn ?? 0);
    expect((ca.tracesMerged ?? 0) + (cb.tracesMerged ?? 0)).toBe(0);
    expect((ca.lostClaims ?? 0) + (cb.lostClaims ?? 0)).toBe(0);
    expect((ca.ingestSpansAccepted ?? 0) + (cb.ingestSpansAccepted ?? 0)).toBe(traces.length * 6);
    expect([
      [traces.length, 0],
      [traces.length - 1, 6],
    ]).toContainEqual([finalized, rejectedOwn]);
    await asmA.close();
    await asmB.close();
  }, 60_000);

  it('a claim taken over after its lease expired: the late completion of the first instance stores nothing twice', async () => {
    const asmB = createIngestAssembler({ store: b, tracer: createTracer({ sampleRate: 1 }), logger: quiet });
    const t = makeTrace({ spans: 5, payloadChars: 40 });
    expect(await asmB.accept([t])).toMatchObject({ ok: true });
    const before = { a: a.counters(), b: b.counters() };
    // Instance A claims the trace and stalls past its lease; B takes it over and finalizes while A's completion lands.
    const stale = await a.claimPending({ all: true, settleMs: 0, windowMs: 60_000, limit: 10, leaseMs: 1000 });
    expect(stale).toHaveLength(1);
    const late = stale.map((c) => ({ traceId: c.traceId, claim: c.claim, spanIds: c.spans.map((p) => p.span.spanId), record: assemblePending(c.traceId, c.spans), keep: true, maxSpans: 1000 }));
    const [fromA] = await Promise.all([a.completePending(late), asmB.sweep({ all: true, now: Date.now() + 60_000 })]);
    const stored = await b.get(t.traceId);
    expect(stored?.spans.map((s) => s.spanId).sort()).toEqual(t.spans.map((s) => s.spanId).sort());
    expect(await b.pendingSize()).toEqual({ spans: 0, traces: 0 });
    const delta = (k: 'tracesFinalized' | 'tracesMerged' | 'lostClaims') => (a.counters()[k] ?? 0) - (before.a[k] ?? 0) + (b.counters()[k] ?? 0) - (before.b[k] ?? 0);
    // Whoever came first stored it; the other either lost its claim or found nothing left to claim.
    expect(delta('tracesFinalized')).toBe(1);
    expect(delta('tracesMerged')).toBe(0);
    expect(delta('lostClaims')).toBe(fromA.lostClaims);
    await asmB.close();
  }, 60_000);
});
