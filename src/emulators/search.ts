/**
 * Emulators of the Exa and Tavily search APIs (`POST /search`), speaking their real wire formats.
 */
import type http from 'node:http';
import { randomUUID } from 'node:crypto';
import { assertKnownKeys, assertString } from '../common/options.js';
import { isObject, startEmulator } from './server.js';
import type { Emulator, EmulatorOptions, RecordedRequest, Rejection } from './server.js';

/** A search hit to return; missing fields are filled in. */
export interface EmulatedHit {
  title?: string;
  url?: string;
  /** Page text (Exa `text`, Tavily `content`). */
  content?: string;
  score?: number;
  publishedDate?: string;
}

/** A normal search reply: the hits to return (default: canned hits derived from the query). */
export interface SearchReply {
  results: EmulatedHit[];
}

/** Options of {@link startExaEmulator} and {@link startTavilyEmulator}. */
export interface SearchEmulatorOptions extends EmulatorOptions<SearchReply> {
  /** The key clients must send (default `test-exa-key` / `tvly-test-key`). */
  apiKey?: string;
}

function queryOf(r: RecordedRequest): string {
  return isObject(r.body) && typeof r.body.query === 'string' ? r.body.query : '';
}

/** Canned hits for a query: deterministic, so tests can assert on them. */
export function cannedHits(query: string, count: number): EmulatedHit[] {
  const n = Math.max(0, Math.min(count, 10));
  return Array.from({ length: n }, (_, i) => ({
    title: `Result ${i + 1} for ${query}`,
    url: `https://example.com/${encodeURIComponent(query.toLowerCase().replace(/\s+/g, '-'))}/${i + 1}`,
    content: `This page discusses ${query}. It is result number ${i + 1} of the emulated search engine.`,
    score: Number((0.95 - i * 0.05).toFixed(2)),
    publishedDate: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(),
  }));
}

function fill(hit: EmulatedHit, i: number, query: string): Required<EmulatedHit> {
  const canned = cannedHits(query || 'query', i + 1)[i] ?? cannedHits('query', 1)[0]!;
  return {
    title: hit.title ?? canned.title!,
    url: hit.url ?? canned.url!,
    content: hit.content ?? canned.content!,
    score: hit.score ?? canned.score!,
    publishedDate: hit.publishedDate ?? canned.publishedDate!,
  };
}

function integerIn(v: unknown, min: number, max: number): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/**
 * Starts an Exa emulator: `POST /search` with `x-api-key`, body `{ query, numResults?, type?, contents? }`, answering
 * `{ requestId, resolvedSearchType, results: [{ id, title, url, publishedDate, author, score, text }], costDollars }`.
 * Errors are `{ requestId, error, tag }` like the real API. Throws {@link InvalidOptionsError} on bad options.
 */
export async function startExaEmulator(options: SearchEmulatorOptions = {}): Promise<Emulator<SearchReply>> {
  assertKnownKeys('exaEmulator', options, ['apiKey', 'script', 'handler', 'port', 'maxRecordedRequests']);
  const { apiKey = 'test-exa-key', ...rest } = options;
  assertString('exaEmulator', 'apiKey', apiKey, 500);
  return startEmulator<SearchReply>(
    {
      name: 'exa',
      path: '/search',
      secretHeaders: ['x-api-key', 'authorization'],
      authorize: (h) => h['x-api-key'] === apiKey || h.authorization === `Bearer ${apiKey}`,
      validate(body): Rejection | undefined {
        if (!isObject(body)) return { status: 400, message: 'Request body must be a JSON object' };
        if (typeof body.query !== 'string' || body.query.trim() === '') return { status: 400, message: 'query: must be a non-empty string' };
        if (body.numResults !== undefined && !integerIn(body.numResults, 1, 100)) {
          return { status: 400, message: 'numResults: must be an integer between 1 and 100' };
        }
        if (body.type !== undefined && !['auto', 'neural', 'keyword', 'fast', 'deep'].includes(body.type as string)) {
          return { status: 400, message: `type: invalid value ${JSON.stringify(body.type)}` };
        }
        if (body.contents !== undefined && !isObject(body.contents)) return { status: 400, message: 'contents: must be an object' };
        return undefined;
      },
      render(reply, request) {
        const query = queryOf(request);
        const body = request.body as Record<string, unknown>;
        const contents = isObject(body.contents) ? body.contents : undefined;
        const maxChars = contents && isObject(contents.text) && typeof contents.text.maxCharacters === 'number' ? contents.text.maxCharacters : undefined;
        const wantText = contents !== undefined && contents.text !== undefined && contents.text !== false;
        const results = reply.results.map((h, i) => {
          const f = fill(h, i, query);
          return {
            id: f.url,
            title: f.title,
            url: f.url,
            publishedDate: f.publishedDate,
            author: null,
            score: f.score,
            ...(wantText ? { text: maxChars === undefined ? f.content : f.content.slice(0, maxChars) } : {}),
          };
        });
        return {
          requestId: randomUUID().replace(/-/g, ''),
          resolvedSearchType: 'neural',
          results,
          costDollars: { total: 0.005 },
        };
      },
      renderError: (status, message) => ({ requestId: randomUUID().replace(/-/g, ''), error: message, tag: tagFor(status) }),
      defaultReply(request) {
        const body = request.body as Record<string, unknown>;
        return { results: cannedHits(queryOf(request), typeof body?.numResults === 'number' ? body.numResults : 10) };
      },
    },
    rest,
  );
}

