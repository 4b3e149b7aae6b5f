/**
 * Opening a SQLite file the one way both persistence layers do: its directory created, WAL journal, the
 * synchronous level and busy timeout set, pending migrations applied — and the handle closed again if migrating
 * fails, so a refused open never leaks a file handle.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from './errors.js';
import { migrateSqlite, type Migration } from './migrations.js';

export interface OpenSqliteOptions {
  /** `normal` (default) or `full`. */
  synchronous?: 'normal' | 'full';
  /** How long a write waits for another connection's lock, ms. */
  busyTimeoutMs: number;
  /** The schema component (`traces`, `state`) and its migrations. */
  component: string;
  migrations: readonly Migration[];
}

/**
 * Opens (creating if needed) the SQLite database at `file` (`:memory:` and `file:` URIs are passed through).
 * @throws StoreUnavailableError when the file cannot be opened; SchemaVersionError from a newer AgentEx.
 */
export function openSqlite(file: string, options: OpenSqliteOptions): Database.Database {
  let db: Database.Database;
  try {
    if (file !== ':memory:' && !file.startsWith('file:')) mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    db.pragma(`busy_timeout = ${options.busyTimeoutMs}`);
  } catch (err) {
    throw new StoreUnavailableError('sqlite', 'open', err);
  }
  try {
    migrateSqlite(db, options.component, options.migrations);
  } catch (err) {
    db.close();
    throw err;
  }
  return db;
}
