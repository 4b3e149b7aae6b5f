/**
 * The state manager: a bounded in-process L1 in front of a shared L2, by collection and key. Reads go through
 * (L1 miss → L2 → fill L1), writes go through (L1 and L2). The L2 is guarded by a circuit breaker; when it fails the
 * manager serves from L1 alone, logs one warning per outage, counts, and never throws into the caller.
 * Every write to L2 is announced on the L2's invalidation feed (Redis pub/sub, Postgres LISTEN/NOTIFY), and the other
 * instances drop their L1 copy of that entry as the message arrives (milliseconds; goal ≤ 1 s). When the feed comes
 * back after a loss, the L1 is cleared, since messages may have been missed. Conversations: `conversations.ts`.
 */
import { randomUUID } from 'node:crypto';
import { ValidationError } from '../common/errors.js';
import { assertFunction, assertKnownKeys, assertNumber } from '../common/options.js';
import { circuitBreaker, isCircuitOpenError, type CircuitBreaker } from '../resilience/index.js';
import { describeCause } from '../common/persistence/errors.js';
import { ValueNotSerializableError, ValueTooLargeError } from './errors.js';
import { createConversations, type ConversationMessage, type Conversations, type L2Result, type ListTier } from './conversations.js';
import { L1Cache, type L1CacheOptions, type L1Stats } from './L1Cache.js';
import type { L2Store, StateLogger } from './L2Store.js';

export type { ClearResult, ConversationMessage, Conversations } from './conversations.js';

/** Default TTLs of the built-in collections. */
export const DEFAULT_COLLECTIONS: Readonly<Record<string, CollectionOptions>> = {
  sessions: { ttlMs: 60 * 60 * 1000 },
  conversations: { ttlMs: 24 * 60 * 60 * 1000 },
  search: { ttlMs: 15 * 60 * 1000 },
};
export const DEFAULT_MAX_VALUE_BYTES = 1024 * 1024;
export const DEFAULT_STATE_PURGE_INTERVAL_MS = 5 * 60 * 1000;
export const DEFAULT_CONVERSATION_MAX_MESSAGES = 50;
export const DEFAULT_CONVERSATION_MAX_BYTES = 64 * 1024;
/** Longest key accepted. */
export const MAX_KEY_LENGTH = 512;
/** Longest TTL accepted for an entry: 30 days. */
export const MAX_TTL_MS = 30 * 24 * 60 * 60 * 1000;

const COLLECTION_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

export interface CollectionOptions {
  /** Default TTL of entries in this collection, ms. */
  ttlMs: number;
}

export interface StateManagerOptions {
  /** The shared tier. Omit for L1 only (one process, nothing survives a restart). */
  l2?: L2Store;
  /** L1 bounds. Defaults: 10 000 entries, 64 MiB, sweep every 60 s. */
  l1?: L1CacheOptions;
  /** Extra collections, or other TTLs for the built-in ones (sessions 1 h, conversations 24 h, search 15 min). */
  collections?: Record<string, CollectionOptions>;
  /** Largest JSON value accepted, bytes. Default 1 MiB. */
  maxValueBytes?: number;
  /** The breaker guarding L2: options (threshold 3, cooldown 5 s, per-call timeout 2 s) or your own breaker. */
  breaker?: { threshold?: number; cooldownMs?: number; timeoutMs?: number } | CircuitBreaker;
  /** Interval of the L2 purge of expired entries, ms; 0 disables it. Default 5 minutes. */
  purgeIntervalMs?: number;
  /** Bounds of a conversation: the last N messages, and at most this many bytes of JSON. Defaults 50 and 64 KiB. */
  conversation?: { maxMessages?: number; maxBytes?: number };
  /** Where L2 outages are reported (collection and operation only, never keys or values). Default: stderr. */
  logger?: StateLogger;
}

