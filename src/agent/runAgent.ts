/**
 * The agentic loop: the model is called, the tools it asks for run (in parallel), their results go back, until the
 * model answers or `maxIterations` is reached. Every run is a trace; every iteration, model call and tool call a span.
 * The loop never throws for a failed run: it returns a status (`success | error | timeout`) and a plain output.
 */
import { isAgentexError, toError } from '../common/errors.js';
import { isCancelledError } from '../resilience/errors.js';
import { getDefaultTracer, type Tracer } from '../trace/Tracer.js';
import type { Span } from '../trace/Span.js';
import type { TraceStatus } from '../trace/model.js';
import type { ToolRegistry } from '../tools/registry.js';
import type { ToolResult } from '../tools/types.js';
import type { ChatMessage, CompletionResponse, ModelProvider } from './providers/types.js';

/** The default iteration budget, as in the original design. */
export const DEFAULT_MAX_ITERATIONS = 5;
/** Longest tool result (characters) fed back to the model. */
export const MAX_TOOL_RESULT_CHARS = 4_000;

/** What the loop needs from a tool registry (`createToolRegistry` provides it). */
export type ToolExecutor = Pick<ToolRegistry, 'specs' | 'execute'>;

/** What the loop needs to keep a user's conversation (the state manager provides it). */
export interface ConversationMemory {
  load(userId: string | number): Promise<readonly ChatMessage[]>;
  append(userId: string | number, messages: readonly ChatMessage[]): Promise<void>;
}

export interface RunAgentOptions {
  message: string;
  system?: string | undefined;
  userId?: string | number | undefined;
  agent?: string | undefined;
  tools?: ToolExecutor | undefined;
  provider: ModelProvider;
  /** Default {@link DEFAULT_MAX_ITERATIONS}. */
  maxIterations?: number;
  signal?: AbortSignal | undefined;
  memory?: ConversationMemory | undefined;
  /** Default: the process-wide tracer. */
  tracer?: Tracer | undefined;
  /**
   * Join a caller's trace (from its W3C `traceparent`, see `parseTraceparent`): the run's trace takes the caller's
   * trace id and its root span's parent is the caller's span. Default: a trace of its own.
   */
  parent?: { traceId: string; parentSpanId: string } | undefined;
}

export interface RunAgentResult {
  output: string;
  traceId: string;
  /** The run's W3C `traceparent` (its root span; flags `01` when the trace was kept), '' when tracing is off. */
  traceparent: string;
  status: Exclude<TraceStatus, 'running'>;
  iterations: number;
  usage: { inputTokens: number; outputTokens: number };
  /** Set when status is `error`: a stable code (`CANCELLED`, `PROVIDER_FAILED`, ...). */
  errorCode?: string;
}

function toolContent(outcome: ToolResult): string {
  const text = outcome.ok
    ? typeof outcome.data === 'string'
      ? outcome.data
      : JSON.stringify(outcome.data)
    : JSON.stringify({ error: outcome.error });
  return text.length > MAX_TOOL_RESULT_CHARS ? `${text.slice(0, MAX_TOOL_RESULT_CHARS)}…[truncated ${text.length - MAX_TOOL_RESULT_CHARS} chars]` : text;
}

function errorCode(err: unknown): string {
  if (isCancelledError(err)) return 'CANCELLED';
  return isAgentexError(err) ? err.code : 'PROVIDER_FAILED';
}

/**
 * Runs the agent on one message.
 * @throws InvalidOptionsError-like TypeError only for a missing provider or message (programming errors);
 *   every runtime failure is a returned status.
 */
