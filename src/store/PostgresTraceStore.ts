/**
 * The trace store for teams: Postgres through a pg Pool, so several service instances share one set of traces.
 * Batches are written with a fixed set of named (prepared) statements that take whole columns as arrays, so a batch
 * of any size is three round trips in one transaction.
 */
import pg from 'pg';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { InvalidOptionsError, ValidationError } from '../common/errors.js';
import { bulkhead, type BulkheadPolicy } from '../resilience/index.js';
import { assertFunction, assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import type { TraceRecord, TraceStatus } from '../trace/model.js';
import { describeCause, StoreClosedError, StoreUnavailableError } from './errors.js';
import { migratePostgres, type Migration } from './migrations.js';
import {
  emptyStatusCounts,
  isArrayValue,
  normaliseListQuery,
  normaliseStatsQuery,
  normaliseTimeseriesQuery,
  normaliseTraceId,
  userKey,
  validateTrace,
} from './query.js';
import { consoleLogger, startPurgeTimer } from './retention.js';
import { forEachSpanRow, toTrace, toTraceRow, traceJson } from './rows.js';
import { buckets, listSql, page, pageJson, rangeWhere } from './sql.js';
import {
  DEFAULT_PURGE_INTERVAL_MS,
  DEFAULT_RETENTION_MS,
  type HealthResult,
  type ListTracesQuery,
  type PurgeOptions,
  type PutOptions,
  type StatsQuery,
  type StoreLogger,
  type TimeseriesQuery,
  type TraceBucket,
  type TracePage,
  type TraceStats,
  type TraceStore,
  type TraceStoreCounters,
} from './TraceStore.js';

/** Rows deleted per purge statement: one short transaction each. */
export const PG_PURGE_CHUNK = 1000;
/** Most traces per write transaction. */
export const DEFAULT_PG_MAX_BATCH_TRACES = 500;

export interface PostgresTraceStoreOptions {
  /** Connection URL (`postgres://user@host:5432/db`). Exactly one of `url` and `pool`. */
  url?: string;
  /** A pool you own (not closed by `close()`); its search_path decides the schema. */
  pool?: Pool;
  /** Schema to create (if missing) and use, via the pool's search_path. Only with `url`. Default: the server's. */
  schema?: string;
  /** Pool size, and how many statements or write transactions run at once (the rest wait in the store's queue). Default 10. */
  maxConnections?: number;
  /** Per-statement timeout in ms, enforced by the server. Default 30000. */
  statementTimeoutMs?: number;
  /** How long opening one connection may take, in ms (waiting for a free one is not counted). Default 5000. */
  connectionTimeoutMs?: number;
  /** How long a trace is kept after it is written, in ms. Default 7 days. */
  retentionMs?: number;
  /** Per-trace retention; return undefined for the default. */
  retentionFor?: (trace: TraceRecord) => number | undefined;
  /** Interval of the background purge in ms; 0 disables it. Default 10 minutes. */
  purgeIntervalMs?: number;
  /** Most traces per write transaction. Default 500. */
  maxBatchTraces?: number;
  /** Where background failures are reported. Default: one line on stderr. */
  logger?: StoreLogger;
}

const OPTION_KEYS = [
  'url',
  'pool',
  'schema',
  'maxConnections',
  'statementTimeoutMs',
  'connectionTimeoutMs',
  'retentionMs',
  'retentionFor',
  'purgeIntervalMs',
  'maxBatchTraces',
  'logger',
];

/** The traces schema for Postgres, version by version. */
export const POSTGRES_TRACE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'traces and spans',
    statements: [
      `CREATE TABLE traces (
        trace_id TEXT COLLATE "C" PRIMARY KEY,
        user_id TEXT COLLATE "C",
        agent TEXT COLLATE "C",
        status TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        ended_at DOUBLE PRECISION,
        duration_ms DOUBLE PRECISION,
        span_count INTEGER NOT NULL,
        expires_at BIGINT NOT NULL,
        body TEXT NOT NULL)`,
      `CREATE TABLE spans (
        trace_id TEXT COLLATE "C" NOT NULL,
        seq INTEGER NOT NULL,
        span_id TEXT NOT NULL,
        parent_id TEXT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at DOUBLE PRECISION NOT NULL,
        duration_ms DOUBLE PRECISION,
        body TEXT NOT NULL,
        PRIMARY KEY (trace_id, seq))`,
      'CREATE INDEX traces_user_started ON traces (user_id, started_at, trace_id)',
      'CREATE INDEX traces_user_status_started ON traces (user_id, status, started_at, trace_id)',
      'CREATE INDEX traces_status_started ON traces (status, started_at, trace_id)',
      'CREATE INDEX traces_agent_started ON traces (agent, started_at, trace_id)',
      'CREATE INDEX traces_started ON traces (started_at, trace_id)',
      'CREATE INDEX traces_expires ON traces (expires_at)',
    ],
  },
];

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function resolveOptions(options: PostgresTraceStoreOptions) {
  const where = 'createPostgresTraceStore';
  assertKnownKeys(where, options, OPTION_KEYS);
  const {
    url,
    pool,
    schema,
    maxConnections = 10,
    statementTimeoutMs = 30_000,
    connectionTimeoutMs = 5000,
    retentionMs = DEFAULT_RETENTION_MS,
    retentionFor,
    purgeIntervalMs = DEFAULT_PURGE_INTERVAL_MS,
    maxBatchTraces = DEFAULT_PG_MAX_BATCH_TRACES,
    logger = consoleLogger,
  } = options;
  if ((url === undefined) === (pool === undefined)) throw new InvalidOptionsError(`${where}.url`, 'Expected exactly one of `url` and `pool`');
  if (url !== undefined) {
    assertString(where, 'url', url, 4096);
    if (!/^postgres(ql)?:\/\//.test(url)) throw new InvalidOptionsError(`${where}.url`, 'Expected `url` to start with postgres:// or postgresql://');
  }
  if (pool !== undefined && typeof (pool as { query?: unknown }).query !== 'function') assertFunction(where, 'pool.query', undefined);
  if (schema !== undefined) {
    if (pool !== undefined) throw new InvalidOptionsError(`${where}.schema`, '`schema` only applies with `url`; set the search_path of your pool');
    if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema)) {
      throw new InvalidOptionsError(`${where}.schema`, `Expected \`schema\` to match ${SCHEMA_NAME.source}, got ${JSON.stringify(schema)}`);
    }
  }
  assertNumber(where, 'maxConnections', maxConnections, { integer: true, min: 1, max: 1000 });
  assertNumber(where, 'statementTimeoutMs', statementTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'connectionTimeoutMs', connectionTimeoutMs, { integer: true, min: 1 });
  assertNumber(where, 'retentionMs', retentionMs, { min: 1000 });
  if (retentionFor !== undefined) assertFunction(where, 'retentionFor', retentionFor);
  assertNumber(where, 'purgeIntervalMs', purgeIntervalMs, { integer: true, min: 0 });
  assertNumber(where, 'maxBatchTraces', maxBatchTraces, { integer: true, min: 1, max: 100_000 });
  if (typeof logger?.warn !== 'function') assertFunction(where, 'logger.warn', undefined);
  return { url, pool, schema, maxConnections, statementTimeoutMs, connectionTimeoutMs, retentionMs, retentionFor, purgeIntervalMs, maxBatchTraces, logger };
}

