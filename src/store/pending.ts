/**
 * The pending area of OTLP ingest, shared by the backends: spans of a trace arrive in any number of requests, on any
 * instance, and wait here (durably, already redacted and bounded) until their trace is finalized — assembled from all
 * its pending spans and merged into the stored trace. The pure parts live here (types, assembly, the merge rule);
 * each backend implements the three statements (`addPending`, `claimPending`, `completePending`) in SQL.
 */
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../common/errors.js';
import type { SpanRecord, TraceRecord, TraceStatus } from '../trace/model.js';
import { normaliseTraceId, validateTrace } from './query.js';

/** Where a stored trace came from: recorded by our own runs, or assembled from ingested spans. */
export type TraceOrigin = 'own' | 'ingest';

/** Trace-level fields one ingest request brought for a trace; the first request's non-null values win. */
export interface PendingHeader {
  userId: string | number | null;
  agent: string | null;
  finalOutput: string | null;
  metadata: Record<string, unknown>;
}

/** The spans of one trace offered by one ingest request, already redacted and bounded by the tracer. */
export interface PendingTraceInput {
  traceId: string;
  header: PendingHeader;
  spans: readonly SpanRecord[];
}

/** Limits of the pending area, checked before anything of a request is written. */
export interface PendingLimits {
  /** Most spans waiting across all traces (all instances: the bound lives in the shared store). */
  maxPendingSpans: number;
  /** Most traces waiting. */
  maxPendingTraces: number;
  /** The time of the request (epoch ms). Default `Date.now()`. */
  now?: number | undefined;
}

/** What `addPending` did with a request. Nothing is written when it is not `ok` (the caller answers 503). */
export type AddPendingResult =
  | {
      ok: true;
      /** Spans written to the pending area now. */
      accepted: number;
      /** Spans already pending under the same (trace id, span id), identical: a retry, idempotent. */
      duplicates: number;
      /** Spans already pending under the same ids with different content: the first one is kept. */
      conflicts: number;
      /** Trace ids refused because our own runs recorded them, with the number of spans refused for each. */
      rejectedOwn: Map<string, number>;
    }
  | { ok: false; reason: 'full'; pendingSpans: number; pendingTraces: number };

/** Which pending traces are ready to finalize. */
export interface ClaimOptions {
  /** The time now (epoch ms). Default `Date.now()`. */
  now?: number | undefined;
  /** A trace whose root span has arrived (or that is stored already) is ready after this much quiet (no new span). */
  settleMs: number;
  /** Any trace is ready this long after its first pending span arrived: without a root it is finished as partial. */
  windowMs: number;
  /** Claim every pending trace, ready or not (a flush). */
  all?: boolean | undefined;
  /** Most traces claimed at once. */
  limit: number;
  /** How long the claim holds; past it another instance may claim the trace again (this one died). */
  leaseMs: number;
}

/** One pending span as read back. */
export interface PendingSpan {
  span: SpanRecord;
  /** The header of the request that brought this span, on the first span of each request only. */
  header: PendingHeader | null;
}

/** A trace claimed for finalization, with every span pending for it (in arrival order). */
export interface ClaimedTrace {
  traceId: string;
  /** Opaque: hand it back to `completePending`; a claim taken over after its lease expired is not honoured. */
  claim: string;
  /** An ingested trace with this id is stored already: the spans merge into it, sampling was decided before. */
  stored: boolean;
  spans: PendingSpan[];
}

/** The finalizer's decision for one claimed trace. */
export interface PendingCompletion {
  traceId: string;
  claim: string;
  /** The span ids consumed (those read at claim time): spans that arrived since stay pending. */
  spanIds: readonly string[];
  /** The assembled, redacted, bounded trace. */
  record: TraceRecord;
  /** Tail sampling's verdict for a trace not stored yet (false: its pending spans are deleted, nothing stored). */
  keep: boolean;
  /** Span cap of a stored trace after merging (the tracer's `bounds.maxSpans`). */
  maxSpans: number;
}

