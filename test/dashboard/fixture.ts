/**
 * The dashboard's end-to-end fixture: a real service (`startService`) on 127.0.0.1 with a temp SQLite store, the
 * provider emulators, and real agent runs (the loop, web_search with Exa → Tavily behind the service's own circuit
 * registry, the service's tracer) so every trace and circuit the browser sees was produced by the real code.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { anthropicProvider } from '../../src/agent/providers/anthropic.js';
import { runAgent, type RunAgentResult } from '../../src/agent/runAgent.js';
import { faults, startEmulators, type EmulatorSet, type ModelReply, type RecordedRequest } from '../../src/emulators/index.js';
import { startService, type RunningService } from '../../src/server/service.js';
import { createToolRegistry } from '../../src/tools/registry.js';
import { exaSearch, tavilySearch } from '../../src/tools/search/index.js';
import { webSearchTool } from '../../src/tools/webSearch.js';
import { buildUi } from '../../scripts/build-ui.js';

export const API_TOKEN = `dash-api-${'a'.repeat(32)}`;
export const ADMIN_TOKEN = `dash-admin-${'b'.repeat(32)}`;
/** What the poisoned page says; it must show up as text and never run. */
export const XSS_PAYLOAD = '<img src=x onerror=alert(1)> and <script>window.__pwned=1;alert(2)</script>';

/** Launch flags for Debian's Chromium on these machines (see ../shared/DEPS.md). */
export const CHROMIUM_PATH = process.env.AGENTEX_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The scripted model: `fail` answers 400, `loop` keeps calling tools, anything else searches then answers. */
function scriptedModel(request: RecordedRequest): ModelReply | ReturnType<typeof faults.status> {
  const body = request.body as { messages: { role: string; content: unknown }[] };
  const first = body.messages[0];
  const firstBlocks = Array.isArray(first?.content) ? (first.content as { type?: string; text?: string }[]) : [];
  const question = typeof first?.content === 'string' ? first.content : (firstBlocks.find((b) => b.type === 'text')?.text ?? '');
  if (question.startsWith('fail')) return faults.status(400, 'emulated bad request');
  const last = body.messages[body.messages.length - 1];
  const blocks = Array.isArray(last?.content) ? (last.content as { type?: string }[]) : [];
  const hasResult = blocks.some((b) => b.type === 'tool_result');
  if (!hasResult || question.startsWith('loop')) {
    return { toolCalls: [{ name: 'web_search', input: { query: question } }], usage: { inputTokens: 120, outputTokens: 18 } };
  }
  return { text: `Here is what I found about ${question.slice(0, 40)}.`, usage: { inputTokens: 480, outputTokens: 22 } };
}

export interface Fixture {
  svc: RunningService;
  emu: EmulatorSet;
  /** One real agent run through the service's tracer and circuits. */
  run(message: string, opts?: { user?: string; agent?: string; maxIterations?: number }): Promise<RunAgentResult>;
  /** Waits until every finished trace is in the store. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

const UI_DIST = path.resolve(import.meta.dirname, '../../src/server/ui/dist');

/**
 * Builds the UI into a private directory, then moves each file into `src/server/ui/dist` with an atomic rename, so
 * test files building in parallel workers never see a half-written or deleted bundle (names are content hashes).
 */
async function buildUiForTests(): Promise<void> {
  const tmp = mkdtempSync(path.join(tmpdir(), 'agentex-ui-'));
  try {
    const built = await buildUi({ outDir: tmp, quiet: true });
    if (built.overBudget) throw new Error(`dashboard bundle over budget: ${built.totalGzipBytes} bytes gzipped`);
    for (const sub of ['assets', '.']) {
      mkdirSync(path.join(UI_DIST, sub), { recursive: true });
      for (const name of readdirSync(path.join(tmp, sub), { withFileTypes: true })) {
        if (!name.isFile()) continue;
        const target = path.join(UI_DIST, sub, name.name);
        const staging = `${target}.${process.pid}.tmp`;
        copyFileSync(path.join(tmp, sub, name.name), staging);
        renameSync(staging, target);
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export async function startFixture(): Promise<Fixture> {
  await buildUiForTests();
  const dir = mkdtempSync(path.join(tmpdir(), 'agentex-dash-'));
  const svc = await startService({
    env: {
      AGENTEX_HOST: '127.0.0.1',
      AGENTEX_PORT: '0',
      AGENTEX_SQLITE_PATH: path.join(dir, 'traces.db'),
      AGENTEX_API_TOKEN: API_TOKEN,
      AGENTEX_ADMIN_TOKEN: ADMIN_TOKEN,
      AGENTEX_SAMPLE_RATE: '1',
      AGENTEX_LOG_LEVEL: 'silent',
      AGENTEX_SHUTDOWN_TIMEOUT_MS: '2000',
      AGENTEX_RATE_LIMIT: '100000',
    },
  });
  const emu = await startEmulators();
  emu.anthropic.setHandler(scriptedModel);
  const search = webSearchTool({
    providers: [exaSearch({ apiKey: emu.keys.exa, baseUrl: emu.urls.exa }), tavilySearch({ apiKey: emu.keys.tavily, baseUrl: emu.urls.tavily })],
    circuits: svc.circuits,
    // Long cooldown: the circuit stays open until the admin resets it in the browser.
    breaker: { threshold: 3, cooldownMs: 120_000 },
  });
  const tools = createToolRegistry({ tools: [search] as never[] });
  const provider = anthropicProvider({ apiKey: emu.keys.anthropic, baseUrl: emu.urls.anthropic, model: 'claude-emulated' });
  return {
    svc,
    emu,
    run: (message, opts = {}) =>
      runAgent({ message, provider, tools, tracer: svc.tracer, userId: opts.user, agent: opts.agent, maxIterations: opts.maxIterations }),
    flush: () => svc.tracer.forceFlush(),
    close: async () => {
      await svc.close();
      await emu.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
