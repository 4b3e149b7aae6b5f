/**
 * Shared setup of the chaos suite: the four emulators over real HTTP on 127.0.0.1, a fresh circuit registry, the real
 * web_search tool and registry, a guarded Anthropic provider pointed at the emulator, and a tracer exporting every
 * trace (sample rate 1) into a real SQLite trace store in a temp dir. `trace(id)` flushes and reads a run back from
 * the store, so every assertion is about what was actually persisted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { faults, startEmulators, type EmulatorHandler, type EmulatorSet, type ModelReply, type RecordedRequest } from '../../src/emulators/index.js';
import { CircuitRegistry, type StateChangeEvent } from '../../src/resilience/index.js';
import { createSqliteTraceStore, createTraceStoreExporter, type TraceStore } from '../../src/store/index.js';
import { createToolRegistry, type ToolRegistry } from '../../src/tools/registry.js';
import { exaSearch, tavilySearch } from '../../src/tools/search/index.js';
import { webSearchTool, type WebSearchToolOptions } from '../../src/tools/webSearch.js';
import { datetimeTool } from '../../src/tools/datetime.js';
import type { TraceExporter, TraceRecord, SpanRecord, ToolSpanRecord, LlmSpanRecord } from '../../src/trace/model.js';
import { createTracer, type Tracer, type TracerOptions } from '../../src/trace/Tracer.js';
import { guardedProvider, type GuardOptions } from '../../src/agent/guardedProvider.js';
import { anthropicProvider } from '../../src/agent/providers/anthropic.js';
import type { ModelProvider } from '../../src/agent/providers/types.js';
import { runAgent, type RunAgentOptions, type RunAgentResult } from '../../src/agent/runAgent.js';

export { faults };

export interface ChaosOptions {
  /** Wraps the store exporter (scenario 7). */
  wrapExporter?: (exporter: TraceExporter, store: TraceStore) => TraceExporter;
  processor?: TracerOptions['processor'];
  search?: Pick<WebSearchToolOptions, 'breaker' | 'cache'>;
  guard?: Omit<GuardOptions, 'circuits'>;
}

export interface Chaos {
  emu: EmulatorSet;
  circuits: CircuitRegistry;
  store: TraceStore;
  tracer: Tracer;
  tools: ToolRegistry;
  provider: ModelProvider;
  dbPath: string;
  /** Every circuit transition, in order. */
  transitions: StateChangeEvent[];
  /** The query the scripted model searches for next. */
  query: string;
  run(options?: Partial<RunAgentOptions>): Promise<RunAgentResult>;
  /** Flushes the tracer and reads the trace back from the SQLite store. */
  trace(traceId: string): Promise<TraceRecord>;
  close(): Promise<void>;
}

/** A string shaped like an Anthropic key, built at run time so no secret-looking literal sits in the repo. */
export function fakeSecret(): string {
  return ['sk', 'ant', 'api03', randomBytes(18).toString('hex')].join('-');
}

/** Tool-result blocks of the last message of an Anthropic request, as the emulator recorded it. */
export function toolResultsOf(request: RecordedRequest): { tool_use_id: string; content: string; is_error?: boolean }[] {
  const body = request.body as { messages?: { content: unknown }[] };
  const last = body.messages?.[body.messages.length - 1];
  if (!last || !Array.isArray(last.content)) return [];
  return (last.content as { type?: string }[]).filter((b) => b.type === 'tool_result') as never;
}

/** A scripted Anthropic model: calls web_search for `query()`, then answers with what the tool returned. */
export function searchThenAnswer(query: () => string): EmulatorHandler<ModelReply> {
  return (request) => {
    const results = toolResultsOf(request);
    if (results.length === 0) return { toolCalls: [{ name: 'web_search', input: { query: query() } }] };
    const r = results[0]!;
    return { text: `${r.is_error ? 'Search failed' : 'Found'}: ${String(r.content).slice(0, 120)}` };
  };
}

export function spansOf(trace: TraceRecord, kind: SpanRecord['kind']): SpanRecord[] {
  return trace.spans.filter((s) => s.kind === kind);
}
export const toolSpans = (t: TraceRecord): ToolSpanRecord[] => t.spans.filter((s): s is ToolSpanRecord => s.kind === 'tool');
export const llmSpans = (t: TraceRecord): LlmSpanRecord[] => t.spans.filter((s): s is LlmSpanRecord => s.kind === 'llm');

/** Starts everything; always `close()` it. */
export async function startChaos(options: ChaosOptions = {}): Promise<Chaos> {
  const dir = mkdtempSync(join(tmpdir(), 'agentex-chaos-'));
  const dbPath = join(dir, 'traces.db');
  const emu = await startEmulators();
  const store = createSqliteTraceStore({ path: dbPath, purgeIntervalMs: 0 });
  const base = createTraceStoreExporter(store, { logger: { warn: () => undefined } });
  const exporter = options.wrapExporter ? options.wrapExporter(base, store) : base;
  const tracer = createTracer({
    exporters: [exporter],
    sampleRate: 1,
    processor: { scheduleDelayMs: 5, retryBaseDelayMs: 1, retryMaxDelayMs: 5, ...options.processor },
  });
  const circuits = new CircuitRegistry();
  const transitions: StateChangeEvent[] = [];
  circuits.onStateChange((e) => transitions.push(e));
  const search = webSearchTool({
    providers: [exaSearch({ apiKey: emu.keys.exa, baseUrl: emu.urls.exa }), tavilySearch({ apiKey: emu.keys.tavily, baseUrl: emu.urls.tavily })],
    circuits,
    ...options.search,
  });
  const tools = createToolRegistry({ tools: [search, datetimeTool()] });
  const provider = guardedProvider(anthropicProvider({ apiKey: emu.keys.anthropic, baseUrl: emu.urls.anthropic, model: 'claude-emulated' }), {
    circuits,
    retry: { baseDelayMs: 5, maxDelayMs: 30_000 },
    timeoutMs: 5_000,
    ...options.guard,
  });
  const chaos: Chaos = {
    emu,
    circuits,
    store,
    tracer,
    tools,
    provider,
    dbPath,
    transitions,
    query: 'agent resilience',
    run: (o = {}) => runAgent({ message: `Search the web for ${chaos.query}`, agent: 'chaos', provider, tools, tracer, ...o }),
    async trace(traceId) {
      await tracer.forceFlush();
      const t = await store.get(traceId);
      if (!t) throw new Error(`trace ${traceId} is not in the store`);
      return t;
    },
    async close() {
      await tracer.shutdown();
      await store.close();
      await emu.close();
      circuits.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  emu.anthropic.setHandler(searchThenAnswer(() => chaos.query));
  return chaos;
}
