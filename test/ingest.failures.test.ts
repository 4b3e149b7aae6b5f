/**
 * OTLP/HTTP failures follow the request's encoding (OTLP spec, "Failures"): to a protobuf request every 4xx/5xx body
 * is a protobuf `google.rpc.Status` with `Content-Type: application/x-protobuf` (400 naming the bad part as a
 * `google.rpc.BadRequest` detail; Retry-After kept on 429/503); to a JSON request the JSON error body with its
 * `message`. Raw requests and the official protobuf exporter against a real service.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOtlpProtobufStatus, encodeOtlpProtobufRequest } from '../src/server/otlpProto.js';
import { startService, type RunningService } from '../src/server/service.js';

const API = `api-${'f'.repeat(30)}`;
const BODY_LIMIT = 20_000;
const b64 = (bytes: number) => randomBytes(bytes).toString('base64');

function protoSpans(n: number): Uint8Array {
  const traceId = b64(16);
  const now = Date.now();
  const spans = Array.from({ length: n }, (_, i) => ({ traceId, spanId: b64(8), name: `s${i}`, startTimeUnixNano: `${now}000000`, endTimeUnixNano: `${now + 1}000000` }));
  return encodeOtlpProtobufRequest({ resourceSpans: [{ scopeSpans: [{ spans }] }] });
}

describe('OTLP failures in the request encoding', () => {
  let svc: RunningService;
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-ingest-fail-'));
    svc = await startService({
      env: { AGENTEX_API_TOKEN: API, AGENTEX_SAMPLE_RATE: '1', AGENTEX_BODY_LIMIT_BYTES: String(BODY_LIMIT), AGENTEX_INGEST_MAX_PENDING_SPANS: '10', AGENTEX_INGEST_SETTLE_MS: '600000' },
      flags: { '--port': '0', '--sqlite-path': path.join(dir, 'fail.db') },
      logger: pino({ level: 'silent' }),
    });
  });
  afterAll(async () => {
    await svc?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (type: string, body: Uint8Array | string, token = API) =>
    fetch(`${svc.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body: body as unknown as BodyInit });

  async function protoFailure(res: Response) {
    expect(res.headers.get('content-type')).toBe('application/x-protobuf');
    return decodeOtlpProtobufStatus(new Uint8Array(await res.arrayBuffer()));
  }

  it('answers a protobuf google.rpc.Status to protobuf requests: 400, 401, 413, 503', async () => {
    const bad = await post('application/x-protobuf', new Uint8Array([0x0a, 0xff]));
    expect(bad.status).toBe(400);
    expect(await protoFailure(bad)).toMatchObject({ code: 3, message: expect.stringMatching(/not a valid OTLP protobuf/), fields: ['body'] });

    const auth = await post('application/x-protobuf', protoSpans(1), 'wrong-token-of-sufficient-length-xxxxx');
    expect(auth.status).toBe(401);
    expect(await protoFailure(auth)).toMatchObject({ code: 16, message: expect.any(String) });

    const large = await post('application/x-protobuf', protoSpans(1_000));
    expect(large.status).toBe(413);
    expect(await protoFailure(large)).toMatchObject({ code: 3, message: `Body larger than ${BODY_LIMIT} bytes` });

    // The pending area holds 10 spans: 8 fit, 8 more do not.
    expect((await post('application/x-protobuf', protoSpans(8))).status).toBe(200);
    const full = await post('application/x-protobuf', protoSpans(8));
    expect(full.status).toBe(503);
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await protoFailure(full)).toMatchObject({ code: 14, message: expect.stringMatching(/^Ingest is behind/) });
    await svc.ingest.flush();
  });

  it('keeps the JSON error body for JSON requests, and 415 for other types', async () => {
    const bad = await post('application/json', '{"resourceSpans": [');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await bad.json()).toMatchObject({ message: 'Body is not valid JSON', field: 'body' });
    const large = await post('application/json', JSON.stringify({ resourceSpans: [], pad: 'x'.repeat(BODY_LIMIT) }));
    expect(large.status).toBe(413);
    expect(await large.json()).toMatchObject({ message: `Body larger than ${BODY_LIMIT} bytes` });
    const other = await post('text/plain', 'hello');
    expect(other.status).toBe(415);
    expect(other.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('the official protobuf exporter: a 503 is retried and nothing is lost; a 413 fails with the Status message', async () => {
    // Fill the pending area so the exporter's first attempt is refused whole.
    expect((await post('application/x-protobuf', protoSpans(10))).status).toBe(200);
    const exporter = new OTLPTraceExporter({ url: `${svc.url}/v1/traces`, headers: { authorization: `Bearer ${API}` } });
    const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 10, scheduledDelayMillis: 10 })] });
    const tracer = provider.getTracer('t');
    const root = tracer.startSpan('root');
    const traceId = root.spanContext().traceId;
    root.end();
    const before = svc.store.counters().ingestRequestsRejectedFull ?? 0;
    const refused = new Promise<void>((resolve) => {
      const check = () => ((svc.store.counters().ingestRequestsRejectedFull ?? 0) > before ? resolve() : setTimeout(check, 20));
      check();
    });
    const flushed = provider.forceFlush();
    await refused;
    await svc.ingest.flush();
    await flushed;
    await provider.shutdown();
    await svc.ingest.flush();
    expect((await svc.store.get(traceId))?.spans).toHaveLength(1);

    // A span too large for the body limit: not retried (413), the error carries our Status message.
    const memory = new InMemorySpanExporter();
    const p2 = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
    p2.getTracer('t').startSpan('big', { attributes: { pad: 'y'.repeat(BODY_LIMIT) } }).end();
    const spans: ReadableSpan[] = memory.getFinishedSpans();
    const exporter2 = new OTLPTraceExporter({ url: `${svc.url}/v1/traces`, headers: { authorization: `Bearer ${API}` } });
    const result = await new Promise<ExportResult>((resolve) => exporter2.export(spans, resolve));
    await exporter2.shutdown();
    expect(result.code).toBe(ExportResultCode.FAILED);
    expect(result.error).toMatchObject({ code: 413 });
    expect(String((result.error as { data?: unknown }).data)).toContain(`Body larger than ${BODY_LIMIT} bytes`);
  }, 60_000);
});

it('answers a 429 of the ingest rate limit to a protobuf request as a protobuf Status, with Retry-After', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentex-ingest-429-'));
  const svc = await startService({
    env: { AGENTEX_API_TOKEN: API, AGENTEX_INGEST_RATE_LIMIT: '2' },
    flags: { '--port': '0', '--sqlite-path': path.join(dir, 'rl.db') },
    logger: pino({ level: 'silent' }),
  });
  try {
    const post = () => fetch(`${svc.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/x-protobuf' }, body: protoSpans(1) as unknown as BodyInit });
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    const limited = await post();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(limited.headers.get('content-type')).toBe('application/x-protobuf');
    expect(decodeOtlpProtobufStatus(new Uint8Array(await limited.arrayBuffer()))).toMatchObject({ code: 8, message: expect.any(String) });
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
