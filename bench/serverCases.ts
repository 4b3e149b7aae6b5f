/**
 * The servers the service benchmarks load, started in one process: the real service (auth, rate limiter, request
 * log, metrics, security headers) with five circuits and stored traces, a bare hello-world route of the same
 * framework (the baseline), the ceiling (plain node:http sending the circuits body rendered once: what the
 * response's size alone allows) and the floor (the same framework serving the same circuit views with `c.json` per
 * request and no middleware). Used by `server.bench.ts`
 * (requests per second) and `instructions.ts` (instructions per request under callgrind), with load from
 * {@link autocannon}.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { circuitBreaker } from '../src/resilience/index.js';
import { listen } from '../src/server/listen.js';
import { createLogger } from '../src/server/logger.js';
import { circuitView, startService, type RunningService } from '../src/server/service.js';
import { makeTrace } from '../src/store/testing/fixtures.js';

export const BENCH_TOKEN = `bench-${'t'.repeat(30)}`;

const AUTOCANNON_CLI = fileURLToPath(new URL('../node_modules/autocannon/autocannon.js', import.meta.url));

/** Where a load goes: a URL on 127.0.0.1 and the headers every request carries. */
export interface Target {
  url: string;
  headers: Record<string, string>;
}

/**
 * Load from autocannon (20 connections) in a process of its own, so the load generator's work (parsing every
 * response's headers and body) does not count against the server measured: for `seconds`, or for a fixed number of
 * `requests`. Resolves with the mean requests per second; rejects on any non-2xx answer or socket error.
 */
export function autocannon(target: Target, run: { seconds: number } | { requests: number }, post?: { bodyFile: string }): Promise<number> {
  const args = [AUTOCANNON_CLI, '-c', '20', '-j', ...('seconds' in run ? ['-d', String(run.seconds)] : ['-a', String(run.requests)])];
  for (const [k, v] of Object.entries(target.headers)) args.push('-H', `${k}=${v}`);
  if (post) args.push('-m', 'POST', '-i', post.bodyFile);
  args.push(target.url);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => {
      if (err) return reject(new Error(`autocannon failed for ${target.url}: ${err.message}`));
      try {
        const result = JSON.parse(stdout) as { requests: { average: number }; non2xx: number; errors: number };
        if (result.non2xx + result.errors > 0) return reject(new Error(`${target.url}: ${result.non2xx} non-2xx, ${result.errors} errors`));
        resolve(result.requests.average);
      } catch (parseErr) {
        reject(new Error(`autocannon output for ${target.url} is not JSON`, { cause: parseErr }));
      }
    });
  });
}

export const CASES = ['bare', 'ceiling', 'floor', 'circuits', 'traces'] as const;
export type CaseName = (typeof CASES)[number];

export interface ServerCases {
  svc: RunningService;
  /** Where each case is served, and the headers its requests carry. */
  cases: Record<CaseName, Target>;
  /** The circuits body the ceiling sends. */
  ceilingBody: string;
  /** The bench directory (SQLite file, request bodies); removed by close(). */
  dir: string;
  close(): Promise<void>;
}

const urlOf = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

export async function startServerCases({ traces }: { traces: number }): Promise<ServerCases> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentex-bench-server-'));
  const sink = new Writable({ write: (_c, _e, cb) => cb() });
  const svc = await startService({
    env: { AGENTEX_API_TOKEN: BENCH_TOKEN, AGENTEX_RATE_LIMIT: '100000000', AGENTEX_ADMIN_RATE_LIMIT: '1000000', AGENTEX_SAMPLE_RATE: '0.1' },
    flags: { '--port': '0', '--sqlite-path': path.join(dir, 'bench.db') },
    logger: createLogger('info', sink),
  });
  for (const name of ['exa', 'tavily', 'anthropic', 'openai', 'postgres']) svc.circuits.register(circuitBreaker({ name }));
  await svc.store.put(Array.from({ length: traces }, (_, i) => makeTrace({ userId: `u${i % 20}`, startedAt: Date.now() - i * 1000 })));

  const bare = new Hono().get('/', (c) => c.text('hello'));
  const bareServer = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: bare.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const views = () => svc.circuits.stats().map((s) => circuitView(s, null));
  const floor = new Hono().get('/', (c) => c.json({ circuits: views() }));
  const floorServer = await listen(floor, { hostname: '127.0.0.1', port: 0 });
  const ceilingBody = JSON.stringify({ circuits: views() });
  const ceilingServer = createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(ceilingBody) });
    res.end(ceilingBody);
  });
  await new Promise<void>((resolve) => ceilingServer.listen(0, '127.0.0.1', resolve));

  const auth = { authorization: `Bearer ${BENCH_TOKEN}` };
  return {
    svc,
    dir,
    ceilingBody,
    cases: {
      bare: { url: urlOf(bareServer as Server), headers: {} },
      ceiling: { url: urlOf(ceilingServer), headers: {} },
      floor: { url: urlOf(floorServer), headers: {} },
      circuits: { url: `${svc.url}/api/circuits`, headers: auth },
      traces: { url: `${svc.url}/api/traces?limit=20`, headers: auth },
    },
    async close() {
      await new Promise((r) => bareServer.close(r));
      await new Promise((r) => floorServer.close(r));
      await new Promise((r) => ceilingServer.close(r));
      await svc.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
