import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidOptionsError } from '../common/errors.js';
import { createToolRegistry, MAX_TOOLS } from './registry.js';
import { defineTool, toolOk, type AnyTool } from './types.js';

const ctl = () => ({ signal: new AbortController().signal });
const echo = defineTool({ name: 'echo', description: 'Echoes', input: z.object({ text: z.string() }), execute: ({ text }) => toolOk(text) });

describe('createToolRegistry', () => {
  it('reports every call to onCall, and a throwing onCall never fails the call', async () => {
    const events: unknown[] = [];
    const seen = createToolRegistry({ tools: [echo], onCall: (e) => events.push({ ...e, durationMs: typeof e.durationMs }) });
    await seen.execute({ id: '1', name: 'echo', input: { text: 'a' } }, ctl());
    await seen.execute({ id: '2', name: 'echo', input: {} }, ctl());
    expect(events).toEqual([
      { tool: 'echo', ok: true, durationMs: 'number' },
      { tool: 'echo', ok: false, code: 'INVALID_INPUT', durationMs: 'number' },
    ]);
    const throwing = createToolRegistry({
      tools: [echo],
      onCall: () => {
        throw new Error('metrics broke');
      },
    });
    await expect(throwing.execute({ id: '3', name: 'echo', input: { text: 'b' } }, ctl())).resolves.toEqual({ ok: true, data: 'b' });
  });

  it('turns a tool that returns no result object into TOOL_FAILED', async () => {
    const bad = { ...echo, name: 'bad', execute: async () => 'Error: text instead of a result' } as unknown as AnyTool;
    const r = await createToolRegistry({ tools: [bad] }).execute({ id: '1', name: 'bad', input: { text: 'x' } }, ctl());
    expect(r).toMatchObject({ ok: false, error: { code: 'TOOL_FAILED' } });
  });

  it('lists tools and specs, and refuses duplicates, non-tools and more than MAX_TOOLS', () => {
    const registry = createToolRegistry({ tools: [echo] });
    expect(registry.names()).toEqual(['echo']);
    expect(registry.get('echo')).toBe(echo);
    expect(registry.specs()).toEqual([{ name: 'echo', description: 'Echoes', inputSchema: echo.inputSchema }]);
    expect(() => registry.register(echo)).toThrow(/already registered/);
    expect(() => registry.register({} as AnyTool)).toThrow(InvalidOptionsError);
    expect(() => createToolRegistry({ defaultTimeoutMs: 0 })).toThrow(/defaultTimeoutMs/);
    expect(() => createToolRegistry({ tool: [] } as never)).toThrow(/tool/);
    const full = createToolRegistry();
    for (let i = 0; i < MAX_TOOLS; i++) full.register({ ...echo, name: `t${i}` });
    expect(() => full.register({ ...echo, name: 'one-more' })).toThrow(/At most/);
  });
});
