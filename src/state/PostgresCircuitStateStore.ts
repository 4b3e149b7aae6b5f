/**
 * Circuit state on Postgres, for deployments without Redis: a versioned row per circuit, changed inside a
 * transaction that holds its row lock (`SELECT … FOR UPDATE`, then `applyCircuitOp`), and announced with `pg_notify`
 * in the same transaction, so listeners hear of a change only once it is committed, in commit order. Every instance
 * keeps one connection LISTENing; while it is down the store reports itself unavailable and keeps reconnecting.
 */
import type pg from 'pg';
import type { Pool, PoolConfig } from 'pg';
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import {
  applyCircuitOp,
  formatCircuitChange,
  parseCircuitChange,
  CLOSED_RECORD,
  toRecord,
  type CircuitChange,
  type CircuitOpResult,
  type CircuitStateOp,
  type CircuitStateStore,
  type SharedCircuitRecord,
  type StoredCircuit,
} from '../resilience/CircuitStateStore.js';
import type { CircuitState, StateChangeReason } from '../resilience/CircuitBreaker.js';
import { Emitter } from '../resilience/Emitter.js';
import { describeCause, StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import { migratePostgres, type Migration } from '../common/persistence/migrations.js';
import type { StateLogger } from './L2Store.js';

export interface PostgresCircuitStateStoreOptions {
  /** Connection URL. */
  url: string;
  /** Schema to create (if missing) and use. Default: the connection's search path. */
  schema?: string;
  /** Pool size for transitions. Default 2. */
  maxConnections?: number;
  /** How long opening one connection may take, ms. Default 2000. */
  connectionTimeoutMs?: number;
  /** Server-side statement timeout, ms. Default 2000. */
  statementTimeoutMs?: number;
  /** Longest pause between attempts to re-open the listening connection, ms. Default 2000. */
  maxReconnectDelayMs?: number;
  /** Where connection loss is reported (once per outage). Default: stderr. */
  logger?: StateLogger;
}

export const POSTGRES_CIRCUIT_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'circuit state',
    statements: [
      `CREATE TABLE circuit_state (
        name TEXT COLLATE "C" PRIMARY KEY,
        state TEXT NOT NULL,
        version BIGINT NOT NULL,
        open_until BIGINT NOT NULL,
        reason TEXT NOT NULL,
        probes JSONB NOT NULL,
        probe_successes INTEGER NOT NULL)`,
    ],
  },
];

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const consoleLogger: StateLogger = { warn: (fields, message) => console.warn(`[agentex] ${message}`, fields) };

/**
 * Connects, applies the circuit-state migration and starts listening.
 * @throws InvalidOptionsError; SchemaVersionError; StoreUnavailableError when Postgres cannot be reached at start.
 */
