/**
 * One switch between backends: a Postgres URL selects Postgres, anything else is a SQLite path. The service maps
 * `AGENTEX_DATABASE_URL` to `databaseUrl`; the library itself never reads the environment.
 */
import { InvalidOptionsError } from '../common/errors.js';
import type { PostgresTraceStoreOptions } from './PostgresTraceStore.js';
import type { SqliteTraceStoreOptions } from './SqliteTraceStore.js';
import type { TraceStore } from './TraceStore.js';

export interface TraceStoreOptions
  extends Omit<SqliteTraceStoreOptions, 'path'>,
    Omit<PostgresTraceStoreOptions, 'url' | 'pool' | 'retentionFor' | 'logger' | 'maxBatchTraces'> {
  /**
   * `postgres://…` / `postgresql://…` for Postgres; `sqlite:<path>`, `file:<path>` or a plain path for SQLite.
   * Default: SQLite at `./data/agentex.db`.
   */
  databaseUrl?: string;
}

const PG_ONLY = ['schema', 'maxConnections', 'statementTimeoutMs', 'connectionTimeoutMs'] as const;
const SQLITE_ONLY = ['maxBatchSpans', 'synchronous', 'busyTimeoutMs'] as const;

/**
 * Opens the trace store a URL names.
 * @throws InvalidOptionsError (including an option of the other backend), SchemaVersionError, StoreUnavailableError.
 * @example const store = await createTraceStore({ databaseUrl: process.env.AGENTEX_DATABASE_URL });
 */
export async function createTraceStore(options: TraceStoreOptions = {}): Promise<TraceStore> {
  const { databaseUrl, ...rest } = options;
  if (databaseUrl !== undefined && (typeof databaseUrl !== 'string' || databaseUrl.length === 0)) {
    throw new InvalidOptionsError('createTraceStore.databaseUrl', 'Expected `databaseUrl` to be a non-empty string');
  }
  const isPg = databaseUrl !== undefined && /^postgres(ql)?:\/\//.test(databaseUrl);
  for (const key of isPg ? SQLITE_ONLY : PG_ONLY) {
    if (key in rest) throw new InvalidOptionsError(`createTraceStore.${key}`, `\`${key}\` does not apply to the ${isPg ? 'Postgres' : 'SQLite'} store`);
  }
  // Only the chosen backend (and its driver) is loaded: a SQLite user never loads `pg`.
  if (isPg) {
    const { createPostgresTraceStore } = await import('./PostgresTraceStore.js');
    return createPostgresTraceStore({ ...(rest as PostgresTraceStoreOptions), url: databaseUrl });
  }
  const file = databaseUrl?.replace(/^sqlite:(\/\/)?/, '');
  const { createSqliteTraceStore } = await import('./SqliteTraceStore.js');
  return createSqliteTraceStore({ ...(rest as SqliteTraceStoreOptions), ...(file === undefined ? {} : { path: file }) });
}
