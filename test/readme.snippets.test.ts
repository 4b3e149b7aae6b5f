/**
 * The README's "Send traces from your agent" snippets work: each code block of that section is a file under
 * examples/send-traces/ (checked equal here), and each file is run in a process of its own against a live AgentEx
 * service (real HTTP on 127.0.0.1, a SQLite file) and, for the `openai` ones, the OpenAI emulator; the trace must arrive
 * with its agent, user, session, model calls (model, tokens) and tool call (name, input, output).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIEmulator } from '../src/emulators/index.js';
import { startService, type RunningService } from '../src/server/service.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const TSX = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
const EXAMPLES = path.join(ROOT, 'examples', 'send-traces');
const API = `api-${'s'.repeat(30)}`;
const SECTION = '## Send traces from your agent';

/** The section's text: from its heading to the next second-level heading. */
function section(): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n${SECTION}\n`);
  expect(start).toBeGreaterThan(0);
  const end = readme.indexOf('\n## ', start + SECTION.length + 1);
  return readme.slice(start, end === -1 ? undefined : end);
}

function run(name: string, env: Record<string, string>, args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [TSX, path.join(ROOT, 'test', 'readme', 'runExample.ts'), name, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, out, err }));
  });
}

describe('README: Send traces from your agent', () => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.ts')).sort();

  it('shows every example file verbatim, and nothing else as code', () => {
    const text = section();
    const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(files).toEqual(['ai-sdk.ts', 'openinference.ts', 'openllmetry.ts', 'otel-sdk.ts']);
    expect(blocks.sort()).toEqual(files.map((f) => readFileSync(path.join(EXAMPLES, f), 'utf8')).sort());
  });

  describe('each example against a live service', () => {
    let dir: string;
    let svc: RunningService;

    beforeAll(async () => {
      dir = mkdtempSync(path.join(tmpdir(), 'agentex-readme-'));
      svc = await startService({
        env: { AGENTEX_API_TOKEN: API, AGENTEX_ADMIN_TOKEN: `admin-${'t'.repeat(30)}`, AGENTEX_SAMPLE_RATE: '1' },
        flags: { '--port': '0', '--sqlite-path': path.join(dir, 'readme.db') },
        logger: pino({ level: 'silent' }),
      });
    }, 60_000);
    afterAll(async () => {
      await svc?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it.each(['ai-sdk', 'openinference', 'openllmetry', 'otel-sdk'])('%s', async (name) => {
      const emulator = await startOpenAIEmulator({
        script:
          name === 'otel-sdk'
            ? [{ text: 'Sunny in Paris.', usage: { inputTokens: 60, outputTokens: 4 } }]
            : [
                { toolCalls: [{ name: 'weather', input: { city: 'Paris' } }], usage: { inputTokens: 30, outputTokens: 7 } },
                { text: 'Sunny in Paris.', usage: { inputTokens: 60, outputTokens: 4 } },
              ],
      });
      const user = `readme-${name}`;
      let result;
      try {
        result = await run(
          name,
          {
            AGENTEX_URL: svc.url,
            AGENTEX_TOKEN: API,
            OPENAI_API_KEY: 'test-openai-key',
            OPENAI_BASE_URL: `${emulator.url}/v1`,
            OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${svc.url}/v1/traces`,
            OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer ${API}`,
          },
          [user, `session-${name}`],
        );
      } finally {
        await emulator.close();
      }
      expect(result.code, result.err).toBe(0);
      expect(result.out.trim()).toBe('Sunny in Paris.');

      // The example's process has exported everything (flushTraces) and exited: assemble now and look.
      await svc.ingest.flush();
      const page = await svc.store.list({ userId: user });
      expect(page.traces).toHaveLength(1);
      const trace = (await svc.store.get(page.traces[0]!.traceId))!;
      expect(trace.agent).toBe('weather-agent');
      expect(trace.status).toBe('success');
      expect(trace.metadata).toMatchObject({ source: 'otlp', sessionId: `session-${name}` });
      expect(trace.metadata.partial).toBeUndefined();
      expect(trace.spans.filter((s) => s.parentId === null)).toHaveLength(1);
      const llm = trace.spans.flatMap((s) => (s.kind === 'llm' ? [s] : []));
      expect(llm.length).toBe(name === 'otel-sdk' ? 1 : 2);
      for (const s of llm) {
        expect(s.model).toBe('gpt-4o-mini');
        expect(s.usage?.inputTokens).toBeGreaterThan(0);
        expect(s.usage?.outputTokens).toBeGreaterThan(0);
      }
      const tool = trace.spans.find((s) => s.kind === 'tool');
      expect(tool).toMatchObject({ kind: 'tool', toolName: 'weather', status: 'ok' });
      expect(JSON.stringify(tool!.input)).toContain('Paris');
      expect(JSON.stringify(tool!.output)).toContain('Sunny');
    }, 60_000);
  });
});
