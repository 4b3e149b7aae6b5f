/**
 * Structured JSON logs (pino). Authorization headers, cookies, tokens and bodies are censored by path, and every
 * string that reaches a log line can additionally pass through the trace redactor by the caller. Request logs carry
 * method, route, status, duration, request id and trace id — never raw bodies.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';

export type { Logger };

export const LOG_REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'token',
  'apiToken',
  'adminToken',
  'config.apiToken',
  'config.adminToken',
  'config.databaseUrl',
  'config.redisUrl',
  '*.apiKey',
  '*.password',
];

let lastSecond = -1;
let secondPrefix = '';
/**
 * pino timestamp: ISO 8601 like `pino.stdTimeFunctions.isoTime`, with the date and time up to the second formatted
 * once per second — `toISOString()` on every line was a third of the cost of a request log line.
 */
export function isoTime(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== lastSecond) {
    lastSecond = second;
    secondPrefix = `,"time":"${new Date(second * 1000).toISOString().slice(0, 20)}`;
  }
  const ms = now - second * 1000;
  return `${secondPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z"`;
}

/** Creates the service logger. Pass a destination stream in tests to capture lines. */
export function createLogger(level: LoggerOptions['level'] = 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'agentex' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** One access-log entry: only fields the request middleware controls (never paths, queries, headers or bodies). */
export interface AccessEntry {
  requestId: string;
  method: string;
  /** The matched route pattern (`/api/traces/:id`), not the path the client sent. */
  route: string;
  status: number;
  ms: number;
}

export type AccessLog = (entry: AccessEntry) => void;

const LEVEL_INFO = 30;
const LEVEL_ERROR = 50;

/**
 * The request log: one line per request, `error` for 5xx and `info` otherwise, in the logger's own line format and
 * written to its own destination. A line is rendered with one template instead of pino's generic path (key
 * redaction, per-key serialisation), which cost as much as the rest of a small request: its fields are known, carry
 * no secrets, and are JSON-encoded here. A logger whose internals are not pino's gets the generic path.
 */
export function createAccessLog(logger: Logger): AccessLog {
  const internals = logger as unknown as Record<symbol, unknown>;
  const stream = internals[pino.symbols.streamSym] as { write(line: string): unknown } | undefined;
  const time = internals[pino.symbols.timeSym] as (() => string) | undefined;
  const chindings = internals[pino.symbols.chindingsSym];
  const messageKey = internals[pino.symbols.messageKeySym];
  if (typeof stream?.write !== 'function' || typeof time !== 'function' || typeof chindings !== 'string' || messageKey !== 'msg') {
    return (e) => logger[e.status >= 500 ? 'error' : 'info']({ requestId: e.requestId, method: e.method, route: e.route, status: e.status, ms: e.ms }, 'request');
  }
  const quoted = new Map<string, string>();
  const quote = (s: string): string => {
    let q = quoted.get(s);
    if (q === undefined) {
      q = JSON.stringify(s);
      if (quoted.size < 1000) quoted.set(s, q);
    }
    return q;
  };
  return (e) => {
    const level = e.status >= 500 ? LEVEL_ERROR : LEVEL_INFO;
    if (level < logger.levelVal) return;
    stream.write(
      `{"level":${level}${time()}${chindings},"requestId":${JSON.stringify(e.requestId)},"method":${quote(e.method)},"route":${quote(e.route)},"status":${e.status},"ms":${e.ms},"msg":"request"}\n`,
    );
  };
}
