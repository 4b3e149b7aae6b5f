/**
 * Tavily search client: `POST {baseUrl}/search` with `Authorization: Bearer <key>`.
 */
import { InvalidOptionsError } from '../../common/errors.js';
import { assertKnownKeys, assertOneOf } from '../../common/options.js';
import { assertBaseUrl, joinUrl, postJson } from '../../common/http.js';
import { checkSearchInput, normalizeResults } from './common.js';
import type { SearchClient, SearchOptions, SearchResult } from './types.js';

/** Options of {@link tavilySearch}. */
export interface TavilySearchOptions {
  /** `TAVILY_API_KEY`. Required. */
  apiKey: string;
  /** `TAVILY_BASE_URL` (default `https://api.tavily.com`). */
  baseUrl?: string;
  /** Search depth (default `basic`: one credit, faster). */
  searchDepth?: 'basic' | 'advanced';
  /** Topic (default `general`). */
  topic?: 'general' | 'news' | 'finance';
}

/**
 * Creates a Tavily client returning normalized `{ title, url, content, score?, publishedDate? }` results.
 * @throws InvalidOptionsError when `apiKey` is missing or an option is invalid.
 */
export function tavilySearch(options: TavilySearchOptions): SearchClient {
  const where = 'tavilySearch';
  assertKnownKeys(where, options, ['apiKey', 'baseUrl', 'searchDepth', 'topic']);
  if (typeof options?.apiKey !== 'string' || options.apiKey === '') {
    throw new InvalidOptionsError(`${where}.apiKey`, 'Expected `apiKey` to be a non-empty string (set TAVILY_API_KEY)');
  }
  const apiKey = options.apiKey;
  const url = joinUrl(assertBaseUrl(where, options.baseUrl ?? 'https://api.tavily.com'), '/search');
  const searchDepth = assertOneOf(where, 'searchDepth', options.searchDepth ?? 'basic', ['basic', 'advanced']);
  const topic = assertOneOf(where, 'topic', options.topic ?? 'general', ['general', 'news', 'finance']);
  return {
    name: 'tavily',
    async search(query: string, opts: SearchOptions = {}): Promise<SearchResult[]> {
      const input = checkSearchInput(query, opts.numResults);
      const body = await postJson({
        service: 'tavily',
        url,
        headers: { authorization: `Bearer ${apiKey}` },
        body: {
          query: input.query,
          max_results: input.numResults,
          search_depth: searchDepth,
          topic,
          include_answer: false,
          include_raw_content: false,
          include_images: false,
        },
        signal: opts.signal,
        secrets: [apiKey],
      });
      return normalizeResults('tavily', body, (r) => ({
        title: r.title,
        url: r.url,
        content: r.content,
        score: r.score,
        publishedDate: r.published_date,
      })).slice(0, input.numResults);
    },
  };
}
