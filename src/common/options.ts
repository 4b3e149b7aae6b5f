/**
 * Option validation shared by every factory: unknown keys and out-of-range values throw
 * {@link InvalidOptionsError} at construction, naming the option and the value (p-retry style).
 */
import { InvalidOptionsError } from './errors.js';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  return Array.isArray(value) ? 'an array' : 'an object';
}

/** Throws when `options` is not a plain object or has a key outside `allowed`. */
export function assertKnownKeys(where: string, options: unknown, allowed: readonly string[]): void {
  if (options === undefined) return;
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionsError(where, `Expected ${where} options to be an object, got ${show(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new InvalidOptionsError(`${where}.${key}`, `Unknown option \`${key}\` for ${where} (known: ${allowed.join(', ')})`);
    }
  }
}

interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  /** Allow Infinity (e.g. "no timeout"). */
  allowInfinity?: boolean;
}

/** Throws unless `value` is a number within the rule. Returns it, for use in assignments. */
export function assertNumber(where: string, name: string, value: unknown, rule: NumberRule = {}): number {
  const path = `${where}.${name}`;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (Number.isFinite(value) || (rule.allowInfinity === true && value === Infinity)) &&
    (!rule.integer || Number.isInteger(value) || value === Infinity) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.max === undefined || value <= rule.max);
  if (!ok) {
    const kind = rule.integer ? 'an integer' : 'a finite number';
    const range =
      rule.min !== undefined && rule.max !== undefined
        ? ` between ${rule.min} and ${rule.max}`
        : rule.min !== undefined
          ? ` >= ${rule.min}`
          : rule.max !== undefined
            ? ` <= ${rule.max}`
            : '';
    throw new InvalidOptionsError(path, `Expected \`${name}\` to be ${kind}${range}, got ${show(value)}`);
  }
  return value;
}

/** Throws unless `value` is a function. */
export function assertFunction(where: string, name: string, value: unknown): void {
  if (typeof value !== 'function') {
    throw new InvalidOptionsError(`${where}.${name}`, `Expected \`${name}\` to be a function, got ${show(value)}`);
  }
}

/** Throws unless `value` is one of `allowed`. */
export function assertOneOf<T extends string>(where: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidOptionsError(`${where}.${name}`, `Expected \`${name}\` to be one of ${allowed.join(', ')}, got ${show(value)}`);
  }
  return value as T;
}

/** Throws unless `value` is a non-empty string of at most `maxLength` characters. */
export function assertString(where: string, name: string, value: unknown, maxLength = 200): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > maxLength) {
    throw new InvalidOptionsError(
      `${where}.${name}`,
      `Expected \`${name}\` to be a non-empty string of at most ${maxLength} characters, got ${show(value)}`,
    );
  }
  return value;
}
