/**
 * Resilience benchmark: AgentEx against cockatiel 3 and opossum 9, same process, same run, rounds interleaved so a
 * noisy neighbour hits every contender alike. Reports ns/op, overhead over a bare `await fn()`, the ratio to
 * cockatiel's overhead, and heap growth after 1e6 calls (after a full GC).
 */
import {
  ConsecutiveBreaker,
  ExponentialBackoff,
  TimeoutStrategy,
  circuitBreaker as cockatielBreaker,
  handleAll,
  retry as cockatielRetry,
  timeout as cockatielTimeout,
  wrap,
} from 'cockatiel';
import Opossum from 'opossum';
import { circuitBreaker, pipeline, retry, timeout } from '../src/resilience/index.js';
import { formatBytes, formatNs, heapAfterGc, median, table, type BenchSuite } from './lib.js';

type Op = () => Promise<unknown>;

interface Contender {
  name: string;
  op: Op;
}

/**
 * Runs every contender `rounds` times, interleaved, and returns the median ns/op of each. Each contender's batch size
 * is calibrated so one round takes about `budgetMs`: slow competitors do not stretch the run to minutes.
 */
async function interleaved(contenders: readonly Contender[], budgetMs: number, rounds: number): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const c of contenders) {
    const start = process.hrtime.bigint();
    let n = 0;
    // Warm up (and calibrate) for about a budget's worth of time.
    while (Number(process.hrtime.bigint() - start) < budgetMs * 1e6 || n < 200) {
      await c.op();
      n++;
    }
    const perOp = Number(process.hrtime.bigint() - start) / n;
    sizes.set(c.name, Math.max(100, Math.round((budgetMs * 1e6) / perOp)));
  }
  const samples = new Map<string, number[]>(contenders.map((c) => [c.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const c of contenders) {
      const op = c.op;
      const iterations = sizes.get(c.name)!;
      const start = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await op();
      samples.get(c.name)!.push(Number(process.hrtime.bigint() - start) / iterations);
    }
  }
  return new Map([...samples].map(([k, v]) => [k, median(v)]));
}

const FAILURE = new Error('dependency failed');
const ok = async (): Promise<number> => 1;
const failing = async (): Promise<never> => {
  throw FAILURE;
};
const swallow = (): number => 0;
const NEVER_OPENS = 1e9;
const LONG = 1e9;

function agentexBreaker(threshold = 3) {
  return circuitBreaker({ name: 'bench', threshold, cooldownMs: 2_000_000_000 });
}
function cockatiel(threshold = 3) {
  return cockatielBreaker(handleAll, { halfOpenAfter: LONG, breaker: new ConsecutiveBreaker(threshold) });
}
function opossum(action: () => Promise<unknown>) {
  return new Opossum(action, { timeout: false, resetTimeout: LONG, errorThresholdPercentage: 100, volumeThreshold: NEVER_OPENS });
}
function agentexStack() {
  return pipeline(retry({ maxAttempts: 3, baseDelayMs: 1000 }), agentexBreaker(), timeout(30_000));
}
function cockatielStack() {
  return wrap(
    cockatielRetry(handleAll, { maxAttempts: 2, backoff: new ExponentialBackoff({ initialDelay: 1000 }) }),
    cockatiel(),
    cockatielTimeout(30_000, TimeoutStrategy.Cooperative),
  );
}

/**
 * Heap growth over `calls` calls, after a warm-up long enough for the JIT to settle (code space counts in heapUsed).
 * Median of `repeats` consecutive measurements: a single after-GC delta wobbles by ±0.2 MB on its own.
 */
async function heapGrowth(op: Op, calls: number, repeats: number): Promise<number> {
  for (let i = 0; i < Math.min(calls, 100_000); i++) await op();
  const deltas: number[] = [];
  let before = await heapAfterGc();
  for (let r = 0; r < repeats; r++) {
    for (let i = 0; i < calls; i++) await op();
    const after = await heapAfterGc();
    deltas.push(after - before);
    before = after;
  }
  return median(deltas);
}