type Resolved = ReturnType<typeof resolveOptions>;

/**
 * Connects to Postgres, creates the schema if asked, and applies pending migrations (once, even when several
 * instances start together).
 * @throws InvalidOptionsError; SchemaVersionError when the database was written by a newer AgentEx;
 *   StoreUnavailableError when Postgres cannot be reached.
 * @example const store = await createPostgresTraceStore({ url: process.env.AGENTEX_DATABASE_URL });
 */
export async function createPostgresTraceStore(options: PostgresTraceStoreOptions): Promise<TraceStore> {
  const o = resolveOptions(options);
  const owned = o.pool === undefined;
  const config: PoolConfig = {
    connectionString: o.url,
    max: o.maxConnections,
    connectionTimeoutMillis: o.connectionTimeoutMs,
    statement_timeout: o.statementTimeoutMs,
  };
  if (o.schema !== undefined) config.options = `-c search_path=${o.schema}`;
  const pool = o.pool ?? new pg.Pool(config);
  // An idle client losing its connection emits on the pool; unhandled, that would crash the process.
  const onPoolError = (err: Error) => o.logger.warn({ backend: 'postgres', error: describeCause(err) }, 'idle Postgres connection failed');
  pool.on('error', onPoolError);
  try {
    if (o.schema !== undefined) await pool.query(`CREATE SCHEMA IF NOT EXISTS "${o.schema}"`);
    await migratePostgres(pool, 'traces', POSTGRES_TRACE_MIGRATIONS);
  } catch (err) {
    pool.off('error', onPoolError);
    if (owned) await pool.end().catch(() => undefined);
    if (err instanceof Error && err.name === 'SchemaVersionError') throw err;
    throw new StoreUnavailableError('postgres', 'open', err);
  }
  const gate = bulkhead({ maxConcurrent: o.maxConnections, maxQueue: MAX_QUEUED_STATEMENTS });
  return new PostgresTraceStore(pool, gate, owned, o, () => pool.off('error', onPoolError));
}

