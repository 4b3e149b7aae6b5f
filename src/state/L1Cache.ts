/**
 * The in-process tier: an LRU bounded by entry count and by total bytes, with a TTL per entry, an `unref()`ed sweep
 * of expired entries, and counters. Nothing in it can grow without bound.
 */
import { LRUCache } from 'lru-cache';
import { assertKnownKeys, assertNumber } from '../common/options.js';

export interface L1CacheOptions {
  /** Most entries held. Default 10 000. */
  maxEntries?: number;
  /** Most bytes held (as given by each `set`'s size). Default 64 MiB. */
  maxBytes?: number;
  /** Interval of the sweep that drops expired entries, ms; 0 disables it. Default 60 000. */
  sweepIntervalMs?: number;
  /** Time source for TTLs (tests pass a fake). Default `performance`. */
  clock?: { now(): number };
}

/** Counters and current occupancy. */
export interface L1Stats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  /** Entries dropped to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
  /** Entries dropped because their TTL ran out (on read or by the sweep). */
  expired: number;
  /** `set`s refused because the single entry was larger than `maxBytes`. */
  rejected: number;
}

export const DEFAULT_L1_MAX_ENTRIES = 10_000;
export const DEFAULT_L1_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_L1_SWEEP_INTERVAL_MS = 60_000;

/** A bounded LRU with per-entry TTL. Keys are strings; values are anything (the state manager stores frozen JSON). */
export class L1Cache<V extends NonNullable<unknown>> {
  private readonly cache: LRUCache<string, V>;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly counts = { hits: 0, misses: 0, evictions: 0, expired: 0, rejected: 0 };

  constructor(options: L1CacheOptions = {}) {
    const where = 'L1Cache';
    assertKnownKeys(where, options, ['maxEntries', 'maxBytes', 'sweepIntervalMs', 'clock']);
    const { maxEntries = DEFAULT_L1_MAX_ENTRIES, maxBytes = DEFAULT_L1_MAX_BYTES, sweepIntervalMs = DEFAULT_L1_SWEEP_INTERVAL_MS, clock } = options;
    assertNumber(where, 'maxEntries', maxEntries, { integer: true, min: 1, max: 100_000_000 });
    assertNumber(where, 'maxBytes', maxBytes, { integer: true, min: 1 });
    assertNumber(where, 'sweepIntervalMs', sweepIntervalMs, { integer: true, min: 0 });
    this.cache = new LRUCache<string, V>({
      max: maxEntries,
      maxSize: maxBytes,
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
      ...(clock ? { perf: clock } : {}),
      disposeAfter: (_value, _key, reason) => {
        if (reason === 'evict') this.counts.evictions++;
        else if (reason === 'expire') this.counts.expired++;
      },
    });
    if (sweepIntervalMs > 0) {
      this.timer = setInterval(() => this.sweep(), sweepIntervalMs);
      this.timer.unref();
    }
  }

  /** The live value, or undefined (counted as a miss) when absent or expired. */
  get(key: string): V | undefined {
    const value = this.cache.get(key);
    if (value === undefined) this.counts.misses++;
    else this.counts.hits++;
    return value;
  }

  /** Stores a value of `size` bytes for `ttlMs` (0 = no expiry). Returns false when it alone exceeds `maxBytes`. */
  set(key: string, value: V, size: number, ttlMs: number): boolean {
    if (size > this.cache.maxSize) {
      this.counts.rejected++;
      this.cache.delete(key);
      return false;
    }
    this.cache.set(key, value, { size: Math.max(1, size), ttl: ttlMs });
    return true;
  }

  delete(key: string): boolean {
    return this.cache.delete(key);
  }

  /** Milliseconds left for a key, 0 when absent. */
  remainingTtl(key: string): number {
    return this.cache.has(key) ? this.cache.getRemainingTTL(key) : 0;
  }

  /** Drops every expired entry now; returns how many. */
  sweep(): number {
    const before = this.counts.expired;
    this.cache.purgeStale();
    return this.counts.expired - before;
  }

  clear(): void {
    this.cache.clear();
  }

  stats(): L1Stats {
    return { entries: this.cache.size, bytes: this.cache.calculatedSize, ...this.counts };
  }

  /** Stops the sweep. The cache stays usable. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

/**
 * Creates an L1 cache.
 * @throws InvalidOptionsError for bad options.
 * @example const l1 = createL1Cache({ maxEntries: 5000, maxBytes: 32 * 1024 * 1024 });
 */
export function createL1Cache<V extends NonNullable<unknown>>(options: L1CacheOptions = {}): L1Cache<V> {
  return new L1Cache<V>(options);
}
