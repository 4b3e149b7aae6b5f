/**
 * `agentex demo`: a short scripted agent session that needs no API keys. It starts local emulators of the Anthropic
 * Messages API, Exa and Tavily on 127.0.0.1 and runs the real loop, tools, circuit breakers, state manager and trace
 * store against them: Exa fails, its circuit opens and Tavily answers; after the cooldown Exa is back, one probe
 * closes the circuit; a repeated question is answered from the search cache. Every run is a real trace in the store.
 */
import { InvalidOptionsError } from '../common/errors.js';
import { assertFunction, assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import { faults, startEmulators, type EmulatorSet, type ModelReply, type RecordedRequest } from '../emulators/index.js';
import { CircuitRegistry, type StateChangeEvent } from '../resilience/index.js';
import { createStateManager } from '../state/index.js';
import { createSqliteTraceStore, createTraceStoreExporter, DEFAULT_SQLITE_PATH, type TraceStore } from '../store/index.js';
import { datetimeTool } from '../tools/datetime.js';
import { createToolRegistry } from '../tools/registry.js';
import { exaSearch, tavilySearch } from '../tools/search/index.js';
import { webSearchTool, SEARCH_CIRCUIT_OPTIONS } from '../tools/webSearch.js';
import type { ToolSpanRecord } from '../trace/model.js';
import { createTracer } from '../trace/Tracer.js';
import { guardedProvider } from '../agent/guardedProvider.js';
import { anthropicProvider } from '../agent/providers/anthropic.js';
import { runAgent, type RunAgentResult } from '../agent/runAgent.js';
import { conversationMemory, stateSearchCache } from '../agent/stateAdapters.js';

/** Exa's cooldown in the demo: short, so the recovery is visible; the production default is 30 s. */
export const DEMO_COOLDOWN_MS = 2_000;

export interface DemoOptions {
  /** SQLite file the traces go to. Default `./data/agentex.db` (the service's default store). */
  sqlitePath?: string | undefined;
  /** Receives each line of the narration. Required. */
  out: (line: string) => void;
  /** Exa's circuit cooldown, ms (100 to 60 000). Default {@link DEMO_COOLDOWN_MS}. */
  cooldownMs?: number;
}

/** One run of the session as the trace store recorded it. */
export interface DemoRun {
  step: number;
  traceId: string;
  status: RunAgentResult['status'];
  /** The provider (circuit) that answered web_search, `cache` for a cache hit, null when the search failed. */
  answeredBy: string | null;
  /** Requests Exa received during the run. */
  exaRequests: number;
}

export interface DemoResult {
  sqlitePath: string;
  runs: DemoRun[];
  /** Every transition of Exa's circuit, in order. */
  exaTransitions: StateChangeEvent[];
}

const MODEL = 'claude-demo';
const USER = 'demo-user';

/** The scripted model: search for the question, then answer from the first result. */
function scriptedModel(request: RecordedRequest): ModelReply {
  const body = request.body as { messages: { role: string; content: unknown }[] };
  const last = body.messages[body.messages.length - 1];
  const blocks = Array.isArray(last?.content) ? (last.content as { type?: string; text?: string; content?: string; is_error?: boolean }[]) : [];
  const result = blocks.find((b) => b.type === 'tool_result');
  if (!result) {
    const question = typeof last?.content === 'string' ? last.content : (blocks.find((b) => b.type === 'text')?.text ?? 'agents');
    return { toolCalls: [{ name: 'web_search', input: { query: question.replace(/\?$/, '') } }], usage: { inputTokens: 120, outputTokens: 18 } };
  }
  if (result.is_error) return { text: 'I could not search the web just now; please try again shortly.', usage: { inputTokens: 200, outputTokens: 14 } };
  let title = 'the first result';
  try {
    title = (JSON.parse(String(result.content)) as { results: { title: string }[] }).results[0]?.title ?? title;
  } catch {
    /* keep the generic wording */
  }
  return { text: `According to "${title}", here is what I found.`, usage: { inputTokens: 480, outputTokens: 22 } };
}

/**
 * Runs the offline demo and narrates it through `out`. Closes everything it started, also on failure.
 * @throws InvalidOptionsError for bad options; StoreUnavailableError when the SQLite file cannot be opened.
 * @example await runDemo({ out: console.log })
 */
export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionsError('runDemo', 'runDemo needs options with `out`');
  assertKnownKeys('runDemo', options, ['sqlitePath', 'out', 'cooldownMs']);
  assertFunction('runDemo', 'out', options.out);
  const out = options.out;
  const sqlitePath = assertString('runDemo', 'sqlitePath', options.sqlitePath ?? DEFAULT_SQLITE_PATH);
  const cooldownMs = assertNumber('runDemo', 'cooldownMs', options.cooldownMs ?? DEMO_COOLDOWN_MS, { min: 100, max: 60_000 });

  out('AgentEx demo: a scripted agent session against LOCAL EMULATORS of the Anthropic Messages API, Exa and Tavily,');
  out('started by this command on 127.0.0.1. No API keys are used and nothing leaves this machine.');
  out(`The emulated model "${MODEL}" is scripted to call web_search, then answer from the results.`);
  out(`Everything else is real: the agent loop, the tools, the circuit breakers, the state manager and the trace store (SQLite: ${sqlitePath}).`);

  let emu: EmulatorSet | undefined;
  let store: TraceStore | undefined;
  const state = createStateManager({ purgeIntervalMs: 0 });
  const circuits = new CircuitRegistry();
  let realTracer: ReturnType<typeof createTracer> | undefined;
  try {
    emu = await startEmulators();
    store = createSqliteTraceStore({ path: sqlitePath, purgeIntervalMs: 0 });
    realTracer = createTracer({
      sampleRate: 1,
      exporters: [createTraceStoreExporter(store)],
      metadata: { labels: { demo: 'true' } },
      processor: { scheduleDelayMs: 50 },
    });
    const exaTransitions: StateChangeEvent[] = [];
    const pending: string[] = [];
    circuits.onStateChange((e) => {
      if (e.name !== 'exa') return;
      exaTransitions.push(e);
      pending.push(`    circuit exa: ${e.from} → ${e.to} (${e.reason.replace(/_/g, ' ')})`);
    });
    const search = webSearchTool({
      providers: [exaSearch({ apiKey: emu.keys.exa, baseUrl: emu.urls.exa }), tavilySearch({ apiKey: emu.keys.tavily, baseUrl: emu.urls.tavily })],
      circuits,
      cache: stateSearchCache(state),
      breaker: { cooldownMs },
    });
    const tools = createToolRegistry({ tools: [search, datetimeTool()] });
    const provider = guardedProvider(anthropicProvider({ apiKey: emu.keys.anthropic, baseUrl: emu.urls.anthropic, model: MODEL }), {
      circuits,
      retry: { baseDelayMs: 200 },
      timeoutMs: 10_000,
    });
    emu.anthropic.setHandler(scriptedModel);
    const memory = conversationMemory(state.conversations);
    const exa = emu.exa;
    const runs: DemoRun[] = [];
    const activeStore = store;
    const activeTracer = realTracer;

    const session = async (step: number, message: string): Promise<DemoRun> => {
      const exaBefore = exa.requestCount;
      out(`  "${message}"`);
      const result = await runAgent({ message, agent: 'demo', userId: USER, provider, tools, tracer: activeTracer, memory });
      await activeTracer.forceFlush();
      const stored = await activeStore.get(result.traceId);
      const tool = stored?.spans.find((s): s is ToolSpanRecord => s.kind === 'tool');
      const cacheHit = tool?.attributes['agentex.cache'] === 'hit';
      const answeredBy = tool?.status === 'ok' ? (cacheHit ? 'cache' : (tool.circuit ?? null)) : null;
      const failed = tool?.attributes['agentex.fallback.failed'];
      const run: DemoRun = { step, traceId: result.traceId, status: result.status, answeredBy, exaRequests: exa.requestCount - exaBefore };
      runs.push(run);
      out(`    → ${result.status} in ${result.iterations} iterations: ${result.output}`);
      const via = answeredBy === 'cache' ? 'the search cache (no provider called)' : answeredBy === null ? 'nobody (search failed)' : answeredBy;
      out(`    web_search answered by ${via}${Array.isArray(failed) && failed.length > 0 ? `; failed first: ${failed.join(', ')}` : ''}; Exa received ${run.exaRequests} request(s)`);
      for (const line of pending.splice(0)) out(line);
      const breaker = circuits.get('exa');
      const failures = breaker?.state === 'closed' && breaker.stats().consecutiveFailures > 0 ? ` (${breaker.stats().consecutiveFailures} of ${SEARCH_CIRCUIT_OPTIONS.threshold} failures)` : '';
      out(`    circuit exa is ${breaker?.state ?? 'closed'}${failures}; trace ${result.traceId}${stored ? ' (stored)' : ' (NOT stored)'}`);
      return run;
    };

    out('');
    out('Step 1. Exa is healthy.');
    await session(1, 'What is a circuit breaker?');

    out('');
    out(`Step 2. Exa starts answering HTTP 500. Its circuit opens after ${SEARCH_CIRCUIT_OPTIONS.threshold} consecutive failures; Tavily answers meanwhile.`);
    exa.setHandler(() => faults.status(500, 'emulated outage'));
    for (const q of ['How do retries with jitter work?', 'What is a bulkhead?', 'What does a timeout protect?']) await session(2, q);

    out('');
    out('Step 3. While the circuit is open, Exa is not called at all: the fallback goes straight to Tavily.');
    await session(3, 'What is tail sampling?');

    out('');
    out(`Step 4. Exa recovers. Waiting for the cooldown: ${cooldownMs / 1000} s in this demo (the default is ${SEARCH_CIRCUIT_OPTIONS.cooldownMs / 1000} s).`);
    exa.setHandler(undefined);
    const remaining = circuits.get('exa')?.stats().cooldownRemainingMs ?? 0;
    await new Promise((resolve) => setTimeout(resolve, remaining + 20));
    out('  The next search sends one probe to Exa; it succeeds, so the circuit closes.');
    await session(4, 'What is a fallback chain?');

    out('');
    out('Step 5. The first question again: answered from the state manager\'s search cache (15 min TTL).');
    await session(5, 'What is a circuit breaker?');

    out('');
    out(`Done: ${runs.length} traces written to ${sqlitePath}. To inspect them, start the service on that store:`);
    out(`  AGENTEX_SQLITE_PATH=${sqlitePath} agentex serve`);
    out('and in another terminal, with the API token it prints:');
    out('  export AGENTEX_TOKEN=<API token>');
    out('  agentex traces list --agent demo');
    out(`  agentex traces show ${runs[1]?.traceId ?? runs[0]?.traceId ?? '<trace id>'}   # an Exa failure answered by Tavily`);
    out(`  agentex traces show ${runs[runs.length - 2]?.traceId ?? '<trace id>'}   # the probe that closed the circuit`);
    return { sqlitePath, runs, exaTransitions };
  } finally {
    await realTracer?.shutdown();
    await store?.close();
    await emu?.close();
    await state.close();
    circuits.dispose();
  }
}
