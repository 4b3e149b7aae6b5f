/**
 * The AgentEx service: reads the configuration, opens the stores, builds the tracer, the circuits, the model provider
 * and the tools, serves the API on the configured address, and shuts down gracefully on SIGTERM/SIGINT (stop
 * accepting, finish in-flight requests within a bound, flush the trace queue, close the stores, exit 0).
 * This is the only place that reads configuration and picks backends.
 */
import { guardedProvider } from '../agent/guardedProvider.js';
import { anthropicProvider } from '../agent/providers/anthropic.js';
import { openaiProvider } from '../agent/providers/openai.js';
import type { ModelProvider } from '../agent/providers/types.js';
import { runAgent } from '../agent/runAgent.js';
import { conversationMemory, stateSearchCache } from '../agent/stateAdapters.js';
import { CircuitRegistry, type CircuitStats } from '../resilience/index.js';
import { createCircuitStateStore } from '../state/createCircuitStateStore.js';
import { createL2Store } from '../state/createL2Store.js';
import { createStateManager, type StateManager } from '../state/StateManager.js';
import { createTraceStore } from '../store/createTraceStore.js';
import { createTraceStoreExporter } from '../store/TraceStoreExporter.js';
import { createWriteHealth, trackWrites } from '../store/WriteHealth.js';
import { inspectSqliteFiles } from '../store/sqliteFiles.js';
import type { TraceStore } from '../store/TraceStore.js';
import { datetimeTool } from '../tools/datetime.js';
import { readUrlTool } from '../tools/readUrl.js';
import { createToolRegistry } from '../tools/registry.js';
import { exaSearch } from '../tools/search/exa.js';
import { tavilySearch } from '../tools/search/tavily.js';
import type { SearchClient } from '../tools/search/types.js';
import { webSearchTool } from '../tools/webSearch.js';
import type { TraceExporter } from '../trace/model.js';
import { createTracer, setDefaultTracer, type Tracer } from '../trace/Tracer.js';
import { createRedactor } from '../trace/redact.js';
import { createApp, type CircuitView } from './app.js';
import { createIngestAssembler, type IngestAssembler } from './IngestAssembler.js';
import { resolveTokens, type Tokens } from './auth.js';
import { ConfigError, loadConfig, redactionOptions, type Config, type LoadConfigInput } from './config.js';
import type { DestinationStream } from 'pino';
import { createLogger, logRun, type Logger } from './logger.js';
import { otlpExporter } from '../trace/exporters/otlp.js';
import { listen, serverUrl } from './listen.js';
import { createMetrics, type ServiceMetrics } from './metrics.js';
import { createRunLimits } from './runLimits.js';
import { createSharedRateLimits } from './sharedRateLimit.js';

/** After cancelling in-flight runs at the shutdown timeout, how long connections may take to finish their answer. */
const FORCE_CLOSE_AFTER_CANCEL_MS = 2_000;

/** Default model per provider when `AGENTEX_MODEL` is not set. */
export const DEFAULT_MODELS = { anthropic: 'claude-sonnet-4-5', openai: 'gpt-4.1-mini' } as const;

export interface StartServiceOptions extends LoadConfigInput {
  /** Install SIGTERM/SIGINT handlers that shut down and exit. Default false (tests call `close()`). */
  handleSignals?: boolean;
  /** Print the URL and any generated tokens once on stdout (like Jupyter). Default false. */
  printBanner?: boolean;
  /** Overrides the logger (tests). */
  logger?: Logger;
  /** Where the service's own logger writes (default stdout); ignored when `logger` is given. */
  logDestination?: DestinationStream;
}

