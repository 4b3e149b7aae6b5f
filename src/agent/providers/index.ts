/** Model providers: Anthropic Messages, OpenAI-compatible Chat Completions, record/replay and scripted. */
export { anthropicProvider, toAnthropicMessages, fromAnthropicResponse } from './anthropic.js';
export type { AnthropicProviderOptions } from './anthropic.js';
export { openaiProvider, toOpenAIMessages, fromOpenAIResponse } from './openai.js';
export type { OpenAIProviderOptions } from './openai.js';
export { recordingProvider, MAX_CASSETTE_EXCHANGES } from './recording.js';
export type { RecordingOptions, RecordingProvider } from './recording.js';
export { replayProvider, ReplayMismatchError, isReplayMismatchError } from './replay.js';
export type { ReplayOptions, ReplayProvider } from './replay.js';
export { scriptedProvider, ScriptExhaustedError, isScriptExhaustedError, MAX_SCRIPTED_CALLS } from './scripted.js';
export type { ScriptedProvider, ScriptedProviderOptions, ScriptedReply, ScriptedStep } from './scripted.js';
export { CassetteError, isCassetteError, CASSETTE_VERSION } from './cassette.js';
export type { Cassette, CassetteExchange, RecordedCompletionRequest, RecordedError } from './cassette.js';
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