/** Counters of the L2 tier. */
export interface L2Stats {
  backend: L2Store['backend'] | 'none';
  /** True from the first failure until the next success. */
  degraded: boolean;
  /** L2 calls that failed. */
  errors: number;
  /** L2 calls skipped because the breaker was open. */
  shortCircuited: number;
  /** The breaker's state. */
  circuit: CircuitBreaker['state'] | 'none';
}

export interface StateStats {
  l1: L1Stats;
  l2: L2Stats;
  invalidation: InvalidationStats;
}

/** Counters of the cross-instance invalidation feed. */
export interface InvalidationStats {
  /** Whether the L2 has a feed (Redis, Postgres) and this instance is listening to it now. */
  listening: boolean;
  /** Messages from other instances applied to L1. */
  received: number;
  /** Writes whose announcement failed (the others keep their copy until its TTL or their next resync). */
  publishFailed: number;
  /** Times the L1 was cleared because messages may have been missed (feed lost or re-established). */
  resyncs: number;
}

/** An L1 slot: a value, or a deletion L2 has not confirmed (it hides the old L2 copy here until the TTL). */
type Slot = { readonly kind: 'value'; readonly value: unknown } | { readonly kind: 'deleted' };
const DELETED: Slot = Object.freeze({ kind: 'deleted' });
const NOT_DONE: L2Result<never> = Object.freeze({ ok: false });

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** JSON text of a value, rejecting what JSON would silently change or drop. */
function serialise(collection: string, value: unknown, maxBytes: number): { json: string; bytes: number } {
  if (value === undefined) throw new ValueNotSerializableError(collection, 'undefined is not JSON');
  let json: string | undefined;
  try {
    json = JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new ValueNotSerializableError(collection, 'a non-finite number');
      if (typeof v === 'function' || typeof v === 'symbol') throw new ValueNotSerializableError(collection, `a ${typeof v}`);
      return v;
    });
  } catch (err) {
    if (err instanceof ValueNotSerializableError) throw err;
    throw new ValueNotSerializableError(collection, err instanceof TypeError && /circular/i.test(err.message) ? 'a circular reference' : 'JSON.stringify failed');
  }
  if (json === undefined) throw new ValueNotSerializableError(collection, 'the value has no JSON form');
  const bytes = Buffer.byteLength(json);
  if (bytes > maxBytes) throw new ValueTooLargeError(collection, bytes, maxBytes);
  return { json, bytes };
}

/**
 * The state manager. Create with {@link createStateManager}.
 */
export class StateManager {
  /** Conversation helpers over the `conversations` collection. */
  readonly conversations: Conversations;
  private readonly l1: L1Cache<Slot>;
  private readonly l2: L2Store | undefined;
  private readonly breaker: CircuitBreaker | undefined;
  private readonly collections: Map<string, number>;
  private readonly maxValueBytes: number;
  private readonly logger: StateLogger;
  private readonly purgeTimer: NodeJS.Timeout | undefined;
  private readonly l2Counts = { errors: 0, shortCircuited: 0 };
  private degraded = false;
  private closed = false;
  private purging = false;
  /** Identifies this instance's messages on the invalidation feed. */
  private readonly origin = randomUUID();
  private readonly invalidation = { listening: false, received: 0, publishFailed: 0, resyncs: 0 };
  private readonly unsubscribe: (() => void) | undefined;

