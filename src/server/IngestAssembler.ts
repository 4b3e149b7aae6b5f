/**
 * OTLP ingest assembly: the spans of a trace arrive in any number of requests, on any instance; each request's spans
 * are redacted and bounded by the tracer and written to the shared store's pending area before the request is
 * answered (acknowledged = durable). A background sweep on every instance claims the traces that are ready (root
 * arrived and quiet for `settleMs`, or `windowMs` after their first span: finished as partial), assembles each from
 * all its pending spans, lets the tracer tail-sample the whole trace, and writes or merges it (see
 * docs/architecture.md, "OTLP ingest: what is decided when").
 */
import { InvalidOptionsError, isAgentexError } from '../common/errors.js';
import { assertKnownKeys, assertNumber } from '../common/options.js';
import { assemblePending, type PendingCompletion, type PendingTraceInput } from '../store/pending.js';
import type { StoreLogger, TraceStore } from '../store/TraceStore.js';
import type { TraceRecord } from '../trace/model.js';
import type { Tracer } from '../trace/Tracer.js';

/** A trace with its root span is finalized after this much quiet. */
export const DEFAULT_SETTLE_MS = 2000;
/** A trace is finalized at the latest this long after its first span arrived (flagged partial without a root). */
export const DEFAULT_ASSEMBLY_WINDOW_MS = 60_000;
/** Most spans waiting in the pending area (all instances together). */
export const DEFAULT_MAX_PENDING_SPANS = 200_000;
/** Most traces waiting in the pending area. */
export const DEFAULT_MAX_PENDING_TRACES = 20_000;
/** The longest `Retry-After` answered (seconds); see `IngestAssembler.retryAfterSeconds`. */
export const MAX_RETRY_AFTER_SECONDS = 2;
/** Traces claimed per round of a sweep. */
export const DEFAULT_CLAIM_LIMIT = 200;
/** Spans redacted and bounded between two yields to the event loop while a request is accepted. */
export const PREPARE_CHUNK_SPANS = 256;
/** Most spans written to the pending area in one transaction; a larger request is written in several. */
export const WRITE_CHUNK_SPANS = 1000;
/** How long an instance's claim holds before another may take the trace over (the first one died). */
export const DEFAULT_LEASE_MS = 30_000;

export interface IngestAssemblerOptions {
  store: TraceStore;
  tracer: Tracer;
  settleMs?: number;
  windowMs?: number;
  maxPendingSpans?: number;
  maxPendingTraces?: number;
  /** How often the background sweep runs. Default `min(settleMs, 1000)`, at least 50 ms. */
  sweepIntervalMs?: number;
  claimLimit?: number;
  leaseMs?: number;
  /** Where failed sweeps are reported (never with span content). */
  logger?: StoreLogger;
  /**
   * What `close()` finalizes: `all` pending traces (the default with SQLite: no other instance will until a restart),
   * or only the `ready` ones (the default with Postgres: the other instances go on assembling the rest).
   */
  onClose?: 'all' | 'ready';
}

/** What the `/v1/traces` route answers. */
export type IngestOutcome =
  | { ok: true; acceptedSpans: number; rejectedSpans: number; errorMessage: string }
  | { ok: false; reason: 'full' | 'unavailable'; retryAfterSeconds: number; message: string };

/** Counters of the assembler itself (the store counts the pending area, see `TraceStoreCounters`). */
export interface IngestAssemblerStats {
  requests: number;
  requestsRefused: number;
  sweeps: number;
  sweepErrors: number;
  /** Ingested records the tracer refused as malformed (their spans are reported rejected). */
  malformed: number;
}

/** Assembles ingested traces in the shared store. Build with {@link createIngestAssembler}; `start()` the sweep. */
export class IngestAssembler {
  private readonly store: TraceStore;
  private readonly tracer: Tracer;
  readonly settleMs: number;
  readonly windowMs: number;
  private readonly maxPendingSpans: number;
  private readonly maxPendingTraces: number;
  private readonly sweepIntervalMs: number;
  private readonly claimLimit: number;
  private readonly leaseMs: number;
  private readonly logger: StoreLogger;
  private readonly onClose: 'all' | 'ready';
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<number> | null = null;
  private closed = false;
  private readonly counters: IngestAssemblerStats = { requests: 0, requestsRefused: 0, sweeps: 0, sweepErrors: 0, malformed: 0 };

