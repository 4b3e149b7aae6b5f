/** Tools: definitions with zod schemas and structured results, the registry, and the built-in tools. */
export { defineTool, toolOk, toolError, parseToolInput, toToolSpec, TOOL_NAME_PATTERN, MAX_TOOL_DESCRIPTION_CHARS } from './types.js';
export type { Tool, AnyTool, ToolResult, ToolContext, ToolErrorInfo, ToolDefinition } from './types.js';
export { createToolRegistry, DEFAULT_TOOL_TIMEOUT_MS, MAX_TOOLS } from './registry.js';
export type { ToolRegistry, ToolRegistryOptions } from './registry.js';
export { webSearchTool, MAX_SEARCH_RESULTS_RETURNED, MAX_RESULT_CONTENT_CHARS, MAX_SEARCH_OUTPUT_CHARS, SEARCH_CACHE_TTL_MS } from './webSearch.js';
export type { WebSearchToolOptions, WebSearchData, SearchCache } from './webSearch.js';
export { datetimeTool } from './datetime.js';
export type { DateTimeData, DateTimeToolOptions } from './datetime.js';
export { readUrlTool, readUrl, ReadUrlError, isReadUrlError } from './readUrl.js';
export type { ReadUrlOptions, ReadUrlData, ReadUrlErrorCode } from './readUrl.js';
export { exaSearch, tavilySearch } from './search/index.js';
export type { SearchClient, SearchOptions, SearchResult, ExaSearchOptions, TavilySearchOptions } from './search/index.js';
