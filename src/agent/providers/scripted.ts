/** {@link scriptedProvider} answers from an in-memory list of responses: no network, no randomness. */
import { AgentexError, InvalidOptionsError } from '../../common/errors.js';
import { assertKnownKeys, assertNumber, assertOneOf, assertString } from '../../common/options.js';
import { abortReason, delay } from './abort.js';
import { assertCompletionRequest } from './types.js';
import type { CompletionRequest, CompletionResponse, ModelProvider, StopReason, ToolCall } from './types.js';

/** Most calls a scripted provider remembers; older ones are dropped and counted. */
export const MAX_SCRIPTED_CALLS = 1_000;

/** A scripted provider ran out of responses. Caller's fault (the script is too short). */
export class ScriptExhaustedError extends AgentexError {
  readonly code = 'SCRIPT_EXHAUSTED';
  readonly fault = 'caller';

  constructor(readonly calls: number) {
    super(`Scripted provider has no response left for call ${calls} (script too short)`);
  }
}

export function isScriptExhaustedError(err: unknown): err is ScriptExhaustedError {
  return err instanceof ScriptExhaustedError;
}

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
