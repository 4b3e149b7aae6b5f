/**
 * Instructions per request of the service benchmark's cases (`serverCases.ts`), counted by callgrind. Requests per
 * second move by tens of percent with this machine's speed within a minute; the instruction count of the server's
 * process does not (±5% run to run), so it is what decides between two versions of a route.
 *
 *   npm run bench:instructions                     every case
 *   npm run bench:instructions -- circuits floor   some of them
 *
 * Needs valgrind (Debian package `valgrind`). For each case: the servers start in a child process under callgrind
 * with instrumentation off; autocannon (a process of its own) sends a warm-up load so that the JIT settles, then
 * instrumentation is switched on for a fixed number of requests. The count covers every thread of the server's
 * process in user space, not the kernel's work (sockets, wake-ups), which `npm run bench -- server` sees.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { table } from './lib.js';
import { autocannon, CASES, startServerCases, type CaseName, type Target } from './serverCases.js';

const run = promisify(execFile);
const self = fileURLToPath(import.meta.url);
const WARMUP = 30_000;
const MEASURED = 10_000;

const isCase = (s: string): s is CaseName => (CASES as readonly string[]).includes(s);

async function serve(name: CaseName): Promise<void> {
  const servers = await startServerCases({ traces: 2000 });
  process.stdout.write(`${JSON.stringify(servers.cases[name])}\n`);
  process.once('SIGTERM', () => void servers.close().then(() => process.exit(0)));
}

async function measure(name: CaseName): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), 'agentex-callgrind-'));
  const child = spawn(
    'valgrind',
    ['--tool=callgrind', '--smc-check=all-non-file', '--instr-atstart=no', `--callgrind-out-file=${path.join(dir, 'out')}`, process.execPath, '--import', 'tsx', self, '--serve', name],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const first = await new Promise<string>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`the server under valgrind exited (${code}) before listening`)));
      createInterface({ input: child.stdout }).once('line', resolve);
    });
    const target = JSON.parse(first) as Target;
    await autocannon(target, { requests: WARMUP });
    await run('callgrind_control', ['-i', 'on', String(child.pid)]);
    await autocannon(target, { requests: MEASURED });
    await run('callgrind_control', ['-i', 'off', String(child.pid)]);
    child.kill('SIGTERM');
    await exited;
    let total = 0;
    for (const file of readdirSync(dir)) {
      for (const m of readFileSync(path.join(dir, file), 'utf8').matchAll(/^totals: (\d+)/gm)) total += Number(m[1]);
    }
    return total / MEASURED;
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

const args = process.argv.slice(2);
if (args[0] === '--serve') {
  const name = args[1] ?? '';
  if (!isCase(name)) throw new Error(`unknown case ${name}`);
  await serve(name);
} else {
  const unknown = args.filter((a) => !isCase(a));
  if (unknown.length > 0) {
    console.error(`unknown case ${unknown.join(', ')}; cases: ${CASES.join(', ')}`);
    process.exit(2);
  }
  try {
    await run('valgrind', ['--version']);
  } catch {
    console.error('valgrind is not installed (Debian: apt-get install -y valgrind)');
    process.exit(2);
  }
  const names = args.length > 0 ? [...new Set(args.filter(isCase))] : [...CASES];
  const counts = new Map<CaseName, number>();
  for (const name of names) {
    counts.set(name, await measure(name));
    console.error(`${name}: ${Math.round(counts.get(name)!)} instructions per request`);
  }
  const bare = counts.get('bare');
  console.log(
    table(
      ['case', 'instructions per request', 'bare / case'],
      names.map((n) => [n, Math.round(counts.get(n)!).toLocaleString('en'), bare ? `${((bare / counts.get(n)!) * 100).toFixed(0)}%` : '']),
    ),
  );
}
