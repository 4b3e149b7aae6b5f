/**
 * Interop with the real producers under both span processors of the OpenTelemetry SDK: `SimpleSpanProcessor` (one
 * export request per ended span, children before the root) and `BatchSpanProcessor` (one request for the run), over
 * the official OTLP/HTTP protobuf and JSON exporters, into a real AgentEx service (in process, real HTTP on
 * 127.0.0.1, a SQLite file). Producers: the Vercel AI SDK 7 (OpenTelemetry and legacy integrations) with a scripted
 * model, and the official `openai` SDK against the OpenAI emulator, instrumented by OpenInference and by OpenLLMetry.
 * Each stored trace must be whole (every span, the same parent links) and debuggable. Then long runs: one whose spans
 * leave in many small batches, and one that outlives the assembly window (stored partial, completed by later spans).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIEmulator } from '../src/emulators/index.js';
import { startService, type RunningService } from '../src/server/service.js';
import type { TraceRecord } from '../src/trace/model.js';
import { expectDebuggable, expectWhole, instrumentOpenAI, providerFor, type Encoding, type Processor } from './interop/harness.js';
import { LOOKUP_OUTPUT, SESSION, USER, runAiSdk, runLongAiSdk, runOpenAIAgent } from './interop/producers.js';

const API = `api-${'p'.repeat(30)}`;
const MATRIX: [Processor, Encoding][] = [
  ['simple', 'protobuf'],
  ['simple', 'json'],
  ['batch', 'protobuf'],
  ['batch', 'json'],
];

describe('real producers with Simple and Batch span processors into an AgentEx service', () => {
  let dir: string;
  let svc: RunningService;
  const manager = new AsyncLocalStorageContextManager();

  beforeAll(async () => {
    context.setGlobalContextManager(manager.enable());
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-interop-proc-'));
    svc = await startService({
      env: { AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: `admin-${'r'.repeat(30)}`, AGENTEX_SAMPLE_RATE: '1' },
      flags: { '--port': '0', '--sqlite-path': path.join(dir, 'interop.db') },
      logger: pino({ level: 'silent' }),
    });
  }, 60_000);

  afterAll(async () => {
    manager.disable();
    context.disable();
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Everything exported has been answered (durable); assemble it now and read the stored trace. */
  async function stored(p: ReturnType<typeof providerFor>, processor: Processor): Promise<TraceRecord> {
    await p.provider.forceFlush();
    await p.provider.shutdown();
    // Simple: one request per span; Batch (forceFlush, 512 per batch): one request for the whole run.
    expect(p.exportRequests()).toBe(processor === 'simple' ? p.spans().length : 1);
    await svc.ingest.flush();
    const trace = await svc.store.get(p.traceId());
    expect(trace).not.toBeNull();
    return trace!;
  }

  for (const integration of ['otel', 'legacy'] as const) {
    it.each(MATRIX)(`Vercel AI SDK 7, ${integration} integration, %s processor, %s exporter`, async (processor, encoding) => {
      const p = providerFor(svc.url, { encoding, processor, service: 'ai-sdk-app', token: API });
      expect(await runAiSdk(p.provider.getTracer('ai'), integration)).toBe('Paris is big.');
      const trace = await stored(p, processor);
      expectWhole(trace, p.spans());
      expectDebuggable(trace, { models: ['scripted-model-1', 'scripted-model-1'], inputTokens: [100, 150] });
      expect(trace.agent).toBe('city-agent');
      expect(trace.spans.find((s) => s.kind === 'llm' && s.usage?.inputTokens === 100)).toMatchObject({ usage: { cacheReadTokens: 40 } });
      if (integration === 'otel') expect(trace.spans.filter((s) => s.kind === 'iteration')).toHaveLength(2);
    });
  }

  for (const convention of ['openinference', 'openllmetry'] as const) {
    it.each(MATRIX)(`openai SDK 6 instrumented by ${convention}, %s processor, %s exporter`, async (processor, encoding) => {
      const openai = await import('openai');
      const emulator = await startOpenAIEmulator({
        script: [
          { toolCalls: [{ name: 'lookup', input: { city: 'Paris' } }, { name: 'explode', input: { why: 'test' } }], usage: { inputTokens: 50, outputTokens: 9 } },
          { text: 'Paris is big.', usage: { inputTokens: 80, outputTokens: 5 } },
        ],
      });
      const p = providerFor(svc.url, { encoding, processor, service: `${convention}-app`, token: API });
      const disable = await instrumentOpenAI(openai, convention, p.provider);
      try {
        expect(await runOpenAIAgent(openai, emulator.url, p.provider, convention)).toBe('Paris is big.');
      } finally {
        disable();
        await emulator.close();
      }
      const trace = await stored(p, processor);
      expectWhole(trace, p.spans());
      expectDebuggable(trace, { models: ['gpt-4o-mini', 'gpt-4o-mini'], inputTokens: [50, 80] });
      expect(trace.agent).toBe('city-agent');
      expect(trace.finalOutput).toBe('Paris is big.');
    });
  }

  /** The long run's trace: one llm span per step, one tool span per lookup, all outputs there. */
  function expectLongRun(trace: TraceRecord, steps: number, agent = 'long-agent'): void {
    expect(trace.userId).toBe(USER);
    expect(trace.agent).toBe(agent);
    expect(trace.metadata).toMatchObject({ source: 'otlp', sessionId: SESSION });
    const llm = trace.spans.filter((s) => s.kind === 'llm');
    expect(llm).toHaveLength(steps + 1);
    expect(llm.map((s) => (s.kind === 'llm' ? s.usage?.inputTokens : 0)).sort((a, b) => a! - b!)).toEqual([...Array.from({ length: steps }, (_, i) => 100 + i), 999]);
    const tools = trace.spans.filter((s) => s.kind === 'tool');
    expect(tools).toHaveLength(steps);
    for (let i = 0; i < steps; i++) expect(tools.some((s) => JSON.stringify(s.output).includes(`Paris-${i}: ${LOOKUP_OUTPUT}`))).toBe(true);
  }

  it.each(['protobuf', 'json'] as const)('a long run whose spans leave in many batches of 3 (%s exporter) is stored whole', async (encoding) => {
    const steps = 12;
    const p = providerFor(svc.url, { encoding, processor: 'batch', service: 'long-app', token: API, maxExportBatchSize: 3 });
    // The batch processor exports as soon as 3 spans have ended, while the run goes on.
    expect(await runLongAiSdk(p.provider.getTracer('ai'), steps, async () => {})).toBe('Done.');
    await p.provider.forceFlush();
    await p.provider.shutdown();
    expect(p.exportRequests()).toBeGreaterThanOrEqual(Math.ceil(p.spans().length / 3));
    await svc.ingest.flush();
    const trace = (await svc.store.get(p.traceId()))!;
    expectWhole(trace, p.spans());
    expectLongRun(trace, steps);
  });

  it('a run that outlives the assembly window: stored partial, then completed by the spans that come later', async () => {
    const steps = 6;
    const p = providerFor(svc.url, { encoding: 'protobuf', processor: 'batch', service: 'long-app', token: API });
    let partial: TraceRecord | null = null;
    const text = await runLongAiSdk(p.provider.getTracer('ai'), steps, async (step) => {
      if (step !== 3) return;
      // Halfway: export what has ended, and finalize it as the end of the assembly window would (no root yet).
      await p.provider.forceFlush();
      await svc.ingest.flush();
      partial = await svc.store.get(p.spans()[0]!.spanContext().traceId);
    });
    expect(text).toBe('Done.');
    expect(partial).not.toBeNull();
    expect(partial!.metadata.partial).toBe(true);
    const early = partial!.spans.length;
    expect(early).toBeGreaterThan(0);
    await p.provider.forceFlush();
    await p.provider.shutdown();
    await svc.ingest.flush();
    const trace = (await svc.store.get(p.traceId()))!;
    expect(trace.spans.length).toBeGreaterThan(early);
    expectWhole(trace, p.spans());
    // The spans stored early are unchanged by the merge.
    for (const s of partial!.spans) expect(trace.spans.find((t) => t.spanId === s.spanId)).toEqual(s);
    // The trace-level agent was decided when the partial trace was stored (no agent span yet: the service name); the
    // root's agent name that came later does not rewrite it (merges fill empty fields only).
    expect(partial!.agent).toBe('long-app');
    expectLongRun(trace, steps, 'long-app');
    expect(trace.spans.find((s) => s.parentId === null)).toMatchObject({ kind: 'agent', name: expect.stringContaining('long-agent') });
  });
});
