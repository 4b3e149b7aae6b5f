/**
 * The servers the service benchmarks load, started in one process: the real service (auth, rate limiter, request
 * log, metrics, security headers) with five circuits and stored traces, a bare hello-world route of the same
 * framework (the baseline), the ceiling (plain node:http sending the circuits body rendered once, with the same
 * security headers: what the response's size alone allows) and the floor (the same framework rendering the same
 * circuit views per request with the same security headers and no middleware). Used by `server.bench.ts`
 * (requests per second) and `instructions.ts` (instructions per request under callgrind).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { circuitBreaker } from '../src/resilience/index.js';
import { circuitListJson } from '../src/server/circuitJson.js';
import { AgentexResponse, listen } from '../src/server/listen.js';
import { createLogger } from '../src/server/logger.js';
import { circuitView, startService, type RunningService } from '../src/server/service.js';
import { makeTrace } from '../src/store/testing/fixtures.js';

export const BENCH_TOKEN = `bench-${'t'.repeat(30)}`;

export const CASES = ['bare', 'ceiling', 'floor', 'circuits', 'traces'] as const;
export type CaseName = (typeof CASES)[number];

export interface ServerCases {
  svc: RunningService;
  /** Where each case is served, and the headers its requests carry. */
  cases: Record<CaseName, { url: string; headers: Record<string, string> }>;
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
  const floor = new Hono().get('/', (c) => c.body(circuitListJson(views()), 200, { 'Content-Type': 'application/json' }));
  const floorServer = await listen(floor, { hostname: '127.0.0.1', port: 0 });
  const ceilingBody = circuitListJson(views());
  const ceilingServer = createServer({ ServerResponse: AgentexResponse }, (_req, res) => {
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
