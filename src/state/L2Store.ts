/**
 * The shared tier behind the in-process cache: one interface, three backends (SQLite, Postgres, Redis), one
 * contract suite (`l2.case.ts`). Values arrive already serialised; every entry has a TTL that the backend enforces
 * on read. Backends throw on failure: the state manager decides how to degrade.
 */

/** A stored value (JSON text) and when it expires (epoch ms). */
export interface L2Entry {
  value: string;
  expiresAt: number;
}

export interface L2Store {
  readonly backend: 'sqlite' | 'postgres' | 'redis';
  /** The live entry, or undefined when absent or expired. */
  get(collection: string, key: string): Promise<L2Entry | undefined>;
  /** Stores (replacing) a value for `ttlMs` (> 0). */
  set(collection: string, key: string, value: string, ttlMs: number): Promise<void>;
  /** Removes an entry; resolves true when one was there. */
  delete(collection: string, key: string): Promise<boolean>;
  /** Deletes expired entries in bounded chunks; resolves to the number deleted (Redis expires natively: 0). */
  purgeExpired(now?: number): Promise<number>;
  /**
   * Appends items to the list under (collection, key) in one atomic step — concurrent appends from several
   * instances all land, none overwrites another — keeps the newest `bounds.maxItems` and at most `bounds.maxBytes`
   * (UTF-8 bytes of the items plus one per item and one; the newest item is always kept), sets the list's TTL and
   * resolves to the list as stored, oldest first. Lists live apart from `set` values; `delete` removes both.
   */
  appendList(collection: string, key: string, items: readonly string[], bounds: ListBounds, ttlMs: number): Promise<string[]>;
  /** The live list under (collection, key), oldest first; undefined when absent or expired. */
  getList(collection: string, key: string): Promise<string[] | undefined>;
  /**
   * Cross-instance invalidation (Redis pub/sub, Postgres LISTEN/NOTIFY; absent on SQLite, which serves one
   * instance). `publish` sends a short message to every subscriber, the sender included.
   */
  publish?(message: string): Promise<void>;
  /**
   * Listens for published messages. `resync` is called whenever messages may have been missed (the subscription
   * was lost or came back), so the caller drops what it cached. Returns a function that stops listening.
   */
  subscribe?(handlers: InvalidationHandlers): () => void;
  /** A round trip; rejects when the backend is unreachable. */
  ping(): Promise<void>;
  /** Closes the connection(s). Idempotent. */
  close(): Promise<void>;
}

/** Bounds of a list kept by `appendList`. */
export interface ListBounds {
  maxItems: number;
  maxBytes: number;
}

export interface InvalidationHandlers {
  message(text: string): void;
  /** Messages may have been lost: the subscription dropped (`listening` false) or is (re-)established (true). */
  resync(listening: boolean): void;
}

/** Index of the first item kept so that the newest `maxItems` fit in `maxBytes` (the newest is always kept). */
export function listTrimStart(sizes: readonly number[], bounds: ListBounds): number {
  let start = Math.max(0, sizes.length - bounds.maxItems);
  let total = 1;
  for (let i = start; i < sizes.length; i++) total += sizes[i]! + 1;
  while (total > bounds.maxBytes && start < sizes.length - 1) total -= sizes[start++]! + 1;
  return start;
}

/** Pino-compatible logger: `logger.warn({ fields }, 'message')`. It is never given keys, values or secrets. */
export interface StateLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Rows removed per purge statement. */
export const L2_PURGE_CHUNK = 1000;
