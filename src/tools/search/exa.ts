/**
 * Exa search client: `POST {baseUrl}/search` with `x-api-key`.
 */
import { InvalidOptionsError } from '../../common/errors.js';
import { assertKnownKeys, assertNumber, assertOneOf } from '../../common/options.js';
import { assertBaseUrl, joinUrl, postJson } from '../../common/http.js';
import { checkSearchInput, normalizeResults } from './common.js';
import type { SearchClient, SearchOptions, SearchResult } from './types.js';

/** Options of {@link exaSearch}. */
export interface ExaSearchOptions {
  /** `EXA_API_KEY`. Required. */
  apiKey: string;
  /** `EXA_BASE_URL` (default `https://api.exa.ai`). */
  baseUrl?: string;
  /** Exa search type (default `auto`). */
  type?: 'auto' | 'neural' | 'keyword' | 'fast';
  /** Page text characters requested per result (default 1000). */
  maxCharacters?: number;
}

/**
 * Creates an Exa client returning normalized `{ title, url, content, score?, publishedDate? }` results.
 * @throws InvalidOptionsError when `apiKey` is missing or an option is invalid.
 */
export function exaSearch(options: ExaSearchOptions): SearchClient {
  const where = 'exaSearch';
  assertKnownKeys(where, options, ['apiKey', 'baseUrl', 'type', 'maxCharacters']);
  if (typeof options?.apiKey !== 'string' || options.apiKey === '') {
    throw new InvalidOptionsError(`${where}.apiKey`, 'Expected `apiKey` to be a non-empty string (set EXA_API_KEY)');
  }
  const apiKey = options.apiKey;
  const url = joinUrl(assertBaseUrl(where, options.baseUrl ?? 'https://api.exa.ai'), '/search');
  const type = assertOneOf(where, 'type', options.type ?? 'auto', ['auto', 'neural', 'keyword', 'fast']);
  const maxCharacters = assertNumber(where, 'maxCharacters', options.maxCharacters ?? 1000, { integer: true, min: 1, max: 100_000 });
  return {
    name: 'exa',
    async search(query: string, opts: SearchOptions = {}): Promise<SearchResult[]> {
      const input = checkSearchInput(query, opts.numResults);
      const body = await postJson({
        service: 'exa',
        url,
        headers: { 'x-api-key': apiKey },
        body: { query: input.query, numResults: input.numResults, type, contents: { text: { maxCharacters } } },
        signal: opts.signal,
        secrets: [apiKey],
      });
      return normalizeResults('exa', body, (r) => ({
        title: r.title,
        url: r.url,
        content: r.text ?? (Array.isArray(r.highlights) ? r.highlights.join(' … ') : r.summary),
        score: r.score,
        publishedDate: r.publishedDate,
      })).slice(0, input.numResults);
    },
  };
}