export interface RunningService {
  url: string;
  config: Config;
  tokens: Tokens;
  store: TraceStore;
  state: StateManager;
  tracer: Tracer;
  circuits: CircuitRegistry;
  metrics: ServiceMetrics;
  /** The service's logger: its lines go through the same redaction rules as its traces. */
  logger: Logger;
  /** OTLP ingest assembly: `flush()` finalizes every pending trace now. */
  ingest: IngestAssembler;
  /**
   * Graceful shutdown; resolves when everything is flushed and closed. Idempotent. `/ready` answers 503 from the
   * start; for `graceMs` (default 0) requests are still accepted, then the server stops accepting, waits up to
   * `AGENTEX_SHUTDOWN_TIMEOUT_MS` for in-flight requests, cancels agent runs still running (503 `shutting_down`),
   * and flushes the trace queue before closing the stores.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Name of the exporter that forwards to `AGENTEX_OTLP_ENDPOINT` (in processor stats and export-failure logs). */
export const FORWARD_EXPORTER = 'otlp-forward';

/**
 * Forwards only the service's own runs: traces ingested from other agents came from senders that can export to the
 * collector themselves, and sending them on could loop (a collector that also feeds AgentEx). Own traces are the
 * ones the tracer stamped with `metadata.service`; ingested ones never get it.
 */
export function ownTracesOnly(exporter: TraceExporter): TraceExporter & { readonly sent: number } {
  let sent = 0;
  return {
    name: exporter.name,
    get sent() {
      return sent;
    },
    async export(batch, signal) {
      const own = batch.filter((t) => t.metadata.service !== undefined && t.metadata.source === undefined);
      if (own.length === 0) return;
      await exporter.export(own, signal);
      sent += own.length;
    },
    ...(exporter.shutdown ? { shutdown: () => exporter.shutdown!() } : {}),
  };
}

/** The collector's traces URL: `AGENTEX_OTLP_ENDPOINT` as given, or with `/v1/traces` when it has no path. */
export function otlpTracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}

/** Picks the model provider the configuration names, or none (the run route then answers 503). */
export function providerFromConfig(config: Config, env: Record<string, string | undefined> = process.env): ModelProvider | undefined {
  if (config.anthropicApiKey) {
    return anthropicProvider({ apiKey: config.anthropicApiKey, baseUrl: config.anthropicBaseUrl, model: config.model ?? DEFAULT_MODELS.anthropic });
  }
  // An OpenAI-compatible server (Ollama, vLLM, llama.cpp) may need no key: an explicit base URL is enough.
  if (config.openaiApiKey || env.OPENAI_BASE_URL) {
    return openaiProvider({
      ...(config.openaiApiKey ? { apiKey: config.openaiApiKey } : {}),
      baseUrl: config.openaiBaseUrl,
      model: config.model ?? DEFAULT_MODELS.openai,
    });
  }
  return undefined;
}

/** The search providers that have a key, in fallback order (Exa, then Tavily). */
export function searchClientsFromConfig(config: Config): SearchClient[] {
  const clients: SearchClient[] = [];
  if (config.exaApiKey) clients.push(exaSearch({ apiKey: config.exaApiKey, baseUrl: config.exaBaseUrl }));
  if (config.tavilyApiKey) clients.push(tavilySearch({ apiKey: config.tavilyApiKey, baseUrl: config.tavilyBaseUrl }));
  return clients;
}

/**
 * Starts the service.
 * @throws ConfigError naming the bad setting; the store's errors when it cannot be opened.
 */
