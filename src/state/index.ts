/** State: a bounded in-process L1 in front of a shared L2 (SQLite, Postgres or Redis). */
export {
  createStateManager,
  StateManager,
  DEFAULT_COLLECTIONS,
  DEFAULT_MAX_VALUE_BYTES,
  DEFAULT_STATE_PURGE_INTERVAL_MS,
  DEFAULT_CONVERSATION_MAX_MESSAGES,
  DEFAULT_CONVERSATION_MAX_BYTES,
  MAX_KEY_LENGTH,
  MAX_TTL_MS,
} from './StateManager.js';
export type { StateManagerOptions, CollectionOptions, StateStats, L2Stats, InvalidationStats, Conversations, ConversationMessage, ClearResult } from './StateManager.js';
export { KeyedLock } from './keyedLock.js';
export { createL1Cache, L1Cache, DEFAULT_L1_MAX_ENTRIES, DEFAULT_L1_MAX_BYTES, DEFAULT_L1_SWEEP_INTERVAL_MS } from './L1Cache.js';
export type { L1CacheOptions, L1Stats } from './L1Cache.js';
export type { L2Store, L2Entry, StateLogger, ListBounds, InvalidationHandlers } from './L2Store.js';
export { createL2Store } from './createL2Store.js';
export type { L2StoreOptions } from './createL2Store.js';
export { createSqliteL2Store } from './SqliteL2Store.js';
export type { SqliteL2StoreOptions } from './SqliteL2Store.js';
export { createPostgresL2Store } from './PostgresL2Store.js';
export type { PostgresL2StoreOptions } from './PostgresL2Store.js';
export { createRedisL2Store } from './RedisL2Store.js';
export type { RedisL2StoreOptions } from './RedisL2Store.js';
export { ValueNotSerializableError, ValueTooLargeError, isValueNotSerializableError, isValueTooLargeError } from './errors.js';
export { createRedisCircuitStateStore } from './RedisCircuitStateStore.js';
export type { RedisCircuitStateStoreOptions } from './RedisCircuitStateStore.js';
export { createPostgresCircuitStateStore } from './PostgresCircuitStateStore.js';
export type { PostgresCircuitStateStoreOptions } from './PostgresCircuitStateStore.js';