/** What `completePending` did. */
export interface CompleteResult {
  /** New traces written. */
  stored: number;
  /** Traces that existed (ingested) and gained spans. */
  merged: number;
  /** Spans added to traces (new or merged). */
  spansAdded: number;
  /** Repeated spans already stored, identical (idempotent). */
  duplicates: number;
  /** Repeated spans or trace fields (user, agent) that differed from what was stored: the stored one was kept. */
  conflicts: number;
  /** Traces sampled out: their pending spans were deleted. */
  sampledOut: number;
  /** Traces (and their spans) refused at finalization because our own runs recorded that trace id meanwhile. */
  rejectedOwn: number;
  rejectedOwnSpans: number;
  /** Spans over the span cap of a stored trace, counted in its `droppedSpans`. */
  droppedSpans: number;
  /** Claims found expired and taken over by another instance: nothing was done for them. */
  lostClaims: number;
}

/** Counters the store keeps about its pending area (this process's operations; pending sizes as last seen). */
export interface PendingCounters {
  /** Spans waiting in the pending area at the last ingest or sweep this process ran. */
  pendingSpans: number;
  /** Traces waiting in the pending area at the last ingest or sweep this process ran. */
  pendingTraces: number;
  ingestSpansAccepted: number;
  ingestSpansDuplicate: number;
  ingestSpanConflicts: number;
  /** Spans refused because their trace id belongs to a trace our own runs recorded. */
  ingestSpansRejectedOwn: number;
  /** Requests refused whole because the pending area was full. */
  ingestRequestsRejectedFull: number;
  ingestSpansRejectedFull: number;
  tracesFinalized: number;
  tracesFinalizedPartial: number;
  tracesMerged: number;
  tracesSampledOut: number;
  lostClaims: number;
}

export function emptyPendingCounters(): PendingCounters {
  return {
    pendingSpans: 0,
    pendingTraces: 0,
    ingestSpansAccepted: 0,
    ingestSpansDuplicate: 0,
    ingestSpanConflicts: 0,
    ingestSpansRejectedOwn: 0,
    ingestRequestsRejectedFull: 0,
    ingestSpansRejectedFull: 0,
    tracesFinalized: 0,
    tracesFinalizedPartial: 0,
    tracesMerged: 0,
    tracesSampledOut: 0,
    lostClaims: 0,
  };
}

/** True when a span is a root (no parent). */
export const isRoot = (span: SpanRecord): boolean => span.parentId === null || span.parentId === undefined;

/**
 * Assembles a claimed trace from its pending spans: union by span id (the first arrival of an id wins), trace-level
 * fields from the header of the request that brought the root span, else the first non-null value in arrival order.
 * Status: `error` when any span failed, else `success` (`running` when no span has ended). Flagged
 * `metadata.partial = true` when no root span is among them.
 */
export function assemblePending(traceId: string, pending: readonly PendingSpan[]): TraceRecord {
  const spans: SpanRecord[] = [];
  const seen = new Set<string>();
  let rootHeader: PendingHeader | null = null;
  let currentHeader: PendingHeader | null = null;
  const headers: PendingHeader[] = [];
  for (const p of pending) {
    if (p.header) {
      currentHeader = p.header;
      headers.push(p.header);
    }
    if (seen.has(p.span.spanId)) continue;
    seen.add(p.span.spanId);
    spans.push(p.span);
    if (rootHeader === null && isRoot(p.span)) rootHeader = currentHeader;
  }
  const pick = <K extends keyof PendingHeader>(key: K): PendingHeader[K] | null => {
    if (rootHeader && rootHeader[key] !== null) return rootHeader[key];
    for (const h of headers) if (h[key] !== null) return h[key];
    return null;
  };
  let startedAt = Infinity;
  let endedAt: number | null = null;
  let error = false;
  let iterations = 0;
  for (const s of spans) {
    if (s.startedAt < startedAt) startedAt = s.startedAt;
    if (s.endedAt !== null && (endedAt === null || s.endedAt > endedAt)) endedAt = s.endedAt;
    if (s.status === 'error') error = true;
    if (s.kind === 'llm') iterations++;
  }
  if (!Number.isFinite(startedAt)) startedAt = 0;
  const metadata: Record<string, unknown> = { ...(pick('metadata') ?? {}) };
  if (!spans.some(isRoot)) metadata.partial = true;
  else delete metadata.partial;
  const status: TraceStatus = error ? 'error' : endedAt === null ? 'running' : 'success';
  return {
    traceId,
    userId: pick('userId'),
    agent: pick('agent'),
    startedAt,
    endedAt,
    durationMs: endedAt === null ? null : endedAt - startedAt,
    status,
    iterations,
    finalOutput: pick('finalOutput'),
    metadata,
    spans,
    droppedSpans: 0,
    truncated: false,
  };
}

