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

/** Creates the service logger. Pass a destination stream in tests to capture lines. */
export function createLogger(level: LoggerOptions['level'] = 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'agentex' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

/** What {@link logRun} writes: an agent run's outcome, never its input or output. */
export interface RunLogEntry {
  traceId: string;
  /** The run's `traceparent`: its flags say whether the trace was kept (`01`) or sampled out (`00`). */
  traceparent?: string | undefined;
  agent: string;
  userId: string | number | null;
  status: string;
  iterations: number;
  durationMs: number;
  usage: { inputTokens: number; outputTokens: number };
  errorCode?: string | undefined;
}

/**
 * One `info` line per agent run, kept by sampling or not (`msg: "agent run"`), so a sampled-out run can still be
 * matched to a user's complaint: trace id, agent, user, status, iterations, duration, token totals and whether the
 * trace was stored. Never the message, the answer or tool data.
 */
export function logRun(logger: Logger, run: RunLogEntry): void {
  logger.info(
    {
      traceId: run.traceId,
      agent: run.agent,
      userId: run.userId,
      status: run.status,
      ...(run.errorCode ? { errorCode: run.errorCode } : {}),
      iterations: run.iterations,
      durationMs: Math.round(run.durationMs),
      inputTokens: run.usage.inputTokens,
      outputTokens: run.usage.outputTokens,
      kept: run.traceparent ? run.traceparent.endsWith('-01') : false,
    },
    'agent run',
  );
}
