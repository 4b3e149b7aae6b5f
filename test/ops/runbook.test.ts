/**
 * Runs docs/runbook.md. Every ```sh block must be marked `<!-- runbook-test -->` (optionally with tags:
 * `postgres` — needs AGENTEX_TEST_DATABASE_URL, skipped with a printed reason when it is unset; `rotate-tokens` —
 * the service is restarted with new tokens first, the old ones in OLD_AGENTEX_TOKEN / OLD_AGENTEX_ADMIN_TOKEN;
 * `service-stopped` — the service is stopped for the block and started again on the same file afterwards;
 * `instances` — two instances share the Postgres database, their URLs in AGENTEX_INSTANCE_URLS). Blocks run in
 * document order, each in `bash -e -o pipefail`, against a real service on 127.0.0.1 with a temp SQLite store and the
 * real `agentex` CLI, so a command that stops working fails here instead of during an incident.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startService, type RunningService } from '../../src/server/service.js';
import { createTraceStore } from '../../src/store/createTraceStore.js';
import { makeTrace } from '../../src/store/testing/fixtures.js';
import { PG_URL, REDIS_URL, reportSkipped } from '../../src/common/persistence/testing/postgres.js';
import { ingest, reportSkip, ROOT, startTestService, testTokens, type TestService } from './support.js';

const TAGS = ['postgres', 'rotate-tokens', 'service-stopped', 'instances'] as const;
type Tag = (typeof TAGS)[number];

interface Block {
  section: string;
  index: number;
  tags: Tag[];
  script: string;
}

/** The runbook's sh blocks; throws if one is not marked (every command must be tested). */
export function runbookBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  let section = '(top)';
  let marker: string | null | undefined;
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^#{1,3} (.+)$/.exec(line);
    if (heading) section = heading[1]!;
    const mark = /^<!-- runbook-test(?::\s*([\w\s-]+?))?\s*-->$/.exec(line);
    if (mark) {
      marker = mark[1] ?? null;
      continue;
    }
    if (/^```(sh|bash|shell|console)\s*$/.test(line)) {
      if (marker === undefined) throw new Error(`docs/runbook.md line ${i + 1}: a shell block without <!-- runbook-test --> (every command must be tested)`);
      const body: string[] = [];
      while (i + 1 < lines.length && lines[i + 1] !== '```') body.push(lines[++i]!);
      const tags = (marker ?? '').split(/\s+/).filter(Boolean);
      for (const t of tags) if (!(TAGS as readonly string[]).includes(t)) throw new Error(`docs/runbook.md line ${i + 1}: unknown runbook-test tag "${t}"`);
      blocks.push({ section, index: blocks.filter((b) => b.section === section).length, tags: tags as Tag[], script: body.join('\n') });
    }
    if (line.trim() !== '') marker = undefined;
  }
  return blocks;
}

