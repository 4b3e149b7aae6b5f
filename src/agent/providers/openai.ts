/**
 * The OpenAI-compatible Chat Completions provider (`POST {baseUrl}/chat/completions`): OpenAI, Ollama, vLLM,
 * llama.cpp server and anything else speaking that wire format.
 */
import { assertKnownKeys, assertNumber, assertOneOf, assertString } from '../../common/options.js';
import { InvalidOptionsError } from '../../common/errors.js';
import { MalformedResponseError, assertBaseUrl, joinUrl, postJson } from '../../common/http.js';
import { assertCompletionRequest, tokenCount } from './types.js';
import type { ChatMessage, CompletionRequest, CompletionResponse, ModelProvider, StopReason, ToolCall } from './types.js';

/** Options of {@link openaiProvider}. */
export interface OpenAIProviderOptions {
  /** `OPENAI_API_KEY`. Optional: local servers (Ollama, vLLM) often need none. */
  apiKey?: string;
  /** e.g. `gpt-4.1-mini` or `llama3.1`. Required. */
  model: string;
  /** `OPENAI_BASE_URL`, including `/v1` (default `https://api.openai.com/v1`). */
  baseUrl?: string;
  /** Default output token limit (default 1024). */
  maxTokens?: number;
  /** Which field carries the limit (default `max_tokens`, understood by every compatible server). */
  maxTokensParam?: 'max_tokens' | 'max_completion_tokens';
  /** Extra headers, e.g. `OpenAI-Organization`. */
  headers?: Record<string, string>;
  /** Provider name for traces and circuits (default `openai`). */
  name?: string;
}

/** Maps neutral messages to Chat Completions messages. */
export function toOpenAIMessages(system: string | undefined, messages: readonly ChatMessage[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  if (system !== undefined && system !== '') out.push({ role: 'system', content: system });
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'tool') out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.content });
    else {
      const msg: Record<string, unknown> = { role: 'assistant', content: m.content === '' ? null : m.content };
      if (m.toolCalls && m.toolCalls.length > 0) {
        msg.tool_calls = m.toolCalls.map((c) => ({
          id: c.id,
          type: 'function',
          function: { name: c.name, arguments: typeof c.input === 'string' ? c.input : JSON.stringify(c.input ?? {}) },
        }));
      }
      out.push(msg);
    }
  }
  return out;
}

const FINISH: Record<string, StopReason> = {
  stop: 'end_turn',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  length: 'max_tokens',
  content_filter: 'refusal',
};

/** Parses a chat.completion body. @throws MalformedResponseError when it is not the documented shape. */
export function fromOpenAIResponse(body: unknown, fallbackModel: string, service = 'openai'): CompletionResponse {
  const b = body as Record<string, unknown> | null;
  const choice = b && Array.isArray(b.choices) ? (b.choices[0] as Record<string, unknown> | undefined) : undefined;
  const message = choice?.message as Record<string, unknown> | undefined;
  if (!message || typeof message !== 'object') {
    throw new MalformedResponseError(service, 'shape', 'expected `choices[0].message`');
  }
  const toolCalls: ToolCall[] = [];
  const rawCalls = Array.isArray(message.tool_calls) ? (message.tool_calls as unknown[]) : [];
  for (const [i, c] of rawCalls.entries()) {
    const call = c as Record<string, unknown> | null;
    const fn = call?.function as Record<string, unknown> | undefined;
    if (!fn || typeof fn.name !== 'string') throw new MalformedResponseError(service, 'shape', `tool_calls[${i}] without a function name`);
    let input: unknown = fn.arguments ?? {};
    if (typeof fn.arguments === 'string') {
      try {
        input = fn.arguments.trim() === '' ? {} : JSON.parse(fn.arguments);
      } catch {
        input = fn.arguments; // the model wrote invalid JSON; schema validation will tell it so
      }
    }
    // Some compatible servers (older Ollama) omit ids; the loop needs one to pair the result.
    toolCalls.push({ id: typeof call?.id === 'string' && call.id !== '' ? call.id : `call_${i}`, name: fn.name, input });
  }
  const raw = typeof choice?.finish_reason === 'string' ? choice.finish_reason : undefined;
  const usage = (b?.usage ?? {}) as Record<string, unknown>;
  const content = typeof message.content === 'string' ? message.content : '';
  return {
    ...(typeof b?.id === 'string' ? { id: b.id } : {}),
    content,
    toolCalls,
    stopReason: raw === undefined ? (toolCalls.length > 0 ? 'tool_use' : 'end_turn') : (FINISH[raw] ?? 'other'),
    ...(raw !== undefined ? { rawStopReason: raw } : {}),
    usage: { inputTokens: tokenCount(usage.prompt_tokens), outputTokens: tokenCount(usage.completion_tokens) },
    model: typeof b?.model === 'string' ? b.model : fallbackModel,
  };
}

/**
 * A {@link ModelProvider} for OpenAI-compatible Chat Completions. Tools are sent as
 * `{ type: 'function', function: { name, description, parameters } }`; tool results as `role: 'tool'` messages.
 * @throws InvalidOptionsError when `model` is missing or an option is invalid.
 * @example
 * const local = openaiProvider({ baseUrl: 'http://127.0.0.1:11434/v1', model: 'llama3.1' }); // Ollama
 */
export function openaiProvider(options: OpenAIProviderOptions): ModelProvider {
  const where = 'openaiProvider';
  assertKnownKeys(where, options, ['apiKey', 'model', 'baseUrl', 'maxTokens', 'maxTokensParam', 'headers', 'name']);
  if (options === undefined) throw new InvalidOptionsError(where, 'openaiProvider needs options with `model`');
  if (options.apiKey !== undefined && (typeof options.apiKey !== 'string' || options.apiKey === '')) {
    throw new InvalidOptionsError(`${where}.apiKey`, 'Expected `apiKey` to be a non-empty string when given');
  }
  const model = assertString(where, 'model', options.model);
  const baseUrl = assertBaseUrl(where, options.baseUrl ?? 'https://api.openai.com/v1');
  const maxTokens = assertNumber(where, 'maxTokens', options.maxTokens ?? 1024, { integer: true, min: 1 });
  const maxTokensParam = assertOneOf(where, 'maxTokensParam', options.maxTokensParam ?? 'max_tokens', ['max_tokens', 'max_completion_tokens']);
  const name = assertString(where, 'name', options.name ?? 'openai');
  const apiKey = options.apiKey;
  const extra = { ...(options.headers ?? {}) };
  const url = joinUrl(baseUrl, '/chat/completions');

  return {
    name,
    model,
    async complete(request: CompletionRequest): Promise<CompletionResponse> {
      assertCompletionRequest(request);
      const body: Record<string, unknown> = {
        model,
        messages: toOpenAIMessages(request.system, request.messages),
        [maxTokensParam]: request.maxTokens ?? maxTokens,
      };
      if (request.temperature !== undefined) body.temperature = request.temperature;
      if (request.tools && request.tools.length > 0) {
        body.tools = request.tools.map((t) => ({
          type: 'function',
          function: { name: t.name, description: t.description, parameters: t.inputSchema },
        }));
      }
      const json = await postJson({
        service: name,
        url,
        headers: { ...extra, ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) },
        body,
        signal: request.signal,
        secrets: [apiKey],
      });
      return fromOpenAIResponse(json, model, name);
    },
  };
}
