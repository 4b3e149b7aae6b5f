/**
 * Timers a caller waits on keep a plain Node script alive (#16.5): each case runs a small script using the public
 * API in a child process (`node --import tsx`) and checks its exit code and output. Before the fix the retry sleep
 * and the timeout deadline were unref'd, and such a script exited with code 13 mid-call, printing nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TSX = pathToFileURL(path.join(ROOT, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')).href;
const API = pathToFileURL(path.join(ROOT, 'src', 'resilience', 'index.ts')).href;
const dir = mkdtempSync(path.join(tmpdir(), 'agentex-keepalive-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function runScript(name: string, body: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const file = path.join(dir, `${name}.mts`);
  writeFileSync(file, `import * as agentex from ${JSON.stringify(API)};\n${body}\n`);
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
}

describe('timers a caller waits on keep the process alive (#16.5)', () => {
  it('a retry failing transiently twice finishes and prints its result', async () => {
    const res = await runScript(
      'retry',
      `let calls = 0;
const result = await agentex.retry({ maxAttempts: 3, baseDelayMs: 300 }).execute(async () => {
  calls++;
  if (calls < 3) throw Object.assign(new Error('reset'), { code: 'ECONNRESET' });
  return 'ok after ' + calls;
});
console.log(result);`,
    );
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe('ok after 3');
    expect(res.code).toBe(0);
  }, 60_000);

  it('a timeout on a call that only waits on its signal rejects with TimeoutError', async () => {
    const res = await runScript(
      'timeout',
      `const wait = ({ signal }) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
try {
  await agentex.timeout(300).execute(wait);
} catch (err) {
  console.log('timeout:', err.name);
}
try {
  await agentex.circuitBreaker({ name: 'b', timeoutMs: 300 }).execute(wait);
} catch (err) {
  console.log('breaker:', err.name);
}`,
    );
    expect(res.stderr).toBe('');
    expect(res.stdout.trim().split('\n')).toEqual(['timeout: TimeoutError', 'breaker: TimeoutError']);
    expect(res.code).toBe(0);
  }, 60_000);

  it('a finished call leaves no timer holding the process open', async () => {
    // The deadline is 10 minutes; a script that waited for it would be killed by the test timeout.
    const res = await runScript(
      'idle',
      `const policy = agentex.timeout(600_000);
console.log(await policy.execute(async () => 'done'));
console.log(await agentex.retry({ maxAttempts: 2, baseDelayMs: 600_000 }).execute(async () => 'no sleep'));`,
    );
    expect(res.stdout.trim().split('\n')).toEqual(['done', 'no sleep']);
    expect(res.code).toBe(0);
  }, 60_000);
});
