/**
 * The trace store contract shared by every backend (SQLite, Postgres). Backends are chosen at the edge and passed
 * around as this interface; one contract suite (`traceStore.case.ts`) runs against each.
 */
import type { KeepReason, TraceRecord, TraceStatus } from '../trace/model.js';
import type {
  AddPendingResult,
  ClaimedTrace,
  ClaimOptions,
  CompleteResult,
  PendingCompletion,
  PendingCounters,
  PendingLimits,
  PendingTraceInput,
  TraceOrigin,
} from './pending.js';

/** A trace as listed: everything but the spans, plus how many spans it has. */
export type TraceSummary = Omit<TraceRecord, 'spans'> & { spanCount: number };

/**
 * Filters for {@link TraceStore.list}. Every field is validated; a bad one throws `ValidationError` naming it.
 * Times are ISO-8601 strings (`2025-01-31T12:00:00Z`), `Date`s or epoch milliseconds.
 */
export interface ListTracesQuery {
  /** Matches the user id's text form: `42` and `'42'` select the same traces. */
  userId?: string | number | undefined;
  /** One of `TRACE_STATUSES`. */
  status?: TraceStatus | undefined;
  /** The agent (or skill) name. */
  agent?: string | undefined;
  /** Traces started at or after this time. */
  since?: string | number | Date | undefined;
  /** Traces started strictly before this time. */
  until?: string | number | Date | undefined;
  /** Page size, 1..100 (integer or integer string). Default 20. */
  limit?: number | string | undefined;
  /** The `nextCursor` of the previous page. Opaque. */
  cursor?: string | undefined;
}

/** One page of traces, newest first. `nextCursor` is null on the last page. */
export interface TracePage {
  traces: TraceSummary[];
  nextCursor: string | null;
}

/** A time range (and optional user/agent) for aggregates. `since` and `until` are required. */
export interface StatsQuery {
  since: string | number | Date;
  until: string | number | Date;
  userId?: string | number | undefined;
  agent?: string | undefined;
}

/** Aggregates over traces started in a range. Percentiles use the nearest-rank method over finished traces. */
export interface TraceStats {
  total: number;
  byStatus: Record<TraceStatus, number>;
  /** null when no trace in the range has a duration. */
  p50DurationMs: number | null;
  p95DurationMs: number | null;
}

/** Bucketed counts for the dashboard's chart. */
export interface TimeseriesQuery extends StatsQuery {
  /** Bucket width in ms, at least 1000; the range may hold at most 1000 buckets. */
  bucketMs: number;
}

/** One bucket: traces started in `[start, start + bucketMs)`, by status. Empty buckets are included. */
export interface TraceBucket {
  start: number;
  total: number;
  byStatus: Record<TraceStatus, number>;
}

export interface PutOptions {
  /** Who recorded these traces. Default `own` (our runs); ingest never writes over an `own` trace. */
  origin?: TraceOrigin | undefined;
  /** Checked between sub-batches: an aborted put stops before the next sub-batch (earlier ones stay committed). */
  signal?: AbortSignal | undefined;
}

export interface PurgeOptions {
  /** Treat traces expiring at or before this time as expired. Default `Date.now()`. */
  now?: number | undefined;
  /** Called after each chunk with the running total of deleted traces. */
  onProgress?: ((deleted: number) => void) | undefined;
  /** Stops between chunks; the count so far is returned. */
  signal?: AbortSignal | undefined;
}

/** The result of a health ping. */
export type HealthResult = { ok: true; latencyMs: number } | { ok: false; error: string };

/** Counters a store keeps about itself (the pending area's included, see {@link PendingCounters}). */
export interface TraceStoreCounters extends Partial<PendingCounters> {
  tracesWritten: number;
  batchesWritten: number;
  purged: number;
  purgeRuns: number;
  purgeErrors: number;
  /** SQLite: prepared list statements evicted from the bounded statement cache (prepared again when next needed). */
  listStatementsEvicted?: number;
  /** SQLite with the background checkpointer: WAL checkpoints completed off the event loop. */
  walCheckpoints?: number;
  /** SQLite with the background checkpointer: failed checkpoints (logged). */
  walCheckpointErrors?: number;
  /** SQLite with the background checkpointer: WAL frames (pages) at the last checkpoint. */
  walFrames?: number;
}

