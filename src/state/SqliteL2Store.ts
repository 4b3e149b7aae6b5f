/** The embedded L2: a table in a SQLite file (WAL), by default the same file as the trace store. */
/* eslint-disable @typescript-eslint/require-await -- better-sqlite3 is synchronous: these async methods implement the
   shared Promise interface and turn every throw (validation included) into a rejection. */
import type Database from 'better-sqlite3';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import { StoreClosedError, StoreUnavailableError } from '../common/persistence/errors.js';
import type { Migration } from '../common/persistence/migrations.js';
import { openSqlite } from '../common/persistence/sqlite.js';
import { L2_PURGE_CHUNK, listTrimStart, type L2Entry, type L2Store, type ListBounds } from './L2Store.js';

export interface SqliteL2StoreOptions {
  /** Database file (its directory is created); `:memory:` for a private one. Default `./data/agentex.db`. */
  path?: string;
  /** How long a write waits for another connection's lock, ms. Default 5000. */
  busyTimeoutMs?: number;
}

export const SQLITE_STATE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'state entries',
    statements: [
      `CREATE TABLE state_entries (
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (collection, key))`,
      'CREATE INDEX state_entries_expires ON state_entries (expires_at)',
    ],
  },
  {
    version: 2,
    name: 'append-only lists (conversations)',
    statements: [
      `CREATE TABLE state_list_items (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        collection TEXT NOT NULL,
        key TEXT NOT NULL,
        item TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        expires_at INTEGER NOT NULL)`,
      'CREATE INDEX state_list_items_key ON state_list_items (collection, key, seq)',
      'CREATE INDEX state_list_items_expires ON state_list_items (expires_at)',
    ],
  },
];

/**
 * Opens a SQLite L2 store and applies pending migrations.
 * @throws InvalidOptionsError; SchemaVersionError for a database from a newer AgentEx; StoreUnavailableError.
 */
export function createSqliteL2Store(options: SqliteL2StoreOptions = {}): L2Store {
  assertKnownKeys('createSqliteL2Store', options, ['path', 'busyTimeoutMs']);
  const { path: file = './data/agentex.db', busyTimeoutMs = 5000 } = options;
  assertString('createSqliteL2Store', 'path', file, 4096);
  assertNumber('createSqliteL2Store', 'busyTimeoutMs', busyTimeoutMs, { integer: true, min: 0 });
  const db = openSqlite(file, { busyTimeoutMs, component: 'state', migrations: SQLITE_STATE_MIGRATIONS });
  return new SqliteL2Store(db);
}

class SqliteL2Store implements L2Store {
  readonly backend = 'sqlite' as const;
  private closed = false;
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      get: db.prepare('SELECT value, expires_at AS expiresAt FROM state_entries WHERE collection = ? AND key = ? AND expires_at > ?'),
      set: db.prepare(
        `INSERT INTO state_entries (collection, key, value, expires_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (collection, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      ),
      delete: db.prepare('DELETE FROM state_entries WHERE collection = ? AND key = ?'),
      purge: db.prepare('DELETE FROM state_entries WHERE rowid IN (SELECT rowid FROM state_entries WHERE expires_at <= ? LIMIT ?)'),
      ping: db.prepare('SELECT 1').pluck(),
      listInsert: db.prepare('INSERT INTO state_list_items (collection, key, item, bytes, expires_at) VALUES (?, ?, ?, ?, ?)'),
      listRows: db.prepare('SELECT seq, item, bytes FROM state_list_items WHERE collection = ? AND key = ? AND expires_at > ? ORDER BY seq'),
      listDropBefore: db.prepare('DELETE FROM state_list_items WHERE collection = ? AND key = ? AND (seq < ? OR expires_at <= ?)'),
      listTouch: db.prepare('UPDATE state_list_items SET expires_at = ? WHERE collection = ? AND key = ?'),
      listDelete: db.prepare('DELETE FROM state_list_items WHERE collection = ? AND key = ?'),
      listPurge: db.prepare('DELETE FROM state_list_items WHERE seq IN (SELECT seq FROM state_list_items WHERE expires_at <= ? LIMIT ?)'),
    };
    this.appendTx = db.transaction((collection: string, key: string, items: readonly string[], bounds: ListBounds, ttlMs: number) => {
      const now = Date.now();
      const expiresAt = Math.round(now + ttlMs);
      for (const item of items) this.s.listInsert.run(collection, key, item, Buffer.byteLength(item), expiresAt);
      const rows = this.s.listRows.all(collection, key, now) as { seq: number; item: string; bytes: number }[];
      const start = listTrimStart(rows.map((r) => r.bytes), bounds);
      this.s.listDropBefore.run(collection, key, rows[start]?.seq ?? 0, now);
      this.s.listTouch.run(expiresAt, collection, key);
      return rows.slice(start).map((r) => r.item);
    });
  }

  private readonly appendTx: (collection: string, key: string, items: readonly string[], bounds: ListBounds, ttlMs: number) => string[];

  async appendList(collection: string, key: string, items: readonly string[], bounds: ListBounds, ttlMs: number): Promise<string[]> {
    return this.run('append', () => this.appendTx(collection, key, items, bounds, ttlMs));
  }

  async getList(collection: string, key: string): Promise<string[] | undefined> {
    const rows = this.run('get', () => this.s.listRows.all(collection, key, Date.now()) as { item: string }[]);
    return rows.length > 0 ? rows.map((r) => r.item) : undefined;
  }

  private run<T>(operation: string, fn: () => T): T {
    if (this.closed) throw new StoreClosedError('sqlite');
    try {
      return fn();
    } catch (err) {
      throw new StoreUnavailableError('sqlite', operation, err);
    }
  }

  async get(collection: string, key: string): Promise<L2Entry | undefined> {
    return this.run('get', () => this.s.get.get(collection, key, Date.now()) as L2Entry | undefined);
  }

  async set(collection: string, key: string, value: string, ttlMs: number): Promise<void> {
    this.run('set', () => this.s.set.run(collection, key, value, Math.round(Date.now() + ttlMs)));
  }

  async delete(collection: string, key: string): Promise<boolean> {
    return this.run('delete', () => this.s.delete.run(collection, key).changes + this.s.listDelete.run(collection, key).changes > 0);
  }

  async purgeExpired(now = Date.now()): Promise<number> {
    let deleted = 0;
    for (;;) {
      const n = this.run('purge', () => this.s.purge.run(now, L2_PURGE_CHUNK).changes + this.s.listPurge.run(now, L2_PURGE_CHUNK).changes);
      deleted += n;
      if (n < L2_PURGE_CHUNK) return deleted;
      await new Promise((r) => setImmediate(r));
    }
  }

  async ping(): Promise<void> {
    this.run('ping', () => this.s.ping.get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}
