import { describe, expect, it } from 'vitest';
import { regexSafety } from './safeRegex.js';

describe('regexSafety', () => {
  const safe = [
    'TICKET-\\d{4}',
    'CUST-[A-Z]{2}\\d{6}',
    '\\bacme_[A-Za-z0-9]{32}\\b',
    '(?:\\d{3}-){2}\\d{4}',
    '(?:[a-z]+\\.)?example\\.com',
    '(?<=secret: )\\S+',
    '[^\\s"]+@corp\\.internal',
    'x(?:ab|cd)+y',
    '\\d+-\\d+',
    '(?<id>EMP\\d{5})',
    '[\\]\\\\]{3}',
  ];
  for (const source of safe) {
    it(`accepts ${source}`, () => expect(regexSafety(source)).toEqual({ ok: true }));
  }

  const refused: [string, RegExp][] = [
    ['(a+)+$', /another repeat/],
    ['(a*)*', /another repeat/],
    ['(?:\\w+\\s?)*x', /another repeat/],
    ['([a-z]+)*@', /another repeat/],
    ['(a{1,5}){2,}', /another repeat/],
    ['(a|ab)*c', /start alike/],
    ['(\\d|1)+', /start alike/],
    ['(?:a|[a-c])+', /start alike/],
    ['(.|\\s)*', /start alike/],
    ['(a?)*b', /empty text/],
    ['(a|)+b', /empty text|start alike/],
    ['\\d+\\d*', /adjacent/],
    ['.*.*=', /adjacent/],
    ['(\\w)\\1', /backreference/],
    ['(?<q>["\'])\\k<q>', /backreference/],
    ['(abc', /not a valid regular expression/],
    ['a{2,1}', /not a valid/],
    ['', /empty/],
    ['a*', /matches empty text/],
  ];
  for (const [source, reason] of refused) {
    it(`refuses ${JSON.stringify(source)}`, () => {
      const v = regexSafety(source);
      expect(v.ok).toBe(false);
      if (!v.ok) expect(v.reason).toMatch(reason);
    });
  }

  it('checks nested groups at any depth', () => {
    expect(regexSafety(`${'(?:'.repeat(50)}a+${')'.repeat(50)}+`).ok).toBe(false);
    expect(regexSafety(`${'(?:x'.repeat(50)}${')'.repeat(50)}`).ok).toBe(true);
  });
});
