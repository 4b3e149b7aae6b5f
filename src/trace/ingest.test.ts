import { afterEach, describe, expect, it } from 'vitest';
import { createTracer, type Tracer, type TraceEndEvent } from './Tracer.js';
import { withSpan } from './context.js';
import { newSpanId, newTraceId } from './ids.js';
import { traceIdRatio } from './sampler.js';
import type { SpanRecord, TraceExporter, TraceRecord } from './model.js';

function memoryExporter(): TraceExporter & { traces: TraceRecord[] } {
  const traces: TraceRecord[] = [];
  return { name: 'memory', traces, export: (batch) => (traces.push(...batch), Promise.resolve()) };
}

const tracers: Tracer[] = [];
function make(options: Parameters<typeof createTracer>[0] = {}) {
  const t = createTracer({ sampleRate: 1, ...options });
  tracers.push(t);
  return t;
}
afterEach(async () => {
  await Promise.all(tracers.splice(0).map((t) => t.shutdown()));
});

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXZhbHVlLWhlcmU';
const OPENAI = 'sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD';

function span(over: Partial<SpanRecord> & Record<string, unknown> = {}): SpanRecord {
  return {
    spanId: newSpanId(),
    parentId: null,
    kind: 'custom',
    name: 'op',
    startedAt: 1000,
    endedAt: 1010,
    durationMs: 10,
    status: 'ok',
    attributes: {},
    ...over,
  };
}

function record(over: Partial<TraceRecord> = {}): TraceRecord {
  return {
    traceId: newTraceId(),
    userId: 'u1',
    agent: 'remote-agent',
    startedAt: 1000,
    endedAt: 1050,
    durationMs: 50,
    status: 'success',
    iterations: 1,
    finalOutput: null,
    metadata: { source: 'otlp' },
    spans: [span()],
    droppedSpans: 0,
    truncated: false,
    ...over,
  };
}

