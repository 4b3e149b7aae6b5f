/**
 * Size bounds for traces: every cap is a named constant, configurable through `createTracer({ bounds })`, and every
 * cut is visible — strings keep a `…[truncated N chars]` marker, dropped spans are counted in `droppedSpans`, and the
 * trace is flagged `truncated`. A large trace is cut down, never dropped whole.
 */
import { assertKnownKeys, assertNumber } from '../common/options.js';

/** Spans recorded per trace; later spans are counted in `droppedSpans` and not recorded. */
export const DEFAULT_MAX_SPANS = 1000;
/** Characters kept of each string value in a span's input (each leaf, after redaction). */
export const DEFAULT_MAX_INPUT_CHARS = 100;
/** Characters kept of each string value in a tool span's output. */
export const DEFAULT_MAX_TOOL_OUTPUT_CHARS = 500;
/** Characters kept of each string value in other spans' output (model replies, retrievals). */
export const DEFAULT_MAX_OUTPUT_CHARS = 1000;
/** Characters kept of the trace's final output. */
export const DEFAULT_MAX_FINAL_OUTPUT_CHARS = 1000;
/** Characters kept of a string attribute or metadata value. */
export const DEFAULT_MAX_ATTRIBUTE_CHARS = 500;
/** Characters kept of an error message. */
export const DEFAULT_MAX_ERROR_CHARS = 500;
/** Attributes kept per span; later keys are counted in the `agentex.dropped_attributes` attribute. */
export const DEFAULT_MAX_ATTRIBUTES = 64;
/** Serialized size cap per trace (UTF-8 bytes of its JSON): inputs, outputs, then attributes are cut to fit. */
export const DEFAULT_MAX_TRACE_BYTES = 256 * 1024;
/** Nesting depth rendered inside an input/output value. */
export const DEFAULT_MAX_DEPTH = 8;
/** Array items / object keys rendered per level of an input/output value. */
export const DEFAULT_MAX_ITEMS = 100;
/** Nodes rendered per input/output value in total, whatever its shape (bounds the work, not only the size). */
export const MAX_NODES_PER_VALUE = 2000;
/** Span and trace names, and attribute, metadata and object keys, are cut to this many characters. */
export const MAX_NAME_CHARS = 200;
/**
 * Keys are captured up to this many characters — looser than {@link MAX_NAME_CHARS}, as values are — so that the
 * redaction check sees the whole key (`<long prefix>.password`) before it is cut to its final length.
 */
export const MAX_KEY_CAPTURE_CHARS = 1024;
/** A cut key keeps this many of its last characters, so a suffix such as `.password` still decides its redaction. */
export const KEY_TAIL_CHARS = 48;

/** The configurable bounds; see the `DEFAULT_*` constants for each default. */
export interface TraceBounds {
  maxSpans: number;
  maxInputChars: number;
  maxToolOutputChars: number;
  maxOutputChars: number;
  maxFinalOutputChars: number;
  maxAttributeChars: number;
  maxErrorChars: number;
  maxAttributes: number;
  maxTraceBytes: number;
  maxDepth: number;
  maxItems: number;
}

export const DEFAULT_BOUNDS: Readonly<TraceBounds> = Object.freeze({
  maxSpans: DEFAULT_MAX_SPANS,
  maxInputChars: DEFAULT_MAX_INPUT_CHARS,
  maxToolOutputChars: DEFAULT_MAX_TOOL_OUTPUT_CHARS,
  maxOutputChars: DEFAULT_MAX_OUTPUT_CHARS,
  maxFinalOutputChars: DEFAULT_MAX_FINAL_OUTPUT_CHARS,
  maxAttributeChars: DEFAULT_MAX_ATTRIBUTE_CHARS,
  maxErrorChars: DEFAULT_MAX_ERROR_CHARS,
  maxAttributes: DEFAULT_MAX_ATTRIBUTES,
  maxTraceBytes: DEFAULT_MAX_TRACE_BYTES,
  maxDepth: DEFAULT_MAX_DEPTH,
  maxItems: DEFAULT_MAX_ITEMS,
});

