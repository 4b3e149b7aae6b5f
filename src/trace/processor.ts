/**
 * The batch processor: the tracer hands it finished, kept, already-redacted traces synchronously; it queues them in
 * a bounded queue and exports them in batches (every `maxBatchSize` traces or `maxBatchSpans` spans, or every
 * `scheduleDelayMs`, whichever comes first, from an `unref()`ed timer). When the queue is full it drops sampled successes before slow/forced
 * traces and those before errors, and counts every drop. Exports run outside any trace context, each attempt bounded
 * by a timeout, failures retried with backoff a bounded number of times (`exportRetry.ts`, which also honours
 * `Retry-After`), then counted as lost — an exporter that fails or hangs never reaches the traced code.
 */
import { assertKnownKeys, assertNumber } from '../common/options.js';
import { InvalidOptionsError } from '../common/errors.js';
import { exportWithRetry, type ExportRetryOptions } from './exportRetry.js';
import type { KeepReason, TraceExporter, TraceRecord } from './model.js';
import { runOutsideTrace } from './context.js';

/** Traces held waiting for export; past it the lowest-priority trace is dropped (and counted). */
export const DEFAULT_MAX_QUEUE_SIZE = 2048;
/** Traces per export batch; a full batch triggers an export right away. */
export const DEFAULT_MAX_BATCH_SIZE = 128;
/**
 * Spans per export batch: a batch also ends, and an export starts, once this many spans are queued. Bounds what
 * waits for export whatever the trace size (128 traces of 1,000 spans, kept alive until exported, cost ~2× per span in GC).
 */
export const DEFAULT_MAX_BATCH_SPANS = 4096;
/** A non-empty queue is exported at least this often. */
export const DEFAULT_SCHEDULE_DELAY_MS = 5000;
/** One export attempt may take this long before it counts as failed (the exporter's signal is aborted). */
export const DEFAULT_EXPORT_TIMEOUT_MS = 30_000;
/** Attempts per batch and exporter (1 = no retry). */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Backoff base between attempts (full jitter, doubling). */
export const DEFAULT_RETRY_BASE_DELAY_MS = 500;
/** Backoff cap between attempts. */
export const DEFAULT_RETRY_MAX_DELAY_MS = 10_000;

/** Options of {@link createBatchProcessor}. */
export interface BatchTraceProcessorOptions {
  /** Where kept traces go. Each batch is sent to every exporter, independently retried. */
  exporters: readonly TraceExporter[];
  /** Default {@link DEFAULT_MAX_QUEUE_SIZE}. */
  maxQueueSize?: number;
  /** Default {@link DEFAULT_MAX_BATCH_SIZE}. */
  maxBatchSize?: number;
  /** Default {@link DEFAULT_MAX_BATCH_SPANS}; a trace with more spans is exported in a batch of its own. */
  maxBatchSpans?: number;
  /** Default {@link DEFAULT_SCHEDULE_DELAY_MS}. */
  scheduleDelayMs?: number;
  /** Default {@link DEFAULT_EXPORT_TIMEOUT_MS}. */
  exportTimeoutMs?: number;
  /** Default {@link DEFAULT_MAX_ATTEMPTS}. */
  maxAttempts?: number;
  /** Default {@link DEFAULT_RETRY_BASE_DELAY_MS}. */
  retryBaseDelayMs?: number;
  /** Default {@link DEFAULT_RETRY_MAX_DELAY_MS}. */
  retryMaxDelayMs?: number;
}

/** Per-exporter counters (traces). */
export interface ExporterStats {
  exported: number;
  lost: number;
  failedAttempts: number;
}

