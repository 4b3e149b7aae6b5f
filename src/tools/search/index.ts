/** Web search clients returning normalized results. */
export { exaSearch } from './exa.js';
export type { ExaSearchOptions } from './exa.js';
export { tavilySearch } from './tavily.js';
export type { TavilySearchOptions } from './tavily.js';
export { MAX_QUERY_CHARS, MAX_SEARCH_RESULTS } from './common.js';
export type { SearchClient, SearchOptions, SearchResult } from './types.js';
