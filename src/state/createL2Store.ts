/**
 * One switch between L2 backends: `redis://` → Redis, `postgres://` → Postgres, anything else (or nothing) → SQLite.
 * The service maps `AGENTEX_REDIS_URL` (else `AGENTEX_DATABASE_URL`) to `url`; the library never reads the environment.
 */
import { InvalidOptionsError } from '../common/errors.js';
import type { L2Store } from './L2Store.js';
import type { PostgresL2StoreOptions } from './PostgresL2Store.js';
import type { RedisL2StoreOptions } from './RedisL2Store.js';

export interface L2StoreOptions {
  /** `redis://…`, `postgres://…`, `sqlite:<path>` or a path. Default: SQLite at `./data/agentex.db`. */
  url?: string;
  /** Redis only: key prefix. */
  keyPrefix?: RedisL2StoreOptions['keyPrefix'];
  /** Postgres only: schema. */
  schema?: PostgresL2StoreOptions['schema'];
  logger?: RedisL2StoreOptions['logger'];
}

/**
 * Opens the L2 store a URL names.
 * @throws InvalidOptionsError, SchemaVersionError, StoreUnavailableError (Postgres/SQLite unreachable at open).
 */
export async function createL2Store(options: L2StoreOptions = {}): Promise<L2Store> {
  const { url, keyPrefix, schema, logger } = options;
  if (url !== undefined && (typeof url !== 'string' || url.length === 0)) {
    throw new InvalidOptionsError('createL2Store.url', 'Expected `url` to be a non-empty string');
  }
  if (url !== undefined && /^rediss?:\/\//.test(url)) {
    if (schema !== undefined) throw new InvalidOptionsError('createL2Store.schema', '`schema` does not apply to Redis');
    // Only the chosen backend (and its driver) is loaded: a SQLite user never loads `ioredis` or `pg`.
    const { createRedisL2Store } = await import('./RedisL2Store.js');
    return createRedisL2Store({ url, ...(keyPrefix === undefined ? {} : { keyPrefix }), ...(logger ? { logger } : {}) });
  }
  if (keyPrefix !== undefined) throw new InvalidOptionsError('createL2Store.keyPrefix', '`keyPrefix` only applies to Redis');
  if (url !== undefined && /^postgres(ql)?:\/\//.test(url)) {
    const { createPostgresL2Store } = await import('./PostgresL2Store.js');
    return createPostgresL2Store({ url, ...(schema === undefined ? {} : { schema }), ...(logger ? { logger } : {}) });
  }
  if (schema !== undefined) throw new InvalidOptionsError('createL2Store.schema', '`schema` only applies to Postgres');
  const file = url?.replace(/^sqlite:(\/\/)?/, '');
  const { createSqliteL2Store } = await import('./SqliteL2Store.js');
  return createSqliteL2Store(file === undefined ? {} : { path: file });
}
