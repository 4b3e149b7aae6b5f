/**
 * Copies traces from one trace store to another through the `TraceStore` interface — the way to move an AgentEx
 * deployment from its SQLite file to Postgres (or back). Idempotent: `put` upserts by trace id, so an interrupted
 * copy is simply run again. Traces keep their remaining retention (started at + retention), and traces already past
 * it are skipped instead of getting a fresh lease of life.
 *
 *   npx tsx scripts/copy-traces.ts --from ./data/agentex.db --to postgres://agentex@db:5432/agentex [--retention-days 7]
 *
 * Prints one progress line per batch on stderr and a JSON summary on stdout; exits 1 with one line on failure.
 */
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { InvalidOptionsError } from '../src/common/errors.js';
import { createTraceStore } from '../src/store/createTraceStore.js';
import type { TraceStore } from '../src/store/TraceStore.js';
import type { TraceRecord } from '../src/trace/model.js';

/** Traces read and written per round trip (the store's list page maximum). */
export const COPY_BATCH = 100;
const DAY_MS = 24 * 60 * 60 * 1000;

export interface CopyTracesOptions {
  from: TraceStore;
  to: TraceStore;
  /** The deployment's retention (AGENTEX_TRACE_TTL_DAYS): traces older than this are skipped. Default 7 days. */
  retentionMs?: number;
  /** Called after each written batch. */
  onProgress?: (progress: CopyTracesResult) => void;
  /** Stops between batches; what was written stays written. */
  signal?: AbortSignal;
  /** Clock (tests). Default `Date.now`. */
  now?: () => number;
}

export interface CopyTracesResult {
  /** Traces listed in the source. */
  read: number;
  /** Traces written to the target. */
  copied: number;
  /** Traces skipped because their retention had already passed. */
  expired: number;
  /** Traces listed but gone before they could be read (deleted or purged meanwhile). */
  vanished: number;
}

/**
 * Copies every trace of `from` into `to`, newest first, in batches of {@link COPY_BATCH}.
 * @throws InvalidOptionsError for a bad `retentionMs`; the stores' errors (nothing half-written: each batch is one put).
 */
export async function copyTraces({ from, to, retentionMs = 7 * DAY_MS, onProgress, signal, now = Date.now }: CopyTracesOptions): Promise<CopyTracesResult> {
  if (!Number.isFinite(retentionMs) || retentionMs < 1000) {
    throw new InvalidOptionsError('copyTraces.retentionMs', `Expected \`retentionMs\` to be a number ≥ 1000, got ${String(retentionMs)}`);
  }
  const result: CopyTracesResult = { read: 0, copied: 0, expired: 0, vanished: 0 };
  let cursor: string | undefined;
  do {
    signal?.throwIfAborted();
    const page = await from.list({ limit: COPY_BATCH, cursor });
    const batch: TraceRecord[] = [];
    for (const summary of page.traces) {
      result.read++;
      if (summary.startedAt + retentionMs <= now()) {
        result.expired++;
        continue;
      }
      const trace = await from.get(summary.traceId);
      if (trace === null) result.vanished++;
      else batch.push(trace);
    }
    if (batch.length > 0) {
      await to.put(batch, { signal });
      result.copied += batch.length;
    }
    onProgress?.({ ...result });
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return result;
}

/** Opens a store for copying: no background purge, and (for the target) the source's remaining retention kept. */
export function openStore(url: string, retentionMs: number, now: () => number = Date.now): Promise<TraceStore> {
  return createTraceStore({
    databaseUrl: url,
    purgeIntervalMs: 0,
    retentionMs,
    // Remaining lifetime of the trace as it would have had in the source (copy time is not a new start).
    retentionFor: (trace) => Math.max(1000, trace.startedAt + retentionMs - now()),
  });
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      'retention-days': { type: 'string', default: process.env.AGENTEX_TRACE_TTL_DAYS ?? '7' },
      help: { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.help || !values.from || !values.to) {
    process.stderr.write('usage: copy-traces --from <sqlite path | postgres url> --to <sqlite path | postgres url> [--retention-days 7]\n');
    return values.help ? 0 : 2;
  }
  const days = Number(values['retention-days']);
  if (!Number.isFinite(days) || days <= 0) throw new InvalidOptionsError('--retention-days', `Expected --retention-days to be a positive number, got ${JSON.stringify(values['retention-days'])}`);
  const retentionMs = days * DAY_MS;
  const from = await openStore(values.from, retentionMs);
  let to: TraceStore | undefined;
  try {
    to = await openStore(values.to, retentionMs);
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort(new Error('interrupted; run again to finish (the copy is idempotent)')));
    const result = await copyTraces({
      from,
      to,
      retentionMs,
      signal: controller.signal,
      onProgress: (p) => process.stderr.write(`read ${p.read} · copied ${p.copied} · expired ${p.expired}\n`),
    });
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return 0;
  } finally {
    await from.close();
    await to?.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`copy-traces: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
