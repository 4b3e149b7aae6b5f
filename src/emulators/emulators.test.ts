import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { faults, startAnthropicEmulator, startEmulators, startExaEmulator, startOpenAIEmulator, startTavilyEmulator } from './index.js';
import type { EmulatorSet } from './index.js';
import { InvalidOptionsError } from '../common/errors.js';

async function post(url: string, body: unknown, headers: Record<string, string> = {}):  
Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* raw */
  }
  return { status: res.status, json, headers: res.headers };
}

describe('startEmulators', () => {
  let emu: EmulatorSet;
  beforeAll(async () => {
    emu = await startEmulators();
  });
  afterAll(() => emu.close());

  const A = (): Record<string, string> => ({ 'x-api-key': emu.keys.anthropic, 'anthropic-version': '2023-06-01' });
  const O = (): Record<string, string> => ({ authorization: `Bearer ${emu.keys.openai}` });

  it('exposes urls, keys and env', () => {
    expect(emu.urls.openai).toBe(`${emu.openai.url}/v1`);
    expect(emu.env.EXA_BASE_URL).toBe(emu.exa.url);
    expect(emu.env.TAVILY_API_KEY).toBe('tvly-test-key');
    expect(new Set(Object.values(emu.urls)).size).toBe(4);
  });

  it('anthropic: real response shape and error envelope', async () => {
    const ok = await post(`${emu.anthropic.url}/v1/messages`, { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'hello' }] }, A());
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ type: 'message', role: 'assistant', model: 'm', stop_reason: 'end_turn', stop_sequence: null, content: [{ type: 'text', text: 'Emulated reply to: hello' }] });
    expect(ok.json.id).toMatch(/^msg_/);
    expect(ok.json.usage.input_tokens).toBeGreaterThan(0);
    expect(ok.headers.get('request-id')).toMatch(/^req_/);
    const noVersion = await post(`${emu.anthropic.url}/v1/messages`, { model: 'm', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }, { 'x-api-key': emu.keys.anthropic });
    expect(noVersion).toMatchObject({ status: 400, json: { type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('anthropic-version') } } });
    const noKey = await post(`${emu.anthropic.url}/v1/messages`, {}, { 'anthropic-version': '2023-06-01' });
    expect(noKey).toMatchObject({ status: 401, json: { type: 'error', error: { type: 'authentication_error' } } });
  });

  it.each([
    [{ max_tokens: 1, messages: [{ role: 'user', content: 'x' }] }, 'model'],
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }] }, 'max_tokens'],
    [{ model: 'm', max_tokens: 1, messages: [] }, 'messages'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'system', content: 'x' }] }, 'role'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 5 }] }, 'content'],
    [{ model: 'm', max_tokens: 1, system: 5, messages: [{ role: 'user', content: 'x' }] }, 'system'],
    [{ model: 'm', max_tokens: 1, tools: {}, messages: [{ role: 'user', content: 'x' }] }, 'tools'],
    [{ model: 'm', max_tokens: 1, tools: [{ name: 'bad name' }], messages: [{ role: 'user', content: 'x' }] }, 'name'],
    [{ model: 'm', max_tokens: 1, tools: [{ name: 't', input_schema: { type: 'string' } }], messages: [{ role: 'user', content: 'x' }] }, 'input_schema'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 'text'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{}] }] }, 'type'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'video' }] }] }, 'not supported'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'tool_use', id: 'a', name: 'n', input: {} }] }] }, 'assistant messages'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'a' }] }] }, 'id, name'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'assistant', content: [{ type: 'tool_result', tool_use_id: 'a' }] }] }, 'user messages'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'tool_result' }] }] }, 'tool_use_id'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'a', content: 3 }] }] }, 'content'],
    [{ model: 'm', max_tokens: 1, messages: [{ role: 'user', content: 'x' }, { role: 'assistant', content: [{ type: 'tool_use', id: 'a', name: 'n', input: {} }] }, { role: 'user', content: 'no result' }] }, 'without `tool_result`'],
  ])('anthropic rejects %j (400 mentioning %s)', async (body, fragment) => {
    const res = await post(`${emu.anthropic.url}/v1/messages`, body, A());
    expect(res.status).toBe(400);
    expect(res.json.error.message).toContain(fragment);
  });

  it('openai: real response shape, tool calls, error envelope', async () => {
    emu.openai.enqueue({ toolCalls: [{ id: 'call_1', name: 'f', input: { a: 1 } }], text: 'calling' });
    const ok = await post(`${emu.openai.url}/v1/chat/completions`, { model: 'g', messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }] }, O());
    expect(ok.json).toMatchObject({
      object: 'chat.completion',
      model: 'g',
      choices: [{ index: 0, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'calling', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] } }],
    });
    expect(ok.json.usage.total_tokens).toBe(ok.json.usage.prompt_tokens + ok.json.usage.completion_tokens);
    emu.openai.enqueue({ text: 'cut', stopReason: 'max_tokens' });
    const len = await post(`${emu.openai.url}/v1/chat/completions`, { model: 'g', messages: [{ role: 'user', content: 'x' }] }, O());
    expect(len.json.choices[0].finish_reason).toBe('length');
    const noKey = await post(`${emu.openai.url}/v1/chat/completions`, { model: 'g', messages: [] });
    expect(noKey).toMatchObject({ status: 401, json: { error: { type: 'invalid_request_error', code: 'invalid_api_key' } } });
    emu.openai.enqueue(faults.rateLimited(2));
    const limited = await post(`${emu.openai.url}/v1/chat/completions`, { model: 'g', messages: [{ role: 'user', content: 'x' }] }, O());
    expect(limited).toMatchObject({ status: 429, json: { error: { code: 'rate_limit_exceeded' } } });
    expect(limited.headers.get('retry-after')).toBe('2');
  });

  it.each([
    [{ messages: [{ role: 'user', content: 'x' }] }, "'model'"],
    [{ model: 'g', max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }, 'max_tokens'],
    [{ model: 'g', tools: {}, messages: [{ role: 'user', content: 'x' }] }, 'tools'],
    [{ model: 'g', tools: [{ type: 'function', function: {} }], messages: [{ role: 'user', content: 'x' }] }, 'tools[0]'],
    [{ model: 'g', messages: [] }, 'messages'],
    [{ model: 'g', messages: [{ role: 'robot', content: 'x' }] }, 'role'],
    [{ model: 'g', messages: [{ role: 'user' }] }, 'content'],
    [{ model: 'g', messages: [{ role: 'tool', tool_call_id: 'z', content: 'x' }] }, "role 'tool'"],
    [{ model: 'g', messages: [{ role: 'assistant', tool_calls: [{ id: 'a' }] }] }, 'tool_calls[0]'],
    [{ model: 'g', messages: [{ role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] }, { role: 'user', content: 'x' }] }, 'did not have response'],
    [{ model: 'g', messages: [{ role: 'assistant', tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{}' } }] }] }, 'did not have response'],
    ['not json', 'JSON'],
  ])('openai rejects %j (400 mentioning %s)', async (body, fragment) => {
    const res = await post(`${emu.openai.url}/v1/chat/completions`, body, O());
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).toContain(fragment);
  });

  it.each([
    ['exa', {}, 'query'],
    ['exa', { query: 'q', numResults: 0 }, 'numResults'],
    ['exa', { query: 'q', type: 'psychic' }, 'type'],
    ['exa', { query: 'q', contents: 'yes' }, 'contents'],
    ['exa', [1], 'object'],
    ['tavily', { query: '' }, 'Query'],
    ['tavily', { query: 'q', max_results: 50 }, 'max_results'],
    ['tavily', { query: 'q', search_depth: 'deepest' }, 'depth'],
    ['tavily', { query: 'q', topic: 'gossip' }, 'topic'],
    ['tavily', 'x', 'object'],
  ] as const)('%s rejects %j (400 mentioning %s)', async (which, body, fragment) => {
    const e = which === 'exa' ? emu.exa : emu.tavily;
    const headers: Record<string, string> = which === 'exa' ? { 'x-api-key': emu.keys.exa } : { authorization: `Bearer ${emu.keys.tavily}` };
    const res = await post(`${e.url}/search`, typeof body === 'string' ? JSON.stringify(body) : body, headers);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.json)).toContain(fragment);
  });

  it('exa: real shape, error envelope, text only when asked', async () => {
    const plain = await post(`${emu.exa.url}/search`, { query: 'q', numResults: 2 }, { 'x-api-key': emu.keys.exa });
    expect(plain.json.results).toHaveLength(2);
    expect(plain.json.results[0].text).toBeUndefined();
    expect(typeof plain.json.requestId).toBe('string');
    const withText = await post(`${emu.exa.url}/search`, { query: 'q', contents: { text: true } }, { 'x-api-key': emu.keys.exa });
    expect(withText.json.results).toHaveLength(10);
    expect(withText.json.results[0].text).toContain('q');
    const denied = await post(`${emu.exa.url}/search`, { query: 'q' }, { 'x-api-key': 'nope' });
    expect(denied).toMatchObject({ status: 401, json: { tag: 'INVALID_API_KEY' } });
    emu.exa.enqueue(faults.status(500), faults.status(429), faults.status(422));
    expect((await post(`${emu.exa.url}/search`, { query: 'q' }, { 'x-api-key': emu.keys.exa })).json.tag).toBe('INTERNAL_ERROR');
    expect((await post(`${emu.exa.url}/search`, { query: 'q' }, { 'x-api-key': emu.keys.exa })).json.tag).toBe('RATE_LIMIT_EXCEEDED');
    expect((await post(`${emu.exa.url}/search`, { query: 'q' }, { 'x-api-key': emu.keys.exa })).json.tag).toBe('INVALID_REQUEST_BODY');
    const tav = await post(`${emu.tavily.url}/search`, { query: 'q' }, { authorization: 'Bearer wrong' });
    expect(tav).toMatchObject({ status: 401, json: { detail: { error: expect.any(String) } } });
  });

  it('404 for other paths, 405 for other methods', async () => {
    expect((await post(`${emu.exa.url}/contents`, { query: 'q' }, { 'x-api-key': emu.keys.exa })).status).toBe(404);
    const get = await fetch(`${emu.exa.url}/search`, { headers: { 'x-api-key': emu.keys.exa } });
    expect(get.status).toBe(405);
    await get.body?.cancel();
  });
});

