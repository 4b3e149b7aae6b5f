/**
 * read_url's HTML-to-text (`readHtml`, htmlparser2's tokenizer with O(1) work per token) against htmlparser2's
 * `Parser` with text callbacks only (the straightforward use) on a realistic article and on pathological 2 MB pages.
 * The `Parser` keeps a stack of open elements with `unshift`/`indexOf`, quadratic on deep nesting: that case is
 * measured on a smaller page for it, and scaled by the square of the size ratio only in the note, never in a cell.
 */
import { Parser } from 'htmlparser2';
import { readHtml } from '../src/tools/html.js';
import { median, table, type BenchSuite } from './lib.js';

const MB2 = 2 * 1024 * 1024;

function article(size: number): string {
  const para = '<p>Circuit breakers stop calling a failing dependency &mdash; <a href="/x?a=1&amp;b=2">read more</a> about <b>bulkheads</b>.</p>\n';
  const head = '<!doctype html><html><head><title>Resilience &amp; tracing</title><style>p{margin:0}</style><script>var x=1</script></head><body><nav>menu</nav><main><h1>Notes</h1>';
  return (head + para.repeat(Math.ceil(size / para.length))).slice(0, size);
}

const CASES: [string, (size: number) => string][] = [
  ['article (realistic)', article],
  ["'<' spam", (n) => '<'.repeat(n)],
  ['unclosed comment', (n) => `<!--${'-'.repeat(n - 4)}`],
  ['unclosed tag, many attributes', (n) => `<div ${'a="b" '.repeat(n / 6)}`.slice(0, n)],
  ['huge attribute', (n) => `<a href="${'x'.repeat(n - 20)}">t</a>`],
  ['deep nesting', (n) => '<div>'.repeat(Math.floor(n / 5))],
];

function timeMs(fn: () => unknown, rounds: number): number {
  const runs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = performance.now();
    fn();
    runs.push(performance.now() - start);
  }
  return median(runs);
}

function parserText(html: string): number {
  let chars = 0;
  const parser = new Parser({ ontext: (t) => (chars += t.length) }, { decodeEntities: true });
  parser.end(html);
  return chars;
}

const suite: BenchSuite = {
  name: 'html',
  title: "read_url: HTML to text on 2 MB pages (readHtml vs htmlparser2's Parser)",
  async run({ smoke }) {
    const size = smoke ? 64 * 1024 : MB2;
    const rounds = smoke ? 1 : 5;
    // The Parser is quadratic on deep nesting: that case runs at 1/16 of the size.
    const deepSize = Math.floor(size / 16);
    const rows: string[][] = [];
    let deepNote = '';
    for (const [name, make] of CASES) {
      const html = make(size);
      const ours = timeMs(() => readHtml(html), rounds);
      if (name === 'deep nesting') {
        const small = make(deepSize);
        const theirsSmall = timeMs(() => parserText(small), rounds);
        const oursSmall = timeMs(() => readHtml(small), rounds);
        rows.push([`${name}, ${Math.round(deepSize / 1024)} KiB`, `${theirsSmall.toFixed(1)} ms`, `${oursSmall.toFixed(1)} ms`, `${(theirsSmall / oursSmall).toFixed(1)}×`]);
        rows.push([`${name}, ${Math.round(size / 1024)} KiB`, 'not run (quadratic)', `${ours.toFixed(1)} ms`, '—']);
        deepNote = ` On deep nesting the Parser grows with the square of the size: ${(theirsSmall * 256 / 1000).toFixed(0)} s expected at ${Math.round(size / 1024)} KiB (×16²), so it is run only at 1/16 of the size.`;
        continue;
      }
      const theirs = timeMs(() => parserText(html), rounds);
      rows.push([`${name}, ${Math.round(size / 1024)} KiB`, `${theirs.toFixed(1)} ms`, `${ours.toFixed(1)} ms`, `${(theirs / ours).toFixed(1)}×`]);
    }
    const markdown = [
      `Median wall time of one page over ${rounds} runs (text and title in one pass; the Parser only collects text). ` +
        `The regex version this replaced took 29 s on 256 KiB of '<' (issue #16.2). Goal: every page of the 2 MB read_url cap well under a second.${deepNote}`,
      '',
      table(['page', "htmlparser2 Parser", 'AgentEx readHtml', 'ratio'], rows),
    ].join('\n');
    return { markdown };
  },
};

export default suite;
