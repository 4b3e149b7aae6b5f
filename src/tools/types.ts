/**
 * What a tool is: a name, a description, a zod input schema (sent to the model as JSON Schema) and an `execute`
 * that returns a structured result — never a string whose first word decides success.
 */
import { z } from 'zod';
import { InvalidOptionsError } from '../common/errors.js';
import { assertKnownKeys, assertNumber, assertString } from '../common/options.js';
import type { ToolSpec } from './spec.js';

/** What a tool gets besides its input. The registry adds tracing later; tools must honour `signal`. */
export interface ToolContext {
  /** Aborted on timeout or cancellation; pass it to every fetch or wait. */
  readonly signal: AbortSignal;
}

/** Why a tool failed, in a form the model can read and act on. */
export interface ToolErrorInfo {
  /** Stable machine code, e.g. `INVALID_INPUT`, `BLOCKED_ADDRESS`, `TIMEOUT`. */
  readonly code: string;
  readonly message: string;
  /** Whether trying again later (or with a fallback) may succeed. */
  readonly retryable: boolean;
}

/** A tool's outcome. */
export type ToolResult<T = unknown> = { readonly ok: true; readonly data: T } | { readonly ok: false; readonly error: ToolErrorInfo };

/** A tool, as built by {@link defineTool}. */
export interface Tool<I = unknown, O = unknown> {
  readonly name: string;
  readonly description: string;
  /**
   * The zod schema the input is validated against (its output type is `I`; typed loosely so that any tool is
   * assignable to {@link AnyTool}).
   */
  readonly input: z.ZodType;
  /** JSON Schema of the input (computed once from `input`), `type: 'object'` at the top. */
  readonly inputSchema: Record<string, unknown>;
  /** Per-tool timeout the registry applies (ms); undefined → the registry's default. */
  readonly timeoutMs?: number;
  /** Runs the tool on validated input. Should return error results rather than throw; throwing is tolerated. */
  execute(input: I, context: ToolContext): Promise<ToolResult<O>>;
}

/** Any tool, its input and output types erased: what registries hold. */
export type AnyTool = Tool<never, unknown>;

/** Options of {@link defineTool}. */
export interface ToolDefinition<I, O> {
  /** 1-64 letters, digits, `_` or `-` (what every model API accepts). */
  name: string;
  /** What the tool does and when to use it; the model reads this. */
  description: string;
  /** A zod object schema; `.describe()` on fields becomes the field descriptions the model sees. */
  input: z.ZodType<I>;
  execute(input: I, context: ToolContext): Promise<ToolResult<O>> | ToolResult<O>;
  timeoutMs?: number;
}

/** Tool names every model API accepts. */
export const TOOL_NAME_PATTERN = /^[a-zA-Z0-9_-]{1,64}$/;
/** Longest tool description (characters). */
export const MAX_TOOL_DESCRIPTION_CHARS = 4_000;

/**
 * Defines a tool. The input schema is converted to JSON Schema once, here.
 * @throws InvalidOptionsError for a bad name, an empty description, a schema that is not a zod object (or cannot be
 *   expressed as JSON Schema), or a bad timeout.
 * @example
 * const weather = defineTool({
 *   name: 'weather',
 *   description: 'Current weather for a city',
 *   input: z.object({ city: z.string().describe('City name') }),
 *   async execute({ city }, { signal }) {
 *     const res = await fetch(`https://wttr.in/${encodeURIComponent(city)}?format=3`, { signal });
 *     return res.ok ? toolOk(await res.text()) : toolError('HTTP_ERROR', `HTTP ${res.status}`, res.status >= 500);
 *   },
 * });
 */
export function defineTool<I, O>(definition: ToolDefinition<I, O>): Tool<I, O> {
  const where = 'defineTool';
  assertKnownKeys(where, definition, ['name', 'description', 'input', 'execute', 'timeoutMs']);
  if (definition === undefined) throw new InvalidOptionsError(where, 'defineTool needs a definition');
  const name = definition.name;
  if (typeof name !== 'string' || !TOOL_NAME_PATTERN.test(name)) {
    throw new InvalidOptionsError(`${where}.name`, `Expected \`name\` to be 1-64 letters, digits, _ or -, got ${JSON.stringify(name)}`);
  }
  const description = assertString(where, 'description', definition.description, MAX_TOOL_DESCRIPTION_CHARS);
  if (typeof definition.execute !== 'function') throw new InvalidOptionsError(`${where}.execute`, 'Expected `execute` to be a function');
  if (!(definition.input instanceof z.ZodType)) throw new InvalidOptionsError(`${where}.input`, 'Expected `input` to be a zod schema');
  const timeoutMs = definition.timeoutMs === undefined ? undefined : assertNumber(where, 'timeoutMs', definition.timeoutMs, { min: 1 });
  let schema: Record<string, unknown>;
  try {
    schema = z.toJSONSchema(definition.input, { io: 'input' });
  } catch (err) {
    throw new InvalidOptionsError(`${where}.input`, `Tool "${name}" input schema cannot be expressed as JSON Schema: ${(err as Error).message}`);
  }
  delete schema.$schema;
  if (schema.type !== 'object') {
    throw new InvalidOptionsError(`${where}.input`, `Tool "${name}" input must be a z.object(...) schema (model APIs require an object), got type ${JSON.stringify(schema.type)}`);
  }
  return {
    name,
    description,
    input: definition.input,
    inputSchema: schema,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    async execute(input, context) {
      return definition.execute(input, context);
    },
  };
}

/** A success result. */
export function toolOk<T>(data: T): ToolResult<T> {
  return { ok: true, data };
}

/** An error result (`retryable` defaults to false). */
export function toolError(code: string, message: string, retryable = false): ToolResult<never> {
  return { ok: false, error: { code, message, retryable } };
}

/** Most validation issues listed in an INVALID_INPUT message. */
export const MAX_REPORTED_ISSUES = 10;

/**
 * Validates raw model-provided arguments against a tool's schema. On failure returns an `INVALID_INPUT` error result
 * listing each issue as `path: message`, so the model can correct its call.
 */
export function parseToolInput<I>(tool: Pick<Tool<I, unknown>, 'name' | 'input' | 'execute'>, raw: unknown): ToolResult<I> {
  const parsed = tool.input.safeParse(raw);
  if (parsed.success) return { ok: true, data: parsed.data as I };
  const issues = parsed.error.issues;
  const listed = issues.slice(0, MAX_REPORTED_ISSUES).map((i) => `${i.path.length > 0 ? i.path.join('.') : '(input)'}: ${i.message}`);
  if (issues.length > MAX_REPORTED_ISSUES) listed.push(`…and ${issues.length - MAX_REPORTED_ISSUES} more`);
  return toolError('INVALID_INPUT', `Invalid arguments for tool "${tool.name}": ${listed.join('; ')}`);
}

/** The tool as a model provider needs it. */
export function toToolSpec(tool: Pick<Tool, 'name' | 'description' | 'inputSchema'>): ToolSpec {
  return { name: tool.name, description: tool.description, inputSchema: tool.inputSchema };
}
