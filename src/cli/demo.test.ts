import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidOptionsError } from '../common/errors.js';
import { createSqliteTraceStore } from '../store/index.js';
import type { ToolSpanRecord } from '../trace/model.js';
import { runDemo } from './demo.js';

describe('runDemo', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('runs the scripted session against the emulators: Exa fails, its circuit opens and closes again, and every run is a stored trace', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentex-demo-'));
    dirs.push(dir);
    const sqlitePath = join(dir, 'nested', 'demo.db');
    const lines: string[] = [];
    const result = await runDemo({ sqlitePath, out: (l) => lines.push(l), cooldownMs: 200 });

    const text = lines.join('\n');
    expect(text).toMatch(/LOCAL EMULATORS/);
    expect(text).toMatch(/No API keys are used/);
    expect(text).toMatch(/0\.2 s in this demo \(the default is 30 s\)/);
    expect(result.runs.map((r) => r.status)).toEqual(Array(7).fill('success'));
    expect(result.runs.map((r) => r.answeredBy)).toEqual(['exa', 'tavily', 'tavily', 'tavily', 'tavily', 'exa', 'cache']);
    expect(result.runs.map((r) => r.exaRequests)).toEqual([1, 1, 1, 1, 0, 1, 0]);
    expect(result.exaTransitions.map((t) => `${t.from}>${t.to}`)).toEqual(['closed>open', 'open>half_open', 'half_open>closed']);
    for (const r of result.runs) expect(text).toContain(r.traceId);
    expect(text).toContain(`agentex traces show ${result.runs[1]!.traceId}`);
    expect(text).toContain(`AGENTEX_SQLITE_PATH=${sqlitePath} agentex serve`);

    // The traces are real: reopen the store the demo closed and read them back.
    const store = createSqliteTraceStore({ path: sqlitePath, purgeIntervalMs: 0 });
    try {
      const page = await store.list({ agent: 'demo', limit: 50 });
      expect(page.traces).toHaveLength(7);
      const probe = (await store.get(result.runs[5]!.traceId))!;
      expect(probe).toMatchObject({ status: 'success', agent: 'demo', userId: 'demo-user', iterations: 2 });
      expect(probe.spans.find((s): s is ToolSpanRecord => s.kind === 'tool')).toMatchObject({ toolName: 'web_search', circuit: 'exa', status: 'ok' });
      const open = (await store.get(result.runs[4]!.traceId))!;
      expect(open.spans.find((s) => s.kind === 'tool')!.attributes['agentex.fallback.failed']).toEqual(['exa: CircuitOpenError']);
    } finally {
      await store.close();
    }
  });

  it('rejects bad options before starting anything', async () => {
    await expect(runDemo(undefined as never)).rejects.toThrow(InvalidOptionsError);
    await expect(runDemo({ out: 'console' as never })).rejects.toThrow(/out/);
    await expect(runDemo({ out: () => undefined, cooldownMs: 5 })).rejects.toThrow(/cooldownMs/);
    await expect(runDemo({ out: () => undefined, colour: true } as never)).rejects.toThrow(/colour/);
  });
});