/** Every trace handed to the processor ends up in exactly one of `exported`, `dropped`, `lost`, or still `queued`/in flight. */
export interface ProcessorStats {
  /** Traces accepted into the queue. */
  enqueued: number;
  /** Traces waiting in the queue now. */
  queued: number;
  /** Traces in a batch being exported now. */
  inFlight: number;
  /** Traces every exporter accepted. */
  exported: number;
  /** Traces dropped before export: queue full (lowest priority first) or handed in after shutdown. */
  dropped: number;
  droppedQueueFull: number;
  droppedAfterShutdown: number;
  /** Dropped traces by the reason they had been kept for. */
  droppedByKeepReason: Partial<Record<KeepReason, number>>;
  /** Traces at least one exporter failed to take after every attempt. */
  lost: number;
  /** Attempts that failed (each exporter, each batch), including those later retried successfully. */
  failedAttempts: number;
  retries: number;
  exporters: Record<string, ExporterStats>;
}

/** A failed export attempt, for logging (never contains trace content). */
export interface ExportErrorEvent {
  exporter: string;
  batchSize: number;
  attempt: number;
  error: Error;
  /** True when no attempt is left: the batch is lost for this exporter. */
  final: boolean;
}

function priority(reason: KeepReason | undefined): 0 | 1 | 2 {
  if (reason === 'error' || reason === 'timeout') return 2;
  if (reason === 'slow' || reason === 'forced') return 1;
  return 0;
}

const WHERE = 'batchProcessor';

/** Batches finished traces to exporters from a bounded priority queue. Build with {@link createBatchProcessor}. */
export class BatchTraceProcessor {
  private readonly exporters: readonly TraceExporter[];
  private readonly maxQueueSize: number;
  private readonly maxBatchSize: number;
  private readonly maxBatchSpans: number;
  private readonly scheduleDelayMs: number;
  private readonly exportTimeoutMs: number;
  private readonly maxAttempts: number;
  private readonly retryBaseDelayMs: number;
  private readonly retryMaxDelayMs: number;
  private readonly retryOptions: ExportRetryOptions;
  /** One FIFO per priority: [sampled successes, slow/forced, errors/timeouts]. */
  private readonly queues: [TraceRecord[], TraceRecord[], TraceRecord[]] = [[], [], []];
  private size = 0;
  /** Spans of the queued traces. */
  private spans = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private draining: Promise<void> | null = null;
  private closed = false;
  private shutdownPromise: Promise<void> | null = null;
  private readonly listeners = new Set<(event: ExportErrorEvent) => void>();
  private readonly counters = {
    enqueued: 0,
    inFlight: 0,
    exported: 0,
    droppedQueueFull: 0,
    droppedAfterShutdown: 0,
    lost: 0,
    failedAttempts: 0,
    retries: 0,
  };
  private readonly droppedByKeepReason: Partial<Record<KeepReason, number>> = {};
  private readonly perExporter = new Map<TraceExporter, ExporterStats>();