export async function runAgent(options: RunAgentOptions): Promise<RunAgentResult> {
  const { message, system, userId, agent, tools, provider, signal, memory } = options;
  const maxIterations = options.maxIterations ?? DEFAULT_MAX_ITERATIONS;
  if (typeof message !== 'string' || message.length === 0) throw new TypeError('runAgent: `message` must be a non-empty string');
  if (!provider || typeof provider.complete !== 'function') throw new TypeError('runAgent: `provider` must be a ModelProvider');
  if (!Number.isInteger(maxIterations) || maxIterations < 1 || maxIterations > 100) {
    throw new TypeError(`runAgent: \`maxIterations\` must be an integer between 1 and 100, got ${String(maxIterations)}`);
  }
  const tracer = options.tracer ?? getDefaultTracer();

  const parent = options.parent ? { traceId: options.parent.traceId, parentSpanId: options.parent.parentSpanId } : {};
  return tracer.withTrace({ agent: agent ?? 'agent', ...(userId !== undefined ? { userId } : {}), ...parent }, async (trace) => {
    const usage = { inputTokens: 0, outputTokens: 0 };
    let iterations = 0;
    const finish = (status: RunAgentResult['status'], output: string, code?: string): RunAgentResult => {
      trace.setIterations(iterations);
      trace.setFinalOutput(output);
      trace.end(status);
      return { output, traceId: trace.traceId, traceparent: trace.traceparent(), status, iterations, usage, ...(code ? { errorCode: code } : {}) };
    };

    const history = userId !== undefined && memory ? await memory.load(userId).catch(() => [] as ChatMessage[]) : [];
    const turn: ChatMessage[] = [{ role: 'user', content: message }];
    const specs = tools?.specs() ?? [];
    const saveTurn = async () => {
      if (userId !== undefined && memory) await memory.append(userId, turn).catch(() => undefined);
    };

    try {
      for (let i = 1; i <= maxIterations; i++) {
        iterations = i;
        signal?.throwIfAborted();
        const response = await tracer.withSpan('iteration', `iteration ${i}`, async () => {
          const reply = await tracer.withSpan('llm', `chat ${provider.model}`, async (span: Span) => {
            span.setModel(provider.model).setAttribute('gen_ai.system', provider.name).setInput(turn[turn.length - 1]?.content);
            const r: CompletionResponse = await provider.complete({
              ...(system ? { system } : {}),
              messages: [...history, ...turn],
              ...(specs.length ? { tools: specs } : {}),
              ...(signal ? { signal } : {}),
            });
            span.setModel(r.model).setUsage(r.usage).setStopReason(r.rawStopReason ?? r.stopReason).setOutput(r.content);
            return r;
          });
          usage.inputTokens += reply.usage.inputTokens;
          usage.outputTokens += reply.usage.outputTokens;
          turn.push({ role: 'assistant', content: reply.content, ...(reply.toolCalls.length ? { toolCalls: reply.toolCalls } : {}) });
          if (reply.toolCalls.length > 0 && tools) {
            const ctl = { signal: signal ?? new AbortController().signal };
            const outcomes = await Promise.all(reply.toolCalls.map((call) => tools.execute(call, ctl)));
            reply.toolCalls.forEach((call, k) => {
              const outcome = outcomes[k]!;
              turn.push({ role: 'tool', toolCallId: call.id, name: call.name, content: toolContent(outcome), ...(outcome.ok ? {} : { isError: true }) });
            });
          } else if (reply.toolCalls.length > 0) {
            for (const call of reply.toolCalls) {
              turn.push({ role: 'tool', toolCallId: call.id, name: call.name, content: JSON.stringify({ error: { code: 'UNKNOWN_TOOL', message: `No tools are available; "${call.name}" cannot run`, retryable: false } }), isError: true });
            }
          }
          return reply;
        });
        if (response.toolCalls.length === 0) {
          await saveTurn();
          const output = response.content || (response.stopReason === 'max_tokens' ? '[the model hit its output token limit before answering]' : '');
          return finish('success', output);
        }
      }
      // Tools cancelled in the last iteration return CANCELLED results; the run was cancelled, not out of budget.
      signal?.throwIfAborted();
      await saveTurn();
      return finish('timeout', `Stopped after ${maxIterations} iterations without a final answer: the model kept calling tools.`);
    } catch (thrown) {
      const err = toError(signal?.aborted && !isCancelledError(thrown) ? (signal.reason ?? thrown) : thrown);
      trace.recordError(err);
      const code = signal?.aborted ? 'CANCELLED' : errorCode(thrown);
      const output = code === 'CANCELLED' ? 'The run was cancelled before it finished.' : `The run failed: ${err.message}`;
      return finish('error', output, code);
    }
  });
}
