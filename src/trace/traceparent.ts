/**
 * W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header): parsing a caller's
 * header strictly, and writing ours. A header that does not parse is ignored (the spec's rule: start a new trace),
 * never half-used.
 */
import { isSpanId, isTraceId } from './ids.js';

/** A caller's trace context: the trace to join and the span that is the parent of ours. */
export interface TraceParent {
  traceId: string;
  /** The caller's span id: the parent of the run's root span. */
  parentSpanId: string;
  /** The caller's `sampled` flag (informational: AgentEx still decides by tail sampling). */
  sampled: boolean;
}

/** Longest header looked at; version 00 is 55 chars, later versions may append fields. */
export const MAX_TRACEPARENT_CHARS = 512;

const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const FUTURE = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-|$)/;

/**
 * Parses a `traceparent` header value. Returns null for anything the spec says to ignore: not a string, longer than
 * {@link MAX_TRACEPARENT_CHARS}, uppercase hex, version `ff`, version `00` with extra fields, an all-zero trace or
 * span id. A later version (01–fe) is read by its first four fields, as the spec asks.
 * @example parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')
 */
export function parseTraceparent(value: unknown): TraceParent | null {
  if (typeof value !== 'string' || value.length > MAX_TRACEPARENT_CHARS) return null;
  const header = value.trim();
  let traceId: string;
  let spanId: string;
  let flags: string;
  const v0 = VERSION_00.exec(header);
  if (v0) {
    [, traceId, spanId, flags] = v0 as unknown as [string, string, string, string];
  } else {
    const later = FUTURE.exec(header);
    if (!later || later[1] === '00' || later[1] === 'ff') return null;
    [, , traceId, spanId, flags] = later as unknown as [string, string, string, string, string];
  }
  if (!isTraceId(traceId) || !isSpanId(spanId)) return null;
  return { traceId, parentSpanId: spanId, sampled: (parseInt(flags, 16) & 1) === 1 };
}

/** Formats a version-00 `traceparent`; `sampled` sets the flags to `01`, else `00`. */
export function formatTraceparent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}
