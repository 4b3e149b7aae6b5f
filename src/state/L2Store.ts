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
  /** A round trip; rejects when the backend is unreachable. */
  ping(): Promise<void>;
  /** Closes the connection(s). Idempotent. */
  close(): Promise<void>;
}

/** Pino-compatible logger: `logger.warn({ fields }, 'message')`. It is never given keys, values or secrets. */
export interface StateLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

/** Rows removed per purge statement. */
export const L2_PURGE_CHUNK = 1000;
