/**
 * The tool registry: validates the model's arguments against each tool's schema before running it, applies a per-tool
 * timeout (with real cancellation through `signal`), records a `tool` span (name, input, output, duration, ok/error,
 * the circuit used), and turns every failure — unknown tool, invalid input, timeout, a thrown exception — into a
 * structured error result the model can read. `execute` never rejects.
 */
import { InvalidOptionsError, toError } from '../common/errors.js';
import { assertKnownKeys, assertNumber } from '../common/options.js';
import type { ToolCall, ToolSpec } from './spec.js';
import { isCancelledError, isTimeoutError } from '../resilience/errors.js';
import { timeout, type TimeoutPolicy } from '../resilience/timeout.js';
import { withSpan } from '../trace/context.js';
import type { Span } from '../trace/Span.js';
import { parseToolInput, toToolSpec, toolError, type Tool, type ToolResult } from './types.js';

/** Default per-tool timeout: 30 s. */
export const DEFAULT_TOOL_TIMEOUT_MS = 30_000;
/** Most tools one registry holds. */
export const MAX_TOOLS = 128;

export interface ToolRegistryOptions {
  tools?: readonly Tool<never, unknown>[];
  /** Timeout for tools that do not set their own. Default {@link DEFAULT_TOOL_TIMEOUT_MS}. */
  defaultTimeoutMs?: number;
  /** Called after every call, e.g. for the tool duration histogram. */
  onCall?: (event: { tool: string; ok: boolean; code?: string; durationMs: number }) => void;
}

export interface ToolRegistry {
  register(tool: Tool<never, unknown>): void;
  get(name: string): Tool<never, unknown> | undefined;
  names(): string[];
  specs(): readonly ToolSpec[];
  /** Runs one tool call. Never rejects. */
  execute(call: ToolCall, ctx: { signal: AbortSignal }): Promise<ToolResult>;
}

/**
 * Creates a registry.
 * @throws InvalidOptionsError for unknown options, a bad timeout, or duplicate tool names.
 */
export function createToolRegistry(options: ToolRegistryOptions = {}): ToolRegistry {
  assertKnownKeys('createToolRegistry', options, ['tools', 'defaultTimeoutMs', 'onCall']);
  const defaultTimeoutMs = assertNumber('createToolRegistry', 'defaultTimeoutMs', options.defaultTimeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS, { min: 1 });
  const tools = new Map<string, { tool: Tool<never, unknown>; policy: TimeoutPolicy }>();
  let specs: readonly ToolSpec[] = [];

  const registry: ToolRegistry = {
    register(tool) {
      if (!tool || typeof tool.name !== 'string' || typeof tool.execute !== 'function') {
        throw new InvalidOptionsError('createToolRegistry.tools', 'Expected a tool built with defineTool()');
      }
      if (tools.has(tool.name)) throw new InvalidOptionsError('createToolRegistry.tools', `A tool named "${tool.name}" is already registered`);
      if (tools.size >= MAX_TOOLS) throw new InvalidOptionsError('createToolRegistry.tools', `At most ${MAX_TOOLS} tools per registry`);
      tools.set(tool.name, { tool, policy: timeout(tool.timeoutMs ?? defaultTimeoutMs) });
      specs = [...tools.values()].map(({ tool: t }) => toToolSpec(t));
    },
    get: (name) => tools.get(name)?.tool,
    names: () => [...tools.keys()],
    specs: () => specs,
    execute(call, ctx) {
      return withSpan('tool', `execute_tool ${call.name}`, async (span: Span) => {
        const started = performance.now();
        span.setTool(call.name).setInput(call.input).setAttribute('gen_ai.tool.call.id', call.id);
        const result = await runOne(call, ctx.signal);
        if (result.ok) {
          span.setOutput(result.data);
        } else {
          span.recordError(Object.assign(new Error(result.error.message), { name: 'ToolError', code: result.error.code }));
        }
        if (options.onCall) {
          try {
            options.onCall({ tool: call.name, ok: result.ok, ...(result.ok ? {} : { code: result.error.code }), durationMs: performance.now() - started });
          } catch {
            // A metrics listener's failure must not turn a tool result into a failed run.
          }
        }
        return result;
      });
    },
  };

  async function runOne(call: ToolCall, signal: AbortSignal): Promise<ToolResult> {
    const entry = tools.get(call.name);
    if (!entry) {
      const known = [...tools.keys()].join(', ') || 'none';
      return toolError('UNKNOWN_TOOL', `There is no tool named "${call.name}". Available tools: ${known}`);
    }
    const input = parseToolInput(entry.tool, call.input);
    if (!input.ok) return input;
    try {
      const result = await entry.policy.execute((c) => entry.tool.execute(input.data, { signal: c.signal }), signal);
      if (!result || typeof result !== 'object' || typeof (result as { ok?: unknown }).ok !== 'boolean') {
        return toolError('TOOL_FAILED', `Tool "${call.name}" returned no result object`);
      }
      return result;
    } catch (thrown) {
      if (isTimeoutError(thrown)) return toolError('TIMEOUT', `Tool "${call.name}" did not finish within ${entry.policy.timeoutMs} ms`, true);
      if (isCancelledError(thrown) || signal.aborted) return toolError('CANCELLED', `Tool "${call.name}" was cancelled`);
      const err = toError(thrown);
      return toolError('TOOL_FAILED', `Tool "${call.name}" failed: ${err.name}: ${err.message}`, false);
    }
  }

  for (const tool of options.tools ?? []) registry.register(tool);
  return registry;
}
