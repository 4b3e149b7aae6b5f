/**
 * The bridge from the tracing core's batch processor to a trace store. Writes are idempotent upserts by traceId,
 * so a batch the processor retries after a failure never duplicates a trace.
 */
import { isValidationError } from '../common/errors.js';
import { assertKnownKeys, assertString } from '../common/options.js';
import type { TraceExporter, TraceRecord } from '../trace/model.js';
import { validateTrace } from './query.js';
import { consoleLogger } from './retention.js';
import type { StoreLogger, TraceStore } from './TraceStore.js';

export interface TraceStoreExporterOptions {
  /** Exporter name shown by the processor. Default `trace-store`. */
  name?: string;
  /** Close the store when the processor shuts the exporter down. Default false (the API still reads from it). */
  closeStoreOnShutdown?: boolean;
  /** Where dropped malformed traces are reported (the trace id only). Default: stderr. */
  logger?: StoreLogger;
}

/** A {@link TraceExporter} that also reports how many malformed traces it dropped. */
export interface TraceStoreExporter extends TraceExporter {
  /** Traces dropped because they failed validation (retrying them could never succeed). */
  readonly dropped: number;
}

/**
 * Wraps a store as an exporter: each batch is validated, malformed traces are dropped and counted (a retry could
 * never fix them), and the rest is written with `store.put` (one transaction per bounded sub-batch).
 * Rejects with the store's error when the database fails, so the processor may retry the batch.
 * @throws InvalidOptionsError for bad options.
 */
export function createTraceStoreExporter(store: TraceStore, options: TraceStoreExporterOptions = {}): TraceStoreExporter {
  assertKnownKeys('createTraceStoreExporter', options, ['name', 'closeStoreOnShutdown', 'logger']);
  const { name = 'trace-store', closeStoreOnShutdown = false, logger = consoleLogger } = options;
  assertString('createTraceStoreExporter', 'name', name);
  let dropped = 0;
  return {
    name,
    get dropped() {
      return dropped;
    },
    async export(batch: readonly TraceRecord[], signal?: AbortSignal): Promise<void> {
      signal?.throwIfAborted();
      const valid: TraceRecord[] = [];
      batch.forEach((trace, i) => {
        try {
          validateTrace(trace, i);
          valid.push(trace);
        } catch (err) {
          if (!isValidationError(err)) throw err;
          dropped++;
          logger.warn({ exporter: name, field: err.field }, 'dropped a malformed trace');
        }
      });
      if (valid.length > 0) await store.put(valid, { signal });
    },
    async shutdown(): Promise<void> {
      if (closeStoreOnShutdown) await store.close();
    },
  };
}
