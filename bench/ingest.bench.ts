/**
 * OTLP ingest benchmark.
 * 1. Split vs whole: spans per second through `POST /v1/traces` of the real service (in this process, SQLite store,
 *    sample rate 1) for traces of 100 spans sent in 1, 10 and 100 requests each, against the same spans sent whole
 *    (all traces in one request), same run. Time runs from the first request until every answer is in and the tracer
 *    has flushed to the store.
 * 2. Decoding: adversarial bodies at the body limit (5 MB of empty spans, one span of empty attributes; protobuf and
 *    JSON) and the largest accepted request, each in a process of its own: peak RSS growth and the longest event-loop
 *    block, bounded (pre-scan) against unbounded (materialise first, as ingest did before).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createLogger } from '../src/server/logger.js';
import { decodeOtlpBody } from '../src/server/otlpLimits.js';
import { encodeOtlpProtobufRequest } from '../src/server/otlpProto.js';
import { startService } from '../src/server/service.js';
import { formatBytes, table, type BenchSuite } from './lib.js';

const TOKEN = `bench-${'i'.repeat(30)}`;
const here = path.dirname(fileURLToPath(import.meta.url));
const SPANS_PER_TRACE = 100;

function traceSpans(t: number, now: number): Record<string, unknown>[] {
  const traceId = (t + 1).toString(16).padStart(32, 'b');
  const root = `${(t + 1).toString(16).padStart(8, '0')}00000001`;
  return Array.from({ length: SPANS_PER_TRACE }, (_, i) => ({
    traceId,
    spanId: i === 0 ? root : `${(t + 1).toString(16).padStart(8, '0')}${(i + 1).toString(16).padStart(8, '0')}`,
    parentSpanId: i === 0 ? '' : root,
    name: i === 0 ? 'invoke_agent bench' : i % 2 ? 'chat model-x' : 'execute_tool lookup',
    startTimeUnixNano: `${now}000000`,
    endTimeUnixNano: `${now + 5}000000`,
    attributes:
      i === 0
        ? [
            { key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } },
            { key: 'gen_ai.agent.name', value: { stringValue: 'bench' } },
          ]
        : i % 2
          ? [
              { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
              { key: 'gen_ai.request.model', value: { stringValue: 'model-x' } },
              { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
              { key: 'gen_ai.usage.output_tokens', value: { intValue: '30' } },
            ]
          : [
              { key: 'gen_ai.operation.name', value: { stringValue: 'execute_tool' } },
              { key: 'gen_ai.tool.name', value: { stringValue: 'lookup' } },
            ],
  }));
}

const body = (spans: Record<string, unknown>[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] });

/** Request bodies for `traces` traces, each split into `parts` requests (children first, the root last). */
function bodies(traces: number, parts: number | 'whole', now: number): string[] {
  const all = Array.from({ length: traces }, (_, t) => traceSpans(t, now));
  if (parts === 'whole') return [body(all.flat())];
  const out: string[] = [];
  const per = SPANS_PER_TRACE / parts;
  for (const spans of all) {
    const ordered = [...spans.slice(1), spans[0]!];
    for (let p = 0; p < parts; p++) out.push(body(ordered.slice(p * per, (p + 1) * per)));
  }
  return out;
}

async function post(url: string, list: string[], concurrency: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const b = list[next++]!;
      const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: b });
      if (res.status !== 200) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

interface DecodeResult {
  case: string;
  mode: string;
  bytes: number;
  outcome: string;
  blockMs: number;
  loopDelayMaxMs: number;
  rssGrowthBytes: number;
}

function decodeCase(name: string, mode: 'bounded' | 'unbounded', scale: number): Promise<DecodeResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', path.join(here, 'ingestDecodeCase.ts'), name, mode, String(scale)],
      { maxBuffer: 1 << 20, timeout: 300_000 },
      (err, stdout) => (err ? reject(new Error(`decode case ${name} failed`, { cause: err })) : resolve(JSON.parse(stdout.trim().split('\n').pop()!) as DecodeResult)),
    );
  });
}

