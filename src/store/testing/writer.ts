/**
 * A child process for the crash and concurrency tests: writes traces through the real SQLite store in a loop.
 *   writer.ts <db> crash     new batches forever; prints `ack <id,id,...>` after each batch commits
 *   writer.ts <db> rewrite   rewrites the same traces with a new version (and span count) each round until killed
 * Not part of the public API.
 */
import { createSqliteTraceStore } from '../SqliteTraceStore.js';
import { makeTrace } from './fixtures.js';

const [file, mode] = process.argv.slice(2);
if (!file || (mode !== 'crash' && mode !== 'rewrite')) {
  console.error('usage: writer.ts <db> crash|rewrite');
  process.exit(2);
}
const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0, maxBatchTraces: 20 });

if (mode === 'crash') {
  for (;;) {
    const batch = Array.from({ length: 25 }, () => makeTrace({ spans: 10, payloadChars: 300 }));
    await store.put(batch);
    process.stdout.write(`ack ${batch.map((t) => t.traceId).join(',')}\n`);
  }
} else {
  const ids = (process.argv[4] ?? '').split(',');
  process.stdout.write('ready\n');
  for (let version = 1; ; version++) {
    const batch = ids.map((traceId) => {
      const spans = 1 + (version % 17);
      const t = makeTrace({ traceId, spans, payloadChars: 200 });
      t.metadata = { version, spans };
      for (const s of t.spans) s.attributes = { version };
      return t;
    });
    await store.put(batch);
  }
}
