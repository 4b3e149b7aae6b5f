/**
 * The `web_search` tool: Exa first, Tavily as fallback, each behind its own circuit breaker (threshold 3, cooldown
 * 30 s, as in the original design), through a fallback chain. A provider without a key is simply not in the chain.
 * Successful results are cached (15 minutes by default) in the state manager's search-cache collection; failures are
 * never cached. Output is bounded: at most 5 results, 500 characters of content each, 2,000 characters in total.
 */
import { z } from 'zod';
import { toError } from '../common/errors.js';
import { defaultRegistry, fallback, isCancelledError, isCircuitOpenError, isFallbackExhaustedError, type CircuitRegistry } from '../resilience/index.js';
import { currentSpan } from '../trace/context.js';
import type { SearchClient, SearchResult } from './search/types.js';
import { defineTool, toolError, toolOk, type Tool } from './types.js';

export const MAX_SEARCH_RESULTS_RETURNED = 5;
export const MAX_RESULT_CONTENT_CHARS = 500;
export const MAX_SEARCH_OUTPUT_CHARS = 2_000;
/** Search cache TTL, as in the original design. */
export const SEARCH_CACHE_TTL_MS = 15 * 60 * 1000;
/** Per-provider breaker settings, as in the original design. */
export const SEARCH_CIRCUIT_OPTIONS = { threshold: 3, cooldownMs: 30_000, timeoutMs: 15_000 } as const;

/** Where successful searches are cached (the state manager's `search` collection at the service edge). */
export interface SearchCache {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown, ttlMs: number): Promise<void>;
}

export interface WebSearchToolOptions {
  /** In fallback order; usually `[exaSearch(...), tavilySearch(...)]`, only those with a key. */
  providers: readonly SearchClient[];
  cache?: SearchCache | undefined;
  /** Where the per-provider circuits live. Default: the process-wide registry. */
  circuits?: CircuitRegistry | undefined;
  cacheTtlMs?: number;
  /**
   * Breaker settings of the per-provider circuits, over {@link SEARCH_CIRCUIT_OPTIONS} (threshold 3, cooldown 30 s,
   * per-call timeout 15 s). Only applied when the circuit is created: a circuit already in `circuits` is used as is.
   */
  breaker?: { threshold?: number; cooldownMs?: number; timeoutMs?: number };
}

export interface WebSearchData {
  query: string;
  provider: string;
  cached: boolean;
  results: { title: string; url: string; content: string; publishedDate?: string }[];
}

const input = z.object({
  query: z.string().min(1).max(500).describe('What to search the web for'),
});

/** `text` cut to at most `max` characters, the cut marked by a trailing `…` (which counts). */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}

/**
 * At most {@link MAX_SEARCH_RESULTS_RETURNED} results, each content at most {@link MAX_RESULT_CONTENT_CHARS}
 * characters, and title + URL + content of all results together at most {@link MAX_SEARCH_OUTPUT_CHARS}.
 */
function bound(results: readonly SearchResult[]): WebSearchData['results'] {
  const out: WebSearchData['results'] = [];
  let total = 0;
  for (const r of results.slice(0, MAX_SEARCH_RESULTS_RETURNED)) {
    const title = cut(r.title, 200);
    const url = r.url.length <= 500 ? r.url : '';
    const room = MAX_SEARCH_OUTPUT_CHARS - total - title.length - url.length;
    if (room <= 0) break;
    const content = cut(r.content, Math.min(MAX_RESULT_CONTENT_CHARS, room));
    total += title.length + url.length + content.length;
    out.push({ title, url, content, ...(r.publishedDate ? { publishedDate: r.publishedDate } : {}) });
  }
  return out;
}

/**
 * Builds the `web_search` tool: input `{ query }` (1-500 characters), output {@link WebSearchData}. Providers are
 * tried in order, each behind its own circuit from `circuits` (named after the provider; defaults
 * {@link SEARCH_CIRCUIT_OPTIONS}); a successful answer is cached for `cacheTtlMs` (default 15 minutes) under the
 * trimmed, lower-cased query. Error results: `NOT_CONFIGURED` (no provider has a key), `CIRCUIT_OPEN` (every circuit
 * is open: fails at once), `SEARCH_FAILED` (every provider failed). The tool span records the provider that answered
 * as its circuit, `agentex.cache` (`hit`/`miss`) and `agentex.fallback.failed` (the providers that failed first).
 * Never throws at call time; building throws InvalidOptionsError for invalid breaker options.
 * @example
 * const search = webSearchTool({ providers: [exaSearch({ apiKey: exaKey }), tavilySearch({ apiKey: tavilyKey })] });
 */
export function webSearchTool(options: WebSearchToolOptions): Tool<z.infer<typeof input>, WebSearchData> {
  const circuits = options.circuits ?? defaultRegistry;
  const ttl = options.cacheTtlMs ?? SEARCH_CACHE_TTL_MS;
  const guarded = options.providers.map((client) => ({
    client,
    breaker: circuits.getOrCreate(client.name, { ...SEARCH_CIRCUIT_OPTIONS, ...options.breaker }),
  }));
  // A chain per call (two small objects): each call's providers search that call's query.
  const chainFor = (query: string) =>
    fallback(
      guarded.map(({ client, breaker }) => ({
        name: client.name,
        policy: breaker,
        run: ({ signal }: { signal: AbortSignal }) => client.search(query, { numResults: MAX_SEARCH_RESULTS_RETURNED, signal }),
      })),
    );

  return defineTool({
    name: 'web_search',
    description: 'Search the web. Returns up to 5 results with title, URL and an excerpt of the page.',
    input,
    timeoutMs: 45_000,
    async execute({ query }, { signal }) {
      const key = query.trim().toLowerCase();
      if (options.providers.length === 0) {
        return toolError('NOT_CONFIGURED', 'Web search is not configured: set EXA_API_KEY and/or TAVILY_API_KEY');
      }
      const cached = options.cache ? ((await options.cache.get(key).catch(() => undefined)) as WebSearchData | undefined) : undefined;
      if (cached && Array.isArray(cached.results)) {
        currentSpan().setTool('web_search', cached.provider).setAttribute('agentex.cache', 'hit');
        return toolOk({ ...cached, cached: true });
      }
      try {
        const { value, provider, failures } = await chainFor(query).execute(signal);
        const span = currentSpan().setTool('web_search', provider).setAttribute('agentex.cache', 'miss');
        if (failures.length > 0) span.setAttribute('agentex.fallback.failed', failures.map((f) => `${f.provider}: ${f.error.name}`));
        const data: WebSearchData = { query, provider, cached: false, results: bound(value) };
        await options.cache?.set(key, data, ttl).catch(() => undefined);
        return toolOk(data);
      } catch (thrown) {
        if (isCancelledError(thrown) || signal.aborted) return toolError('CANCELLED', 'Web search was cancelled');
        if (isFallbackExhaustedError(thrown)) {
          const allOpen = thrown.errors.every((e) => isCircuitOpenError(e.error));
          currentSpan().setAttribute('agentex.fallback.failed', thrown.errors.map((e) => `${e.provider}: ${e.error.name}`));
          const detail = thrown.errors.map((e) => `${e.provider}: ${e.error.message}`).join('; ');
          return toolError(allOpen ? 'CIRCUIT_OPEN' : 'SEARCH_FAILED', `Web search is unavailable (${detail})`, true);
        }
        const err = toError(thrown);
        return toolError('SEARCH_FAILED', `Web search failed: ${err.message}`, true);
      }
    },
  });
}