/** Realistic GenAI chat spans (message contents of ~300 bytes), 100 per trace, as OTLP JSON (hex ids). */
function chatSpans(n: number, now: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    traceId: (Math.floor(i / 100) + 1).toString(16).padStart(32, 'c'),
    spanId: (i + 1).toString(16).padStart(16, '0'),
    name: 'chat model-x',
    startTimeUnixNano: `${now}000000`,
    endTimeUnixNano: `${now + 5}000000`,
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'model-x' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
      { key: 'gen_ai.usage.output_tokens', value: { intValue: '30' } },
      { key: 'gen_ai.input.messages', value: { stringValue: `[{"role":"user","parts":[{"type":"text","content":"question ${i} ${'x'.repeat(200)}"}]}]` } },
      { key: 'gen_ai.output.messages', value: { stringValue: `[{"role":"assistant","parts":[{"type":"text","content":"answer ${'y'.repeat(100)}"}]}]` } },
    ],
  }));
}

function chatBody(type: 'json' | 'protobuf', n: number): Uint8Array {
  const spans = chatSpans(n, Date.now());
  if (type === 'json') return Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }));
  const b64 = (hex: unknown) => Buffer.from(String(hex), 'hex').toString('base64');
  return encodeOtlpProtobufRequest({ resourceSpans: [{ scopeSpans: [{ spans: spans.map((s) => ({ ...s, traceId: b64(s.traceId), spanId: b64(s.spanId) })) }] }] });
}

/** The longest event-loop block while `work` runs: a setImmediate probe's longest gap and monitorEventLoopDelay's max. */
async function longestBlock(work: () => Promise<unknown>): Promise<{ probeMs: number; delayMs: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  let probing = true;
  let last = performance.now();
  let probeMs = 0;
  const probe = () => {
    const now = performance.now();
    probeMs = Math.max(probeMs, now - last);
    last = now;
    if (probing) setImmediate(probe);
  };
  histogram.enable();
  setImmediate(probe);
  try {
    await work();
  } finally {
    // One more timer turn, so the monitor records the last block.
    await new Promise((r) => setTimeout(r, 20));
    probing = false;
    histogram.disable();
  }
  return { probeMs, delayMs: histogram.max / 1e6 };
}

/**
 * Event-loop blocking while the service ingests large valid bodies (in this process, SQLite, body limit raised to
 * 16 MB for the 10,000-span request): the request (decode, redaction, pending writes) and the sweep that assembles
 * and stores the traces, against the synchronous decode alone (`decodeOtlpBody`, one block) of the same body.
 */