  constructor(options: StateManagerOptions = {}) {
    const where = 'createStateManager';
    assertKnownKeys(where, options, ['l2', 'l1', 'collections', 'maxValueBytes', 'breaker', 'purgeIntervalMs', 'conversation', 'logger']);
    const {
      l2,
      l1 = {},
      collections = {},
      maxValueBytes = DEFAULT_MAX_VALUE_BYTES,
      breaker = {},
      purgeIntervalMs = DEFAULT_STATE_PURGE_INTERVAL_MS,
      conversation = {},
      logger = { warn: (fields, message) => console.warn(`[agentex] ${message}`, fields) },
    } = options;
    if (l2 !== undefined) {
      for (const m of ['get', 'set', 'delete', 'appendList', 'getList', 'purgeExpired', 'ping', 'close'] as const) {
        if (typeof l2?.[m] !== 'function') assertFunction(where, `l2.${m}`, undefined);
      }
    }
    assertNumber(where, 'maxValueBytes', maxValueBytes, { integer: true, min: 16 });
    assertNumber(where, 'purgeIntervalMs', purgeIntervalMs, { integer: true, min: 0 });
    if (typeof logger?.warn !== 'function') assertFunction(where, 'logger.warn', undefined);
    assertKnownKeys(`${where}.conversation`, conversation, ['maxMessages', 'maxBytes']);
    const { maxMessages = DEFAULT_CONVERSATION_MAX_MESSAGES, maxBytes: convBytes = Math.min(DEFAULT_CONVERSATION_MAX_BYTES, maxValueBytes) } = conversation;
    assertNumber(`${where}.conversation`, 'maxMessages', maxMessages, { integer: true, min: 1, max: 100_000 });
    assertNumber(`${where}.conversation`, 'maxBytes', convBytes, { integer: true, min: 16, max: maxValueBytes });

    this.collections = new Map(Object.entries(DEFAULT_COLLECTIONS).map(([name, c]) => [name, c.ttlMs]));
    assertKnownKeys(`${where}.collections`, collections, Object.keys(collections));
    for (const [name, c] of Object.entries(collections)) {
      if (!COLLECTION_NAME.test(name)) {
        throw new ValidationError(`collections.${name}`, `Collection names must match ${COLLECTION_NAME.source}, got ${JSON.stringify(name.slice(0, 80))}`);
      }
      assertKnownKeys(`${where}.collections.${name}`, c, ['ttlMs']);
      assertNumber(`${where}.collections.${name}`, 'ttlMs', c?.ttlMs, { integer: true, min: 1, max: MAX_TTL_MS });
      this.collections.set(name, c.ttlMs);
    }

    this.l1 = new L1Cache<Slot>(l1);
    this.l2 = l2;
    this.maxValueBytes = maxValueBytes;
    this.logger = logger;
    if (l2) {
      this.breaker =
        breaker instanceof Object && 'execute' in breaker && typeof breaker.execute === 'function'
          ? (breaker)
          : circuitBreaker({
              name: `state-l2-${l2.backend}`,
              threshold: (breaker as { threshold?: number }).threshold ?? 3,
              cooldownMs: (breaker as { cooldownMs?: number }).cooldownMs ?? 5000,
              timeoutMs: (breaker as { timeoutMs?: number }).timeoutMs ?? 2000,
            });
      if (purgeIntervalMs > 0) {
        this.purgeTimer = setInterval(() => void this.purgeExpired(), purgeIntervalMs);
        this.purgeTimer.unref();
      }
    }
    this.unsubscribe = l2?.subscribe?.({ message: (text) => this.onInvalidation(text), resync: (listening) => this.resync(listening) });
    this.conversations = createConversations(this.listTier(), { maxItems: maxMessages, maxBytes: convBytes }, (v) => serialise('conversations', v, this.maxValueBytes).json);
  }

  /** Applies another instance's write: its L1 copy of that entry goes. */
  private onInvalidation(text: string): void {
    let m: { o?: unknown; c?: unknown; k?: unknown };
    try {
      m = JSON.parse(text) as typeof m;
    } catch {
      return;
    }
    if (m.o === this.origin || typeof m.c !== 'string' || typeof m.k !== 'string') return;
    this.invalidation.received++;
    this.l1.delete(`${m.c}\u0000${m.k}`);
    this.l1.delete(`list:${m.c}\u0000${m.k}`);
  }

