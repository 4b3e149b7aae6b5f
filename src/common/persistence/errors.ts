/**
 * Errors of the persistence layers (the trace store and the state L2). Caller mistakes (bad ids, filters, cursors)
 * are the shared {@link ValidationError}; everything here is the system's fault: the database is unreachable, newer
 * than this code, or the store was closed.
 */
import { AgentexError } from '../errors.js';

/** The database was written by a newer AgentEx: its schema version is above the newest this code knows. */
export class SchemaVersionError extends AgentexError {
  readonly code = 'SCHEMA_VERSION';
  readonly fault = 'system';

  constructor(
    /** Which schema (`traces` or `state`). */
    readonly component: string,
    /** The version recorded in the database. */
    readonly databaseVersion: number,
    /** The newest version this code can migrate to. */
    readonly supportedVersion: number,
  ) {
    super(
      `The ${component} schema in this database is at version ${databaseVersion}, but this AgentEx supports up to ` +
        `version ${supportedVersion}: it was written by a newer AgentEx. Upgrade AgentEx, or point it at another database.`,
    );
  }
}

/** A store operation failed in the database driver (connection refused, disk full, lock timeout...). */
export class StoreUnavailableError extends AgentexError {
  readonly code = 'STORE_UNAVAILABLE';
  readonly fault = 'system';

  constructor(
    /** The backend that failed (`sqlite`, `postgres`, `redis`). */
    readonly backend: string,
    /** The operation that failed (`put`, `get`, `list`...). */
    readonly operation: string,
    cause: unknown,
  ) {
    super(`${backend} ${operation} failed: ${describeCause(cause)}`, { cause });
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends AgentexError {
  readonly code = 'STORE_CLOSED';
  readonly fault = 'system';

  constructor(readonly backend: string) {
    super(`The ${backend} store is closed`);
  }
}

export function isSchemaVersionError(err: unknown): err is SchemaVersionError {
  return err instanceof SchemaVersionError;
}

export function isStoreUnavailableError(err: unknown): err is StoreUnavailableError {
  return err instanceof StoreUnavailableError;
}

export function isStoreClosedError(err: unknown): err is StoreClosedError {
  return err instanceof StoreClosedError;
}

/**
 * A short, secret-free description of a driver error: its code and first line, with anything that looks like a
 * connection URL's credentials masked (drivers sometimes echo the connection string).
 */
export function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return 'unknown error';
  const code = (cause as { code?: unknown }).code;
  const first = (cause.message.split('\n')[0] ?? '').slice(0, 300);
  const masked = first.replace(/(\w+:\/\/)[^@\s/]*@/g, '$1***@');
  return typeof code === 'string' && !masked.includes(code) ? `${code} ${masked}` : masked;
}
