/**
 * The Anthropic Messages API provider (`POST {baseUrl}/v1/messages`).
 */
import { assertKnownKeys, assertNumber, assertString } from '../../common/options.js';
import { InvalidOptionsError } from '../../common/errors.js';
import { MalformedResponseError, assertBaseUrl, joinUrl, postJson } from '../../common/http.js';
import { assertCompletionRequest, tokenCount } from './types.js';
import type { ChatMessage, CompletionRequest, CompletionResponse, ModelProvider, StopReason, ToolCall } from './types.js';

/** Options of {@link anthropicProvider}. */
export interface AnthropicProviderOptions {
  /** `ANTHROPIC_API_KEY`. Required. */
  apiKey: string;
  /** e.g. `claude-sonnet-4-5`. Required. */
  model: string;
  /** `ANTHROPIC_BASE_URL` (default `https://api.anthropic.com`), without `/v1`. */
  baseUrl?: string;
  /** Default output token limit (default 1024). */
  maxTokens?: number;
  /** `anthropic-version` header (default `2023-06-01`). */
  version?: string;
  /** Extra headers, e.g. `anthropic-beta`. */
  headers?: Record<string, string>;
  /** Provider name for traces and circuits (default `anthropic`). */
  name?: string;
}

type Block = Record<string, unknown>;
interface WireMessage {
  role: 'user' | 'assistant';
  content: Block[];
}

/** Maps neutral messages to Anthropic messages: tool results (and a following user turn) share one user message. */
export function toAnthropicMessages(messages: readonly ChatMessage[]): WireMessage[] {
  const out: WireMessage[] = [];
  const userTurn = (): WireMessage => {
    const last = out[out.length - 1];
    if (last?.role === 'user') return last;
    const fresh: WireMessage = { role: 'user', content: [] };
    out.push(fresh);
    return fresh;
  };
  for (const m of messages) {
    if (m.role === 'user') {
      userTurn().content.push({ type: 'text', text: m.content });
    } else if (m.role === 'tool') {
      userTurn().content.push({
        type: 'tool_result',
        tool_use_id: m.toolCallId,
        content: m.content,
        ...(m.isError ? { is_error: true } : {}),
      });
    } else {
      const blocks: Block[] = [];
      if (m.content !== '') blocks.push({ type: 'text', text: m.content });
      for (const c of m.toolCalls ?? []) {
        blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: typeof c.input === 'object' && c.input !== null ? c.input : {} });
      }
      if (blocks.length === 0) blocks.push({ type: 'text', text: '(no content)' });
      out.push({ role: 'assistant', content: blocks });
    }
  }
  return out;
}

const STOP: Record<string, StopReason> = {
  end_turn: 'end_turn',
  tool_use: 'tool_use',
  max_tokens: 'max_tokens',
  stop_sequence: 'stop_sequence',
  refusal: 'refusal',
};

/** Parses an Anthropic message body. @throws MalformedResponseError when it is not the documented shape. */
export function fromAnthropicResponse(body: unknown, fallbackModel: string): CompletionResponse {
  const b = body as Record<string, unknown> | null;
  if (!b || typeof b !== 'object' || !Array.isArray(b.content)) {
    throw new MalformedResponseError('anthropic', 'shape', 'expected a message with a `content` array');
  }
  const texts: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of b.content as unknown[]) {
    const bl = block as Block | null;
    if (!bl || typeof bl !== 'object') continue;
    if (bl.type === 'text' && typeof bl.text === 'string') texts.push(bl.text);
    else if (bl.type === 'tool_use') {
      if (typeof bl.id !== 'string' || typeof bl.name !== 'string') {
        throw new MalformedResponseError('anthropic', 'shape', 'tool_use block without id or name');
      }
      toolCalls.push({ id: bl.id, name: bl.name, input: bl.input ?? {} });
    }
  }
  const raw = typeof b.stop_reason === 'string' ? b.stop_reason : undefined;
  const usage = (b.usage ?? {}) as Record<string, unknown>;
  return {
    ...(typeof b.id === 'string' ? { id: b.id } : {}),
    content: texts.join(''),
    toolCalls,
    stopReason: raw === undefined ? (toolCalls.length > 0 ? 'tool_use' : 'end_turn') : (STOP[raw] ?? 'other'),
    ...(raw !== undefined ? { rawStopReason: raw } : {}),
    usage: { inputTokens: tokenCount(usage.input_tokens), outputTokens: tokenCount(usage.output_tokens) },
    model: typeof b.model === 'string' ? b.model : fallbackModel,
  };
}

/**
 * A {@link ModelProvider} for the Anthropic Messages API. Tools are sent as `{ name, description, input_schema }`,
 * tool calls come back as `tool_use` blocks and go back as `tool_result` blocks.
 * @throws InvalidOptionsError when `apiKey` or `model` is missing or an option is invalid.
 * @example
 * const claude = anthropicProvider({ apiKey: process.env.ANTHROPIC_API_KEY!, model: 'claude-sonnet-4-5' });
 * const res = await claude.complete({ messages: [{ role: 'user', content: 'Hi' }] });
 */
export function anthropicProvider(options: AnthropicProviderOptions): ModelProvider {
  const where = 'anthropicProvider';
  assertKnownKeys(where, options, ['apiKey', 'model', 'baseUrl', 'maxTokens', 'version', 'headers', 'name']);
  if (options === undefined) throw new InvalidOptionsError(where, 'anthropicProvider needs options with `apiKey` and `model`');
  if (typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new InvalidOptionsError(`${where}.apiKey`, 'Expected `apiKey` to be a non-empty string (set ANTHROPIC_API_KEY)');
  }
  const model = assertString(where, 'model', options.model);
  const baseUrl = assertBaseUrl(where, options.baseUrl ?? 'https://api.anthropic.com');
  const maxTokens = assertNumber(where, 'maxTokens', options.maxTokens ?? 1024, { integer: true, min: 1 });
  const version = assertString(where, 'version', options.version ?? '2023-06-01');
  const name = assertString(where, 'name', options.name ?? 'anthropic');
  const apiKey = options.apiKey;
  const extra = { ...(options.headers ?? {}) };
  const url = joinUrl(baseUrl, '/v1/messages');

  return {
    name,
    model,
    async complete(request: CompletionRequest): Promise<CompletionResponse> {
      assertCompletionRequest(request);
      const body: Record<string, unknown> = {
        model,
        max_tokens: request.maxTokens ?? maxTokens,
        messages: toAnthropicMessages(request.messages),
      };
      if (request.system !== undefined && request.system !== '') body.system = request.system;
      if (request.temperature !== undefined) body.temperature = request.temperature;
      if (request.tools && request.tools.length > 0) {
        body.tools = request.tools.map((t) => ({ name: t.name, description: t.description, input_schema: t.inputSchema }));
      }
      const json = await postJson({
        service: name,
        url,
        headers: { ...extra, 'x-api-key': apiKey, 'anthropic-version': version },
        body,
        signal: request.signal,
        secrets: [apiKey],
      });
      return fromAnthropicResponse(json, model);
    },
  };
}