  /**
   * The feed was lost (`listening` false: L1 keeps serving, as in any L2 outage) or is back: then what was missed
   * meanwhile is unknown, so the L1 is cleared.
   */
  private resync(listening: boolean): void {
    this.invalidation.listening = listening;
    if (!listening) return;
    this.invalidation.resyncs++;
    this.l1.clear();
  }

  /** Announces a write of (collection, key) to the other instances. Never throws. */
  private announce(collection: string, key: string): void {
    const l2 = this.l2;
    if (!l2?.publish || this.closed) return;
    l2.publish(JSON.stringify({ o: this.origin, c: collection, k: key })).catch(() => {
      this.invalidation.publishFailed++;
    });
  }

  private listTier(): ListTier {
    const c = 'conversations';
    const id = (key: string) => `list:${c}\u0000${key}`;
    const ttl = () => this.ttlOf(c);
    return {
      shared: this.l2 !== undefined,
      readList: (key) => this.viaL2('get', c, (l2) => l2.getList(c, key)),
      appendList: (key, items, bounds) => this.viaL2('append', c, (l2) => l2.appendList(c, key, items, bounds, ttl())),
      deleteList: (key) => this.viaL2('delete', c, (l2) => l2.delete(c, key)),
      cached: (key) => {
        const slot = this.l1.get(id(key));
        return slot?.kind === 'value' ? (slot.value as readonly ConversationMessage[]) : undefined;
      },
      cache: (key, messages, bytes) => void this.l1.set(id(key), { kind: 'value', value: messages }, bytes + key.length, ttl()),
      uncache: (key) => void this.l1.delete(id(key)),
      invalidate: (key) => this.announce(c, key),
    };
  }

  private ttlOf(collection: unknown): number {
    const ttl = typeof collection === 'string' ? this.collections.get(collection) : undefined;
    if (ttl === undefined) {
      throw new ValidationError('collection', `Unknown collection ${JSON.stringify(String(collection).slice(0, 80))} (known: ${[...this.collections.keys()].join(', ')})`);
    }
    return ttl;
  }

