/**
 * Live spans. A {@link RecordingSpan} only stores what it is given — cheaply, as captured references to bounded,
 * JSON-safe copies — and does no redaction: that runs once, when its trace ends and is kept. A {@link NOOP_SPAN} is
 * handed out outside a trace, past the span cap, and after a trace ended, so callers never branch on tracing.
 */
import type { AttributeValue, SpanError, SpanKind, SpanStatus, TokenUsage } from './model.js';
import { newSpanId } from './ids.js';
import { safeText, safeValue, type SafeJson } from './safeValue.js';
import { cutKey, MAX_KEY_CAPTURE_CHARS, truncateText } from './bounds.js';
import type { RecordingTrace } from './Trace.js';

/** A span as callers see it: every setter returns the span, and all of them are safe on a no-op span. */
export interface Span {
  readonly kind: SpanKind;
  readonly name: string;
  /** 16 hex chars; an empty string on a no-op span. */
  readonly spanId: string;
  /** 32 hex chars; an empty string on a no-op span. */
  readonly traceId: string;
  /** False on a no-op span: nothing set on it is kept. */
  readonly isRecording: boolean;
  /** What went in (each string value is cut to `bounds.maxInputChars` after redaction). */
  setInput(value: unknown): this;
  /** What came out (cut to `bounds.maxToolOutputChars` on tool spans, `maxOutputChars` otherwise). */
  setOutput(value: unknown): this;
  setAttribute(key: string, value: AttributeValue | null | undefined): this;
  setAttributes(attributes: Record<string, AttributeValue | null | undefined>): this;
  /** Marks the span failed with this error (type, message, code), redacted and cut when recorded. */
  recordError(error: unknown): this;
  /** LLM spans: model name. */
  setModel(model: string): this;
  /** LLM spans: token usage. */
  setUsage(usage: TokenUsage): this;
  /** LLM spans: why generation stopped (`end_turn`, `tool_use`, `length`...). */
  setStopReason(reason: string): this;
  /** Tool spans: tool name and, optionally, the circuit breaker that guarded the call. */
  setTool(toolName: string, circuit?: string): this;
  /** Keeps this span's whole trace whatever the sampling rate. */
  forceKeep(): this;
  /** Ends the span (idempotent). Spans still open when their trace ends are recorded as `running`. */
  end(): void;
}

/** Capture caps at set time are looser than the final caps: redaction (which may shorten text) runs before the final cut. */
export function captureChars(finalMax: number): number {
  return finalMax * 4 + 256;
}

/** Attributes checked for duplicates by a linear scan; past this a span builds a key index. */
const ATTR_SCAN_LIMIT = 16;
const perf = performance;
const origin = perf.timeOrigin;

/** Epoch milliseconds with sub-millisecond precision, monotonic within the process. */
export function nowMs(): number {
  return origin + perf.now();
}

/** What few spans carry: allocated on first use, so a plain span stays a small object. */
interface SpanExtras {
  error: SpanError | null;
  input: SafeJson | undefined;
  output: SafeJson | undefined;
  model: string | null;
  usage: TokenUsage | null;
  stopReason: string | null;
  toolName: string | null;
  circuit: string | null;
  droppedAttributes: number;
  /** Key → slot in `attrs`, built only once a span has many attributes (keeps duplicate checks O(1)). */
  attrIndex: Map<string, number> | null;
}

function isKind(kind: unknown): kind is SpanKind {
  switch (kind) {
    case 'custom':
    case 'tool':
    case 'llm':
    case 'iteration':
    case 'agent':
    case 'retrieval':
      return true;
    default:
      return false;
  }
}

/**
 * A span that records. Created by a trace; not constructed directly by users. Kept deliberately small (the span hot
 * path allocates one of these and, at most, one attribute array): rarely set fields live in a lazily created
 * {@link SpanExtras}, the status is derived, the id is generated on first read.
 */