/** The result of merging spans into a stored trace. */
export interface MergeResult {
  /** The stored trace's new record (without spans: only its body changes). */
  record: TraceRecord;
  /** Spans to append after the stored ones, in order. */
  added: SpanRecord[];
  duplicates: number;
  conflicts: number;
  dropped: number;
}

const rank: Record<TraceStatus, number> = { running: 0, success: 1, timeout: 2, error: 3 };

/**
 * Merges an incoming (assembled) trace into a stored ingested one. Stored spans are never rewritten: a repeated span
 * id is a duplicate when identical, a conflict when not (the stored one is kept either way). The user, agent and final
 * output stay as stored when set (a different incoming value is a conflict), and are filled when empty; so are the
 * metadata keys the stored trace lacks. Times widen,
 * the worst status wins, iterations count llm spans, `metadata.partial` is cleared once a root span is present.
 * Spans past `maxSpans` are dropped and counted in `droppedSpans`.
 */
export function mergeIntoStored(stored: TraceRecord, incoming: TraceRecord, maxSpans: number): MergeResult {
  const byId = new Map<string, string>();
  for (const s of stored.spans) byId.set(s.spanId, JSON.stringify(s));
  const added: SpanRecord[] = [];
  let duplicates = 0;
  let conflicts = 0;
  let dropped = 0;
  for (const s of incoming.spans) {
    const known = byId.get(s.spanId);
    if (known !== undefined) {
      if (known === JSON.stringify(s)) duplicates++;
      else conflicts++;
      continue;
    }
    if (stored.spans.length + added.length >= maxSpans) {
      dropped++;
      continue;
    }
    byId.set(s.spanId, JSON.stringify(s));
    added.push(s);
  }
  const field = <K extends 'userId' | 'agent' | 'finalOutput'>(key: K): TraceRecord[K] => {
    const a = stored[key];
    const b = incoming[key];
    if (a === null || a === undefined) return b;
    if (b !== null && b !== undefined && b !== a) conflicts++;
    return a;
  };
  const all = [...stored.spans, ...added];
  const startedAt = Math.min(stored.startedAt, incoming.startedAt);
  const ends = [stored.endedAt, incoming.endedAt].filter((e): e is number => e !== null && e !== undefined);
  const endedAt = ends.length > 0 ? Math.max(...ends) : null;
  const status = rank[incoming.status] > rank[stored.status] && incoming.status !== 'running' ? incoming.status : stored.status;
  // Keys the stored trace lacks are filled from the incoming one (a session id on a root that came late); stored wins.
  const metadata: Record<string, unknown> = { ...incoming.metadata, ...stored.metadata };
  if (all.some(isRoot)) delete metadata.partial;
  else metadata.partial = true;
  const droppedSpans = (stored.droppedSpans ?? 0) + (incoming.droppedSpans ?? 0) + dropped;
  const record: TraceRecord = {
    ...stored,
    userId: field('userId'),
    agent: field('agent'),
    finalOutput: field('finalOutput'),
    startedAt,
    endedAt,
    durationMs: endedAt === null ? null : endedAt - startedAt,
    status,
    iterations: all.filter((s) => s.kind === 'llm').length,
    metadata,
    spans: all,
    droppedSpans,
    truncated: stored.truncated || incoming.truncated || droppedSpans > 0,
    keepReason: status === 'error' ? 'error' : stored.keepReason,
  };
  if (record.keepReason === undefined) delete record.keepReason;
  return { record, added, duplicates, conflicts, dropped };
}

