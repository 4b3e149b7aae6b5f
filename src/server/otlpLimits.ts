/**
 * Bounded OTLP decoding. Before a body is materialised (JSON.parse, protobufjs decode) a linear pre-scan walks it
 * once, counting what decoding would create — resource spans, spans, attributes per list, array values, events,
 * nesting depth and messages in all — and refuses the body as soon as a count passes its limit. So a small body
 * cannot make the service build millions of objects (5 MB of protobuf is 2.5 million empty spans) or hold the event
 * loop for seconds: the scan allocates nothing per element and stops at the first limit passed.
 */
import protobuf from 'protobufjs';
import { ValidationError } from '../common/errors.js';
import type { AttributeValue } from '../trace/model.js';
import { OtlpSpanMapper, otlpJsonSpans, resourceAttributes, type DecodedOtlp, type RawOtlpSpan } from './otlpIngest.js';
import { protobufSpans } from './otlpProto.js';

/** Limits applied while scanning one request body. Passing one answers 400 naming it. */
export const OTLP_DECODE_LIMITS = {
  /** `resourceSpans` entries in one request. */
  resourceSpans: 1_000,
  /** `scopeSpans` entries in one resource. */
  scopeSpans: 1_000,
  /** Spans in one request, in all (past `MAX_SPANS_PER_REQUEST` they are scanned, then rejected in partialSuccess). */
  spans: 20_000,
  /** Attributes in one list (a span's, a resource's, a scope's, an event's, a kvlist value's). */
  attributes: 4_096,
  /** Events in one span. */
  events: 1_024,
  /** Values in one array value, or entries of any other JSON array. */
  arrayValues: 4_096,
  /** Nesting depth: JSON containers, or nested array/kvlist values in protobuf. */
  depth: 32,
  /** Objects, arrays or messages in the whole body. */
  nodes: 300_000,
} as const;

export type OtlpDecodeLimit = keyof typeof OTLP_DECODE_LIMITS;

const LIMIT_TEXT: Record<OtlpDecodeLimit, string> = {
  resourceSpans: 'resourceSpans entries in one request',
  scopeSpans: 'scopeSpans entries in one resource',
  spans: 'spans in one request',
  attributes: 'attributes in one list',
  events: 'events in one span',
  arrayValues: 'values in one array',
  depth: 'levels of nesting',
  nodes: 'objects in one request',
};

function over(limit: OtlpDecodeLimit): never {
  throw new ValidationError(limit, `OTLP body refused: more than ${OTLP_DECODE_LIMITS[limit]} ${LIMIT_TEXT[limit]} (limit "${limit}")`);
}

// --- protobuf -----------------------------------------------------------------------------------------------------

/** What a length-delimited field of a message is, for the fields the scan follows; other fields are skipped. */
type Msg = 'request' | 'resourceSpans' | 'resource' | 'scopeSpans' | 'scope' | 'span' | 'event' | 'keyValue' | 'anyValue' | 'arrayValue' | 'kvlist';

const CHILDREN: Record<Msg, Partial<Record<number, Msg>>> = {
  request: { 1: 'resourceSpans' },
  resourceSpans: { 1: 'resource', 2: 'scopeSpans' },
  resource: { 1: 'keyValue' },
  scopeSpans: { 1: 'scope', 2: 'span' },
  scope: { 3: 'keyValue' },
  span: { 9: 'keyValue', 11: 'event' },
  event: { 3: 'keyValue' },
  keyValue: { 2: 'anyValue' },
  anyValue: { 5: 'arrayValue', 6: 'kvlist' },
  arrayValue: { 1: 'anyValue' },
  kvlist: { 1: 'keyValue' },
};

/** Which limit counts the children of one message instance. */
function limitFor(parent: Msg, child: Msg): OtlpDecodeLimit | null {
  if (child === 'keyValue') return 'attributes';
  if (child === 'resourceSpans') return 'resourceSpans';
  if (child === 'scopeSpans') return 'scopeSpans';
  if (child === 'event') return 'events';
  if (parent === 'arrayValue') return 'arrayValues';
  return null;
}

interface ProtoScan {
  reader: protobuf.Reader;
  nodes: number;
  spans: number;
}