export class RecordingSpan implements Span {
  readonly kind: SpanKind;
  readonly name: string;
  readonly startedAt: number;
  endedAt: number | null = null;
  /**
   * Attributes as set, flat `[key0, value0, key1, value1, ...]` (strings cut to a capture cap): one small array per
   * span instead of an object whose shape changes with every key. The record's object is built only for kept traces.
   */
  attrs: unknown[] | null = null;
  private x: SpanExtras | null = null;
  private id: string | null = null;

  constructor(
    readonly trace: RecordingTrace,
    readonly parent: RecordingSpan | null,
    kind: SpanKind,
    name: string,
  ) {
    this.startedAt = nowMs();
    this.name = typeof name === 'string' ? name : safeText(name, 200);
    if (isKind(kind)) this.kind = kind;
    else {
      this.kind = 'custom';
      this.setAttribute('agentex.invalid_kind', safeText(kind, 50));
    }
  }

  get isRecording(): boolean {
    return true;
  }

  /** Generated on first read: spans of traces that are sampled out never pay for an id. */
  get spanId(): string {
    return (this.id ??= newSpanId());
  }

  get traceId(): string {
    return this.trace.traceId;
  }

  /** The parent span's id, or null for a span at the trace root. */
  get parentId(): string | null {
    return this.parent === null ? null : this.parent.spanId;
  }

  /** `error` once an error was recorded, else `running` until `end()`, then `ok`. */
  get status(): SpanStatus {
    return this.x !== null && this.x.error !== null ? 'error' : this.endedAt === null ? 'running' : 'ok';
  }

  get error(): SpanError | null {
    return this.x === null ? null : this.x.error;
  }
  get input(): SafeJson | undefined {
    return this.x === null ? undefined : this.x.input;
  }
  get output(): SafeJson | undefined {
    return this.x === null ? undefined : this.x.output;
  }
  get model(): string | null {
    return this.x === null ? null : this.x.model;
  }
  get usage(): TokenUsage | null {
    return this.x === null ? null : this.x.usage;
  }
  get stopReason(): string | null {
    return this.x === null ? null : this.x.stopReason;
  }
  get toolName(): string | null {
    return this.x === null ? null : this.x.toolName;
  }
  get circuit(): string | null {
    return this.x === null ? null : this.x.circuit;
  }
  get droppedAttributes(): number {
    return this.x === null ? 0 : this.x.droppedAttributes;
  }

  private extras(): SpanExtras {
    return (this.x ??= {
      error: null,
      input: undefined,
      output: undefined,
      model: null,
      usage: null,
      stopReason: null,
      toolName: null,
      circuit: null,
      droppedAttributes: 0,
      attrIndex: null,
    });
  }

  setInput(value: unknown): this {
    if (this.endedAt === null) {
      this.extras().input = typeof value === 'string' ? cutCapture(value, this.trace.bounds.maxInputChars) : this.capture(value, this.trace.bounds.maxInputChars);
    }
    return this;
  }

  setOutput(value: unknown): this {
    if (this.endedAt === null) {
      const b = this.trace.bounds;
      const max = this.kind === 'tool' ? b.maxToolOutputChars : b.maxOutputChars;
      this.extras().output = typeof value === 'string' ? cutCapture(value, max) : this.capture(value, max);
    }
    return this;
  }

  setAttribute(key: string, value: AttributeValue | null | undefined): this {
    if (this.endedAt !== null || value === undefined || value === null) return this;
    if (typeof key !== 'string') key = safeText(key, 200);
    else if (key.length > MAX_KEY_CAPTURE_CHARS) key = cutKey(key, MAX_KEY_CAPTURE_CHARS);
    const v = typeof value === 'string' && value.length > 256 ? cutCapture(value, this.trace.bounds.maxAttributeChars) : value;
    const attrs = this.attrs;
    if (attrs === null) {
      // Grown from empty, the first push allocates room for 8 pairs at once (a `[key, v]` literal would be
      // reallocated on the second attribute).
      (this.attrs = [] as unknown[]).push(key, v);
      return this;
    }
    const slot = this.attrSlot(attrs, key);
    if (slot >= 0) {
      attrs[slot + 1] = v;
      return this;
    }
    if (attrs.length >= this.trace.bounds.maxAttributes * 2) {
      this.extras().droppedAttributes++;
      return this;
    }
    if (this.x !== null) this.x.attrIndex?.set(key, attrs.length);
    attrs.push(key, v);
    return this;
  }

