/** The agent runtime: the loop, guarded providers, and the model providers. */
export { runAgent, DEFAULT_MAX_ITERATIONS, MAX_TOOL_RESULT_CHARS } from './runAgent.js';
export type { RunAgentOptions, RunAgentResult, ToolExecutor, ConversationMemory } from './runAgent.js';
export { guardedProvider, DEFAULT_MODEL_TIMEOUT_MS } from './guardedProvider.js';
export type { GuardOptions } from './guardedProvider.js';
export {
  anthropicProvider,
  openaiProvider,
  recordingProvider,
  replayProvider,
  scriptedProvider,
  CassetteError,
  ReplayMismatchError,
  ScriptExhaustedError,
  isCassetteError,
  isReplayMismatchError,
  isScriptExhaustedError,
  MalformedResponseError,
  isMalformedResponseError,
  transportErrorCode,
} from './providers/index.js';
export type {
  AnthropicProviderOptions,
  OpenAIProviderOptions,
  Cassette,
  RecordingOptions,
  ReplayOptions,
  ScriptedStep,
  ScriptedReply,
  ChatMessage,
  CompletionRequest,
  CompletionResponse,
  ModelProvider,
  StopReason,
  ToolCall,
  ToolSpec,
} from './providers/index.js';
