/**
 * The service configuration: one object, validated once at start. Every setting has an environment variable,
 * most have a command-line flag, and all can come from an optional JSON config file. Precedence:
 * flag > environment > config file > default. A bad value stops the service with one line naming the setting.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { AgentexError } from '../common/errors.js';
import { MAX_TOKEN_BYTES } from './auth.js';
import { regexSafety } from '../trace/safeRegex.js';
import type { RedactorOptions } from '../trace/index.js';

/** A configuration value was invalid; `setting` names the environment variable (or flag) that was wrong. */
export class ConfigError extends AgentexError {
  readonly code = 'CONFIG';
  readonly fault = 'caller';

  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(message);
  }
}

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();
const fraction = z.coerce.number().min(0).max(1);
const url = (protocols: readonly string[]) =>
  z.string().refine((v) => {
    try {
      return protocols.includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, `must be a URL starting with ${protocols.join(' or ')}//`);
const token = z.string().min(16, 'must be at least 16 characters').max(MAX_TOKEN_BYTES).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

/** Most extra redaction keys / patterns accepted, and the longest of each: they run on every string of every trace. */
export const MAX_REDACT_KEYS = 100;
export const MAX_REDACT_PATTERNS = 50;
export const MAX_REDACT_PATTERN_CHARS = 500;

const redactKeyList = z.preprocess(
  (v) => (typeof v === 'string' ? v.split(',').map((k) => k.trim()).filter((k) => k !== '') : v),
  z.array(z.string().trim().min(1, 'must not hold an empty key').max(100, 'must hold keys of at most 100 characters')).max(MAX_REDACT_KEYS, `must hold at most ${MAX_REDACT_KEYS} keys`),
);
/** A JSON array of sources, or one source (a pattern may hold commas, so there is no comma-separated form). */
function patternSources(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  if (v.trimStart().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(v);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // Not JSON: a single pattern that starts with a character class.
    }
  }
  return [v];
}
const redactPatternList = z.preprocess(
  patternSources,
  z
    .array(z.string().max(MAX_REDACT_PATTERN_CHARS, `must hold patterns of at most ${MAX_REDACT_PATTERN_CHARS} characters`), 'must be a regular expression source or an array of them')
    .max(MAX_REDACT_PATTERNS, `must hold at most ${MAX_REDACT_PATTERNS} patterns`)
    .superRefine((sources, ctx) => {
      for (let i = 0; i < sources.length; i++) {
        const verdict = regexSafety(sources[i]!);
        if (!verdict.ok) {
          ctx.addIssue({ code: 'custom', message: `pattern ${i + 1} ${JSON.stringify(sources[i])} is refused: ${verdict.reason}` });
          return;
        }
      }
    }),
);

interface SettingDef<T> {
  env: string;
  flag?: string;
  schema: z.ZodType<T>;
  default?: T;
  /** Never printed, never logged. */
  secret?: boolean;
  description: string;
}

function setting<T>(def: SettingDef<T>): SettingDef<T> {
  return def;
}

/** OTLP ingest requests per minute per client when not configured (a SimpleSpanProcessor sends one per span). */
export const DEFAULT_INGEST_RATE_LIMIT = 6000;

/** HTTP header names (RFC 9110 tokens). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Most headers accepted in `AGENTEX_OTLP_HEADERS`. */
export const MAX_OTLP_HEADERS = 32;

/**
 * `k=v,k2=v2` (as OTEL_EXPORTER_OTLP_HEADERS; values may be percent-encoded) into a header object. Errors name the
 * pair by position and the header by name, never a value (values are credentials).
 */
export function parseHeaderList(text: string): { ok: true; headers: Record<string, string> } | { ok: false; error: string } {
  const headers: Record<string, string> = {};
  const pairs = text.split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (pairs.length > MAX_OTLP_HEADERS) return { ok: false, error: `at most ${MAX_OTLP_HEADERS} headers` };
  for (const [i, pair] of pairs.entries()) {
    const eq = pair.indexOf('=');
    const name = eq < 0 ? pair : pair.slice(0, eq).trim();
    if (eq < 0) return { ok: false, error: `pair ${i + 1} has no "=" (expected name=value)` };
    if (!HEADER_NAME.test(name)) return { ok: false, error: `pair ${i + 1} has an invalid header name` };
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      return { ok: false, error: `the value of header ${name} is not valid percent-encoding` };
    }
    if (/[\r\n\0]/.test(value)) return { ok: false, error: `the value of header ${name} contains a line break or NUL` };
    headers[name.toLowerCase()] = value;
  }
  return { ok: true, headers };
}