const MINIMUMS: Record<keyof TraceBounds, number> = {
  maxSpans: 1,
  maxInputChars: 1,
  maxToolOutputChars: 1,
  maxOutputChars: 1,
  maxFinalOutputChars: 1,
  maxAttributeChars: 1,
  maxErrorChars: 1,
  maxAttributes: 1,
  maxTraceBytes: 4096,
  maxDepth: 1,
  maxItems: 1,
};

/**
 * Merges `bounds` over {@link DEFAULT_BOUNDS}.
 * @throws InvalidOptionsError naming the option for an unknown key or a value that is not an integer ≥ its minimum
 *   (1, or 4096 for `maxTraceBytes`).
 */
export function resolveBounds(bounds: Partial<TraceBounds> | undefined, where = 'tracer.bounds'): TraceBounds {
  assertKnownKeys(where, bounds, Object.keys(DEFAULT_BOUNDS));
  const out: TraceBounds = { ...DEFAULT_BOUNDS };
  if (!bounds) return out;
  for (const key of Object.keys(bounds) as (keyof TraceBounds)[]) {
    if (bounds[key] === undefined) continue;
    out[key] = assertNumber(where, key, bounds[key], { integer: true, min: MINIMUMS[key], max: 2 ** 31 - 1 });
  }
  return out;
}

const MARKER_TAIL = /…\[truncated (\d+) chars\]$/;

/** The marker appended where a string was cut. */
export function truncationMarker(cutChars: number): string {
  return `…[truncated ${cutChars} chars]`;
}

function isTokenChar(code: number): boolean {
  return (
    (code >= 48 && code <= 57) || // 0-9
    (code >= 65 && code <= 90) || // A-Z
    (code >= 97 && code <= 122) || // a-z
    code === 45 || code === 95 || code === 43 || code === 47 || code === 61 || code === 46 || code === 126 || code === 37
  );
}

/**
 * Cuts `text` to at most `max` characters of content plus a marker saying how many were cut. A marker already at the
 * end (from an earlier, coarser cut) is merged so the count stays the total. When the cut falls inside a token-like
 * run (letters, digits, `-_+/=.~%`), the partial run is removed too: half a secret must never survive a cut and then
 * escape the redaction patterns, which need the whole shape. Never splits a surrogate pair.
 */
export function truncateText(text: string, max: number): string {
  if (text.length <= max) return text;
  let base = text;
  let prior = 0;
  if (text.charCodeAt(text.length - 1) === 93 /* ] */) {
    const m = MARKER_TAIL.exec(text);
    if (m) {
      base = text.slice(0, m.index);
      prior = Number(m[1]);
      if (base.length <= max) return text;
    }
  }
  let end = max;
  if (isTokenChar(base.charCodeAt(end)) && end > 0 && isTokenChar(base.charCodeAt(end - 1))) {
    while (end > 0 && isTokenChar(base.charCodeAt(end - 1))) end--;
  }
  const last = base.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end--;
  return base.slice(0, end) + truncationMarker(base.length - end + prior);
}

/**
 * Cuts a key longer than `max` (≥ 120) to its head, a marker and its last {@link KEY_TAIL_CHARS} characters:
 * `aaaa…[truncated 812 chars]…db.password`. The tail is what suffix-based key redaction reads, so cutting never
 * turns a sensitive key into an ordinary one. Never splits a surrogate pair.
 */
export function cutKey(key: string, max: number): string {
  if (key.length <= max) return key;
  let tailStart = key.length - KEY_TAIL_CHARS;
  const first = key.charCodeAt(tailStart);
  if (first >= 0xdc00 && first <= 0xdfff) tailStart++;
  let headEnd = Math.max(0, max - KEY_TAIL_CHARS - `…[truncated ${key.length} chars]…`.length);
  const last = key.charCodeAt(headEnd - 1);
  if (headEnd > 0 && last >= 0xd800 && last <= 0xdbff) headEnd--;
  return `${key.slice(0, headEnd)}…[truncated ${tailStart - headEnd} chars]…${key.slice(tailStart)}`;
}
