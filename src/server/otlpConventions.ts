/**
 * The four span conventions agents use to describe model and tool calls, mapped onto our trace model:
 * - OpenTelemetry GenAI semantic conventions (`gen_ai.operation.name`, `gen_ai.usage.*`, messages as attributes or,
 *   in older versions, as span events `gen_ai.user.message`, `gen_ai.choice`, `gen_ai.content.prompt`...);
 * - the Vercel AI SDK's legacy spans (`ai.generateText`, `ai.generateText.doGenerate`, `ai.toolCall`, `ai.usage.*`...);
 * - OpenInference, as Arize Phoenix uses it (`openinference.span.kind`, `llm.token_count.*`, `input.value`...);
 * - OpenLLMetry, as Traceloop uses it (`traceloop.span.kind`, `traceloop.entity.*`, `gen_ai.prompt.N.*`...).
 * A span of no known convention stays `custom` with its attributes. The mapping is pure: it reads the attributes and
 * events and names the attribute keys it moved into fields (`consumed`), so the decoder does not keep them twice.
 */
import type { AttributeValue, SpanKind } from '../trace/model.js';

/** Which convention a span was recognised by. */
export type SpanConvention = 'genai' | 'ai-sdk' | 'openinference' | 'openllmetry' | 'none';

/** A span event as decoded from OTLP: its name and its (already decoded) attributes. */
export interface ConventionEvent {
  name: string;
  attributes: Record<string, AttributeValue>;
}

/** Token counts; a field is absent when the span does not report it. */
export interface MappedUsage {
  input?: number;
  output?: number;
  cacheRead?: number;
  cacheWrite?: number;
}

/** What one span means in our model. Fields are absent when the span does not say. */
export interface MappedSpan {
  convention: SpanConvention;
  kind: SpanKind;
  model?: string;
  usage?: MappedUsage;
  stopReason?: string;
  toolName?: string;
  input?: unknown;
  output?: unknown;
  /** An error the attributes or events describe (the status code decides whether the span failed). */
  error?: { type: string; message: string };
  userId?: string;
  sessionId?: string;
  agent?: string;
  /** Attribute keys whose values now live in the fields above. */
  consumed: string[];
}

/** Indexed message attributes (`gen_ai.prompt.N.*`, `llm.input_messages.N.*`) folded per span, at most. */
export const MAX_INDEXED_MESSAGES = 256;

type Attrs = Record<string, AttributeValue>;

function str(v: AttributeValue | undefined): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function num(v: AttributeValue | undefined): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return Number(v);
  return undefined;
}

/** Reads the first present key, remembering which one so the decoder drops it from the attributes. */
class Reader {
  readonly consumed: string[] = [];
  constructor(readonly attrs: Attrs) {}
  private pick<T>(keys: readonly string[], conv: (v: AttributeValue | undefined) => T | undefined, consume: boolean): T | undefined {
    for (const k of keys) {
      const v = conv(this.attrs[k]);
      if (v !== undefined) {
        if (consume) this.consumed.push(k);
        return v;
      }
    }
    return undefined;
  }
  str(keys: readonly string[], consume = false): string | undefined {
    return this.pick(keys, str, consume);
  }
  num(keys: readonly string[]): number | undefined {
    return this.pick(keys, num, false);
  }
  /** A value moved to input/output: JSON text stays text (the UI shows it), consumed. */
  value(keys: readonly string[]): AttributeValue | undefined {
    return this.pick(keys, (v) => (v === undefined || v === '' ? undefined : v), true);
  }
}

const LLM_OPERATIONS = new Set(['chat', 'text_completion', 'generate_content', 'completion']);
const AGENT_OPERATIONS = new Set(['invoke_agent', 'create_agent', 'invoke_workflow']);
const RETRIEVAL_OPERATIONS = new Set(['embeddings', 'retrieval']);

function genAiKind(op: string | undefined): SpanKind | undefined {
  if (op === undefined) return undefined;
  if (LLM_OPERATIONS.has(op)) return 'llm';
  if (op === 'execute_tool') return 'tool';
  if (AGENT_OPERATIONS.has(op)) return 'agent';
  if (RETRIEVAL_OPERATIONS.has(op)) return 'retrieval';
  // The AI SDK's OpenTelemetry integration names its step spans `agent_step`.
  if (op === 'agent_step' || op === 'step') return 'iteration';
  return undefined;
}

