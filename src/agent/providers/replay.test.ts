import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faults, startAnthropicEmulator } from '../../emulators/index.js';
import type { Emulator, ModelReply } from '../../emulators/index.js';
import { HttpStatusError } from '../../common/httpStatus.js';
import { isTransientError } from '../../resilience/transient.js';
import { InvalidOptionsError, ValidationError } from '../../common/errors.js';
import { MalformedResponseError, transportErrorCode } from '../../common/http.js';
import { anthropicProvider } from './anthropic.js';
import { CassetteError, isCassetteError } from './cassette.js';
import type { Cassette } from './cassette.js';
import { recordingProvider } from './recording.js';
import { ReplayMismatchError, isReplayMismatchError, replayProvider } from './replay.js';
import { isScriptExhaustedError, scriptedProvider } from './scripted.js';
import type { ScriptExhaustedError } from './scripted.js';
import type { ChatMessage } from './types.js';

const KEY = 'sk-ant-api03-SECRETSECRETSECRET';

describe('record → replay round trip', () => {
  let emu: Emulator<ModelReply>;
  let dir: string;
  beforeAll(async () => {
    emu = await startAnthropicEmulator({ apiKey: KEY });
    dir = mkdtempSync(join(tmpdir(), 'agentex-cassette-'));
  });
  afterAll(async () => {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('records exchanges (keys redacted) and replays them without the network', async () => {
    const path = join(dir, 'nested', 'run.json');
    const rec = recordingProvider(anthropicProvider({ apiKey: KEY, model: 'claude-x', baseUrl: emu.url }), { path, secrets: ['my-user-password'] });
    emu.enqueue(
      { toolCalls: [{ id: 'toolu_1', name: 'datetime', input: { timezone: 'UTC' } }], usage: { inputTokens: 10, outputTokens: 5 } },
      faults.rateLimited(4),
      faults.malformed(),
      faults.reset(),
      { text: `It is noon. (echo ${KEY})` },
    );
    const history: ChatMessage[] = [{ role: 'user', content: 'What time is it? my-user-password' }];
    const first = await rec.complete({ system: 'sys', messages: history, tools: [{ name: 'datetime', description: 'd', inputSchema: { type: 'object' } }] });
    history.push({ role: 'assistant', content: first.content, toolCalls: first.toolCalls }, { role: 'tool', toolCallId: 'toolu_1', name: 'datetime', content: '12:00' });
    const e1 = await rec.complete({ messages: history }).catch((e: unknown) => e);
    const e2 = await rec.complete({ messages: history }).catch((e: unknown) => e);
    const e3 = await rec.complete({ messages: history }).catch((e: unknown) => e);
    const last = await rec.complete({ messages: history });
    expect(e1).toBeInstanceOf(HttpStatusError);
    expect(last.content).toContain(KEY); // the live response is untouched...
    const text = readFileSync(path, 'utf8');
    expect(text).not.toContain(KEY); // ...but never reaches the file
    expect(text).not.toContain('my-user-password');
    const cassette = JSON.parse(text) as Cassette;
    expect(cassette).toMatchObject({ version: 1, provider: 'anthropic', model: 'claude-x' });
    expect(cassette.exchanges).toHaveLength(5);
    expect(rec.droppedExchanges).toBe(0);

    const liveCalls = emu.requestCount;
    const replay = replayProvider({ path, secrets: ['my-user-password'] });
    expect(replay.remaining).toBe(5);
    const r1 = await replay.complete({ system: 'sys', messages: history.slice(0, 1), tools: [{ name: 'datetime', description: 'd', inputSchema: { type: 'object' } }] });
    expect(r1).toEqual(first);
    const re1 = (await replay.complete({ messages: history }).catch((e: unknown) => e)) as HttpStatusError;
    expect(re1).toBeInstanceOf(HttpStatusError);
    expect(re1.status).toBe(429);
    expect(re1.retryAfterMs).toBe(4000);
    expect(await replay.complete({ messages: history }).catch((e: unknown) => e)).toBeInstanceOf(MalformedResponseError);
    const re3 = await replay.complete({ messages: history }).catch((e: unknown) => e);
    expect(transportErrorCode(re3)).toBe(transportErrorCode(e3));
    expect(isTransientError(re3)).toBe(isTransientError(e3));
    expect(e2).toBeInstanceOf(MalformedResponseError);
    const rlast = await replay.complete({ messages: history });
    expect(rlast.content).toBe('It is noon. (echo [redacted])');
    expect(replay.remaining).toBe(0);
    expect(emu.requestCount).toBe(liveCalls);
    const over = (await replay.complete({ messages: history }).catch((e: unknown) => e)) as ReplayMismatchError;
    expect(isReplayMismatchError(over)).toBe(true);
    expect(over.reason).toBe('exhausted');
  });

  it('a request that differs fails with the first differing path', async () => {
    const cassette: Cassette = {
      version: 1,
      provider: 'p',
      model: 'm',
      recordedAt: new Date().toISOString(),
      exchanges: [{ request: { messages: [{ role: 'user', content: 'hello' }] }, response: { content: 'hi', toolCalls: [], stopReason: 'end_turn', usage: { inputTokens: 1, outputTokens: 1 }, model: 'm' } }],
    };
    const replay = replayProvider({ cassette });
    const err = (await replay.complete({ messages: [{ role: 'user', content: 'goodbye' }] }).catch((e: unknown) => e)) as ReplayMismatchError;
    expect(err).toBeInstanceOf(ReplayMismatchError);
    expect(err).toMatchObject({ reason: 'mismatch', index: 0, path: 'messages[0].content', code: 'REPLAY_MISMATCH' });
    expect(err.message).toContain('"hello"');
    expect(err.message).toContain('"goodbye"');
    const loose = replayProvider({ cassette, matchOn: ['messages'] });
    await expect(loose.complete({ system: 'ignored', messages: [{ role: 'user', content: 'hello' }] })).resolves.toMatchObject({ content: 'hi' });
  });

  it('match mode takes any unused matching exchange', async () => {
    const resp = (content: string) => ({ content, toolCalls: [], stopReason: 'end_turn' as const, usage: { inputTokens: 0, outputTokens: 0 }, model: 'm' });
    const cassette: Cassette = {
      version: 1,
      provider: 'p',
      model: 'm',
      recordedAt: '',
      exchanges: [
        { request: { messages: [{ role: 'user', content: 'a' }] }, response: resp('A') },
        { request: { messages: [{ role: 'user', content: 'b' }] }, response: resp('B') },
      ],
    };
    const replay = replayProvider({ cassette, mode: 'match' });
    expect((await replay.complete({ messages: [{ role: 'user', content: 'b' }] })).content).toBe('B');
    await expect(replay.complete({ messages: [{ role: 'user', content: 'c' }] })).rejects.toMatchObject({ reason: 'mismatch' });
    expect((await replay.complete({ messages: [{ role: 'user', content: 'a' }] })).content).toBe('A');
    await expect(replay.complete({ messages: [{ role: 'user', content: 'a' }] })).rejects.toMatchObject({ reason: 'exhausted' });
  });

  it('honours an aborted signal and validates requests', async () => {
    const replay = replayProvider({ cassette: { version: 1, provider: 'p', model: 'm', recordedAt: '', exchanges: [] } });
    const ac = new AbortController();
    ac.abort(new Error('gone'));
    await expect(replay.complete({ messages: [{ role: 'user', content: 'x' }], signal: ac.signal })).rejects.toThrow('gone');
    await expect(replay.complete({ messages: [] })).rejects.toBeInstanceOf(ValidationError);
  });

  it('does not record calls the caller aborted', async () => {
    const path = join(dir, 'aborted.json');
    const rec = recordingProvider(anthropicProvider({ apiKey: KEY, model: 'c', baseUrl: emu.url }), { path, autosave: false });
    emu.enqueue(faults.hang());
    await expect(rec.complete({ messages: [{ role: 'user', content: 'x' }], signal: AbortSignal.timeout(50) })).rejects.toThrow();
    expect(rec.cassette.exchanges).toHaveLength(0);
    await rec.save();
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ exchanges: [] });
  });

  it('rejects bad cassettes and options with typed errors', () => {
    expect(() => replayProvider({ path: join(dir, 'missing.json') })).toThrow(CassetteError);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{nope');
    expect(() => replayProvider({ path: bad })).toThrow(/not valid JSON/);
    writeFileSync(bad, JSON.stringify({ version: 2, exchanges: [] }));
    expect(() => replayProvider({ path: bad })).toThrow(/version 1/);
    writeFileSync(bad, JSON.stringify({ version: 1, exchanges: [{ request: {} }] }));
    try {
      replayProvider({ path: bad });
    } catch (e) {
      expect(isCassetteError(e)).toBe(true);
    }
    expect(() => replayProvider({})).toThrow(InvalidOptionsError);
    expect(() => replayProvider({ path: bad, cassette: {} as never })).toThrow(/exactly one/);
    expect(() => replayProvider({ cassette: { version: 1, exchanges: [] } as never, mode: 'random' as never })).toThrow(/mode/);
    expect(() => replayProvider({ cassette: { version: 1, exchanges: [] } as never, matchOn: ['colour' as never] })).toThrow(/matchOn/);
    expect(() => recordingProvider({} as never, { path: 'x' })).toThrow(/ModelProvider/);
    expect(() => recordingProvider(scriptedProvider([]), { path: '' })).toThrow(/path/);
  });
});

describe('scriptedProvider', () => {
  it('answers in order with defaults and records calls', async () => {
    const p = scriptedProvider([{ toolCalls: [{ name: 'datetime', input: {} }] }, { content: 'done', usage: { inputTokens: 3, outputTokens: 2 } }]);
    const a = await p.complete({ messages: [{ role: 'user', content: 'x' }] });
    expect(a).toEqual({ content: '', toolCalls: [{ id: 'call_0_0', name: 'datetime', input: {} }], stopReason: 'tool_use', usage: { inputTokens: 0, outputTokens: 0 }, model: 'scripted-model' });
    const b = await p.complete({ messages: [{ role: 'user', content: 'y' }] });
    expect(b).toMatchObject({ content: 'done', stopReason: 'end_turn', usage: { inputTokens: 3, outputTokens: 2 } });
    expect(p.callCount).toBe(2);
    expect(p.calls[1]!.messages[0]!.content).toBe('y');
    const err = await p.complete({ messages: [{ role: 'user', content: 'z' }] }).catch((e: unknown) => e);
    expect(isScriptExhaustedError(err)).toBe(true);
    expect((err as ScriptExhaustedError).calls).toBe(3);
  });

  it('supports errors, functions, repeat-last, cycle, delays and aborts', async () => {
    const boom = new HttpStatusError(503);
    const p = scriptedProvider([boom, (req, call) => ({ content: `call ${call}: ${req.messages.length}`, id: 'x', rawStopReason: 'stop', model: 'other' })], { onExhausted: 'repeat-last', name: 'fake', model: 'fm' });
    expect(p.name).toBe('fake');
    await expect(p.complete({ messages: [{ role: 'user', content: 'x' }] })).rejects.toBe(boom);
    expect((await p.complete({ messages: [{ role: 'user', content: 'x' }] })).content).toBe('call 1: 1');
    expect(await p.complete({ messages: [{ role: 'user', content: 'x' }] })).toMatchObject({ content: 'call 2: 1', id: 'x', rawStopReason: 'stop', model: 'other' });
    const cyc = scriptedProvider([{ content: 'a' }, { content: 'b' }], { onExhausted: 'cycle' });
    const seen = [];
    for (let i = 0; i < 5; i++) seen.push((await cyc.complete({ messages: [{ role: 'user', content: 'x' }] })).content);
    expect(seen).toEqual(['a', 'b', 'a', 'b', 'a']);
    const slow = scriptedProvider([{ content: 'late', delayMs: 10_000 }, { content: 'quick', delayMs: 1 }]);
    const ac = new AbortController();
    const pending = slow.complete({ messages: [{ role: 'user', content: 'x' }], signal: ac.signal });
    ac.abort(new Error('user left'));
    await expect(pending).rejects.toThrow('user left');
    expect((await slow.complete({ messages: [{ role: 'user', content: 'x' }], signal: new AbortController().signal })).content).toBe('quick');
    const dead = new AbortController();
    dead.abort();
    await expect(slow.complete({ messages: [{ role: 'user', content: 'x' }], signal: dead.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('validates', async () => {
    expect(() => scriptedProvider('x' as never)).toThrow(InvalidOptionsError);
    expect(() => scriptedProvider([], { onExhausted: 'cycle' })).toThrow(/steps.length/);
    expect(() => scriptedProvider([], { onExhausted: 'loop' as never })).toThrow(/onExhausted/);
    await expect(scriptedProvider([{}]).complete({ messages: [{ role: 'user', content: 1 as never }] })).rejects.toBeInstanceOf(ValidationError);
  });

  it('bounds remembered calls', async () => {
    const p = scriptedProvider([{ content: 'x' }], { onExhausted: 'repeat-last' });
    for (let i = 0; i < 1005; i++) await p.complete({ messages: [{ role: 'user', content: String(i) }] });
    expect(p.calls).toHaveLength(1000);
    expect(p.droppedCalls).toBe(5);
    expect(p.calls[0]!.messages[0]!.content).toBe('5');
  });
});
