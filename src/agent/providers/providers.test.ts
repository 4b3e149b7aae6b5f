import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faults, startAnthropicEmulator, startOpenAIEmulator } from '../../emulators/index.js';
import type { Emulator, ModelReply } from '../../emulators/index.js';
import { HttpStatusError } from '../../common/httpStatus.js';
import { isTransientError } from '../../resilience/transient.js';
import { InvalidOptionsError, ValidationError } from '../../common/errors.js';
import { MalformedResponseError, transportErrorCode } from '../../common/http.js';
import { anthropicProvider } from './anthropic.js';
import { openaiProvider } from './openai.js';
import type { ChatMessage, ModelProvider, ToolSpec } from './types.js';

const TOOLS: ToolSpec[] = [
  { name: 'web_search', description: 'Search the web', inputSchema: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] } },
];

interface Fixture {
  label: string;
  start: () => Promise<Emulator<ModelReply>>;
  make: (emu: Emulator<ModelReply>, key?: string) => ModelProvider;
  key: string;
}

const fixtures: Fixture[] = [
  {
    label: 'anthropic',
    start: () => startAnthropicEmulator(),
    make: (emu, key = 'test-anthropic-key') => anthropicProvider({ apiKey: key, model: 'claude-test', baseUrl: emu.url }),
    key: 'test-anthropic-key',
  },
  {
    label: 'openai',
    start: () => startOpenAIEmulator(),
    make: (emu, key = 'test-openai-key') => openaiProvider({ apiKey: key, model: 'gpt-test', baseUrl: `${emu.url}/v1` }),
    key: 'test-openai-key',
  },
];