  constructor(options: IngestAssemblerOptions) {
    const where = 'ingestAssembler';
    assertKnownKeys(where, options, ['store', 'tracer', 'settleMs', 'windowMs', 'maxPendingSpans', 'maxPendingTraces', 'sweepIntervalMs', 'claimLimit', 'leaseMs', 'logger', 'onClose']);
    this.store = options.store;
    this.tracer = options.tracer;
    const int = (name: keyof IngestAssemblerOptions, value: number | undefined, def: number, min: number) =>
      value === undefined ? def : assertNumber(where, name, value, { integer: true, min, max: 2 ** 31 - 1 });
    this.settleMs = int('settleMs', options.settleMs, DEFAULT_SETTLE_MS, 0);
    this.windowMs = int('windowMs', options.windowMs, DEFAULT_ASSEMBLY_WINDOW_MS, 1);
    this.maxPendingSpans = int('maxPendingSpans', options.maxPendingSpans, DEFAULT_MAX_PENDING_SPANS, 1);
    this.maxPendingTraces = int('maxPendingTraces', options.maxPendingTraces, DEFAULT_MAX_PENDING_TRACES, 1);
    this.sweepIntervalMs = int('sweepIntervalMs', options.sweepIntervalMs, Math.max(50, Math.min(this.settleMs, 1000)), 1);
    this.claimLimit = int('claimLimit', options.claimLimit, DEFAULT_CLAIM_LIMIT, 1);
    this.leaseMs = int('leaseMs', options.leaseMs, DEFAULT_LEASE_MS, 1);
    this.onClose = options.onClose ?? (this.store.backend === 'sqlite' ? 'all' : 'ready');
    if (this.onClose !== 'all' && this.onClose !== 'ready') throw new InvalidOptionsError(`${where}.onClose`, "Expected `onClose` to be 'all' or 'ready'");
    this.logger = options.logger ?? { warn: (fields, message) => process.stderr.write(`${JSON.stringify({ ...fields, msg: message })}\n`) };
  }