const headerList = z.string().transform((text, ctx) => {
  const parsed = parseHeaderList(text);
  if (parsed.ok) return parsed.headers;
  ctx.addIssue({ code: 'custom', message: parsed.error });
  return z.NEVER;
});

/** Every setting, in the order of the README's configuration table. */
export const SETTINGS = {
  host: setting({ env: 'AGENTEX_HOST', flag: '--host', schema: z.string().min(1), default: '127.0.0.1', description: 'Address to listen on' }),
  port: setting({ env: 'AGENTEX_PORT', flag: '--port', schema: port, default: 8787, description: 'Port to listen on (0 = any free port)' }),
  databaseUrl: setting({
    env: 'AGENTEX_DATABASE_URL',
    flag: '--database-url',
    schema: url(['postgres:', 'postgresql:']).optional(),
    secret: true,
    description: 'Postgres URL for traces and state; unset = embedded SQLite',
  }),
  sqlitePath: setting({ env: 'AGENTEX_SQLITE_PATH', flag: '--sqlite-path', schema: z.string().min(1), default: './data/agentex.db', description: 'SQLite file used when no database URL is set' }),
  redisUrl: setting({ env: 'AGENTEX_REDIS_URL', flag: '--redis-url', schema: url(['redis:', 'rediss:']).optional(), secret: true, description: 'Redis URL for the state cache tier (L2) and the rate limits shared by all instances; unset = the database, and rate limits per instance' }),
  apiToken: setting({ env: 'AGENTEX_API_TOKEN', schema: token.optional(), secret: true, description: 'Bearer token for reads and ingest; unset = generated and printed once at start' }),
  adminToken: setting({ env: 'AGENTEX_ADMIN_TOKEN', schema: token.optional(), secret: true, description: 'Bearer token for resets and deletions; unset = generated and printed once at start' }),
  traceTtlDays: setting({ env: 'AGENTEX_TRACE_TTL_DAYS', flag: '--trace-ttl-days', schema: z.coerce.number().positive().max(3650), default: 7, description: 'How long traces are kept' }),
  sampleRate: setting({ env: 'AGENTEX_SAMPLE_RATE', flag: '--sample-rate', schema: fraction, default: 0.1, description: 'Share of successful traces kept (errors and timeouts are always kept)' }),
  slowTraceMs: setting({ env: 'AGENTEX_SLOW_TRACE_MS', schema: positiveInt, default: 10_000, description: 'Traces slower than this are always kept' }),
  labelPrefix: setting({ env: 'AGENTEX_LABEL_PREFIX', schema: z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'must be UPPER_SNAKE_CASE'), default: 'AGENTEX_LABEL_', description: 'Environment variables with this prefix become deployment labels on every trace' }),
  redactKeys: setting({
    env: 'AGENTEX_REDACT_KEYS',
    schema: redactKeyList,
    default: [],
    description: 'Extra keys whose values are redacted in traces (own and ingested), logs and exports: comma-separated names, matched ignoring case and `-_.`',
  }),
  redactPatterns: setting({
    env: 'AGENTEX_REDACT_PATTERNS',
    schema: redactPatternList,
    default: [],
    description: 'Extra value patterns redacted everywhere keys are: a JSON array of regular expression sources (or one source); patterns that can backtrack catastrophically are refused',
  }),
  otlpEndpoint: setting({
    env: 'AGENTEX_OTLP_ENDPOINT',
    schema: url(['http:', 'https:']).optional(),
    secret: true,
    description: "Forward the service's own kept traces to this OTLP/HTTP collector (JSON), e.g. `http://collector:4318` (`/v1/traces` is appended to a URL without a path); unset = store only",
  }),
  otlpHeaders: setting({
    env: 'AGENTEX_OTLP_HEADERS',
    schema: headerList.optional(),
    secret: true,
    description: 'Headers sent with forwarded traces, as `name=value,name2=value2` (values may be percent-encoded); never logged',
  }),
  logLevel: setting({ env: 'AGENTEX_LOG_LEVEL', flag: '--log-level', schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), default: 'info', description: 'Log level (JSON logs on stdout)' }),
  rateLimit: setting({ env: 'AGENTEX_RATE_LIMIT', schema: positiveInt, default: 600, description: 'API requests per minute per client (token and address, or dashboard session and address; no valid token: address)' }),
  adminRateLimit: setting({ env: 'AGENTEX_ADMIN_RATE_LIMIT', schema: positiveInt, default: 30, description: 'Admin requests per minute per client' }),
  ingestRateLimit: setting({ env: 'AGENTEX_INGEST_RATE_LIMIT', schema: positiveInt, default: DEFAULT_INGEST_RATE_LIMIT, description: 'OTLP ingest requests (`POST /v1/traces`) per minute per client, counted apart from the API' }),
  maxConcurrentRuns: setting({ env: 'AGENTEX_MAX_CONCURRENT_RUNS', schema: positiveInt, default: 32, description: 'Agent runs at once per instance; beyond it `POST /api/agent/run` answers 503 with Retry-After' }),
  maxConcurrentRunsPerUser: setting({ env: 'AGENTEX_MAX_CONCURRENT_RUNS_PER_USER', schema: positiveInt, default: 4, description: 'Agent runs at once per `user_id` per instance; beyond it 429 with Retry-After' }),
  metricsToken: setting({ env: 'AGENTEX_METRICS_TOKEN', schema: token.optional(), secret: true, description: 'Bearer token `/metrics` requires; unset = `/metrics` is open to anyone who reaches the port' }),
  bodyLimitBytes: setting({ env: 'AGENTEX_BODY_LIMIT_BYTES', schema: positiveInt, default: 5 * 1024 * 1024, description: 'Largest accepted request body (413 above)' }),
  requestTimeoutMs: setting({ env: 'AGENTEX_REQUEST_TIMEOUT_MS', schema: positiveInt, default: 120_000, description: 'Longest a request may run (agent runs included)' }),
  shutdownGraceMs: setting({ env: 'AGENTEX_SHUTDOWN_GRACE_MS', schema: z.coerce.number().int().min(0).max(600_000), default: 5_000, description: 'On SIGTERM, how long `/ready` answers 503 (and new requests are still served) before the service stops accepting; SIGINT skips it' }),
  shutdownTimeoutMs: setting({ env: 'AGENTEX_SHUTDOWN_TIMEOUT_MS', schema: positiveInt, default: 10_000, description: 'How long shutdown waits for in-flight requests (agent runs still running then are cancelled with 503) and the trace queue' }),
  ingestSettleMs: setting({
    env: 'AGENTEX_INGEST_SETTLE_MS',
    schema: z.coerce.number().int().min(0).max(3_600_000),
    default: 2000,
    description: 'OTLP ingest: a trace whose root span has arrived is assembled after this much quiet (no new span)',
  }),
  ingestAssemblyWindowMs: setting({
    env: 'AGENTEX_INGEST_ASSEMBLY_WINDOW_MS',
    schema: z.coerce.number().int().min(1000).max(86_400_000),
    default: 60_000,
    description: 'OTLP ingest: a trace is assembled at the latest this long after its first span arrived (flagged partial without a root span)',
  }),
  ingestMaxPendingSpans: setting({
    env: 'AGENTEX_INGEST_MAX_PENDING_SPANS',
    schema: positiveInt,
    default: 200_000,
    description: 'OTLP ingest: most spans waiting for assembly across all instances; past it requests get 503 with Retry-After',
  }),
  ingestMaxPendingTraces: setting({
    env: 'AGENTEX_INGEST_MAX_PENDING_TRACES',
    schema: positiveInt,
    default: 20_000,
    description: 'OTLP ingest: most traces waiting for assembly across all instances; past it requests get 503 with Retry-After',
  }),
  circuitKeyPrefix: setting({
    env: 'AGENTEX_CIRCUIT_KEY_PREFIX',
    schema: z.string().min(1).max(200),
    default: 'agentex:circuits:',
    description: 'Redis key and channel prefix of the shared circuit state (several deployments on one Redis each need their own)',
  }),
  corsOrigins: setting({ env: 'AGENTEX_CORS_ORIGINS', schema: z.string(), default: '', description: 'Comma-separated origins allowed by CORS; empty = CORS off' }),
  model: setting({ env: 'AGENTEX_MODEL', flag: '--model', schema: z.string().min(1).optional(), description: 'Model name for the agent (default per provider)' }),
  anthropicApiKey: setting({ env: 'ANTHROPIC_API_KEY', schema: z.string().min(1).optional(), secret: true, description: 'Anthropic API key (enables the Anthropic provider)' }),
  anthropicBaseUrl: setting({ env: 'ANTHROPIC_BASE_URL', schema: url(['http:', 'https:']), default: 'https://api.anthropic.com', description: 'Anthropic API base URL' }),
  openaiApiKey: setting({ env: 'OPENAI_API_KEY', schema: z.string().min(1).optional(), secret: true, description: 'OpenAI (or compatible) API key' }),
  openaiBaseUrl: setting({ env: 'OPENAI_BASE_URL', schema: url(['http:', 'https:']), default: 'https://api.openai.com/v1', description: 'OpenAI-compatible base URL (Ollama, vLLM, llama.cpp...)' }),
  exaApiKey: setting({ env: 'EXA_API_KEY', schema: z.string().min(1).optional(), secret: true, description: 'Exa search API key' }),
  exaBaseUrl: setting({ env: 'EXA_BASE_URL', schema: url(['http:', 'https:']), default: 'https://api.exa.ai', description: 'Exa API base URL' }),
  tavilyApiKey: setting({ env: 'TAVILY_API_KEY', schema: z.string().min(1).optional(), secret: true, description: 'Tavily search API key' }),
  tavilyBaseUrl: setting({ env: 'TAVILY_BASE_URL', schema: url(['http:', 'https:']), default: 'https://api.tavily.com', description: 'Tavily API base URL' }),
} as const;