for (const fx of fixtures) {
  describe(`${fx.label} provider against its emulator`, () => {
    let emu: Emulator<ModelReply>;
    let provider: ModelProvider;
    beforeAll(async () => {
      emu = await fx.start();
      provider = fx.make(emu);
    });
    afterEach(() => emu.reset());
    afterAll(() => emu.close());

    it('returns text, usage, stop reason and model id', async () => {
      emu.enqueue({ text: 'Hello there', usage: { inputTokens: 12, outputTokens: 3 }, model: `${fx.label}-model-2025` });
      const res = await provider.complete({ system: 'Be brief', messages: [{ role: 'user', content: 'Hi' }], maxTokens: 50 });
      expect(res).toMatchObject({ content: 'Hello there', toolCalls: [], stopReason: 'end_turn', usage: { inputTokens: 12, outputTokens: 3 }, model: `${fx.label}-model-2025` });
      expect(res.id).toBeTruthy();
      expect(emu.requests).toHaveLength(1);
      expect(emu.requests[0]!.authorized).toBe(true);
      expect(JSON.stringify(emu.requests[0]!.headers)).not.toContain(fx.key);
    });

    it('round-trips a tool call and its result, as the real API requires', async () => {
      emu.enqueue({ toolCalls: [{ name: 'web_search', input: { query: 'node 20' } }] }, { text: 'Node 20 is LTS.' });
      const history: ChatMessage[] = [{ role: 'user', content: 'What is node 20?' }];
      const first = await provider.complete({ messages: history, tools: TOOLS });
      expect(first.stopReason).toBe('tool_use');
      expect(first.toolCalls).toHaveLength(1);
      const call = first.toolCalls[0]!;
      expect(call).toMatchObject({ name: 'web_search', input: { query: 'node 20' } });
      history.push({ role: 'assistant', content: first.content, toolCalls: first.toolCalls });
      history.push({ role: 'tool', toolCallId: call.id, name: call.name, content: '{"ok":true}' });
      const second = await provider.complete({ messages: history, tools: TOOLS });
      expect(second).toMatchObject({ content: 'Node 20 is LTS.', stopReason: 'end_turn' });
      expect(emu.requests.map((r) => r.outcome)).toEqual([200, 200]);
    });

    it('groups several tool results and a following user turn correctly', async () => {
      emu.enqueue({ text: 'done' });
      const res = await provider.complete({
        messages: [
          { role: 'user', content: 'two searches' },
          { role: 'assistant', content: '', toolCalls: [{ id: 'a1', name: 'web_search', input: { query: 'x' } }, { id: 'a2', name: 'web_search', input: { query: 'y' } }] },
          { role: 'tool', toolCallId: 'a1', name: 'web_search', content: 'r1' },
          { role: 'tool', toolCallId: 'a2', name: 'web_search', content: 'failed', isError: true },
          { role: 'user', content: 'and?' },
        ],
        tools: TOOLS,
      });
      expect(res.content).toBe('done');
    });

    it('emulator rejects a tool result that answers no tool call (400, caller fault)', async () => {
      const err = await provider
        .complete({ messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: 'ok' }, { role: 'tool', toolCallId: 'nope', name: 't', content: 'r' }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(HttpStatusError);
      expect((err as HttpStatusError).status).toBe(400);
      expect((err as HttpStatusError).fault).toBe('caller');
    });

    it('maps max_tokens', async () => {
      emu.enqueue({ text: 'trunc', stopReason: 'max_tokens' });
      const res = await provider.complete({ messages: [{ role: 'user', content: 'long' }] });
      expect(res.stopReason).toBe('max_tokens');
    });

    it('wrong key → 401 HttpStatusError without the key in the message', async () => {
      const bad = fx.make(emu, 'sk-wrong-secret-key-123456');
      const err = (await bad.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as HttpStatusError;
      expect(err).toBeInstanceOf(HttpStatusError);
      expect(err.status).toBe(401);
      expect(err.fault).toBe('caller');
      expect(isTransientError(err)).toBe(false);
      expect(err.message).not.toContain('sk-wrong-secret-key-123456');
      expect(emu.requests[0]!.authorized).toBe(false);
    });

    it.each([500, 503, 529])('HTTP %i → system-fault HttpStatusError with the provider message', async (status) => {
      emu.enqueue(faults.status(status, 'upstream exploded'));
      const err = (await provider.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as HttpStatusError;
      expect(err).toBeInstanceOf(HttpStatusError);
      expect(err.status).toBe(status);
      expect(err.fault).toBe('system');
      expect(err.message).toContain('upstream exploded');
    });

    it('429 with Retry-After → retryAfterMs', async () => {
      emu.enqueue(faults.rateLimited(7));
      const err = (await provider.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as HttpStatusError;
      expect(err.status).toBe(429);
      expect(err.retryAfterMs).toBe(7000);
      expect(isTransientError(err)).toBe(true);
      expect(err.fault).toBe('system');
    });

    it('hanging response → the caller signal aborts it promptly', async () => {
      emu.enqueue(faults.hang());
      const started = Date.now();
      const err = await provider.complete({ messages: [{ role: 'user', content: 'x' }], signal: AbortSignal.timeout(150) }).catch((e: unknown) => e);
      expect((err as Error).name).toBe('TimeoutError');
      expect(isTransientError(err)).toBe(true);
      expect(Date.now() - started).toBeLessThan(5000);
      expect(emu.requests[0]!.outcome).toBe('hang');
    });

    it('connection reset mid-body → undici TypeError whose cause code is ECONNRESET', async () => {
      emu.enqueue(faults.reset());
      const err = await provider.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toBe('fetch failed');
      // The RST surfaces as ECONNRESET, or, when the event loop is busy, as undici's "other side closed" (UND_ERR_SOCKET).
      expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(transportErrorCode(err));
      expect(isTransientError(err)).toBe(true);
    });

    it('malformed JSON → MalformedResponseError, not retryable, system fault', async () => {
      emu.enqueue(faults.malformed());
      const err = (await provider.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as MalformedResponseError;
      expect(err).toBeInstanceOf(MalformedResponseError);
      expect(err).toMatchObject({ reason: 'json', retryable: false, fault: 'system', code: 'MALFORMED_RESPONSE' });
      expect(isTransientError(err)).toBe(false);
    });

    it('valid JSON of the wrong shape → MalformedResponseError(shape)', async () => {
      emu.enqueue(faults.raw(200, '{"hello":"world"}', { 'content-type': 'application/json' }));
      const err = (await provider.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as MalformedResponseError;
      expect(err).toMatchObject({ reason: 'shape' });
    });

    it('slow response still succeeds', async () => {
      emu.enqueue({ text: 'late', delayMs: 80 });
      const started = Date.now();
      const res = await provider.complete({ messages: [{ role: 'user', content: 'x' }] });
      expect(res.content).toBe('late');
      expect(Date.now() - started).toBeGreaterThanOrEqual(70);
    });

    it('non-JSON error body is kept (redacted) in the message', async () => {
      emu.enqueue(faults.raw(502, `<html>bad gateway ${fx.key}</html>`, { 'content-type': 'text/html' }));
      const err = (await provider.complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e)) as HttpStatusError;
      expect(err.status).toBe(502);
      expect(err.message).toContain('bad gateway');
      expect(err.message).not.toContain(fx.key);
    });

    it('rejects a malformed request before the wire', async () => {
      await expect(provider.complete({ messages: [] })).rejects.toBeInstanceOf(ValidationError);
      await expect(provider.complete({ messages: [{ role: 'robot', content: 'x' } as never] })).rejects.toThrow(/role/);
      await expect(provider.complete({ messages: [{ role: 'user', content: 'x' }], maxTokens: 0 })).rejects.toThrow(/maxTokens/);
      await expect(provider.complete({ messages: [{ role: 'tool', toolCallId: '', name: 'x', content: 'x' }] })).rejects.toThrow(/toolCallId/);
      await expect(provider.complete({ messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'bad name', description: '', inputSchema: {} }] })).rejects.toThrow(/tool name/);
      expect(emu.requestCount).toBe(0);
    });
  });
}

describe('provider options', () => {
  it('validates at construction', () => {
    expect(() => anthropicProvider({ apiKey: '', model: 'm' })).toThrow(InvalidOptionsError);
    expect(() => anthropicProvider({ apiKey: 'k', model: '' })).toThrow(/model/);
    expect(() => anthropicProvider({ apiKey: 'k', model: 'm', baseUrl: 'ftp://x' })).toThrow(/baseUrl/);
    expect(() => anthropicProvider({ apiKey: 'k', model: 'm', baseUrl: 'https://u:p@x' })).toThrow(/credentials/);
    expect(() => anthropicProvider({ apiKey: 'k', model: 'm', maxTokens: -1 })).toThrow(/maxTokens/);
    expect(() => anthropicProvider({ apiKey: 'k', model: 'm', colour: 1 } as never)).toThrow(/Unknown option/);
    expect(() => anthropicProvider(undefined as never)).toThrow(InvalidOptionsError);
    expect(() => openaiProvider({ model: 'm', maxTokensParam: 'nope' as never })).toThrow(/maxTokensParam/);
    expect(() => openaiProvider({ model: 'm', apiKey: '' })).toThrow(/apiKey/);
    expect(() => openaiProvider(undefined as never)).toThrow(InvalidOptionsError);
    expect(openaiProvider({ model: 'llama3' }).name).toBe('openai');
  });

  it('openai-compatible without a key (Ollama-style), max_completion_tokens, invalid tool-call JSON and missing ids', async () => {
    const emu = await startOpenAIEmulator({ apiKey: null });
    try {
      const p = openaiProvider({ model: 'llama3', baseUrl: `${emu.url}/v1/`, maxTokensParam: 'max_completion_tokens', name: 'ollama' });
      emu.enqueue({ toolCalls: [{ name: 'web_search', rawArguments: '{"query": oops' }] });
      const res = await p.complete({ messages: [{ role: 'user', content: 'x' }], tools: TOOLS, temperature: 0 });
      expect(res.toolCalls[0]!.input).toBe('{"query": oops');
      const body = emu.requests[0]!.body as Record<string, unknown>;
      expect(body.max_completion_tokens).toBe(1024);
      expect(body.temperature).toBe(0);
      expect(emu.requests[0]!.headers.authorization).toBeUndefined();
      emu.enqueue(faults.raw(200, JSON.stringify({ model: 'x', choices: [{ message: { role: 'assistant', content: null, tool_calls: [{ function: { name: 'web_search', arguments: '' } }] }, finish_reason: 'weird' }] })));
      const res2 = await p.complete({ messages: [{ role: 'user', content: 'x' }] });
      expect(res2.toolCalls[0]).toEqual({ id: 'call_0', name: 'web_search', input: {} });
      expect(res2.stopReason).toBe('other');
      expect(res2.rawStopReason).toBe('weird');
      expect(res2.usage).toEqual({ inputTokens: 0, outputTokens: 0 });
    } finally {
      await emu.close();
    }
  });

  it('anthropic sends system, temperature, extra headers; unknown stop reasons map to other', async () => {
    const emu = await startAnthropicEmulator({ apiKey: 'k-123456' });
    try {
      const p = anthropicProvider({ apiKey: 'k-123456', model: 'c', baseUrl: emu.url, headers: { 'anthropic-beta': 'x' }, version: '2023-06-01' });
      emu.enqueue(faults.raw(200, JSON.stringify({ content: [{ type: 'text', text: 'a' }, { type: 'thinking' }, null, { type: 'text', text: 'b' }], stop_reason: 'pause_turn' })));
      const res = await p.complete({ system: 'sys', temperature: 0.5, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: '' }, { role: 'user', content: 'y' }] });
      expect(res).toMatchObject({ content: 'ab', stopReason: 'other', rawStopReason: 'pause_turn', model: 'c' });
      const req = emu.requests[0]!;
      expect(req.headers['anthropic-beta']).toBe('x');
      expect((req.body as Record<string, unknown>).system).toBe('sys');
      emu.enqueue(faults.raw(200, JSON.stringify({ content: [{ type: 'tool_use', name: 'x' }] })));
      await expect(p.complete({ messages: [{ role: 'user', content: 'x' }] })).rejects.toMatchObject({ reason: 'shape' });
    } finally {
      await emu.close();
    }
  });
});