/**
 * Validates the input of `addPending` (trace ids, span ids and kinds, headers) before anything is written.
 * @throws ValidationError naming the bad field. Returns the normalised trace id of each input.
 */
export function validatePending(traces: readonly PendingTraceInput[], limits: PendingLimits): string[] {
  if (!Array.isArray(traces)) throw new ValidationError('traces', 'Expected `traces` to be an array of pending traces');
  for (const key of ['maxPendingSpans', 'maxPendingTraces'] as const) {
    const v = limits?.[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new ValidationError(`limits.${key}`, `Expected \`${key}\` to be a positive integer`);
  }
  return (traces as readonly unknown[]).map((raw, i) => {
    const at = `traces[${i}]`;
    const t = raw as Partial<PendingTraceInput> | null;
    if (t === null || typeof t !== 'object') throw new ValidationError(at, `Expected ${at} to be a pending trace`);
    const traceId = normaliseTraceId(t.traceId, `${at}.traceId`);
    if (t.header === null || typeof t.header !== 'object') throw new ValidationError(`${at}.header`, `Expected ${at}.header to be an object`);
    validateTrace({ ...t.header, traceId, status: 'success', startedAt: 0, endedAt: null, durationMs: null, spans: t.spans }, i);
    return traceId;
  });
}

export function emptyCompleteResult(): CompleteResult {
  return { stored: 0, merged: 0, spansAdded: 0, duplicates: 0, conflicts: 0, sampledOut: 0, rejectedOwn: 0, rejectedOwnSpans: 0, droppedSpans: 0, lostClaims: 0 };
}

/** Adds one merge's outcome to a completion result. */
export function tally(r: CompleteResult, m: MergeResult, merged: boolean): void {
  if (merged) r.merged++;
  else r.stored++;
  r.spansAdded += m.added.length;
  r.duplicates += m.duplicates;
  r.conflicts += m.conflicts;
  r.droppedSpans += m.dropped;
}

/** Adds a completion's outcome to the store's pending counters. */
export function countComplete(c: PendingCounters, r: CompleteResult, completions: readonly PendingCompletion[]): void {
  c.tracesFinalized += r.stored;
  c.tracesMerged += r.merged;
  c.tracesSampledOut += r.sampledOut;
  c.ingestSpansDuplicate += r.duplicates;
  c.ingestSpanConflicts += r.conflicts;
  c.ingestSpansRejectedOwn += r.rejectedOwnSpans;
  c.lostClaims += r.lostClaims;
  for (const x of completions) if (x.keep && x.record.metadata.partial === true) c.tracesFinalizedPartial++;
}

/** Validated claim options with `now` resolved. @throws ValidationError naming the bad option. */
export function validateClaim(options: ClaimOptions): Required<ClaimOptions> {
  const o = options ?? ({} as ClaimOptions);
  for (const key of ['settleMs', 'windowMs', 'limit', 'leaseMs'] as const) {
    const v = o[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < (key === 'limit' || key === 'leaseMs' ? 1 : 0)) {
      throw new ValidationError(key, `Expected \`${key}\` to be a ${key === 'limit' || key === 'leaseMs' ? 'positive' : 'non-negative'} integer`);
    }
  }
  const now = o.now ?? Date.now();
  if (typeof now !== 'number' || !Number.isFinite(now)) throw new ValidationError('now', 'Expected `now` to be epoch ms');
  return { now: Math.floor(now), settleMs: o.settleMs, windowMs: o.windowMs, limit: o.limit, leaseMs: o.leaseMs, all: o.all === true };
}

/** A fresh claim token. */
export function claimToken(): string {
  return randomUUID();
}
