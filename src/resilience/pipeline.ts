/**
 * `pipeline(a, b, c)`: one policy that runs `fn` inside c, inside b, inside a (the first policy is the outermost).
 */
import { InvalidOptionsError } from '../common/errors.js';
import type { ExecuteContext, GuardedFn, Policy, Scope, ScopedPolicy } from './context.js';
import { RUN, invoke, runIn, scopeOf } from './context.js';

function isScope(ctx: ExecuteContext): ctx is Scope {
  return typeof (ctx as Partial<Scope>).listen === 'function';
}

class Pipeline implements ScopedPolicy {
  constructor(readonly policies: readonly Policy[]) {}

  execute<T>(fn: GuardedFn<T>, signal?: AbortSignal): Promise<T> {
    return this[RUN](fn, scopeOf(signal));
  }

  [RUN]<T>(fn: GuardedFn<T>, scope: Scope): Promise<T> {
    return this.layer(0, fn, scope);
  }

  private layer<T>(i: number, fn: GuardedFn<T>, scope: Scope): Promise<T> {
    const policy = this.policies[i];
    if (policy === undefined) return invoke(fn, scope);
    const inner =
      i === this.policies.length - 1 ? fn : (ctx: ExecuteContext): Promise<T> => this.layer(i + 1, fn, isScope(ctx) ? ctx : scopeOf(ctx.signal));
    return runIn(policy, inner, scope);
  }
}

/**
 * Composes policies into one: `pipeline(retry(), breaker, timeout(5_000)).execute(fn)` retries calls that go
 * through the breaker, each attempt bounded by the timeout. Policies of this module pass a lazy cancellation scope
 * to each other, so the composition adds no AbortController and no listener unless the function reads
 * `ctx.signal` or the caller passes a signal. Any object with `execute(fn, signal)` can take part.
 * With no policy, the pipeline just runs the function.
 * @throws InvalidOptionsError when an argument is not a policy.
 */
export function pipeline(...policies: Policy[]): ScopedPolicy {
  policies.forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof (p as Partial<Policy>).execute !== 'function') {
      throw new InvalidOptionsError(`pipeline[${i}]`, `Expected pipeline argument ${i} to be a policy with execute(), got ${p === null ? 'null' : typeof p}`);
    }
  });
  return new Pipeline([...policies]);
}
