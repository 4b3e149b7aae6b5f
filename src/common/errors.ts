/**
 * The root of AgentEx's error taxonomy. Every error the library throws extends {@link AgentexError}, carries a stable
 * `code` string, and says whose fault it is: `caller` (bad input or options — do not retry) or `system` (a dependency
 * or the environment failed — may be transient).
 */
export type ErrorFault = 'caller' | 'system';

export abstract class AgentexError extends Error {
  abstract readonly code: string;
  abstract readonly fault: ErrorFault;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Options given to a factory or constructor were invalid. The message names the option and the value. */
export class InvalidOptionsError extends AgentexError {
  readonly code = 'INVALID_OPTIONS';
  readonly fault = 'caller';

  constructor(
    /** Dotted path of the offending option, e.g. `circuitBreaker.threshold`. */
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

/** Input (an id, a filter, a value to store) failed validation. `field` names what was wrong. */
export class ValidationError extends AgentexError {
  readonly code = 'VALIDATION';
  readonly fault = 'caller';

  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export function isAgentexError(err: unknown): err is AgentexError {
  return err instanceof AgentexError;
}

export function isInvalidOptionsError(err: unknown): err is InvalidOptionsError {
  return err instanceof InvalidOptionsError;
}

export function isValidationError(err: unknown): err is ValidationError {
  return err instanceof ValidationError;
}

/** Turns anything thrown into an Error: guarded functions may throw strings, numbers or plain objects. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  let text: string;
  try {
    text = typeof thrown === 'string' ? thrown : JSON.stringify(thrown) ?? String(thrown);
  } catch {
    text = Object.prototype.toString.call(thrown);
  }
  return new Error(`non-Error thrown: ${text.length > 200 ? `${text.slice(0, 200)}…` : text}`, { cause: thrown });
}
