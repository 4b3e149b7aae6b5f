/**
 * One switch between circuit-state backends: `redis://` → Redis, `postgres://` → Postgres, nothing → this process's
 * memory. The drivers load only when their backend is chosen. The service passes `AGENTEX_REDIS_URL`, else a Postgres
 * `AGENTEX_DATABASE_URL`; the library never reads the environment.
 */
import { InvalidOptionsError } from '../common/errors.js';
import { memoryCircuitStateStore, type CircuitStateStore } from '../resilience/CircuitStateStore.js';
import type { StateLogger } from './L2Store.js';

export interface CircuitStateStoreOptions {
  /** `redis://…`, `postgres://…`, or undefined for memory. */
  url?: string | undefined;
  /** Redis only: prefix of keys and channel. Default `agentex:circuits:`. */
  keyPrefix?: string | undefined;
  /** Postgres only: schema. */
  schema?: string | undefined;
  logger?: StateLogger | undefined;
}

/**
 * Opens the circuit-state store a URL names. A Redis that is down still yields a store (unavailable until it comes
 * back); a Postgres that is down at start throws, as the trace store would.
 * @throws InvalidOptionsError for a URL that is neither Redis nor Postgres; StoreUnavailableError (Postgres).
 */
export async function createCircuitStateStore(options: CircuitStateStoreOptions = {}): Promise<CircuitStateStore> {
  const { url, keyPrefix, schema, logger } = options;
  if (url === undefined) return memoryCircuitStateStore();
  if (/^rediss?:\/\//.test(url)) {
    const { createRedisCircuitStateStore } = await import('./RedisCircuitStateStore.js');
    return createRedisCircuitStateStore({ url, ...(keyPrefix === undefined ? {} : { keyPrefix }), ...(logger ? { logger } : {}) });
  }
  if (/^postgres(ql)?:\/\//.test(url)) {
    const { createPostgresCircuitStateStore } = await import('./PostgresCircuitStateStore.js');
    return createPostgresCircuitStateStore({ url, ...(schema === undefined ? {} : { schema }), ...(logger ? { logger } : {}) });
  }
  throw new InvalidOptionsError('createCircuitStateStore.url', 'Expected `url` to start with redis://, rediss://, postgres:// or postgresql://');
}
