/**
 * Deterministic model providers for tests, benchmarks and offline reproduction:
 * - {@link recordingProvider} wraps a real provider and writes every exchange to a JSON cassette (secrets redacted);
 * - {@link replayProvider} answers from a cassette, failing with a typed error when a request does not match;
 * - {@link scriptedProvider} answers from an in-memory list of responses.
 */
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AgentexError, InvalidOptionsError, toError } from '../../common/errors.js';
import { assertKnownKeys, assertNumber, assertOneOf, assertString } from '../../common/options.js';
import { HttpStatusError } from '../../common/httpStatus.js';
import { MalformedResponseError, redactSecrets, transportErrorCode } from '../../common/http.js';
import { assertCompletionRequest } from './types.js';
import type { CompletionRequest, CompletionResponse, ModelProvider, StopReason, ToolCall } from './types.js';

/** Cassette format version written and accepted. */
export const CASSETTE_VERSION = 1;
/** Most exchanges one recording keeps; later ones are dropped and counted. */
export const MAX_CASSETTE_EXCHANGES = 10_000;
/** Most calls a scripted provider remembers; older ones are dropped and counted. */
export const MAX_SCRIPTED_CALLS = 1_000;

/** A request as stored in a cassette: the completion request without its signal. */
export type RecordedCompletionRequest = Omit<CompletionRequest, 'signal'>;

/** A provider failure as stored in a cassette; replay rethrows an equivalent error. */
export interface RecordedError {
  kind: 'http' | 'malformed' | 'network' | 'other';
  name: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
  reason?: 'json' | 'shape' | 'too_large';
  code?: string;
  service?: string;
}

export interface CassetteExchange {
  request: RecordedCompletionRequest;
  response?: CompletionResponse;
  error?: RecordedError;
}

/** The JSON file a recording writes. */
export interface Cassette {
  version: typeof CASSETTE_VERSION;
  provider: string;
  model: string;
  recordedAt: string;
  exchanges: CassetteExchange[];
}

/** The cassette file is missing, unreadable, or not a cassette. Caller's fault. */
export class CassetteError extends AgentexError {
  readonly code = 'CASSETTE_INVALID';
  readonly fault = 'caller';
}

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

/** A scripted provider ran out of responses. Caller's fault (the script is too short). */
export class ScriptExhaustedError extends AgentexError {
  readonly code = 'SCRIPT_EXHAUSTED';
  readonly fault = 'caller';

  constructor(readonly calls: number) {
    super(`Scripted provider has no response left for call ${calls} (script too short)`);
  }
}

export function isReplayMismatchError(err: unknown): err is ReplayMismatchError {
  return err instanceof ReplayMismatchError;
}
export function isCassetteError(err: unknown): err is CassetteError {
  return err instanceof CassetteError;
}
export function isScriptExhaustedError(err: unknown): err is ScriptExhaustedError {
  return err instanceof ScriptExhaustedError;
}

// ---------------------------------------------------------------------------------------------------------------

/** Deep-redacts every string in a JSON value. */
function redactDeep<T>(value: T, secrets: readonly string[]): T {
  if (typeof value === 'string') return redactSecrets(value, secrets) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => redactDeep(v, secrets)) as T;
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = redactDeep(v, secrets);
    return out as T;
  }
  return value;
}

function toRecordedRequest(req: CompletionRequest, secrets: readonly string[]): RecordedCompletionRequest {
  const { signal: _signal, ...rest } = req;
  return redactDeep(JSON.parse(JSON.stringify(rest)) as RecordedCompletionRequest, secrets);
}

function toRecordedError(err: Error, secrets: readonly string[]): RecordedError {
  const message = redactSecrets(err.message, secrets);
  if (err instanceof HttpStatusError) {
    return { kind: 'http', name: err.name, message, status: err.status, ...(err.retryAfterMs !== undefined ? { retryAfterMs: err.retryAfterMs } : {}) };
  }
  if (err instanceof MalformedResponseError) return { kind: 'malformed', name: err.name, message, reason: err.reason, service: err.service };
  const code = transportErrorCode(err);
  if (err instanceof TypeError && code !== undefined) return { kind: 'network', name: err.name, message, code };
  return { kind: 'other', name: err.name, message };
}

