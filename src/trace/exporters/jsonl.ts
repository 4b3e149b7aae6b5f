/**
 * JSON-lines exporter: one finished trace per line, appended to a file or written to a stream (stdout for a
 * console exporter). Each batch is one write, so a batch is either written whole or reported failed.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { InvalidOptionsError } from '../../common/errors.js';
import { assertKnownKeys, assertString } from '../../common/options.js';
import type { TraceExporter, TraceRecord } from '../model.js';

/** Options of {@link jsonlExporter}: exactly one of `path` and `stream`. */
export interface JsonlExporterOptions {
  /** File to append to (created, with its folder, when missing). */
  path?: string;
  /** A writable stream, e.g. `process.stdout`. Not closed by `shutdown()`. */
  stream?: Writable;
  /** Exporter name in stats. Default `'jsonl'`. */
  name?: string;
}

class JsonlExporter implements TraceExporter {
  private file: WriteStream | null = null;

  constructor(
    readonly name: string,
    private readonly filePath: string | null,
    private readonly stream: Writable | null,
  ) {
    // A failed write also emits 'error'; without a listener that would crash the process, which tracing must never do.
    // The failure itself reaches the processor through the write callback.
    stream?.on('error', () => {});
  }

  private target(): Writable {
    if (this.stream) return this.stream;
    if (!this.file) {
      mkdirSync(path.dirname(this.filePath!), { recursive: true });
      this.file = createWriteStream(this.filePath!, { flags: 'a' });
      // Errors surface through the write callback; the listener only keeps an 'error' event from crashing the process.
      this.file.on('error', () => {});
    }
    return this.file;
  }

  export(batch: readonly TraceRecord[], signal?: AbortSignal): Promise<void> {
    if (batch.length === 0) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    let text = '';
    for (const trace of batch) text += `${JSON.stringify(trace)}\n`;
    return new Promise<void>((resolve, reject) => {
      const target = this.target();
      if (target.destroyed || target.writableEnded) {
        reject(new Error(`jsonl exporter ${this.name}: stream is closed`));
        return;
      }
      target.write(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  async shutdown(): Promise<void> {
    const file = this.file;
    this.file = null;
    if (file) await new Promise<void>((resolve) => file.end(resolve));
  }
}

/**
 * A JSON-lines exporter (one trace per line).
 * @throws InvalidOptionsError unless exactly one of `path` (non-empty string) and `stream` (writable) is given.
 * @example createTracer({ exporters: [jsonlExporter({ path: './traces.jsonl' })] })
 */
export function jsonlExporter(options: JsonlExporterOptions): TraceExporter {
  const where = 'jsonlExporter';
  assertKnownKeys(where, options, ['path', 'stream', 'name']);
  const o = options ?? {};
  if ((o.path === undefined) === (o.stream === undefined)) {
    throw new InvalidOptionsError(`${where}.path`, 'Expected exactly one of `path` and `stream`');
  }
  if (o.path !== undefined) assertString(where, 'path', o.path, 4096);
  if (o.stream !== undefined && (o.stream === null || typeof (o.stream as Partial<Writable>).write !== 'function')) {
    throw new InvalidOptionsError(`${where}.stream`, 'Expected `stream` to be a writable stream');
  }
  const name = o.name === undefined ? 'jsonl' : assertString(where, 'name', o.name, 100);
  return new JsonlExporter(name, o.path ?? null, o.stream ?? null);
}
