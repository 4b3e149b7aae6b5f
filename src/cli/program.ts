/**
 * The `agentex` command: `serve` runs the service; the other commands talk to a running service over HTTP
 * (`--url`, `--token`), and the maintenance commands can also work directly on the store (`--direct`).
 * Every failure exits non-zero with one clear line.
 */
import { Command, CommanderError, Option } from 'commander';
import { isAgentexError } from '../common/errors.js';
import type { TracePage, TraceStore } from '../store/TraceStore.js';
import type { TraceRecord } from '../trace/model.js';
import { createClient, type Client } from './client.js';
import { spanTree, traceTable } from './format.js';

const DEFAULT_URL = 'http://127.0.0.1:8787';

interface GlobalOpts {
  url: string;
  token?: string;
}

function client(cmd: Command, admin = false, timeoutMs?: number): Client {
  const opts = cmd.optsWithGlobals<GlobalOpts>();
  const token = opts.token ?? (admin ? process.env.AGENTEX_ADMIN_TOKEN : (process.env.AGENTEX_TOKEN ?? process.env.AGENTEX_API_TOKEN ?? process.env.AGENTEX_ADMIN_TOKEN));
  return createClient({ url: opts.url, token, ...(timeoutMs ? { timeoutMs } : {}) });
}

async function directStore(cmd: Command): Promise<TraceStore> {
  const opts = cmd.optsWithGlobals<{ databaseUrl?: string; sqlitePath?: string }>();
  const { createTraceStore } = await import('../store/createTraceStore.js');
  // Flags win over the environment: `--sqlite-path` must never be overridden by an AGENTEX_DATABASE_URL in the shell.
  const target = opts.databaseUrl ?? opts.sqlitePath ?? process.env.AGENTEX_DATABASE_URL ?? process.env.AGENTEX_SQLITE_PATH;
  return createTraceStore({ databaseUrl: target, purgeIntervalMs: 0 });
}

function print(value: unknown): void {
  process.stdout.write(`${typeof value === 'string' ? value : JSON.stringify(value, null, 2)}\n`);
}