/**
 * Statements waiting for a connection, at most; beyond it one fails at once with `StoreUnavailableError`. The store
 * queues them itself (`bulkhead`): pg's pool would apply `connectionTimeoutMillis` to a wait for a busy pool too.
 */
export const MAX_QUEUED_STATEMENTS = 10_000;

const UPSERT_TRACES = `INSERT INTO traces (trace_id, user_id, agent, status, started_at, ended_at, duration_ms, span_count, expires_at, body)
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::int[], $9::int8[], $10::text[])
  ON CONFLICT (trace_id) DO UPDATE SET user_id = excluded.user_id, agent = excluded.agent, status = excluded.status,
    started_at = excluded.started_at, ended_at = excluded.ended_at, duration_ms = excluded.duration_ms,
    span_count = excluded.span_count, expires_at = excluded.expires_at, body = excluded.body`;
const DELETE_SPANS = 'DELETE FROM spans WHERE trace_id = ANY($1::text[])';
const INSERT_SPANS = `INSERT INTO spans (trace_id, seq, span_id, parent_id, kind, name, status, started_at, duration_ms, body)
  SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::float8[], $9::float8[], $10::text[])`;
const GET_TRACE = `SELECT t.body, ARRAY(SELECT s.body FROM spans s WHERE s.trace_id = t.trace_id ORDER BY s.seq) AS spans
  FROM traces t WHERE t.trace_id = $1`;
const PURGE = `WITH doomed AS (SELECT trace_id FROM traces WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED),
  gone AS (DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM doomed))
  DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM doomed)`;
const DELETE_USER = `WITH doomed AS (SELECT trace_id FROM traces WHERE user_id = $1 LIMIT $2 FOR UPDATE),
  gone AS (DELETE FROM spans WHERE trace_id IN (SELECT trace_id FROM doomed))
  DELETE FROM traces WHERE trace_id IN (SELECT trace_id FROM doomed)`;

const dollar = (n: number) => `$${n}`;

class PostgresTraceStore implements TraceStore {
  readonly backend = 'postgres' as const;
  private closed = false;
  private readonly stopPurge: () => void;
  private readonly counts: TraceStoreCounters = { tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 };

  constructor(
    private readonly pool: Pool,
    private readonly gate: BulkheadPolicy,
    private readonly owned: boolean,
    private readonly o: Resolved,
    private readonly detach: () => void,
  ) {
    this.stopPurge = startPurgeTimer(o.purgeIntervalMs, () => this.purgeExpired(), o.logger, 'postgres', () => this.counts.purgeErrors++);
  }

