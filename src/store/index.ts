/** The trace store: where finished traces live, how they are found, and when they go. */
export { createTraceStore } from './createTraceStore.js';
export type { TraceStoreOptions } from './createTraceStore.js';
export { createSqliteTraceStore, DEFAULT_SQLITE_PATH, DEFAULT_MAX_BATCH_TRACES, DEFAULT_MAX_BATCH_SPANS } from './SqliteTraceStore.js';
export type { SqliteTraceStoreOptions } from './SqliteTraceStore.js';
export { createPostgresTraceStore } from './PostgresTraceStore.js';
export type { PostgresTraceStoreOptions } from './PostgresTraceStore.js';
export { createTraceStoreExporter } from './TraceStoreExporter.js';
export type { TraceStoreExporter, TraceStoreExporterOptions } from './TraceStoreExporter.js';
export { normaliseTraceId, encodeCursor, decodeCursor, parseTime, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT, MAX_TIME_MS } from './query.js';
export {
  SchemaVersionError,
  StoreUnavailableError,
  StoreClosedError,
  isSchemaVersionError,
  isStoreUnavailableError,
  isStoreClosedError,
} from '../common/persistence/errors.js';
export { DEFAULT_RETENTION_MS, DEFAULT_PURGE_INTERVAL_MS } from './TraceStore.js';
export type {
  TraceStore,
  TraceSummary,
  TracePage,
  ListTracesQuery,
  StatsQuery,
  TraceStats,
  TimeseriesQuery,
  TraceBucket,
  PutOptions,
  PurgeOptions,
  HealthResult,
  TraceStoreCounters,
  StoreLogger,
} from './TraceStore.js';
export { createWriteHealth, trackWrites, WriteHealth, DEFAULT_WRITE_FAILURE_THRESHOLD } from './WriteHealth.js';
export type { WriteHealthOptions, WriteHealthSnapshot, WriteHealthChange } from './WriteHealth.js';
export { inspectSqliteFiles, DEFAULT_MIN_FREE_BYTES } from './sqliteFiles.js';
export type { SqliteFilesReport, SqliteFileInfo } from './sqliteFiles.js';
