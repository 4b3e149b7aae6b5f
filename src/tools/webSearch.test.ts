import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { faults, startEmulators, type EmulatorSet } from '../emulators/index.js';
import { CircuitRegistry } from '../resilience/index.js';
import { createTracer } from '../trace/Tracer.js';
import type { TraceRecord } from '../trace/model.js';
import { exaSearch, tavilySearch } from './search/index.js';
import type { SearchClient } from './search/types.js';
import {
  MAX_RESULT_CONTENT_CHARS,
  MAX_SEARCH_OUTPUT_CHARS,
  MAX_SEARCH_RESULTS_RETURNED,
  SEARCH_CACHE_TTL_MS,
  webSearchTool,
  type SearchCache,
  type WebSearchData,
} from './webSearch.js';
import type { ToolResult } from './types.js';

/** A real (in-process) cache honouring TTLs, recording what was stored. */
function memoryCache(): SearchCache & { entries: Map<string, { value: unknown; ttlMs: number }>; failing: boolean } {
  const entries = new Map<string, { value: unknown; ttlMs: number }>();
  return {
    entries,
    failing: false,
    async get(key) {
      if (this.failing) throw new Error('cache down');
      return Promise.resolve(entries.get(key)?.value);
    },
    async set(key, value, ttlMs) {
      if (this.failing) throw new Error('cache down');
      entries.set(key, { value, ttlMs });
      return Promise.resolve();
    },
  };
}

const ctl = () => ({ signal: new AbortController().signal });

function data(r: ToolResult<WebSearchData>): WebSearchData {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.data;
}

