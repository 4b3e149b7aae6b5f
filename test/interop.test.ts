/**
 * Interop with the real producers: the Vercel AI SDK 7 (both telemetry integrations) and the official `openai` SDK
 * instrumented by OpenInference and by OpenLLMetry, exporting through the official OTLP exporters (protobuf and JSON)
 * to the real `agentex serve` process. Each test asserts what a person debugging the run needs in the stored trace:
 * every model call with model and tokens, every tool call with name, input and output, the failing tool's error,
 * and the user, in a whole trace (every span under its parent) whether the spans came in one request
 * (BatchSpanProcessor + forceFlush) or one request each, children first (SimpleSpanProcessor). interop.processors.test.ts
 * runs the full matrix in process, and long runs split across many requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIEmulator } from '../src/emulators/index.js';
import type { TraceRecord } from '../src/trace/model.js';
import { expectDebuggable, expectWhole, instrumentOpenAI, providerFor } from './interop/harness.js';
import { runAiSdk, runOpenAIAgent } from './interop/producers.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const API = `api-${'k'.repeat(30)}`;

function serveProcess(sqlitePath: string): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [TSX, path.join(ROOT, 'src/cli/main.ts'), 'serve', '--port', '0', '--sqlite-path', sqlitePath, '--sample-rate', '1'], {
      env: { ...process.env, AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: `admin-${'q'.repeat(30)}`, AGENTEX_LOG_LEVEL: 'silent' },
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

async function storedTrace(url: string, traceId: string, spans: number): Promise<TraceRecord> {
  let last: TraceRecord | undefined;
  for (let i = 0; i < 200; i++) {
    const res = await fetch(`${url}/api/traces/${traceId}`, { headers: { authorization: `Bearer ${API}` } });
    if (res.status === 200) {
      last = (await res.json()) as TraceRecord;
      if (last.spans.length >= spans) return last;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`trace ${traceId} not stored with ${spans} spans: ${JSON.stringify(last)?.slice(0, 500)}`);
}

describe('real OTLP producers into agentex serve', () => {
  let dir: string;
  let server: Awaited<ReturnType<typeof serveProcess>>;
  const manager = new AsyncLocalStorageContextManager();

  beforeAll(async () => {
    context.setGlobalContextManager(manager.enable());
    dir = mkdtempSync(path.join(tmpdir(), 'agentex-interop-'));
    server = await serveProcess(path.join(dir, 'a.db'));
  }, 60_000);

  afterAll(async () => {
    manager.disable();
    context.disable();
    if (server.child.exitCode === null) {
      server.child.kill('SIGTERM');
      await server.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['otel', 'protobuf', 'batch'],
    ['legacy', 'json', 'batch'],
    ['otel', 'json', 'simple'],
    ['legacy', 'protobuf', 'simple'],
  ] as const)('Vercel AI SDK 7, %s integration, %s exporter, %s span processor', async (integration, encoding, processor) => {
    const p = providerFor(server.url, { encoding, processor, service: 'ai-sdk-app', token: API });
    expect(await runAiSdk(p.provider.getTracer('ai'), integration)).toBe('Paris is big.');
    await p.provider.forceFlush();
    const trace = await storedTrace(server.url, p.traceId(), p.spans().length);
    await p.provider.shutdown();
    expectWhole(trace, p.spans());
    expectDebuggable(trace, { models: ['scripted-model-1', 'scripted-model-1'], inputTokens: [100, 150] });
    expect(trace.agent).toBe('city-agent');
    const first = trace.spans.find((s) => s.kind === 'llm' && s.usage?.inputTokens === 100);
    expect(first).toMatchObject({ usage: { cacheReadTokens: 40 } });
    if (integration === 'otel') expect(trace.spans.filter((s) => s.kind === 'iteration')).toHaveLength(2);
  }, 60_000);

  it.each([
    ['openinference', 'protobuf', 'batch'],
    ['openllmetry', 'json', 'batch'],
    ['openinference', 'json', 'simple'],
    ['openllmetry', 'protobuf', 'simple'],
  ] as const)('openai SDK 6 instrumented by %s, %s exporter, %s span processor', async (convention, encoding, processor) => {
    const openai = await import('openai');
    const emulator = await startOpenAIEmulator({
      script: [
        { toolCalls: [{ name: 'lookup', input: { city: 'Paris' } }, { name: 'explode', input: { why: 'test' } }], usage: { inputTokens: 50, outputTokens: 9 } },
        { text: 'Paris is big.', usage: { inputTokens: 80, outputTokens: 5 } },
      ],
    });
    const p = providerFor(server.url, { encoding, processor, service: `${convention}-app`, token: API });
    const disable = await instrumentOpenAI(openai, convention, p.provider);
    try {
      expect(await runOpenAIAgent(openai, emulator.url, p.provider, convention)).toBe('Paris is big.');
    } finally {
      disable();
      await emulator.close();
    }
    await p.provider.forceFlush();
    const trace = await storedTrace(server.url, p.traceId(), p.spans().length);
    await p.provider.shutdown();
    expectWhole(trace, p.spans());
    expectDebuggable(trace, { models: ['gpt-4o-mini', 'gpt-4o-mini'], inputTokens: [50, 80] });
    expect(trace.agent).toBe('city-agent');
    expect(trace.finalOutput).toBe('Paris is big.');
  }, 60_000);
});
