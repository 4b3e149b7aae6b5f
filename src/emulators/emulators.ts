/**
 * `startEmulators()`: all four emulators at once, plus fault shorthands.
 */
import { startAnthropicEmulator, startOpenAIEmulator } from './models.js';
import type { ModelReply } from './models.js';
import { startExaEmulator, startTavilyEmulator } from './search.js';
import type { SearchReply } from './search.js';
import type { Emulator, EmulatorFault } from './server.js';

/** The four running emulators, their base URLs (ready for `*_BASE_URL`) and keys (ready for `*_API_KEY`). */
export interface EmulatorSet {
  exa: Emulator<SearchReply>;
  tavily: Emulator<SearchReply>;
  anthropic: Emulator<ModelReply>;
  openai: Emulator<ModelReply>;
  /** Base URLs as the clients expect them (`openai` includes `/v1`). */
  urls: { exa: string; tavily: string; anthropic: string; openai: string };
  keys: { exa: string; tavily: string; anthropic: string; openai: string };
  /** Environment variables pointing AgentEx at the emulators. */
  env: Record<string, string>;
  /** Closes all four (destroying open sockets). */
  close(): Promise<void>;
}

const KEYS = { exa: 'test-exa-key', tavily: 'tvly-test-key', anthropic: 'test-anthropic-key', openai: 'test-openai-key' };

/**
 * Starts the Exa, Tavily, Anthropic and OpenAI emulators on 127.0.0.1 with their default keys and canned replies.
 * Script them afterwards with `enqueue` / `setHandler`. Always `close()` in `afterAll`/`finally`.
 *
 * @example
 * const emu = await startEmulators();
 * emu.exa.enqueue(faults.status(500), faults.status(500));
 * // ... EXA_BASE_URL = emu.urls.exa
 * await emu.close();
 */
export async function startEmulators(): Promise<EmulatorSet> {
  const started = await Promise.allSettled([
    startExaEmulator({ apiKey: KEYS.exa }),
    startTavilyEmulator({ apiKey: KEYS.tavily }),
    startAnthropicEmulator({ apiKey: KEYS.anthropic }),
    startOpenAIEmulator({ apiKey: KEYS.openai }),
  ]);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : Promise.resolve())));
    throw failed.reason;
  }
  const [exa, tavily, anthropic, openai] = started.map((s) => (s as PromiseFulfilledResult<Emulator<never>>).value) as [
    Emulator<SearchReply>,
    Emulator<SearchReply>,
    Emulator<ModelReply>,
    Emulator<ModelReply>,
  ];
  const urls = { exa: exa.url, tavily: tavily.url, anthropic: anthropic.url, openai: `${openai.url}/v1` };
  return {
    exa,
    tavily,
    anthropic,
    openai,
    urls,
    keys: { ...KEYS },
    env: {
      EXA_BASE_URL: urls.exa,
      EXA_API_KEY: KEYS.exa,
      TAVILY_BASE_URL: urls.tavily,
      TAVILY_API_KEY: KEYS.tavily,
      ANTHROPIC_BASE_URL: urls.anthropic,
      ANTHROPIC_API_KEY: KEYS.anthropic,
      OPENAI_BASE_URL: urls.openai,
      OPENAI_API_KEY: KEYS.openai,
    },
    async close() {
      await Promise.all([exa.close(), tavily.close(), anthropic.close(), openai.close()]);
    },
  };
}

/** Shorthands for the injectable faults. */
export const faults = {
  /** An HTTP error in the provider's own error format. */
  status: (status: number, message?: string): EmulatorFault => ({ fault: 'status', status, ...(message ? { message } : {}) }),
  /** 429 with `Retry-After` (seconds, or an HTTP date string). */
  rateLimited: (retryAfter: number | string = 1): EmulatorFault => ({ fault: 'status', status: 429, retryAfter, message: 'Rate limit exceeded' }),
  /** Never answers until the client aborts or the emulator closes. */
  hang: (): EmulatorFault => ({ fault: 'hang' }),
  /** Sends headers and half the body, then resets the connection. */
  reset: (): EmulatorFault => ({ fault: 'reset' }),
  /** 200 with a body that is not JSON. */
  malformed: (body?: string): EmulatorFault => ({ fault: 'malformed', ...(body !== undefined ? { body } : {}) }),
  /** Any status, headers and body. */
  raw: (status: number, body: string, headers?: Record<string, string>): EmulatorFault => ({ fault: 'raw', status, body, ...(headers ? { headers } : {}) }),
};
