/**
 * Emulators of the Anthropic Messages API and the OpenAI Chat Completions API, speaking their real wire formats and
 * checking requests the way the real services do (auth headers, required fields, tool_use/tool_result pairing).
 * Both are scripted with the same provider-neutral {@link ModelReply}, so one script drives either.
 */
import { randomBytes } from 'node:crypto';
import { assertKnownKeys, assertString } from '../common/options.js';
import { InvalidOptionsError } from '../common/errors.js';
import { estimateTokens, isObject, startEmulator } from './server.js';
import type { Emulator, EmulatorOptions, RecordedRequest, Rejection } from './server.js';

/** A scripted model answer. `stopReason` defaults to `tool_use` when there are tool calls, else `end_turn`. */
export interface ModelReply {
  text?: string;
  toolCalls?: {
    id?: string;
    name: string;
    input?: unknown;
    /** OpenAI only: send this exact `arguments` string (e.g. invalid JSON) instead of `JSON.stringify(input)`. */
    rawArguments?: string;
  }[];
  stopReason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence';
  usage?: { inputTokens?: number; outputTokens?: number };
  /** Model id to report (default: the requested model). */
  model?: string;
}

/** Options of the model emulators. */
export interface ModelEmulatorOptions extends EmulatorOptions<ModelReply> {
  /** The key clients must send (defaults `test-anthropic-key` / `test-openai-key`; `null` on OpenAI: no auth, like Ollama). */
  apiKey?: string | null;
}

function id(prefix: string): string {
  return `${prefix}${randomBytes(12).toString('hex')}`;
}

/** The last user text of a request, for the canned reply. */
function lastUserText(messages: unknown): string {
  if (!Array.isArray(messages)) return '';
  for (let i = messages.length - 1; i >= 0; i--) {
    const m: unknown = messages[i];
    if (!isObject(m) || m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      const texts = m.content.filter((b): b is { type: 'text'; text: string } => isObject(b) && b.type === 'text' && typeof b.text === 'string');
      if (texts.length > 0) return texts.map((b) => b.text).join(' ');
      return '[tool results]';
    }
  }
  return '';
}

function cannedReply(r: RecordedRequest): ModelReply {
  const body = r.body as Record<string, unknown>;
  return { text: `Emulated reply to: ${lastUserText(body.messages).slice(0, 200)}` };
}

function stopOf(reply: ModelReply): NonNullable<ModelReply['stopReason']> {
  return reply.stopReason ?? (reply.toolCalls && reply.toolCalls.length > 0 ? 'tool_use' : 'end_turn');
}

const TOOL_NAME = /^[a-zA-Z0-9_-]{1,128}$/;

function positiveInt(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1;
}

// ---------------------------------------------------------------------------------------------------------------
// Anthropic

function validateAnthropic(body: unknown, version: string | string[] | undefined): Rejection | undefined {
  const bad = (message: string): Rejection => ({ status: 400, message, errorType: 'invalid_request_error' });
  if (version === undefined || version === '') return bad('anthropic-version: header is required');
  if (!isObject(body)) return bad('Request body must be a JSON object');
  if (typeof body.model !== 'string' || body.model === '') return bad('model: Field required');
  if (!positiveInt(body.max_tokens)) return bad('max_tokens: Field required (an integer >= 1)');
  if (body.system !== undefined && typeof body.system !== 'string' && !Array.isArray(body.system)) {
    return bad('system: Input should be a valid string or list of text blocks');
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return bad('tools: Input should be a valid list');
    for (const [i, t] of body.tools.entries()) {
      if (!isObject(t) || typeof t.name !== 'string' || !TOOL_NAME.test(t.name)) return bad(`tools.${i}.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      if (t.type === undefined && (!isObject(t.input_schema) || t.input_schema.type !== 'object')) {
        return bad(`tools.${i}.input_schema: Input schema must have type "object"`);
      }
    }
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) return bad('messages: at least one message is required');
  let pendingToolUse: string[] = [];
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m) || (m.role !== 'user' && m.role !== 'assistant')) return bad(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    const blocks: unknown[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m.content) ? m.content : [];
    if (typeof m.content !== 'string' && !Array.isArray(m.content)) return bad(`messages.${i}.content: Input should be a valid string or list`);
    const toolUses: string[] = [];
    const toolResults: string[] = [];
    for (const [j, b] of blocks.entries()) {
      const where = `messages.${i}.content.${j}`;
      if (!isObject(b) || typeof b.type !== 'string') return bad(`${where}: block must have a type`);
      if (b.type === 'text') {
        if (typeof b.text !== 'string') return bad(`${where}.text: Field required`);
      } else if (b.type === 'tool_use') {
        if (m.role !== 'assistant') return bad(`${where}: tool_use blocks are only allowed in assistant messages`);
        if (typeof b.id !== 'string' || typeof b.name !== 'string' || !isObject(b.input)) return bad(`${where}: tool_use needs id, name and an object input`);
        toolUses.push(b.id);
      } else if (b.type === 'tool_result') {
        if (m.role !== 'user') return bad(`${where}: tool_result blocks are only allowed in user messages`);
        if (typeof b.tool_use_id !== 'string') return bad(`${where}.tool_use_id: Field required`);
        if (b.content !== undefined && typeof b.content !== 'string' && !Array.isArray(b.content)) return bad(`${where}.content: Input should be a valid string or list`);
        toolResults.push(b.tool_use_id);
      } else if (!['image', 'document', 'thinking', 'redacted_thinking'].includes(b.type)) {
        return bad(`${where}.type: Input tag '${b.type}' is not supported`);
      }
    }
    for (const r of toolResults) {
      if (!pendingToolUse.includes(r)) {
        return bad(`messages.${i}.content: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${r}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
      }
    }
    const missing = pendingToolUse.filter((p) => !toolResults.includes(p));
    if (missing.length > 0) {
      return bad(`messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`);
    }
    pendingToolUse = toolUses;
  }
  return undefined;
}

