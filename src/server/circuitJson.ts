/**
 * The JSON body of `GET /api/circuits`, written field by field.
 *
 * Why not `JSON.stringify`: on Node 20 (V8 11) it walks each object generically and escapes every key again on each
 * call; for five circuits (1.8 KB) that was the largest single cost of the route — callgrind: ~65k of the 265k
 * instructions of a request, more than the rest of the service's middleware together. Here the keys are constants
 * and only values are rendered. The output is byte-for-byte what `JSON.stringify({ circuits })` gives for the same
 * views (property-tested; a non-finite number becomes `null` in both), with one deliberate difference: a property
 * that {@link CircuitView} does not declare is never written, where `JSON.stringify` would pass it through.
 */
import type { CircuitView } from './app.js';

/** Strings that need no escaping in JSON (the common case: circuit names, states, policies). */
const PLAIN = /^[\w .:/@-]*$/;

const str = (s: string): string => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
const nullableStr = (s: string | null): string => (s === null ? 'null' : str(s));
/** A number as JSON writes it: `String(n)` for finite numbers (including `-0` → `0`), else `null`. */
const num = (n: number): string => (Number.isFinite(n) ? `${n}` : 'null');
const nullableNum = (n: number | null): string => (n === null ? 'null' : num(n));

function circuit(v: CircuitView): string {
  const c = v.counts;
  const w = v.window;
  return (
    `{"name":${str(v.name)},"state":${str(v.state)},"policy":${str(v.policy)},` +
    `"counts":{"calls":${num(c.calls)},"successes":${num(c.successes)},"failures":${num(c.failures)},` +
    `"timeouts":${num(c.timeouts)},"rejections":${num(c.rejections)},"ignored":${num(c.ignored)},"slowCalls":${num(c.slowCalls)}},` +
    `"consecutiveFailures":${num(v.consecutiveFailures)},` +
    `"window":${w === null ? 'null' : `{"calls":${num(w.calls)},"failures":${num(w.failures)},"slow":${num(w.slow)}}`},` +
    `"cooldownRemainingMs":${num(v.cooldownRemainingMs)},"lastFailureAt":${nullableNum(v.lastFailureAt)},` +
    `"lastSuccessAt":${nullableNum(v.lastSuccessAt)},"lastError":${nullableStr(v.lastError)},` +
    `"probesInFlight":${num(v.probesInFlight)},"generation":${num(v.generation)},"failureRate":${num(v.failureRate)},` +
    `"lastStateChangeAt":${nullableNum(v.lastStateChangeAt)}}`
  );
}

/** `{"circuits":[...]}` for these views. */
export function circuitListJson(views: readonly CircuitView[]): string {
  let out = '{"circuits":[';
  for (let i = 0; i < views.length; i++) out += i === 0 ? circuit(views[i]!) : `,${circuit(views[i]!)}`;
  return `${out}]}`;
}
