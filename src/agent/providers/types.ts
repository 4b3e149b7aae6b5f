/**
 * The provider-neutral model interface: one message format, one tool format, one response shape, whatever the
 * wire format (Anthropic Messages, OpenAI Chat Completions, a cassette, a script).
 */
import { ValidationError } from '../../common/errors.js';
import type { ToolCall, ToolSpec } from '../../tools/spec.js';

export type { ToolCall, ToolSpec };

/**
 * A conversation turn. Tool results are their own `tool` messages, one per call, answering `toolCallId`; providers
 * that need them grouped (Anthropic) group consecutive ones.
 */
export type ChatMessage =
  | { readonly role: 'user'; readonly content: string }
  | { readonly role: 'assistant'; readonly content: string; readonly toolCalls?: readonly ToolCall[] }
  | {
      readonly role: 'tool';
      readonly toolCallId: string;
      /** Name of the tool that produced the result. */
      readonly name: string;
      readonly content: string;
      /** The tool failed; the content explains how. */
      readonly isError?: boolean;
    };

/** Why the model stopped. `other` covers values a provider adds later (the raw value is in `rawStopReason`). */
export type StopReason = 'end_turn' | 'tool_use' | 'max_tokens' | 'stop_sequence' | 'refusal' | 'other';

export interface TokenUsage {
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** One model call. */
export interface CompletionRequest {
  readonly system?: string;
  readonly messages: readonly ChatMessage[];
  readonly tools?: readonly ToolSpec[];
  /** Output token limit (default: the provider's `maxTokens` option). */
  readonly maxTokens?: number;
  readonly temperature?: number;
  /** Aborts the HTTP call; the provider rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

/** The model's answer. */
export interface CompletionResponse {
  /** Provider's message id, when it gives one. */
  readonly id?: string;
  /** The text the model wrote (text blocks joined), `''` when it only called tools. */
  readonly content: string;
  readonly toolCalls: readonly ToolCall[];
  readonly stopReason: StopReason;
  /** The stop reason exactly as the provider sent it. */
  readonly rawStopReason?: string;
  readonly usage: TokenUsage;
  /** The model id the provider reports having used. */
  readonly model: string;
}

/** A model behind some API. Implementations: {@link anthropicProvider}, {@link openaiProvider}, replay, scripted. */
export interface ModelProvider {
  /** Provider name for traces and circuits, e.g. `anthropic`. */
  readonly name: string;
  /** The model requested. */
  readonly model: string;
  /**
   * Runs one model call.
   * @throws HttpStatusError, MalformedResponseError, the network error or abort reason (see `common/http.ts`),
   *   ValidationError when the request itself is malformed.
   */
  complete(request: CompletionRequest): Promise<CompletionResponse>;
}

/** Checks a request before it goes on the wire. @throws ValidationError naming the bad field. */
export function assertCompletionRequest(request: CompletionRequest): void {
  if (request === null || typeof request !== 'object') throw new ValidationError('request', 'Expected a completion request object');
  if (!Array.isArray(request.messages) || request.messages.length === 0) {
    throw new ValidationError('messages', 'Expected `messages` to be a non-empty array');
  }
  for (const [i, m] of (request.messages as readonly unknown[]).entries()) {
    const msg = (m ?? {}) as { role?: unknown; content?: unknown; toolCallId?: unknown };
    const role = msg.role;
    if (role !== 'user' && role !== 'assistant' && role !== 'tool') {
      throw new ValidationError(`messages[${i}].role`, `Expected role user, assistant or tool, got ${JSON.stringify(role)}`);
    }
    if (typeof msg.content !== 'string') throw new ValidationError(`messages[${i}].content`, 'Expected `content` to be a string');
    if (role === 'tool' && (typeof msg.toolCallId !== 'string' || msg.toolCallId === '')) {
      throw new ValidationError(`messages[${i}].toolCallId`, 'Expected a tool message to name the `toolCallId` it answers');
    }
  }
  if (request.maxTokens !== undefined && (!Number.isInteger(request.maxTokens) || request.maxTokens < 1)) {
    throw new ValidationError('maxTokens', `Expected \`maxTokens\` to be an integer >= 1, got ${String(request.maxTokens)}`);
  }
  for (const [i, t] of (request.tools ?? []).entries()) {
    if (typeof t?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.name)) {
      throw new ValidationError(`tools[${i}].name`, `Expected a tool name of 1-64 letters, digits, _ or -, got ${JSON.stringify(t?.name)}`);
    }
  }
}

/** Non-negative integer or 0, for token counts from the wire. */
export function tokenCount(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0;
}
