/**
 * Graceful shutdown of the real `agentex serve` process (through tsx) with a slow model behind it (the OpenAI
 * emulator): on SIGTERM `/ready` answers 503 first, an agent run in flight finishes when it can, or is cancelled at
 * the shutdown timeout with a 503 JSON body — and its trace is stored either way.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIEmulator } from '../src/emulators/models.js';
import type { Emulator } from '../src/emulators/server.js';
import type { ModelReply } from '../src/emulators/models.js';
import { createSqliteTraceStore } from '../src/store/SqliteTraceStore.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const API = `api-${'k'.repeat(30)}`;

function serve(sqlitePath: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, path.join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', '--sqlite-path', sqlitePath, '--sample-rate', '1'], {
      env: { ...process.env, AGENTEX_API_TOKEN: API, AGENTEX_LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /running at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve({ child, url: m[1]!, exited });
    });
    void exited.then((code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

describe('graceful shutdown with an agent run in flight', () => {
  let dir: string;
  let model: Emulator<ModelReply>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-shutdown-'));
    model = await startOpenAIEmulator();
  });
  afterAll(async () => {
    await model.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (url: string) =>
    fetch(`${url}/api/agent/run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API}`, 'content-type': 'application/json' },
      body: JSON.stringify({ message: 'take your time', user_id: 'u-shutdown' }),
    });

  const storedTrace = async (file: string, traceId: string) => {
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0 });
    try {
      return await store.get(traceId);
    } finally {
      await store.close();
    }
  };

  it('reports not ready during the grace, lets a run that ends in time finish, and stores its trace', async () => {
    const file = path.join(dir, 'finish.db');
    model.reset();
    model.enqueue({ text: 'done slowly', delayMs: 3_000 });
    const svc = await serve(file, { OPENAI_API_KEY: 'test-openai-key', OPENAI_BASE_URL: `${model.url}/v1`, AGENTEX_SHUTDOWN_GRACE_MS: '2000', AGENTEX_SHUTDOWN_TIMEOUT_MS: '30000' });
    const arrived = model.nextRequest();
    const pending = run(svc.url);
    await arrived;
    svc.child.kill('SIGTERM');
    // Within the grace the service still answers, and says it is not ready.
    let ready: Response | undefined;
    for (let i = 0; i < 20; i++) {
      ready = await fetch(`${svc.url}/ready`);
      if (ready.status === 503) break;
    }
    expect(ready?.status).toBe(503);
    expect(await ready?.json()).toEqual({ ready: false });
    const res = await pending;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { output: string; trace_id: string; status: string };
    expect(body).toMatchObject({ output: 'done slowly', status: 'success' });
    expect(await svc.exited).toBe(0);
    expect((await storedTrace(file, body.trace_id))?.status).toBe('success');
  }, 60_000);

  it('cancels a run still going at the shutdown timeout with a clear 503, and stores its trace', async () => {
    const file = path.join(dir, 'cancel.db');
    model.reset();
    model.enqueue({ text: 'never in time', delayMs: 60_000 });
    const svc = await serve(file, { OPENAI_API_KEY: 'test-openai-key', OPENAI_BASE_URL: `${model.url}/v1`, AGENTEX_SHUTDOWN_GRACE_MS: '0', AGENTEX_SHUTDOWN_TIMEOUT_MS: '1000' });
    const arrived = model.nextRequest();
    const pending = run(svc.url);
    await arrived;
    svc.child.kill('SIGTERM');
    const res = await pending;
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe('shutting_down');
    const traceId = /trace ([0-9a-f]{32})/.exec(body.message)?.[1];
    expect(traceId).toBeDefined();
    expect(await svc.exited).toBe(0);
    const trace = await storedTrace(file, traceId!);
    expect(trace?.status).toBe('error');
    expect(trace?.userId).toBe('u-shutdown');
  }, 60_000);
});