function fromRecordedError(e: RecordedError): Error {
  switch (e.kind) {
    case 'http':
      return new HttpStatusError(e.status ?? 500, { message: e.message, ...(e.retryAfterMs !== undefined ? { retryAfterMs: e.retryAfterMs } : {}) });
    case 'malformed':
      return new MalformedResponseError(e.service ?? 'replay', e.reason ?? 'json', 'replayed from cassette');
    case 'network':
      return new TypeError(e.message, { cause: Object.assign(new Error(`replayed ${e.code ?? 'network'} error`), { code: e.code }) });
    default: {
      const err = new Error(e.message);
      err.name = e.name;
      return err;
    }
  }
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

/** The signal's reason as an Error (fetch rejects with the same), so aborts look alike whatever the provider. */
function abortReason(signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}

// ---------------------------------------------------------------------------------------------------------------

/** Options of {@link recordingProvider}. */
export interface RecordingOptions {
  /** Cassette file to write (directories are created). */
  path: string;
  /** Extra strings to redact (the provider's API key, user secrets); key-shaped strings are always redacted. */
  secrets?: readonly string[];
  /** Write the file after every exchange (default true); otherwise call `save()`. */
  autosave?: boolean;
}

/** A recording provider: the wrapped provider plus its cassette. */
export interface RecordingProvider extends ModelProvider {
  readonly cassette: Cassette;
  /** Exchanges not kept because of {@link MAX_CASSETTE_EXCHANGES}. */
  readonly droppedExchanges: number;
  /** Writes the cassette atomically (temp file + rename). */
  save(): Promise<void>;
}

/**
 * Wraps a real provider and records each exchange — request, response, or provider error — to a cassette file,
 * with API keys and key-shaped strings redacted. Calls the caller aborted are not recorded.
 * @throws InvalidOptionsError on bad options.
 * @example
 * const rec = recordingProvider(anthropicProvider({...}), { path: 'test/cassettes/weather.json', secrets: [key] });
 */
export function recordingProvider(inner: ModelProvider, options: RecordingOptions): RecordingProvider {
  const where = 'recordingProvider';
  if (!inner || typeof inner.complete !== 'function') throw new InvalidOptionsError(`${where}.inner`, 'Expected a ModelProvider to record');
  assertKnownKeys(where, options, ['path', 'secrets', 'autosave']);
  const path = assertString(where, 'path', options?.path, 4096);
  const secrets = [...(options.secrets ?? [])];
  const autosave = options.autosave ?? true;
  const cassette: Cassette = { version: CASSETTE_VERSION, provider: inner.name, model: inner.model, recordedAt: new Date().toISOString(), exchanges: [] };
  let dropped = 0;
  let writing: Promise<void> = Promise.resolve();

  const save = (): Promise<void> => {
    const text = `${JSON.stringify(cassette, null, 2)}\n`;
    writing = writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        await writeFile(tmp, text, 'utf8');
        await rename(tmp, path);
      });
    return writing;
  };
  const keep = async (exchange: CassetteExchange): Promise<void> => {
    if (cassette.exchanges.length >= MAX_CASSETTE_EXCHANGES) {
      dropped++;
      return;
    }
    cassette.exchanges.push(exchange);
    if (autosave) await save();
  };

  return {
    name: inner.name,
    model: inner.model,
    cassette,
    get droppedExchanges() {
      return dropped;
    },
    save,
    async complete(request) {
      const recorded = toRecordedRequest(request, secrets);
      let response: CompletionResponse;
      try {
        response = await inner.complete(request);
      } catch (thrown) {
        if (!request.signal?.aborted) await keep({ request: recorded, error: toRecordedError(toError(thrown), secrets) });
        throw thrown;
      }
      await keep({ request: recorded, response: redactDeep(response, secrets) });
      return response;
    },
  };
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

