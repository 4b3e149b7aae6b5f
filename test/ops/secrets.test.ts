/**
 * Secrets scanning (secretlint, recommended preset): the repository is clean, and the configuration still catches
 * real-looking secrets — the two allowed fixture strings are allowed exactly, not their neighbours. Secret-shaped
 * test strings are built at run time, so this file itself never contains one.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './support.js';

const SECRETLINT = path.join(ROOT, 'node_modules', '.bin', 'secretlint');
const CONFIG = path.join(ROOT, '.secretlintrc.json');

function secretlint(args: string[], cwd = ROOT): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(SECRETLINT, ['--secretlintrc', CONFIG, '--format', 'json', ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => resolve({ code, out }));
  });
}

describe('secretlint', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentex-secrets-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds no secret in the repository', async () => {
    const r = await secretlint(['**/*']);
    expect(r.code, r.out).toBe(0);
  }, 60_000);

  it('still catches secret-shaped strings, including near misses of the two allowed fixtures', async () => {
    // Built here, never written in the repository: an AWS secret key, a GitHub token, an Anthropic key, and a
    // connection string and a basic-auth URL that differ from the allowed fixtures.
    const file = path.join(dir, 'leak.ts');
    writeFileSync(
      file,
      [
        `AWS_SECRET_ACCESS_KEY=${awsSecretShape()}`,
        `const gh = '${['ghp', randomBytes(18).toString('hex')].join('_')}';`,
        `const anthropic = '${['sk', 'ant', 'api03', randomBytes(70).toString('base64url').slice(0, 93)].join('-')}AA';`,
        `const db = 'postgres://agentex:${'hunter'}2real@db.internal:5432/agentex';`,
        `const web = 'https://alice:${'s3cr'}et-pw@example.com/x';`,
      ].join('\n'),
    );
    const r = await secretlint([file], dir);
    expect(r.code).toBe(1);
    const found = (JSON.parse(r.out) as { messages: { ruleId: string }[] }[]).flatMap((f) => f.messages.map((m) => m.ruleId));
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/aws/),
        expect.stringMatching(/github/),
        expect.stringMatching(/anthropic/),
        expect.stringMatching(/database-connection-string/),
        expect.stringMatching(/basicauth/),
      ]),
    );
  }, 60_000);
});

/**
 * 40 characters shaped like an AWS secret access key: letters of both cases and digits, each present (a random
 * base64 slice sometimes missed the rule's shape and made this test flaky).
 */
function awsSecretShape(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const body = [...randomBytes(37)].map((b) => alphabet[b % alphabet.length]).join('');
  return `Q${body}z7`;
}