export async function createPostgresCircuitStateStore(options: PostgresCircuitStateStoreOptions): Promise<CircuitStateStore> {
  const where = 'createPostgresCircuitStateStore';
  assertKnownKeys(where, options, ['url', 'schema', 'maxConnections', 'connectionTimeoutMs', 'statementTimeoutMs', 'maxReconnectDelayMs', 'logger']);
  const { url, schema, maxConnections = 2, connectionTimeoutMs = 2000, statementTimeoutMs = 2000, maxReconnectDelayMs = 2000, logger = consoleLogger } =
    options ?? ({} as PostgresCircuitStateStoreOptions);
  assertString(where, 'url', url, 4096);
  if (!/^postgres(ql)?:\/\//.test(url)) throw new InvalidOptionsError(`${where}.url`, 'Expected `url` to start with postgres:// or postgresql://');
  if (schema !== undefined && (typeof schema !== 'string' || !SCHEMA_NAME.test(schema))) {
    throw new InvalidOptionsError(`${where}.schema`, `Expected \`schema\` to match ${SCHEMA_NAME.source}`);
  }
  assertNumber(where, 'maxConnections', maxConnections, { integer: true, min: 1, max: 100 });
  assertNumber(where, 'connectionTimeoutMs', connectionTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'statementTimeoutMs', statementTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'maxReconnectDelayMs', maxReconnectDelayMs, { integer: true, min: 1 });
  const config: PoolConfig = { connectionString: url, max: maxConnections, connectionTimeoutMillis: connectionTimeoutMs, statement_timeout: statementTimeoutMs };
  if (schema !== undefined) config.options = `-c search_path=${schema}`;
  // The driver loads here, when a Postgres circuit store is opened: importing this module never loads `pg`.
  const driver = (await import('pg')).default;
  const pool = new driver.Pool(config);
  const onError = (err: Error) => logger.warn({ backend: 'postgres', error: describeCause(err) }, 'idle Postgres connection failed');
  pool.on('error', onError);
  let channel: string;
  try {
    if (schema !== undefined) await pool.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await migratePostgres(pool, 'circuits', POSTGRES_CIRCUIT_MIGRATIONS);
    // NOTIFY is per database: the channel names the schema so that two deployments (or test runs) never cross.
    const { rows } = await pool.query<{ s: string }>('SELECT current_schema() AS s');
    channel = `agentex_circuits:${rows[0]!.s}`;
  } catch (err) {
    await pool.end().catch(() => undefined);
    if (err instanceof Error && err.name === 'SchemaVersionError') throw err;
    throw new StoreUnavailableError('postgres', 'open', err);
  }
  const { max: _max, ...clientConfig } = config;
  const store = new PostgresCircuitStateStore(pool, () => new driver.Client(clientConfig), channel, maxReconnectDelayMs, logger);
  await store.listen();
  return store;
}

interface Row {
  state: string;
  version: string;
  open_until: string;
  reason: string;
  probes: Record<string, number>;
  probe_successes: number;
}

function fromRow(r: Row): StoredCircuit {
  return {
    state: r.state as CircuitState,
    version: Number(r.version),
    openUntil: Number(r.open_until),
    reason: r.reason as StateChangeReason,
    probes: r.probes,
    probeSuccesses: r.probe_successes,
  };
}

class PostgresCircuitStateStore implements CircuitStateStore {
  readonly backend = 'postgres' as const;
  private closed = false;
  private listener: pg.Client | undefined;
  private listening = false;
  private reported = false;
  private attempts = 0;
  private retry: NodeJS.Timeout | undefined;
  private readonly changes = new Emitter<CircuitChange>();
  private readonly availability = new Emitter<boolean>();

  constructor(
    private readonly pool: Pool,
    private readonly newClient: () => pg.Client,
    private readonly channel: string,
    private readonly maxReconnectDelayMs: number,
    private readonly logger: StateLogger,
  ) {}

  get available(): boolean {
    return this.listening && !this.closed;
  }

  /** Opens the listening connection; on failure schedules another attempt. Never rejects. */
  async listen(): Promise<void> {
    if (this.closed) return;
    const client = this.newClient();
    this.listener = client;
    const lost = (err?: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.removeAllListeners('notification');
      void client.end().catch(() => undefined);
      this.down(err);
    };
    client.on('error', lost);
    client.on('end', () => lost());
    client.on('notification', (msg) => {
      if (msg.channel !== this.channel || msg.payload === undefined) return;
      const change = parseCircuitChange(msg.payload);
      if (change) this.changes.emit(change);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel.replace(/"/g, '""')}"`);
    } catch (err) {
      lost(err as Error);
      return;
    }
    if (this.listener !== client || this.closed) return;
    this.attempts = 0;
    this.reported = false;
    this.listening = true;
    this.availability.emit(true);
  }

  private down(err?: Error): void {
    const was = this.listening;
    this.listening = false;
    if (this.closed) return;
    if (!this.reported) {
      this.reported = true;
      this.logger.warn({ backend: 'postgres', error: err ? describeCause(err) : 'connection closed' }, 'Postgres circuit state unreachable; circuits run on local state');
    }
    if (was) this.availability.emit(false);
    if (this.retry !== undefined) return;
    const delay = Math.min(50 * 2 ** Math.min(this.attempts++, 10), this.maxReconnectDelayMs);
    // A background reconnection nobody awaits: unref'd so it never keeps a process alive.
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.listen();
    }, delay);
    this.retry.unref();
  }

  async read(name: string): Promise<SharedCircuitRecord> {
    if (this.closed) throw new StoreClosedError('postgres');
    try {
      const { rows } = await this.pool.query<Row>('SELECT * FROM circuit_state WHERE name = $1', [name]);
      return toRecord(rows[0] ? fromRow(rows[0]) : CLOSED_RECORD);
    } catch (err) {
      throw new StoreUnavailableError('postgres', 'read circuit', err);
    }
  }

  async apply(name: string, op: CircuitStateOp): Promise<CircuitOpResult> {
    if (this.closed) throw new StoreClosedError('postgres');
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw new StoreUnavailableError('postgres', `circuit ${op.type}`, err);
    }
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO circuit_state (name, state, version, open_until, reason, probes, probe_successes)
         VALUES ($1, 'closed', 0, 0, 'reset', '{}', 0) ON CONFLICT (name) DO NOTHING`,
        [name],
      );
      const { rows } = await client.query<Row>('SELECT * FROM circuit_state WHERE name = $1 FOR UPDATE', [name]);
      const current = fromRow(rows[0]!);
      const { next, result } = applyCircuitOp(current, op);
      if (next !== current) {
        await client.query('UPDATE circuit_state SET state = $2, version = $3, open_until = $4, reason = $5, probes = $6, probe_successes = $7 WHERE name = $1', [
          name,
          next.state,
          next.version,
          next.openUntil,
          next.reason,
          JSON.stringify(next.probes),
          next.probeSuccesses,
        ]);
      }
      if (result.changed) {
        const r = result.record;
        await client.query('SELECT pg_notify($1, $2)', [this.channel, formatCircuitChange(name, r)]);
      }
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(true);
      throw new StoreUnavailableError('postgres', `circuit ${op.type}`, err);
    }
  }

  onChange(listener: (change: CircuitChange) => void) {
    return this.changes.on(listener);
  }

  onAvailability(listener: (up: boolean) => void) {
    return this.availability.on(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listening = false;
    clearTimeout(this.retry);
    this.changes.clear();
    this.availability.clear();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

