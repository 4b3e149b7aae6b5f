import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { context, propagation, trace as otelTrace, ROOT_CONTEXT, type TextMapGetter } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { formatTraceparent, parseTraceparent, MAX_TRACEPARENT_CHARS } from './traceparent.js';
import { createTracer } from './Tracer.js';
import { withSpan } from './context.js';
import { toOtlpJson } from './exporters/otlp.js';
import { TRACE_CONTEXT_KEY, type TraceExporter, type TraceRecord } from './model.js';
import { rootSpanIdOf } from './ids.js';
import { NOOP_TRACE } from './Trace.js';
import { officialRoundTrip } from './testing/officialOtlp.js';

// The official SDK's registration installs the W3C trace-context propagator behind @opentelemetry/api's `propagation`.
const provider = new NodeTracerProvider();
beforeAll(() => provider.register());
afterAll(() => provider.shutdown());

const getter: TextMapGetter<Record<string, string>> = { keys: (c) => Object.keys(c), get: (c, k) => c[k] };

/** A `traceparent` header exactly as an OpenTelemetry-instrumented caller sends it. */
function officialHeader(sampled: boolean): { header: string; traceId: string; spanId: string } {
  const span = otelTrace.getTracer('caller').startSpan('call agentex', {}, ROOT_CONTEXT);
  const ctx = span.spanContext();
  const carrier: Record<string, string> = {};
  const spanCtx = { ...ctx, traceFlags: sampled ? 1 : 0 };
  propagation.inject(otelTrace.setSpanContext(context.active(), spanCtx), carrier);
  span.end();
  return { header: carrier.traceparent!, traceId: ctx.traceId, spanId: ctx.spanId };
}

function memoryExporter(): TraceExporter & { traces: TraceRecord[] } {
  const traces: TraceRecord[] = [];
  return { name: 'memory', traces, export: (batch) => (traces.push(...batch), Promise.resolve()) };
}

describe('parseTraceparent', () => {
  it('reads the header the official W3C propagator writes, sampled or not', () => {
    for (const sampled of [true, false]) {
      const { header, traceId, spanId } = officialHeader(sampled);
      expect(header).toMatch(/^00-/);
      expect(parseTraceparent(header)).toEqual({ traceId, parentSpanId: spanId, sampled });
    }
  });

  it('ignores every malformed header (the spec says: start a new trace), never half-using one', () => {
    const good = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const bad = [
      undefined, 42, '', 'garbage', good.toUpperCase(), good.replace(/^00/, 'ff'), `${good}-extra`,
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1', '00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01',
      '0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g',
      `01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01${'x'.repeat(MAX_TRACEPARENT_CHARS)}`,
    ];
    for (const h of bad) expect(parseTraceparent(h), String(h)).toBeNull();
    expect(parseTraceparent(good)).toEqual({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: true });
  });

  it('reads a later version by its first four fields, as the spec asks', () => {
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-what-comes-next')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: '00f067aa0ba902b7', sampled: true,
    });
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02')!.sampled).toBe(false);
  });

  it('writes a header the official propagator reads back', () => {
    const header = formatTraceparent('4bf92f3577b34da6a3ce929d0e0e4736', '00f067aa0ba902b7', true);
    const ctx = otelTrace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: header }, getter))!;
    expect(ctx).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1, isRemote: true });
  });
});

describe('joining a caller trace', () => {
  it("the run's trace uses the caller's trace id, its root span's parent is the caller's span, and its traceparent names the root", async () => {
    const exp = memoryExporter();
    const tracer = createTracer({ sampleRate: 1, exporters: [exp] });
    const caller = officialHeader(true);
    const parent = parseTraceparent(caller.header)!;
    let header = '';
    let during = '';
    await tracer.withTrace({ agent: 'joined', traceId: parent.traceId, parentSpanId: parent.parentSpanId }, async (trace) => {
      during = trace.traceparent();
      withSpan('llm', 'chat', (span) => span.setModel('m'));
      trace.end();
      header = trace.traceparent();
    });
    await tracer.shutdown();
    const record = exp.traces[0]!;
    expect(record.traceId).toBe(caller.traceId);
    const ctx = record.metadata[TRACE_CONTEXT_KEY] as { rootSpanId: string; parentSpanId: string };
    expect(ctx.parentSpanId).toBe(caller.spanId);
    // A fresh root id, not the one derived from the trace id (a caller may derive its own ids that way).
    expect(ctx.rootSpanId).not.toBe(rootSpanIdOf(caller.traceId));
    expect(ctx.rootSpanId).not.toBe(caller.spanId);
    expect(header).toBe(`00-${caller.traceId}-${ctx.rootSpanId}-01`);
    expect(during).toBe(`00-${caller.traceId}-${ctx.rootSpanId}-00`);

    const extracted = otelTrace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: header }, getter))!;
    expect(extracted).toMatchObject({ traceId: caller.traceId, spanId: ctx.rootSpanId, traceFlags: 1 });

    const otlp = toOtlpJson(exp.traces);
    expect(officialRoundTrip(otlp)).toEqual(otlp);
    const spans = otlp.resourceSpans[0]!.scopeSpans[0]!.spans;
    const root = spans.find((s) => s.name === 'invoke_agent joined')!;
    expect(root.spanId).toBe(ctx.rootSpanId);
    expect(root.parentSpanId).toBe(caller.spanId);
    expect(root.flags).toBe(0x301);
    expect(root.attributes.map((a) => a.key)).not.toContain(`agentex.metadata.${TRACE_CONTEXT_KEY}`);
    expect(spans.find((s) => s.name === 'chat m')!.parentSpanId).toBe(ctx.rootSpanId);
  });

  it('a trace of our own keeps its derived root id and no parent; a sampled-out run says 00; the no-op trace says nothing', async () => {
    const exp = memoryExporter();
    const tracer = createTracer({ sampleRate: 0, exporters: [exp] });
    const own = tracer.startTrace('own');
    own.end();
    expect(own.rootSpanId).toBe(rootSpanIdOf(own.traceId));
    expect(own.traceparent()).toBe(`00-${own.traceId}-${own.rootSpanId}-00`);
    // A parent span id without a trace id, or a malformed one, is ignored.
    const orphan = tracer.startTrace({ parentSpanId: '00f067aa0ba902b7' });
    expect(orphan.rootSpanId).toBe(rootSpanIdOf(orphan.traceId));
    const bad = tracer.startTrace({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', parentSpanId: 'nope' });
    expect(bad.rootSpanId).toBe('a3ce929d0e0e4736');
    bad.recordError(new Error('x'));
    bad.end();
    await tracer.shutdown();
    expect(exp.traces.map((t) => t.metadata[TRACE_CONTEXT_KEY])).toEqual([undefined]);
    expect(toOtlpJson(exp.traces).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.parentSpanId).toBeUndefined();
    expect(NOOP_TRACE.traceparent()).toBe('');
    expect(NOOP_TRACE.rootSpanId).toBe('');
  });
});
