/**
 * The built-in `datetime` tool: the current date and time in a requested IANA time zone.
 */
import { z } from 'zod';
import { assertFunction, assertKnownKeys } from '../common/options.js';
import { defineTool, toolError, toolOk } from './types.js';
import type { Tool } from './types.js';

/** What `datetime` returns. */
export interface DateTimeData {
  /** The zone, e.g. `Europe/Paris` (case corrected when ICU knows it). */
  timezone: string;
  /** Local time with offset, e.g. `2025-03-01T14:05:09+01:00`. */
  iso: string;
  date: string;
  time: string;
  weekday: string;
  /** e.g. `+01:00`, `-03:30`, `+00:00`. */
  utcOffset: string;
  unixMs: number;
}

/** Options of {@link datetimeTool}. */
export interface DateTimeToolOptions {
  /** Clock (default `Date.now`), for tests. */
  now?: () => number;
}

const input = z.object({
  timezone: z.string().min(1).max(100).default('UTC').describe('IANA time zone name, e.g. "Europe/Paris" or "America/New_York". Default UTC.'),
});

function resolvedName(resolved: string, requested: string): string {
  return resolved.toLowerCase() === requested.toLowerCase() ? resolved : requested;
}

function formatIn(timeZone: string, ms: number): DateTimeData {
  const fmt = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    weekday: 'long',
    hourCycle: 'h23',
    timeZoneName: 'longOffset',
  });
  const parts: Record<string, string> = {};
  for (const p of fmt.formatToParts(ms)) parts[p.type] = p.value;
  // longOffset renders "GMT+01:00", or plain "GMT" at offset zero.
  const gmt = parts.timeZoneName ?? 'GMT';
  const utcOffset = gmt === 'GMT' ? '+00:00' : gmt.replace('GMT', '');
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const time = `${parts.hour}:${parts.minute}:${parts.second}`;
  return {
    // ICU canonicalizes to legacy names (Asia/Kolkata → Asia/Calcutta); echo the caller's zone unless only its case differs.
    timezone: resolvedName(fmt.resolvedOptions().timeZone, timeZone),
    iso: `${date}T${time}${utcOffset}`,
    date,
    time,
    weekday: parts.weekday ?? '',
    utcOffset,
    unixMs: ms,
  };
}

/**
 * Creates the `datetime` tool. Input `{ timezone = 'UTC' }`; an unknown zone gives an `INVALID_TIMEZONE` error
 * result (not retryable) naming the zone.
 * @throws InvalidOptionsError on bad options.
 */
export function datetimeTool(options: DateTimeToolOptions = {}): Tool<z.infer<typeof input>, DateTimeData> {
  assertKnownKeys('datetimeTool', options, ['now']);
  const now = options.now ?? Date.now;
  assertFunction('datetimeTool', 'now', now);
  return defineTool({
    name: 'datetime',
    description: 'Returns the current date, time, weekday and UTC offset in the given IANA time zone.',
    input,
    execute({ timezone }) {
      try {
        return toolOk(formatIn(timezone, now()));
      } catch (err) {
        if (err instanceof RangeError) {
          return toolError('INVALID_TIMEZONE', `Unknown time zone ${JSON.stringify(timezone)}; use an IANA name such as "Europe/Paris"`);
        }
        throw err;
      }
    },
  });
}
