/** The L2 on Postgres: one table shared by every service instance. */
import type pg from 'pg';
import type { Pool, PoolConfig } from 'pg';
import { InvalidOptionsError } from '../common/errors.js';
import { bulkhead, type BulkheadPolicy } from '../resilience/index.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import { describeCause, StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import { migratePostgres, type Migration } from '../common/persistence/migrations.js';
import { L2_PURGE_CHUNK, listTrimStart, type InvalidationHandlers, type L2Entry, type L2Store, type ListBounds, type StateLogger } from './L2Store.js';

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
  {
    version: 2,
    name: 'append-only lists (conversations)',
    statements: [
      `CREATE TABLE state_list_items (
        seq BIGSERIAL PRIMARY KEY,
        collection TEXT COLLATE "C" NOT NULL,
        key TEXT COLLATE "C" NOT NULL,
        item TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        expires_at BIGINT NOT NULL)`,
      'CREATE INDEX state_list_items_key ON state_list_items (collection, key, seq)',
      'CREATE INDEX state_list_items_expires ON state_list_items (expires_at)',
    ],
  },
];

/** Reconnection delay of the LISTEN connection, ms. */
const LISTEN_RETRY_MS = 500;

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
  const driver = given ? undefined : (await import('pg')).default;
  const pool = given ?? new driver!.Pool(config);
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
  const channel = schema === undefined ? 'agentex_state' : `agentex_state_${schema}`.slice(0, 63);
  return new PostgresL2Store(pool, gate, !given, () => pool.off('error', onError), channel, driver ? () => new driver.Client({ ...config }) : undefined, logger);
}

