/**
 * `npm run loadtest`: starts the real service (`agentex serve`, its own process) on 127.0.0.1 with a temp SQLite
 * store and drives it with autocannon for a bounded time: OTLP ingest at a fixed rate, mixed with trace list, trace
 * detail and circuit reads, each route its own autocannon run so latency is reported per route. Reports throughput,
 * p50/p99 latency, errors, traces sent vs stored + sampled out (from the service's own /metrics), and the service's
 * memory at start and end, and writes the report to docs/loadtest.md.
 *
 *   npm run loadtest                       # 30 s, writes docs/loadtest.md
 *   npm run loadtest -- --duration 60 --ingest-rate 100
 *   npm run loadtest -- --smoke            # a few seconds, checks the goals, writes nothing (CI)
 *
 * Exits 1 when a goal is missed: any error, any trace unaccounted for (stored + sampled out ≠ sent), or (full runs
 * only) memory growth of 20% or more.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';

const ROOT = path.resolve(import.meta.dirname, '..');
/** Memory growth (RSS, start → end) a full run must stay under. */
export const MAX_MEMORY_GROWTH = 0.2;
/** Bound on waiting for the service to start, and for the trace queue to drain after the load. */
const START_TIMEOUT_MS = 30_000;
const DRAIN_TIMEOUT_MS = 15_000;
/**
 * Preloaded into the service (harness only): a full GC on SIGUSR2, so memory is compared after collection — what
 * is retained, not how much garbage the last GC cycle happened to leave.
 */
const GC_ON_SIGNAL = "data:text/javascript,process.on('SIGUSR2',()=>globalThis.gc&&globalThis.gc())";