describe('emulator mechanics', () => {
  it('handler functions, nextRequest, onRequest, reset', async () => {
    const emu = await startExaEmulator({ handler: (r) => ({ results: [{ title: `h:${(r.body as { query: string }).query}` }] }) });
    try {
      const seen: string[] = [];
      const dispose = emu.onRequest((r) => seen.push(r.path));
      const next = emu.nextRequest();
      const res = await post(`${emu.url}/search`, { query: 'zz' }, { 'x-api-key': 'test-exa-key' });
      expect(res.json.results[0].title).toBe('h:zz');
      expect((await next).path).toBe('/search');
      dispose();
      await post(`${emu.url}/search`, { query: 'zz' }, { 'x-api-key': 'test-exa-key' });
      expect(seen).toEqual(['/search']);
      emu.setHandler(() => {
        throw new Error('script bug');
      });
      const broken = await post(`${emu.url}/search`, { query: 'q' }, { 'x-api-key': 'test-exa-key' });
      expect(broken.status).toBe(500);
      expect(broken.json.error).toContain('script bug');
      emu.setHandler(undefined);
      emu.reset();
      expect(emu.requests).toHaveLength(0);
      expect(emu.requestCount).toBe(0);
      const canned = await post(`${emu.url}/search`, { query: 'q', numResults: 1 }, { 'x-api-key': 'test-exa-key' });
      expect(canned.json.results).toHaveLength(1);
    } finally {
      await emu.close();
    }
  });

  it('bounds recorded requests and counts drops', async () => {
    const emu = await startTavilyEmulator({ maxRecordedRequests: 3 });
    try {
      for (let i = 0; i < 5; i++) await post(`${emu.url}/search`, { query: `q${i}` }, { authorization: 'Bearer tvly-test-key' });
      expect(emu.requests.map((r) => (r.body as { query: string }).query)).toEqual(['q2', 'q3', 'q4']);
      expect(emu.droppedRequests).toBe(2);
      expect(emu.requestCount).toBe(5);
    } finally {
      await emu.close();
    }
  });

  it('close() ends hanging and slow responses at once', async () => {
    const emu = await startAnthropicEmulator({ script: [faults.hang(), { text: 'slow', delayMs: 60_000 }] });
    const headers = { 'x-api-key': 'test-anthropic-key', 'anthropic-version': '2023-06-01' };
    const body = { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] };
    const arrived = emu.nextRequest(2);
    const a = post(`${emu.url}/v1/messages`, body, headers).catch((e: unknown) => e);
    const b = post(`${emu.url}/v1/messages`, body, headers).catch((e: unknown) => e);
    await arrived;
    const started = Date.now();
    await emu.close();
    const [ra, rb] = await Promise.all([a, b]);
    expect(ra).toBeInstanceOf(TypeError);
    expect(rb).toBeInstanceOf(TypeError);
    expect(Date.now() - started).toBeLessThan(2000);
    await emu.close(); // idempotent
  });

  it('a slow step abandoned by the client is not answered', async () => {
    const emu = await startOpenAIEmulator({ script: [{ text: 'late', delayMs: 200 }] });
    try {
      const err = await fetch(`${emu.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer test-openai-key', 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'g', messages: [{ role: 'user', content: 'x' }] }),
        signal: AbortSignal.timeout(30),
      }).catch((e: unknown) => e);
      expect((err as Error).name).toBe('TimeoutError');
      expect(emu.requests[0]!.outcome).toBe('pending');
    } finally {
      await emu.close();
    }
  });

  it('413 for huge bodies', async () => {
    const emu = await startExaEmulator();
    try {
      const res = await post(`${emu.url}/search`, { query: 'x'.repeat(9 * 1024 * 1024) }, { 'x-api-key': 'test-exa-key' });
      expect(res.status).toBe(413);
    } finally {
      await emu.close();
    }
  });

  it('validates options', async () => {
    await expect(startExaEmulator({ port: -1 })).rejects.toThrow(InvalidOptionsError);
    await expect(startExaEmulator({ bogus: 1 } as never)).rejects.toThrow(/Unknown option/);
    await expect(startTavilyEmulator({ apiKey: '' })).rejects.toThrow(/apiKey/);
    await expect(startAnthropicEmulator({ apiKey: null })).rejects.toThrow(/always needs a key/);
    await expect(startOpenAIEmulator({ script: 'x' as never })).rejects.toThrow(/script/);
    await expect(startOpenAIEmulator({ handler: 3 as never })).rejects.toThrow(/handler/);
  });
});