  private async query<R extends pg.QueryResultRow>(operation: string, config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    if (this.closed) throw new StoreClosedError('postgres');
    try {
      return await this.gate.execute(() => this.pool.query<R>(config));
    } catch (err) {
      throw new StoreUnavailableError('postgres', operation, err);
    }
  }

  async put(traces: readonly TraceRecord[], options: PutOptions = {}): Promise<void> {
    if (this.closed) throw new StoreClosedError('postgres');
    if (!isArrayValue(traces)) throw new ValidationError('traces', 'Expected `traces` to be an array of trace records');
    const now = Date.now();
    // Validate everything first; the last version of a trace repeated in one batch wins (an upsert may touch a row once).
    const byId = new Map<string, { trace: TraceRecord; expiresAt: number }>();
    traces.forEach((trace, i) => {
      const traceId = validateTrace(trace, i);
      const ttl = this.o.retentionFor?.(trace) ?? this.o.retentionMs;
      byId.delete(traceId);
      byId.set(traceId, { trace, expiresAt: Math.round(now + (Number.isFinite(ttl) && ttl > 0 ? ttl : this.o.retentionMs)) });
    });
    const all = [...byId.entries()];
    for (let start = 0; start < all.length; start += this.o.maxBatchTraces) {
      options.signal?.throwIfAborted();
      await this.writeChunk(all.slice(start, start + this.o.maxBatchTraces));
    }
  }

  private async writeChunk(chunk: readonly [string, { trace: TraceRecord; expiresAt: number }][]): Promise<void> {
    const t: unknown[][] = Array.from({ length: 10 }, () => []);
    const s: unknown[][] = Array.from({ length: 10 }, () => []);
    for (const [traceId, { trace, expiresAt }] of chunk) {
      const r = toTraceRow(trace, traceId, expiresAt);
      [r.traceId, r.userId, r.agent, r.status, r.startedAt, r.endedAt, r.durationMs, r.spanCount, r.expiresAt, r.body].forEach((v, i) => t[i]!.push(v));
      forEachSpanRow(trace, traceId, (sp) =>
        [sp.traceId, sp.seq, sp.spanId, sp.parentId, sp.kind, sp.name, sp.status, sp.startedAt, sp.durationMs, sp.body].forEach((v, i) => s[i]!.push(v)),
      );
    }
    await this.gate
      .execute(async () => {
        let client: PoolClient | undefined;
        try {
          client = await this.pool.connect();
          await client.query('BEGIN');
          await client.query({ name: 'agentex_upsert_traces', text: UPSERT_TRACES, values: t });
          await client.query({ name: 'agentex_delete_spans', text: DELETE_SPANS, values: [t[0]] });
          if (s[0]!.length > 0) await client.query({ name: 'agentex_insert_spans', text: INSERT_SPANS, values: s });
          await client.query('COMMIT');
          this.counts.batchesWritten++;
          this.counts.tracesWritten += chunk.length;
        } catch (err) {
          await client?.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client?.release();
        }
      })
      .catch((err: unknown) => {
        throw new StoreUnavailableError('postgres', 'put', err);
      });
  }

  async get(traceId: string): Promise<TraceRecord | null> {
    return this.getRow(traceId, toTrace);
  }

  async getJson(traceId: string): Promise<string | null> {
    return this.getRow(traceId, traceJson);
  }

  /** Reads a trace's body and its spans' bodies in one statement and makes the result with `make`. */
  private async getRow<T>(traceId: string, make: (body: string, spanBodies: string[]) => T): Promise<T | null> {
    const id = normaliseTraceId(traceId);
    const { rows } = await this.query<{ body: string; spans: string[] }>('get', { name: 'agentex_get_trace', text: GET_TRACE, values: [id] });
    const row = rows[0];
    return row ? make(row.body, row.spans) : null;
  }

  async list(query?: ListTracesQuery): Promise<TracePage> {
    return this.listRows(query, page);
  }