function scanMessage(s: ProtoScan, type: Msg, end: number, depth: number): void {
  const r = s.reader;
  // Children counted against a limit, per message instance: events apart, everything else in one counter (a message
  // type has at most one other limited child kind).
  let counted = 0;
  let events = 0;
  while (r.pos < end) {
    const tag = r.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    const child = CHILDREN[type][field];
    if (child === undefined || wire !== 2) {
      if (field === 0 || wire === 3 || wire === 4) throw new ValidationError('body', 'Body is not a valid OTLP protobuf message (bad field tag)');
      r.skipType(wire);
      continue;
    }
    const len = r.uint32();
    const childEnd = r.pos + len;
    if (childEnd > end) throw new ValidationError('body', 'Body is not a valid OTLP protobuf message (length past the end)');
    if (++s.nodes > OTLP_DECODE_LIMITS.nodes) over('nodes');
    if (child === 'span' && ++s.spans > OTLP_DECODE_LIMITS.spans) over('spans');
    const limit = limitFor(type, child);
    if (limit !== null && (limit === 'events' ? ++events : ++counted) > OTLP_DECODE_LIMITS[limit]) over(limit);
    const nested = child === 'arrayValue' || child === 'kvlist' ? depth + 1 : depth;
    if (nested > OTLP_DECODE_LIMITS.depth) over('depth');
    scanMessage(s, child, childEnd, nested);
  }
  if (r.pos !== end) throw new ValidationError('body', 'Body is not a valid OTLP protobuf message (field past the end)');
}

/**
 * Scans a protobuf `ExportTraceServiceRequest` without materialising it. Throws a {@link ValidationError} naming the
 * limit passed (`field` is the limit's key) or saying the bytes are malformed. Linear in the body's length.
 */
export function scanOtlpProtobuf(bytes: Uint8Array): { spans: number; nodes: number } {
  const s: ProtoScan = { reader: protobuf.Reader.create(bytes), nodes: 0, spans: 0 };
  try {
    scanMessage(s, 'request', bytes.length, 0);
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new ValidationError('body', 'Body is not a valid OTLP protobuf message');
  }
  return { spans: s.spans, nodes: s.nodes };
}

// --- JSON ---------------------------------------------------------------------------------------------------------

const JSON_ARRAY_LIMITS: Record<string, OtlpDecodeLimit> = {
  resourceSpans: 'resourceSpans',
  scopeSpans: 'scopeSpans',
  attributes: 'attributes',
  events: 'events',
  values: 'arrayValues',
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Scans OTLP JSON text without parsing it: a linear walk that tracks only the container stack (and, for arrays,
 * the key they sit under and how many entries they hold). Throws a {@link ValidationError} naming the limit passed.
 * It does not validate JSON: `JSON.parse` does that afterwards, on a body known to be small in objects.
 */
export function scanOtlpJson(text: string): { spans: number; nodes: number } {
  // Per open container: the limit its entries count against (arrays only) and how many it holds so far.
  const limits: (OtlpDecodeLimit | null)[] = [];
  const counts: number[] = [];
  const isArray: boolean[] = [];
  let nodes = 0;
  let spans = 0;
  let lastKey = '';
  let expectValue = true;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x3a /* : */) continue;
    if (c === 0x2c /* , */) {
      expectValue = true;
      continue;
    }
    const top = isArray.length - 1;
    // A value starting inside an array is one more entry of it.
    if (top >= 0 && isArray[top] && expectValue && c !== 0x5d /* ] */) {
      const count = ++counts[top]!;
      const limit = limits[top]!;
      if (limit === 'spans') {
        if (++spans > OTLP_DECODE_LIMITS.spans) over('spans');
      } else if (count > OTLP_DECODE_LIMITS[limit ?? 'arrayValues']) over(limit ?? 'arrayValues');
      expectValue = false;
    }
    if (c === QUOTE) {
      const start = i + 1;
      // The closing quote: the next quote not escaped (preceded by an even run of backslashes). indexOf is native,
      // and each backslash run is walked once, so this stays linear.
      let j = start;
      for (;;) {
        j = text.indexOf('"', j);
        if (j === -1) {
          j = n;
          break;
        }
        let k = j - 1;
        while (k >= start && text.charCodeAt(k) === BACKSLASH) k--;
        if ((j - 1 - k) % 2 === 0) break;
        j++;
      }
      // A string in an object where a key is expected is a key: remember it for the array it may open.
      if (top >= 0 && !isArray[top] && counts[top]! % 2 === 0) lastKey = j - start <= 16 ? text.slice(start, j) : '';
      if (top >= 0 && !isArray[top]) counts[top]!++;
      i = j;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (++nodes > OTLP_DECODE_LIMITS.nodes) over('nodes');
      if (isArray.length >= OTLP_DECODE_LIMITS.depth) over('depth');
      if (top >= 0 && !isArray[top]) counts[top]!++;
      const array = c === 0x5b;
      isArray.push(array);
      counts.push(0);
      limits.push(array ? (lastKey === 'spans' ? 'spans' : (JSON_ARRAY_LIMITS[lastKey] ?? null)) : null);
      expectValue = true;
      lastKey = '';
      continue;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      isArray.pop();
      counts.pop();
      limits.pop();
      expectValue = false;
      continue;
    }
    // A number or literal: skip to its end. In an object it is a value (keys are strings).
    if (top >= 0 && !isArray[top]) counts[top]!++;
    while (i + 1 < n) {
      const d = text.charCodeAt(i + 1);
      if (d === 0x2c || d === 0x5d || d === 0x7d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
      i++;
    }
  }
  return { spans, nodes };
}

