/**
 * What is on disk next to a SQLite database at start, for one log line: the database, its `-wal` and `-shm` files
 * (size, owner, mode) and the free space of their file system. SQLite maps `-shm` into memory; when it cannot be
 * extended (a full file system, a file another user owns and this process cannot write) the process dies of SIGBUS
 * with no log line at all, so what could cause that is said up front, as warnings.
 */
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import path from 'node:path';

/** Free space below which the start-up check warns: the WAL and `-shm` must be able to grow. */
export const DEFAULT_MIN_FREE_BYTES = 64 * 1024 * 1024;

export interface SqliteFileInfo {
  suffix: '' | '-wal' | '-shm';
  exists: boolean;
  size?: number;
  /** Octal permission bits, e.g. `644`. */
  mode?: string;
  uid?: number;
  writable?: boolean;
}

export interface SqliteFilesReport {
  path: string;
  /** Free bytes for this process on the database's file system; null when it cannot be read. */
  freeBytes: number | null;
  files: SqliteFileInfo[];
  /** Plain sentences: what may make writes fail or the process die of SIGBUS. Empty when nothing was found. */
  warnings: string[];
}

/** Inspects the database file at `dbPath` and its `-wal`/`-shm` companions. Never throws. */
export function inspectSqliteFiles(dbPath: string, options: { minFreeBytes?: number } = {}): SqliteFilesReport {
  const minFree = options.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES;
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  const warnings: string[] = [];
  const files = (['', '-wal', '-shm'] as const).map((suffix): SqliteFileInfo => {
    const file = `${dbPath}${suffix}`;
    let st;
    try {
      st = statSync(file);
    } catch {
      return { suffix, exists: false };
    }
    let writable = true;
    try {
      accessSync(file, constants.W_OK);
    } catch {
      writable = false;
    }
    const info: SqliteFileInfo = { suffix, exists: true, size: st.size, mode: (st.mode & 0o777).toString(8), uid: st.uid, writable };
    const name = path.basename(file);
    if (!st.isFile()) warnings.push(`${name} is not a regular file`);
    else if (!writable) warnings.push(`${name} is not writable by this process: writes will fail${suffix === '-shm' ? ', and SQLite may die of SIGBUS mapping it' : ''}`);
    else if (uid !== null && uid !== 0 && st.uid !== uid) warnings.push(`${name} belongs to uid ${st.uid}, not this process (uid ${uid})`);
    return info;
  });
  let freeBytes: number | null = null;
  try {
    const fs = statfsSync(path.dirname(path.resolve(dbPath)));
    freeBytes = fs.bavail * fs.bsize;
  } catch {
    warnings.push(`cannot read the free space of ${path.dirname(path.resolve(dbPath))}`);
  }
  if (freeBytes !== null && freeBytes < minFree) {
    warnings.push(`only ${Math.floor(freeBytes / 1024 / 1024)} MiB free on the database's file system: writes will fail and a -shm that cannot grow makes the process die of SIGBUS`);
  }
  return { path: dbPath, freeBytes, files, warnings };
}
