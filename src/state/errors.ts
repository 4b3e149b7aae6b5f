/**
 * Errors of the state manager. A value that cannot be stored is the caller's fault; the messages name the
 * collection and the reason, never the key or the value.
 */
import { AgentexError } from '../common/errors.js';

/** The value is not JSON: a cycle, a BigInt, a function, a symbol, or a non-finite number. */
export class ValueNotSerializableError extends AgentexError {
  readonly code = 'VALUE_NOT_SERIALIZABLE';
  readonly fault = 'caller';

  constructor(
    readonly collection: string,
    readonly reason: string,
  ) {
    super(`A value for collection "${collection}" is not JSON-serialisable: ${reason}`);
  }
}

/** The value's JSON is larger than the size cap. */
export class ValueTooLargeError extends AgentexError {
  readonly code = 'VALUE_TOO_LARGE';
  readonly fault = 'caller';

  constructor(
    readonly collection: string,
    readonly bytes: number,
    readonly maxBytes: number,
  ) {
    super(`A value for collection "${collection}" is ${bytes} bytes of JSON; the cap is ${maxBytes}`);
  }
}

export function isValueNotSerializableError(err: unknown): err is ValueNotSerializableError {
  return err instanceof ValueNotSerializableError;
}

export function isValueTooLargeError(err: unknown): err is ValueTooLargeError {
  return err instanceof ValueTooLargeError;
}
