/**
 * {@link recordingProvider} wraps a real provider and writes every exchange to a JSON cassette (secrets redacted),
 * for {@link replayProvider} to answer from later.
 */
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidOptionsError, toError } from '../../common/errors.js';
import { assertKnownKeys, assertString } from '../../common/options.js';
import { CASSETTE_VERSION, redactDeep, toRecordedError, toRecordedRequest } from './cassette.js';
import type { Cassette, CassetteExchange } from './cassette.js';
import type { CompletionResponse, ModelProvider } from './types.js';

/** Most exchanges one recording keeps; later ones are dropped and counted. */
export const MAX_CASSETTE_EXCHANGES = 10_000;

/** Options of {@link recordingProvider}. */
export interface RecordingOptions {
  /** Cassette file to write (directories are created). */
  path: string;
  /** Extra strings to redact (the provider's API key, user secrets); key-shaped strings are always redacted. */
  secrets?: readonly string[];
  /** Write the file after every exchange (default true); otherwise call `save()`. */
  autosave?: boolean;
}

/** A recording provider: the wrapped provider plus its cassette. */
export interface RecordingProvider extends ModelProvider {
  readonly cassette: Cassette;
  /** Exchanges not kept because of {@link MAX_CASSETTE_EXCHANGES}. */
  readonly droppedExchanges: number;
  /** Writes the cassette atomically (temp file + rename). */
  save(): Promise<void>;
}

/**
 * Wraps a real provider and records each exchange — request, response, or provider error — to a cassette file,
 * with API keys and key-shaped strings redacted. Calls the caller aborted are not recorded.
 * @throws InvalidOptionsError on bad options.
 * @example
 * const rec = recordingProvider(anthropicProvider({...}), { path: 'test/cassettes/weather.json', secrets: [key] });
 */
export function recordingProvider(inner: ModelProvider, options: RecordingOptions): RecordingProvider {
  const where = 'recordingProvider';
  if (!inner || typeof inner.complete !== 'function') throw new InvalidOptionsError(`${where}.inner`, 'Expected a ModelProvider to record');
  assertKnownKeys(where, options, ['path', 'secrets', 'autosave']);
  const path = assertString(where, 'path', options?.path, 4096);
  const secrets = [...(options.secrets ?? [])];
  const autosave = options.autosave ?? true;
  const cassette: Cassette = { version: CASSETTE_VERSION, provider: inner.name, model: inner.model, recordedAt: new Date().toISOString(), exchanges: [] };
  let dropped = 0;
  let writing: Promise<void> = Promise.resolve();

  const save = (): Promise<void> => {
    const text = `${JSON.stringify(cassette, null, 2)}\n`;
    writing = writing
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(path), { recursive: true });
        const tmp = `${path}.${process.pid}.tmp`;
        await writeFile(tmp, text, 'utf8');
        await rename(tmp, path);
      });
    return writing;
  };
  const keep = async (exchange: CassetteExchange): Promise<void> => {
    if (cassette.exchanges.length >= MAX_CASSETTE_EXCHANGES) {
      dropped++;
      return;
    }
    cassette.exchanges.push(exchange);
    if (autosave) await save();
  };

  return {
    name: inner.name,
    model: inner.model,
    cassette,
    get droppedExchanges() {
      return dropped;
    },
    save,
    async complete(request) {
      const recorded = toRecordedRequest(request, secrets);
      let response: CompletionResponse;
      try {
        response = await inner.complete(request);
      } catch (thrown) {
        if (!request.signal?.aborted) await keep({ request: recorded, error: toRecordedError(toError(thrown), secrets) });
        throw thrown;
      }
      await keep({ request: recorded, response: redactDeep(response, secrets) });
      return response;
    },
  };
}
