/**
 * The background purge shared by the backends: an `unref()`ed interval that never overlaps itself and reports
 * failures to the logger (no values, no secrets) instead of throwing into nowhere.
 */
import { describeCause } from '../common/persistence/errors.js';
import type { StoreLogger } from './TraceStore.js';

/** Starts the periodic purge; returns its disposer. `intervalMs` 0 starts nothing. */
export function startPurgeTimer(
  intervalMs: number,
  purge: () => Promise<number>,
  logger: StoreLogger,
  backend: string,
  onError: () => void,
): () => void {
  if (intervalMs <= 0) return () => undefined;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    purge()
      .catch((err: unknown) => {
        onError();
        logger.warn({ backend, error: describeCause(err) }, 'trace purge failed; will retry at the next interval');
      })
      .finally(() => {
        running = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Yields to the event loop so timers and I/O run between bounded chunks of synchronous work. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The default logger: one line on stderr per warning. */
export const consoleLogger: StoreLogger = {
  warn(fields, message) {
    console.warn(`[agentex] ${message}`, fields);
  },
};
