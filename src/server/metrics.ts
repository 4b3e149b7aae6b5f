/**
 * Prometheus metrics (prom-client) on a registry of our own (never the global one). Counters that other parts keep
 * themselves (circuit counts, trace pipeline counters, cache hits) are read at scrape time from those sources, so
 * nothing is measured twice and the hot paths stay free of metric calls. Names follow Prometheus conventions
 * (`_total` counters, `_seconds` histograms) and pass `promtool check metrics`.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { HttpMetrics } from './deps.js';
import type { TraceStoreCounters } from '../store/TraceStore.js';
import type { RateLimiterStats } from './rateLimit.js';
import type { RunLimitStats } from './runLimits.js';

/** Circuit counters as the resilience registry reports them. */
export interface CircuitSample {
  name: string;
  state: 'closed' | 'open' | 'half_open';
  counts: { calls: number; successes: number; failures: number; timeouts: number; rejections: number };
}

/** Monotonic counters of the trace pipeline. */
export interface TracePipelineSample {
  /** Traces written by the exporters. */
  stored: number;
  sampledOut: number;
  dropped: number;
  lost: number;
}

export interface MetricsSources {
  circuits(): readonly CircuitSample[];
  tracePipeline(): TracePipelineSample;
  cache(): { hits: number; misses: number; evictions: number };
  storeUp(): boolean;
  /** Whether circuit state is shared right now. Absent = no shared store configured (the gauge is not exported). */
  circuitStateShared?(): boolean;
  /** Traces forwarded to the team's collector (`AGENTEX_OTLP_ENDPOINT`) and lost after retries. Absent = not forwarding. */
  forwarded?(): { exported: number; lost: number };
  /** Failed writes to the trace store since start (exports that the store refused). Absent = not reported. */
  storeWriteErrors?(): number;
  /** The trace store's own counters (purges, WAL checkpoints, statement cache). */
  storeCounters(): TraceStoreCounters;
  ready(): boolean;
  /** Agent-run caps (in flight, refused). Absent = not reported. */
  runLimits?(): RunLimitStats;
  /**
   * What this instance shares with the others and whether it is reaching it now: rate limits (Redis) and the state
   * invalidation feed. A member is absent when nothing is shared that way (no Redis; SQLite).
   */
  shared?(): { rateLimits?: boolean; stateInvalidation?: boolean };
}

/** prom-client default gauges whose names end in `_total` (a counter suffix); dropped from our registry. */
const MISNAMED_DEFAULT_GAUGES = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'] as const;
const STATE_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
/** The `tool` label of calls to a tool name that was never registered (names chosen by the model). */
export const UNKNOWN_TOOL = 'unknown';
/** Most (method, route, status) label sets of the HTTP metrics; beyond it, requests count under route `other`. */
export const MAX_HTTP_SERIES = 1000;
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export interface ServiceMetrics extends HttpMetrics {
  readonly registry: Registry;
  observeRun(status: string, seconds: number): void;
  /**
   * Records one tool call. The tool name becomes a label only when it was registered with {@link registerTools}:
   * models choose tool names, so any other name is labelled `unknown` (the series stay bounded).
   */
  observeTool(tool: string, ok: boolean, seconds: number): void;
  /** Names of the tools the agent offers: the only tool names used as metric labels. */
  registerTools(names: Iterable<string>): void;
  observeStoreWrite(seconds: number): void;
}

