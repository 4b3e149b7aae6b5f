/**
 * Conversations: a user's messages as an append-only list in L2 (`appendList`: one atomic append-and-trim, so turns
 * of one user served by different instances — also at once — all land). While L2 is up every load reads it, so a
 * turn on any instance sees the turns before it; the L1 keeps a copy that serves only while L2 is down (and is the
 * whole store when there is no L2). Appends of one user in this process are serialised by a keyed lock.
 */
import { ValidationError } from '../common/errors.js';
import { ValueTooLargeError } from './errors.js';
import { KeyedLock } from './keyedLock.js';
import { listTrimStart, type ListBounds } from './L2Store.js';

/** A message of a conversation: a role and content, plus anything JSON the agent keeps. */
export interface ConversationMessage {
  role: string;
  content: unknown;
  [field: string]: unknown;
}

/** What erasing a conversation reached: `everywhere` (the shared tier, hence every instance) or this instance only. */
export interface ClearResult {
  /** False when the shared tier could not be reached: only this instance forgot it; retry to erase it everywhere. */
  everywhere: boolean;
}

/** Helpers for the `conversations` collection, keyed by user id. */
export interface Conversations {
  /** The user's messages, oldest first (empty when none). Returned arrays are frozen. */
  load(userId: string | number): Promise<readonly ConversationMessage[]>;
  /** Appends messages atomically (no lost update across instances), trims to the bounds, resolves to the stored history. */
  append(userId: string | number, ...messages: ConversationMessage[]): Promise<readonly ConversationMessage[]>;
  /** Replaces the history (trimmed to the bounds) and resolves to what was stored. */
  save(userId: string | number, messages: readonly ConversationMessage[]): Promise<readonly ConversationMessage[]>;
  /** Forgets the user's conversation (e.g. on a GDPR request) in L2, here, and (by invalidation) on every instance. */
  clear(userId: string | number): Promise<ClearResult>;
}

/** The outcome of an L2 call made through the state manager's breaker: its value, or that it did not happen. */
export type L2Result<T> = { ok: true; value: T } | { ok: false };

/** What the conversations need from the state manager: its guarded L2 list calls, its L1 and its invalidation. */
export interface ListTier {
  /** Whether an L2 is configured at all. */
  readonly shared: boolean;
  readList(key: string): Promise<L2Result<string[] | undefined>>;
  appendList(key: string, items: readonly string[], bounds: ListBounds): Promise<L2Result<string[]>>;
  deleteList(key: string): Promise<L2Result<boolean>>;
  /** The L1 copy. */
  cached(key: string): readonly ConversationMessage[] | undefined;
  cache(key: string, messages: readonly ConversationMessage[], bytes: number): void;
  uncache(key: string): void;
  /** Tells the other instances to drop their L1 copy. */
  invalidate(key: string): void;
}

const EMPTY: readonly ConversationMessage[] = Object.freeze([]);

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

function keyOf(userId: unknown): string {
  if ((typeof userId === 'number' && Number.isFinite(userId)) || (typeof userId === 'string' && userId.length > 0 && userId.length <= 256)) {
    return String(userId);
  }
  throw new ValidationError('userId', 'Expected `userId` to be a finite number or a non-empty string of at most 256 characters');
}

/** Parses stored items; an item that is not a message (damaged, or written by something else) is skipped. */
function parse(items: readonly string[]): readonly ConversationMessage[] {
  const out: ConversationMessage[] = [];
  for (const item of items) {
    try {
      const m = JSON.parse(item) as ConversationMessage;
      if (m !== null && typeof m === 'object' && typeof m.role === 'string') out.push(m);
    } catch {
      // skipped
    }
  }
  return deepFreeze(out);
}

const bytesOf = (items: readonly string[]) => items.reduce((n, i) => n + Buffer.byteLength(i) + 1, 1);

/** Builds the conversation helpers. `serialise` is the state manager's JSON check (throws typed errors). */
export function createConversations(tier: ListTier, bounds: ListBounds, serialise: (value: unknown) => string): Conversations {
  const lock = new KeyedLock();

  /** Validates and serialises messages, one JSON text per message; a single message above the bound is refused. */
  const encode = (messages: readonly ConversationMessage[]): string[] => {
    if (!isArray(messages)) throw new ValidationError('messages', 'Expected `messages` to be an array');
    return messages.map((m, i) => {
      if (m === null || typeof m !== 'object' || typeof m.role !== 'string') {
        throw new ValidationError(`messages[${i}]`, 'Expected a message with a string `role`');
      }
      const json = serialise(m);
      const size = Buffer.byteLength(json) + 2;
      if (size > bounds.maxBytes) throw new ValueTooLargeError('conversations', size, bounds.maxBytes);
      return json;
    });
  };

  const keep = (key: string, items: readonly string[]): readonly ConversationMessage[] => {
    const messages = parse(items);
    tier.cache(key, messages, bytesOf(items));
    return messages;
  };

  /** Appends to the L1 copy alone (no L2, or L2 down). */
  const appendLocally = (key: string, items: readonly string[]): readonly ConversationMessage[] => {
    const all = [...(tier.cached(key) ?? EMPTY).map((m) => JSON.stringify(m)), ...items];
    return keep(key, all.slice(listTrimStart(all.map((i) => Buffer.byteLength(i)), bounds)));
  };

  const load = async (key: string): Promise<readonly ConversationMessage[]> => {
    if (tier.shared) {
      const read = await tier.readList(key);
      if (read.ok) {
        if (read.value === undefined) {
          tier.uncache(key);
          return EMPTY;
        }
        return keep(key, read.value);
      }
    }
    return tier.cached(key) ?? EMPTY;
  };

  const append = async (key: string, items: readonly string[]): Promise<readonly ConversationMessage[]> => {
    if (items.length === 0) return load(key);
    if (tier.shared) {
      const stored = await tier.appendList(key, items, bounds);
      if (stored.ok) {
        tier.invalidate(key);
        return keep(key, stored.value);
      }
    }
    return appendLocally(key, items);
  };

  const clear = async (key: string): Promise<ClearResult> => {
    tier.uncache(key);
    if (!tier.shared) return { everywhere: true };
    const deleted = await tier.deleteList(key);
    if (!deleted.ok) return { everywhere: false };
    tier.invalidate(key);
    return { everywhere: true };
  };

  return {
    load: async (userId) => load(keyOf(userId)),
    append: async (userId, ...messages) => {
      const key = keyOf(userId);
      const items = encode(messages); // bad input is refused before taking the lock
      return lock.run(key, () => append(key, items));
    },
    save: async (userId, messages) => {
      const key = keyOf(userId);
      const items = encode(messages);
      return lock.run(key, async () => {
        await clear(key);
        return append(key, items);
      });
    },
    clear: async (userId) => {
      const key = keyOf(userId);
      return lock.run(key, () => clear(key));
    },
  };
}

/** Array check without narrowing a typed array to any[]. */
function isArray(value: unknown): boolean {
  return Array.isArray(value);
}
