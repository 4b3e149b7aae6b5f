/**
 * HTML → readable text, for the `read_url` tool: drops scripts, styles and other non-content elements, keeps
 * paragraph structure as line breaks, `li` as "- " items, and the page title; entities are decoded by the tokenizer.
 * Not a browser; good enough for a model to read.
 *
 * Built on htmlparser2's tokenizer, a linear state machine, with O(1) work per token here: no regular expression
 * runs over the document, and no stack of open elements is kept (htmlparser2's `Parser` keeps one with `unshift` and
 * `indexOf`, quadratic on deeply nested pages), so any page of `MAX_HTML_CHARS` is read in linear time.
 */
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';

/** Most characters of a document handed to the tokenizer; the rest is ignored (and reported as `truncated`). */
export const MAX_HTML_CHARS = 2 * 1024 * 1024;

/** Elements whose content is never text for the reader. */
const DROPPED = new Set(['script', 'style', 'noscript', 'template', 'svg', 'iframe', 'object', 'canvas', 'head', 'nav', 'form', 'select']);
/** Elements that start and end a paragraph. */
const BLOCKS = new Set([
  'p', 'div', 'section', 'article', 'main', 'header', 'footer', 'aside', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'ul', 'ol',
  'table', 'thead', 'tbody', 'tr', 'blockquote', 'pre', 'figure', 'figcaption', 'dl', 'dt', 'dd', 'address', 'details', 'summary',
]);

/** A document read as text. */
export interface HtmlDocument {
  /** The readable text: paragraphs separated by blank lines, runs of spaces collapsed. */
  text: string;
  /** The first `<title>`, whitespace collapsed; undefined when missing or empty. */
  title?: string;
  /** True when the document was longer than `MAX_HTML_CHARS` and its tail was not read. */
  truncated: boolean;
}

/** Reads an HTML document into text and title in one linear pass. */
export function readHtml(html: string): HtmlDocument {
  const truncated = html.length > MAX_HTML_CHARS;
  const input = truncated ? html.slice(0, MAX_HTML_CHARS) : html;
  const out: string[] = [];
  const titleParts: string[] = [];
  // Open dropped elements by name; content is skipped while any is open.
  const dropped = new Map<string, number>();
  let droppedOpen = 0;
  let inTitle = false;
  let titleDone = false;
  let openName = '';
  let openCounted = false;

  const emit = (text: string) => {
    if (inTitle) {
      if (!titleDone) titleParts.push(text);
    } else if (droppedOpen === 0) out.push(text);
  };
  const close = (name: string) => {
    const n = dropped.get(name) ?? 0;
    if (n > 0) {
      dropped.set(name, n - 1);
      droppedOpen--;
    }
  };
  const name = (start: number, end: number) => input.slice(start, end).toLowerCase();
  const none = () => undefined;

  const callbacks: TokenizerCallbacks = {
    ontext: (start, end) => emit(input.slice(start, end)),
    ontextentity: (codepoint) => emit(String.fromCodePoint(codepoint)),
    onopentagname: (start, end) => {
      openName = name(start, end);
      openCounted = false;
      if (openName === 'body' && (dropped.get('head') ?? 0) > 0) {
        // A page without `</head>`: its body still counts.
        droppedOpen -= dropped.get('head')!;
        dropped.set('head', 0);
      }
      if (openName === 'title') {
        inTitle = true;
        return;
      }
      if (DROPPED.has(openName)) {
        dropped.set(openName, (dropped.get(openName) ?? 0) + 1);
        droppedOpen++;
        openCounted = true;
        return;
      }
      if (droppedOpen > 0) return;
      if (openName === 'br' || openName === 'hr') out.push('\n');
      else if (openName === 'li') out.push('\n- ');
      else if (BLOCKS.has(openName)) out.push('\n\n');
    },
    onselfclosingtag: () => {
      // `<svg/>`, `<iframe/>`: nothing inside, nothing to skip.
      if (openCounted) close(openName);
      if (openName === 'title') inTitle = false;
      openCounted = false;
    },
    onclosetag: (start, end) => {
      const tag = name(start, end);
      if (tag === 'title') {
        if (inTitle) titleDone = titleParts.join('').trim() !== '';
        inTitle = false;
        return;
      }
      if (DROPPED.has(tag)) {
        close(tag);
        return;
      }
      if (droppedOpen > 0) return;
      if (tag === 'td' || tag === 'th') out.push('\t');
      else if (tag === 'br') out.push('\n');
      else if (BLOCKS.has(tag)) out.push('\n\n');
    },
    onopentagend: none,
    onattribdata: none,
    onattribentity: none,
    onattribend: none,
    onattribname: none,
    oncdata: none,
    oncomment: none,
    ondeclaration: none,
    onprocessinginstruction: none,
    onend: none,
  };
  const tokenizer = new Tokenizer({ xmlMode: false, decodeEntities: true }, callbacks);
  tokenizer.write(input);
  tokenizer.end();

  const text = out
    .join('')
    .split('\n')
    .map((line) => line.replace(/[ \t\f\v\u00a0]+/g, ' ').trim())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  const title = titleParts.join('').replace(/\s+/g, ' ').trim();
  return { text, ...(title !== '' ? { title } : {}), truncated };
}

/** Converts HTML to plain text (see {@link readHtml}). */
export function htmlToText(html: string): string {
  return readHtml(html).text;
}

/** The page title, if any (see {@link readHtml}). */
export function htmlTitle(html: string): string | undefined {
  return readHtml(html).title;
}
