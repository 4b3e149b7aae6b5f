/**
 * A conservative static check that a regular expression cannot backtrack catastrophically, for patterns that
 * operators configure (`AGENTEX_REDACT_PATTERNS`) and that then run over every string of every trace and log line.
 * It refuses, without running the pattern:
 * - backreferences (`\1`, `\k<name>`): matching them is not linear in any engine without them;
 * - a repeated group holding another repeat when either is unbounded (star height > 1: `(a+)+`, `(\w*\s?)*`);
 * - a repeated group whose alternatives can start with the same character (`(a|ab)*`, `(\d|1)+`), or that can
 *   match empty text under an unbounded repeat (`(a?)*`, `(a|)+`);
 * - two adjacent unbounded repeats over overlapping characters (`\d+\d*`, `.*.*`): polynomial blow-up.
 * It may refuse some safe patterns (it reasons on first characters only); it never runs user input.
 */

/** The verdict: `ok`, or the reason a pattern is refused. */
export type RegexSafety = { ok: true } | { ok: false; reason: string };

/** ASCII bitmap plus one bit for "any non-ASCII character". */
class CharSet {
  readonly bits = new Uint32Array(4);
  other = false;

  add(code: number): this {
    if (code < 128) this.bits[code >> 5]! |= 1 << (code & 31);
    else this.other = true;
    return this;
  }
  addRange(from: number, to: number): this {
    for (let c = from; c <= Math.min(to, 127); c++) this.add(c);
    if (to >= 128) this.other = true;
    return this;
  }
  union(o: CharSet): this {
    for (let i = 0; i < 4; i++) this.bits[i]! |= o.bits[i]!;
    this.other ||= o.other;
    return this;
  }
  invert(): this {
    for (let i = 0; i < 4; i++) this.bits[i] = ~this.bits[i]! >>> 0;
    this.other = true;
    return this;
  }
  overlaps(o: CharSet): boolean {
    for (let i = 0; i < 4; i++) if ((this.bits[i]! & o.bits[i]!) !== 0) return true;
    return this.other && o.other;
  }
  static any(): CharSet {
    return new CharSet().invert();
  }
}

interface Atom {
  kind: 'set' | 'group' | 'assert';
  set?: CharSet;
  alts?: Atom[][];
  min: number;
  max: number;
}

class Refused extends Error {}

const DIGIT = new CharSet().addRange(48, 57);
const WORD = new CharSet().addRange(48, 57).addRange(65, 90).addRange(97, 122).add(95);
const SPACE = new CharSet().add(9).add(10).add(11).add(12).add(13).add(32).add(0xa0);

function escapeSet(c: string): CharSet | null {
  switch (c) {
    case 'd':
      return new CharSet().union(DIGIT);
    case 'D':
      return new CharSet().union(DIGIT).invert();
    case 'w':
      return new CharSet().union(WORD);
    case 'W':
      return new CharSet().union(WORD).invert();
    case 's':
      return new CharSet().union(SPACE);
    case 'S':
      return new CharSet().union(SPACE).invert();
    default:
      return null;
  }
}

/** The character an escape like `\n`, `\x41`, `\u0041` or `\.` stands for (an approximation is enough here). */
function escapeChar(src: string, i: number): { code: number; next: number } {
  const c = src[i]!;
  const simple: Record<string, number> = { n: 10, r: 13, t: 9, f: 12, v: 11, '0': 0 };
  if (c in simple) return { code: simple[c]!, next: i + 1 };
  if (c === 'x' && /^[0-9a-fA-F]{2}/.test(src.slice(i + 1))) return { code: parseInt(src.slice(i + 1, i + 3), 16), next: i + 3 };
  if (c === 'u' && /^[0-9a-fA-F]{4}/.test(src.slice(i + 1))) return { code: parseInt(src.slice(i + 1, i + 5), 16), next: i + 5 };
  if (c === 'c') return { code: 0, next: i + 2 };
  return { code: c.charCodeAt(0), next: i + 1 };
}