function anthropicErrorType(status: number): string {
  switch (status) {
    case 400: return 'invalid_request_error';
    case 401: return 'authentication_error';
    case 403: return 'permission_error';
    case 404: return 'not_found_error';
    case 413: return 'request_too_large';
    case 429: return 'rate_limit_error';
    case 529: return 'overloaded_error';
    default: return status >= 500 ? 'api_error' : 'invalid_request_error';
  }
}

/**
 * Starts an Anthropic Messages API emulator: `POST /v1/messages` with `x-api-key` and `anthropic-version`. Answers
 * `{ id, type: 'message', role: 'assistant', model, content: [text | tool_use blocks], stop_reason, usage }`;
 * errors are `{ type: 'error', error: { type, message } }`. Clients use its `url` as the Anthropic base URL.
 * Throws {@link InvalidOptionsError} on bad options.
 */
export async function startAnthropicEmulator(options: ModelEmulatorOptions = {}): Promise<Emulator<ModelReply>> {
  assertKnownKeys('anthropicEmulator', options, ['apiKey', 'script', 'handler', 'port', 'maxRecordedRequests']);
  const { apiKey = 'test-anthropic-key', ...rest } = options;
  if (apiKey === null) throw new InvalidOptionsError('anthropicEmulator.apiKey', 'The Anthropic API always needs a key');
  assertString('anthropicEmulator', 'apiKey', apiKey, 500);
  return startEmulator<ModelReply>(
    {
      name: 'anthropic',
      path: '/v1/messages',
      secretHeaders: ['x-api-key', 'authorization'],
      authorize: (h) => h['x-api-key'] === apiKey,
      validate: (body, h) => validateAnthropic(body, h['anthropic-version']),
      render(reply, request) {
        const body = request.body as Record<string, unknown>;
        const content: unknown[] = [];
        if (reply.text !== undefined && reply.text !== '') content.push({ type: 'text', text: reply.text });
        for (const call of reply.toolCalls ?? []) {
          content.push({ type: 'tool_use', id: call.id ?? id('toolu_01'), name: call.name, input: call.input ?? {} });
        }
        return {
          id: id('msg_01'),
          type: 'message',
          role: 'assistant',
          model: reply.model ?? body.model,
          content,
          stop_reason: stopOf(reply),
          stop_sequence: null,
          usage: {
            input_tokens: reply.usage?.inputTokens ?? estimateTokens([body.system, body.messages, body.tools]),
            output_tokens: reply.usage?.outputTokens ?? estimateTokens(content),
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
          },
        };
      },
      renderError: (status, message, errorType) => ({ type: 'error', error: { type: errorType ?? anthropicErrorType(status), message } }),
      defaultReply: cannedReply,
    },
    rest,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// OpenAI

function validateOpenAI(body: unknown): Rejection | undefined {
  const bad = (message: string, errorType = 'invalid_request_error'): Rejection => ({ status: 400, message, errorType });
  if (!isObject(body)) return bad('We could not parse the JSON body of your request.');
  if (typeof body.model !== 'string' || body.model === '') return bad("Missing required parameter: 'model'.");
  for (const p of ['max_tokens', 'max_completion_tokens'] as const) {
    if (body[p] !== undefined && body[p] !== null && !positiveInt(body[p])) return bad(`Invalid '${p}': expected an integer >= 1.`);
  }
  if (body.tools !== undefined) {
    if (!Array.isArray(body.tools)) return bad("Invalid type for 'tools': expected an array.");
    for (const [i, t] of body.tools.entries()) {
      if (!isObject(t) || t.type !== 'function' || !isObject(t.function) || typeof t.function.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name)) {
        return bad(`Invalid 'tools[${i}]': expected { type: 'function', function: { name, parameters } }.`);
      }
    }
  }
  if (!Array.isArray(body.messages) || body.messages.length === 0) return bad("Invalid 'messages': empty array. Expected an array with minimum length 1.");
  let pending: string[] = [];
  for (const [i, m] of body.messages.entries()) {
    if (!isObject(m) || !['system', 'developer', 'user', 'assistant', 'tool'].includes(String(m.role))) {
      return bad(`Invalid value for 'messages[${i}].role'.`);
    }
    if (m.role === 'tool') {
      if (typeof m.tool_call_id !== 'string' || !pending.includes(m.tool_call_id)) {
        return bad(`Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.`);
      }
      pending = pending.filter((p) => p !== m.tool_call_id);
      continue;
    }
    if (pending.length > 0) {
      return bad(`An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${pending.join(', ')}`);
    }
    if (m.role === 'assistant' && Array.isArray(m.tool_calls)) {
      for (const [j, c] of m.tool_calls.entries()) {
        if (!isObject(c) || typeof c.id !== 'string' || !isObject(c.function) || typeof c.function.name !== 'string' || typeof c.function.arguments !== 'string') {
          return bad(`Invalid 'messages[${i}].tool_calls[${j}]'.`);
        }
        pending.push(c.id);
      }
    } else if (m.content === undefined || (m.content !== null && typeof m.content !== 'string' && !Array.isArray(m.content))) {
      return bad(`Invalid 'messages[${i}].content': expected a string or an array of content parts.`);
    }
  }
  if (pending.length > 0) {
    return bad(`An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${pending.join(', ')}`);
  }
  return undefined;
}

const FINISH: Record<NonNullable<ModelReply['stopReason']>, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  tool_use: 'tool_calls',
  max_tokens: 'length',
};

