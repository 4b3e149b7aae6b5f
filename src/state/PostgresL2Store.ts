/** The L2 on Postgres: one table shared by every service instance. */
import type pg from 'pg';
import type { Pool, PoolConfig } from 'pg';
import { InvalidOptionsError } from '../common/errors.js';
import { bulkhead, type BulkheadPolicy } from '../resilience/index.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import { describeCause, StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import { migratePostgres, type Migration } from '../common/persistence/migrations.js';
import { L2_PURGE_CHUNK, type L2Entry, type L2Store, type StateLogger } from './L2Store.js';

export interface PostgresL2StoreOptions {
  /** Connection URL. Exactly one of `url` and `pool`. */
  url?: string;
  /** A pool you own (not closed by `close()`). */
  pool?: Pool;
  /** Schema to create (if missing) and use via search_path. Only with `url`. */
  schema?: string;
  /** Pool size, and how many queries run at once (the rest wait in this store's queue). Default 5. */
  maxConnections?: number;
  /** How long opening one connection may take, ms. Default 2000. Time spent waiting for a free connection is not counted. */
  connectionTimeoutMs?: number;
  /** Server-side statement timeout, ms. Default 5000. */
  statementTimeoutMs?: number;
  /** Where idle-connection failures are reported. Default: stderr. */
  logger?: StateLogger;
}

/**
 * Queries waiting for a connection, at most; beyond it a query fails at once with `StoreUnavailableError`.
 * The store queues them itself (`bulkhead`) rather than in pg's pool, whose `connectionTimeoutMillis` also times out
 * a wait for a busy pool: a burst of writes then failed with "timeout exceeded when trying to connect" though no
 * connection was slow to open.
 */
export const MAX_QUEUED_QUERIES = 10_000;

export const POSTGRES_STATE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'state entries',
    statements: [
      `CREATE TABLE state_entries (
        collection TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        value TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (collection, key))`,
      'CREATE INDEX state_entries_expires ON state_entries (expires_at)',
    ],
  },
];

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const consoleLogger: StateLogger = { warn: (fields, message) => console.warn(`[agentex] ${message}`, fields) };

/**
 * Connects to Postgres and applies pending state migrations.
 * @throws InvalidOptionsError; SchemaVersionError; StoreUnavailableError when Postgres cannot be reached.
 */
export async function createPostgresL2Store(options: PostgresL2StoreOptions): Promise<L2Store> {
  const where = 'createPostgresL2Store';
  assertKnownKeys(where, options, ['url', 'pool', 'schema', 'maxConnections', 'connectionTimeoutMs', 'statementTimeoutMs', 'logger']);
  const { url, pool: given, schema, maxConnections = 5, connectionTimeoutMs = 2000, statementTimeoutMs = 5000, logger = consoleLogger } = options;
  if ((url === undefined) === (given === undefined)) throw new InvalidOptionsError(`${where}.url`, 'Expected exactly one of `url` and `pool`');
  if (url !== undefined) {
    assertString(where, 'url', url, 4096);
    if (!/^postgres(ql)?:\/\//.test(url)) throw new InvalidOptionsError(`${where}.url`, 'Expected `url` to start with postgres:// or postgresql://');
  }
  if (schema !== undefined && (given !== undefined || typeof schema !== 'string' || !SCHEMA_NAME.test(schema))) {
    throw new InvalidOptionsError(`${where}.schema`, `Expected \`schema\` to match ${SCHEMA_NAME.source} and to come with \`url\``);
  }
  assertNumber(where, 'maxConnections', maxConnections, { integer: true, min: 1, max: 1000 });
  assertNumber(where, 'connectionTimeoutMs', connectionTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'statementTimeoutMs', statementTimeoutMs, { integer: true, min: 1 });
  const config: PoolConfig = { connectionString: url, max: maxConnections, connectionTimeoutMillis: connectionTimeoutMs, statement_timeout: statementTimeoutMs };
  if (schema !== undefined) config.options = `-c search_path=${schema}`;
  // The driver loads here, when a Postgres store is opened: importing this module never loads `pg`.
  const pool = given ?? new (await import('pg')).default.Pool(config);
  const onError = (err: Error) => logger.warn({ backend: 'postgres', error: describeCause(err) }, 'idle Postgres connection failed');
  pool.on('error', onError);
  try {
    if (schema !== undefined) await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await migratePostgres(pool, 'state', POSTGRES_STATE_MIGRATIONS);
  } catch (err) {
    pool.off('error', onError);
    if (!given) await pool.end().catch(() => undefined);
    if (err instanceof Error && err.name === 'SchemaVersionError') throw err;
    throw new StoreUnavailableError('postgres', 'open', err);
  }
  const gate = bulkhead({ maxConcurrent: maxConnections, maxQueue: MAX_QUEUED_QUERIES });
  return new PostgresL2Store(pool, gate, !given, () => pool.off('error', onError));
}

class PostgresL2Store implements L2Store {
  readonly backend = 'postgres' as const;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly gate: BulkheadPolicy,
    private readonly owned: boolean,
    private readonly detach: () => void,
  ) {}

  private async query(operation: string, config: pg.QueryConfig): Promise<pg.QueryResult> {
    if (this.closed) throw new StoreClosedError('postgres');
    try {
      return await this.gate.execute(() => this.pool.query(config));
    } catch (err) {
      throw new StoreUnavailableError('postgres', operation, err);
    }
  }

  async get(collection: string, key: string): Promise<L2Entry | undefined> {
    const { rows } = await this.query('get', {
      name: 'agentex_state_get',
      text: 'SELECT value, expires_at FROM state_entries WHERE collection = $1 AND key = $2 AND expires_at > $3',
      values: [collection, key, Date.now()],
    });
    const row = rows[0] as { value: string; expires_at: string } | undefined;
    return row ? { value: row.value, expiresAt: Number(row.expires_at) } : undefined;
  }

  async set(collection: string, key: string, value: string, ttlMs: number): Promise<void> {
    await this.query('set', {
      name: 'agentex_state_set',
      text: `INSERT INTO state_entries (collection, key, value, expires_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      values: [collection, key, value, Math.round(Date.now() + ttlMs)],
    });
  }

  async delete(collection: string, key: string): Promise<boolean> {
    const { rowCount } = await this.query('delete', {
      name: 'agentex_state_delete',
      text: 'DELETE FROM state_entries WHERE collection = $1 AND key = $2',
      values: [collection, key],
    });
    return (rowCount ?? 0) > 0;
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.query('purge', {
        name: 'agentex_state_purge',
        text: 'DELETE FROM state_entries WHERE ctid = ANY(ARRAY(SELECT ctid FROM state_entries WHERE expires_at <= $1 LIMIT $2))',
        values: [Math.floor(now), L2_PURGE_CHUNK],
      });
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < L2_PURGE_CHUNK) return deleted;
    }
  }

  async ping(): Promise<void> {
    await this.query('ping', { text: 'SELECT 1' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // An owned pool keeps its error listener so a connection terminated while it ends is logged, not thrown.
    if (this.owned) await this.pool.end();
    else this.detach();
  }
}
