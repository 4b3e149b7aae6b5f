/**
 * The service end to end: the real `agentex` binary (through tsx) on 127.0.0.1 with a temp SQLite store.
 * OTLP ingest with the official OpenTelemetry exporter, the CLI commands against it, and SIGTERM losing nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSqliteTraceStore } from '../src/store/SqliteTraceStore.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const API = `api-${'k'.repeat(30)}`;
const ADMIN = `admin-${'q'.repeat(30)}`;

interface Cli {
  code: number | null;
  stdout: string;
  stderr: string;
}

function agentex(args: string[], env: Record<string, string> = {}): Promise<Cli> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSX, path.join(ROOT, 'src/cli/main.ts'), ...args], {
      env: { ...process.env, ...env, AGENTEX_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Starts `agentex serve` and resolves with its URL once the banner is printed. */
function serveProcess(sqlitePath: string, extraEnv: Record<string, string> = {}): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, path.join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', '--sqlite-path', sqlitePath, '--sample-rate', '1'], {
      env: { ...process.env, AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: ADMIN, AGENTEX_LOG_LEVEL: 'silent', AGENTEX_SHUTDOWN_GRACE_MS: '0', ...extraEnv },
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

function sendOtlpSpans(url: string, count: number): Promise<void> {
  const exporter = new OTLPTraceExporter({ url: `${url}/v1/traces`, headers: { Authorization: `Bearer ${API}` } });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': 'otel-agent' }),
    spanProcessors: [new BatchSpanProcessor(exporter, { maxExportBatchSize: 50, scheduledDelayMillis: 10 })],
  });
  const tracer = provider.getTracer('test');
  for (let i = 0; i < count; i++) {
    const span = tracer.startSpan(`invoke_agent otel-${i}`, { attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'otel-agent', 'user.id': `u${i % 3}` } });
    span.end();
  }
  return provider.forceFlush().then(() => provider.shutdown());
}

describe('agentex service and CLI', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serveProcess>>;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-svc-'));
    server = await serveProcess(path.join(dir, 'a.db'));
  }, 60_000);

  afterAll(async () => {
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('ingests spans from the official OpenTelemetry OTLP exporter and serves them back', async () => {
    await sendOtlpSpans(server.url, 6);
    let page: { traces: { agent: string }[] } = { traces: [] };
    for (let i = 0; i < 100 && page.traces.length < 6; i++) {
      const res = await fetch(`${server.url}/api/traces?agent=otel-agent&limit=50`, { headers: { authorization: `Bearer ${API}` } });
      page = (await res.json()) as typeof page;
      if (page.traces.length < 6) await new Promise((r) => setTimeout(r, 100));
    }
    expect(page.traces).toHaveLength(6);
  });

  it('lists and shows traces with the CLI, and exits non-zero with one line on errors', async () => {
    const env = { AGENTEX_URL: server.url, AGENTEX_TOKEN: API };
    const list = await agentex(['traces', 'list', '--agent', 'otel-agent', '--json'], env);
    expect(list.code).toBe(0);
    const page = JSON.parse(list.stdout) as { traces: { traceId: string }[] };
    expect(page.traces.length).toBeGreaterThan(0);
    const show = await agentex(['traces', 'show', page.traces[0]!.traceId], env);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(/invoke_agent otel-/);
    const bad = await agentex(['traces', 'list', '--status', 'weird'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/status/);
    const noAdmin = await agentex(['circuits', 'reset'], { ...env, AGENTEX_ADMIN_TOKEN: '' });
    expect(noAdmin.code).toBe(1);
    expect(noAdmin.stderr).toMatch(/401/);
    const reset = await agentex(['circuits', 'reset'], { ...env, AGENTEX_ADMIN_TOKEN: ADMIN });
    expect(reset.code).toBe(0);
    const help = await agentex(['traces', '--help']);
    expect(help.stdout).toMatch(/delete-user/);
  }, 60_000);

  it('refuses a bad configuration with one clear line naming the setting', async () => {
    const res = await agentex(['serve', '--port', 'eighty']);
    expect(res.code).not.toBe(0);
    expect(res.stderr.trim()).toMatch(/^agentex: Invalid --port/);
  });

  it('loses no queued trace on SIGTERM', async () => {
    const file = path.join(dir, 'sigterm.db');
    const svc = await serveProcess(file);
    // A long flush interval would hold these in the queue: shutdown must flush them.
    await sendOtlpSpans(svc.url, 20);
    svc.child.kill('SIGTERM');
    expect(await svc.exited).toBe(0);
    const store = createSqliteTraceStore({ path: file, purgeIntervalMs: 0 });
    try {
      const page = await store.list({ agent: 'otel-agent', limit: 100 });
      expect(page.traces).toHaveLength(20);
    } finally {
      await store.close();
    }
  }, 60_000);
});
