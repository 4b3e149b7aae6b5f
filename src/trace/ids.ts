/**
 * Trace and span ids from a CSPRNG, W3C-compatible: 32 / 16 lowercase hex chars, never all zeros.
 * Random bytes are drawn in blocks (one `randomFillSync` per {@link ID_POOL_BYTES}) and hex-encoded a window of
 * {@link HEX_WINDOW_BYTES} at a time, so an id costs one substring of a ready hex string (~25 ns) instead of a native
 * `toString('hex', ...)` call per id (~200 ns, the largest single cost of a kept span). V8 makes such substrings
 * slices of their window: an id kept alive pins at most its window's 1 KiB string, which is why windows stay small.
 */
import { randomFillSync } from 'node:crypto';

/** Size of the pre-filled random block; refilled when exhausted. */
export const ID_POOL_BYTES = 4096;

/** Random bytes hex-encoded at once; bounds what one retained id can pin (2 × this many chars). */
export const HEX_WINDOW_BYTES = 512;

const pool = Buffer.allocUnsafe(ID_POOL_BYTES);
/** Next unencoded byte of `pool`. */
let offset = ID_POOL_BYTES;
/** The current window, hex-encoded, and the next unused char in it. */
let window = '';
let cursor = 0;

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

function hex(bytes: number): string {
  const chars = bytes * 2;
  if (cursor + chars > window.length) {
    if (offset + HEX_WINDOW_BYTES > ID_POOL_BYTES) {
      randomFillSync(pool);
      offset = 0;
    }
    window = pool.toString('hex', offset, offset + HEX_WINDOW_BYTES);
    offset += HEX_WINDOW_BYTES;
    cursor = 0;
  }
  const out = window.slice(cursor, cursor + chars);
  cursor += chars;
  // An all-zero id is invalid in W3C trace context; the odds are 2^-64 at worst, but never emit one.
  return out === ZERO_TRACE || out === ZERO_SPAN ? hex(bytes) : out;
}

/** A new 32-char lowercase hex trace id (16 random bytes). */
export function newTraceId(): string {
  return hex(16);
}

/** A new 16-char lowercase hex span id (8 random bytes). */
export function newSpanId(): string {
  return hex(8);
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const ALL_ZERO = /^0+$/;

/** True for a valid W3C trace id: 32 lowercase hex chars, not all zeros. */
export function isTraceId(value: unknown): value is string {
  return typeof value === 'string' && TRACE_ID.test(value) && !ALL_ZERO.test(value);
}

/** True for a valid W3C span id: 16 lowercase hex chars, not all zeros. */
export function isSpanId(value: unknown): value is string {
  return typeof value === 'string' && SPAN_ID.test(value) && !ALL_ZERO.test(value);
}

/**
 * The span id of a trace's synthesized root span (the run itself) when the run started its own trace: stable for a
 * trace id (its random right half), so it can be derived again from a stored trace. A run that joined a caller's
 * trace gets a fresh random root span id instead (the caller's own ids may be derived the same way).
 */
export function rootSpanIdOf(traceId: string): string {
  const id = traceId.slice(16);
  return ALL_ZERO.test(id) ? '0000000000000001' : id;
}
