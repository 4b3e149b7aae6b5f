/**
 * Tracing core vs @opentelemetry/sdk-trace-base (BasicTracerProvider + BatchSpanProcessor + a no-op exporter), same
 * process run. Per-span cases run traces of SPANS_PER_TRACE child spans (start, 5 attributes, end) plus the trace's
 * own start/end, and include the batch processors' work (our redaction and bounds run for every kept trace).
 */
import { context, trace as otelTrace } from '@opentelemetry/api';
import {
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  TraceIdRatioBasedSampler,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { createTracer, startSpan, createRedactor, type TraceExporter, type Tracer } from '../src/trace/index.js';
import { formatBytes, formatNs, heapAfterGc, measureAsync, table, type BenchSuite } from './lib.js';

const SPANS_PER_TRACE = 100;

function otelProvider(sampler: AlwaysOnSampler | TraceIdRatioBasedSampler, maxQueueSize: number) {
  let exported = 0;
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done) {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  const processor = new BatchSpanProcessor(exporter, { maxQueueSize, maxExportBatchSize: 512, scheduledDelayMillis: 1000 });
  const provider = new BasicTracerProvider({ sampler, spanProcessors: [processor] });
  return { provider, tracer: provider.getTracer('bench'), exported: () => exported };
}

function noopExporter(): TraceExporter & { spans: number; traces: number } {
  const ex = {
    name: 'noop',
    spans: 0,
    traces: 0,
    export(batch: readonly { spans: unknown[] }[]) {
      ex.traces += batch.length;
      for (const t of batch) ex.spans += t.spans.length;
      return Promise.resolve();
    },
  };
  return ex;
}

function oursTrace(tracer: Tracer, spans: number): void {
  tracer.withTrace('bench', () => {
    for (let i = 0; i < spans; i++) {
      const span = startSpan('custom', 'op');
      span.setAttribute('a', 1).setAttribute('b', 'two').setAttribute('c', true).setAttribute('d', 4.5).setAttribute('e', 'five');
      span.end();
    }
  });
}

function otelTraceOnce(t: ReturnType<typeof otelProvider>['tracer'], spans: number): void {
  const root = t.startSpan('bench');
  const ctx = otelTrace.setSpan(context.active(), root);
  for (let i = 0; i < spans; i++) {
    const span = t.startSpan('op', undefined, ctx);
    span.setAttribute('a', 1);
    span.setAttribute('b', 'two');
    span.setAttribute('c', true);
    span.setAttribute('d', 4.5);
    span.setAttribute('e', 'five');
    span.end();
  }
  root.end();
}

const suite: BenchSuite = {
  name: 'trace',
  title: 'Tracing core vs OpenTelemetry JS SDK',
  async run({ smoke }) {
    const iterations = smoke ? 20 : 2000;
    const rounds = smoke ? 1 : 7;
    const warmup = smoke ? 5 : 500;
    const rows: string[][] = [];
    const notes: string[] = [];

    // 1. recorded span, trace kept
    const keptEx = noopExporter();
    const kept = createTracer({ sampleRate: 1, exporters: [keptEx], processor: { maxQueueSize: 4096 } });
    const oursKept = (await measureAsync(async () => oursTrace(kept, SPANS_PER_TRACE), { iterations, rounds, warmup })) / (SPANS_PER_TRACE + 1);
    await kept.forceFlush();
    const otelOn = otelProvider(new AlwaysOnSampler(), 1_000_000);
    const otelKept = (await measureAsync(async () => otelTraceOnce(otelOn.tracer, SPANS_PER_TRACE), { iterations, rounds, warmup })) / (SPANS_PER_TRACE + 1);
    await otelOn.provider.forceFlush();
    const ks = kept.stats().processor;
    rows.push(['recorded span (start, 5 attributes, end), trace kept', formatNs(oursKept), `${formatNs(otelKept)} (AlwaysOn)`, `${(oursKept / otelKept).toFixed(2)}×`, '≤ 0.33×']);
    notes.push(`kept run: ${ks.exported} traces exported, ${ks.dropped} dropped (counted), ${ks.lost} lost.`);

    // 2. recorded span, trace ends up sampled out
    const outEx = noopExporter();
    const out = createTracer({ sampleRate: 0, exporters: [outEx] });
    const oursOut = (await measureAsync(async () => oursTrace(out, SPANS_PER_TRACE), { iterations, rounds, warmup })) / (SPANS_PER_TRACE + 1);
    const otelRatio = otelProvider(new TraceIdRatioBasedSampler(0.1), 1_000_000);
    const otelOut = (await measureAsync(async () => otelTraceOnce(otelRatio.tracer, SPANS_PER_TRACE), { iterations, rounds, warmup })) / (SPANS_PER_TRACE + 1);
    await otelRatio.provider.forceFlush();
    rows.push(['same span, trace sampled out at its end', formatNs(oursOut), `${formatNs(otelOut)} (TraceIdRatioBased 0.1)`, `${(oursOut / otelOut).toFixed(2)}×`, '≤ 0.20×']);

    // 3. redaction of a 2 KB tool input with no secrets
    const redactor = createRedactor();
    const input = 'The agent searched the web for recent results about climate policy in the EU, compared three sources, and summarised the differences for the user. '.repeat(14).slice(0, 2048);
    const redactNs = await measureAsync(async () => redactor.redactString(input), { iterations: smoke ? 50 : 50_000, rounds, warmup: smoke ? 5 : 5000 });
    const objInput = { query: input.slice(0, 512), filters: { site: 'europa.eu', lang: 'en' }, context: [input.slice(512, 1024), input.slice(1024, 2048)] };
    const redactObjNs = await measureAsync(async () => redactor.redact(objInput), { iterations: smoke ? 50 : 50_000, rounds, warmup: smoke ? 5 : 5000 });
    rows.push(['redaction of a 2 KB tool input string, no secrets', formatNs(redactNs), 'n/a (no redaction)', '', 'report']);
    rows.push(['redaction of a 2 KB tool input object, no secrets', formatNs(redactObjNs), 'n/a (no redaction)', '', 'report']);

    // 4. 10,000 spans in a synchronous burst: every drop counted
    const burst = smoke ? 1000 : 10_000;
    const burstEx = noopExporter();
    const burstTracer = createTracer({ sampleRate: 1, exporters: [burstEx] });
    for (let i = 0; i < burst; i++) oursTrace(burstTracer, 0 + 1);
    await burstTracer.forceFlush();
    const bs = burstTracer.stats().processor;
    const oneTraceEx = noopExporter();
    const oneTrace = createTracer({ sampleRate: 1, exporters: [oneTraceEx] });
    oursTrace(oneTrace, burst);
    await oneTrace.forceFlush();
    const otelBurst = otelProvider(new AlwaysOnSampler(), 2048);
    for (let i = 0; i < burst; i++) otelTraceOnce(otelBurst.tracer, 0);
    await otelBurst.provider.forceFlush();
    const otelBurstLost = burst - otelBurst.exported();
    rows.push([
      `${burst.toLocaleString('en')} single-span traces in a synchronous burst`,
      `${bs.exported} exported + ${bs.dropped} dropped, all counted (stats().processor.dropped); 0 silent`,
      `${otelBurst.exported()} exported, ${otelBurstLost} lost silently (default queue 2,048; only a diag warning)`,
      '',
      '0 lost silently',
    ]);
    rows.push([
      `${burst.toLocaleString('en')} spans in one trace`,
      `${oneTraceEx.spans} recorded + ${oneTrace.stats().droppedSpans} counted in droppedSpans (maxSpans 1,000), trace flagged truncated`,
      '',
      '',
      '0 lost silently',
    ]);

    // 5. heap retained after 1e6 spans and a flush
    const totalSpans = smoke ? 10_000 : 1_000_000;
    const heapTraces = totalSpans / SPANS_PER_TRACE;
    const before = await heapAfterGc();
    const heapEx = noopExporter();
    const heapTracer = createTracer({ exporters: [heapEx] });
    for (let i = 0; i < heapTraces; i++) {
      oursTrace(heapTracer, SPANS_PER_TRACE);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await heapTracer.forceFlush();
    const oursHeap = (await heapAfterGc()) - before;
    const before2 = await heapAfterGc();
    const heapOtel = otelProvider(new TraceIdRatioBasedSampler(0.1), 2048);
    for (let i = 0; i < heapTraces; i++) {
      otelTraceOnce(heapOtel.tracer, SPANS_PER_TRACE);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    await heapOtel.provider.forceFlush();
    const otelHeap = (await heapAfterGc()) - before2;
    rows.push([`heap retained after ${totalSpans.toLocaleString('en')} spans and a flush (after GC), default sampling`, formatBytes(Math.max(0, oursHeap)), formatBytes(Math.max(0, otelHeap)), '', '< 1 MB']);
    notes.push(`heap run: ${heapTracer.stats().kept} of ${heapTraces} traces kept (10%), ${heapTracer.stats().processor.exported} exported, ${heapTracer.stats().processor.dropped} dropped (counted).`);

    for (const t of [kept, out, burstTracer, oneTrace, heapTracer]) await t.shutdown();
    for (const p of [otelOn, otelRatio, otelBurst, heapOtel]) await p.provider.shutdown();

    return {
      markdown: [
        table(['case', 'AgentEx', '@opentelemetry/sdk-trace-base 2.12', 'ratio', 'goal'], rows),
        '',
        `Per-span numbers: traces of ${SPANS_PER_TRACE} child spans + the trace itself, divided by ${SPANS_PER_TRACE + 1}; each side includes its batch processor (ours also redacts, bounds and builds the record of every kept trace). OpenTelemetry's queue is raised to 1,000,000 in the per-span cases so it does not get cheaper by dropping.`,
        ...notes.map((n) => `- ${n}`),
      ].join('\n'),
    };
  },
};

export default suite;
