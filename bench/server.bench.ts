/**
 * Service benchmark: requests per second of `GET /api/circuits` and `GET /api/traces?limit=20` through the real
 * service (auth, rate limiter, request log, metrics, security headers) against a bare hello-world route of the same
 * framework (hono on @hono/node-server), against the ceiling (plain node:http sending the same bytes, rendered once:
 * what the response's size alone allows) and against the floor (the same framework serving the same circuit views
 * with `c.json` and no middleware; the goal is ≥ 50% of it), and OTLP/HTTP ingest spans per second against direct library
 * ingest (decode + `tracer.ingest`) of the same spans — servers in this process, load from autocannon in a process
 * of its own on 127.0.0.1.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { decodeOtlpBodyChunked } from '../src/server/otlpLimits.js';
import { table, type BenchSuite } from './lib.js';
import { autocannon, CASES, startServerCases, type CaseName } from './serverCases.js';

function otlpBody(spans: number): string {
  const now = Date.now();
  const list = Array.from({ length: spans }, (_, i) => ({
    traceId: (Math.floor(i / 10) + 1).toString(16).padStart(32, 'a'),
    spanId: (i + 1).toString(16).padStart(16, '0'),
    parentSpanId: i % 10 === 0 ? '' : (i - (i % 10) + 1).toString(16).padStart(16, '0'),
    name: i % 10 === 0 ? 'invoke_agent bench' : 'chat model',
    startTimeUnixNano: `${now}000000`,
    endTimeUnixNano: `${now + 5}000000`,
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: i % 10 === 0 ? 'invoke_agent' : 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'model-x' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
    ],
  }));
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'bench' } }] }, scopeSpans: [{ spans: list }] }] });
}

const suite: BenchSuite = {
  name: 'server',
  title: 'Service: requests per second and OTLP ingest',
  async run({ smoke }) {
    const seconds = smoke ? 1 : 8;
    const servers = await startServerCases({ traces: smoke ? 50 : 2000 });
    const { svc, ceilingBody, dir } = servers;
    try {
      const headers = servers.cases.circuits.headers;
      // The machine's speed drifts by tens of percent within a minute (shared, virtualised), so the cases run in
      // rounds of equal length, each round in a rotated order, and each case's rate is the mean of its rounds.
      const rounds = smoke ? 1 : 4;
      const slice = Math.max(1, Math.round(seconds / rounds));
      const cases = CASES.map((key) => ({ key, ...servers.cases[key] }));
      const perRound: Record<CaseName, number[]> = { bare: [], ceiling: [], floor: [], circuits: [], traces: [] };
      // A warm-up second per case first (not counted): JIT compilation and the first connections stay out of the rounds.
      if (!smoke) for (const c of cases) await autocannon(c, { seconds: 1 });
      for (let r = 0; r < rounds; r++) {
        for (let i = 0; i < cases.length; i++) {
          const c = cases[(i + r) % cases.length]!;
          perRound[c.key].push(await autocannon(c, { seconds: slice }));
        }
      }
      const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const bareRps = mean(perRound.bare);
      const ceilingRps = mean(perRound.ceiling);
      const floorRps = mean(perRound.floor);
      const circuitsRps = mean(perRound.circuits);
      const tracesRps = mean(perRound.traces);
      const circuitsRatios = perRound.circuits.map((v, i) => v / perRound.floor[i]!);

      const spansPerRequest = 100;
      const body = otlpBody(spansPerRequest);
      const before = svc.store.counters();
      const bodyFile = path.join(dir, 'otlp.json');
      writeFileSync(bodyFile, body);
      // Direct library ingest of the same body, alternating with the HTTP runs: what the route does without HTTP, auth
      // and rate limit (the chunked decode, then the assembler writing the spans to the store's pending area), so both
      // sides end at the same place. Both send the same spans again and again: after the first they are duplicates.
      const bytes = new TextEncoder().encode(body);
      let directSpans = 0;
      let ingestRequestsPerSec = 0;
      const ingest = (s: number) => autocannon({ url: `${svc.url}/v1/traces`, headers: { ...headers, 'content-type': 'application/json' } }, { seconds: s }, { bodyFile });
      if (!smoke) await ingest(1);
      for (let r = 0; r < rounds; r++) {
        ingestRequestsPerSec += (await ingest(slice)) / rounds;
        const deadline = performance.now() + slice * 1000;
        while (performance.now() < deadline) {
          const decoded = await decodeOtlpBodyChunked('application/json', bytes);
          if (!decoded.ok) throw decoded.error;
          const outcome = await svc.ingest.accept(decoded.value.traces);
          if (!outcome.ok) throw new Error(`direct ingest refused: ${outcome.message}`);
          directSpans += spansPerRequest;
        }
      }
      const httpSpansPerSec = ingestRequestsPerSec * spansPerRequest;
      const directPerSec = directSpans / (slice * rounds);
      // HTTP ingest goes through the pending area of the store: assemble what is pending before reading the counts.
      await svc.ingest.flush();
      await svc.tracer.forceFlush();
      const after = svc.store.counters();
      const d = (k: 'ingestSpansAccepted' | 'ingestSpansDuplicate' | 'tracesFinalized' | 'tracesSampledOut') => (after[k] ?? 0) - (before[k] ?? 0);

      const pct = (a: number, b: number) => `${((a / b) * 100).toFixed(0)}%`;
      const rows = [
        ['bare hono `GET /` (baseline)', bareRps.toFixed(0), '100%', '', ''],
        [`plain node:http, the same ${Buffer.byteLength(ceilingBody)} bytes rendered once (ceiling)`, ceilingRps.toFixed(0), pct(ceilingRps, bareRps), pct(ceilingRps, floorRps), 'report'],
        ['same framework, `c.json` of the same circuit views per request, no middleware (floor)', floorRps.toFixed(0), pct(floorRps, bareRps), '100%', 'report'],
        ['`GET /api/circuits` (5 circuits)', circuitsRps.toFixed(0), pct(circuitsRps, bareRps), pct(circuitsRps, floorRps), '≥ 50% of floor'],
        ['`GET /api/traces?limit=20`', tracesRps.toFixed(0), pct(tracesRps, bareRps), pct(tracesRps, floorRps), 'report'],
      ];
      const ingestRows = [
        ['direct library ingest (chunked decode + assembler accept: pending writes)', directPerSec.toFixed(0), '100%', ''],
        [`OTLP/HTTP JSON, ${spansPerRequest} spans per request`, httpSpansPerSec.toFixed(0), pct(httpSpansPerSec, directPerSec), '≥ 50% of direct'],
      ];
      return {
        markdown: [
          `autocannon, 20 connections, ${rounds} round${rounds > 1 ? 's' : ''} of ${slice} s per case (each round in a rotated order; ` +
            'req/s is the mean over the rounds), on 127.0.0.1 (2 cores shared), in a process of its own so that the load ' +
            "generator's work does not count against the server; any non-2xx answer or socket error fails the run.",
          '',
          table(['route', 'req/s', 'vs bare', 'vs floor', 'goal'], rows),
          '',
          `\`GET /api/circuits\` vs floor, round by round: ${circuitsRatios.map((x) => `${(x * 100).toFixed(0)}%`).join(', ')}.`,
          '',
          table(['ingest path', 'spans/s', 'vs direct', 'goal'], ingestRows),
          '',
          'Ingest during the runs (both paths): ' +
            `${d('ingestSpansAccepted')} spans written to the pending area, ${d('ingestSpansDuplicate')} duplicates (the same body again), ` +
            `${d('tracesFinalized')} traces assembled and stored, ${d('tracesSampledOut')} sampled out.`,
        ].join('\n'),
      };
    } finally {
      await servers.close();
    }
  },
};

export default suite;
