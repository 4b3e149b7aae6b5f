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
