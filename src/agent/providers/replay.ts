/** {@link replayProvider} answers from a cassette, failing with a typed error when a request does not match. */
import { AgentexError, InvalidOptionsError } from '../../common/errors.js';
import { assertKnownKeys, assertOneOf, assertString } from '../../common/options.js';
import { abortReason } from './abort.js';
import { checkCassette, fromRecordedError, loadCassette, toRecordedRequest } from './cassette.js';
import type { Cassette, RecordedCompletionRequest } from './cassette.js';
import { assertCompletionRequest } from './types.js';
import type { CompletionResponse, ModelProvider } from './types.js';


/**
 * A replayed request did not match the cassette (`mismatch`), or the cassette had no exchange left (`exhausted`).
 * `path` names the first differing field, e.g. `messages[2].content`.
 */
export class ReplayMismatchError extends AgentexError {
  readonly code = 'REPLAY_MISMATCH';
  readonly fault = 'caller';

  constructor(
    readonly reason: 'mismatch' | 'exhausted',
    /** Index of the exchange compared against (or the number of exchanges when exhausted). */
    readonly index: number,
    readonly path: string | undefined,
    message: string,
  ) {
    super(message);
  }
}


export function isReplayMismatchError(err: unknown): err is ReplayMismatchError {
  return err instanceof ReplayMismatchError;
}

/** First path at which two JSON values differ, or undefined when equal. */
function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (Object.is(a, b)) return undefined;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return path || '(root)';
  if (Array.isArray(a) !== Array.isArray(b)) return path || '(root)';
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return `${path}.length`;
    for (let i = 0; i < a.length; i++) {
      const d = firstDifference(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return undefined;
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort();
  for (const k of keys) {
    const d = firstDifference(ao[k], bo[k], path ? `${path}.${k}` : k);
    if (d) return d;
  }
  return undefined;
}

function at(value: unknown, path: string): unknown {
  let cur: unknown = value;
  for (const part of path.split(/\.|\[|\]/).filter(Boolean)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function preview(v: unknown): string {
  const s = v === undefined ? 'undefined' : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

/** Options of {@link replayProvider}. */
export interface ReplayOptions {
  /** Cassette file to read (read once, at construction). Give `path` or `cassette`. */
  path?: string;
  cassette?: Cassette;
  /**
   * `sequential` (default): the n-th call must match the n-th exchange. `match`: each call takes the first unused
   * exchange whose request matches (for runs whose calls may interleave, e.g. parallel agents).
   */
  mode?: 'sequential' | 'match';
  /** Request fields compared (default all: system, messages, tools, maxTokens, temperature). */
  matchOn?: readonly ('system' | 'messages' | 'tools' | 'maxTokens' | 'temperature')[];
  /** Strings redacted from incoming requests before comparing (use the same list as when recording). */
  secrets?: readonly string[];
}

/** A replaying provider. */
export interface ReplayProvider extends ModelProvider {
  /** Exchanges not replayed yet. */
  readonly remaining: number;
}

const MATCH_FIELDS = ['system', 'messages', 'tools', 'maxTokens', 'temperature'] as const;

/**
 * Replays a cassette deterministically. Requests are redacted the same way as when recording, then compared; a
 * recorded provider error is rethrown as an equivalent error (HttpStatusError with the same status and
 * Retry-After, MalformedResponseError, or a `fetch failed` TypeError with the same network code).
 * @throws CassetteError at construction when the cassette is missing or invalid; InvalidOptionsError on bad options.
 * `complete` throws ReplayMismatchError when a request does not match or the cassette is used up.
 */
export function replayProvider(options: ReplayOptions): ReplayProvider {
  const where = 'replayProvider';
  assertKnownKeys(where, options, ['path', 'cassette', 'mode', 'matchOn', 'secrets']);
  if (options === undefined || (options.path === undefined) === (options.cassette === undefined)) {
    throw new InvalidOptionsError(where, 'Give exactly one of `path` or `cassette`');
  }
  const mode = assertOneOf(where, 'mode', options.mode ?? 'sequential', ['sequential', 'match']);
  const matchOn = options.matchOn ?? MATCH_FIELDS;
  for (const f of matchOn) assertOneOf(where, 'matchOn', f, MATCH_FIELDS);
  const secrets = [...(options.secrets ?? [])];
  const cassette = options.path !== undefined ? loadCassette(assertString(where, 'path', options.path, 4096)) : checkCassette(options.cassette, 'cassette');
  const used = new Array<boolean>(cassette.exchanges.length).fill(false);
  let cursor = 0;
  let remaining = cassette.exchanges.length;

  const project = (r: RecordedCompletionRequest): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const f of matchOn) if (r[f] !== undefined) out[f] = r[f];
    return out;
  };
  const take = (index: number): CompletionResponse => {
    used[index] = true;
    remaining--;
    const exchange = cassette.exchanges[index]!;
    if (exchange.error) throw fromRecordedError(exchange.error);
    return JSON.parse(JSON.stringify(exchange.response)) as CompletionResponse;
  };

  return {
    name: cassette.provider ?? 'replay',
    model: cassette.model ?? 'replay',
    get remaining() {
      return remaining;
    },
    // Not `async`, so a mismatch throws synchronously inside the returned promise without extra ticks.
    complete(request) {
      return new Promise<CompletionResponse>((resolve) => {
        if (request?.signal?.aborted) throw abortReason(request.signal);
        assertCompletionRequest(request);
        const actual = project(toRecordedRequest(request, secrets));
        if (mode === 'sequential') {
          if (cursor >= cassette.exchanges.length) {
            throw new ReplayMismatchError('exhausted', cursor, undefined, `Cassette exhausted: call ${cursor + 1} but only ${cassette.exchanges.length} exchanges were recorded`);
          }
          const index = cursor++;
          const expected = project(cassette.exchanges[index]!.request);
          const diff = firstDifference(expected, actual);
          if (diff !== undefined) {
            throw new ReplayMismatchError(
              'mismatch',
              index,
              diff,
              `Request ${index + 1} does not match the cassette at ${diff}: recorded ${preview(at(expected, diff))}, got ${preview(at(actual, diff))}`,
            );
          }
          resolve(take(index));
          return;
        }
        const index = cassette.exchanges.findIndex((e, i) => !used[i] && firstDifference(project(e.request), actual) === undefined);
        if (index === -1) {
          const reason = remaining === 0 ? 'exhausted' : 'mismatch';
          throw new ReplayMismatchError(reason, cassette.exchanges.length, undefined, `No unused cassette exchange matches this request (${remaining} unused)`);
        }
        resolve(take(index));
      });
    },
  };
}