function bash(script: string, env: Record<string, string>, timeoutMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const markdown = readFileSync(path.join(ROOT, 'docs/runbook.md'), 'utf8');
const blocks = runbookBlocks(markdown);
if (!PG_URL) reportSkipped('runbook blocks marked postgres', 'AGENTEX_TEST_DATABASE_URL');

/** What some blocks must print beyond succeeding (the seeded incident must be visible where the runbook says). */
const EXPECT_OUTPUT: Record<string, RegExp> = {
  'AgentexCircuitOpen#0': /exa\s+(open|half_open)/,
  'AgentexCircuitOpen#1': /error/,
  'AgentexCircuitOpen#2': /circuit exa reset to closed/,
  'AgentexAgentErrorRateHigh#0': /error/,
  'AgentexTraceStoreDown#1': /^ok$/m,
  "Answering a user's deletion request (GDPR)#0": /^2\n[\s\S]*deleted 2 traces of user user-42/,
  'Backing up and restoring the SQLite file#0': /^ok\n\d+$/m,
};

describe('docs/runbook.md, command by command', () => {
  let svc: TestService;
  let env: Record<string, string>;
  let work: string;
  let pgDatabase: { name: string; url: string } | undefined;
  let instances: RunningService[] = [];
  const bundles: string[] = [];

  async function restart(tokens = svc.tokens): Promise<void> {
    await svc.service.close();
    const service = await startService({
      env: {
        AGENTEX_HOST: '127.0.0.1',
        AGENTEX_PORT: '0',
        AGENTEX_SQLITE_PATH: svc.sqlitePath,
        AGENTEX_API_TOKEN: tokens.api,
        AGENTEX_ADMIN_TOKEN: tokens.admin,
        AGENTEX_SAMPLE_RATE: '1',
        AGENTEX_LOG_LEVEL: 'silent',
      },
    });
    svc = { ...svc, service, tokens };
    env = { ...env, AGENTEX_URL: service.url, AGENTEX_TOKEN: tokens.api, AGENTEX_ADMIN_TOKEN: tokens.admin };
  }

  beforeAll(async () => {
    svc = await startTestService();
    work = path.join(svc.dir, 'work');
    const bin = path.join(work, 'bin');
    mkdirSync(bin, { recursive: true });
    // The `agentex` command as an operator has it: this checkout's CLI, bundled once (as `npm run build` would
    // compile it) so that each of the runbook's ~30 invocations starts in a fraction of a second instead of going
    // through tsx. The bundle sits under node_modules/.cache so that its package imports resolve.
    const cli = path.join(ROOT, 'node_modules', '.cache', 'agentex-runbook-test', `cli-${process.pid}.mjs`);
    await build({ entryPoints: [path.join(ROOT, 'src/cli/main.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', outfile: cli, logLevel: 'silent' });
    bundles.push(cli);
    writeFileSync(path.join(bin, 'agentex'), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
    chmodSync(path.join(bin, 'agentex'), 0o755);

    // The incident the alert sections look at: failed runs (one user with two traces) and an open circuit.
    await ingest(svc.service.url, svc.tokens.api, [
      { userId: 'user-42' },
      { userId: 'user-42', error: true, spans: 3 },
      { userId: 'user-7', error: true },
      { userId: 'user-7', spans: 2 },
      { agent: 'other-agent' },
    ]);
    const exa = svc.service.circuits.getOrCreate('exa', { threshold: 1, cooldownMs: 600_000 });
    await exa.execute(() => Promise.reject(new Error('exa: 503 Service Unavailable'))).catch(() => undefined);
    await svc.service.ingest.flush();
    await svc.service.tracer.forceFlush();

    const { AGENTEX_DATABASE_URL: _d, AGENTEX_URL: _u, AGENTEX_TOKEN: _t, AGENTEX_API_TOKEN: _a, AGENTEX_ADMIN_TOKEN: _ad, ...inherited } = process.env;
    env = {
      ...(inherited as Record<string, string>),
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      AGENTEX_URL: svc.service.url,
      AGENTEX_TOKEN: svc.tokens.api,
      AGENTEX_ADMIN_TOKEN: svc.tokens.admin,
      AGENTEX_SQLITE_PATH: svc.sqlitePath,
      BACKUP_DIR: path.join(work, 'backups'),
      AGENTEX_LOG_LEVEL: 'silent',
    };

    if (PG_URL) {
      // A database of its own (pg_dump/pg_restore work on whole databases), seeded through the real store.
      const name = `agentex_runbook_${process.pid}_${randomBytes(3).toString('hex')}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`CREATE DATABASE "${name}"`);
      await admin.end();
      const url = new URL(PG_URL);
      url.pathname = `/${name}`;
      pgDatabase = { name, url: url.toString() };
      const store = await createTraceStore({ databaseUrl: pgDatabase.url, purgeIntervalMs: 0 });
      await store.put([makeTrace({ userId: 'user-42' }), makeTrace({ userId: 'user-9', status: 'error' }), makeTrace({})]);
      await store.close();
    }
  });

  afterAll(async () => {
    for (const i of instances) await i.close();
    await svc?.stop();
    for (const b of bundles) rmSync(b, { force: true });
    if (pgDatabase) {
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${pgDatabase.name}" WITH (FORCE)`);
      await admin.end();
    }
  });

  it('marks every shell block, and has blocks for every alert and procedure', () => {
    const sections = new Set(blocks.map((b) => b.section));
    for (const s of ['AgentexCircuitOpen', 'AgentexTraceStorageRateHigh', 'AgentexAgentErrorRateHigh', 'AgentexTracesLost', 'AgentexTraceStoreDown', 'AgentexInstanceNotReady']) {
      expect(sections, s).toContain(s);
    }
    for (const s of ['Rotating the API and admin tokens', "Answering a user's deletion request (GDPR)", 'Backing up and restoring the SQLite file', 'Backing up and restoring the Postgres database', 'Moving from SQLite to Postgres', 'Running several instances behind a load balancer']) {
      expect(sections, s).toContain(s);
    }
    expect(() => runbookBlocks('x\n```sh\nrm -rf /\n```\n')).toThrow(/without <!-- runbook-test -->/);
  });

  for (const block of blocks) {
    const name = `${block.section} #${block.index}${block.tags.length ? ` [${block.tags.join(' ')}]` : ''}`;
    const needsPg = block.tags.includes('postgres') || block.tags.includes('instances');
    it.skipIf(needsPg && !PG_URL)(name, async () => {
      let blockEnv = env;
      if (block.tags.includes('rotate-tokens')) {
        const old = svc.tokens;
        await restart(testTokens());
        blockEnv = { ...env, OLD_AGENTEX_TOKEN: old.api, OLD_AGENTEX_ADMIN_TOKEN: old.admin };
      }
      if (block.tags.includes('service-stopped')) await svc.service.close();
      if (needsPg) blockEnv = { ...blockEnv, AGENTEX_DATABASE_URL: pgDatabase!.url };
      if (block.tags.includes('instances')) {
        for (let n = 0; n < 2; n++) {
          instances.push(
            await startService({
              env: {
                AGENTEX_HOST: '127.0.0.1',
                AGENTEX_PORT: '0',
                AGENTEX_DATABASE_URL: pgDatabase!.url,
                ...(REDIS_URL ? { AGENTEX_REDIS_URL: REDIS_URL } : {}),
                AGENTEX_API_TOKEN: svc.tokens.api,
                AGENTEX_ADMIN_TOKEN: svc.tokens.admin,
                AGENTEX_LOG_LEVEL: 'silent',
              },
            }),
          );
        }
        blockEnv = { ...blockEnv, AGENTEX_INSTANCE_URLS: instances.map((i) => i.url).join(' ') };
      }
      const r = await bash(block.script, blockEnv);
      if (block.tags.includes('service-stopped')) await restart();
      if (block.tags.includes('instances')) {
        for (const i of instances) await i.close();
        instances = [];
      }
      expect(r.code, `${name} failed:\n$ ${block.script}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`).toBe(0);
      const expected = EXPECT_OUTPUT[`${block.section}#${block.index}`];
      if (expected) expect(r.stdout, name).toMatch(expected);
    });
  }
});

if (blocks.length === 0) reportSkip('runbook', 'docs/runbook.md has no runbook-test blocks');