  async listJson(query?: ListTracesQuery): Promise<string> {
    return this.listRows(query, pageJson);
  }

  /** Runs a list query (`limit + 1` rows) and makes its page with `make`. */
  private async listRows<T>(query: ListTracesQuery | undefined, make: (rows: (readonly [string, number, number, string])[], limit: number) => T): Promise<T> {
    const q = normaliseListQuery(query);
    const { sql, params } = listSql(q, dollar);
    const { rows } = await this.query<{ trace_id: string; span_count: number; started_at: number; body: string }>('list', { text: sql, values: params });
    return make(
      rows.map((r) => [r.trace_id, r.span_count, r.started_at, r.body] as const),
      q.limit,
    );
  }

  async stats(query: StatsQuery): Promise<TraceStats> {
    const q = normaliseStatsQuery(query);
    const { where, params } = rangeWhere(q, dollar);
    const counts = await this.query<{ status: TraceStatus; c: string }>('stats', {
      text: `SELECT status, COUNT(*) AS c FROM traces WHERE ${where} GROUP BY status`,
      values: params,
    });
    const byStatus = emptyStatusCounts();
    let total = 0;
    for (const row of counts.rows) {
      const c = Number(row.c);
      if (row.status in byStatus) byStatus[row.status] += c;
      total += c;
    }
    const pct = await this.query<{ p50: number | null; p95: number | null }>('stats', {
      text:
        'SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms) AS p50, percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95 ' +
        `FROM traces WHERE ${where} AND duration_ms IS NOT NULL`,
      values: params,
    });
    return { total, byStatus, p50DurationMs: pct.rows[0]?.p50 ?? null, p95DurationMs: pct.rows[0]?.p95 ?? null };
  }

  async timeseries(query: TimeseriesQuery): Promise<TraceBucket[]> {
    const q = normaliseTimeseriesQuery(query);
    const { where, params } = rangeWhere(q, dollar, 2);
    const { rows } = await this.query<{ b: number; status: TraceStatus; c: string }>('timeseries', {
      text: `SELECT floor((started_at - $1) / $2)::int AS b, status, COUNT(*) AS c FROM traces WHERE ${where} GROUP BY b, status`,
      values: [q.since, q.bucketMs, ...params],
    });
    return buckets(
      q.since,
      q.bucketMs,
      q.buckets,
      rows.map((r) => ({ b: r.b, status: r.status, c: Number(r.c) })),
    );
  }

  async purgeExpired(options: PurgeOptions = {}): Promise<number> {
    const now = options.now ?? Date.now();
    this.counts.purgeRuns++;
    let deleted = 0;
    for (;;) {
      if (options.signal?.aborted) break;
      const { rowCount } = await this.query('purge', { name: 'agentex_purge', text: PURGE, values: [Math.floor(now), PG_PURGE_CHUNK] });
      const n = rowCount ?? 0;
      deleted += n;
      this.counts.purged += n;
      if (n > 0) options.onProgress?.(deleted);
      if (n < PG_PURGE_CHUNK) return deleted;
    }
    return deleted;
  }

  async deleteByUser(userId: string | number): Promise<number> {
    const key = userKey(userId);
    let deleted = 0;
    for (;;) {
      const { rowCount } = await this.query('deleteByUser', { name: 'agentex_delete_user', text: DELETE_USER, values: [key, PG_PURGE_CHUNK] });
      deleted += rowCount ?? 0;
      if ((rowCount ?? 0) < PG_PURGE_CHUNK) return deleted;
    }
  }

  async ping(): Promise<HealthResult> {
    const started = performance.now();
    try {
      await this.query('ping', { text: 'SELECT 1' });
      return { ok: true, latencyMs: performance.now() - started };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : 'unknown error' };
    }
  }

  counters(): TraceStoreCounters {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPurge();
    // An owned pool keeps its error listener: a connection terminated while the pool ends (a database dropped or
    // restarted at that moment) must be logged, never thrown as an uncaught error.
    if (this.owned) await this.pool.end();
    else this.detach();
  }
}