  private static checkKey(key: unknown): string {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      throw new ValidationError('key', `Expected \`key\` to be a non-empty string of at most ${MAX_KEY_LENGTH} characters`);
    }
    return key;
  }

  /** Runs an L2 call through the breaker; on any failure counts, logs once per outage and says it was not done. */
  private async viaL2<T>(operation: string, collection: string, fn: (l2: L2Store) => Promise<T>): Promise<L2Result<T>> {
    const l2 = this.l2;
    if (!l2 || !this.breaker || this.closed) return NOT_DONE;
    try {
      const result = await this.breaker.execute(() => fn(l2));
      if (this.degraded) {
        this.degraded = false;
        this.logger.warn({ backend: l2.backend }, 'state L2 recovered; read-through and write-through resumed');
      }
      return { ok: true, value: result };
    } catch (err) {
      if (isCircuitOpenError(err)) this.l2Counts.shortCircuited++;
      else this.l2Counts.errors++;
      if (!this.degraded) {
        this.degraded = true;
        this.logger.warn(
          { backend: l2.backend, operation, collection, error: describeCause(err) },
          'state L2 unavailable; serving from L1 only until it recovers',
        );
      }
      return NOT_DONE;
    }
  }

  /**
   * The value stored under (collection, key), or undefined. Values come back frozen.
   * @throws ValidationError for an unknown collection or a bad key. Never throws for an L2 failure.
   */
  async get<T = unknown>(collection: string, key: string): Promise<T | undefined> {
    this.ttlOf(collection);
    StateManager.checkKey(key);
    const id = `${collection}\u0000${key}`;
    const hit = this.l1.get(id);
    if (hit !== undefined) return hit.kind === 'value' ? (hit.value as T) : undefined;
    const read = await this.viaL2('get', collection, (l2) => l2.get(collection, key));
    if (!read.ok || read.value === undefined) return undefined;
    const entry = read.value;
    const ttl = entry.expiresAt - Date.now();
    if (ttl <= 0) return undefined;
    let value: unknown;
    try {
      value = deepFreeze(JSON.parse(entry.value) as unknown);
    } catch {
      return undefined; // not ours or damaged: treat as absent
    }
    this.l1.set(id, { kind: 'value', value }, Buffer.byteLength(entry.value) + id.length, ttl);
    return value as T;
  }

  /**
   * Stores a JSON value in L1 and L2 with the collection's TTL (or `ttlMs`).
   * @throws ValidationError (collection, key, ttlMs); ValueNotSerializableError; ValueTooLargeError.
   *   Never throws for an L2 failure (the value is then in L1 only).
   */
  async set(collection: string, key: string, value: unknown, options: { ttlMs?: number } = {}): Promise<void> {
    let ttl = this.ttlOf(collection);
    StateManager.checkKey(key);
    if (options.ttlMs !== undefined) {
      if (typeof options.ttlMs !== 'number' || !Number.isInteger(options.ttlMs) || options.ttlMs < 1 || options.ttlMs > MAX_TTL_MS) {
        throw new ValidationError('ttlMs', `Expected \`ttlMs\` to be an integer between 1 and ${MAX_TTL_MS}`);
      }
      ttl = options.ttlMs;
    }
    const { json, bytes } = serialise(collection, value, this.maxValueBytes);
    const id = `${collection}\u0000${key}`;
    this.l1.set(id, { kind: 'value', value: deepFreeze(JSON.parse(json) as unknown) }, bytes + id.length, ttl);
    const written = await this.viaL2('set', collection, (l2) => l2.set(collection, key, json, ttl));
    if (written.ok) this.announce(collection, key);
  }

  /**
   * Deletes from L1 and L2. When L2 is down, a tombstone in L1 hides the old L2 value for the collection's TTL.
   * @throws ValidationError. Never throws for an L2 failure.
   */
  async delete(collection: string, key: string): Promise<void> {
    const ttl = this.ttlOf(collection);
    StateManager.checkKey(key);
    const id = `${collection}\u0000${key}`;
    this.l1.delete(id);
    const deleted = await this.viaL2('delete', collection, (l2) => l2.delete(collection, key));
    if (deleted.ok) this.announce(collection, key);
    else if (this.l2) this.l1.set(id, DELETED, id.length + 16, ttl);
  }

  /** Purges expired L2 entries now (also run by the background timer); resolves to the number deleted, 0 on failure. */
  async purgeExpired(): Promise<number> {
    if (this.purging) return 0;
    this.purging = true;
    try {
      const n = await this.viaL2('purge', '*', (l2) => l2.purgeExpired());
      this.l1.sweep();
      return n.ok ? n.value : 0;
    } finally {
      this.purging = false;
    }
  }

  stats(): StateStats {
    return {
      l1: this.l1.stats(),
      l2: {
        backend: this.l2?.backend ?? 'none',
        degraded: this.degraded,
        errors: this.l2Counts.errors,
        shortCircuited: this.l2Counts.shortCircuited,
        circuit: this.breaker?.state ?? 'none',
      },
      invalidation: { ...this.invalidation },
    };
  }

  /** Stops the timers and closes the L2 store. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    this.unsubscribe?.();
    this.l1.close();
    await this.l2?.close();
  }
}

/**
 * Creates a state manager.
 * @throws InvalidOptionsError / ValidationError for bad options (unknown key, bad bound, bad collection name).
 * @example
 * const state = createStateManager({ l2: await createL2Store({ url: process.env.AGENTEX_REDIS_URL }) });
 * await state.set('sessions', sessionId, { step: 2 });
 * await state.conversations.append(userId, { role: 'user', content: 'hi' });
 */
export function createStateManager(options: StateManagerOptions = {}): StateManager {
  return new StateManager(options);
}