describe('web_search', () => {
  let emu: EmulatorSet;
  let circuits: CircuitRegistry;
  let exa: SearchClient;
  let tavily: SearchClient;

  beforeAll(async () => {
    emu = await startEmulators();
    exa = exaSearch({ apiKey: emu.keys.exa, baseUrl: emu.urls.exa });
    tavily = tavilySearch({ apiKey: emu.keys.tavily, baseUrl: emu.urls.tavily });
  });
  afterAll(async () => emu.close());
  afterEach(() => {
    emu.exa.reset();
    emu.tavily.reset();
    circuits?.dispose();
  });

  function tool(options: Partial<Parameters<typeof webSearchTool>[0]> = {}) {
    circuits = new CircuitRegistry();
    return webSearchTool({ providers: [exa, tavily], circuits, ...options });
  }

  it('answers from Exa when it is healthy, with provider and bounded results', async () => {
    const search = tool();
    const d = data(await search.execute({ query: 'circuit breakers' }, ctl()));
    expect(d).toMatchObject({ query: 'circuit breakers', provider: 'exa', cached: false });
    expect(d.results).toHaveLength(MAX_SEARCH_RESULTS_RETURNED);
    expect(d.results[0]!.title).toBe('Result 1 for circuit breakers');
    expect(emu.exa.requestCount).toBe(1);
    expect(emu.tavily.requestCount).toBe(0);
  });

  it('falls back to Tavily when Exa fails, and records both in the tool span', async () => {
    const search = tool();
    emu.exa.enqueue(faults.status(500));
    const tracer = createTracer({ sampleRate: 1, exporters: [{ name: 'capture', export: async (b) => void traces.push(...b) }] });
    const traces: TraceRecord[] = [];
    const result = await tracer.withTrace('t', () => tracer.withSpan('tool', 'web_search', () => search.execute({ query: 'fallback' }, ctl())));
    await tracer.shutdown();
    expect(data(result).provider).toBe('tavily');
    const span = traces[0]!.spans.find((s) => s.kind === 'tool')!;
    expect(span).toMatchObject({ kind: 'tool', toolName: 'web_search', circuit: 'tavily' });
    expect(span.attributes['agentex.fallback.failed']).toEqual(['exa: HttpStatusError']);
    expect(span.attributes['agentex.cache']).toBe('miss');
    expect(circuits.get('exa')!.stats().counts.failures).toBe(1);
  });

  it('caches successes only: a failure is retried next time, a success is served from the cache', async () => {
    const cache = memoryCache();
    const search = tool({ cache });
    emu.exa.enqueue(faults.status(500));
    emu.tavily.enqueue(faults.status(503));
    const failed = await search.execute({ query: 'Cached Query' }, ctl());
    expect(failed.ok).toBe(false);
    expect(cache.entries.size).toBe(0);

    const fresh = data(await search.execute({ query: 'Cached Query' }, ctl()));
    expect(fresh.cached).toBe(false);
    expect(cache.entries.get('cached query')?.ttlMs).toBe(SEARCH_CACHE_TTL_MS);
    const before = emu.exa.requestCount + emu.tavily.requestCount;

    const hit = data(await search.execute({ query: '  cached QUERY ' }, ctl()));
    expect(hit.cached).toBe(true);
    expect(hit.results).toEqual(fresh.results);
    expect(emu.exa.requestCount + emu.tavily.requestCount).toBe(before);
  });

  it('honours cacheTtlMs and keeps working when the cache itself fails', async () => {
    const cache = memoryCache();
    const search = tool({ cache, cacheTtlMs: 1234 });
    data(await search.execute({ query: 'ttl' }, ctl()));
    expect(cache.entries.get('ttl')?.ttlMs).toBe(1234);
    cache.failing = true;
    const d = data(await search.execute({ query: 'ttl' }, ctl()));
    expect(d.cached).toBe(false);
  });

  it('bounds output: 5 results, 500 characters of content each, 2,000 characters in total', async () => {
    const search = tool();
    const long = 'x'.repeat(5_000);
    emu.exa.enqueue({ results: Array.from({ length: 10 }, (_, i) => ({ title: `T${i}`, url: `https://e.com/${i}`, content: long })) });
    const d = data(await search.execute({ query: 'long pages' }, ctl()));
    expect(d.results.length).toBeLessThanOrEqual(MAX_SEARCH_RESULTS_RETURNED);
    for (const r of d.results) expect(r.content.length).toBeLessThanOrEqual(MAX_RESULT_CONTENT_CHARS);
    expect(d.results[0]!.content.endsWith('…')).toBe(true);
    const total = d.results.reduce((n, r) => n + r.title.length + r.url.length + r.content.length, 0);
    expect(total).toBeLessThanOrEqual(MAX_SEARCH_OUTPUT_CHARS);
    expect(total).toBeGreaterThan(MAX_SEARCH_OUTPUT_CHARS - 100);
  });

  it('keeps short results whole', async () => {
    const search = tool();
    emu.exa.enqueue({ results: [{ title: 'a', url: 'https://a.example', content: 'short' }] });
    const d = data(await search.execute({ query: 'short' }, ctl()));
    expect(d.results).toEqual([expect.objectContaining({ title: 'a', url: 'https://a.example', content: 'short' })]);
  });

  it('without any provider key returns NOT_CONFIGURED', async () => {
    const search = webSearchTool({ providers: [], circuits: new CircuitRegistry() });
    const r = await search.execute({ query: 'anything' }, ctl());
    expect(r).toEqual({ ok: false, error: { code: 'NOT_CONFIGURED', message: expect.stringContaining('EXA_API_KEY') as string, retryable: false } });
  });

  it('returns SEARCH_FAILED naming each provider when all fail', async () => {
    const search = tool();
    emu.exa.enqueue(faults.status(500, 'exa broke'));
    emu.tavily.enqueue(faults.malformed());
    const r = await search.execute({ query: 'both fail' }, ctl());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.code).toBe('SEARCH_FAILED');
    expect(r.error.retryable).toBe(true);
    expect(r.error.message).toMatch(/exa: exa HTTP 500: exa broke; tavily: tavily returned a malformed response/);
  });

  it('returns CIRCUIT_OPEN at once, without network calls, when every circuit is open', async () => {
    const search = tool({ breaker: { threshold: 1 } });
    emu.exa.setHandler(() => faults.status(500));
    emu.tavily.setHandler(() => faults.status(500));
    expect((await search.execute({ query: 'open them' }, ctl())).ok).toBe(false);
    expect(circuits.get('exa')!.state).toBe('open');
    expect(circuits.get('tavily')!.state).toBe('open');
    const requests = emu.exa.requestCount + emu.tavily.requestCount;
    const started = performance.now();
    const runs = 200;
    for (let i = 0; i < runs; i++) {
      const r = await search.execute({ query: `open ${i}` }, ctl());
      expect(!r.ok && r.error.code).toBe('CIRCUIT_OPEN');
    }
    const perCallMs = (performance.now() - started) / runs;
    // Microseconds in practice; the bound is generous for a shared 2-core machine.
    expect(perCallMs).toBeLessThan(5);
    expect(emu.exa.requestCount + emu.tavily.requestCount).toBe(requests);
  });

  it('uses a circuit already in the registry as is, and applies breaker options to new ones', async () => {
    circuits = new CircuitRegistry();
    const preset = circuits.getOrCreate('exa', { threshold: 7, cooldownMs: 1_000 });
    webSearchTool({ providers: [exa, tavily], circuits, breaker: { cooldownMs: 5_000 } });
    expect(circuits.get('exa')).toBe(preset);
    emu.tavily.setHandler(() => faults.status(500));
    const fresh = new CircuitRegistry();
    const t = webSearchTool({ providers: [tavily], circuits: fresh, breaker: { threshold: 1 } });
    await t.execute({ query: 'x' }, ctl());
    expect(fresh.get('tavily')!.state).toBe('open');
    expect(fresh.get('tavily')!.stats().cooldownRemainingMs).toBeGreaterThan(25_000);
  });

  it('rejects invalid input through its schema', () => {
    const search = tool();
    expect(search.input.safeParse({ query: '' }).success).toBe(false);
    expect(search.input.safeParse({ query: 'x'.repeat(501) }).success).toBe(false);
    expect(search.inputSchema).toMatchObject({ type: 'object', required: ['query'] });
  });

  it('passes cancellation through instead of falling back', async () => {
    const search = tool();
    emu.exa.enqueue(faults.hang());
    const ac = new AbortController();
    const pending = search.execute({ query: 'cancel me' }, { signal: ac.signal });
    await emu.exa.nextRequest();
    ac.abort(new Error('client went away'));
    const r = await pending;
    expect(r).toEqual({ ok: false, error: { code: 'CANCELLED', message: 'Web search was cancelled', retryable: false } });
    expect(emu.tavily.requestCount).toBe(0);
  });
});
