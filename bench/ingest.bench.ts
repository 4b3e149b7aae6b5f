/**
 * OTLP ingest assembly benchmark: spans per second through `POST /v1/traces` of the real service (SQLite file, sample
 * rate 1) for traces of 100 spans sent whole (one request per trace) versus split across 10 and 100 requests, the
 * split requests of all traces interleaved and the root last, as exporters send them. Each figure includes the
 * assembly (the sweep that finalizes every trace), so it is the rate at which spans become stored traces. Modes
 * run in rounds, rotated; the client (fetch, 8 requests in flight) shares this process with the server.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { startService } from '../src/server/service.js';
import { table, type BenchSuite } from './lib.js';

const API = `api-${'b'.repeat(30)}`;
const ADMIN = `admin-${'c'.repeat(30)}`;
const SPANS_PER_TRACE = 100;
const IN_FLIGHT = 8;

type Span = Record<string, unknown>;

function traceSpans(): Span[] {
  const traceId = randomBytes(16).toString('hex');
  const root = randomBytes(8).toString('hex');
  const now = Date.now();
  return Array.from({ length: SPANS_PER_TRACE }, (_, i) => ({
    traceId,
    spanId: i === 0 ? root : randomBytes(8).toString('hex'),
    ...(i === 0 ? {} : { parentSpanId: root }),
    name: i === 0 ? 'invoke_agent bench' : 'chat model-x',
    startTimeUnixNano: `${now + i}000000`,
    endTimeUnixNano: `${now + 200 - i}000000`,
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: i === 0 ? 'invoke_agent' : 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'model-x' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
    ],
  }));
}

/** Request bodies for `traces` traces, each split into `parts` requests (children first, root in the last part). */
function bodies(traces: number, parts: number): string[] {
  const perPart = SPANS_PER_TRACE / parts;
  const split = Array.from({ length: traces }, () => {
    const spans = traceSpans().reverse();
    return Array.from({ length: parts }, (_, p) => spans.slice(p * perPart, (p + 1) * perPart));
  });
  const out: string[] = [];
  // Interleaved: part p of every trace before part p + 1 of any.
  for (let p = 0; p < parts; p++) {
    for (const t of split) out.push(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: t[p] }] }] }));
  }
  return out;
}

const suite: BenchSuite = {
  name: 'ingest',
  title: 'OTLP ingest: traces split across requests versus whole',
  async run({ smoke }) {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentex-bench-ingest-'));
    const svc = await startService({
      env: { AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: ADMIN, AGENTEX_SAMPLE_RATE: '1', AGENTEX_RATE_LIMIT: '10000000', AGENTEX_INGEST_SETTLE_MS: '60000' },
      flags: { '--port': '0', '--sqlite-path': path.join(dir, 'ingest.db') },
      logger: pino({ level: 'silent' }),
    });
    const traces = smoke ? 10 : 100;
    const rounds = smoke ? 1 : 3;
    const modes = [1, 10, 100];
    const rates = new Map<number, number[]>(modes.map((m) => [m, []]));
    const post = (body: string) =>
      fetch(`${svc.url}/v1/traces`, { method: 'POST', headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' }, body }).then(async (res) => {
        if (res.status !== 200) throw new Error(`ingest answered ${res.status}`);
        await res.arrayBuffer();
      });
    try {
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < modes.length; i++) {
          const parts = modes[(i + r) % modes.length]!;
          const list = bodies(traces, parts);
          const started = performance.now();
          let next = 0;
          await Promise.all(
            Array.from({ length: IN_FLIGHT }, async () => {
              while (next < list.length) await post(list[next++]!);
            }),
          );
          const finalized = await svc.ingest.flush();
          const seconds = (performance.now() - started) / 1000;
          if (finalized !== traces) throw new Error(`expected ${traces} traces finalized, got ${finalized}`);
          rates.get(parts)!.push((traces * SPANS_PER_TRACE) / seconds);
        }
      }
    } finally {
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const whole = median(rates.get(1)!);
    const rows = modes.map((m) => {
      const v = median(rates.get(m)!);
      return [m === 1 ? 'whole: 1 request per trace (baseline)' : `split: ${m} requests per trace`, v.toFixed(0), `${((v / whole) * 100).toFixed(0)}%`, m === 1 ? '' : '≥ 50% of whole'];
    });
    return {
      markdown:
        table(['traces of 100 spans sent as', 'spans/s stored (incl. assembly)', 'vs whole', 'goal'], rows) +
        `\n\n${traces} traces per mode and round, ${rounds} rounds (median), ${IN_FLIGHT} requests in flight, SQLite store, sample rate 1.`,
    };
  },
};

export default suite;