interface Options {
  durationS: number;
  ingestRate: number;
  tracesPerRequest: number;
  readRate: number;
  errorShare: number;
  sampleRate: number;
  connections: number;
  smoke: boolean;
  out: string | null;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      duration: { type: 'string' },
      'ingest-rate': { type: 'string' },
      'traces-per-request': { type: 'string', default: '5' },
      'read-rate': { type: 'string' },
      'error-share': { type: 'string', default: '0.05' },
      'sample-rate': { type: 'string', default: '0.1' },
      connections: { type: 'string', default: '4' },
      smoke: { type: 'boolean', default: false },
      out: { type: 'string' },
    },
    strict: true,
  });
  const num = (name: string, raw: string | undefined, fallback: number, min: number, max: number): number => {
    const v = raw === undefined ? fallback : Number(raw);
    if (!Number.isFinite(v) || v < min || v > max) throw new Error(`Expected --${name} to be a number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    return v;
  };
  const smoke = values.smoke ?? false;
  return {
    durationS: num('duration', values.duration, smoke ? 4 : 30, 1, 3600),
    ingestRate: num('ingest-rate', values['ingest-rate'], smoke ? 20 : 50, 1, 10_000),
    tracesPerRequest: num('traces-per-request', values['traces-per-request'], 5, 1, 100),
    readRate: num('read-rate', values['read-rate'], smoke ? 10 : 40, 1, 10_000),
    errorShare: num('error-share', values['error-share'], 0.05, 0, 1),
    sampleRate: num('sample-rate', values['sample-rate'], 0.1, 0, 1),
    connections: num('connections', values.connections, 4, 1, 1000),
    smoke,
    out: values.out ?? (smoke ? null : path.join(ROOT, 'docs/loadtest.md')),
  };
}

/** Starts `agentex serve` in its own process and resolves with its URL once it is listening. */
function startServer(sqlitePath: string, tokens: { api: string; admin: string }, sampleRate: number): Promise<{ child: ChildProcess; url: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', GC_ON_SIGNAL, '--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', '--sqlite-path', sqlitePath, '--sample-rate', String(sampleRate)], {
      cwd: ROOT,
      env: {
        ...process.env,
        AGENTEX_API_TOKEN: tokens.api,
        AGENTEX_ADMIN_TOKEN: tokens.admin,
        // Rate limits would turn the load into 429s; this measures the service, not the limiter.
        AGENTEX_RATE_LIMIT: '10000000',
        AGENTEX_INGEST_RATE_LIMIT: '10000000',
        AGENTEX_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`service did not start within ${START_TIMEOUT_MS} ms: ${err}`)), START_TIMEOUT_MS);
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    child.stdout.on('data', (d: Buffer) => {
      if (out === null) return;
      out += d.toString();
      const m = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        out = '';
        // Keep draining stdout (the access log) so the service never blocks on a full pipe.
        child.stdout.removeAllListeners('data');
        child.stdout.resume();
        resolve({ child, url: m[1]! });
      } else if (out.length > 100_000) out = out.slice(-10_000);
    });
    child.once('exit', (code) => reject(new Error(`service exited with ${code}: ${err}`)));
  });
}

interface Scrape {
  traces: Record<'stored' | 'sampled_out' | 'dropped' | 'lost', number>;
  /** Ingested traces waiting for assembly in the store. */
  pending: number;
  rssBytes: number;
  heapUsedBytes: number;
}

/** Collects the service's garbage, then scrapes (memory numbers are then live data only). */
async function scrapeAfterGc(child: ChildProcess, url: string): Promise<Scrape> {
  child.kill('SIGUSR2');
  await new Promise((r) => setTimeout(r, 500));
  return scrape(url);
}

async function scrape(url: string): Promise<Scrape> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (re: RegExp) => Number(re.exec(text)?.[1] ?? Number.NaN);
  // Ingested traces are assembled in the store: stored (whole or partial) or sampled out once assembled.
  const ingested = (result: string) => value(new RegExp(`^agentex_ingest_traces_total\\{result="${result}"\\} (\\S+)$`, 'm')) || 0;
  return {
    traces: {
      stored: ingested('stored') + ingested('stored_partial'),
      sampled_out: ingested('sampled_out'),
      dropped: value(/^agentex_traces_total\{outcome="dropped"\} (\S+)$/m),
      lost: value(/^agentex_traces_total\{outcome="lost"\} (\S+)$/m),
    },
    pending: value(/^agentex_ingest_pending\{unit="traces"\} (\S+)$/m),
    rssBytes: value(/^agentex_process_resident_memory_bytes (\S+)$/m),
    heapUsedBytes: value(/^agentex_nodejs_heap_size_used_bytes (\S+)$/m),
  };
}

/** One OTLP/JSON request body with `n` fresh agent traces (about `errorShare` of them failed). */
function otlpBody(n: number, errorShare: number): string {
  const now = BigInt(Date.now()) * 1_000_000n;
  const spans = [];
  for (let i = 0; i < n; i++) {
    const traceId = randomBytes(16).toString('hex');
    const root = randomBytes(8).toString('hex');
    const failed = Math.random() < errorShare;
    spans.push(
      {
        traceId,
        spanId: root,
        name: 'invoke_agent loadtest',
        startTimeUnixNano: String(now),
        endTimeUnixNano: String(now + 120_000_000n),
        attributes: [
          { key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } },
          { key: 'gen_ai.agent.name', value: { stringValue: 'loadtest' } },
          { key: 'user.id', value: { stringValue: `user-${i % 50}` } },
        ],
        status: failed ? { code: 2, message: 'model call failed' } : { code: 1 },
      },
      {
        traceId,
        spanId: randomBytes(8).toString('hex'),
        parentSpanId: root,
        name: 'chat claude',
        startTimeUnixNano: String(now + 1_000_000n),
        endTimeUnixNano: String(now + 100_000_000n),
        attributes: [
          { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
          { key: 'gen_ai.request.model', value: { stringValue: 'claude-sonnet-4-5' } },
          { key: 'gen_ai.usage.input_tokens', value: { intValue: '812' } },
          { key: 'gen_ai.usage.output_tokens', value: { intValue: '164' } },
        ],
        status: { code: 1 },
      },
      {
        traceId,
        spanId: randomBytes(8).toString('hex'),
        parentSpanId: root,
        name: 'execute_tool web_search',
        startTimeUnixNano: String(now + 100_000_000n),
        endTimeUnixNano: String(now + 118_000_000n),
        attributes: [
          { key: 'gen_ai.operation.name', value: { stringValue: 'execute_tool' } },
          { key: 'gen_ai.tool.name', value: { stringValue: 'web_search' } },
        ],
        status: { code: 1 },
      },
    );
  }
  return JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'loadtest' } }] }, scopeSpans: [{ spans }] }] });
}

interface RouteResult {
  route: string;
  requests: number;
  throughput: number;
  p50: number;
  p99: number;
  max: number;
  errors: number;
  non2xx: number;
}

function drive(
  route: string,
  url: string,
  opts: { durationS: number; rate: number; connections: number; token: string },
  request: autocannon.Request,
): Promise<RouteResult> {
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url,
        connections: opts.connections,
        duration: opts.durationS,
        overallRate: opts.rate,
        headers: { authorization: `Bearer ${opts.token}` },
        requests: [request],
        timeout: 10,
      },
      (err, result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        resolve({
          route,
          requests: result.requests.total,
          throughput: result.requests.total / opts.durationS,
          p50: result.latency.p50,
          p99: result.latency.p99,
          max: result.latency.max,
          errors: result.errors + result.timeouts,
          non2xx: result.non2xx,
        });
      },
    );
  });
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export async function runLoadtest(argv: string[]): Promise<number> {
  const o = parseOptions(argv);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'agentex-loadtest-'));
  const sqlitePath = path.join(dir, 'agentex.db');
  const tokens = { api: randomBytes(24).toString('base64url'), admin: randomBytes(24).toString('base64url') };
  const { child, url } = await startServer(sqlitePath, tokens, o.sampleRate);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const auth = { authorization: `Bearer ${tokens.api}`, 'content-type': 'application/json' };
    // Seed: failed traces (always kept) whose ids the detail reads use.
    const seedBody = JSON.parse(otlpBody(200, 1)) as { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
    const ids = [...new Set(seedBody.resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.traceId))];
    const seeded = await fetch(`${url}/v1/traces`, { method: 'POST', headers: auth, body: JSON.stringify(seedBody) });
    if (seeded.status !== 200) throw new Error(`seeding answered ${seeded.status}`);
    // Drained: nothing waits for assembly and the counts hold still on two scrapes in a row.
    const settled = (x: Scrape) => x.pending === 0;
    const waitDrained = async (): Promise<Scrape> => {
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      let previous: Scrape | undefined;
      for (;;) {
        await new Promise((r) => setTimeout(r, 250));
        const s = await scrape(url);
        if ((settled(s) && previous && settled(previous) && previous.traces.stored + previous.traces.sampled_out === s.traces.stored + s.traces.sampled_out) || Date.now() > deadline) return s;
        previous = s;
      }
    };
    await waitDrained();
    // Warm up every route of the mix (JIT, SQLite page cache, pools, V8 heap sizing) before the memory baseline,
    // then let the warm-up's traces drain so they are not counted in the run.
    const warmupS = o.smoke ? 1 : Math.min(10, Math.max(2, Math.round(o.durationS / 3)));
    const warm = { durationS: warmupS, connections: o.connections, token: tokens.api };
    await Promise.all([
      drive('warmup ingest', url, { ...warm, rate: o.ingestRate }, {
        method: 'POST',
        path: '/v1/traces',
        headers: auth,
        setupRequest: (req) => ({ ...req, body: otlpBody(o.tracesPerRequest, o.errorShare) }),
      }),
      drive('warmup list', url, { ...warm, rate: o.readRate }, { method: 'GET', path: '/api/traces?limit=20' }),
      drive('warmup circuits', url, { ...warm, rate: o.readRate }, { method: 'GET', path: '/api/circuits' }),
    ]);
    await waitDrained();
    const before = await scrapeAfterGc(child, url);

    let sentTraces = 0;
    const common = { durationS: o.durationS, connections: o.connections, token: tokens.api };
    process.stderr.write(`loadtest: ${o.durationS} s against ${url}: ingest ${o.ingestRate} req/s × ${o.tracesPerRequest} traces, reads ${o.readRate} req/s per route\n`);
    const results = await Promise.all([
      drive('POST /v1/traces (OTLP JSON)', url, { ...common, rate: o.ingestRate }, {
        method: 'POST',
        path: '/v1/traces',
        headers: auth,
        setupRequest: (req) => ({ ...req, body: otlpBody(o.tracesPerRequest, o.errorShare) }),
        onResponse: (status) => {
          if (status === 200) sentTraces += o.tracesPerRequest;
        },
      }),
      drive('GET /api/traces', url, { ...common, rate: o.readRate }, { method: 'GET', path: '/api/traces?limit=20' }),
      drive('GET /api/traces/:id', url, { ...common, rate: o.readRate }, {
        method: 'GET',
        path: `/api/traces/${ids[0]}`,
        setupRequest: (req) => ({ ...req, path: `/api/traces/${ids[Math.floor(Math.random() * ids.length)]}` }),
      }),
      drive('GET /api/circuits', url, { ...common, rate: o.readRate }, { method: 'GET', path: '/api/circuits' }),
    ]);
    await waitDrained();
    const after = await scrapeAfterGc(child, url);
    child.kill('SIGTERM');
    await exited;
    const rows = (() => {
      const db = new Database(sqlitePath, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM traces').get() as { n: number }).n;
      } finally {
        db.close();
      }
    })();

    const d = (k: keyof Scrape['traces']) => after.traces[k] - before.traces[k];
    const accounted = d('stored') + d('sampled_out');
    // Every trace of a request answered 200 is durable and assembled; received = assembled since the baseline.
    const received = accounted;
    const errors = results.reduce((s, r) => s + r.errors + r.non2xx, 0);
    const growth = after.rssBytes / before.rssBytes - 1;
    const goals = [
      { goal: '0 errors (connection errors, timeouts, non-2xx)', met: errors === 0, value: String(errors) },
      { goal: 'nothing left waiting for assembly after the drain', met: after.pending === 0, value: `${after.pending} pending` },
      {
        // autocannon stops with one request in flight per connection: the service may get it, its answer is not counted.
        goal: 'every trace answered 200 was received (received − answered ≤ one request per connection)',
        met: received >= sentTraces && received - sentTraces <= o.connections * o.tracesPerRequest,
        value: `${received} received, ${sentTraces} answered`,
      },
      { goal: '0 traces dropped or lost', met: d('dropped') === 0 && d('lost') === 0, value: `${d('dropped')} dropped, ${d('lost')} lost` },
      { goal: `memory growth (RSS) under ${pct(MAX_MEMORY_GROWTH)}`, met: o.smoke || growth < MAX_MEMORY_GROWTH, value: `${pct(growth)}${o.smoke ? ' (not judged in smoke runs)' : ''}` },
    ];
    const total = results.reduce((s, r) => s + r.requests, 0);
    const markdown = [
      '# Load test',
      '',
      'Generated by `npm run loadtest` (`scripts/loadtest.ts`): the real service (`agentex serve`, its own process, SQLite',
      'store in a temp directory, access log at `info`) driven by autocannon on the same machine. Each route is its own',
      'autocannon run, all running at the same time; latencies are per route and include coordinated-omission correction.',
      '',
      `- Run: ${new Date().toISOString()} · ${o.durationS} s · Node ${process.version} · ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? 'cpu'} (shared) · load average before ${os.loadavg()[0]!.toFixed(1)}`,
      `- Load: OTLP ingest ${o.ingestRate} req/s × ${o.tracesPerRequest} traces (3 spans each, ${pct(o.errorShare)} failed); list, detail and circuit reads ${o.readRate} req/s each; ${o.connections} connections per route`,
      `- Service: sample rate ${o.sampleRate} (failed traces always kept), rate limits raised out of the way`,
      '',
      '## Routes',
      '',
      '| Route | Requests | Throughput (req/s) | p50 | p99 | max | Errors | Non-2xx |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...results.map((r) => `| \`${r.route}\` | ${r.requests} | ${r.throughput.toFixed(1)} | ${r.p50} ms | ${r.p99} ms | ${r.max} ms | ${r.errors} | ${r.non2xx} |`),
      `| **all** | ${total} | ${(total / o.durationS).toFixed(1)} | | | | ${results.reduce((s, r) => s + r.errors, 0)} | ${results.reduce((s, r) => s + r.non2xx, 0)} |`,
      '',
      '## Traces',
      '',
      '| Sent (answered 200) | Received by the service | Stored | Sampled out | Dropped | Lost | Rows in the store after shutdown |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      `| ${sentTraces} | ${received} | ${d('stored')} | ${d('sampled_out')} | ${d('dropped')} | ${d('lost')} | ${rows} (incl. ${ids.length} seeded) |`,
      '',
      'Received (assembled: stored or sampled out), stored and sampled out come from `agentex_ingest_traces_total`, dropped',
      'and lost from `agentex_traces_total`, before and after the load. Received can exceed sent by the requests still in flight when',
      'autocannon stopped (at most one per connection): the service took them, autocannon did not count their answers.',
      '',
      '## Memory of the service',
      '',
      'Measured after a full GC of the service (so retained memory, not garbage awaiting collection).',
      '',
      '| | Start (after warm-up) | End (queue drained) | Growth |',
      '| --- | ---: | ---: | ---: |',
      `| RSS | ${mb(before.rssBytes)} | ${mb(after.rssBytes)} | ${pct(growth)} |`,
      `| Heap used | ${mb(before.heapUsedBytes)} | ${mb(after.heapUsedBytes)} | ${pct(after.heapUsedBytes / before.heapUsedBytes - 1)} |`,
      '',
      '## Goals',
      '',
      '| Goal | Result | |',
      '| --- | --- | --- |',
      ...goals.map((g) => `| ${g.goal} | ${g.value} | ${g.met ? 'met' : '**missed**'} |`),
      '',
    ].join('\n');
    process.stdout.write(`${markdown}\n`);
    if (o.out) {
      writeFileSync(o.out, markdown);
      process.stderr.write(`loadtest: report written to ${path.relative(process.cwd(), o.out)}\n`);
    }
    return goals.every((g) => g.met) ? 0 : 1;
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

runLoadtest(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`loadtest: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