class Parser {
  i = 0;
  constructor(private readonly src: string) {}

  parseAlts(): Atom[][] {
    const alts: Atom[][] = [[]];
    while (this.i < this.src.length) {
      const c = this.src[this.i]!;
      if (c === ')') break;
      if (c === '|') {
        this.i++;
        alts.push([]);
        continue;
      }
      const atom = this.parseAtom();
      this.parseQuantifier(atom);
      alts[alts.length - 1]!.push(atom);
    }
    return alts;
  }

  private parseAtom(): Atom {
    const src = this.src;
    const c = src[this.i]!;
    if (c === '(') {
      this.i++;
      let kind: Atom['kind'] = 'group';
      if (src.startsWith('?:', this.i)) this.i += 2;
      else if (src.startsWith('?=', this.i) || src.startsWith('?!', this.i)) {
        this.i += 2;
        kind = 'assert';
      } else if (src.startsWith('?<=', this.i) || src.startsWith('?<!', this.i)) {
        this.i += 3;
        kind = 'assert';
      } else if (src.startsWith('?<', this.i)) this.i = src.indexOf('>', this.i) + 1;
      const alts = this.parseAlts();
      this.i++; // ')'
      return { kind, alts, min: 1, max: 1 };
    }
    if (c === '[') return { kind: 'set', set: this.parseClass(), min: 1, max: 1 };
    if (c === '^' || c === '$') {
      this.i++;
      return { kind: 'assert', min: 1, max: 1 };
    }
    if (c === '.') {
      this.i++;
      return { kind: 'set', set: CharSet.any(), min: 1, max: 1 };
    }
    if (c === '\\') {
      const e = src[this.i + 1]!;
      if (/[1-9]/.test(e) || e === 'k') throw new Refused('it uses a backreference');
      if (e === 'b' || e === 'B') {
        this.i += 2;
        return { kind: 'assert', min: 1, max: 1 };
      }
      const set = escapeSet(e);
      if (set) {
        this.i += 2;
        return { kind: 'set', set, min: 1, max: 1 };
      }
      const { code, next } = escapeChar(src, this.i + 1);
      this.i = next;
      return { kind: 'set', set: new CharSet().add(code), min: 1, max: 1 };
    }
    this.i++;
    return { kind: 'set', set: new CharSet().add(c.charCodeAt(0)), min: 1, max: 1 };
  }

  private parseClass(): CharSet {
    const src = this.src;
    this.i++; // '['
    const negated = src[this.i] === '^';
    if (negated) this.i++;
    const set = new CharSet();
    while (this.i < src.length && src[this.i] !== ']') {
      let code: number;
      if (src[this.i] === '\\') {
        const named = escapeSet(src[this.i + 1]!);
        if (named) {
          set.union(named);
          this.i += 2;
          continue;
        }
        const e = escapeChar(src, this.i + 1);
        code = e.code;
        this.i = e.next;
      } else {
        code = src.charCodeAt(this.i);
        this.i++;
      }
      if (src[this.i] === '-' && src[this.i + 1] !== ']' && this.i + 1 < src.length) {
        this.i++;
        let to: number;
        if (src[this.i] === '\\') {
          const e = escapeChar(src, this.i + 1);
          to = e.code;
          this.i = e.next;
        } else {
          to = src.charCodeAt(this.i);
          this.i++;
        }
        set.addRange(code, to);
      } else set.add(code);
    }
    this.i++; // ']'
    return negated ? set.invert() : set;
  }