async function loopCases(smoke: boolean): Promise<string[][]> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentex-bench-ingest-loop-'));
  const svc = await startService({
    env: { AGENTEX_API_TOKEN: TOKEN, AGENTEX_RATE_LIMIT: '100000000', AGENTEX_INGEST_RATE_LIMIT: '100000000', AGENTEX_SAMPLE_RATE: '1', AGENTEX_INGEST_SETTLE_MS: '600000', AGENTEX_BODY_LIMIT_BYTES: String(16 << 20) },
    flags: { '--port': '0', '--sqlite-path': path.join(dir, 'bench.db') },
    logger: createLogger('info', new Writable({ write: (_c, _e, cb) => cb() })),
  });
  const rows: string[][] = [];
  try {
    // Warm up (first request compiles the route and prepares the statements), then measure.
    const warm = chatBody('json', 10);
    for (let i = 0; i < 3; i++) await fetch(`${svc.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: warm as unknown as BodyInit }).then((r) => r.arrayBuffer());
    await svc.ingest.flush();
    // The largest realistic bodies within the default 5 MB limit, and the largest accepted request (10,000 spans).
    const cases: [string, 'json' | 'protobuf', number][] = smoke
      ? [['JSON, 100 spans', 'json', 100]]
      : [['JSON, 4,500 spans (< 5 MB)', 'json', 4500], ['protobuf, 6,500 spans (< 5 MB)', 'protobuf', 6500], ['JSON, 10,000 spans', 'json', 10_000], ['protobuf, 10,000 spans', 'protobuf', 10_000]];
    for (const [label, type, n] of cases) {
      const body = chatBody(type, n);
      const contentType = type === 'json' ? 'application/json' : 'application/x-protobuf';
      const sync = await longestBlock(async () => decodeOtlpBody(contentType, body));
      const request = await longestBlock(async () => {
        const res = await fetch(`${svc.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': contentType }, body: body as unknown as BodyInit });
        if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
        await res.arrayBuffer();
      });
      const sweep = await longestBlock(() => svc.ingest.flush());
      const ms = (x: { probeMs: number; delayMs: number }) => `${x.probeMs.toFixed(0)} ms (${x.delayMs.toFixed(0)} ms)`;
      rows.push([label, formatBytes(body.length), ms(sync), ms(request), ms(sweep)]);
    }
  } finally {
    await svc.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const suite: BenchSuite = {
  name: 'ingest',
  title: 'OTLP ingest: split traces and bounded decoding',
  async run({ smoke }) {
    const traces = smoke ? 4 : 100;
    const rounds = smoke ? 1 : 3;
    const dir = mkdtempSync(path.join(tmpdir(), 'agentex-bench-ingest-'));
    const svc = await startService({
      env: { AGENTEX_API_TOKEN: TOKEN, AGENTEX_RATE_LIMIT: '100000000', AGENTEX_SAMPLE_RATE: '1' },
      flags: { '--port': '0', '--sqlite-path': path.join(dir, 'bench.db') },
      logger: createLogger('info', new Writable({ write: (_c, _e, cb) => cb() })),
    });
    const url = `${svc.url}/v1/traces`;
    const variants = ['whole', 1, 10, 100] as const;
    const rates: Record<string, number[]> = {};
    try {
      for (let r = 0; r < rounds; r++) {
        // A fresh timestamp per round: new trace ids would be fairer still, but the store's upsert cost is the same.
        for (let v = 0; v < variants.length; v++) {
          const parts = variants[(v + r) % variants.length]!;
          const list = bodies(traces, parts, Date.now() + r);
          const t0 = performance.now();
          await post(url, list, 8);
          await svc.tracer.forceFlush();
          const seconds = (performance.now() - t0) / 1000;
          (rates[String(parts)] ??= []).push((traces * SPANS_PER_TRACE) / seconds);
        }
      }
    } finally {
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const whole = mean(rates.whole!);
    const splitRows = variants.map((p) => {
      const rate = mean(rates[String(p)]!);
      const label = p === 'whole' ? `all ${traces} traces in one request (baseline)` : `each trace in ${p} request${p === 1 ? '' : 's'} (${SPANS_PER_TRACE / p} spans each)`;
      return [label, String(p === 'whole' ? 1 : traces * p), rate.toFixed(0), `${((rate / whole) * 100).toFixed(0)}%`];
    });

    const scale = smoke ? 0.01 : 1;
    // Smoke: two cases prove the child-process path works; the full run measures all of them.
    const cases = smoke ? ['proto-spans', 'json-largest'] : ['proto-spans', 'proto-attributes', 'json-spans', 'json-attributes', 'proto-largest', 'json-largest'];
    const decodeRows: string[][] = [];
    for (const c of cases) {
      const modes = smoke || c.endsWith('largest') ? (['bounded'] as const) : (['bounded', 'unbounded'] as const);
      for (const mode of modes) {
        const d = await decodeCase(c, mode, scale);
        decodeRows.push([c, mode, formatBytes(d.bytes), d.outcome, formatBytes(d.rssGrowthBytes), `${d.blockMs.toFixed(0)} ms`, `${d.loopDelayMaxMs.toFixed(0)} ms`]);
      }
    }

    const loopRows = await loopCases(smoke);

    const markdown = [
      `Spans per second through \`POST /v1/traces\` (JSON, 8 concurrent requests, SQLite store, sample rate 1), ${traces} traces of ${SPANS_PER_TRACE} spans, mean of ${rounds} rounds in rotated order; time until every answer is in and the tracer has flushed. Goal: split ≥ 50% of whole.`,
      '',
      table(['sent as', 'requests', 'spans/s', 'vs whole'], splitRows),
      '',
      'Decoding, each case in a process of its own: peak RSS growth during the decode and the longest event-loop block (the synchronous decode; `monitorEventLoopDelay` max alongside). Bounded = pre-scan within the limits, then materialise; unbounded = materialise first (ingest before the pre-scan). The `largest` cases are the largest accepted request: 10,000 GenAI spans with message contents (over the default 5 MB body limit, so they bound any accepted body).',
      '',
      table(['body', 'decoder', 'size', 'outcome', 'peak RSS growth', 'event-loop block', 'loop delay max'], decodeRows),
      '',
      'Event loop while the service ingests large valid bodies of realistic GenAI spans (in this process, SQLite, body limit raised to 16 MB for the 10,000-span request): the longest gap of a `setImmediate` probe (in parentheses `monitorEventLoopDelay` max) during the synchronous decode alone, during the whole request (decode and mapping in chunks of 256 spans, redaction in chunks, pending writes in transactions of 1,000 spans, each step followed by a yield), and during the sweep that assembles and stores the traces. Goal: no block over 100 ms for any body within the body limit.',
      '',
      table(['body', 'size', 'synchronous decode (one block)', 'request (chunked)', 'sweep'], loopRows),
    ].join('\n');
    return { markdown };
  },
};

export default suite;
