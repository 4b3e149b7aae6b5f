/**
 * What the interop tests share: a tracer provider exporting to AgentEx through the official OTLP exporter (protobuf or
 * JSON, `SimpleSpanProcessor` or `BatchSpanProcessor`) with an in-memory copy of every span, the instrumentation of the
 * `openai` SDK by OpenInference or OpenLLMetry, and the assertions on a stored trace: whole (every span, the same parent
 * links) and debuggable (every model call with model and tokens, every tool call with name, input and output, the
 * failing tool's error, the user and session).
 */
import type { ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OTLPProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type OpenAIClass from 'openai';
import { expect } from 'vitest';
import type { SpanRecord, TraceRecord } from '../../src/trace/model.js';
import { EXPLODE_ERROR, LOOKUP_OUTPUT, SESSION, USER } from './producers.js';

export type Encoding = 'protobuf' | 'json';
export type Processor = 'simple' | 'batch';

/** The official exporter, with a count of the export requests it was given (one per HTTP request). */
class CountingExporter implements SpanExporter {
  requests = 0;
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.requests++;
    this.inner.export(spans, done);
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export interface ProviderOptions {
  encoding: Encoding;
  processor: Processor;
  service: string;
  token: string;
  /** BatchSpanProcessor only: spans per export request (default 512, the SDK's). */
  maxExportBatchSize?: number;
}

/** A provider exporting to `${url}/v1/traces`; `traceId()` is the one trace the run made (asserted). */
export function providerFor(url: string, o: ProviderOptions) {
  const options = { url: `${url}/v1/traces`, headers: { Authorization: `Bearer ${o.token}` } };
  const exporter = new CountingExporter(o.encoding === 'protobuf' ? new OTLPProtoExporter(options) : new OTLPHttpJsonExporter(options));
  // Its own list, not InMemorySpanExporter's (cleared by the provider's shutdown).
  const ended: ReadableSpan[] = [];
  const processor =
    o.processor === 'simple'
      ? new SimpleSpanProcessor(exporter)
      : new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000, ...(o.maxExportBatchSize ? { maxExportBatchSize: o.maxExportBatchSize } : {}) });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': o.service }),
    spanProcessors: [processor, { onStart: () => {}, onEnd: (span) => void ended.push(span), forceFlush: async () => {}, shutdown: async () => {} }],
  });
  const spans = (): readonly ReadableSpan[] => ended;
  const traceId = () => {
    const ids = new Set(spans().map((s) => s.spanContext().traceId));
    expect(ids.size).toBe(1);
    return [...ids][0]!;
  };
  return { provider, traceId, spans, exportRequests: () => exporter.requests };
}

/** The stored trace holds every span the producer ended, each under the same parent (the root under none). */
export function expectWhole(trace: TraceRecord, produced: readonly ReadableSpan[]): void {
  const expected = Object.fromEntries(produced.map((s) => [s.spanContext().spanId, s.parentSpanContext?.spanId ?? null]));
  const stored = Object.fromEntries(trace.spans.map((s) => [s.spanId, s.parentId]));
  expect(stored).toEqual(expected);
  expect(trace.spans.filter((s) => s.parentId === null)).toHaveLength(1);
  expect(trace.metadata.partial).toBeUndefined();
}

/** What a person debugging the run needs to see, whatever the convention. */
export function expectDebuggable(trace: TraceRecord, expected: { models: string[]; inputTokens: number[] }): void {
  expect(trace.userId).toBe(USER);
  expect(trace.status).toBe('error');
  const llm = trace.spans.filter((s): s is Extract<SpanRecord, { kind: 'llm' }> => s.kind === 'llm');
  expect(llm.map((s) => s.model)).toEqual(expected.models);
  expect(llm.map((s) => s.usage?.inputTokens).sort((a, b) => a! - b!)).toEqual(expected.inputTokens);
  for (const s of llm) {
    expect(s.usage!.outputTokens).toBeGreaterThan(0);
    expect(s.input).toBeDefined();
    expect(s.output).toBeDefined();
  }
  const tools = trace.spans.filter((s): s is Extract<SpanRecord, { kind: 'tool' }> => s.kind === 'tool');
  const lookup = tools.find((s) => s.toolName === 'lookup')!;
  const explode = tools.find((s) => s.toolName === 'explode')!;
  expect(JSON.stringify(lookup.input)).toMatch(/Paris/);
  expect(JSON.stringify(lookup.output)).toContain(LOOKUP_OUTPUT);
  expect(lookup.status).toBe('ok');
  expect(explode.status).toBe('error');
  expect(explode.error?.message).toContain(EXPLODE_ERROR);
  expect(trace.metadata).toMatchObject({ source: 'otlp', sessionId: SESSION });
}

interface OpenAIModule {
  default: typeof OpenAIClass;
}

/** Instruments the `openai` module with OpenInference or OpenLLMetry for `provider`; returns the undo. */
export async function instrumentOpenAI(openai: OpenAIModule, convention: 'openinference' | 'openllmetry', provider: BasicTracerProvider): Promise<() => void> {
  if (convention === 'openinference') {
    const { OpenAIInstrumentation } = await import('@arizeai/openinference-instrumentation-openai');
    const inst = new OpenAIInstrumentation({ tracerProvider: provider });
    // Its declared parameter type is the class, but it patches `module.OpenAI`: the module namespace is what it needs.
    inst.manuallyInstrument(openai as unknown as Parameters<typeof inst.manuallyInstrument>[0]);
    return () => inst.disable();
  }
  const { OpenAIInstrumentation } = await import('@traceloop/instrumentation-openai');
  const inst = new OpenAIInstrumentation();
  inst.setTracerProvider(provider);
  inst.manuallyInstrument(openai.default);
  return () => inst.disable();
}
