/**
 * The embedded trace store: one SQLite file in WAL mode (readers never block the writer), prepared statements,
 * one transaction per bounded sub-batch so a write never holds the event loop for long.
 */
/* eslint-disable @typescript-eslint/require-await -- better-sqlite3 is synchronous: these async methods implement the
   shared Promise interface and turn every throw (validation included) into a rejection. */
import type Database from 'better-sqlite3';
import type { Statement } from 'better-sqlite3';
import { LRUCache } from 'lru-cache';
import { ValidationError } from '../common/errors.js';
import { assertFunction, assertKnownKeys, assertNumber, assertOneOf, assertString } from '../common/options.js';
import type { SpanRecord, TraceRecord, TraceStatus } from '../trace/model.js';
import { StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import type { Migration } from '../common/persistence/migrations.js';
import { openSqlite } from '../common/persistence/sqlite.js';
import {
  emptyStatusCounts,
  isArrayValue,
  normaliseListQuery,
  normaliseStatsQuery,
  normaliseTimeseriesQuery,
  normaliseTraceId,
  userKey,
} from './query.js';
import { consoleLogger, startPurgeTimer, yieldToEventLoop } from './retention.js';
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
  type PendingCompletion,
  type PendingCounters,
  type PendingHeader,
  type PendingLimits,
  type PendingTraceInput,
  type TraceOrigin,
} from './pending.js';
import { buckets, listSql, page, rangeWhere } from './sql.js';
import { startWalCheckpointer, type WalCheckpointer } from './WalCheckpointer.js';
import {
  DEFAULT_PURGE_INTERVAL_MS,
  DEFAULT_RETENTION_MS,
  PURGE_CHUNK_BUDGET_MS,
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

/** Where the embedded store lives unless told otherwise. */
export const DEFAULT_SQLITE_PATH = './data/agentex.db';
/** Largest number of traces, and of spans, written in one SQLite transaction. */
export const DEFAULT_MAX_BATCH_TRACES = 100;
export const DEFAULT_MAX_BATCH_SPANS = 2000;

export interface SqliteTraceStoreOptions {
  /** Database file; its directory is created. `:memory:` for a private in-memory database. Default `./data/agentex.db`. */
  path?: string;
  /** How long a trace is kept after it is written, in ms. Default 7 days. */
  retentionMs?: number;
  /** Per-trace retention (e.g. keep errors longer); return undefined for the default. */
  retentionFor?: (trace: TraceRecord) => number | undefined;
  /** Interval of the background purge in ms; 0 disables it. Default 10 minutes. */
  purgeIntervalMs?: number;
  /** Most traces per write transaction. Default 100. */
  maxBatchTraces?: number;
  /** Most spans per write transaction (a single larger trace is still written whole). Default 2000. */
  maxBatchSpans?: number;
  /** `normal` survives a process crash (WAL); `full` also survives power loss, slower. Default `normal`. */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another connection's lock, in ms. Default 5000. */
  busyTimeoutMs?: number;
  /** Where background failures are reported. Default: one line on stderr. */
  logger?: StoreLogger;
  /**
   * Who copies the WAL back into the database file. `background` (default): a worker thread with its own connection,
   * so no commit on the event loop pays for a checkpoint (see `WalCheckpointer`). `writer`: SQLite's built-in
   * auto-checkpoint inside the committing connection every 1000 pages (blocks the event loop 20 ms to 1 s+ on large files).
   */
  walCheckpoint?: 'background' | 'writer';
}

const OPTION_KEYS = [
  'path',
  'retentionMs',
  'retentionFor',
  'purgeIntervalMs',
  'maxBatchTraces',
  'maxBatchSpans',
  'synchronous',
  'busyTimeoutMs',
  'logger',
  'walCheckpoint',
];
/** SQLite's own auto-checkpoint interval (pages), restored when the background checkpointer is not running. */
const SQLITE_AUTOCHECKPOINT_PAGES = 1000;
/** The WAL file is truncated back to this size after it restarts (bytes), so one large purge does not leave it huge. */
const WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

/** The traces schema, version by version. Never edit a released migration: add one. */
export const SQLITE_TRACE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'traces and spans',
    statements: [
      `CREATE TABLE traces (
        trace_id TEXT PRIMARY KEY NOT NULL,
        user_id TEXT,
        agent TEXT,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        ended_at REAL,
        duration_ms REAL,
        span_count INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        body TEXT NOT NULL)`,
      `CREATE TABLE spans (
        trace_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        span_id TEXT NOT NULL,
        parent_id TEXT,
        kind TEXT NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        started_at REAL NOT NULL,
        duration_ms REAL,
        body TEXT NOT NULL,
        PRIMARY KEY (trace_id, seq)) WITHOUT ROWID`,
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
      "UPDATE traces SET origin = 'ingest' WHERE json_extract(body, '$.metadata.source') = 'otlp'",
      `CREATE TABLE pending_traces (
        trace_id TEXT PRIMARY KEY NOT NULL,
        first_at INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        has_root INTEGER NOT NULL,
        span_count INTEGER NOT NULL,
        claim_token TEXT,
        claimed_until INTEGER)`,
      // A rowid table: rowid is the arrival order the assembly reads spans in.
      `CREATE TABLE pending_spans (
        trace_id TEXT NOT NULL,
        span_id TEXT NOT NULL,
        body TEXT NOT NULL,
        header TEXT,
        PRIMARY KEY (trace_id, span_id))`,
      'CREATE INDEX pending_traces_first ON pending_traces (first_at)',
    ],
  },
];