function tagFor(status: number): string {
  if (status === 401) return 'INVALID_API_KEY';
  if (status === 429) return 'RATE_LIMIT_EXCEEDED';
  if (status >= 500) return 'INTERNAL_ERROR';
  return 'INVALID_REQUEST_BODY';
}

function tavilyAuthorized(apiKey: string, h: http.IncomingHttpHeaders, body: unknown): boolean {
  if (h.authorization === `Bearer ${apiKey}`) return true;
  return h.authorization === undefined && isObject(body) && body.api_key === apiKey;
}

/**
 * Starts a Tavily emulator: `POST /search` with `Authorization: Bearer <key>` (or `api_key` in the body), body
 * `{ query, max_results?, search_depth?, topic?, ... }`, answering `{ query, answer, images, results: [{ title, url,
 * content, score, raw_content }], response_time, request_id }`. Errors are `{ detail: { error } }` like the real API.
 * Throws {@link InvalidOptionsError} on bad options.
 */
export async function startTavilyEmulator(options: SearchEmulatorOptions = {}): Promise<Emulator<SearchReply>> {
  assertKnownKeys('tavilyEmulator', options, ['apiKey', 'script', 'handler', 'port', 'maxRecordedRequests']);
  const { apiKey = 'tvly-test-key', ...rest } = options;
  assertString('tavilyEmulator', 'apiKey', apiKey, 500);
  return startEmulator<SearchReply>(
    {
      name: 'tavily',
      path: '/search',
      secretHeaders: ['authorization'],
      authorize: (h, body) => tavilyAuthorized(apiKey, h, body),
      validate(body): Rejection | undefined {
        if (!isObject(body)) return { status: 400, message: 'Request body must be a JSON object' };
        if (typeof body.query !== 'string' || body.query.trim() === '') return { status: 400, message: 'Query is missing.' };
        if (body.max_results !== undefined && !integerIn(body.max_results, 0, 20)) {
          return { status: 400, message: 'max_results must be an integer between 0 and 20.' };
        }
        if (body.search_depth !== undefined && !['basic', 'advanced', 'fast', 'ultra-fast'].includes(body.search_depth as string)) {
          return { status: 400, message: 'Invalid search depth. Must be "basic" or "advanced".' };
        }
        if (body.topic !== undefined && !['general', 'news', 'finance'].includes(body.topic as string)) {
          return { status: 400, message: 'Invalid topic. Must be "general", "news" or "finance".' };
        }
        return undefined;
      },
      render(reply, request) {
        const query = queryOf(request);
        const started = request.receivedAt;
        return {
          query,
          follow_up_questions: null,
          answer: null,
          images: [],
          results: reply.results.map((h, i) => {
            const f = fill(h, i, query);
            return { title: f.title, url: f.url, content: f.content, score: f.score, raw_content: null };
          }),
          response_time: Number(((Date.now() - started) / 1000).toFixed(2)),
          request_id: randomUUID(),
        };
      },
      renderError: (_status, message) => ({ detail: { error: message } }),
      defaultReply(request) {
        const body = request.body as Record<string, unknown>;
        return { results: cannedHits(queryOf(request), typeof body?.max_results === 'number' ? body.max_results : 5) };
      },
    },
    rest,
  );
}