// --- one entry point for the route ----------------------------------------------------------------------------------

/** The media types `/v1/traces` accepts. */
export type OtlpMediaType = 'application/json' | 'application/x-protobuf';

/** Spans mapped between two yields to the event loop by {@link decodeOtlpBodyChunked}. */
export const OTLP_DECODE_CHUNK_SPANS = 256;

type DecodeResult = { ok: true; value: DecodedOtlp } | { ok: false; error: ValidationError };

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The refusal for an error thrown while decoding: a ValidationError as is, anything else as a malformed body. */
function refusal(err: unknown): { ok: false; error: ValidationError } {
  if (err instanceof ValidationError) return { ok: false, error: err };
  return { ok: false, error: new ValidationError('body', 'Body is not a valid OTLP ExportTraceServiceRequest') };
}

/**
 * The steps of decoding a body: scan within the limits, materialise, then the spans one by one (protobuf spans are
 * decoded lazily, one message at a time). `pause` runs between the steps and after every `chunk` spans.
 */
function* decodeSteps(type: OtlpMediaType, body: Uint8Array, chunk: number): Generator<'pause', DecodedOtlp> {
  let spans: Iterable<RawOtlpSpan>;
  if (type === 'application/x-protobuf') {
    scanOtlpProtobuf(body);
    yield 'pause';
    spans = (function* () {
      const resources = new Map<unknown, Record<string, AttributeValue>>();
      for (const { raw, resourceAttributes: list } of protobufSpans(body)) {
        let resource = resources.get(list);
        if (resource === undefined) resources.set(list, (resource = resourceAttributes(list)));
        yield { raw, resource };
      }
    })();
  } else {
    const text = new TextDecoder('utf-8', { fatal: false }).decode(body);
    yield 'pause';
    scanOtlpJson(text);
    yield 'pause';
    let plain: unknown;
    try {
      plain = JSON.parse(text);
    } catch {
      throw new ValidationError('body', 'Body is not valid JSON');
    }
    yield 'pause';
    spans = otlpJsonSpans(plain);
  }
  const mapper = new OtlpSpanMapper();
  let n = 0;
  try {
    for (const { raw, resource } of spans) {
      mapper.add(raw, resource);
      if (++n % chunk === 0) yield 'pause';
    }
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    if (type === 'application/x-protobuf') throw new ValidationError('body', 'Body is not a valid OTLP protobuf message');
    throw new ValidationError('resourceSpans', (err as Error).message);
  }
  return mapper.result();
}

/**
 * Decodes a `/v1/traces` body within {@link OTLP_DECODE_LIMITS}: scan, then materialise, then map. Returns the decoded
 * traces, or an error whose `field` names the limit passed or the part that was malformed (the route answers 400).
 * Synchronous: the whole decode is one block of the event loop (see {@link decodeOtlpBodyChunked}).
 */
export function decodeOtlpBody(type: OtlpMediaType, body: Uint8Array): DecodeResult {
  try {
    const steps = decodeSteps(type, body, Number.MAX_SAFE_INTEGER);
    for (;;) {
      const step = steps.next();
      if (step.done) return { ok: true, value: step.value };
    }
  } catch (err) {
    return refusal(err);
  }
}

/**
 * {@link decodeOtlpBody} that yields to the event loop (`setImmediate`) between its steps and after every `chunkSpans`
 * spans mapped, so a large body never holds the loop for the whole decode: other requests (health checks, the
 * dashboard) are served in between. Same result as the synchronous decode.
 */
export async function decodeOtlpBodyChunked(type: OtlpMediaType, body: Uint8Array, chunkSpans = OTLP_DECODE_CHUNK_SPANS): Promise<DecodeResult> {
  try {
    const steps = decodeSteps(type, body, Math.max(1, Math.floor(chunkSpans)));
    for (;;) {
      const step = steps.next();
      if (step.done) return { ok: true, value: step.value };
      await yieldToLoop();
    }
  } catch (err) {
    return refusal(err);
  }
}