/** `ai.generateText`, `ai.streamText.doStream`, `ai.toolCall`, `ai.embed.doEmbed`... → our kind. */
function aiSdkKind(op: string): SpanKind | undefined {
  if (op === 'ai.toolCall') return 'tool';
  if (/^ai\.(generate|stream)(Text|Object)\.do(Generate|Stream)$/.test(op)) return 'llm';
  if (/^ai\.(generate|stream)(Text|Object)$/.test(op)) return 'agent';
  if (/^ai\.(embed|embedMany|rerank)(\.do(Embed|Rerank))?$/.test(op)) return 'retrieval';
  return op.startsWith('ai.') ? 'custom' : undefined;
}

const OPENINFERENCE_KINDS: Record<string, SpanKind> = {
  LLM: 'llm',
  TOOL: 'tool',
  AGENT: 'agent',
  CHAIN: 'iteration',
  RETRIEVER: 'retrieval',
  EMBEDDING: 'retrieval',
  RERANKER: 'retrieval',
};

const OPENLLMETRY_KINDS: Record<string, SpanKind> = { workflow: 'agent', agent: 'agent', task: 'iteration', tool: 'tool' };

/** Folds `prefix.N.rest` attributes into `[{rest: value}]` messages, in index order; consumes them. */
function indexedMessages(r: Reader, prefix: string): Record<string, AttributeValue>[] | undefined {
  const byIndex = new Map<number, Record<string, AttributeValue>>();
  const p = `${prefix}.`;
  for (const key of Object.keys(r.attrs)) {
    if (!key.startsWith(p)) continue;
    const dot = key.indexOf('.', p.length);
    const idx = Number(key.slice(p.length, dot === -1 ? undefined : dot));
    if (dot === -1 || !Number.isInteger(idx) || idx < 0) continue;
    let msg = byIndex.get(idx);
    if (!msg) {
      if (byIndex.size >= MAX_INDEXED_MESSAGES) continue;
      msg = {};
      byIndex.set(idx, msg);
    }
    msg[key.slice(dot + 1)] = r.attrs[key]!;
    r.consumed.push(key);
  }
  if (byIndex.size === 0) return undefined;
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m);
}

/** Message bodies from span events (older GenAI conventions put content there instead of in attributes). */
function eventMessages(events: readonly ConventionEvent[]): { input?: unknown[]; output?: unknown[] } {
  const input: unknown[] = [];
  const output: unknown[] = [];
  for (const e of events) {
    const a = e.attributes;
    switch (e.name) {
      case 'gen_ai.content.prompt':
        if (a['gen_ai.prompt'] !== undefined) input.push(a['gen_ai.prompt']);
        break;
      case 'gen_ai.content.completion':
        if (a['gen_ai.completion'] !== undefined) output.push(a['gen_ai.completion']);
        break;
      case 'gen_ai.client.inference.operation.details':
        if (a['gen_ai.input.messages'] !== undefined) input.push(a['gen_ai.input.messages']);
        if (a['gen_ai.output.messages'] !== undefined) output.push(a['gen_ai.output.messages']);
        break;
      case 'gen_ai.system.message':
      case 'gen_ai.user.message':
      case 'gen_ai.assistant.message':
      case 'gen_ai.tool.message':
        input.push({ role: e.name.slice('gen_ai.'.length, -'.message'.length), ...eventBody(a) });
        break;
      case 'gen_ai.choice':
        output.push(eventBody(a));
        break;
      default:
        break;
    }
  }
  return { ...(input.length > 0 ? { input } : {}), ...(output.length > 0 ? { output } : {}) };
}

function eventBody(a: Attrs): Record<string, AttributeValue> {
  const body: Record<string, AttributeValue> = {};
  for (const [k, v] of Object.entries(a)) {
    if (k === 'gen_ai.system' || k === 'gen_ai.provider.name') continue;
    body[k === 'gen_ai.event.content' ? 'content' : k] = v;
  }
  return body;
}