  /**
   * Seconds an exporter should wait before retrying a refused request: the next sweep, at most
   * {@link MAX_RETRY_AFTER_SECONDS}. The official OTLP exporters give up at once when `Retry-After` is past their export
   * timeout (10 s by default), so a long value would turn backpressure into loss on the sender's side.
   */
  get retryAfterSeconds(): number {
    return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Math.ceil(this.sweepIntervalMs / 1000)));
  }

  /**
   * Takes the traces decoded from one request: redacts and bounds each (malformed ones are rejected), writes their
   * spans to the pending area in one transaction, and says what was rejected. When the pending area is full or the
   * store is down, nothing is written and the outcome says so (the route answers 503 with Retry-After). Never throws.
   */
  async accept(traces: readonly TraceRecord[]): Promise<IngestOutcome> {
    this.counters.requests++;
    const inputs: PendingTraceInput[] = [];
    let rejectedSpans = 0;
    let errorMessage = '';
    let sinceYield = 0;
    for (const trace of traces) {
      // Redaction and bounds cost per span: yield to the event loop between chunks of a large request.
      if (sinceYield >= PREPARE_CHUNK_SPANS) {
        sinceYield = 0;
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      sinceYield += Array.isArray(trace?.spans) ? trace.spans.length : 1;
      const prepared = this.tracer.prepareIngested(trace);
      if (prepared === null) {
        this.counters.malformed++;
        rejectedSpans += Array.isArray(trace?.spans) ? trace.spans.length : 0;
        errorMessage ||= 'a trace could not be read (malformed spans)';
        continue;
      }
      inputs.push({
        traceId: prepared.traceId,
        header: { userId: prepared.userId, agent: prepared.agent, finalOutput: prepared.finalOutput, metadata: prepared.metadata },
        spans: prepared.spans,
      });
    }
    const limits = { maxPendingSpans: this.maxPendingSpans, maxPendingTraces: this.maxPendingTraces };
    const groups = writeGroups(inputs, WRITE_CHUNK_SPANS);
    const result = { accepted: 0, duplicates: 0, conflicts: 0, rejectedOwn: new Map<string, number>() };
    try {
      if (groups.length > 1) {
        // Written in several transactions (one long one would hold the event loop with SQLite): refuse up front when
        // the whole request cannot fit now, so a refusal normally leaves nothing of it behind.
        const size = await this.store.pendingSize();
        const spans = inputs.reduce((n, t) => n + t.spans.length, 0);
        if (size.spans + spans > this.maxPendingSpans || size.traces + inputs.length > this.maxPendingTraces) return this.full(size.spans, size.traces);
      }
      for (let g = 0; g < groups.length; g++) {
        if (g > 0) await new Promise<void>((resolve) => setImmediate(resolve));
        const r = await this.store.addPending(groups[g]!, limits);
        // Filled meanwhile by other requests: the groups written so far stay pending; the sender's retry of the whole
        // request finds them as duplicates (idempotent), so nothing is lost or doubled.
        if (!r.ok) return this.full(r.pendingSpans, r.pendingTraces);
        result.accepted += r.accepted;
        result.duplicates += r.duplicates;
        result.conflicts += r.conflicts;
        for (const [id, n] of r.rejectedOwn) result.rejectedOwn.set(id, (result.rejectedOwn.get(id) ?? 0) + n);
      }
    } catch (err) {
      this.counters.requestsRefused++;
      this.logger.warn({ operation: 'addPending', error: isAgentexError(err) ? err.code : 'error' }, 'OTLP ingest could not write to the store');
      return { ok: false, reason: 'unavailable', retryAfterSeconds: this.retryAfterSeconds, message: 'The trace store is unavailable; retry later' };
    }
    if (result.rejectedOwn.size > 0) {
      let n = 0;
      for (const v of result.rejectedOwn.values()) n += v;
      rejectedSpans += n;
      const ids = [...result.rejectedOwn.keys()];
      const own = `${n} span(s) of ${ids.length} trace(s) recorded by AgentEx itself were rejected: ingest never modifies those traces (trace ${ids.slice(0, 3).join(', ')}${ids.length > 3 ? ', ...' : ''})`;
      errorMessage = errorMessage ? `${errorMessage}; ${own}` : own;
    }
    return { ok: true, acceptedSpans: result.accepted + result.duplicates + result.conflicts, rejectedSpans, errorMessage };
  }

  private full(pendingSpans: number, pendingTraces: number): IngestOutcome {
    this.counters.requestsRefused++;
    return {
      ok: false,
      reason: 'full',
      retryAfterSeconds: this.retryAfterSeconds,
      message: `Ingest is behind: ${pendingSpans} spans of ${pendingTraces} traces are waiting to be assembled (limits ${this.maxPendingSpans} spans, ${this.maxPendingTraces} traces); retry later`,
    };
  }

  /** Starts the background sweep (unref'd: no request waits on it; `close()` runs a last one). Idempotent. */
  start(): this {
    if (this.timer === null && !this.closed) {
      this.timer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
      this.timer.unref();
    }
    return this;
  }

  /**
   * Finalizes the traces that are ready now (with `all`, every pending trace, ready or not). One sweep at a time per
   * instance: a call while one runs waits for it and then runs its own. Resolves to the number of traces finalized
   * (stored, merged or sampled out). Failures are logged and counted, never thrown.
   */
  async sweep(options: { all?: boolean; now?: number } = {}): Promise<number> {
    while (this.running) await this.running;
    const run = this.runSweep(options.all === true, options.now);
    this.running = run;
    try {
      return await run;
    } finally {
      if (this.running === run) this.running = null;
    }
  }

  /** Finalizes every pending trace now, ready or not (tests, and an operator's flush). */
  flush(): Promise<number> {
    return this.sweep({ all: true });
  }

  private async runSweep(all: boolean, now: number | undefined): Promise<number> {
    this.counters.sweeps++;
    let done = 0;
    try {
      for (;;) {
        const claimed = await this.store.claimPending({ now, settleMs: this.settleMs, windowMs: this.windowMs, all, limit: this.claimLimit, leaseMs: this.leaseMs });
        if (claimed.length === 0) break;
        const completions: PendingCompletion[] = [];
        for (const c of claimed) {
          const settled = this.tracer.settleIngested(assemblePending(c.traceId, c.spans), c.stored);
          const spanIds = c.spans.map((p) => p.span.spanId);
          if (settled === null) {
            // Cannot happen for spans the tracer prepared itself; their pending rows are released as sampled out.
            completions.push({ traceId: c.traceId, claim: c.claim, spanIds, record: assemblePending(c.traceId, []), keep: false, maxSpans: this.tracer.bounds.maxSpans });
            continue;
          }
          completions.push({ traceId: c.traceId, claim: c.claim, spanIds, record: settled.record, keep: settled.keep, maxSpans: this.tracer.bounds.maxSpans });
        }
        await this.store.completePending(completions);
        done += claimed.length;
        if (claimed.length < this.claimLimit) break;
      }
      await this.store.pendingSize();
    } catch (err) {
      this.counters.sweepErrors++;
      this.logger.warn({ operation: 'sweep', error: isAgentexError(err) ? err.code : 'error' }, 'OTLP ingest sweep failed; pending spans stay for the next sweep');
    }
    return done;
  }

  stats(): IngestAssemblerStats {
    return { ...this.counters };
  }

  /**
   * Stops the sweep timer, waits for a running sweep, then finalizes every pending trace or only the ready ones (see
   * `onClose`); what is left stays pending in the store, durable, for the next sweep of any instance.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.sweep({ all: this.onClose === 'all' });
  }
}

/** Splits a request's traces into groups of at most `max` spans (a large trace is split too; each piece keeps its header). */
function writeGroups(inputs: readonly PendingTraceInput[], max: number): PendingTraceInput[][] {
  const groups: PendingTraceInput[][] = [];
  let group: PendingTraceInput[] = [];
  let size = 0;
  for (const t of inputs) {
    if (t.spans.length === 0) group.push(t);
    for (let from = 0; from < t.spans.length; ) {
      const take = Math.min(t.spans.length - from, max - size);
      group.push(take === t.spans.length ? t : { ...t, spans: t.spans.slice(from, from + take) });
      size += take;
      from += take;
      if (size >= max) {
        groups.push(group);
        group = [];
        size = 0;
      }
    }
  }
  if (group.length > 0 || groups.length === 0) groups.push(group);
  return groups;
}

/**
 * Builds an ingest assembler.
 * @throws InvalidOptionsError naming the option for unknown keys or bad values.
 * @example const ingest = createIngestAssembler({ store, tracer, windowMs: 60_000 }).start();
 */
export function createIngestAssembler(options: IngestAssemblerOptions): IngestAssembler {
  return new IngestAssembler(options);
}