type Settings = typeof SETTINGS;
/** The validated configuration. */
export type Config = { [K in keyof Settings]: Settings[K] extends SettingDef<infer T> ? T : never };

export interface LoadConfigInput {
  env?: Record<string, string | undefined>;
  /** Flag values by flag name (`--port` → '8080'), as parsed by the CLI. */
  flags?: Record<string, string | undefined>;
  /** Path of a JSON file whose keys are setting names (`port`) or environment variable names (`AGENTEX_PORT`). */
  configFile?: string;
}

/**
 * Loads and validates the configuration.
 * @throws ConfigError naming the first invalid setting (its env var or flag), never echoing a secret value.
 */
export function loadConfig({ env = process.env, flags = {}, configFile }: LoadConfigInput = {}): Config {
  const fileValues = configFile ? readConfigFile(configFile) : {};
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(SETTINGS) as [string, SettingDef<unknown>][]) {
    let source = def.env;
    let raw: unknown = undefined;
    if (def.flag && flags[def.flag] !== undefined) {
      raw = flags[def.flag];
      source = def.flag;
    } else if (env[def.env] !== undefined && env[def.env] !== '') {
      raw = env[def.env];
    } else if (fileValues[key] !== undefined || fileValues[def.env] !== undefined) {
      raw = fileValues[key] ?? fileValues[def.env];
      source = `${configFile}: ${key}`;
    }
    if (raw === undefined) {
      out[key] = def.default;
      continue;
    }
    const parsed = def.schema.safeParse(raw);
    if (!parsed.success) {
      const reason = parsed.error.issues[0]?.message ?? 'invalid value';
      const shown = def.secret ? '' : ` (got ${JSON.stringify(raw)})`;
      throw new ConfigError(source, `Invalid ${source}: ${reason}${shown}`);
    }
    out[key] = parsed.data;
  }
  const config = out as Config;
  if (config.apiToken && config.adminToken && config.apiToken === config.adminToken) {
    throw new ConfigError('AGENTEX_ADMIN_TOKEN', 'Invalid AGENTEX_ADMIN_TOKEN: must differ from AGENTEX_API_TOKEN');
  }
  return config;
}