const USER_KEYS = [
  'user.id',
  'enduser.id',
  'gen_ai.user.id',
  'ai.telemetry.metadata.userId',
  'ai.telemetry.metadata.user_id',
  'ai.settings.context.userId',
  'ai.settings.context.user_id',
  'traceloop.association.properties.user_id',
  'traceloop.association.properties.userId',
];
const SESSION_KEYS = [
  'gen_ai.conversation.id',
  'session.id',
  'ai.telemetry.metadata.sessionId',
  'ai.telemetry.metadata.session_id',
  'ai.telemetry.metadata.conversationId',
  'ai.settings.context.sessionId',
  'ai.settings.context.session_id',
  'traceloop.association.properties.session_id',
  'traceloop.association.properties.sessionId',
  'traceloop.association.properties.conversation_id',
];

/**
 * Maps one span. `name` is the span name, `attrs` its decoded attributes, `events` its decoded events and `resource`
 * its resource's attributes (consulted for the user and service name only). Never throws; unknown input maps to
 * `custom`. The caller removes `consumed` keys from the stored attributes.
 * @example mapSpan('chat gpt-4o', { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' }, [], {})
 *   // → { convention: 'genai', kind: 'llm', model: 'gpt-4o', consumed: [] }
 */
export function mapSpan(name: string, attrs: Attrs, events: readonly ConventionEvent[], resource: Attrs): MappedSpan {
  const r = new Reader(attrs);
  const aiOp = str(attrs['ai.operationId']) ?? (name.startsWith('ai.') ? name : undefined);
  const oiKind = str(attrs['openinference.span.kind']);
  const tlKind = str(attrs['traceloop.span.kind']);
  const genOp = str(attrs['gen_ai.operation.name']);

  let convention: SpanConvention = 'none';
  let kind: SpanKind | undefined;
  if (aiOp !== undefined && aiSdkKind(aiOp) !== undefined) {
    convention = 'ai-sdk';
    kind = aiSdkKind(aiOp);
  } else if (oiKind !== undefined) {
    convention = 'openinference';
    kind = OPENINFERENCE_KINDS[oiKind.toUpperCase()] ?? 'custom';
  } else if (tlKind !== undefined) {
    convention = 'openllmetry';
    kind = OPENLLMETRY_KINDS[tlKind.toLowerCase()] ?? 'custom';
  } else if (genAiKind(genOp) !== undefined) {
    convention = 'genai';
    kind = genAiKind(genOp);
  } else if (str(attrs['llm.request.type']) !== undefined) {
    // OpenLLMetry's model-call spans before it adopted gen_ai.operation.name.
    convention = 'openllmetry';
    const t = str(attrs['llm.request.type'])!;
    kind = t === 'embedding' ? 'retrieval' : t === 'chat' || t === 'completion' ? 'llm' : 'custom';
  } else if (
    (attrs['gen_ai.system'] !== undefined || attrs['gen_ai.provider.name'] !== undefined) &&
    (attrs['gen_ai.request.model'] !== undefined || attrs['gen_ai.response.model'] !== undefined)
  ) {
    // Older GenAI instrumentations: a provider and a model but no operation name is a model call.
    convention = 'genai';
    kind = 'llm';
  } else if (genOp !== undefined) {
    convention = 'genai';
    kind = 'custom';
  }
  kind ??= 'custom';
  if (convention === 'none') return { convention, kind, consumed: [] };

  const out: MappedSpan = { convention, kind, consumed: r.consumed };

  // Model, usage and stop reason: read on every span, kept where they mean something (the decoder decides).
  const model = r.str(['gen_ai.response.model', 'ai.response.model', 'llm.response.model', 'gen_ai.request.model', 'ai.model.id', 'llm.model_name', 'llm.request.model']);
  if (model !== undefined) out.model = model;
  const usage: MappedUsage = {};
  const input = r.num(['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'ai.usage.inputTokens', 'ai.usage.promptTokens', 'llm.token_count.prompt', 'llm.usage.prompt_tokens']);
  const output = r.num(['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'ai.usage.outputTokens', 'ai.usage.completionTokens', 'llm.token_count.completion', 'llm.usage.completion_tokens']);
  const cacheRead = r.num([
    'gen_ai.usage.cache_read.input_tokens',
    'gen_ai.usage.cache_read_input_tokens',
    'ai.usage.inputTokenDetails.cacheReadTokens',
    'ai.usage.cachedInputTokens',
    'llm.token_count.prompt_details.cache_read',
    'llm.usage.cache_read_input_tokens',
  ]);
  const cacheWrite = r.num([
    'gen_ai.usage.cache_creation.input_tokens',
    'gen_ai.usage.cache_write.input_tokens',
    'gen_ai.usage.cache_creation_input_tokens',
    'gen_ai.usage.cache_write_input_tokens',
    'ai.usage.inputTokenDetails.cacheWriteTokens',
    'llm.token_count.prompt_details.cache_write',
    'llm.token_count.prompt_details.cache_creation',
    'llm.usage.cache_creation_input_tokens',
  ]);
  if (input !== undefined) usage.input = input;
  if (output !== undefined) usage.output = output;
  if (cacheRead !== undefined) usage.cacheRead = cacheRead;
  if (cacheWrite !== undefined) usage.cacheWrite = cacheWrite;
  if (Object.keys(usage).length > 0) out.usage = usage;
  const finish = attrs['gen_ai.response.finish_reasons'];
  const stop = (Array.isArray(finish) ? str(finish[0] as AttributeValue) : str(finish)) ?? r.str(['ai.response.finishReason', 'llm.finish_reason', 'gen_ai.completion.0.finish_reason']);
  if (stop !== undefined) out.stopReason = stop;

  // Tool name.
  const toolName =
    r.str(['gen_ai.tool.name', 'ai.toolCall.name', 'tool.name']) ??
    (convention === 'openllmetry' && kind === 'tool' ? str(attrs['traceloop.entity.name']) : undefined);
  if (toolName !== undefined && kind === 'tool') out.toolName = toolName;

  // Input and output: the convention's own fields first, then indexed messages, then span events.
  let inp: unknown = r.value([
    'gen_ai.input.messages',
    'gen_ai.tool.call.arguments',
    'ai.toolCall.args',
    'ai.toolCall.input',
    'ai.prompt.messages',
    'ai.prompt',
    'input.value',
    'traceloop.entity.input',
    'gen_ai.prompt',
  ]);
  let outp: unknown = r.value([
    'gen_ai.output.messages',
    'gen_ai.tool.call.result',
    'ai.toolCall.result',
    'ai.toolCall.output',
    'ai.response.object',
    'output.value',
    'traceloop.entity.output',
    'gen_ai.completion',
  ]);
  if (outp === undefined && aiOp !== undefined) {
    const text = r.value(['ai.response.text']);
    const calls = r.value(['ai.response.toolCalls']);
    if (calls !== undefined) outp = text !== undefined && text !== '' ? { text, toolCalls: calls } : calls;
    else outp = text;
  }
  inp ??= indexedMessages(r, 'gen_ai.prompt') ?? indexedMessages(r, 'llm.input_messages');
  outp ??= indexedMessages(r, 'gen_ai.completion') ?? indexedMessages(r, 'llm.output_messages');
  if (inp === undefined || outp === undefined) {
    const fromEvents = eventMessages(events);
    inp ??= fromEvents.input;
    outp ??= fromEvents.output;
  }
  if (inp !== undefined) out.input = inp;
  if (outp !== undefined) out.output = outp;

  // An error described by attributes (the status code still decides whether the span failed).
  const errType = str(attrs['error.type']);
  const exception = events.find((e) => e.name === 'exception');
  if (exception || errType !== undefined) {
    const ex = exception?.attributes ?? {};
    out.error = { type: str(ex['exception.type']) ?? errType ?? 'Error', message: str(ex['exception.message']) ?? errType ?? 'error' };
  }

  // Who and which conversation: the span first, then its resource.
  const userId = r.str(USER_KEYS) ?? str(resource['user.id']) ?? str(resource['enduser.id']);
  if (userId !== undefined) out.userId = userId;
  const sessionId = r.str(SESSION_KEYS) ?? str(resource['session.id']);
  if (sessionId !== undefined) out.sessionId = sessionId;
  const agent =
    r.str(['gen_ai.agent.name', 'agent.name', 'ai.telemetry.functionId']) ??
    (convention === 'openllmetry' && kind === 'agent' ? (str(attrs['traceloop.entity.name']) ?? str(attrs['traceloop.workflow.name'])) : undefined);
  if (agent !== undefined && kind === 'agent') out.agent = agent;
  return out;
}
