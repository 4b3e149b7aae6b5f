/** The tool formats the model interface speaks: a tool as the model sees it, and a call the model asks for. */

/** A tool call the model asked for. `input` is the parsed arguments (or the raw string when they were not JSON). */
export interface ToolCall {
  readonly id: string;
  readonly name: string;
  readonly input: unknown;
}

/** A tool as the model sees it: `inputSchema` is a JSON Schema object (`type: 'object'`). */
export interface ToolSpec {
  readonly name: string;
  readonly description: string;
  readonly inputSchema: Record<string, unknown>;
}