function loadCassette(path: string): Cassette {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new CassetteError(`Cannot read cassette ${path}: ${toError(err).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new CassetteError(`Cassette ${path} is not valid JSON`);
  }
  return checkCassette(parsed, path);
}

function checkCassette(value: unknown, label: string): Cassette {
  const c = value as Partial<Cassette> | null;
  if (!c || typeof c !== 'object' || c.version !== CASSETTE_VERSION || !Array.isArray(c.exchanges)) {
    throw new CassetteError(`${label} is not a version ${CASSETTE_VERSION} cassette (expected { version: ${CASSETTE_VERSION}, exchanges: [...] })`);
  }
  for (const [i, e] of c.exchanges.entries()) {
    if (!e || typeof e !== 'object' || !e.request || (!e.response && !e.error)) {
      throw new CassetteError(`${label}: exchange ${i} needs a request and a response or an error`);
    }
  }
  return c as Cassette;
}

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

// ---------------------------------------------------------------------------------------------------------------

/** A scripted response: a partial {@link CompletionResponse}, defaults filled in. */
export type ScriptedReply = Partial<Omit<CompletionResponse, 'toolCalls'>> & {
  toolCalls?: readonly (Omit<ToolCall, 'id'> & { id?: string })[];
  /** Wait this long first (honours the request's signal). */
  delayMs?: number;
};

/** One scripted answer: a reply, an Error to throw, or a function of the request returning either. */
export type ScriptedStep =
  | ScriptedReply
  | Error
  | ((request: CompletionRequest, call: number) => ScriptedReply | Error | Promise<ScriptedReply | Error>);

/** Options of {@link scriptedProvider}. */
export interface ScriptedProviderOptions {
  /** Default `scripted`. */
  name?: string;
  /** Default `scripted-model`. */
  model?: string;
  /** What happens after the last step: `throw` ScriptExhaustedError (default), `repeat-last`, or `cycle`. */
  onExhausted?: 'throw' | 'repeat-last' | 'cycle';
}

/** A scripted provider and what it was asked. */
export interface ScriptedProvider extends ModelProvider {
  /** Requests received (at most {@link MAX_SCRIPTED_CALLS}, oldest dropped first). */
  readonly calls: readonly CompletionRequest[];
  readonly callCount: number;
  readonly droppedCalls: number;
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A provider that answers from a list, for tests and benchmarks: no network, no randomness. Tool call ids default
 * to `call_<call>_<index>`, `stopReason` to `tool_use` when there are tool calls else `end_turn`, usage to zeros.
 * Requests are validated like a real provider would.
 * @throws InvalidOptionsError on bad options. `complete` throws ScriptExhaustedError when the script runs out
 *   (with `onExhausted: 'throw'`), the scripted Error, or the signal's reason when aborted.
 * @example
 * const model = scriptedProvider([{ toolCalls: [{ name: 'datetime', input: {} }] }, { content: 'It is noon.' }]);
 */
export function scriptedProvider(steps: readonly ScriptedStep[], options: ScriptedProviderOptions = {}): ScriptedProvider {
  const where = 'scriptedProvider';
  if (!Array.isArray(steps)) throw new InvalidOptionsError(`${where}.steps`, 'Expected an array of scripted responses');
  assertKnownKeys(where, options, ['name', 'model', 'onExhausted']);
  const name = assertString(where, 'name', options.name ?? 'scripted');
  const model = assertString(where, 'model', options.model ?? 'scripted-model');
  const onExhausted = assertOneOf(where, 'onExhausted', options.onExhausted ?? 'throw', ['throw', 'repeat-last', 'cycle']);
  if (onExhausted !== 'throw') assertNumber(where, 'steps.length', steps.length, { min: 1 });
  const script: ScriptedStep[] = [...(steps as readonly ScriptedStep[])];
  const calls: CompletionRequest[] = [];
  let count = 0;
  let dropped = 0;

  const pick = (call: number): ScriptedStep => {
    if (call < script.length) return script[call]!;
    if (onExhausted === 'repeat-last') return script[script.length - 1]!;
    if (onExhausted === 'cycle') return script[call % script.length]!;
    throw new ScriptExhaustedError(call + 1);
  };

  return {
    name,
    model,
    get calls() {
      return calls;
    },
    get callCount() {
      return count;
    },
    get droppedCalls() {
      return dropped;
    },
    async complete(request) {
      if (request?.signal?.aborted) throw abortReason(request.signal);
      assertCompletionRequest(request);
      const call = count++;
      calls.push(request);
      if (calls.length > MAX_SCRIPTED_CALLS) {
        calls.shift();
        dropped++;
      }
      const picked = pick(call);
      const step = typeof picked === 'function' ? await picked(request, call) : picked;
      if (step instanceof Error) throw step;
      if (step.delayMs !== undefined && step.delayMs > 0) await delay(step.delayMs, request.signal);
      const toolCalls: ToolCall[] = (step.toolCalls ?? []).map((c, i) => ({ id: c.id ?? `call_${call}_${i}`, name: c.name, input: c.input }));
      const stopReason: StopReason = step.stopReason ?? (toolCalls.length > 0 ? 'tool_use' : 'end_turn');
      return {
        ...(step.id !== undefined ? { id: step.id } : {}),
        content: step.content ?? '',
        toolCalls,
        stopReason,
        ...(step.rawStopReason !== undefined ? { rawStopReason: step.rawStopReason } : {}),
        usage: step.usage ?? { inputTokens: 0, outputTokens: 0 },
        model: step.model ?? model,
      };
    },
  };
}
