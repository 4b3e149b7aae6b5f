/**
 * One switch between L2 backends: `redis://` → Redis, `postgres://` → Postgres, anything else (or nothing) → SQLite.
 * The service maps `AGENTEX_REDIS_URL` (else `AGENTEX_DATABASE_URL`) to `url`; the library never reads the environment.
 */
import { InvalidOptionsError } from '../common/errors.js';
import type { L2Store } from './L2Store.js';
import { createPostgresL2Store, type PostgresL2StoreOptions } from './PostgresL2Store.js';
import { createRedisL2Store, type RedisL2StoreOptions } from './RedisL2Store.js';
import { createSqliteL2Store } from './SqliteL2Store.js';

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
    return createRedisL2Store({ url, ...(keyPrefix === undefined ? {} : { keyPrefix }), ...(logger ? { logger } : {}) });
  }
  if (keyPrefix !== undefined) throw new InvalidOptionsError('createL2Store.keyPrefix', '`keyPrefix` only applies to Redis');
  if (url !== undefined && /^postgres(ql)?:\/\//.test(url)) {
    return createPostgresL2Store({ url, ...(schema === undefined ? {} : { schema }), ...(logger ? { logger } : {}) });
  }
  if (schema !== undefined) throw new InvalidOptionsError('createL2Store.schema', '`schema` only applies to Postgres');
  const file = url?.replace(/^sqlite:(\/\/)?/, '');
  return createSqliteL2Store(file === undefined ? {} : { path: file });
}
