/**
 * OTLP ingest assembly through the real service on a SQLite file: spans of one trace over several requests, sampling
 * on the assembled trace, integrity of our own traces, secrets never pending, backpressure with Retry-After.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createSqliteTraceStore } from '../store/SqliteTraceStore.js';
import { createTracer } from '../trace/Tracer.js';
import { createIngestAssembler } from './IngestAssembler.js';
import { startService, type RunningService } from './service.js';

const API = `api-${'i'.repeat(30)}`;
const ADMIN = `admin-${'j'.repeat(30)}`;
const silent = pino({ level: 'silent' });
const dir = mkdtempSync(path.join(tmpdir(), 'agentex-assembly-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const NOW = Date.now();

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: { key: string; value: { stringValue: string } }[];
  status?: { code: number; message?: string };
}

function otlpSpan(traceId: string, spanId: string, parentSpanId: string | undefined, extra: Partial<OtlpSpan> = {}): OtlpSpan {
  return {
    traceId,
    spanId,
    ...(parentSpanId ? { parentSpanId } : {}),
    name: `span ${spanId.slice(0, 4)}`,
    startTimeUnixNano: `${NOW}000000`,
    endTimeUnixNano: `${NOW + 5}000000`,
    ...extra,
  };
}

const body = (spans: OtlpSpan[]) => JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'ext' } }] }, scopeSpans: [{ spans }] }] });

describe('OTLP ingest assembly through the service', () => {
  const services: RunningService[] = [];
  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.close()));
  });
  let n = 0;
  const start = async (env: Record<string, string> = {}) => {
    const file = path.join(dir, `svc-${n++}.db`);
    const svc = await startService({ env: { AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: ADMIN, AGENTEX_SAMPLE_RATE: '1', ...env }, flags: { '--port': '0', '--sqlite-path': file }, logger: silent });
    services.push(svc);
    return { svc, file };
  };
  const post = (svc: RunningService, spans: OtlpSpan[]) =>
    fetch(`${svc.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' }, body: body(spans) });

  it('assembles one trace from spans posted over several requests, children first and the root last', async () => {
    const { svc } = await start();
    const traceId = hex(16);
    const [root, mid, a, b] = [hex(8), hex(8), hex(8), hex(8)];
    for (const spans of [[otlpSpan(traceId, a, mid)], [otlpSpan(traceId, b, mid), otlpSpan(traceId, a, mid)], [otlpSpan(traceId, mid, root)], [otlpSpan(traceId, root, undefined)]]) {
      const res = await post(svc, spans);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({});
    }
    // Acknowledged means stored durably: pending before any sweep.
    expect(await svc.store.pendingSize()).toEqual({ spans: 4, traces: 1 });
    expect(await svc.ingest.flush()).toBe(1);
    const trace = await svc.store.get(traceId);
    expect(trace?.spans.map((s) => s.spanId).sort()).toEqual([root, mid, a, b].sort());
    expect(trace?.agent).toBe('ext');
    expect(trace?.metadata.partial).toBeUndefined();
    expect(svc.store.counters()).toMatchObject({ ingestSpansAccepted: 4, ingestSpansDuplicate: 1, tracesFinalized: 1 });
    const metrics = await (await fetch(`${svc.url}/metrics`)).text();
    expect(metrics).toMatch(/agentex_ingest_spans_total\{result="accepted"\} 4/);
  });

  it('samples the assembled trace: an error in any request keeps every span, successes follow the rate', async () => {
    const { svc } = await start({ AGENTEX_SAMPLE_RATE: '0' });
    const failing = hex(16);
    const fine = hex(16);
    const root = hex(8);
    await post(svc, [otlpSpan(failing, hex(8), root, { status: { code: 2, message: 'tool failed' } })]);
    await post(svc, [otlpSpan(failing, root, undefined), otlpSpan(fine, hex(8), undefined)]);
    await svc.ingest.flush();
    expect((await svc.store.get(failing))?.spans).toHaveLength(2);
    expect(await svc.store.get(fine)).toBeNull();
    expect(svc.store.counters()).toMatchObject({ tracesFinalized: 1, tracesSampledOut: 1, pendingSpans: 0 });
    expect(svc.tracer.stats()).toMatchObject({ ingested: 2, sampledOut: 1 });
  });

  it('finishes a trace whose root never arrives at the end of the window, flagged partial', async () => {
    const { svc } = await start({ AGENTEX_INGEST_ASSEMBLY_WINDOW_MS: '5000' });
    const traceId = hex(16);
    await post(svc, [otlpSpan(traceId, hex(8), hex(8))]);
    expect(await svc.ingest.sweep({ now: Date.now() + 1000 })).toBe(0);
    expect(await svc.ingest.sweep({ now: Date.now() + 6000 })).toBe(1);
    expect((await svc.store.get(traceId))?.metadata.partial).toBe(true);
  });

  it('never modifies a trace our own runs recorded, and says so in partialSuccess', async () => {
    const { svc } = await start();
    let ownId = '';
    svc.tracer.withTrace({ agent: 'ours', userId: 'owner' }, (t) => {
      ownId = t.traceId;
    });
    await svc.tracer.forceFlush();
    const before = await svc.store.get(ownId);
    expect(before?.userId).toBe('owner');
    const res = await post(svc, [otlpSpan(ownId, hex(8), undefined, { attributes: [{ key: 'user.id', value: { stringValue: 'attacker' } }] }), otlpSpan(hex(16), hex(8), undefined)]);
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(answer.partialSuccess.rejectedSpans).toBe(1);
    expect(answer.partialSuccess.errorMessage).toContain('recorded by AgentEx itself');
    expect(answer.partialSuccess.errorMessage).toContain(ownId);
    await svc.ingest.flush();
    expect(await svc.store.get(ownId)).toEqual(before);
  });

  it('redacts before anything is written: no secret in the pending area', async () => {
    const { svc, file } = await start();
    const secret = `sk-ant-${'Z'.repeat(40)}`;
    const traceId = hex(16);
    await post(svc, [otlpSpan(traceId, hex(8), undefined, { attributes: [{ key: 'api_key', value: { stringValue: secret } }, { key: 'note', value: { stringValue: `key ${secret}` } }] })]);
    const db = new Database(file, { readonly: true });
    const pending = db.prepare('SELECT body FROM pending_spans').pluck().all() as string[];
    db.close();
    expect(pending).toHaveLength(1);
    expect(pending[0]).not.toContain(secret);
  });

  it('answers 503 with Retry-After and takes nothing when the pending area cannot take the request whole', async () => {
    const { svc } = await start({ AGENTEX_INGEST_MAX_PENDING_SPANS: '5' });
    const traceId = hex(16);
    expect((await post(svc, [otlpSpan(traceId, hex(8), undefined)])).status).toBe(200);
    const res = await post(svc, Array.from({ length: 5 }, () => otlpSpan(hex(16), hex(8), undefined)));
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await res.json()) as { error: string }).error).toBe('ingest_backpressure');
    expect(await svc.store.pendingSize()).toEqual({ spans: 1, traces: 1 });
    // Once assembled, there is room again.
    await svc.ingest.flush();
    expect((await post(svc, Array.from({ length: 5 }, () => otlpSpan(hex(16), hex(8), undefined)))).status).toBe(200);
  });

  it('10,000 error traces in one request: all stored, or refused whole with 503', async () => {
    const spans = () => Array.from({ length: 10_000 }, () => otlpSpan(hex(16), hex(8), undefined, { status: { code: 2 } }));
    const { svc } = await start();
    const batch = spans();
    const res = await post(svc, batch);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({});
    await svc.ingest.flush();
    const stats = await svc.store.stats({ since: NOW - 60_000, until: NOW + 60_000 });
    expect(stats.byStatus.error).toBe(10_000);
    for (const s of batch.slice(0, 20)) expect((await svc.store.get(s.traceId))?.status).toBe('error');

    const small = await start({ AGENTEX_INGEST_MAX_PENDING_TRACES: '9999' });
    const refused = await post(small.svc, spans());
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).not.toBeNull();
    expect(await small.svc.store.pendingSize()).toEqual({ spans: 0, traces: 0 });
  }, 120_000);
});

describe('IngestAssembler', () => {
  it('answers unavailable (never throws) when the store is down, and counts failed sweeps', async () => {
    const store = createSqliteTraceStore({ path: path.join(dir, 'down.db'), purgeIntervalMs: 0 });
    const tracer = createTracer();
    const warnings: string[] = [];
    const assembler = createIngestAssembler({ store, tracer, logger: { warn: (_f, m) => warnings.push(m) } });
    await store.close();
    const outcome = await assembler.accept([]);
    expect(outcome).toMatchObject({ ok: false, reason: 'unavailable' });
    expect(await assembler.sweep()).toBe(0);
    expect(assembler.stats()).toMatchObject({ requests: 1, requestsRefused: 1, sweepErrors: 1 });
    expect(warnings).toHaveLength(2);
    await assembler.close();
  });

  it('rejects a malformed record in its outcome and validates its options', async () => {
    const store = createSqliteTraceStore({ path: path.join(dir, 'bad.db'), purgeIntervalMs: 0 });
    const assembler = createIngestAssembler({ store, tracer: createTracer() }).start();
    const bad = { traceId: 'nope', spans: [{}, {}] } as never;
    expect(await assembler.accept([bad])).toMatchObject({ ok: true, rejectedSpans: 2 });
    expect(() => createIngestAssembler({ store, tracer: createTracer(), settleMs: -1 })).toThrow(/settleMs/);
    await assembler.close();
    await store.close();
  });
});