describe('Tracer.ingest', () => {
  it('redacts every string of a kept trace: inputs, outputs, errors, attributes, metadata, final output', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp] });
    const result = t.ingest([
      record({
        status: 'error',
        finalOutput: `done, token=${OPENAI}`,
        metadata: { source: 'otlp', resource: { 'service.name': 'other', api_key: 'plain-value' }, note: `Bearer ${JWT}` },
        spans: [
          span({
            kind: 'tool',
            toolName: 'fetch',
            circuit: 'fetch-breaker',
            input: { url: 'https://bob:hunter2secret@example.com/x', password: 'p4ss', query: 'weather in Paris' },
            output: `got ${OPENAI}`,
            status: 'error',
            error: { type: 'HttpError', message: `401 for Authorization: Bearer ${JWT}`, code: 'E401' },
            attributes: { 'http.header.authorization': 'Basic dXNlcjpwYXNz', 'gen_ai.tool.name': 'fetch', note: `key is ${OPENAI}`, n: 3 },
          }),
        ],
      }),
    ]);
    expect(result).toEqual({ kept: 1, sampledOut: 0, dropped: 0 });
    await t.forceFlush();
    const rec = exp.traces[0]!;
    const json = JSON.stringify(rec);
    for (const secret of [OPENAI, JWT, 'hunter2secret', 'p4ss', 'plain-value', 'dXNlcjpwYXNz']) expect(json).not.toContain(secret);
    const s = rec.spans[0]!;
    expect(s).toMatchObject({ kind: 'tool', toolName: 'fetch', circuit: 'fetch-breaker', status: 'error' });
    expect(s.input).toMatchObject({ url: 'https://bob:[REDACTED:url_password]@example.com/x', password: '[REDACTED:password]', query: 'weather in Paris' });
    expect(s.output).toBe('got [REDACTED:openai_key]');
    expect(s.error).toEqual({ type: 'HttpError', message: '401 for Authorization: Bearer [REDACTED:jwt]', code: 'E401' });
    expect(s.attributes).toMatchObject({ 'http.header.authorization': '[REDACTED:authorization]', note: 'key is [REDACTED:openai_key]', n: 3 });
    expect(rec.metadata).toMatchObject({ source: 'otlp', resource: { 'service.name': 'other', api_key: '[REDACTED:apikey]' }, note: 'Bearer [REDACTED:jwt]' });
    // An ingested trace keeps its own service metadata: it is not stamped with ours.
    expect(rec.metadata.service).toBeUndefined();
    expect(rec.finalOutput).toBe('done, token=[REDACTED:openai_key]');
    expect(rec.keepReason).toBe('error');
  });

  it('applies the span cap, field caps with markers and the byte cap', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], bounds: { maxSpans: 3, maxInputChars: 20, maxToolOutputChars: 30, maxAttributes: 2, maxTraceBytes: 4096 } });
    const spans = Array.from({ length: 5 }, () => span({ kind: 'tool', input: 'i'.repeat(100), output: 'o '.repeat(100), attributes: { a: 1, b: 2, c: 3, 'agentex.dropped_attributes': 4 } }));
    t.ingest([record({ spans, droppedSpans: 2, finalOutput: 'f'.repeat(5000) })]);
    // A second trace whose payloads only fit once the byte cap cuts them.
    const big = Array.from({ length: 3 }, () => span({ output: 'word '.repeat(5000), attributes: { a: 'y '.repeat(400), b: 'z '.repeat(400) } }));
    t.ingest([record({ spans: big })]);
    await t.forceFlush();
    const [rec, capped] = exp.traces as [TraceRecord, TraceRecord];
    expect(rec.spans).toHaveLength(3);
    expect(rec.droppedSpans).toBe(2 + 2);
    expect(rec.truncated).toBe(true);
    expect(rec.spans[0]!.input).toBe('…[truncated 100 chars]');
    expect(rec.spans[0]!.output).toMatch(/^(o ){15}…\[truncated 170 chars\]$/);
    expect(rec.spans[0]!.attributes).toEqual({ a: 1, b: 2, 'agentex.dropped_attributes': 5 });
    expect(rec.finalOutput).toMatch(/^…\[truncated 5000 chars\]$|^f*…\[truncated \d+ chars\]$/);
    expect(rec.finalOutput!.length).toBeLessThan(1100);
    expect(Buffer.byteLength(JSON.stringify(capped))).toBeLessThanOrEqual(4096);
    expect(capped.truncated).toBe(true);
  });

  it('samples ingested traces exactly as our own traces with the same ids', async () => {
    const t = make({ sampleRate: 0.3 });
    const ids = Array.from({ length: 200 }, () => newTraceId());
    const ownEvents: TraceEndEvent[] = [];
    const off = t.onTraceEnd((e) => ownEvents.push(e));
    for (const traceId of ids) await t.withTrace({ traceId }, async () => withSpan('custom', 'x', () => 1));
    off();
    const ingestEvents: TraceEndEvent[] = [];
    t.onTraceEnd((e) => ingestEvents.push(e));
    const result = t.ingest(ids.map((traceId) => record({ traceId })));
    expect(ingestEvents.map((e) => e.keepReason)).toEqual(ownEvents.map((e) => e.keepReason));
    const expectedKept = ids.filter((id) => traceIdRatio(id) < 0.3).length;
    expect(result).toEqual({ kept: expectedKept, sampledOut: 200 - expectedKept, dropped: 0 });
    expect(expectedKept).toBeGreaterThan(20);
    expect(expectedKept).toBeLessThan(120);
    // Errors, timeouts and slow traces are kept whatever the rate.
    const t0 = make({ sampleRate: 0, slowThresholdMs: 1000 });
    const events: TraceEndEvent[] = [];
    t0.onTraceEnd((e) => events.push(e));
    const r0 = t0.ingest([
      record({ status: 'error' }),
      record({ status: 'timeout' }),
      record({ startedAt: 0, endedAt: 5000 }),
      record(),
      // Still running upstream: its duration runs to its latest span end.
      record({ status: 'running', endedAt: null, startedAt: 0, spans: [span({ startedAt: 0, endedAt: 1500 })] }),
    ]);
    expect(r0).toEqual({ kept: 4, sampledOut: 1, dropped: 0 });
    expect(events.map((e) => e.keepReason)).toEqual(['error', 'timeout', 'slow', null, 'slow']);
    expect(events[2]).toMatchObject({ status: 'success', durationMs: 5000, kept: true, spanCount: 1, agent: 'remote-agent' });
    expect(events[4]).toMatchObject({ status: 'running', durationMs: 1500 });
  });

  it('counts malformed records as dropped without throwing, and counts the rest like ended traces', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp], sampleRate: 0 });
    const bad: unknown[] = [
      null,
      'trace',
      record({ traceId: 'abc' }),
      record({ traceId: '0'.repeat(32) }),
      record({ traceId: newTraceId().toUpperCase() }),
      record({ status: 'weird' as never }),
      record({ startedAt: Number.NaN }),
      record({ endedAt: 10 }),
      record({ spans: 'no' as never }),
      record({ spans: [span({ spanId: 'xyz' })] }),
      record({ spans: [span({ parentId: '123' })] }),
      record({ spans: [span({ kind: 'robot' as never })] }),
      record({ spans: [span({ status: 'fine' as never })] }),
      record({ spans: [span({ endedAt: 5 })] }),
      record({ spans: [span({ attributes: [1] as never })] }),
      // Past the span cap, spans are still validated: the record is dropped whole.
      record({ spans: [span(), span(), { nope: true } as never] }),
    ];
    const tc = make({ exporters: [exp], sampleRate: 0, bounds: { maxSpans: 2 } });
    expect(tc.ingest([bad.pop()] as never)).toEqual({ kept: 0, sampledOut: 0, dropped: 1 });
    const good = [record({ status: 'error' }), record()];
    const result = t.ingest([...bad, ...good] as TraceRecord[]);
    expect(result).toEqual({ kept: 1, sampledOut: 1, dropped: bad.length });
    expect(t.ingest('nope' as never)).toEqual({ kept: 0, sampledOut: 0, dropped: 0 });
    expect(t.stats()).toMatchObject({ started: 0, ingested: 2, ingestDropped: bad.length, ended: 2, kept: 1, sampledOut: 1, internalErrors: 0 });
    await t.forceFlush();
    expect(exp.traces).toHaveLength(1);
    expect(t.stats().processor).toMatchObject({ enqueued: 1, exported: 1 });
  });

  it('renders hostile foreign values safely', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp] });
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const result = t.ingest([
      record({
        userId: { id: 1 } as never,
        agent: 42 as never,
        iterations: -3,
        finalOutput: cyclic as never,
        metadata: { n: 1n },
        spans: [
          span({
            kind: 'llm',
            model: 'gpt',
            usage: { inputTokens: 'x' as never, outputTokens: 7 },
            stopReason: 'end',
            name: 5 as never,
            input: cyclic,
            error: 'boom' as never,
            attributes: { obj: { a: 1 } as never, list: [1, { b: 2 }] as never, fn: (() => 1) as never },
          }),
          span({ kind: 'llm', usage: 'nope' as never }),
        ],
      }),
    ]);
    expect(result.kept).toBe(1);
    await t.forceFlush();
    const rec = exp.traces[0]!;
    expect(rec).toMatchObject({ userId: '{"id":1}', agent: '42', iterations: 0, finalOutput: '{"self":"[Circular]"}', metadata: { n: '1n' } });
    expect(rec.spans[0]).toMatchObject({
      name: '5',
      model: 'gpt',
      usage: { inputTokens: 0, outputTokens: 7 },
      stopReason: 'end',
      input: { self: '[Circular]' },
      error: { type: 'string', message: 'boom' },
      attributes: { obj: '{"a":1}', list: ['1', '{"b":2}'], fn: '[Function fn]' },
    });
    expect(rec.spans[1]!).not.toHaveProperty('usage');
  });

  it('keeps cache token counts when they are non-negative numbers, and only then', async () => {
    const exp = memoryExporter();
    const t = make({ exporters: [exp] });
    t.ingest([
      record({
        spans: [
          span({ kind: 'llm', usage: { inputTokens: 10, outputTokens: 2, cacheReadTokens: 8, cacheWriteTokens: 0 } }),
          span({ kind: 'llm', usage: { inputTokens: 10, outputTokens: 2, cacheReadTokens: -1, cacheWriteTokens: 'x' as never } }),
        ],
      }),
    ]);
    await t.forceFlush();
    const [a, b] = exp.traces[0]!.spans as [SpanRecord & { usage?: unknown }, SpanRecord & { usage?: unknown }];
    expect(a.usage).toEqual({ inputTokens: 10, outputTokens: 2, cacheReadTokens: 8, cacheWriteTokens: 0 });
    expect(b.usage).toEqual({ inputTokens: 10, outputTokens: 2 });
  });

  it('drops everything after shutdown and on a disabled tracer', async () => {
    const t = make();
    await t.shutdown();
    expect(t.ingest([record()])).toEqual({ kept: 0, sampledOut: 0, dropped: 1 });
    expect(t.stats()).toMatchObject({ ended: 0, ingestDropped: 1 });
    const off = make({ enabled: false });
    expect(off.ingest([record()])).toEqual({ kept: 0, sampledOut: 0, dropped: 1 });
  });
});

