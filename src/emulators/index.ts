/**
 * Local HTTP emulators of Exa, Tavily, the Anthropic Messages API and the OpenAI Chat Completions API, for tests:
 * scripted replies, fault injection, request recording. Import from `agentex/emulators` in your own tests.
 */
export { startEmulator, estimateTokens, MAX_RECORDED_REQUESTS, MAX_REQUEST_BODY_BYTES } from './server.js';
export type {
  Emulator,
  EmulatorFault,
  EmulatorHandler,
  EmulatorOptions,
  EmulatorSpec,
  EmulatorStep,
  RecordedRequest,
  Rejection,
} from './server.js';
export { startExaEmulator, startTavilyEmulator, cannedHits } from './search.js';
export type { EmulatedHit, SearchReply, SearchEmulatorOptions } from './search.js';
export { startAnthropicEmulator, startOpenAIEmulator } from './models.js';
export type { ModelReply, ModelEmulatorOptions } from './models.js';
export { startEmulators, faults } from './emulators.js';
export type { EmulatorSet } from './emulators.js';
