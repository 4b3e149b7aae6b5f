/**
 * Clocks. `Date.now()` costs ~40 ns on this class of machine, as much as a whole breaker call, so bookkeeping that
 * only needs millisecond-ish precision (stats timestamps, time-window buckets, slow-call durations) reads a coarse
 * clock: the first read caches `Date.now()` and schedules an unref'd 1 ms timer that drops the cache. State
 * transitions (cooldowns) and timeout deadlines always read the exact clock.
 *
 * The cache can lag behind real time by as long as the event loop is blocked (a long synchronous block or microtask
 * chain), since its timer cannot fire meanwhile; a real I/O call always lets it refresh.
 */

let cached = 0;
let valid = false;
let timer: NodeJS.Timeout | undefined;

function invalidate(): void {
  valid = false;
  timer = undefined;
}

/** Milliseconds since the epoch, possibly up to ~1 ms (or one blocked event-loop turn) old. */
export function coarseNow(): number {
  if (valid) return cached;
  cached = Date.now();
  valid = true;
  timer = setTimeout(invalidate, 1);
  timer.unref();
  return cached;
}

/**
 * Drops the cached time and its pending timer. Tests that install or move a fake clock without running timers call
 * it (under fake timers the 1 ms invalidation timer shows up in `vi.getTimerCount()` until it runs).
 */
export function resetCoarseClock(): void {
  if (timer !== undefined) clearTimeout(timer);
  invalidate();
}
