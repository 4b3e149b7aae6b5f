import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faults, startExaEmulator, startTavilyEmulator } from '../../emulators/index.js';
import type { Emulator, SearchReply } from '../../emulators/index.js';
import { HttpStatusError } from '../../common/httpStatus.js';
import { isTransientError } from '../../resilience/transient.js';
import { InvalidOptionsError, ValidationError } from '../../common/errors.js';
import { MalformedResponseError, transportErrorCode } from '../../common/http.js';
import { exaSearch } from './exa.js';
import { tavilySearch } from './tavily.js';
import type { SearchClient } from './types.js';

const cases = [
  { label: 'exa', start: () => startExaEmulator(), make: (url: string, apiKey = 'test-exa-key') => exaSearch({ apiKey, baseUrl: url, maxCharacters: 40 }) },
  { label: 'tavily', start: () => startTavilyEmulator(), make: (url: string, apiKey = 'tvly-test-key') => tavilySearch({ apiKey, baseUrl: url }) },
];

for (const c of cases) {
  describe(`${c.label} search client against its emulator`, () => {
    let emu: Emulator<SearchReply>;
    let client: SearchClient;
    beforeAll(async () => {
      emu = await c.start();
      client = c.make(emu.url);
    });
    afterEach(() => emu.reset());
    afterAll(() => emu.close());

    it('returns normalized results', async () => {
      const results = await client.search('  circuit breakers ', { numResults: 3 });
      expect(results).toHaveLength(3);
      expect(results[0]).toMatchObject({ title: 'Result 1 for circuit breakers', url: expect.stringMatching(/^https:\/\/example.com\//), score: 0.95 });
      expect(results[0]!.content).toContain('circuit breakers');
      const body = emu.requests[0]!.body as Record<string, unknown>;
      expect(body.query).toBe('circuit breakers');
      expect(body[c.label === 'exa' ? 'numResults' : 'max_results']).toBe(3);
      expect(emu.requests[0]!.authorized).toBe(true);
    });

    it('uses scripted hits, skips entries without a URL, defaults titles', async () => {
      emu.enqueue(faults.raw(200, JSON.stringify({ results: [{ url: 'https://a.test', title: '', text: 'A', content: 'A', score: 'x' }, { title: 'no url' }, null] })));
      const results = await client.search('q');
      expect(results).toEqual([{ title: 'https://a.test', url: 'https://a.test', content: 'A' }]);
      emu.enqueue({ results: [{ title: 'T', url: 'https://t.test', content: 'body', publishedDate: '2024-05-01' }] });
      const [hit] = await client.search('q');
      expect(hit).toMatchObject({ title: 'T', url: 'https://t.test' });
    });

    it('wrong key → 401, key never in the message', async () => {
      const bad = c.make(emu.url, 'sk-very-secret-999999');
      const err = (await bad.search('q').catch((e: unknown) => e)) as HttpStatusError;
      expect(err).toBeInstanceOf(HttpStatusError);
      expect(err.status).toBe(401);
      expect(isTransientError(err)).toBe(false);
      expect(err.message).not.toContain('sk-very-secret');
    });

    it('500 and 429 are transient; 429 carries Retry-After', async () => {
      emu.enqueue(faults.status(500), faults.rateLimited(3));
      const e1 = (await client.search('q').catch((e: unknown) => e)) as HttpStatusError;
      expect(e1.status).toBe(500);
      expect(isTransientError(e1)).toBe(true);
      const e2 = (await client.search('q').catch((e: unknown) => e)) as HttpStatusError;
      expect(e2.retryAfterMs).toBe(3000);
      expect(isTransientError(e2)).toBe(true);
    });

    it('hang → abort; reset → transient; malformed → MalformedResponseError', async () => {
      emu.enqueue(faults.hang(), faults.reset(), faults.malformed('<html>'));
      const hang = await client.search('q', { signal: AbortSignal.timeout(100) }).catch((e: unknown) => e);
      expect((hang as Error).name).toBe('TimeoutError');
      const reset = await client.search('q').catch((e: unknown) => e);
      // The RST surfaces as ECONNRESET, or, when the event loop is busy, as undici's "other side closed" (UND_ERR_SOCKET).
      expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(transportErrorCode(reset));
      expect(isTransientError(reset)).toBe(true);
      const bad = await client.search('q').catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(MalformedResponseError);
    });

    it('a body without results is a shape error', async () => {
      emu.enqueue(faults.raw(200, '{"nothing":1}'));
      await expect(client.search('q')).rejects.toMatchObject({ reason: 'shape' });
    });

    it('validates input before the wire', async () => {
      await expect(client.search('  ')).rejects.toBeInstanceOf(ValidationError);
      await expect(client.search('x'.repeat(3000))).rejects.toThrow(/at most/);
      await expect(client.search('q', { numResults: 0 })).rejects.toThrow(/numResults/);
      expect(emu.requestCount).toBe(0);
    });
  });
}

describe('search client options and transport', () => {
  it('validates options', () => {
    expect(() => exaSearch({ apiKey: '' })).toThrow(InvalidOptionsError);
    expect(() => exaSearch({ apiKey: 'k', type: 'magic' as never })).toThrow(/type/);
    expect(() => exaSearch({ apiKey: 'k', maxCharacters: 0 })).toThrow(/maxCharacters/);
    expect(() => tavilySearch({ apiKey: undefined as never })).toThrow(/TAVILY_API_KEY/);
    expect(() => tavilySearch({ apiKey: 'k', searchDepth: 'deep' as never })).toThrow(/searchDepth/);
    expect(() => tavilySearch({ apiKey: 'k', baseUrl: 'nope' })).toThrow(/baseUrl/);
    expect(exaSearch({ apiKey: 'k' }).name).toBe('exa');
  });

  it('connection refused → fetch failed with ECONNREFUSED, transient', async () => {
    const emu = await startExaEmulator();
    const url = emu.url;
    await emu.close();
    const err = await exaSearch({ apiKey: 'test-exa-key', baseUrl: url }).search('q').catch((e: unknown) => e);
    expect((err as Error).message).toBe('fetch failed');
    expect(transportErrorCode(err)).toBe('ECONNREFUSED');
    expect(isTransientError(err)).toBe(true);
  });

  it('tavily accepts the key in the body too (legacy clients)', async () => {
    const emu = await startTavilyEmulator({ apiKey: 'tvly-abc' });
    try {
      const res = await fetch(`${emu.url}/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'q', api_key: 'tvly-abc' }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toMatchObject({ query: 'q', answer: null, images: [] });
      expect(typeof body.response_time).toBe('number');
      expect((emu.requests[0]!.body as Record<string, unknown>).api_key).toBe('[redacted]');
    } finally {
      await emu.close();
    }
  });
});

describe('postJson edge cases', () => {
  it('caps oversized 2xx bodies and honours retry-after-ms', async () => {
    const { postJson } = await import('../../common/http.js');
    const emu = await startExaEmulator();
    try {
      emu.enqueue(faults.raw(200, JSON.stringify({ results: [], pad: 'x'.repeat(5000) })));
      await expect(postJson({ service: 'exa', url: `${emu.url}/search`, headers: { 'x-api-key': 'test-exa-key' }, body: { query: 'q' }, secrets: [], maxBytes: 1000 })).rejects.toMatchObject({ reason: 'too_large' });
      emu.enqueue(faults.raw(429, '{"error":"slow down"}', { 'retry-after-ms': '250', 'retry-after': '9' }));
      const err = (await postJson({ service: 'exa', url: `${emu.url}/search`, headers: { 'x-api-key': 'test-exa-key' }, body: { query: 'q' }, secrets: [] }).catch((e: unknown) => e)) as HttpStatusError;
      expect(err.retryAfterMs).toBe(250);
      expect(err.message).toBe('exa HTTP 429: slow down');
      emu.enqueue(faults.raw(500, ''));
      const empty = (await postJson({ service: 'exa', url: `${emu.url}/search`, headers: { 'x-api-key': 'test-exa-key' }, body: { query: 'q' }, secrets: [] }).catch((e: unknown) => e)) as HttpStatusError;
      expect(empty.message).toBe('exa HTTP 500');
    } finally {
      await emu.close();
    }
  });
});