  constructor(options: BatchTraceProcessorOptions) {
    assertKnownKeys(WHERE, options, [
      'exporters', 'maxQueueSize', 'maxBatchSize', 'maxBatchSpans', 'scheduleDelayMs', 'exportTimeoutMs', 'maxAttempts',
      'retryBaseDelayMs', 'retryMaxDelayMs',
    ]);
    const o = options ?? ({} as BatchTraceProcessorOptions);
    if (!Array.isArray(o.exporters)) throw new InvalidOptionsError(`${WHERE}.exporters`, 'Expected `exporters` to be an array of exporters');
    o.exporters.forEach((e: unknown, i) => {
      const ex = e as Partial<TraceExporter> | null;
      if (!ex || typeof ex.export !== 'function' || typeof ex.name !== 'string') {
        throw new InvalidOptionsError(`${WHERE}.exporters[${i}]`, 'Expected an exporter with a `name` and an `export(batch, signal)` method');
      }
    });
    this.exporters = [...(o.exporters as readonly TraceExporter[])];
    for (const e of this.exporters) this.perExporter.set(e, { exported: 0, lost: 0, failedAttempts: 0 });
    const int = (name: keyof BatchTraceProcessorOptions, value: unknown, def: number, min: number) =>
      value === undefined ? def : assertNumber(WHERE, name, value, { integer: true, min, max: 2 ** 31 - 1 });
    this.maxQueueSize = int('maxQueueSize', o.maxQueueSize, DEFAULT_MAX_QUEUE_SIZE, 1);
    this.maxBatchSize = int('maxBatchSize', o.maxBatchSize, DEFAULT_MAX_BATCH_SIZE, 1);
    this.maxBatchSpans = int('maxBatchSpans', o.maxBatchSpans, DEFAULT_MAX_BATCH_SPANS, 1);
    this.scheduleDelayMs = int('scheduleDelayMs', o.scheduleDelayMs, DEFAULT_SCHEDULE_DELAY_MS, 1);
    this.exportTimeoutMs = int('exportTimeoutMs', o.exportTimeoutMs, DEFAULT_EXPORT_TIMEOUT_MS, 1);
    this.maxAttempts = int('maxAttempts', o.maxAttempts, DEFAULT_MAX_ATTEMPTS, 1);
    this.retryBaseDelayMs = int('retryBaseDelayMs', o.retryBaseDelayMs, DEFAULT_RETRY_BASE_DELAY_MS, 0);
    this.retryMaxDelayMs = int('retryMaxDelayMs', o.retryMaxDelayMs, DEFAULT_RETRY_MAX_DELAY_MS, 0);
    this.retryOptions = {
      maxAttempts: this.maxAttempts,
      baseDelayMs: this.retryBaseDelayMs,
      maxDelayMs: this.retryMaxDelayMs,
      timeoutMs: this.exportTimeoutMs,
    };
    if (this.maxBatchSize > this.maxQueueSize) {
      throw new InvalidOptionsError(`${WHERE}.maxBatchSize`, `Expected \`maxBatchSize\` (${this.maxBatchSize}) to be <= \`maxQueueSize\` (${this.maxQueueSize})`);
    }
  }

  /** Synchronous hook: queues a finished, kept trace. Never throws, never waits. */
  onTraceEnd(record: TraceRecord): void {
    const p = priority(record.keepReason);
    if (this.closed) {
      this.counters.droppedAfterShutdown++;
      this.countDrop(record);
      return;
    }
    if (this.size >= this.maxQueueSize) {
      // Evict the oldest trace of the lowest priority below the newcomer's; otherwise the newcomer is the one dropped.
      let victim: TraceRecord | undefined;
      for (let q = 0; q < p && victim === undefined; q++) victim = this.queues[q]!.shift();
      this.counters.droppedQueueFull++;
      if (victim === undefined) {
        this.countDrop(record);
        return;
      }
      this.size--;
      this.spans -= victim.spans.length;
      this.countDrop(victim);
    }
    this.queues[p].push(record);
    this.size++;
    this.spans += record.spans.length;
    this.counters.enqueued++;
    if (this.size >= this.maxBatchSize || this.spans >= this.maxBatchSpans) this.kick();
    else if (this.timer === null) {
      this.timer = setTimeout(() => {
        this.timer = null;
        this.kick();
      }, this.scheduleDelayMs);
      this.timer.unref();
    }
  }

