/**
 * The natural tracing shape agents use, on both sides, for `trace.bench.ts` and for profiling
 * (`node --cpu-prof --import tsx bench/traceProfile.ts`):
 *   ours:  `await withTrace(name, async () => { for (...) await withSpan(kind, name, async (s) => { 5 attributes }) })`
 *          through the module-level API and the default tracer (`setDefaultTracer`), as README shows;
 *   OTel:  `tracer.startActiveSpan(name, async (root) => { for (...) await tracer.startActiveSpan(name, async (span) =>
 *          { 5 attributes; span.end() }); root.end() })` with the AsyncLocalStorage context manager of
 *          sdk-trace-node, a BatchSpanProcessor (default options) and a discarding exporter.
 */
import { context, type Tracer as OtelTracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, BatchSpanProcessor, TraceIdRatioBasedSampler, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { createTracer, setDefaultTracer, withSpan, withTrace, type TraceExporter, type Tracer, type TracerOptions } from '../src/trace/index.js';

/** A discarding exporter of ours that counts what it was handed. */
export function noopExporter(): TraceExporter & { spans: number; traces: number } {
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

/** Builds a tracer and makes it the default one, as an application does at startup. */
export function installDefaultTracer(options: TracerOptions): { tracer: Tracer; exporter: ReturnType<typeof noopExporter> } {
  const exporter = noopExporter();
  const tracer = createTracer({ ...options, exporters: [exporter] });
  setDefaultTracer(tracer);
  return { tracer, exporter };
}

/** One trace of `spans` child spans with 5 attributes each, through the module-level API and the default tracer. */
export function oursTrace(spans: number): Promise<void> {
  return withTrace('bench', async () => {
    for (let i = 0; i < spans; i++) {
      await withSpan('custom', 'op', async (s) => {
        s.setAttribute('a', 1).setAttribute('b', 'two').setAttribute('c', true).setAttribute('d', 4.5).setAttribute('e', 'five');
      });
    }
  });
}

let contextManagerSet = false;

export interface OtelSide {
  tracer: OtelTracer;
  flush: () => Promise<void>;
  shutdown: () => Promise<void>;
  exported: () => number;
}

/** An OpenTelemetry SDK set up as its docs show for Node: BatchSpanProcessor with its defaults, discarding exporter. */
export function otelSide(sampler: AlwaysOnSampler | TraceIdRatioBasedSampler, batch: { maxQueueSize?: number } = {}): OtelSide {
  if (!contextManagerSet) {
    // What NodeTracerProvider.register() installs; set once here so several providers can share it.
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  let exported = 0;
  const exporter: SpanExporter = {
    export(spans: ReadableSpan[], done) {
      exported += spans.length;
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  const provider = new NodeTracerProvider({ sampler, spanProcessors: [new BatchSpanProcessor(exporter, batch)] });
  return {
    tracer: provider.getTracer('bench'),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
    exported: () => exported,
  };
}

/** The same trace shape with OpenTelemetry's natural async API. */
export function otelTrace(tracer: OtelTracer, spans: number): Promise<void> {
  return tracer.startActiveSpan('bench', async (root) => {
    for (let i = 0; i < spans; i++) {
      await tracer.startActiveSpan('op', async (span) => {
        span.setAttribute('a', 1);
        span.setAttribute('b', 'two');
        span.setAttribute('c', true);
        span.setAttribute('d', 4.5);
        span.setAttribute('e', 'five');
        span.end();
      });
    }
    root.end();
  });
}

export { AlwaysOnSampler, TraceIdRatioBasedSampler };