/** Validated options with defaults applied, in one visible place. */
function resolveOptions(options: SqliteTraceStoreOptions) {
  const where = 'createSqliteTraceStore';
  assertKnownKeys(where, options, OPTION_KEYS);
  const {
    path: file = DEFAULT_SQLITE_PATH,
    retentionMs = DEFAULT_RETENTION_MS,
    retentionFor,
    purgeIntervalMs = DEFAULT_PURGE_INTERVAL_MS,
    maxBatchTraces = DEFAULT_MAX_BATCH_TRACES,
    maxBatchSpans = DEFAULT_MAX_BATCH_SPANS,
    synchronous = 'normal',
    busyTimeoutMs = 5000,
    logger = consoleLogger,
    walCheckpoint = 'background',
  } = options;
  assertString(where, 'path', file, 4096);
  assertNumber(where, 'retentionMs', retentionMs, { min: 1000 });
  if (retentionFor !== undefined) assertFunction(where, 'retentionFor', retentionFor);
  assertNumber(where, 'purgeIntervalMs', purgeIntervalMs, { integer: true, min: 0 });
  assertNumber(where, 'maxBatchTraces', maxBatchTraces, { integer: true, min: 1, max: 10_000 });
  assertNumber(where, 'maxBatchSpans', maxBatchSpans, { integer: true, min: 1, max: 1_000_000 });
  assertOneOf(where, 'synchronous', synchronous, ['normal', 'full']);
  assertNumber(where, 'busyTimeoutMs', busyTimeoutMs, { integer: true, min: 0 });
  if (typeof logger?.warn !== 'function') assertFunction(where, 'logger.warn', undefined);
  assertOneOf(where, 'walCheckpoint', walCheckpoint, ['background', 'writer']);
  return { file, retentionMs, retentionFor, purgeIntervalMs, maxBatchTraces, maxBatchSpans, synchronous, busyTimeoutMs, logger, walCheckpoint };
}

/**
 * Opens (creating if needed) a SQLite trace store and applies pending migrations.
 * @throws InvalidOptionsError for bad options; SchemaVersionError when the file was written by a newer AgentEx;
 *   StoreUnavailableError when the file cannot be opened.
 * @example const store = createSqliteTraceStore({ path: './data/agentex.db', retentionMs: 3 * 86_400_000 });
 */