  /** Slot of `key` in `attrs`, or -1: a linear scan while the list is short, an index beyond that. */
  private attrSlot(attrs: unknown[], key: string): number {
    const indexed = this.x === null ? null : this.x.attrIndex;
    if (indexed !== null) return indexed.get(key) ?? -1;
    const n = attrs.length;
    for (let i = 0; i < n; i += 2) if (attrs[i] === key) return i;
    if (n >= ATTR_SCAN_LIMIT * 2) {
      const index = (this.extras().attrIndex = new Map<string, number>());
      for (let i = 0; i < n; i += 2) index.set(attrs[i] as string, i);
    }
    return -1;
  }

  setAttributes(attributes: Record<string, AttributeValue | null | undefined>): this {
    if (attributes === null || typeof attributes !== 'object') return this;
    for (const key of Object.keys(attributes)) this.setAttribute(key, attributes[key]);
    return this;
  }

  recordError(error: unknown): this {
    this.extras().error = captureError(error, this.trace.bounds.maxErrorChars);
    return this;
  }

  setModel(model: string): this {
    this.extras().model = safeText(model, 200);
    return this;
  }

  setUsage(usage: TokenUsage): this {
    const input = Number((usage as Partial<TokenUsage> | null)?.inputTokens);
    const output = Number((usage as Partial<TokenUsage> | null)?.outputTokens);
    this.extras().usage = { inputTokens: Number.isFinite(input) ? input : 0, outputTokens: Number.isFinite(output) ? output : 0 };
    return this;
  }

  setStopReason(reason: string): this {
    this.extras().stopReason = safeText(reason, 200);
    return this;
  }

  setTool(toolName: string, circuit?: string): this {
    const x = this.extras();
    x.toolName = safeText(toolName, 200);
    if (circuit !== undefined) x.circuit = safeText(circuit, 200);
    return this;
  }

  forceKeep(): this {
    this.trace.forceKeep();
    return this;
  }

  end(): void {
    if (this.endedAt !== null) return;
    this.endedAt = nowMs();
  }

  private capture(value: unknown, finalMax: number): SafeJson {
    const b = this.trace.bounds;
    return safeValue(value, { maxStringChars: captureChars(finalMax), maxDepth: b.maxDepth, maxItems: b.maxItems });
  }
}

function cutCapture(value: string, finalMax: number): string {
  const cap = captureChars(finalMax);
  return value.length > cap ? truncateText(value, cap) : value;
}

/** Captures type, message and code of anything thrown, without keeping the Error (and its stack) alive. */
export function captureError(error: unknown, maxChars: number): SpanError {
  try {
    if (error instanceof Error) {
      const code = (error as { code?: unknown }).code;
      return {
        type: safeText(error.name || 'Error', 100),
        message: safeText(error.message, captureChars(maxChars)),
        code: typeof code === 'string' || typeof code === 'number' ? safeText(String(code), 100) : undefined,
      };
    }
    return { type: typeof error === 'object' && error !== null ? 'Object' : typeof error, message: safeText(error, captureChars(maxChars)) };
  } catch {
    return { type: 'Unknown', message: '[Unrenderable]' };
  }
}

class NoopSpan implements Span {
  readonly isRecording = false;
  readonly kind: SpanKind = 'custom';
  readonly name = '';
  readonly spanId = '';
  readonly traceId = '';
  setInput(): this {
    return this;
  }
  setOutput(): this {
    return this;
  }
  setAttribute(): this {
    return this;
  }
  setAttributes(): this {
    return this;
  }
  recordError(): this {
    return this;
  }
  setModel(): this {
    return this;
  }
  setUsage(): this {
    return this;
  }
  setStopReason(): this {
    return this;
  }
  setTool(): this {
    return this;
  }
  forceKeep(): this {
    return this;
  }
  end(): void {}
}

/** The one no-op span: outside a trace, past the span cap, after the trace ended, or when tracing is disabled. */
export const NOOP_SPAN: Span = Object.freeze(new NoopSpan());