describe('Tracer.prepareIngested and settleIngested (assembly in the store)', () => {
  it('redacts and bounds a piece before it is stored, without counting it as an ended trace', () => {
    const tracer = make({ bounds: { maxSpans: 2 } });
    const piece = tracer.prepareIngested(record({ spans: [span({ input: { api_key: OPENAI, note: `token ${JWT}` } }), span(), span()] }));
    expect(JSON.stringify(piece)).not.toContain(OPENAI);
    expect(JSON.stringify(piece)).not.toContain(JWT);
    expect(piece?.spans).toHaveLength(2);
    expect(piece?.droppedSpans).toBe(1);
    expect(tracer.stats()).toMatchObject({ ingested: 0, ended: 0, ingestDropped: 0 });
    expect(tracer.prepareIngested({ ...record(), traceId: 'bad' })).toBeNull();
    expect(tracer.stats().ingestDropped).toBe(1);
  });

  it('samples the assembled trace once: errors kept, successes at the rate, a stored trace not counted again', async () => {
    const tracer = make({ sampleRate: 0 });
    const events: TraceEndEvent[] = [];
    tracer.onTraceEnd((e) => events.push(e));
    const failing = tracer.settleIngested(record({ status: 'error', spans: [span(), span({ status: 'error' })] }));
    expect(failing).toMatchObject({ keep: true, record: { keepReason: 'error' } });
    const fine = tracer.settleIngested(record());
    expect(fine?.keep).toBe(false);
    expect(tracer.stats()).toMatchObject({ ingested: 2, ended: 2, kept: 1, sampledOut: 1 });
    expect(events.map((e) => e.kept)).toEqual([true, false]);
    const merged = tracer.settleIngested(record(), true);
    expect(merged?.keep).toBe(true);
    expect(tracer.stats().ingested).toBe(2);
    expect(tracer.settleIngested({ ...record(), spans: 'x' } as never)).toBeNull();
    // After shutdown new pieces are refused, but acknowledged spans are still finalized on the way out.
    await tracer.shutdown();
    expect(tracer.prepareIngested(record())).toBeNull();
    expect(tracer.settleIngested(record({ status: 'error' }))?.keep).toBe(true);
  });
});
