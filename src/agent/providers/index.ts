/** Model providers: Anthropic Messages, OpenAI-compatible Chat Completions, record/replay and scripted. */
export { anthropicProvider, toAnthropicMessages, fromAnthropicResponse } from './anthropic.js';
export type { AnthropicProviderOptions } from './anthropic.js';
export { openaiProvider, toOpenAIMessages, fromOpenAIResponse } from './openai.js';
export type { OpenAIProviderOptions } from './openai.js';
export {
  recordingProvider,
  replayProvider,
  scriptedProvider,
  CassetteError,
  ReplayMismatchError,
  ScriptExhaustedError,
  isCassetteError,
  isReplayMismatchError,
  isScriptExhaustedError,
  CASSETTE_VERSION,
  MAX_CASSETTE_EXCHANGES,
  MAX_SCRIPTED_CALLS,
} from './replay.js';
export type {
  Cassette,
  CassetteExchange,
  RecordedCompletionRequest,
  RecordedError,
  RecordingOptions,
  RecordingProvider,
  ReplayOptions,
  ReplayProvider,
  ScriptedProvider,
  ScriptedProviderOptions,
  ScriptedReply,
  ScriptedStep,
} from './replay.js';
export { assertCompletionRequest } from './types.js';
export type {
  ChatMessage,
  CompletionRequest,
  CompletionResponse,
  ModelProvider,
  StopReason,
  TokenUsage,
  ToolCall,
  ToolSpec,
} from './types.js';
export { MalformedResponseError, isMalformedResponseError, transportErrorCode } from '../../common/http.js';
