/**
 * Bounded agent runs: at most `maxConcurrent` runs at once in this instance (the resilience library's bulkhead, no
 * queue) and at most `maxPerUser` runs of one user at once. A run beyond either is refused at once — the route
 * answers 503 (instance full) or 429 (user cap), both with `Retry-After` — and counted for `/metrics`.
 */
import { assertNumber } from '../common/options.js';
import { bulkhead, isBulkheadRejectedError } from '../resilience/index.js';

/** Seconds a refused client is asked to wait: runs take seconds to minutes, so sooner would mostly be refused again. */
export const RUN_RETRY_AFTER_SECONDS = 5;

export interface RunLimitStats {
  running: number;
  maxConcurrent: number;
  maxPerUser: number;
  /** Users with at least one run in flight (the per-user table's size; bounded by the runs in flight). */
  users: number;
  rejected: { instance: number; user: number };
}

export type RunAdmission<T> = { ok: true; value: T } | { ok: false; reason: 'instance' | 'user'; retryAfterSeconds: number };

export interface RunLimits {
  /** Runs `fn` if both caps allow it now, else refuses without running it. */
  run<T>(userId: string | number | undefined, fn: () => Promise<T>): Promise<RunAdmission<T>>;
  stats(): RunLimitStats;
}

export function createRunLimits({ maxConcurrent, maxPerUser }: { maxConcurrent: number; maxPerUser: number }): RunLimits {
  assertNumber('runLimits', 'maxConcurrent', maxConcurrent, { integer: true, min: 1 });
  assertNumber('runLimits', 'maxPerUser', maxPerUser, { integer: true, min: 1 });
  const gate = bulkhead({ maxConcurrent, maxQueue: 0 });
  const perUser = new Map<string, number>();
  const rejected = { instance: 0, user: 0 };
  const release = (user: string | undefined) => {
    if (user === undefined) return;
    const n = (perUser.get(user) ?? 1) - 1;
    if (n <= 0) perUser.delete(user);
    else perUser.set(user, n);
  };
  return {
    async run(userId, fn) {
      const user = userId === undefined ? undefined : String(userId);
      if (user !== undefined) {
        const n = perUser.get(user) ?? 0;
        if (n >= maxPerUser) {
          rejected.user++;
          return { ok: false, reason: 'user', retryAfterSeconds: RUN_RETRY_AFTER_SECONDS };
        }
        perUser.set(user, n + 1);
      }
      try {
        return { ok: true, value: await gate.execute(fn) };
      } catch (err) {
        if (!isBulkheadRejectedError(err)) throw err;
        rejected.instance++;
        return { ok: false, reason: 'instance', retryAfterSeconds: RUN_RETRY_AFTER_SECONDS };
      } finally {
        release(user);
      }
    },
    stats: () => ({ running: gate.stats().running, maxConcurrent, maxPerUser, users: perUser.size, rejected: { ...rejected } }),
  };
}
