/**
 * What the HTTP API needs from the rest of the service (`ServiceDeps`) and the shapes it exchanges with it. Backends
 * are chosen at the edge (`service.ts`) and passed in, so tests build the app on a temp SQLite store.
 */
import type { IngestOutcome } from './IngestAssembler.js';
import type { CircuitStats } from '../resilience/index.js';
import type { TraceStore } from '../store/TraceStore.js';
import type { TraceRecord } from '../trace/model.js';
import type { Tokens } from './auth.js';
import type { Config } from './config.js';
import type { Logger } from './logger.js';
import type { RateLimiterStats } from './rateLimit.js';
import type { RunLimits } from './runLimits.js';
import type { SharedRateLimits } from './sharedRateLimit.js';

/**
 * A circuit as the API shows it: the breaker's own stats (the resilience core's registry provides them) with its
 * failure rate since the last reset and the time of its last state change.
 */
export interface CircuitView extends CircuitStats {
  /** failures / calls since the last reset; 0 before the first call. */
  failureRate: number;
  /** Epoch ms of the last state change seen by the service, null if none since it started. */
  lastStateChangeAt: number | null;
}

/** What the app needs from the circuits (the resilience core's registry). */
export interface CircuitsPort {
  list(): CircuitView[];
  /** Resets one circuit (false when unknown) or, without a name, all of them. */
  reset(name?: string): boolean;
}

/**
 * What ingest did with one request's traces: taken (durably pending assembly) with what was rejected and why, or
 * refused whole (`ok: false`: the pending area is full or the store is down; the route answers 503 with Retry-After).
 */
export type IngestResult = IngestOutcome;

export interface AgentRunRequest {
  message: string;
  userId?: string | number | undefined;
  agent?: string | undefined;
  system?: string | undefined;
  /** The caller's trace to join, from a valid W3C `traceparent` header. */
  parent?: { traceId: string; parentSpanId: string } | undefined;
}

export interface AgentRunResponse {
  output: string;
  traceId: string;
  /** The run's W3C `traceparent`, sent back as the response header ('' = none). */
  traceparent?: string | undefined;
  status: 'running' | 'success' | 'error' | 'timeout';
  iterations: number;
}

/** Request-level metrics the app reports (implemented with prom-client in `metrics.ts`). */
export interface HttpMetrics {
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Reports a rate limiter's counters (read at scrape time). */
  trackRateLimiter?(name: string, stats: () => RateLimiterStats): void;
  /** Prometheus text exposition. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface ServiceDeps {
  config: Pick<Config, 'rateLimit' | 'adminRateLimit' | 'bodyLimitBytes' | 'requestTimeoutMs' | 'corsOrigins'> &
    Partial<Pick<Config, 'ingestRateLimit' | 'metricsToken'>>;
  tokens: Pick<Tokens, 'api' | 'admin'>;
  logger: Logger;
  store: TraceStore;
  circuits: CircuitsPort;
  /** Takes the traces decoded from one OTLP request (see `IngestAssembler.accept`). Never rejects. */
  ingest(traces: TraceRecord[]): Promise<IngestResult>;
  /** Caps on agent runs at once (per instance, per user). Absent = unbounded (tests). */
  runLimits?: RunLimits | undefined;
  /** Rate limits shared by every instance (Redis). Absent = each instance counts alone. */
  sharedRateLimits?: SharedRateLimits | undefined;
  /** Absent when no model provider is configured: the run route answers 503 saying what to set. */
  runAgent?: ((request: AgentRunRequest, signal: AbortSignal) => Promise<AgentRunResponse>) | undefined;
  metrics: HttpMetrics;
  /**
   * Erases what the state tier keeps about a user (conversations) in the shared tier and, by invalidation, on every
   * instance; called with every user deletion. `everywhere: false` when the shared tier was unreachable (503, retry).
   */
  eraseUserState?: ((userId: string) => Promise<{ everywhere: boolean } | void>) | undefined;
  /** Readiness: false until migrations are done and again while shutting down. */
  isReady(): boolean;
  /**
   * Aborted when shutdown stops waiting for in-flight work: agent runs still running are cancelled and answered 503
   * `shutting_down` (their traces are recorded before the tracer shuts down).
   */
  shutdownSignal?: AbortSignal | undefined;
  /**
   * Recent trace-store writes: `failing` once several consecutive writes failed, until one succeeds. Absent = only
   * the store's ping decides its health.
   */
  storeWrites?(): 'ok' | 'failing';
  /**
   * Where circuit state lives now: `shared` through Redis/Postgres, `local` (none configured), or `local_fallback`
   * while the shared store is unreachable. Absent = not reported on /health.
   */
  circuitState?(): 'local' | 'shared' | 'local_fallback';
}