export async function startService(options: StartServiceOptions = {}): Promise<RunningService> {
  const config = loadConfig(options);
  // One set of redaction rules (built-in plus configured) for traces, own and ingested, and for logs.
  const redaction = redactionOptions(config);
  const logger = options.logger ?? createLogger(config.logLevel, options.logDestination, createRedactor(redaction));
  const tokens = resolveTokens(config.apiToken, config.adminToken);
  let ready = false;
  let storeUp = true;

  if (!config.databaseUrl) {
    // Said before the file is opened: a -shm that cannot grow kills the process with SIGBUS and no log line.
    const files = inspectSqliteFiles(config.sqlitePath);
    logger.info({ path: files.path, freeBytes: files.freeBytes, files: files.files }, 'sqlite files');
    for (const warning of files.warnings) logger.warn({ path: files.path }, `sqlite: ${warning}`);
  }
  const store = await createTraceStore({
    databaseUrl: config.databaseUrl ?? config.sqlitePath,
    retentionMs: config.traceTtlDays * 24 * 60 * 60 * 1000,
  });
  // State: L1 in process, L2 on Redis when configured, else the same database as the traces.
  const l2 = await createL2Store({ url: config.redisUrl ?? config.databaseUrl ?? config.sqlitePath, logger });
  const state = createStateManager({ l2, logger });
  const memory = conversationMemory(state.conversations);
  const searchCache = stateSearchCache(state);
  // Rate limits: counted in Redis for every instance when it is configured, else per instance.
  const sharedRateLimits = config.redisUrl ? await createSharedRateLimits({ url: config.redisUrl, logger }) : undefined;
  const runLimits = createRunLimits({ maxConcurrent: config.maxConcurrentRuns, maxPerUser: config.maxConcurrentRunsPerUser });
  // Circuit state shared by every instance: through Redis when configured, else a Postgres database; SQLite = one instance.
  const sharedCircuitsUrl = config.redisUrl ?? config.databaseUrl;
  const circuitStore = sharedCircuitsUrl ? await createCircuitStateStore({ url: sharedCircuitsUrl, keyPrefix: config.circuitKeyPrefix, logger }) : undefined;
  circuitStore?.onAvailability((up) => {
    if (up) logger.info({ backend: circuitStore.backend }, 'shared circuit state reachable again: circuits rejoined');
    else logger.warn({ backend: circuitStore.backend }, 'shared circuit state unreachable: circuits run on local state');
  });
  const circuitState = () => (circuitStore === undefined ? ('local' as const) : circuitStore.available ? ('shared' as const) : ('local_fallback' as const));
  const circuits = new CircuitRegistry(circuitStore ? { stateStore: circuitStore } : {});
  const lastChange = new Map<string, number>();
  circuits.onStateChange((e) => {
    lastChange.set(e.name, Date.now());
    logger.warn({ circuit: e.name, from: e.from, to: e.to, reason: e.reason }, 'circuit state changed');
  });

  // Writes that fail while the store still answers its ping (unwritable WAL, full disk) must show in /health and
  // /metrics: degraded after consecutive failures, healthy again on the next successful write.
  const writeHealth = createWriteHealth();
  writeHealth.onChange((change) => {
    if (change.state === 'degraded') logger.error({ consecutiveFailures: change.consecutiveFailures, code: change.code, error: change.message }, 'trace store writes failing: store degraded');
    else logger.info({ failedWrites: change.failedWrites }, 'trace store writes recovered');
  });
  // Metrics read the tracer lazily: the tracer is created right below.
  const late: { tracer?: Tracer } = {};
  const storeExporter = createTraceStoreExporter(store, { logger });
  const metrics = createMetrics({
    circuits: () => circuits.stats(),
    tracePipeline: () => {
      const s = late.tracer?.stats();
      // The store's own counts: a collector that is down (forwarding) must not read as traces lost from the store.
      const stored = s?.processor.exporters[storeExporter.name];
      return { stored: stored?.exported ?? 0, sampledOut: s?.sampledOut ?? 0, dropped: s?.processor.dropped ?? 0, lost: stored?.lost ?? 0 };
    },
    cache: () => state.stats().l1,
    storeUp: () => storeUp && !writeHealth.snapshot().degraded,
    ...(circuitStore ? { circuitStateShared: () => circuitStore.available } : {}),
    storeWriteErrors: () => writeHealth.snapshot().errors,
    ...(config.otlpEndpoint
      ? {
          forwarded: () => {
            const f = late.tracer?.stats().processor.exporters[FORWARD_EXPORTER];
            return { exported: forward?.sent ?? 0, lost: f?.lost ?? 0 };
          },
        }
      : {}),
    storeCounters: () => store.counters(),
    ready: () => ready,
    runLimits: () => runLimits.stats(),
    shared: () => ({
      ...(sharedRateLimits ? { rateLimits: !sharedRateLimits.stats().degraded } : {}),
      ...(l2.subscribe ? { stateInvalidation: state.stats().invalidation.listening } : {}),
    }),
  });
  const timedExporter: TraceExporter = trackWrites(
    {
      name: storeExporter.name,
      async export(batch, signal) {
        const started = performance.now();
        await storeExporter.export(batch, signal);
        metrics.observeStoreWrite((performance.now() - started) / 1000);
      },
    },
    writeHealth,
  );
  const forward = config.otlpEndpoint
    ? ownTracesOnly(otlpExporter({ url: otlpTracesUrl(config.otlpEndpoint), headers: config.otlpHeaders ?? {}, name: FORWARD_EXPORTER }))
    : null;
  const tracer = createTracer({
    exporters: forward ? [timedExporter, forward] : [timedExporter],
    sampleRate: config.sampleRate,
    slowThresholdMs: config.slowTraceMs,
    metadata: { serviceName: 'agentex', labelPrefix: config.labelPrefix },
    redaction,
    processor: { scheduleDelayMs: 1000 },
  });
  late.tracer = tracer;
  // OTLP ingest assembles traces in the shared store; every instance sweeps, claims are atomic.
  const assembler = createIngestAssembler({
    store,
    tracer,
    settleMs: config.ingestSettleMs,
    windowMs: config.ingestAssemblyWindowMs,
    maxPendingSpans: config.ingestMaxPendingSpans,
    maxPendingTraces: config.ingestMaxPendingTraces,
    logger,
  });
  setDefaultTracer(tracer);
  tracer.onTraceEnd((e) => metrics.observeRun(e.status, e.durationMs / 1000));
  tracer.onExportError((e) => logger.warn({ exporter: e.exporter, attempt: e.attempt, error: e.error.message }, 'trace export failed'));

  const baseProvider = providerFromConfig(config);
  const provider = baseProvider ? guardedProvider(baseProvider, { circuits }) : undefined;
  const searchClients = searchClientsFromConfig(config);
  const tools = createToolRegistry({
    tools: [
      ...(searchClients.length ? [webSearchTool({ providers: searchClients, circuits, cache: searchCache })] : []),
      readUrlTool(),
      datetimeTool(),
    ],
    onCall: (e) => metrics.observeTool(e.tool, e.ok, e.durationMs / 1000),
  });
  metrics.registerTools(tools.names());

  // Aborted when shutdown stops waiting for in-flight agent runs.
  const shutdownRuns = new AbortController();
  const app = createApp({
    config,
    tokens,
    logger,
    store,
    circuits: {
      list: () => circuits.stats().map((s) => circuitView(s, lastChange.get(s.name) ?? null)),
      reset: (name) => circuits.reset(name),
    },
    ingest: (traces) => assembler.accept(traces),
    runAgent: provider
      ? async (req, signal) => {
          const started = performance.now();
          const result = await runAgent({ message: req.message, system: req.system, userId: req.userId, agent: req.agent, parent: req.parent, provider, tools, signal, tracer, memory });
          // Names and user ids pass the trace redactor, as in the stored trace.
          const userId = typeof req.userId === 'string' ? tracer.redactor.redactString(req.userId) : (req.userId ?? null);
          const agent = tracer.redactor.redactString(req.agent ?? 'agent');
          logRun(logger, { ...result, agent, userId, durationMs: performance.now() - started });
          return result;
        }
      : undefined,
    metrics,
    runLimits,
    sharedRateLimits,
    // Conversations are keyed by the user id's text form, so this also covers numeric ids.
    eraseUserState: (userId) => state.conversations.clear(userId),
    isReady: () => ready,
    shutdownSignal: shutdownRuns.signal,
    storeWrites: () => (writeHealth.snapshot().degraded ? 'failing' : 'ok'),
    circuitState,
  });

  assembler.start();
  let server: Awaited<ReturnType<typeof listen>>;
  try {
    server = await listen(app, { hostname: config.host, port: config.port });
  } catch (err) {
    // Could not bind (port taken, bad host): release what was opened, then report the address in one line.
    await assembler.close();
    await tracer.shutdown();
    await state.close();
    await circuitStore?.close();
    await store.close();
    await sharedRateLimits?.close();
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError('AGENTEX_PORT', `Cannot listen on ${config.host}:${config.port} (${code})`);
  }
  // Node's own request bounds: a slow client cannot hold a socket forever.
  server.requestTimeout = config.requestTimeoutMs + 5_000;
  server.headersTimeout = 30_000;
  const url = serverUrl(server);

  // Store health for /metrics: pinged in the background, unref'd.
  const healthTimer = setInterval(() => {
    void store.ping().then((p) => (storeUp = p.ok));
  }, 15_000);
  healthTimer.unref();
  ready = true;
  // The collector by origin only: its path or query could carry a credential.
  const forwardTo = config.otlpEndpoint ? new URL(config.otlpEndpoint).origin : null;
  logger.info({ url, backend: store.backend, provider: baseProvider?.name ?? null, search: searchClients.map((c) => c.name), forwardTo }, 'agentex listening');

  if (options.printBanner) {
    const lines = [`\n  AgentEx is running at ${url}`, `  Dashboard: ${url}/?token=${tokens.generated.api ? tokens.api : '<AGENTEX_API_TOKEN>'}`];
    if (tokens.generated.api) lines.push(`  API token (generated, shown once):   ${tokens.api}`);
    if (tokens.generated.admin) lines.push(`  Admin token (generated, shown once): ${tokens.admin}`);
    lines.push(`  Store: ${store.backend}${store.backend === 'sqlite' ? ` (${config.sqlitePath})` : ''}`);
    if (!baseProvider) lines.push('  No model provider configured: set ANTHROPIC_API_KEY or OPENAI_API_KEY to enable /api/agent/run');
    process.stdout.write(`${lines.join('\n')}\n\n`);
  }

  let closing: Promise<void> | undefined;
  const close = ({ graceMs = 0 }: { graceMs?: number } = {}) =>
    (closing ??= (async () => {
      ready = false;
      clearInterval(healthTimer);
      logger.info({ graceMs }, 'shutting down');
      // Load balancers see /ready answer 503 and stop sending; until then requests are still served.
      if (graceMs > 0) await new Promise((resolve) => setTimeout(resolve, graceMs));
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Keep-alive connections become idle as their requests finish; close them then, not at the deadline.
      const idle = setInterval(() => server.closeIdleConnections(), 100);
      const cancel = setTimeout(() => {
        logger.warn({}, 'shutdown timeout: cancelling agent runs still in flight');
        shutdownRuns.abort(new Error('the service is shutting down'));
      }, config.shutdownTimeoutMs);
      // Cancelled runs answer at once; a connection still open a little later is cut.
      const force = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs + FORCE_CLOSE_AFTER_CANCEL_MS);
      try {
        await stopped;
      } finally {
        clearInterval(idle);
        clearTimeout(cancel);
        clearTimeout(force);
      }
      // Finalizes the traces that are ready; the rest stays pending in the store for the next sweep (any instance).
      await assembler.close();
      await tracer.shutdown();
      await state.close();
      await store.close();
      await sharedRateLimits?.close();
      circuits.dispose();
      await circuitStore?.close();
      logger.info({ stats: tracer.stats().processor }, 'stopped');
    })());

  if (options.handleSignals) {
    const onSignal = (signal: NodeJS.Signals) => {
      logger.info({ signal }, 'signal received');
      // SIGTERM comes from an orchestrator that needs the not-ready grace; SIGINT from a person at a terminal.
      close({ graceMs: signal === 'SIGTERM' ? config.shutdownGraceMs : 0 }).then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ error: (err as Error).message }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  return { url, config, tokens, store, state, tracer, circuits, metrics, logger, ingest: assembler, close };
}

/** The API's view of a circuit: its stats, its failure rate since the last reset and the time of its last state change. */
export function circuitView(s: CircuitStats, lastStateChangeAt: number | null): CircuitView {
  return { ...s, failureRate: s.counts.calls > 0 ? s.counts.failures / s.counts.calls : 0, lastStateChangeAt };
}

export { ConfigError };