function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('--config', `Cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ConfigError('--config', `Config file ${path} is not valid JSON`);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError('--config', `Config file ${path} must hold a JSON object`);
  }
  const known = new Set(Object.entries(SETTINGS).flatMap(([k, d]) => [k, d.env]));
  for (const key of Object.keys(data)) {
    if (!known.has(key)) throw new ConfigError('--config', `Unknown setting "${key}" in config file ${path}`);
  }
  return data as Record<string, unknown>;
}

/** The README's configuration table, generated from {@link SETTINGS} so the two cannot disagree. */
export function configurationTable(): string {
  const rows = Object.values(SETTINGS).map((d: SettingDef<unknown>) => {
    const def = d.default === undefined ? '—' : `\`${JSON.stringify(d.default).replace(/^"|"$/g, '')}\``;
    return `| \`${d.env}\` | ${d.flag ? `\`${d.flag}\`` : ''} | ${def} | ${d.description} |`;
  });
  return ['| Environment variable | Flag | Default | Meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/**
 * The redaction options of the configured extra keys and patterns, for the tracer and the logger alike. Pattern `n`
 * replaces its matches with `[REDACTED:custom_n]`.
 */
export function redactionOptions(config: Pick<Config, 'redactKeys' | 'redactPatterns'>): RedactorOptions {
  return {
    keys: config.redactKeys,
    patterns: config.redactPatterns.map((source, i) => ({ name: `custom_${i + 1}`, pattern: new RegExp(source, 'g') })),
  };
}