/** Where traces live. Every method rejects with `StoreClosedError` after `close()`. */
export interface TraceStore {
  readonly backend: 'sqlite' | 'postgres';
  /**
   * Writes traces idempotently (upsert by traceId: a trace written twice is stored once, the later version wins).
   * A trace and its spans are always written in one transaction; large batches are split into bounded sub-batches.
   * @throws ValidationError when a trace is malformed (nothing of the batch is written); StoreUnavailableError.
   */
  put(traces: readonly TraceRecord[], options?: PutOptions): Promise<void>;
  /**
   * One trace with its spans (in recorded order), or null when there is none.
   * @throws ValidationError when `traceId` is not 32 hex chars or a 36-char UUID (no query is made).
   */
  get(traceId: string): Promise<TraceRecord | null>;
  /** Traces newest first, keyset-paginated. @throws ValidationError naming the bad filter. */
  list(query?: ListTracesQuery): Promise<TracePage>;
  /** Counts by status and p50/p95 duration over a range. @throws ValidationError. */
  stats(query: StatsQuery): Promise<TraceStats>;
  /** Counts by status per time bucket. @throws ValidationError. */
  timeseries(query: TimeseriesQuery): Promise<TraceBucket[]>;
  /** Deletes expired traces in bounded chunks, yielding between them. Resolves to the number deleted. */
  purgeExpired(options?: PurgeOptions): Promise<number>;
  /** Deletes every trace and span of a user (matched by text form) and resolves to the number of traces deleted. */
  deleteByUser(userId: string | number): Promise<number>;
  /**
   * OTLP ingest, step 1: writes the spans of a request into the pending area in one transaction, idempotent by
   * (trace id, span id) — a repeated span is kept as first written. Spans of a trace our own runs recorded are refused
   * (counted per trace id in `rejectedOwn`). When the pending area cannot take the whole request nothing is written
   * and `{ ok: false, reason: 'full' }` is returned. @throws ValidationError for a malformed input; StoreUnavailableError.
   */
  addPending(traces: readonly PendingTraceInput[], limits: PendingLimits): Promise<AddPendingResult>;
  /**
   * OTLP ingest, step 2: atomically claims pending traces that are ready (root arrived and quiet for `settleMs`, or
   * older than `windowMs`), for `leaseMs`, and reads their pending spans. Two instances never claim the same trace
   * while a lease holds. @throws StoreUnavailableError.
   */
  claimPending(options: ClaimOptions): Promise<ClaimedTrace[]>;
  /**
   * OTLP ingest, step 3: in one transaction per call, writes or merges each claimed trace (never over an `own` trace,
   * never rewriting a stored span) and deletes the consumed pending spans. @throws StoreUnavailableError.
   */
  completePending(completions: readonly PendingCompletion[]): Promise<CompleteResult>;
  /** Spans and traces waiting in the pending area now (one query; refreshes the counters). */
  pendingSize(): Promise<{ spans: number; traces: number }>;
  /** A round trip to the database; never rejects. */
  ping(): Promise<HealthResult>;
  counters(): TraceStoreCounters;
  /** Stops the purge timer and closes the connection(s). Idempotent. */
  close(): Promise<void>;
}

/** Shared, pino-compatible logger shape: `logger.warn({ fields }, 'message')`. Never given values or secrets. */
export interface StoreLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** The default retention of a trace: 7 days. */
export const DEFAULT_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** The default interval of the background purge: 10 minutes. */
export const DEFAULT_PURGE_INTERVAL_MS = 10 * 60 * 1000;
/** The longest a purge chunk should hold the event loop (SQLite) or a transaction (Postgres). */
export const PURGE_CHUNK_BUDGET_MS = 10;

export type { KeepReason };