const suite: BenchSuite = {
  name: 'resilience',
  title: 'Resilience policies: AgentEx vs cockatiel 3 vs opossum 9',
  async run({ smoke }) {
    const budgetMs = smoke ? 5 : 200;
    const rounds = smoke ? 1 : 9;
    const heapCalls = smoke ? 10_000 : 1_000_000;

    const ab = agentexBreaker();
    const cb = cockatiel();
    const ob = opossum(ok);
    const as = agentexStack();
    const cs = cockatielStack();

    // Heap growth after 1e6 calls, after GC — measured first, before the timing runs leave garbage and code behind.
    const repeats = smoke ? 1 : 3;
    const heapA = await heapGrowth(() => ab.execute(ok), heapCalls, repeats);
    const heapAs = await heapGrowth(() => as.execute(ok), heapCalls, repeats);
    const heapC = await heapGrowth(() => cb.execute(ok), heapCalls, repeats);
    const heapO = await heapGrowth(() => ob.fire(), heapCalls, repeats);

    // 1. closed breaker, success
    const success = await interleaved(
      [
        { name: 'bare', op: () => ok() },
        { name: 'agentex', op: () => ab.execute(ok) },
        { name: 'cockatiel', op: () => cb.execute(ok) },
        { name: 'opossum', op: () => ob.fire() },
      ],
      budgetMs,
      rounds,
    );

    // 2. retry + breaker + timeout, success
    const stack = await interleaved(
      [
        { name: 'bare', op: () => ok() },
        { name: 'agentex', op: () => as.execute(ok) },
        { name: 'cockatiel', op: () => cs.execute(ok) },
      ],
      budgetMs,
      rounds,
    );

    // 3. timeout alone, success (the function reads its signal in the second AgentEx row)
    const at = timeout(30_000);
    const ct = cockatielTimeout(30_000, TimeoutStrategy.Cooperative);
    const timeouts = await interleaved(
      [
        { name: 'bare', op: () => ok() },
        { name: 'agentex', op: () => at.execute(ok) },
        { name: 'agentex (fn reads ctx.signal)', op: () => at.execute(({ signal }) => (signal.aborted ? 0 : ok())) },
        { name: 'cockatiel', op: () => ct.execute(ok) },
      ],
      budgetMs,
      rounds,
    );

    // 4. failing call through a closed breaker (the error is pre-built: we time the breaker, not stack capture)
    const af = agentexBreaker(NEVER_OPENS);
    const cf = cockatiel(NEVER_OPENS);
    const of = opossum(failing);
    const failure = await interleaved(
      [
        { name: 'bare', op: () => failing().catch(swallow) },
        { name: 'agentex', op: () => af.execute(failing).catch(swallow) },
        { name: 'cockatiel', op: () => cf.execute(failing).catch(swallow) },
        { name: 'opossum', op: () => of.fire().catch(swallow) },
      ],
      budgetMs,
      rounds,
    );

    // 5. rejection while open
    const ao = agentexBreaker(1);
    await ao.execute(failing).catch(swallow);
    const co = cockatiel(1);
    await co.execute(failing).catch(swallow);
    const oo = opossum(ok);
    oo.open();
    const open = await interleaved(
      [
        { name: 'agentex', op: () => ao.execute(ok).catch(swallow) },
        { name: 'cockatiel', op: () => co.execute(ok).catch(swallow) },
        { name: 'opossum', op: () => oo.fire().catch(swallow) },
      ],
      budgetMs,
      rounds,
    );

    for (const b of [ob, of, oo]) b.shutdown();

    const over = (m: Map<string, number>, k: string) => m.get(k)! - m.get('bare')!;
    const signed = (ns: number) => `${ns >= 0 ? '+' : '−'}${formatNs(Math.abs(ns))}`;
    const ratio = (a: number, c: number) => (c > 0 ? `${(a / c).toFixed(3)} (1/${(c / Math.max(a, 1)).toFixed(1)})` : 'n/a');
    const verdict = (met: boolean) => (met ? 'met' : '**missed**');

    const rows: string[][] = [];
    {
      const a = over(success, 'agentex');
      const c = over(success, 'cockatiel');
      rows.push([
        'breaker, closed, success',
        `${formatNs(success.get('bare')!)}`,
        `${formatNs(success.get('agentex')!)} (${signed(a)})`,
        `${formatNs(success.get('cockatiel')!)} (${signed(c)})`,
        `${formatNs(success.get('opossum')!)} (${signed(over(success, 'opossum'))})`,
        ratio(a, c),
        `≤ 1.0×: ${verdict(a <= c)}`,
      ]);
    }
    {
      const a = over(stack, 'agentex');
      const c = over(stack, 'cockatiel');
      rows.push([
        'retry + breaker + timeout, closed, success',
        formatNs(stack.get('bare')!),
        `${formatNs(stack.get('agentex')!)} (${signed(a)})`,
        `${formatNs(stack.get('cockatiel')!)} (${signed(c)})`,
        'n/a',
        ratio(a, c),
        `≤ 1/10: ${verdict(a <= c / 10)}`,
      ]);
    }
    {
      const a = over(failure, 'agentex');
      const c = over(failure, 'cockatiel');
      rows.push([
        'failing call through a closed breaker',
        formatNs(failure.get('bare')!),
        `${formatNs(failure.get('agentex')!)} (${signed(a)})`,
        `${formatNs(failure.get('cockatiel')!)} (${signed(c)})`,
        `${formatNs(failure.get('opossum')!)} (${signed(over(failure, 'opossum'))})`,
        ratio(a, c),
        `≤ 1.0×: ${verdict(a <= c)}`,
      ]);
    }
    {
      const a = open.get('agentex')!;
      const c = open.get('cockatiel')!;
      rows.push([
        'rejection while open (absolute)',
        '—',
        formatNs(a),
        formatNs(c),
        formatNs(open.get('opossum')!),
        ratio(a, c),
        `≤ 1/5: ${verdict(a <= c / 5)}`,
      ]);
    }
    rows.push([
      `heap growth after ${heapCalls.toExponential(0)} calls (after GC, median of ${repeats})`,
      '—',
      `${formatBytes(heapA)} (stack: ${formatBytes(heapAs)})`,
      formatBytes(heapC),
      formatBytes(heapO),
      '—',
      `< 1 MB: ${verdict(Math.max(heapA, heapAs) < 1024 * 1024)}`,
    ]);

    const main = table(['case', 'bare `await fn()`', 'AgentEx', 'cockatiel', 'opossum', 'AgentEx / cockatiel overhead', 'goal'], rows);
    const timeoutTable = table(
      ['timeout(30 s), call finishes in time', 'ns/op', 'overhead'],
      [
        ['bare `await fn()`', formatNs(timeouts.get('bare')!), '—'],
        ['AgentEx `timeout`', formatNs(timeouts.get('agentex')!), signed(over(timeouts, 'agentex'))],
        ['AgentEx `timeout`, fn reads `ctx.signal`', formatNs(timeouts.get('agentex (fn reads ctx.signal)')!), signed(over(timeouts, 'agentex (fn reads ctx.signal)'))],
        ['cockatiel `timeout` (cooperative)', formatNs(timeouts.get('cockatiel')!), signed(over(timeouts, 'cockatiel'))],
      ],
    );
    const notes = [
      `Medians of ${rounds} interleaved rounds of ~${budgetMs} ms each per contender (batch size calibrated per contender).`,
      'Overhead = ns/op − bare `await fn()` measured in the same rounds. The failing',
      'function throws a pre-built Error, so the numbers time the policy, not stack capture. Stacks: AgentEx',
      '`pipeline(retry(), breaker, timeout(30 s))`; cockatiel `wrap(retry, breaker, timeout(30 s, cooperative))`.',
      'opossum runs with `timeout: false` (its own timer per call would otherwise dominate).',
      smoke ? '\n**Smoke run: numbers are meaningless.**' : '',
    ].join('\n');
    return { markdown: `${main}\n\n${timeoutTable}\n\n${notes}` };
  },
};

export default suite;