function openaiError(status: number, message: string, errorType: string | undefined): unknown {
  // The shared server speaks in Anthropic-style types (authentication_error...); OpenAI only uses a few of its own.
  const own = errorType !== undefined && ['invalid_request_error', 'server_error', 'requests', 'insufficient_quota'].includes(errorType);
  const type = own ? errorType : status === 429 ? 'requests' : status >= 500 ? 'server_error' : 'invalid_request_error';
  const code = status === 401 ? 'invalid_api_key' : status === 429 ? 'rate_limit_exceeded' : null;
  return { error: { message, type, param: null, code } };
}

/**
 * Starts an OpenAI Chat Completions emulator: `POST /v1/chat/completions` with `Authorization: Bearer <key>`.
 * Answers `{ id, object: 'chat.completion', created, model, choices: [{ message: { role, content, tool_calls },
 * finish_reason }], usage: { prompt_tokens, completion_tokens, total_tokens } }`; errors are
 * `{ error: { message, type, param, code } }`. Clients use `${url}/v1` as the base URL.
 * Throws {@link InvalidOptionsError} on bad options.
 */
export async function startOpenAIEmulator(options: ModelEmulatorOptions = {}): Promise<Emulator<ModelReply>> {
  assertKnownKeys('openaiEmulator', options, ['apiKey', 'script', 'handler', 'port', 'maxRecordedRequests']);
  const { apiKey = 'test-openai-key', ...rest } = options;
  if (apiKey !== null) assertString('openaiEmulator', 'apiKey', apiKey, 500);
  return startEmulator<ModelReply>(
    {
      name: 'openai',
      path: '/v1/chat/completions',
      secretHeaders: ['authorization'],
      authorize: (h) => apiKey === null || h.authorization === `Bearer ${apiKey}`,
      validate: (body) => validateOpenAI(body),
      render(reply, request) {
        const body = request.body as Record<string, unknown>;
        const toolCalls = (reply.toolCalls ?? []).map((c) => ({
          id: c.id ?? id('call_'),
          type: 'function',
          function: { name: c.name, arguments: c.rawArguments ?? JSON.stringify(c.input ?? {}) },
        }));
        const message: Record<string, unknown> = { role: 'assistant', content: reply.text ?? null, refusal: null };
        if (toolCalls.length > 0) message.tool_calls = toolCalls;
        const prompt = reply.usage?.inputTokens ?? estimateTokens([body.messages, body.tools]);
        const completion = reply.usage?.outputTokens ?? estimateTokens([reply.text ?? '', toolCalls]);
        return {
          id: id('chatcmpl-'),
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: reply.model ?? body.model,
          choices: [{ index: 0, message, logprobs: null, finish_reason: FINISH[stopOf(reply)] }],
          usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
          system_fingerprint: 'fp_emulator',
        };
      },
      renderError: openaiError,
      defaultReply: cannedReply,
    },
    rest,
  );
}
