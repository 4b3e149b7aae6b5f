/**
 * Structured JSON logs (pino). Authorization headers, cookies, tokens and bodies are censored by path; given a
 * redactor (the service passes one built from the same rules as its traces, configured keys and patterns included),
 * every logged object is redacted by key and shape, and the message text by shape.
 * Request logs carry method, route, status, duration, request id and trace id — never raw bodies.
 */
import { pino, type Logger, type LoggerOptions, type DestinationStream } from 'pino';
import type { Redactor } from '../trace/index.js';

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

/**
 * Creates the service logger. Pass a destination stream in tests to capture lines, and a redactor to apply its rules
 * to every line (pino's `formatters.log` for logged objects, `hooks.logMethod` for the message).
 */
export function createLogger(level: LoggerOptions['level'] = 'info', destination?: DestinationStream, redactor?: Redactor): Logger {
  const options: LoggerOptions = {
    level,
    base: { service: 'agentex' },
    redact: { paths: LOG_REDACT_PATHS, censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(redactor
      ? {
          formatters: {
            // Child bindings do not pass through here (pino resets the bindings formatter for children): bind only
            // fields our code controls, and log anything from outside as the logged object.
            log: (object: Record<string, unknown>) => redactor.redact(object) as Record<string, unknown>,
          },
          // The message and its interpolation arguments; the finished line is not rewritten (a rule could break its JSON).
          hooks: {
            logMethod(this: Logger, args: Parameters<Logger['info']>, method: (...a: unknown[]) => void) {
              method.apply(this, args.map((a: unknown) => (typeof a === 'string' ? redactor.redactString(a) : a)));
            },
          },
        }
      : {}),
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
