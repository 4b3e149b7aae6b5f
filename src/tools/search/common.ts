import { ValidationError } from '../../common/errors.js';
import { MalformedResponseError } from '../../common/http.js';
import type { SearchResult } from './types.js';

/** Longest query sent to a search provider (characters). */
export const MAX_QUERY_CHARS = 2_000;
/** Most results one search may ask for. */
export const MAX_SEARCH_RESULTS = 20;

/** @throws ValidationError for an empty or oversized query or a bad result count. */
export function checkSearchInput(query: unknown, numResults: unknown): { query: string; numResults: number } {
  if (typeof query !== 'string' || query.trim() === '') throw new ValidationError('query', 'Expected a non-empty search query');
  if (query.length > MAX_QUERY_CHARS) throw new ValidationError('query', `Expected a query of at most ${MAX_QUERY_CHARS} characters, got ${query.length}`);
  const n = numResults ?? 5;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_SEARCH_RESULTS) {
    throw new ValidationError('numResults', `Expected \`numResults\` to be an integer between 1 and ${MAX_SEARCH_RESULTS}, got ${JSON.stringify(n)}`);
  }
  return { query: query.trim(), numResults: n };
}

/** Maps a provider's `results` array into normalized results, skipping entries without a URL. */
export function normalizeResults(
  service: string,
  body: unknown,
  pick: (r: Record<string, unknown>) => { title: unknown; url: unknown; content: unknown; score: unknown; publishedDate: unknown },
): SearchResult[] {
  const results = (body as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) throw new MalformedResponseError(service, 'shape', 'expected a `results` array');
  const out: SearchResult[] = [];
  for (const r of results as unknown[]) {
    if (!r || typeof r !== 'object') continue;
    const p = pick(r as Record<string, unknown>);
    if (typeof p.url !== 'string' || p.url === '') continue;
    out.push({
      title: typeof p.title === 'string' && p.title !== '' ? p.title : p.url,
      url: p.url,
      content: typeof p.content === 'string' ? p.content : '',
      ...(typeof p.score === 'number' && Number.isFinite(p.score) ? { score: p.score } : {}),
      ...(typeof p.publishedDate === 'string' && p.publishedDate !== '' ? { publishedDate: p.publishedDate } : {}),
    });
  }
  return out;
}