class PostgresL2Store implements L2Store {
  readonly backend = 'postgres' as const;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly gate: BulkheadPolicy,
    private readonly owned: boolean,
    private readonly detach: () => void,
    private readonly channel: string,
    /** Connection settings for the dedicated LISTEN client; without them (a pool you own) one pool client is held. */
    private readonly listenClient: (() => pg.Client) | undefined,
    private readonly logger: StateLogger,
  ) {}

  private readonly listeners = new Set<() => void>();

  async appendList(collection: string, key: string, items: readonly string[], bounds: ListBounds, ttlMs: number): Promise<string[]> {
    if (this.closed) throw new StoreClosedError('postgres');
    try {
      return await this.gate.execute(async () => {
        const client = await this.pool.connect();
        try {
          await client.query('BEGIN');
          // One writer per list at a time, so sequence order is commit order and the trim sees every row.
          await client.query('SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))', [collection, key]);
          const now = Date.now();
          const expiresAt = Math.round(now + ttlMs);
          await client.query({
            name: 'agentex_list_insert',
            text: `INSERT INTO state_list_items (collection, key, item, bytes, expires_at)
                   SELECT $1, $2, item, octet_length(item), $4 FROM unnest($3::text[]) WITH ORDINALITY AS t(item, n) ORDER BY n`,
            values: [collection, key, items, expiresAt],
          });
          const { rows } = await client.query<{ seq: string; item: string; bytes: number }>({
            name: 'agentex_list_rows',
            text: 'SELECT seq, item, bytes FROM state_list_items WHERE collection = $1 AND key = $2 AND expires_at > $3 ORDER BY seq',
            values: [collection, key, now],
          });
          const start = listTrimStart(rows.map((r) => r.bytes), bounds);
          await client.query({
            name: 'agentex_list_trim',
            text: 'DELETE FROM state_list_items WHERE collection = $1 AND key = $2 AND (seq < $3 OR expires_at <= $4)',
            values: [collection, key, rows[start]?.seq ?? '0', now],
          });
          await client.query({
            name: 'agentex_list_touch',
            text: 'UPDATE state_list_items SET expires_at = $3 WHERE collection = $1 AND key = $2',
            values: [collection, key, expiresAt],
          });
          await client.query('COMMIT');
          return rows.slice(start).map((r) => r.item);
        } catch (err) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client.release();
        }
      });
    } catch (err) {
      throw new StoreUnavailableError('postgres', 'append', err);
    }
  }

  async getList(collection: string, key: string): Promise<string[] | undefined> {
    const { rows } = await this.query('get', {
      name: 'agentex_list_get',
      text: 'SELECT item FROM state_list_items WHERE collection = $1 AND key = $2 AND expires_at > $3 ORDER BY seq',
      values: [collection, key, Date.now()],
    });
    return rows.length > 0 ? rows.map((r) => (r as { item: string }).item) : undefined;
  }

  async publish(message: string): Promise<void> {
    await this.query('publish', { text: 'SELECT pg_notify($1, $2)', values: [this.channel, message] });
  }

  /** LISTENs on a connection of its own, reconnecting (and calling `resync`) until stopped. */
  subscribe(handlers: InvalidationHandlers): () => void {
    let stopped = false;
    let current: pg.ClientBase | undefined;
    let release: ((err?: Error) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let lost = false;
    const drop = (err?: Error) => {
      const c = current;
      current = undefined;
      if (!c) return;
      if (release) release(err ?? new Error('listen connection dropped'));
      else void (c as pg.Client).end().catch(() => undefined);
      release = undefined;
    };
    const retry = () => {
      if (stopped) return;
      timer = setTimeout(() => void connect(), LISTEN_RETRY_MS);
      timer.unref();
    };
    const onLost = (err?: Error) => {
      if (!lost) {
        lost = true;
        this.logger.warn({ backend: 'postgres', error: describeCause(err) }, 'state invalidation feed lost; L1 cleared, reconnecting');
        handlers.resync(false);
      }
      drop(err);
      retry();
    };
    const connect = async () => {
      if (stopped || this.closed) return;
      try {
        let client: pg.ClientBase;
        if (this.listenClient) {
          const own = this.listenClient();
          await own.connect();
          client = own;
          release = undefined;
        } else {
          const pooled = await this.pool.connect();
          client = pooled;
          release = (err) => pooled.release(err);
        }
        current = client;
        client.on('error', (err) => onLost(err));
        client.on('end', () => {
          if (current === client && !stopped) onLost();
        });
        client.on('notification', (n) => {
          if (n.channel === this.channel && n.payload !== undefined) handlers.message(n.payload);
        });
        await client.query(`LISTEN "${this.channel}"`);
        if (lost) this.logger.warn({ backend: 'postgres' }, 'state invalidation feed back');
        lost = false;
        handlers.resync(true);
      } catch (err) {
        onLost(err as Error);
      }
    };
    void connect();
    const stop = () => {
      stopped = true;
      clearTimeout(timer);
      this.listeners.delete(stop);
      drop();
    };
    this.listeners.add(stop);
    return stop;
  }

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
    const { rows } = await this.query('delete', {
      name: 'agentex_state_delete',
      text: `WITH e AS (DELETE FROM state_entries WHERE collection = $1 AND key = $2 RETURNING 1),
                  l AS (DELETE FROM state_list_items WHERE collection = $1 AND key = $2 RETURNING 1)
             SELECT (SELECT count(*) FROM e) + (SELECT count(*) FROM l) AS n`,
      values: [collection, key],
    });
    return Number((rows[0] as { n: string }).n) > 0;
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.query('purge', {
        name: 'agentex_state_purge',
        text: 'DELETE FROM state_entries WHERE ctid = ANY(ARRAY(SELECT ctid FROM state_entries WHERE expires_at <= $1 LIMIT $2))',
        values: [Math.floor(now), L2_PURGE_CHUNK],
      });
      const lists = await this.query('purge', {
        name: 'agentex_list_purge',
        text: 'DELETE FROM state_list_items WHERE seq = ANY(ARRAY(SELECT seq FROM state_list_items WHERE expires_at <= $1 LIMIT $2))',
        values: [Math.floor(now), L2_PURGE_CHUNK],
      });
      deleted += (rowCount ?? 0) + (lists.rowCount ?? 0);
      if ((rowCount ?? 0) < L2_PURGE_CHUNK && (lists.rowCount ?? 0) < L2_PURGE_CHUNK) return deleted;
    }
  }

  async ping(): Promise<void> {
    await this.query('ping', { text: 'SELECT 1' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stop of [...this.listeners]) stop();
    // An owned pool keeps its error listener so a connection terminated while it ends is logged, not thrown.
    if (this.owned) await this.pool.end();
    else this.detach();
  }
}
