/**
 * Moves SQLite's WAL checkpoints off the event loop. By default SQLite checkpoints inside the committing connection
 * whenever the WAL passes 1000 pages: the commit that crosses the mark copies every page back into the database file
 * and fsyncs it, synchronously, on the main thread (measured: 20-30 ms per 4 MB commit on a warm 200k-trace file,
 * 100 ms to over a second on a 1.3 GB one under disk load). The store turns that off (`wal_autocheckpoint = 0`) and this
 * checkpointer runs `PRAGMA wal_checkpoint(PASSIVE)` from a `worker_thread` with its own connection after writes.
 * PASSIVE never takes the write lock and never waits, so the main thread's commits proceed while pages are copied.
 *
 * SQLite can only restart the WAL from its beginning when a write transaction starts while every frame is already
 * checkpointed. A writer that never pauses therefore grows the WAL without end; {@link WalCheckpointer.settle} is
 * that pause: an async wait (the event loop keeps running) for a checkpoint begun after the last commit, used by the
 * purge and by large `put`s once the WAL passes {@link WAL_SETTLE_FRAMES}.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { describeCause } from '../common/persistence/errors.js';
import type { StoreLogger } from './TraceStore.js';

/** WAL size, in frames (pages), above which writers wait for the checkpointer to catch up: 8192 × 4 KiB = 32 MiB. */
export const WAL_SETTLE_FRAMES = 8192;

/** Counters of the background checkpointer. */
export interface WalCheckpointCounters {
  /** Checkpoints completed. */
  checkpoints: number;
  /** Checkpoints that failed (logged); after a failure of the worker itself SQLite's auto-checkpoint is restored. */
  checkpointErrors: number;
  /** Frames in the WAL at the last checkpoint. */
  walFrames: number;
  /** Longest single checkpoint, in ms (spent on the worker thread, not the event loop). */
  longestCheckpointMs: number;
}

export interface WalCheckpointer {
  /** Tells the checkpointer a transaction committed; it checkpoints as soon as it is idle. Never blocks. */
  wrote(): void;
  /** Whether the WAL was over {@link WAL_SETTLE_FRAMES} at the last checkpoint (writers should `settle()`). */
  readonly behind: boolean;
  /**
   * Resolves once a checkpoint that started after this call has finished (or the checkpointer has stopped).
   * Never rejects. The WAL restarts at the next write if nothing read or wrote meanwhile.
   */
  settle(): Promise<void>;
  counters(): WalCheckpointCounters;
  /** Stops the worker and closes its connection. Idempotent. */
  close(): Promise<void>;
}

interface CheckpointResult {
  ok: boolean;
  log?: number;
  ms?: number;
  error?: string;
}

// Plain CommonJS run by `new Worker(..., { eval: true })`: no loader or build step needed in any runtime (tsx, vitest,
// compiled), and the driver is required by the absolute path this module resolves.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('wal_autocheckpoint = 0');
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  const started = performance.now();
  try {
    const row = db.pragma('wal_checkpoint(PASSIVE)')[0];
    parentPort.postMessage({ ok: true, log: row.log, ms: performance.now() - started });
  } catch (err) {
    parentPort.postMessage({ ok: false, error: String(err && err.message || err).split('\\n')[0].slice(0, 300) });
  }
});
`;

/**
 * Starts a background checkpointer for the database file `file` (already in WAL mode). `onStopped` is called once if
 * the worker dies unexpectedly, so the caller can restore SQLite's auto-checkpoint. Returns null when no worker
 * thread can be started (the caller keeps SQLite's auto-checkpoint).
 */
export function startWalCheckpointer(
  file: string,
  logger: StoreLogger,
  onStopped: () => void,
  { settleFrames = WAL_SETTLE_FRAMES }: { settleFrames?: number } = {},
): WalCheckpointer | null {
  let worker: Worker;
  try {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3');
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver, file } });
  } catch (err) {
    logger.warn({ backend: 'sqlite', error: describeCause(err) }, 'cannot start the WAL checkpoint worker; checkpoints stay in the writer');
    return null;
  }
  worker.unref();
  const counts: WalCheckpointCounters = { checkpoints: 0, checkpointErrors: 0, walFrames: 0, longestCheckpointMs: 0 };
  let stopped = false;
  let inFlight = false;
  let again = false;
  let running: (() => void)[] = []; // settle() callers waiting for the checkpoint in flight
  let next: (() => void)[] = []; // settle() callers waiting for one that starts later
  let closing: Promise<void> | null = null;
  // Set when a settle() waiter was released: the WAL restarts at the next commit, so the last `log` is stale until
  // the next checkpoint reports.
  let settled = false;

  const release = (waiters: (() => void)[]) => {
    for (const resolve of waiters) resolve();
  };
  const post = () => {
    inFlight = true;
    again = false;
    running = next;
    next = [];
    worker.postMessage('checkpoint');
  };
  const stop = (reason: unknown) => {
    if (stopped) return;
    stopped = true;
    release(running);
    release(next);
    running = [];
    next = [];
    if (closing === null) {
      counts.checkpointErrors++;
      logger.warn({ backend: 'sqlite', error: describeCause(reason) }, 'the WAL checkpoint worker stopped; checkpoints are back in the writer');
      onStopped();
    }
  };

  worker.on('message', (result: CheckpointResult) => {
    inFlight = false;
    if (result.ok) {
      counts.checkpoints++;
      counts.walFrames = result.log ?? 0;
      counts.longestCheckpointMs = Math.max(counts.longestCheckpointMs, result.ms ?? 0);
    } else {
      counts.checkpointErrors++;
      logger.warn({ backend: 'sqlite', error: result.error ?? 'unknown error' }, 'WAL checkpoint failed; will retry after the next write');
    }
    settled = running.length > 0;
    release(running);
    running = [];
    if (!stopped && closing === null && (again || next.length > 0)) post();
  });
  worker.on('error', (err) => stop(err));
  worker.on('exit', (code) => stop(new Error(`worker exited with code ${code}`)));

  return {
    wrote() {
      if (stopped || closing !== null) return;
      if (inFlight) again = true;
      else post();
    },
    get behind() {
      return !stopped && !settled && counts.walFrames > settleFrames;
    },
    settle() {
      if (stopped || closing !== null) return Promise.resolve();
      return new Promise<void>((resolve) => {
        next.push(resolve);
        if (!inFlight) post();
      });
    },
    counters() {
      return { ...counts };
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        if (stopped) return resolve();
        worker.once('exit', () => resolve());
        worker.ref(); // an awaited close keeps the process alive until the worker's connection is closed
        worker.postMessage('close');
      });
      return closing;
    },
  };
}
