/**
 * `agentex run` through the service against the Anthropic and Exa emulators, and two service instances sharing one
 * Postgres database (each run gets its own database, dropped afterwards).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulators, type EmulatorSet } from '../src/emulators/index.js';
import { startService, type RunningService } from '../src/server/service.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const API = `api-${'r'.repeat(30)}`;
const ADMIN = `admin-${'s'.repeat(30)}`;
const silent = pino({ level: 'silent' });

function agentex(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSX, path.join(ROOT, 'src/cli/main.ts'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('agent runs through the service', () => {
  let emu: EmulatorSet;
  let svc: RunningService;
  let dir: string;

  beforeAll(async () => {
    emu = await startEmulators();
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-run-'));
    svc = await startService({
      env: { ...emu.env, AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: ADMIN, AGENTEX_SAMPLE_RATE: '1' },
      flags: { '--port': '0', '--sqlite-path': path.join(dir, 'run.db') },
      logger: silent,
    });
  });

  afterAll(async () => {
    await svc?.close();
    await emu?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('runs the loop with web_search against the emulators and keeps the trace', async () => {
    emu.anthropic.enqueue({ toolCalls: [{ name: 'web_search', input: { query: 'agentex circuit breakers' } }] }, { text: 'Circuit breakers stop cascades.' });
    const res = await agentex(['run', 'What do circuit breakers do?', '--user', 'cli-user', '--json'], { AGENTEX_URL: svc.url, AGENTEX_TOKEN: API });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const out = JSON.parse(res.stdout) as { output: string; trace_id: string; status: string; iterations: number };
    expect(out).toMatchObject({ output: 'Circuit breakers stop cascades.', status: 'success', iterations: 2 });
    expect(emu.exa.requestCount).toBe(1);
    await svc.tracer.forceFlush();
    const trace = await svc.store.get(out.trace_id);
    const tool = trace?.spans.find((s) => s.kind === 'tool');
    expect(tool?.kind === 'tool' && [tool.toolName, tool.circuit]).toEqual(['web_search', 'exa']);
    expect(trace?.userId).toBe('cli-user');
    expect((await svc.state.conversations.load('cli-user')).length).toBeGreaterThan(0);

    // GDPR erasure removes the user's traces and the conversation the agent keeps for them.
    const erased = await fetch(`${svc.url}/api/users/cli-user/traces`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN}` } });
    expect(await erased.json()).toEqual({ deleted: 1 });
    expect(await svc.store.get(out.trace_id)).toBeNull();
    expect(await svc.state.conversations.load('cli-user')).toEqual([]);
  }, 60_000);

  it('refuses to start on a port that is taken, naming it, and releases what it opened', async () => {
    const port = new URL(svc.url).port;
    await expect(
      startService({ env: { AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: ADMIN }, flags: { '--port': port, '--sqlite-path': path.join(dir, 'second.db') }, logger: silent }),
    ).rejects.toThrow(`Cannot listen on 127.0.0.1:${port} (EADDRINUSE)`);
  });

  it('stops the run when the HTTP client goes away, and records it as an error', async () => {
    const { faults } = await import('../src/emulators/index.js');
    emu.anthropic.enqueue(faults.hang());
    const ended = new Promise<{ status: string }>((resolve) => {
      const dispose = svc.tracer.onTraceEnd((e) => {
        if (e.agent === 'cancel-me') {
          dispose();
          resolve(e);
        }
      });
    });
    const client = new AbortController();
    const arrived = emu.anthropic.nextRequest();
    const pending = fetch(`${svc.url}/api/agent/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'this will hang', agent: 'cancel-me' }),
      signal: client.signal,
    }).catch((err: unknown) => err);
    await arrived;
    client.abort();
    await pending;
    expect((await ended).status).toBe('error');
  }, 60_000);
});

const PG_URL = process.env.AGENTEX_TEST_DATABASE_URL;
if (!PG_URL) console.warn('[skipped] two service instances on one Postgres: AGENTEX_TEST_DATABASE_URL is not set');

describe.skipIf(!PG_URL)('two service instances on one Postgres', () => {
  const dbName = `agentex_it_${randomBytes(4).toString('hex')}`;
  let admin: pg.Client;
  let a: RunningService;
  let b: RunningService;

  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${dbName}`);
    const url = new URL(PG_URL!);
    url.pathname = `/${dbName}`;
    const env = { AGENTEX_DATABASE_URL: url.toString(), AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: ADMIN, AGENTEX_SAMPLE_RATE: '1' };
    a = await startService({ env, flags: { '--port': '0' }, logger: silent });
    b = await startService({ env, flags: { '--port': '0' }, logger: silent });
  }, 60_000);

  afterAll(async () => {
    await a?.close();
    await b?.close();
    await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
    await admin.end();
  });

  it('serves through one instance what was ingested through the other', async () => {
    const span = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex'), name: 'invoke_agent shared', startTimeUnixNano: `${Date.now()}000000`, endTimeUnixNano: `${Date.now() + 5}000000`, attributes: [{ key: 'gen_ai.agent.name', value: { stringValue: 'shared' } }] };
    const res = await fetch(`${a.url}/v1/traces`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }),
    });
    expect(res.status).toBe(200);
    // Ingested spans wait in the shared pending area until a sweep (of either instance) assembles them.
    await b.ingest.flush();
    const fromB = await fetch(`${b.url}/api/traces/${span.traceId}`, { headers: { authorization: `Bearer ${API}` } });
    expect(fromB.status).toBe(200);
    expect(((await fromB.json()) as { agent: string }).agent).toBe('shared');
    await a.state.set('sessions', 'k', { from: 'a' });
    expect(await b.state.get('sessions', 'k')).toEqual({ from: 'a' });
  }, 60_000);
});