export function createSqliteTraceStore(options: SqliteTraceStoreOptions = {}): TraceStore {
  const o = resolveOptions(options);
  const db = openSqlite(o.file, { synchronous: o.synchronous, busyTimeoutMs: o.busyTimeoutMs, component: 'traces', migrations: SQLITE_TRACE_MIGRATIONS });
  let checkpointer: WalCheckpointer | null = null;
  if (o.walCheckpoint === 'background' && db.pragma('journal_mode', { simple: true }) === 'wal') {
    db.pragma(`journal_size_limit = ${WAL_SIZE_LIMIT_BYTES}`);
    checkpointer = startWalCheckpointer(db.name, o.logger, () => {
      if (db.open) db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT_PAGES}`);
    });
    // Only once the worker runs: if it cannot start, SQLite keeps checkpointing in the writer.
    if (checkpointer) db.pragma('wal_autocheckpoint = 0');
  }
  return new SqliteTraceStore(db, o, checkpointer);
}

type Resolved = ReturnType<typeof resolveOptions>;

/** The statements of the pending area (OTLP ingest assembly). */
function pendingStatements(db: Database.Database) {
  return {
    origin: db.prepare('SELECT origin FROM traces WHERE trace_id = ?').pluck(),
    pendingExists: db.prepare('SELECT 1 FROM pending_traces WHERE trace_id = ?').pluck(),
    totals: db.prepare('SELECT COUNT(*) AS traces, COALESCE(SUM(span_count), 0) AS spans FROM pending_traces'),
    upsertTrace: db.prepare(
      `INSERT INTO pending_traces (trace_id, first_at, last_at, has_root, span_count) VALUES (?, ?, ?, ?, 0)
       ON CONFLICT (trace_id) DO UPDATE SET last_at = MAX(last_at, excluded.last_at), has_root = MAX(has_root, excluded.has_root)`,
    ),
    insertSpan: db.prepare('INSERT INTO pending_spans (trace_id, span_id, body, header) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    spanBody: db.prepare('SELECT body FROM pending_spans WHERE trace_id = ? AND span_id = ?').pluck(),
    addCount: db.prepare('UPDATE pending_traces SET span_count = span_count + ? WHERE trace_id = ?'),
    ready: db.prepare(
      `SELECT p.trace_id, EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = p.trace_id) AS stored FROM pending_traces p
       WHERE (p.claimed_until IS NULL OR p.claimed_until < @now)
         AND (@all = 1 OR p.first_at <= @windowStart
           OR (p.last_at <= @quietSince AND (p.has_root = 1 OR EXISTS (SELECT 1 FROM traces t WHERE t.trace_id = p.trace_id))))
       ORDER BY p.first_at LIMIT @limit`,
    ),
    setClaim: db.prepare('UPDATE pending_traces SET claim_token = ?, claimed_until = ? WHERE trace_id = ?'),
    spansOf: db.prepare('SELECT body, header FROM pending_spans WHERE trace_id = ? ORDER BY rowid'),
    claimOf: db.prepare('SELECT claim_token FROM pending_traces WHERE trace_id = ?').pluck(),
    deleteSpan: db.prepare('DELETE FROM pending_spans WHERE trace_id = ? AND span_id = ?'),
    countSpans: db.prepare('SELECT COUNT(*) FROM pending_spans WHERE trace_id = ?').pluck(),
    deleteTrace: db.prepare('DELETE FROM pending_traces WHERE trace_id = ?'),
    // A pending trace is the user's when a request named the user, or when it merges into a stored trace of the user.
    pendingOfUser: db
      .prepare(
        `SELECT trace_id FROM pending_spans WHERE header IS NOT NULL AND CAST(json_extract(header, '$.userId') AS TEXT) = @key
         UNION SELECT p.trace_id FROM pending_traces p JOIN traces t ON t.trace_id = p.trace_id WHERE t.user_id = @key`,
      )
      .pluck(),
    deleteSpansOf: db.prepare('DELETE FROM pending_spans WHERE trace_id = ?'),
    release: db.prepare('UPDATE pending_traces SET claim_token = NULL, claimed_until = NULL, span_count = ? WHERE trace_id = ?'),
  };
}

/** How many prepared list statements the store keeps (filter combinations × page sizes in use). */
export const LIST_STATEMENT_CACHE = 128;

class SqliteTraceStore implements TraceStore {
  readonly backend = 'sqlite' as const;
  private closed = false;
  private readonly stopPurge: () => void;
  /**
   * Prepared list statements by SQL text: one per filter combination and page size in use (the size is literal, see
   * `listSql`; up to 64 × 100 texts), the most recently used kept; an evicted one is prepared again when next needed.
   */
  private readonly listStatements = new LRUCache<string, Statement>({
    max: LIST_STATEMENT_CACHE,
    dispose: (_stmt, _sql, reason) => {
      if (reason === 'evict') this.listStatementsEvicted += 1;
    },
  });
  private readonly counts: TraceStoreCounters = { tracesWritten: 0, batchesWritten: 0, purged: 0, purgeRuns: 0, purgeErrors: 0 };
  private readonly pendingCounts: PendingCounters = emptyPendingCounters();
  private listStatementsEvicted = 0;
  // Starts small: the first chunk reads cold pages; fast chunks double it within a few turns.
  private purgeChunk = 16;
  private readonly s;
  private readonly writeBatch: (rows: readonly { trace: TraceRecord; traceId: string; expiresAt: number }[], origin: TraceOrigin) => void;
  private readonly pending: ReturnType<typeof pendingStatements>;
  private readonly deletePendingOfUser: (key: string) => void;
  private readonly readTrace: <T>(traceId: string, make: (body: string, spanBodies: string[]) => T) => T | null;
  private readonly deleteChunk: (which: 'purgeTraces' | 'userTraces', arg: string | number, limit: number) => number;

  constructor(
    private readonly db: Database.Database,
    private readonly o: Resolved,
    private readonly checkpointer: WalCheckpointer | null,
  ) {
    this.s = {
      upsertTrace: db.prepare(
        `INSERT INTO traces (trace_id, user_id, agent, status, started_at, ended_at, duration_ms, span_count, expires_at, body, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (trace_id) DO UPDATE SET user_id = excluded.user_id, agent = excluded.agent, status = excluded.status,
           started_at = excluded.started_at, ended_at = excluded.ended_at, duration_ms = excluded.duration_ms,
           span_count = excluded.span_count, expires_at = excluded.expires_at, body = excluded.body, origin = excluded.origin`,
      ),
      deleteSpans: db.prepare('DELETE FROM spans WHERE trace_id = ?'),
      insertSpan: db.prepare(
        `INSERT INTO spans (trace_id, seq, span_id, parent_id, kind, name, status, started_at, duration_ms, body)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getTrace: db.prepare('SELECT body FROM traces WHERE trace_id = ?').pluck(),
      getSpans: db.prepare('SELECT body FROM spans WHERE trace_id = ? ORDER BY seq').pluck(),
      // Deleting by rowid in the order the index yields them touches neighbouring pages: far fewer page writes than
      // deleting by random trace ids. RETURNING hands back the ids whose spans must go in the same transaction.
      purgeTraces: db.prepare('DELETE FROM traces WHERE rowid IN (SELECT rowid FROM traces WHERE expires_at <= ? LIMIT ?) RETURNING trace_id').pluck(),
      userTraces: db.prepare('DELETE FROM traces WHERE rowid IN (SELECT rowid FROM traces WHERE user_id = ? LIMIT ?) RETURNING trace_id').pluck(),
      ping: db.prepare('SELECT 1').pluck(),
    };
    const s = this.s;
    this.writeBatch = db.transaction((rows: readonly { trace: TraceRecord; traceId: string; expiresAt: number }[], origin: TraceOrigin) => {
      for (const { trace, traceId, expiresAt } of rows) {
        const r = toTraceRow(trace, traceId, expiresAt);
        s.upsertTrace.run(r.traceId, r.userId, r.agent, r.status, r.startedAt, r.endedAt, r.durationMs, r.spanCount, r.expiresAt, r.body, origin);
        s.deleteSpans.run(traceId);
        forEachSpanRow(trace, traceId, (sp) =>
          s.insertSpan.run(sp.traceId, sp.seq, sp.spanId, sp.parentId, sp.kind, sp.name, sp.status, sp.startedAt, sp.durationMs, sp.body),
        );
      }
    });
    // A read transaction: the trace row and its spans come from one snapshot, never half of a concurrent rewrite.
    // The trace and its spans in one read transaction: a concurrent rewrite is never seen half done.
    this.readTrace = db.transaction(<T>(traceId: string, make: (body: string, spanBodies: string[]) => T) => {
      const body = s.getTrace.get(traceId) as string | undefined;
      return body === undefined ? null : make(body, s.getSpans.all(traceId) as string[]);
    }) as <T>(traceId: string, make: (body: string, spanBodies: string[]) => T) => T | null;
    this.deleteChunk = db.transaction((which: 'purgeTraces' | 'userTraces', arg: string | number, limit: number) => {
      const ids = s[which].all(arg, limit) as string[];
      ids.sort(); // spans are clustered by trace id: sorted deletes walk the b-tree in order
      for (const id of ids) s.deleteSpans.run(id);
      return ids.length;
    });
    this.pending = pendingStatements(db);
    this.deletePendingOfUser = db.transaction((key: string) => {
      const p = this.pending;
      for (const id of p.pendingOfUser.all({ key }) as string[]) {
        p.deleteSpansOf.run(id);
        p.deleteTrace.run(id);
      }
    });
    this.stopPurge = startPurgeTimer(o.purgeIntervalMs, () => this.purgeExpired(), o.logger, 'sqlite', () => this.counts.purgeErrors++);
  }

  private open(): void {
    if (this.closed) throw new StoreClosedError('sqlite');
  }

  private run<T>(operation: string, fn: () => T): T {
    this.open();
    try {
      return fn();
    } catch (err) {
      throw new StoreUnavailableError('sqlite', operation, err);
    }
  }

  async put(traces: readonly TraceRecord[], options: PutOptions = {}): Promise<void> {
    this.open();
    if (!isArrayValue(traces)) throw new ValidationError('traces', 'Expected `traces` to be an array of trace records');
    const origin = options.origin ?? 'own';
    if (origin !== 'own' && origin !== 'ingest') throw new ValidationError('origin', "Expected `origin` to be 'own' or 'ingest'");
    const now = Date.now();
    // Validate the whole batch before writing any of it.
    const rows = prepareTraces(traces, now, this.o);
    let start = 0;
    while (start < rows.length) {
      let end = start;
      let spans = 0;
      while (end < rows.length && end - start < this.o.maxBatchTraces) {
        const n = rows[end]!.trace.spans.length;
        if (end > start && spans + n > this.o.maxBatchSpans) break;
        spans += n;
        end++;
      }
      if (start > 0) {
        await this.pause();
        options.signal?.throwIfAborted();
      }
      const chunk = rows.slice(start, end);
      this.run('put', () => this.writeBatch(chunk, origin));
      this.checkpointer?.wrote();
      this.counts.batchesWritten++;
      this.counts.tracesWritten += chunk.length;
      start = end;
    }
  }

  async get(traceId: string): Promise<TraceRecord | null> {
    const id = normaliseTraceId(traceId);
    return this.run('get', () => this.readTrace(id, toTrace));
  }

  async list(query?: ListTracesQuery): Promise<TracePage> {
    return this.listRows(query, page);
  }

  /** Runs a list query (`limit + 1` rows) and makes its page with `make`. */
  private listRows<T>(query: ListTracesQuery | undefined, make: (rows: [string, number, number, string][], limit: number) => T): T {
    const q = normaliseListQuery(query);
    const { sql, params } = listSql(q, undefined, { literalLimit: true });
    return this.run('list', () => {
      let stmt = this.listStatements.get(sql);
      if (!stmt) {
        stmt = this.db.prepare(sql).raw();
        this.listStatements.set(sql, stmt);
      }
      return make(stmt.all(...params) as [string, number, number, string][], q.limit);
    });
  }

  async stats(query: StatsQuery): Promise<TraceStats> {
    const q = normaliseStatsQuery(query);
    const { where, params } = rangeWhere(q);
    return this.run('stats', () => {
      const byStatus = emptyStatusCounts();
      let total = 0;
      for (const row of this.db.prepare(`SELECT status, COUNT(*) AS c FROM traces WHERE ${where} GROUP BY status`).all(...params) as {
        status: TraceStatus;
        c: number;
      }[]) {
        if (row.status in byStatus) byStatus[row.status] += row.c;
        total += row.c;
      }
      const finished = this.db.prepare(`SELECT COUNT(*) FROM traces WHERE ${where} AND duration_ms IS NOT NULL`).pluck().get(...params) as number;
      const at = this.db.prepare(`SELECT duration_ms FROM traces WHERE ${where} AND duration_ms IS NOT NULL ORDER BY duration_ms LIMIT 1 OFFSET ?`).pluck();
      const rank = (p: number) => (finished === 0 ? null : (at.get(...params, Math.max(0, Math.ceil(p * finished) - 1)) as number));
      return { total, byStatus, p50DurationMs: rank(0.5), p95DurationMs: rank(0.95) };
    });
  }

  async timeseries(query: TimeseriesQuery): Promise<TraceBucket[]> {
    const q = normaliseTimeseriesQuery(query);
    const { where, params } = rangeWhere(q);
    return this.run('timeseries', () => {
      const rows = this.db
        .prepare(`SELECT CAST((started_at - ?) / ? AS INTEGER) AS b, status, COUNT(*) AS c FROM traces WHERE ${where} GROUP BY b, status`)
        .all(q.since, q.bucketMs, ...params) as { b: number; status: TraceStatus; c: number }[];
      return buckets(q.since, q.bucketMs, q.buckets, rows);
    });
  }

  async purgeExpired(options: PurgeOptions = {}): Promise<number> {
    this.open();
    const now = options.now ?? Date.now();
    this.counts.purgeRuns++;
    let deleted = 0;
    for (;;) {
      if (this.closed || options.signal?.aborted) break;
      const started = performance.now();
      const chunk = this.purgeChunk;
      const n = this.run('purge', () => this.deleteChunk('purgeTraces', now, chunk));
      deleted += n;
      this.counts.purged += n;
      if (n > 0) options.onProgress?.(deleted);
      if (n > 0) this.checkpointer?.wrote();
      if (n < chunk) break;
      this.tuneChunk(performance.now() - started);
      await this.pause();
    }
    return deleted;
  }

  /**
   * Between two write transactions of one operation: lets timers and I/O run and, when the WAL has outgrown
   * WAL_SETTLE_FRAMES, waits (asynchronously) for the background checkpoint so the next commit restarts the WAL.
   */
  private async pause(): Promise<void> {
    if (this.checkpointer?.behind) await this.checkpointer.settle();
    else await yieldToEventLoop();
  }

  /** Keeps each purge chunk near the time budget, whatever the disk and the span counts. */
  private tuneChunk(elapsedMs: number): void {
    if (elapsedMs > PURGE_CHUNK_BUDGET_MS) this.purgeChunk = Math.max(8, Math.floor(this.purgeChunk / 2));
    else if (elapsedMs < PURGE_CHUNK_BUDGET_MS / 4) this.purgeChunk = Math.min(2048, this.purgeChunk * 2);
  }

  async deleteByUser(userId: string | number): Promise<number> {
    const key = userKey(userId);
    // Spans of the user's traces still waiting for assembly go first, or they would come back when finalized (a
    // finalization between the chunks below finds its claim gone; one before stored a trace the chunks delete).
    this.run('deleteByUser', () => this.deletePendingOfUser(key));
    let deleted = 0;
    for (;;) {
      const chunk = this.purgeChunk;
      const started = performance.now();
      const n = this.run('deleteByUser', () => this.deleteChunk('userTraces', key, chunk));
      deleted += n;
      if (n > 0) this.checkpointer?.wrote();
      if (n < chunk) return deleted;
      this.tuneChunk(performance.now() - started);
      await this.pause();
    }
  }

  async ping(): Promise<HealthResult> {
    const started = performance.now();
    try {
      this.run('ping', () => this.s.ping.get());
      return { ok: true, latencyMs: performance.now() - started };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : 'unknown error' };
    }
  }

  async addPending(traces: readonly PendingTraceInput[], limits: PendingLimits): Promise<AddPendingResult> {
    this.open();
    const ids = validatePending(traces, limits);
    const now = limits.now ?? Date.now();
    const p = this.pending;
    const c = this.pendingCounts;
    const result = this.run('addPending', () =>
      this.db
        .transaction((): AddPendingResult => {
          const rejectedOwn = new Map<string, number>();
          const taken: number[] = [];
          let newTraces = 0;
          let offered = 0;
          const fresh = new Set<string>();
          traces.forEach((t, i) => {
            const id = ids[i]!;
            if (t.spans.length === 0) return;
            if (p.origin.get(id) === 'own') {
              rejectedOwn.set(id, (rejectedOwn.get(id) ?? 0) + t.spans.length);
              return;
            }
            taken.push(i);
            offered += t.spans.length;
            if (!fresh.has(id) && p.pendingExists.get(id) === undefined) {
              fresh.add(id);
              newTraces++;
            }
          });
          const totals = p.totals.get() as { traces: number; spans: number };
          if (totals.spans + offered > limits.maxPendingSpans || totals.traces + newTraces > limits.maxPendingTraces) {
            return { ok: false, reason: 'full', pendingSpans: totals.spans, pendingTraces: totals.traces };
          }
          let accepted = 0;
          let duplicates = 0;
          let conflicts = 0;
          for (const i of taken) {
            const t = traces[i]!;
            const id = ids[i]!;
            p.upsertTrace.run(id, now, now, t.spans.some(isRoot) ? 1 : 0);
            let inserted = 0;
            let header: string | null = JSON.stringify(t.header);
            for (const span of t.spans) {
              const body = JSON.stringify(span);
              if (p.insertSpan.run(id, span.spanId, body, header).changes > 0) {
                inserted++;
                header = null;
              } else if (p.spanBody.get(id, span.spanId) === body) duplicates++;
              else conflicts++;
            }
            if (inserted > 0) p.addCount.run(inserted, id);
            accepted += inserted;
          }
          c.pendingSpans = totals.spans + accepted;
          c.pendingTraces = totals.traces + newTraces;
          return { ok: true, accepted, duplicates, conflicts, rejectedOwn };
        })
        .immediate(),
    );
    if (result.ok && result.accepted > 0) this.checkpointer?.wrote();
    this.countAdd(result);
    return result;
  }

  private countAdd(result: AddPendingResult): void {
    const c = this.pendingCounts;
    if (!result.ok) {
      c.ingestRequestsRejectedFull++;
      return;
    }
    c.ingestSpansAccepted += result.accepted;
    c.ingestSpansDuplicate += result.duplicates;
    c.ingestSpanConflicts += result.conflicts;
    for (const n of result.rejectedOwn.values()) c.ingestSpansRejectedOwn += n;
  }

  async claimPending(options: ClaimOptions): Promise<ClaimedTrace[]> {
    this.open();
    const o = validateClaim(options);
    const p = this.pending;
    const token = claimToken();
    return this.run('claimPending', () =>
      this.db
        .transaction((): ClaimedTrace[] => {
          const rows = p.ready.all({ now: o.now, all: o.all ? 1 : 0, quietSince: o.now - o.settleMs, windowStart: o.now - o.windowMs, limit: o.limit }) as { trace_id: string; stored: number }[];
          return rows.map((row) => {
            p.setClaim.run(token, o.now + o.leaseMs, row.trace_id);
            const spans = (p.spansOf.all(row.trace_id) as { body: string; header: string | null }[]).map((r) => ({
              span: JSON.parse(r.body) as SpanRecord,
              header: r.header === null ? null : (JSON.parse(r.header) as PendingHeader),
            }));
            return { traceId: row.trace_id, claim: token, stored: row.stored === 1, spans };
          });
        })
        .immediate(),
    );
  }

  async completePending(completions: readonly PendingCompletion[]): Promise<CompleteResult> {
    this.open();
    const p = this.pending;
    const s = this.s;
    const now = Date.now();
    const result = this.run('completePending', () =>
      this.db
        .transaction((): CompleteResult => {
          const r = emptyCompleteResult();
          for (const c of completions) {
            if (p.claimOf.get(c.traceId) !== c.claim) {
              r.lostClaims++;
              continue;
            }
            const origin = p.origin.get(c.traceId) as TraceOrigin | undefined;
            const write = (record: TraceRecord, spans: readonly SpanRecord[], seqStart: number) => {
              const row = toTraceRow(record, c.traceId, expiresAt(record, now, this.o));
              s.upsertTrace.run(row.traceId, row.userId, row.agent, row.status, row.startedAt, row.endedAt, row.durationMs, row.spanCount, row.expiresAt, row.body, 'ingest');
              forEachSpanRow({ spans: spans as SpanRecord[] }, c.traceId, (sp) =>
                s.insertSpan.run(sp.traceId, sp.seq, sp.spanId, sp.parentId, sp.kind, sp.name, sp.status, sp.startedAt, sp.durationMs, sp.body), seqStart);
            };
            if (origin === 'own') {
              r.rejectedOwn++;
              r.rejectedOwnSpans += c.spanIds.length;
            } else if (origin === 'ingest') {
              const stored = this.readTrace(c.traceId, toTrace)!;
              const m = mergeIntoStored(stored, c.record, c.maxSpans);
              write(m.record, m.added, stored.spans.length);
              tally(r, m, true);
            } else if (c.keep) {
              const m = mergeIntoStored({ ...c.record, spans: [] }, c.record, c.maxSpans);
              write(m.record, m.added, 0);
              tally(r, m, false);
            } else r.sampledOut++;
            for (const spanId of c.spanIds) p.deleteSpan.run(c.traceId, spanId);
            const left = p.countSpans.get(c.traceId) as number;
            if (left === 0) p.deleteTrace.run(c.traceId);
            else p.release.run(left, c.traceId);
          }
          return r;
        })
        .immediate(),
    );
    if (result.stored + result.merged > 0) this.checkpointer?.wrote();
    countComplete(this.pendingCounts, result, completions);
    return result;
  }

  async pendingSize(): Promise<{ spans: number; traces: number }> {
    const totals = this.run('pendingSize', () => this.pending.totals.get() as { traces: number; spans: number });
    this.pendingCounts.pendingSpans = totals.spans;
    this.pendingCounts.pendingTraces = totals.traces;
    return { spans: totals.spans, traces: totals.traces };
  }

  counters(): TraceStoreCounters {
    const counts = { ...this.counts, ...this.pendingCounts, listStatementsEvicted: this.listStatementsEvicted };
    if (!this.checkpointer) return counts;
    const c = this.checkpointer.counters();
    return { ...counts, walCheckpoints: c.checkpoints, walCheckpointErrors: c.checkpointErrors, walFrames: c.walFrames };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopPurge();
    // The worker's connection goes first, so closing the last connection checkpoints and removes the WAL.
    await this.checkpointer?.close();
    this.db.close();
  }
}
