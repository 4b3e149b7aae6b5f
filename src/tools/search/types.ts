/** The normalized search result every search provider returns. */
export interface SearchResult {
  readonly title: string;
  readonly url: string;
  /** Page text or snippet. */
  readonly content: string;
  /** Provider relevance score, when it gives one. */
  readonly score?: number;
  /** ISO date the page was published, when known. */
  readonly publishedDate?: string;
}

/** Per-call options. */
export interface SearchOptions {
  /** Results wanted (default 5). */
  readonly numResults?: number;
  /** Aborts the HTTP call; rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** A web search provider (Exa, Tavily, or your own). */
export interface SearchClient {
  /** Provider name for traces and circuits, e.g. `exa`. */
  readonly name: string;
  /**
   * Runs one search.
   * @throws ValidationError for an empty query, HttpStatusError, MalformedResponseError, or the network/abort error.
   */
  search(query: string, options?: SearchOptions): Promise<SearchResult[]>;
}
