/**
 * The trace store for teams: Postgres through a pg Pool, so several service instances share one set of traces.
 * Batches are written with a fixed set of named (prepared) statements that take whole columns as arrays, so a batch
 * of any size is three round trips in one transaction.
 */
import type pg from 'pg';
import type { Pool, PoolClient, PoolConfig } from 'pg';
import { InvalidOptionsError, ValidationError } from '../common/errors.js';
import { bulkhead, type BulkheadPolicy } from '../resilience/index.js';
import { assertFunction, assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import type { SpanRecord, TraceRecord, TraceStatus } from '../trace/model.js';
import { describeCause, StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import { migratePostgres, type Migration } from '../common/persistence/migrations.js';
import {
  emptyStatusCounts,
  isArrayValue,
  normaliseListQuery,
  normaliseStatsQuery,
  normaliseTimeseriesQuery,
  normaliseTraceId,
  userKey,
} from './query.js';
import { consoleLogger, startPurgeTimer } from './retention.js';
import { expiresAt, forEachSpanRow, prepareTraces, toTrace, toTraceRow } from './rows.js';
import {
  claimToken,
  countComplete,
  emptyCompleteResult,
  emptyPendingCounters,
  isRoot,
  mergeIntoStored,
  tally,
  validateClaim,
  validatePending,
  type AddPendingResult,
  type ClaimedTrace,
  type ClaimOptions,
  type CompleteResult,
  type MergeResult,
  type PendingCompletion,
  type PendingCounters,
  type PendingHeader,
  type PendingLimits,
  type PendingTraceInput,
  type TraceOrigin,
} from './pending.js';
import { buckets, listSql, page, rangeWhere } from './sql.js';
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
  {
    version: 2,
    name: 'trace origin and the pending area of OTLP ingest',
    statements: [
      "ALTER TABLE traces ADD COLUMN origin TEXT NOT NULL DEFAULT 'own'",
      "UPDATE traces SET origin = 'ingest' WHERE body::jsonb -> 'metadata' ->> 'source' = 'otlp'",
      `CREATE TABLE pending_traces (
        trace_id TEXT COLLATE "C" PRIMARY KEY,
        first_at BIGINT NOT NULL,
        last_at BIGINT NOT NULL,
        has_root BOOLEAN NOT NULL,
        span_count INTEGER NOT NULL,
        claim_token TEXT,
        claimed_until BIGINT)`,
      `CREATE TABLE pending_spans (
        seq BIGSERIAL NOT NULL,
        trace_id TEXT COLLATE "C" NOT NULL,
        span_id TEXT COLLATE "C" NOT NULL,
        body TEXT NOT NULL,
        header TEXT,
        PRIMARY KEY (trace_id, span_id))`,
      'CREATE INDEX pending_traces_first ON pending_traces (first_at)',
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
  // The driver loads here, when a Postgres store is opened: importing this module never loads `pg`.
  const pool = o.pool ?? new (await import('pg')).default.Pool(config);
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

const UPSERT_TRACES = `INSERT INTO traces (trace_id, user_id, agent, status, started_at, ended_at, duration_ms, span_count, expires_at, body, origin)
  SELECT *, $11::text FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::int[], $9::int8[], $10::text[])
  ON CONFLICT (trace_id) DO UPDATE SET user_id = excluded.user_id, agent = excluded.agent, status = excluded.status,
    started_at = excluded.started_at, ended_at = excluded.ended_at, duration_ms = excluded.duration_ms,
    span_count = excluded.span_count, expires_at = excluded.expires_at, body = excluded.body, origin = excluded.origin`;
/** Ingest writes: never over a trace our own runs recorded (even one that appeared since it was read). */
const UPSERT_INGESTED = `INSERT INTO traces (trace_id, user_id, agent, status, started_at, ended_at, duration_ms, span_count, expires_at, body, origin)
  SELECT *, 'ingest' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::float8[], $7::float8[], $8::int[], $9::int8[], $10::text[])
  ON CONFLICT (trace_id) DO UPDATE SET user_id = excluded.user_id, agent = excluded.agent, status = excluded.status,
    started_at = excluded.started_at, ended_at = excluded.ended_at, duration_ms = excluded.duration_ms,
    span_count = excluded.span_count, expires_at = excluded.expires_at, body = excluded.body
  WHERE traces.origin = 'ingest'
  RETURNING trace_id`;
const PENDING_TOTALS = 'SELECT COUNT(*)::int AS traces, COALESCE(SUM(span_count), 0)::int AS spans FROM pending_traces';
const UPSERT_PENDING_TRACES = `INSERT INTO pending_traces (trace_id, first_at, last_at, has_root, span_count)
  SELECT t, $2, $2, r, 0 FROM unnest($1::text[], $3::bool[]) AS x(t, r) ORDER BY t
  ON CONFLICT (trace_id) DO UPDATE SET last_at = GREATEST(pending_traces.last_at, excluded.last_at),
    has_root = pending_traces.has_root OR excluded.has_root`;
// The statement's snapshot holds the rows as they were before it: the join finds the spans that were pending already.
const INSERT_PENDING_SPANS = `WITH x AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY AS x(trace_id, span_id, body, header, n)),
  ins AS (INSERT INTO pending_spans (trace_id, span_id, body, header) SELECT trace_id, span_id, body, header FROM x ORDER BY n
    ON CONFLICT DO NOTHING RETURNING trace_id)
  SELECT 'i' AS k, trace_id, COUNT(*)::int AS n FROM ins GROUP BY trace_id
  UNION ALL SELECT 'd', NULL, COUNT(*)::int FROM x JOIN pending_spans p USING (trace_id, span_id) WHERE p.body = x.body
  UNION ALL SELECT 'c', NULL, COUNT(*)::int FROM x JOIN pending_spans p USING (trace_id, span_id) WHERE p.body <> x.body`;
const ADD_PENDING_COUNTS = `UPDATE pending_traces p SET span_count = p.span_count + x.n
  FROM unnest($1::text[], $2::int[]) AS x(t, n) WHERE p.trace_id = x.t`;
const CLAIM_PENDING = `WITH c AS (SELECT trace_id FROM pending_traces p
    WHERE (claimed_until IS NULL OR claimed_until < $1)
      AND ($2 OR first_at <= $4 OR (last_at <= $3 AND (has_root OR EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = p.trace_id))))
    ORDER BY first_at LIMIT $5 FOR UPDATE SKIP LOCKED)
  UPDATE pending_traces p SET claim_token = $6, claimed_until = $7 FROM c WHERE p.trace_id = c.trace_id
  RETURNING p.trace_id, EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = p.trace_id) AS stored`;
const DELETE_PENDING_SPANS = `DELETE FROM pending_spans p USING unnest($1::text[], $2::text[]) AS x(t, s) WHERE p.trace_id = x.t AND p.span_id = x.s`;
const DELETE_PENDING_TRACES = `DELETE FROM pending_traces p WHERE p.trace_id = ANY($1::text[])
  AND NOT EXISTS (SELECT 1 FROM pending_spans s WHERE s.trace_id = p.trace_id)`;
const RELEASE_PENDING_TRACES = `UPDATE pending_traces p SET claim_token = NULL, claimed_until = NULL,
  span_count = (SELECT COUNT(*) FROM pending_spans s WHERE s.trace_id = p.trace_id) WHERE p.trace_id = ANY($1::text[])`;
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

// A pending trace is the user's when a request named the user, or when it merges into a stored trace of the user.
const DELETE_USER_PENDING = `WITH doomed AS (SELECT trace_id FROM pending_spans WHERE header IS NOT NULL AND header::jsonb ->> 'userId' = $1
    UNION SELECT p.trace_id FROM pending_traces p JOIN traces t ON t.trace_id = p.trace_id WHERE t.user_id = $1),
  gone AS (DELETE FROM pending_spans WHERE trace_id IN (SELECT trace_id FROM doomed))
  DELETE FROM pending_traces WHERE trace_id IN (SELECT trace_id FROM doomed)`;

const dollar = (n: number) => `$${n}`;

class PostgresTraceStore implements TraceStore {
  readonly backend = 'postgres' as const;
  private closed = false;
  private readonly stopPurge: () => void;
  private readonly counts: TraceStoreCounters = { tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 };
  private readonly pendingCounts: PendingCounters = emptyPendingCounters();

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
    const origin = options.origin ?? 'own';
    if (origin !== 'own' && origin !== 'ingest') throw new ValidationError('origin', "Expected `origin` to be 'own' or 'ingest'");
    const now = Date.now();
    // Validate everything first; the last version of a trace repeated in one batch wins (an upsert may touch a row once).
    const byId = new Map<string, { trace: TraceRecord; expiresAt: number }>();
    for (const prepared of prepareTraces(traces, now, this.o)) {
      byId.delete(prepared.traceId);
      byId.set(prepared.traceId, { trace: prepared.trace, expiresAt: prepared.expiresAt });
    }
    const all = [...byId.entries()];
    for (let start = 0; start < all.length; start += this.o.maxBatchTraces) {
      options.signal?.throwIfAborted();
      await this.writeChunk(all.slice(start, start + this.o.maxBatchTraces), origin);
    }
  }

  private async writeChunk(chunk: readonly [string, { trace: TraceRecord; expiresAt: number }][], origin: TraceOrigin): Promise<void> {
    const t: unknown[][] = Array.from({ length: 10 }, () => []);
    const s: unknown[][] = Array.from({ length: 10 }, () => []);
    for (const [traceId, { trace, expiresAt }] of chunk) {
      const r = toTraceRow(trace, traceId, expiresAt);
      [r.traceId, r.userId, r.agent, r.status, r.startedAt, r.endedAt, r.durationMs, r.spanCount, r.expiresAt, r.body].forEach((v, i) => t[i]!.push(v));
      forEachSpanRow(trace, traceId, (sp) =>
        [sp.traceId, sp.seq, sp.spanId, sp.parentId, sp.kind, sp.name, sp.status, sp.startedAt, sp.durationMs, sp.body].forEach((v, i) => s[i]!.push(v)),
      );
    }
    await this.transaction('put', async (client) => {
      await client.query({ name: 'agentex_upsert_traces', text: UPSERT_TRACES, values: [...t, origin] });
      await client.query({ name: 'agentex_delete_spans', text: DELETE_SPANS, values: [t[0]] });
      if (s[0]!.length > 0) await client.query({ name: 'agentex_insert_spans', text: INSERT_SPANS, values: s });
    });
    this.counts.batchesWritten++;
    this.counts.tracesWritten += chunk.length;
  }

  async get(traceId: string): Promise<TraceRecord | null> {
    return this.getRow(traceId, toTrace);
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
    // Spans of the user's traces still waiting for assembly go first, or they would come back when finalized: a
    // finalization that committed before this delete stored its trace, which the loop below then deletes; one that
    // runs after it finds its claim gone and stores nothing.
    await this.query('deleteByUser', { name: 'agentex_delete_user_pending', text: DELETE_USER_PENDING, values: [key] });
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

  /** Runs `fn` in one transaction on one pooled connection; any failure rolls back and becomes StoreUnavailableError. */
  private async transaction<T>(operation: string, fn: (client: PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreClosedError('postgres');
    // Through the gate like every statement (see MAX_QUEUED_STATEMENTS); `fn` uses only its client, never the gate.
    return this.gate
      .execute(async () => {
        let client: PoolClient | undefined;
        try {
          client = await this.pool.connect();
          await client.query('BEGIN');
          const result = await fn(client);
          await client.query('COMMIT');
          return result;
        } catch (err) {
          await client?.query('ROLLBACK').catch(() => undefined);
          throw err;
        } finally {
          client?.release();
        }
      })
      .catch((err: unknown) => {
        throw new StoreUnavailableError('postgres', operation, err);
      });
  }

  async addPending(traces: readonly PendingTraceInput[], limits: PendingLimits): Promise<AddPendingResult> {
    if (this.closed) throw new StoreClosedError('postgres');
    const ids = validatePending(traces, limits);
    const now = Math.floor(limits.now ?? Date.now());
    // One entry per trace id, each span id once: repeats within the request are counted here.
    const byId = new Map<string, { header: PendingHeader; spans: Map<string, string>; root: boolean }>();
    let duplicates = 0;
    let conflicts = 0;
    traces.forEach((t, i) => {
      const id = ids[i]!;
      let entry = byId.get(id);
      if (!entry) byId.set(id, (entry = { header: t.header, spans: new Map(), root: false }));
      for (const span of t.spans) {
        const body = JSON.stringify(span);
        const known = entry.spans.get(span.spanId);
        if (known === undefined) entry.spans.set(span.spanId, body);
        else if (known === body) duplicates++;
        else conflicts++;
        if (isRoot(span)) entry.root = true;
      }
    });
    for (const [id, e] of byId) if (e.spans.size === 0) byId.delete(id);
    const all = [...byId.keys()];
    const result = await this.transaction('addPending', async (client): Promise<AddPendingResult> => {
      const rejectedOwn = new Map<string, number>();
      if (all.length > 0) {
        const own = await client.query<{ trace_id: string }>({ name: 'agentex_own_traces', text: "SELECT trace_id FROM traces WHERE trace_id = ANY($1::text[]) AND origin = 'own'", values: [all] });
        for (const { trace_id } of own.rows) {
          rejectedOwn.set(trace_id, byId.get(trace_id)!.spans.size);
          byId.delete(trace_id);
        }
      }
      const ids = [...byId.keys()].sort();
      const totals = (await client.query<{ traces: number; spans: number }>({ name: 'agentex_pending_totals', text: PENDING_TOTALS })).rows[0]!;
      let offered = 0;
      for (const e of byId.values()) offered += e.spans.size;
      const known = ids.length === 0 ? 0 : (await client.query<{ n: number }>({ text: 'SELECT COUNT(*)::int AS n FROM pending_traces WHERE trace_id = ANY($1::text[])', values: [ids] })).rows[0]!.n;
      if (totals.spans + offered > limits.maxPendingSpans || totals.traces + ids.length - known > limits.maxPendingTraces) {
        return { ok: false, reason: 'full', pendingSpans: totals.spans, pendingTraces: totals.traces };
      }
      if (ids.length === 0) return { ok: true, accepted: 0, duplicates, conflicts, rejectedOwn };
      // The trace rows first, in id order: they are the lock a concurrent finalization of the same trace waits on.
      await client.query({ name: 'agentex_upsert_pending_traces', text: UPSERT_PENDING_TRACES, values: [ids, now, ids.map((id) => byId.get(id)!.root)] });
      const cols: string[][] = [[], [], [], []];
      for (const id of ids) {
        const e = byId.get(id)!;
        let header: string | null = JSON.stringify(e.header);
        for (const [spanId, body] of e.spans) {
          cols[0]!.push(id);
          cols[1]!.push(spanId);
          cols[2]!.push(body);
          cols[3]!.push(header as string);
          header = null;
        }
      }
      const { rows } = await client.query<{ k: string; trace_id: string | null; n: number }>({ name: 'agentex_insert_pending_spans', text: INSERT_PENDING_SPANS, values: cols });
      let accepted = 0;
      const counted: [string[], number[]] = [[], []];
      for (const r of rows) {
        if (r.k === 'i' && r.trace_id !== null) {
          counted[0].push(r.trace_id);
          counted[1].push(r.n);
          accepted += r.n;
        } else if (r.k === 'd') duplicates += r.n;
        else if (r.k === 'c') conflicts += r.n;
      }
      if (counted[0].length > 0) await client.query({ name: 'agentex_add_pending_counts', text: ADD_PENDING_COUNTS, values: counted });
      this.pendingCounts.pendingSpans = totals.spans + accepted;
      this.pendingCounts.pendingTraces = totals.traces + ids.length - known;
      return { ok: true, accepted, duplicates, conflicts, rejectedOwn };
    });
    const c = this.pendingCounts;
    if (!result.ok) c.ingestRequestsRejectedFull++;
    else {
      c.ingestSpansAccepted += result.accepted;
      c.ingestSpansDuplicate += result.duplicates;
      c.ingestSpanConflicts += result.conflicts;
      for (const n of result.rejectedOwn.values()) c.ingestSpansRejectedOwn += n;
    }
    return result;
  }

  async claimPending(options: ClaimOptions): Promise<ClaimedTrace[]> {
    const o = validateClaim(options);
    const token = claimToken();
    const claimed = await this.query<{ trace_id: string; stored: boolean }>('claimPending', {
      name: 'agentex_claim_pending',
      text: CLAIM_PENDING,
      values: [o.now, o.all, o.now - o.settleMs, o.now - o.windowMs, o.limit, token, o.now + o.leaseMs],
    });
    if (claimed.rows.length === 0) return [];
    const ids = claimed.rows.map((r) => r.trace_id);
    const spans = await this.query<{ trace_id: string; body: string; header: string | null }>('claimPending', {
      name: 'agentex_pending_spans_of',
      text: 'SELECT trace_id, body, header FROM pending_spans WHERE trace_id = ANY($1::text[]) ORDER BY seq',
      values: [ids],
    });
    const byId = new Map<string, ClaimedTrace>(claimed.rows.map((r) => [r.trace_id, { traceId: r.trace_id, claim: token, stored: r.stored, spans: [] }]));
    for (const r of spans.rows) {
      byId.get(r.trace_id)?.spans.push({ span: JSON.parse(r.body) as SpanRecord, header: r.header === null ? null : (JSON.parse(r.header) as PendingHeader) });
    }
    return [...byId.values()];
  }

  async completePending(completions: readonly PendingCompletion[]): Promise<CompleteResult> {
    if (this.closed) throw new StoreClosedError('postgres');
    if (completions.length === 0) return emptyCompleteResult();
    const now = Date.now();
    const ids = completions.map((c) => c.traceId);
    const result = await this.transaction('completePending', async (client) => {
      const r = emptyCompleteResult();
      const claims = await client.query<{ trace_id: string; claim_token: string | null }>({
        text: 'SELECT trace_id, claim_token FROM pending_traces WHERE trace_id = ANY($1::text[]) ORDER BY trace_id FOR UPDATE',
        values: [ids],
      });
      const held = new Map(claims.rows.map((x) => [x.trace_id, x.claim_token]));
      const mine = completions.filter((c) => {
        if (held.get(c.traceId) === c.claim) return true;
        r.lostClaims++;
        return false;
      });
      if (mine.length === 0) return r;
      const storedRows = await client.query<{ trace_id: string; origin: TraceOrigin; body: string; spans: string[] }>({
        text: `SELECT t.trace_id, t.origin, t.body, ARRAY(SELECT s.body FROM spans s WHERE s.trace_id = t.trace_id ORDER BY s.seq) AS spans
          FROM traces t WHERE t.trace_id = ANY($1::text[]) ORDER BY t.trace_id FOR UPDATE`,
        values: [mine.map((c) => c.traceId)],
      });
      const stored = new Map(storedRows.rows.map((x) => [x.trace_id, x]));
      const t: unknown[][] = Array.from({ length: 10 }, () => []);
      const pendingSpans = new Map<string, { added: SpanRecord[]; seqStart: number }>();
      const outcomes = new Map<string, { m: MergeResult; merged: boolean }>();
      for (const c of mine) {
        const row = stored.get(c.traceId);
        let m: MergeResult;
        let seqStart = 0;
        if (row?.origin === 'own') {
          r.rejectedOwn++;
          r.rejectedOwnSpans += c.spanIds.length;
          continue;
        } else if (row) {
          const prior = toTrace(row.body, row.spans);
          m = mergeIntoStored(prior, c.record, c.maxSpans);
          seqStart = prior.spans.length;
        } else if (c.keep) {
          m = mergeIntoStored({ ...c.record, spans: [] }, c.record, c.maxSpans);
        } else {
          r.sampledOut++;
          continue;
        }
        const tr = toTraceRow(m.record, c.traceId, expiresAt(m.record, now, this.o));
        [tr.traceId, tr.userId, tr.agent, tr.status, tr.startedAt, tr.endedAt, tr.durationMs, tr.spanCount, tr.expiresAt, tr.body].forEach((v, i) => t[i]!.push(v));
        pendingSpans.set(c.traceId, { added: m.added, seqStart });
        outcomes.set(c.traceId, { m, merged: row !== undefined });
      }
      if (t[0]!.length > 0) {
        const written = await client.query<{ trace_id: string }>({ name: 'agentex_upsert_ingested', text: UPSERT_INGESTED, values: t });
        const s: unknown[][] = Array.from({ length: 10 }, () => []);
        for (const { trace_id } of written.rows) {
          const w = pendingSpans.get(trace_id)!;
          forEachSpanRow({ spans: w.added }, trace_id, (sp) =>
            [sp.traceId, sp.seq, sp.spanId, sp.parentId, sp.kind, sp.name, sp.status, sp.startedAt, sp.durationMs, sp.body].forEach((v, i) => s[i]!.push(v)), w.seqStart);
          const o = outcomes.get(trace_id)!;
          tally(r, o.m, o.merged);
          outcomes.delete(trace_id);
        }
        // Not written: our own run recorded the trace between the read and the write.
        for (const [traceId] of outcomes) {
          r.rejectedOwn++;
          r.rejectedOwnSpans += mine.find((c) => c.traceId === traceId)?.spanIds.length ?? 0;
        }
        if (s[0]!.length > 0) await client.query({ name: 'agentex_insert_spans', text: INSERT_SPANS, values: s });
      }
      const del: [string[], string[]] = [[], []];
      for (const c of mine) for (const spanId of c.spanIds) {
        del[0].push(c.traceId);
        del[1].push(spanId);
      }
      const mineIds = mine.map((c) => c.traceId);
      await client.query({ name: 'agentex_delete_pending_spans', text: DELETE_PENDING_SPANS, values: del });
      await client.query({ name: 'agentex_delete_pending_traces', text: DELETE_PENDING_TRACES, values: [mineIds] });
      await client.query({ name: 'agentex_release_pending_traces', text: RELEASE_PENDING_TRACES, values: [mineIds] });
      return r;
    });
    countComplete(this.pendingCounts, result, completions);
    this.counts.tracesWritten += result.stored + result.merged;
    return result;
  }

  async pendingSize(): Promise<{ spans: number; traces: number }> {
    const { rows } = await this.query<{ traces: number; spans: number }>('pendingSize', { name: 'agentex_pending_totals', text: PENDING_TOTALS });
    const totals = rows[0]!;
    this.pendingCounts.pendingSpans = totals.spans;
    this.pendingCounts.pendingTraces = totals.traces;
    return { spans: totals.spans, traces: totals.traces };
  }

  counters(): TraceStoreCounters {
    return { ...this.counts, ...this.pendingCounts };
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