  private parseQuantifier(atom: Atom): void {
    const src = this.src;
    const c = src[this.i];
    let min = 1;
    let max = 1;
    if (c === '*') [min, max] = [0, Infinity];
    else if (c === '+') [min, max] = [1, Infinity];
    else if (c === '?') [min, max] = [0, 1];
    else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(src.slice(this.i));
      if (!m) return;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      this.i += m[0].length - 1;
    } else return;
    this.i++;
    if (src[this.i] === '?') this.i++; // lazy: same backtracking
    atom.min = atom.min * min;
    atom.max = atom.max * max;
  }
}

function nullableSeq(seq: readonly Atom[]): boolean {
  return seq.every(nullable);
}
function nullable(a: Atom): boolean {
  if (a.kind === 'assert' || a.min === 0) return true;
  return a.kind === 'group' ? a.alts!.some(nullableSeq) : false;
}

function firstSeq(seq: readonly Atom[]): CharSet {
  const out = new CharSet();
  for (const a of seq) {
    out.union(first(a));
    if (!nullable(a)) break;
  }
  return out;
}
function first(a: Atom): CharSet {
  if (a.kind === 'set') return a.set!;
  if (a.kind === 'assert') return new CharSet();
  const out = new CharSet();
  for (const alt of a.alts!) out.union(firstSeq(alt));
  return out;
}

/** The largest `max` of a repeat inside `a`'s body (not `a` itself). */
function innerRepeat(a: Atom): { repeats: boolean; unbounded: boolean } {
  let repeats = false;
  let unbounded = false;
  for (const alt of a.alts ?? []) {
    for (const b of alt) {
      if (b.max > 1) {
        repeats = true;
        if (b.max === Infinity) unbounded = true;
      }
      const inner = innerRepeat(b);
      repeats ||= inner.repeats;
      unbounded ||= inner.unbounded;
    }
  }
  return { repeats, unbounded };
}

function check(seq: readonly Atom[]): void {
  for (let k = 0; k < seq.length; k++) {
    const a = seq[k]!;
    if (a.kind !== 'set') {
      if (a.kind === 'group' && a.max > 1) {
        const inner = innerRepeat(a);
        if (inner.repeats && (inner.unbounded || a.max === Infinity)) throw new Refused('a repeated group holds another repeat (like (a+)+)');
        if (a.max === Infinity && a.alts!.some(nullableSeq)) throw new Refused('a repeated group can match empty text (like (a?)*)');
        const firsts = a.alts!.map(firstSeq);
        for (let x = 0; x < firsts.length; x++) {
          for (let y = x + 1; y < firsts.length; y++) {
            if (firsts[x]!.overlaps(firsts[y]!)) throw new Refused('a repeated group has alternatives that can start alike (like (a|ab)*)');
          }
        }
      }
      for (const alt of a.alts ?? []) check(alt);
    }
    const next = seq[k + 1];
    if (next && a.max === Infinity && next.max === Infinity && first(a).overlaps(first(next))) {
      throw new Refused('two adjacent unbounded repeats can match the same text (like \\d+\\d*)');
    }
  }
}

/**
 * Checks that `source` is a valid JavaScript regular expression (compiled with the `g` flag) that cannot backtrack
 * catastrophically, by the rules in this module's comment. Never throws.
 * @example regexSafety('(a+)+$') // { ok: false, reason: 'a repeated group holds another repeat (like (a+)+)' }
 */
export function regexSafety(source: string): RegexSafety {
  try {
    new RegExp(source, 'g');
  } catch (err) {
    return { ok: false, reason: `it is not a valid regular expression (${(err as Error).message.replace(/^Invalid regular expression: /, '')})` };
  }
  try {
    const parser = new Parser(source);
    const alts = parser.parseAlts();
    for (const alt of alts) check(alt);
    if (alts.length === 1 && alts[0]!.length === 0) return { ok: false, reason: 'it is empty' };
    if (new RegExp(source, 'g').test('')) return { ok: false, reason: 'it matches empty text' };
    return { ok: true };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, reason: `it can backtrack catastrophically: ${err.message}` };
    return { ok: false, reason: 'it could not be checked' };
  }
}