  /** Subscribes to failed export attempts; returns the unsubscribe function. */
  onExportError(listener: (event: ExportErrorEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Exports everything queued now and waits for every in-flight export (and its retries). Never rejects. */
  async forceFlush(): Promise<void> {
    this.clearTimer();
    while (this.size > 0 || this.draining !== null) {
      this.kick();
      await this.draining;
    }
  }

  /**
   * Stops accepting traces (later ones are counted in `droppedAfterShutdown`), flushes, waits for in-flight exports,
   * then shuts every exporter down. Idempotent; never rejects.
   */
  shutdown(): Promise<void> {
    this.shutdownPromise ??= (async () => {
      this.closed = true;
      await this.forceFlush();
      await Promise.allSettled(this.exporters.map(async (e) => e.shutdown?.()));
    })();
    return this.shutdownPromise;
  }

  stats(): ProcessorStats {
    const c = this.counters;
    const exporters: Record<string, ExporterStats> = {};
    for (const [e, s] of this.perExporter) exporters[e.name] = { ...s };
    return {
      enqueued: c.enqueued,
      queued: this.size,
      inFlight: c.inFlight,
      exported: c.exported,
      dropped: c.droppedQueueFull + c.droppedAfterShutdown,
      droppedQueueFull: c.droppedQueueFull,
      droppedAfterShutdown: c.droppedAfterShutdown,
      droppedByKeepReason: { ...this.droppedByKeepReason },
      lost: c.lost,
      failedAttempts: c.failedAttempts,
      retries: c.retries,
      exporters,
    };
  }

  private countDrop(record: TraceRecord): void {
    const reason = record.keepReason ?? 'rate';
    this.droppedByKeepReason[reason] = (this.droppedByKeepReason[reason] ?? 0) + 1;
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  /** Starts the drain loop unless one runs; exports run outside any caller's trace context. */
  private kick(): void {
    if (this.draining !== null || this.size === 0) return;
    this.clearTimer();
    this.draining = runOutsideTrace(() => this.drain()).finally(() => {
      this.draining = null;
      if (this.size > 0 && this.timer === null && !this.closed) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.kick();
        }, this.scheduleDelayMs);
        this.timer.unref();
      }
    });
  }

  private async drain(): Promise<void> {
    await Promise.resolve();
    while (this.size > 0) {
      const batch = this.take();
      this.counters.inFlight = batch.length;
      try {
        await this.exportBatch(batch);
      } finally {
        this.counters.inFlight = 0;
      }
      if (this.size < this.maxBatchSize && this.spans < this.maxBatchSpans && !this.closed) break;
    }
  }

  /**
   * The next batch (at most `maxBatchSize` traces and, unless its first trace alone has more, `maxBatchSpans` spans):
   * errors first, then slow/forced, then sampled successes, oldest first within each.
   */
  private take(): TraceRecord[] {
    const batch: TraceRecord[] = [];
    let spans = 0;
    let full = false;
    for (let q = 2; q >= 0 && !full; q--) {
      const queue = this.queues[q]!;
      let n = 0;
      while (n < queue.length && batch.length + n < this.maxBatchSize) {
        const more = queue[n]!.spans.length;
        if (batch.length + n > 0 && spans + more > this.maxBatchSpans) break;
        spans += more;
        n++;
      }
      full = n < queue.length;
      if (n > 0) batch.push(...queue.splice(0, n));
    }
    this.size -= batch.length;
    this.spans -= spans;
    return batch;
  }

  private async exportBatch(batch: TraceRecord[]): Promise<void> {
    if (this.exporters.length === 0) {
      this.counters.exported += batch.length;
      return;
    }
    const results = await Promise.all(this.exporters.map((e) => this.exportTo(e, batch)));
    if (results.every(Boolean)) this.counters.exported += batch.length;
    else this.counters.lost += batch.length;
  }

  private async exportTo(exporter: TraceExporter, batch: readonly TraceRecord[]): Promise<boolean> {
    const stats = this.perExporter.get(exporter)!;
    // The timeout bounds a hung exporter: its signal aborts and the attempt fails, whatever the exporter does.
    const ok = await exportWithRetry(exporter.name, (signal) => exporter.export(batch, signal), this.retryOptions, (attempt, err, final) => {
      stats.failedAttempts++;
      this.counters.failedAttempts++;
      if (!final) this.counters.retries++;
      this.emit({ exporter: exporter.name, batchSize: batch.length, attempt, error: toErr(err), final });
    });
    if (ok) stats.exported += batch.length;
    else stats.lost += batch.length;
    return ok;
  }

  private emit(event: ExportErrorEvent): void {
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A listener's failure is its own; export goes on.
      }
    }
  }
}

function toErr(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * Builds a {@link BatchTraceProcessor}.
 * @throws InvalidOptionsError naming the option: unknown keys, non-exporters, non-integers, `maxBatchSize > maxQueueSize`.
 */
export function createBatchProcessor(options: BatchTraceProcessorOptions): BatchTraceProcessor {
  return new BatchTraceProcessor(options);
}
