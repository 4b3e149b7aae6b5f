/**
 * A large valid OTLP body does not hold the event loop for its whole ingest: decoding, mapping, redaction and the
 * pending writes run in chunks with yields between them, so a health check sent while the body is being ingested is
 * answered before the ingest request is. Real service on 127.0.0.1, real SQLite file, raw node:http client.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WRITE_CHUNK_SPANS } from '../src/server/IngestAssembler.js';
import { startService, type RunningService } from '../src/server/service.js';

const API = `api-${'l'.repeat(30)}`;
const SPANS = 5_000;

function body(): string {
  const spans = Array.from({ length: SPANS }, (_, i) => ({
    traceId: (Math.floor(i / 100) + 1).toString(16).padStart(32, 'e'),
    spanId: (i + 1).toString(16).padStart(16, '0'),
    ...(i % 100 === 0 ? {} : { parentSpanId: (Math.floor(i / 100) * 100 + 1).toString(16).padStart(16, '0') }),
    name: 'chat model-x',
    startTimeUnixNano: '1700000000000000000',
    endTimeUnixNano: '1700000000500000000',
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'model-x' } },
      { key: 'gen_ai.input.messages', value: { stringValue: `[{"role":"user","parts":[{"type":"text","content":"question ${i}"}]}]` } },
    ],
  }));
  return JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
}

describe('ingesting a large body', () => {
  let svc: RunningService;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-ingest-loop-'));
    svc = await startService({
      env: { AGENTEX_API_TOKEN: API, AGENTEX_SAMPLE_RATE: '1', AGENTEX_INGEST_SETTLE_MS: '600000' },
      flags: { '--port': '0', '--sqlite-path': path.join(dir, 'loop.db') },
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a health check sent while the body is being ingested before the ingest request', async () => {
    const events: string[] = [];
    const before = svc.store.counters().ingestSpansAccepted ?? 0;
    const payload = Buffer.from(body());
    const url = new URL('/v1/traces', svc.url);
    let health: Promise<number> | undefined;
    const ingest = new Promise<number>((done, fail) => {
      const req = request(url, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json', 'content-length': payload.length } }, (res) => {
        res.resume();
        res.on('end', () => {
          events.push('ingest answered');
          done(res.statusCode!);
        });
      });
      req.on('error', fail);
      // The whole body is on the wire: the service is about to decode it (or decoding already).
      req.end(payload, () => {
        events.push('ingest sent');
        health = fetch(new URL('/health', svc.url)).then(async (res) => {
          await res.arrayBuffer();
          events.push('health answered');
          return res.status;
        });
      });
    });
    expect(await ingest).toBe(200);
    expect(await health).toBe(200);
    expect(events).toEqual(['ingest sent', 'health answered', 'ingest answered']);
    // Written to the pending area in several transactions (chunks of WRITE_CHUNK_SPANS), every span taken.
    expect(SPANS).toBeGreaterThan(WRITE_CHUNK_SPANS);
    expect((svc.store.counters().ingestSpansAccepted ?? 0) - before).toBe(SPANS);
    await svc.ingest.flush();
    const stored = await svc.store.get((1).toString(16).padStart(32, 'e'));
    expect(stored?.spans).toHaveLength(100);
  });
});