export function buildProgram(): Command {
  const program = new Command('agentex')
    .description('AgentEx: survivable, debuggable LLM agents. Service, traces, circuits.')
    .addOption(new Option('--url <url>', 'URL of a running AgentEx service').env('AGENTEX_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', 'API or admin token (default: AGENTEX_TOKEN / AGENTEX_ADMIN_TOKEN)'))
    .showHelpAfterError()
    .exitOverride();

  program
    .command('serve')
    .description('start the AgentEx service (SQLite by default)')
    .option('--host <host>', 'address to listen on (AGENTEX_HOST, default 127.0.0.1)')
    .option('--port <port>', 'port (AGENTEX_PORT, default 8787)')
    .option('--database-url <url>', 'Postgres URL (AGENTEX_DATABASE_URL); default embedded SQLite')
    .option('--sqlite-path <path>', 'SQLite file (AGENTEX_SQLITE_PATH, default ./data/agentex.db)')
    .option('--redis-url <url>', 'Redis URL for the state cache tier (AGENTEX_REDIS_URL)')
    .option('--trace-ttl-days <days>', 'trace retention (AGENTEX_TRACE_TTL_DAYS, default 7)')
    .option('--sample-rate <rate>', 'share of successful traces kept (AGENTEX_SAMPLE_RATE, default 0.1)')
    .option('--log-level <level>', 'log level (AGENTEX_LOG_LEVEL, default info)')
    .option('--model <name>', 'model name for the agent (AGENTEX_MODEL)')
    .option('--config <file>', 'JSON config file (AGENTEX_CONFIG)')
    .action(async (opts: Record<string, string | undefined>) => {
      const { startService } = await import('../server/service.js');
      const flags: Record<string, string | undefined> = {};
      for (const [key, value] of Object.entries(opts)) if (key !== 'config') flags[`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`] = value;
      await startService({ flags, configFile: opts.config ?? process.env.AGENTEX_CONFIG, handleSignals: true, printBanner: true });
    });

  program
    .command('run')
    .description('run the agent on one message through the service')
    .argument('<message>', 'the user message')
    .option('--user <id>', 'user id (conversation history is kept per user)')
    .option('--agent <name>', 'agent name')
    .option('--json', 'print JSON')
    .action(async (message: string, opts: { user?: string; agent?: string; json?: boolean }, cmd: Command) => {
      const res = await client(cmd, false, 300_000).post<{ output: string; trace_id: string; status: string; iterations: number }>(
        '/api/agent/run',
        { message, ...(opts.user ? { user_id: opts.user } : {}), ...(opts.agent ? { agent: opts.agent } : {}) },
        300_000,
      );
      if (opts.json) return print(res);
      print(res.output);
      print(`\n[${res.status} · ${res.iterations} iterations · trace ${res.trace_id}]`);
      if (res.status !== 'success') process.exitCode = 1;
    });

  const traces = program.command('traces').description('list, show, purge and delete traces');
  traces
    .command('list')
    .description('list traces, newest first')
    .option('--user <id>', 'filter by user id')
    .option('--status <status>', 'running | success | error | timeout')
    .option('--agent <name>', 'filter by agent')
    .option('--since <time>', 'ISO-8601 start time')
    .option('--until <time>', 'ISO-8601 end time')
    .option('--limit <n>', '1..100', '20')
    .option('--cursor <cursor>', 'next page cursor from a previous list')
    .option('--json', 'print JSON')
    .action(async (opts: Record<string, string | boolean | undefined>, cmd: Command) => {
      const q = new URLSearchParams();
      const map: Record<string, string> = { user: 'user_id', status: 'status', agent: 'agent', since: 'since', until: 'until', limit: 'limit', cursor: 'cursor' };
      for (const [k, wire] of Object.entries(map)) if (typeof opts[k] === 'string') q.set(wire, opts[k]);
      const page = await client(cmd).get<TracePage>(`/api/traces?${q.toString()}`);
      if (opts.json) return print(page);
      print(traceTable(page.traces));
      if (page.nextCursor) print(`\nmore: agentex traces list --cursor ${page.nextCursor}`);
    });
  traces
    .command('show')
    .description('show one trace as a span tree with durations and errors')
    .argument('<id>', 'trace id')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { json?: boolean }, cmd: Command) => {
      const trace = await client(cmd).get<TraceRecord>(`/api/traces/${encodeURIComponent(id)}`);
      print(opts.json ? trace : spanTree(trace));
    });
  traces
    .command('purge')
    .description('delete expired traces now (admin)')
    .option('--direct', 'work on the store directly instead of through the service')
    .option('--database-url <url>', 'with --direct: Postgres URL (AGENTEX_DATABASE_URL)')
    .option('--sqlite-path <path>', 'with --direct: SQLite file (AGENTEX_SQLITE_PATH)')
    .action(async (opts: { direct?: boolean }, cmd: Command) => {
      let deleted: number;
      if (opts.direct) {
        const store = await directStore(cmd);
        try {
          deleted = await store.purgeExpired({ onProgress: (n) => process.stderr.write(`\rpurged ${n} traces…`) });
          process.stderr.write('\n');
        } finally {
          await store.close();
        }
      } else {
        process.stderr.write('purging expired traces…\n');
        ({ deleted } = await client(cmd, true, 600_000).post<{ deleted: number }>('/api/traces/purge', {}, 600_000));
      }
      print(`deleted ${deleted} expired traces`);
    });
  traces
    .command('delete-user')
    .description("delete every trace of a user (GDPR erasure; admin)")
    .argument('<userId>', 'user id')
    .option('--direct', 'work on the store directly instead of through the service')
    .option('--database-url <url>', 'with --direct: Postgres URL (AGENTEX_DATABASE_URL)')
    .option('--sqlite-path <path>', 'with --direct: SQLite file (AGENTEX_SQLITE_PATH)')
    .action(async (userId: string, opts: { direct?: boolean }, cmd: Command) => {
      process.stderr.write(`deleting traces of user ${userId}…\n`);
      let deleted: number;
      if (opts.direct) {
        const store = await directStore(cmd);
        try {
          deleted = await store.deleteByUser(userId);
        } finally {
          await store.close();
        }
      } else {
        ({ deleted } = await client(cmd, true, 600_000).delete<{ deleted: number }>(`/api/users/${encodeURIComponent(userId)}/traces`));
      }
      print(`deleted ${deleted} traces of user ${userId}`);
    });

  const circuits = program.command('circuits').description('show or reset circuit breakers');
  const listCircuits = async (opts: { json?: boolean }, cmd: Command) => {
    const { circuits: list } = await client(cmd).get<{ circuits: { name: string; state: string; [k: string]: unknown }[] }>('/api/circuits');
    if (opts.json) return print(list);
    if (list.length === 0) return print('no circuits yet');
    for (const c of list) print(`${c.name.padEnd(24)} ${c.state}`);
  };
  circuits.command('list', { isDefault: true }).description('every circuit and its state').option('--json', 'print JSON').action(listCircuits);
  circuits
    .command('reset')
    .description('reset one circuit (or all) to closed (admin)')
    .argument('[name]', 'circuit name; all circuits when omitted')
    .action(async (name: string | undefined, _opts: unknown, cmd: Command) => {
      const c = client(cmd, true);
      if (name) await c.post(`/api/circuits/${encodeURIComponent(name)}/reset`);
      else await c.post('/api/circuits/reset');
      print(name ? `circuit ${name} reset to closed` : 'all circuits reset to closed');
    });

  program
    .command('demo')
    .description('run a scripted session against local emulators (no API keys needed): an Exa outage and its recovery')
    .option('--sqlite-path <path>', 'SQLite file for the demo traces (default ./data/agentex.db)')
    .action(async (opts: { sqlitePath?: string }) => {
      const { runDemo } = await import('./demo.js');
      await runDemo({ sqlitePath: opts.sqlitePath ?? process.env.AGENTEX_SQLITE_PATH, out: (line: string) => print(line) });
    });

  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const message = isAgentexError(err) || err instanceof Error ? err.message : String(err);
    process.stderr.write(`agentex: ${message}\n`);
    return 1;
  }
}
