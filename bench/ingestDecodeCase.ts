/**
 * One OTLP decoding case in a process of its own (so peak RSS is this case's alone): builds the body, then decodes it
 * either bounded (`decodeOtlpBody`: scan, then materialise) or unbounded (what ingest did before the scan: protobufjs
 * decode or JSON.parse, then the mapping). Prints one JSON line: body bytes, outcome, the synchronous decode time
 * (the event-loop block), the longest event-loop delay seen by `monitorEventLoopDelay`, and peak RSS growth.
 *   node --import tsx bench/ingestDecodeCase.ts <case> <bounded|unbounded> [scale]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { decodeOtlpJson } from '../src/server/otlpIngest.js';
import { decodeOtlpBody } from '../src/server/otlpLimits.js';
import { decodeOtlpProtobufRequest, encodeOtlpProtobufRequest } from '../src/server/otlpProto.js';

const [caseName = 'proto-spans', mode = 'bounded', scaleArg = '1'] = process.argv.slice(2);
const scale = Number(scaleArg);
const LIMIT = 5 * 1024 * 1024;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}
function field(no: number, body: Uint8Array): Uint8Array {
  const head = [...varint((no << 3) | 2), ...varint(body.length)];
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}
function fill(unit: Uint8Array, bytes: number): Uint8Array {
  const times = Math.floor(bytes / unit.length);
  const out = new Uint8Array(unit.length * times);
  for (let i = 0; i < times; i++) out.set(unit, i * unit.length);
  return out;
}
const EMPTY = new Uint8Array(0);
const budget = Math.floor((LIMIT - 64) * scale);

function realisticSpans(n: number) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    traceId: Buffer.from((Math.floor(i / 100) + 1).toString(16).padStart(32, 'a'), 'hex').toString('base64'),
    spanId: Buffer.from((i + 1).toString(16).padStart(16, '0'), 'hex').toString('base64'),
    name: 'chat model-x',
    startTimeUnixNano: `${now}000000`,
    endTimeUnixNano: `${now + 5}000000`,
    attributes: [
      { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
      { key: 'gen_ai.request.model', value: { stringValue: 'model-x' } },
      { key: 'gen_ai.usage.input_tokens', value: { intValue: '120' } },
      { key: 'gen_ai.usage.output_tokens', value: { intValue: '30' } },
      { key: 'gen_ai.input.messages', value: { stringValue: `[{"role":"user","parts":[{"type":"text","content":"question ${i} ${'x'.repeat(200)}"}]}]` } },
      { key: 'gen_ai.output.messages', value: { stringValue: `[{"role":"assistant","parts":[{"type":"text","content":"answer ${'y'.repeat(100)}"}]}]` } },
    ],
  }));
}

let type: 'application/json' | 'application/x-protobuf';
let body: Uint8Array;
switch (caseName) {
  case 'proto-spans': // request { resourceSpans { scopeSpans { span{} × N } } }
    type = 'application/x-protobuf';
    body = field(1, field(2, fill(field(2, EMPTY), budget - 16)));
    break;
  case 'proto-attributes': // one span with N empty attributes
    type = 'application/x-protobuf';
    body = field(1, field(2, field(2, fill(field(9, EMPTY), budget - 24))));
    break;
  case 'json-spans':
    type = 'application/json';
    body = Buffer.from(`{"resourceSpans":[{"scopeSpans":[{"spans":[${'{},'.repeat(Math.floor((budget - 60) / 3))}{}]}]}]}`);
    break;
  case 'json-attributes':
    type = 'application/json';
    body = Buffer.from(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[${'{},'.repeat(Math.floor((budget - 80) / 3))}{}]}]}]}]}`);
    break;
  case 'proto-largest': // the largest accepted request: 10,000 GenAI spans with message contents
    type = 'application/x-protobuf';
    body = encodeOtlpProtobufRequest({ resourceSpans: [{ scopeSpans: [{ spans: realisticSpans(Math.max(10, Math.floor(10_000 * scale))) }] }] });
    break;
  case 'json-largest':
    type = 'application/json';
    body = Buffer.from(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: realisticSpans(Math.max(10, Math.floor(10_000 * scale))).map((s) => ({ ...s, traceId: Buffer.from(s.traceId, 'base64').toString('hex'), spanId: Buffer.from(s.spanId, 'base64').toString('hex') })) }] }] }));
    break;
  default:
    throw new Error(`unknown case ${caseName}`);
}

global.gc?.();
const rssBefore = process.memoryUsage().rss;
const maxBefore = process.resourceUsage().maxRSS * 1024;
const delay = monitorEventLoopDelay({ resolution: 5 });
delay.enable();
// Let the monitor take a first sample, then run the decode as the only work on the loop.
await new Promise((r) => setTimeout(r, 50));
let outcome: string;
const t0 = performance.now();
if (mode === 'bounded') {
  const r = decodeOtlpBody(type, body);
  outcome = r.ok ? `accepted ${r.value.acceptedSpans}, rejected ${r.value.rejectedSpans}` : `400 (${r.error.field})`;
} else {
  const plain = type === 'application/json' ? JSON.parse(new TextDecoder().decode(body)) : decodeOtlpProtobufRequest(body);
  const d = decodeOtlpJson(plain);
  outcome = `accepted ${d.acceptedSpans}, rejected ${d.rejectedSpans}`;
}
const blockMs = performance.now() - t0;
await new Promise((r) => setTimeout(r, 50));
delay.disable();
const maxAfter = process.resourceUsage().maxRSS * 1024;
const rssGrowth = Math.max(0, maxAfter - Math.max(maxBefore, rssBefore));
console.log(JSON.stringify({ case: caseName, mode, bytes: body.length, outcome, blockMs, loopDelayMaxMs: delay.max / 1e6, rssGrowthBytes: rssGrowth }));