/** Creates the service's metrics. `sources` are read on every scrape. */
export function createMetrics(sources: MetricsSources, { defaultMetrics = true } = {}): ServiceMetrics {
  const registry = new Registry();
  if (defaultMetrics) {
    collectDefaultMetrics({ register: registry, prefix: 'agentex_' });
    // prom-client names three gauges `*_total`, which `promtool check metrics` rejects (only counters end in _total).
    // They only sum the per-type gauges it also exports (agentex_nodejs_active_handles{type}...), so nothing is lost.
    for (const name of MISNAMED_DEFAULT_GAUGES) registry.removeSingleMetric(`agentex_${name}`);
  }

  // Counters kept elsewhere are read at scrape time: collect() resets them and adds the source's monotonic value.
  new Gauge({
    name: 'agentex_circuit_state',
    help: 'Circuit state per circuit: 0 closed, 1 half-open, 2 open',
    labelNames: ['circuit'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.circuits()) this.set({ circuit: c.name }, STATE_VALUE[c.state]);
    },
  });
  new Counter({
    name: 'agentex_circuit_calls_total',
    help: 'Calls through each circuit by outcome (success, failure, timeout, rejected)',
    labelNames: ['circuit', 'outcome'],
    registers: [registry],
    collect() {
      this.reset();
      for (const c of sources.circuits()) {
        this.inc({ circuit: c.name, outcome: 'success' }, c.counts.successes);
        this.inc({ circuit: c.name, outcome: 'failure' }, c.counts.failures);
        this.inc({ circuit: c.name, outcome: 'timeout' }, c.counts.timeouts);
        this.inc({ circuit: c.name, outcome: 'rejected' }, c.counts.rejections);
      }
    },
  });
  new Counter({
    name: 'agentex_traces_total',
    help: 'Finished traces by fate: stored, sampled_out, dropped (queue full) or lost (export failed after retries)',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      this.reset();
      const t = sources.tracePipeline();
      this.inc({ outcome: 'stored' }, t.stored);
      this.inc({ outcome: 'sampled_out' }, t.sampledOut);
      this.inc({ outcome: 'dropped' }, t.dropped);
      this.inc({ outcome: 'lost' }, t.lost);
    },
  });
  new Counter({
    name: 'agentex_cache_requests_total',
    help: 'State manager L1 cache lookups by result (hit, miss)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const c = sources.cache();
      this.inc({ result: 'hit' }, c.hits);
      this.inc({ result: 'miss' }, c.misses);
    },
  });
  new Counter({
    name: 'agentex_cache_evictions_total',
    help: 'State manager L1 cache evictions',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.cache().evictions);
    },
  });
  new Gauge({
    name: 'agentex_store_up',
    help: '1 when the trace store answered its last health ping and its writes are not failing, else 0',
    registers: [registry],
    collect() {
      this.set(sources.storeUp() ? 1 : 0);
    },
  });
  if (sources.circuitStateShared) {
    const shared = () => sources.circuitStateShared?.() ?? false;
    new Gauge({
      name: 'agentex_circuit_state_shared',
      help: '1 while circuit state is shared with the other instances (Redis or Postgres), 0 while circuits run on local state because the shared store is unreachable',
      registers: [registry],
      collect() {
        this.set(shared() ? 1 : 0);
      },
    });
  }
  if (sources.forwarded) {
    const forwarded = () => sources.forwarded?.() ?? { exported: 0, lost: 0 };
    new Counter({
      name: 'agentex_traces_forwarded_total',
      help: "The service's own kept traces sent to the team's OTLP collector (exported), and traces in batches it did not take after retries (lost)",
      labelNames: ['outcome'],
      registers: [registry],
      collect() {
        this.reset();
        const f = forwarded();
        this.inc({ outcome: 'exported' }, f.exported);
        this.inc({ outcome: 'lost' }, f.lost);
      },
    });
  }
  if (sources.storeWriteErrors) {
    const writeErrors = () => sources.storeWriteErrors?.() ?? 0;
    new Counter({
      name: 'agentex_store_write_errors_total',
      help: 'Trace store writes that failed (each failed export attempt to the store: I/O errors, full disk, locks)',
      registers: [registry],
      collect() {
        this.reset();
        this.inc(writeErrors());
      },
    });
  }
  new Counter({
    name: 'agentex_store_purged_traces_total',
    help: 'Traces deleted by the retention purge (background and on demand)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.storeCounters().purged);
    },
  });
  new Counter({
    name: 'agentex_store_purge_errors_total',
    help: 'Background retention purges that failed (each is logged)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.storeCounters().purgeErrors);
    },
  });
  new Counter({
    name: 'agentex_store_wal_checkpoints_total',
    help: 'SQLite WAL checkpoints run off the event loop, by result (ok, error); absent on other stores',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const c = sources.storeCounters();
      if (c.walCheckpoints !== undefined) this.inc({ result: 'ok' }, c.walCheckpoints);
      if (c.walCheckpointErrors !== undefined) this.inc({ result: 'error' }, c.walCheckpointErrors);
    },
  });
  new Counter({
    name: 'agentex_store_list_statements_evicted_total',
    help: 'SQLite list statements evicted from the bounded statement cache (prepared again when next needed)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.storeCounters().listStatementsEvicted ?? 0);
    },
  });
  new Counter({
    name: 'agentex_ingest_spans_total',
    help: 'OTLP ingest spans by what the pending area did with them (accepted, duplicate, conflict, rejected_own)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const c = sources.storeCounters();
      if (c.ingestSpansAccepted === undefined) return;
      this.inc({ result: 'accepted' }, c.ingestSpansAccepted);
      this.inc({ result: 'duplicate' }, c.ingestSpansDuplicate ?? 0);
      this.inc({ result: 'conflict' }, c.ingestSpanConflicts ?? 0);
      this.inc({ result: 'rejected_own' }, c.ingestSpansRejectedOwn ?? 0);
    },
  });
  new Counter({
    name: 'agentex_ingest_requests_refused_total',
    help: 'OTLP ingest requests answered 503 because the pending area was full',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.storeCounters().ingestRequestsRejectedFull ?? 0);
    },
  });
  new Counter({
    name: 'agentex_ingest_traces_total',
    help: 'OTLP ingest traces finalized by this instance, by result (stored, stored_partial, merged, sampled_out, lost_claim)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      this.reset();
      const c = sources.storeCounters();
      if (c.tracesFinalized === undefined) return;
      this.inc({ result: 'stored' }, c.tracesFinalized);
      this.inc({ result: 'stored_partial' }, c.tracesFinalizedPartial ?? 0);
      this.inc({ result: 'merged' }, c.tracesMerged ?? 0);
      this.inc({ result: 'sampled_out' }, c.tracesSampledOut ?? 0);
      this.inc({ result: 'lost_claim' }, c.lostClaims ?? 0);
    },
  });
  new Gauge({
    name: 'agentex_ingest_pending',
    help: 'OTLP ingest spans and traces waiting for assembly in the shared store, as this instance last saw (unit: spans, traces)',
    labelNames: ['unit'],
    registers: [registry],
    collect() {
      const c = sources.storeCounters();
      this.set({ unit: 'spans' }, c.pendingSpans ?? 0);
      this.set({ unit: 'traces' }, c.pendingTraces ?? 0);
    },
  });
  new Gauge({
    name: 'agentex_ready',
    help: '1 when this instance is ready for traffic, else 0',
    registers: [registry],
    collect() {
      this.set(sources.ready() ? 1 : 0);
    },
  });

  if (sources.runLimits) {
    const limits = () => sources.runLimits!();
    new Gauge({
      name: 'agentex_agent_runs_in_flight',
      help: 'Agent runs running now in this instance (cap: AGENTEX_MAX_CONCURRENT_RUNS)',
      registers: [registry],
      collect() {
        this.set(limits().running);
      },
    });
    new Counter({
      name: 'agentex_agent_runs_rejected_total',
      help: 'Agent runs refused at once: reason instance (503, AGENTEX_MAX_CONCURRENT_RUNS) or user (429, AGENTEX_MAX_CONCURRENT_RUNS_PER_USER)',
      labelNames: ['reason'],
      registers: [registry],
      collect() {
        const r = limits().rejected;
        this.reset();
        this.inc({ reason: 'instance' }, r.instance);
        this.inc({ reason: 'user' }, r.user);
      },
    });
  }
  if (sources.shared) {
    const shared = () => sources.shared!();
    new Gauge({
      name: 'agentex_shared_state_up',
      help: '1 while this instance reaches what it shares with the other instances (rate_limits: Redis; state_invalidation: the L2 feed), 0 while it falls back to local',
      labelNames: ['part'],
      registers: [registry],
      collect() {
        const s = shared();
        this.reset();
        if (s.rateLimits !== undefined) this.set({ part: 'rate_limits' }, s.rateLimits ? 1 : 0);
        if (s.stateInvalidation !== undefined) this.set({ part: 'state_invalidation' }, s.stateInvalidation ? 1 : 0);
      },
    });
  }

  const runs = new Counter({ name: 'agentex_agent_runs_total', help: 'Agent runs by final status', labelNames: ['status'], registers: [registry] });
  const runDuration = new Histogram({
    name: 'agentex_agent_run_duration_seconds',
    help: 'Agent run duration',
    labelNames: ['status'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const knownTools = new Set<string>();
  const toolDuration = new Histogram({
    name: 'agentex_tool_duration_seconds',
    help: 'Tool call duration by tool and result',
    labelNames: ['tool', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const storeWrite = new Histogram({
    name: 'agentex_store_write_duration_seconds',
    help: 'Duration of one trace batch write to the store',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  // Per-request metrics: prom-client's counter and histogram, with the label children of each (method, route, status)
  // resolved once and kept. Labels come from finite sets (route patterns, methods, statuses); past MAX_HTTP_SERIES
  // label sets, requests are counted under route "other".
  const httpRequests = new Counter({
    name: 'agentex_http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'agentex_http_request_duration_seconds',
    help: 'HTTP request duration by route',
    labelNames: ['method', 'route'],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  type HttpSeries = { count: ReturnType<typeof httpRequests.labels>; duration: ReturnType<typeof httpDuration.labels> };
  const httpSeries = new Map<string, HttpSeries>();
  const seriesOf = (method: string, route: string, status: number): HttpSeries => {
    const key = `${method} ${status} ${route}`;
    let series = httpSeries.get(key);
    if (series === undefined) {
      if (httpSeries.size >= MAX_HTTP_SERIES && route !== 'other') return seriesOf(method, 'other', status);
      series = { count: httpRequests.labels(method, route, String(status)), duration: httpDuration.labels(method, route) };
      httpSeries.set(key, series);
    }
    return series;
  };

  const rateLimiters = new Map<string, () => RateLimiterStats>();
  new Counter({
    name: 'agentex_http_rate_limited_total',
    help: 'Requests refused with 429 by each rate limiter (read, admin, ingest)',
    labelNames: ['limiter'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, stats] of rateLimiters) this.inc({ limiter: name }, stats().limited);
    },
  });
  new Counter({
    name: 'agentex_http_rate_limit_evicted_total',
    help: 'Client windows a rate limiter evicted early because it tracked its maximum number of clients',
    labelNames: ['limiter'],
    registers: [registry],
    collect() {
      this.reset();
      for (const [name, stats] of rateLimiters) this.inc({ limiter: name }, stats().evicted);
    },
  });

  return {
    registry,
    observeRequest(method, route, status, seconds) {
      const series = seriesOf(method, route, status);
      series.count.inc();
      series.duration.observe(seconds);
    },
    trackRateLimiter(name, stats) {
      rateLimiters.set(name, stats);
    },
    observeRun(status, seconds) {
      runs.inc({ status });
      runDuration.observe({ status }, seconds);
    },
    observeTool(tool, ok, seconds) {
      toolDuration.observe({ tool: knownTools.has(tool) ? tool : UNKNOWN_TOOL, result: ok ? 'ok' : 'error' }, seconds);
    },
    registerTools(names) {
      for (const name of names) knownTools.add(name);
    },
    observeStoreWrite(seconds) {
      storeWrite.observe(seconds);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
