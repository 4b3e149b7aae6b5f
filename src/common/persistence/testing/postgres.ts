/**
 * A private Postgres schema per test file: created fresh, handed out as a URL + schema name, dropped afterwards,
 * so parallel runs and files never see each other's tables. Not part of the public API.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The test database URL, or undefined when Postgres tests must be skipped. */
export const PG_URL = process.env.AGENTEX_TEST_DATABASE_URL || undefined;
/** The test Redis URL, or undefined when Redis tests must be skipped. */
export const REDIS_URL = process.env.AGENTEX_TEST_REDIS_URL || undefined;

export interface TestSchema {
  url: string;
  schema: string;
  /** A pool whose search_path is the schema (for raw checks in tests). */
  pool: pg.Pool;
  drop(): Promise<void>;
}

/** Creates a fresh schema named after `label`. */
export async function createTestSchema(url: string, label: string): Promise<TestSchema> {
  const schema = `t_${label.replace(/[^a-z0-9]/g, '_').slice(0, 30)}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE SCHEMA "${schema}"`);
  await admin.end();
  const pool = new pg.Pool({ connectionString: url, options: `-c search_path=${schema}`, max: 2 });
  return {
    url,
    schema,
    pool,
    async drop() {
      await pool.end();
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await c.end();
    },
  };
}

/** Prints once per file which suites were skipped and why. */
export function reportSkipped(what: string, variable: string): void {
  console.warn(`[agentex tests] SKIPPED ${what}: ${variable} is not set (e.g. ${variable}=${variable.includes('REDIS') ? 'redis://127.0.0.1:6379' : 'postgres://postgres@127.0.0.1:5432/test'})`);
}
