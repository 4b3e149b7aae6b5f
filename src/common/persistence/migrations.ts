/**
 * Versioned schema migrations, applied when a store opens. Each component (`traces` here; `state` in the state
 * manager) records its applied versions in `schema_migrations`, so both may share one database. A database whose
 * recorded version is above the newest known one was written by a newer AgentEx: opening it fails with
 * {@link SchemaVersionError} rather than guessing.
 */
import type { Database } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { SchemaVersionError } from './errors.js';

/** One migration: a version (1, 2, 3... without gaps), a name, and the SQL statements that apply it. */
export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

const SQLITE_META = `CREATE TABLE IF NOT EXISTS schema_migrations (
  component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at INTEGER NOT NULL,
  PRIMARY KEY (component, version))`;
const PG_META = `CREATE TABLE IF NOT EXISTS schema_migrations (
  component TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, applied_at BIGINT NOT NULL,
  PRIMARY KEY (component, version))`;

function latest(migrations: readonly Migration[]): number {
  return migrations.reduce((max, m) => Math.max(max, m.version), 0);
}

/** Applies pending migrations in one immediate transaction; returns the version the database is now at. */
export function migrateSqlite(db: Database, component: string, migrations: readonly Migration[]): number {
  const newest = latest(migrations);
  const run = db.transaction(() => {
    db.exec(SQLITE_META);
    const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations WHERE component = ?').get(component) as { v: number | null };
    const current = row.v ?? 0;
    if (current > newest) throw new SchemaVersionError(component, current, newest);
    const record = db.prepare('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES (?, ?, ?, ?)');
    for (const m of migrations) {
      if (m.version <= current) continue;
      for (const sql of m.statements) db.exec(sql);
      record.run(component, m.version, m.name, Date.now());
    }
    return newest;
  });
  return run.immediate();
}

/**
 * Applies pending migrations in one transaction holding an advisory lock, so two instances starting together
 * migrate once. Returns the version the database is now at.
 */
export async function migratePostgres(pool: Pool, component: string, migrations: readonly Migration[]): Promise<number> {
  const newest = latest(migrations);
  const client: PoolClient = await pool.connect();
  try {
    await client.query('BEGIN');
    // One lock key per component, scoped to the schema on the search path.
    await client.query('SELECT pg_advisory_xact_lock(hashtext(current_schema() || $1))', [`agentex:${component}`]);
    await client.query(PG_META);
    const { rows } = await client.query<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations WHERE component = $1', [component]);
    const current = rows[0]?.v ?? 0;
    if (current > newest) throw new SchemaVersionError(component, current, newest);
    for (const m of migrations) {
      if (m.version <= current) continue;
      for (const sql of m.statements) await client.query(sql);
      await client.query('INSERT INTO schema_migrations (component, version, name, applied_at) VALUES ($1, $2, $3, $4)', [
        component,
        m.version,
        m.name,
        Date.now(),
      ]);
    }
    await client.query('COMMIT');
    return newest;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
