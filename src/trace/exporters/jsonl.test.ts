import { describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { jsonlExporter } from './jsonl.js';
import { createTracer } from '../Tracer.js';
import { InvalidOptionsError } from '../../common/errors.js';

describe('JSON-lines exporter', () => {
  it('appends one redacted trace per line to a file, creating its folder', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'agentex-jsonl-'));
    try {
      const file = path.join(dir, 'nested', 'traces.jsonl');
      const tracer = createTracer({ sampleRate: 1, exporters: [jsonlExporter({ path: file })] });
      await tracer.withTrace('a', async (t) => t.setMetadata('password', 'hunter2'));
      await tracer.withTrace('b', async () => 1);
      await tracer.shutdown();
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { agent: string; metadata: { password: string } });
      expect(lines.map((l) => l.agent)).toEqual(['a', 'b']);
      expect(lines[0]!.metadata.password).toBe('[REDACTED:password]');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes to a stream, and reports a closed or aborted stream as a failure', async () => {
    const stream = new PassThrough();
    const chunks: string[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c.toString()));
    const ex = jsonlExporter({ stream, name: 'console' });
    expect(ex.name).toBe('console');
    const tracer = createTracer({ sampleRate: 1, exporters: [ex], processor: { maxAttempts: 1 } });
    await tracer.withTrace('s', async () => 1);
    await tracer.forceFlush();
    expect(JSON.parse(chunks.join('')).agent).toBe('s');
    await expect(ex.export([], undefined)).resolves.toBeUndefined();
    const aborted = AbortSignal.abort(new Error('stop'));
    await expect(ex.export([{} as never], aborted)).rejects.toThrow('stop');
    stream.end();
    await tracer.withTrace('after-close', async () => 1);
    await tracer.shutdown();
    expect(tracer.stats().processor.lost).toBe(1);
    const failing = new Writable({ write: (_c, _e, cb) => cb(new Error('disk full')) });
    await expect(jsonlExporter({ stream: failing }).export([{} as never])).rejects.toThrow('disk full');
  });

  it('validates options', () => {
    expect(() => jsonlExporter({})).toThrow(InvalidOptionsError);
    expect(() => jsonlExporter({ path: 'a', stream: process.stdout })).toThrow(InvalidOptionsError);
    expect(() => jsonlExporter({ stream: {} as never })).toThrow(/stream/);
    expect(() => jsonlExporter({ path: '' })).toThrow(/path/);
    expect(() => jsonlExporter({ path: 'x', extra: 1 } as never)).toThrow(/extra/);
  });
});
