/**
 * Write health of a trace store: a store can answer its health ping (a read) while every write fails — a WAL it can
 * no longer extend (SQLITE_IOERR), a full disk, a read-only remount, a trigger or permission change in Postgres. The
 * tracker turns the outcomes of real writes into a health verdict: `degraded` after `failureThreshold` consecutive
 * failed writes, healthy again on the next successful one (no reset by hand), with a running count of failures.
 */
import { assertKnownKeys, assertNumber } from '../common/options.js';
import { describeCause } from '../common/persistence/errors.js';
import type { TraceExporter } from '../trace/model.js';

/** Consecutive failed writes after which the store counts as degraded. */
export const DEFAULT_WRITE_FAILURE_THRESHOLD = 3;

export interface WriteHealthOptions {
  /** Default {@link DEFAULT_WRITE_FAILURE_THRESHOLD}. */
  failureThreshold?: number;
}

/** What the tracker knows now. */
export interface WriteHealthSnapshot {
  /** True from the `failureThreshold`-th consecutive failure until the next success. */
  degraded: boolean;
  consecutiveFailures: number;
  /** Failed writes since start (a counter: never decreases). */
  errors: number;
  /** The last failure: the driver's code (`SQLITE_IOERR`, `53100`...) when it has one, and a short description. */
  lastError: { code: string | null; message: string; at: number } | null;
}

/** A change of verdict, for a log line: `degraded` (with the error that tipped it) or `recovered`. */
export type WriteHealthChange = { state: 'degraded'; consecutiveFailures: number; code: string | null; message: string } | { state: 'recovered'; failedWrites: number };

/** Tracks write outcomes. Build with {@link createWriteHealth}. */
export class WriteHealth {
  private consecutive = 0;
  private errors = 0;
  private lastError: WriteHealthSnapshot['lastError'] = null;
  private readonly listeners = new Set<(change: WriteHealthChange) => void>();

  constructor(readonly failureThreshold: number) {}

  /** A write succeeded: clears the failure streak (and a degraded verdict). */
  success(): void {
    if (this.consecutive === 0) return;
    const wasDegraded = this.consecutive >= this.failureThreshold;
    const failedWrites = this.consecutive;
    this.consecutive = 0;
    if (wasDegraded) this.emit({ state: 'recovered', failedWrites });
  }

  /** A write failed with `error`. */
  failure(error: unknown): void {
    this.errors++;
    this.consecutive++;
    const code = errorCode(error);
    const message = describeCause(error);
    this.lastError = { code, message, at: Date.now() };
    if (this.consecutive === this.failureThreshold) this.emit({ state: 'degraded', consecutiveFailures: this.consecutive, code, message });
  }

  snapshot(): WriteHealthSnapshot {
    return { degraded: this.consecutive >= this.failureThreshold, consecutiveFailures: this.consecutive, errors: this.errors, lastError: this.lastError };
  }

  /** Subscribes to verdict changes; returns the unsubscribe function. Listener errors are ignored. */
  onChange(listener: (change: WriteHealthChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: WriteHealthChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // A logging listener's failure must not reach the export path.
      }
    }
  }
}

/** The driver's error code, looked for on the error and its causes (a store error wraps the driver's). */
function errorCode(error: unknown): string | null {
  let e: unknown = error;
  for (let depth = 0; depth < 4 && typeof e === 'object' && e !== null; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'STORE_UNAVAILABLE') return code.slice(0, 64);
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/**
 * Builds a write-health tracker.
 * @throws InvalidOptionsError for unknown keys or a threshold that is not a positive integer.
 * @example const health = createWriteHealth({ failureThreshold: 3 }); const exporter = trackWrites(storeExporter, health);
 */
export function createWriteHealth(options: WriteHealthOptions = {}): WriteHealth {
  assertKnownKeys('createWriteHealth', options, ['failureThreshold']);
  const threshold = options.failureThreshold === undefined ? DEFAULT_WRITE_FAILURE_THRESHOLD : assertNumber('createWriteHealth', 'failureThreshold', options.failureThreshold, { integer: true, min: 1 });
  return new WriteHealth(threshold);
}

/** Wraps a store exporter so that every export attempt reports its outcome to `health`; errors still propagate. */
export function trackWrites(exporter: TraceExporter, health: WriteHealth): TraceExporter {
  return {
    name: exporter.name,
    async export(batch, signal) {
      try {
        await exporter.export(batch, signal);
      } catch (err) {
        health.failure(err);
        throw err;
      }
      health.success();
    },
    ...(exporter.shutdown ? { shutdown: () => exporter.shutdown!() } : {}),
  };
}
