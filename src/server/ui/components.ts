/// <reference lib="dom" />
/**
 * Small shared components. Everything from traces is untrusted: it is only ever rendered as text children (Preact
 * creates text nodes), never through innerHTML or attributes that could run it.
 */
import type { ComponentChildren } from 'preact';
import { html } from 'htm/preact';
import { linkClick } from './router.js';
import { STATUS_LABEL } from './format.js';

export function Link(props: { href: string; children?: ComponentChildren; class?: string; current?: boolean; label?: string }) {
  return html`<a href=${props.href} class=${props.class} aria-current=${props.current ? 'page' : undefined} aria-label=${props.label} onClick=${linkClick}>${props.children}</a>`;
}

/** A status as icon + word in a coloured pill; the word carries the meaning. */
export function Status(props: { value: string }) {
  const label = STATUS_LABEL[props.value] ?? { icon: '?', text: props.value };
  return html`<span class=${`badge st-${props.value}`}><span aria-hidden="true">${label.icon}</span> ${label.text}</span>`;
}

export function ErrorNote(props: { error: unknown }) {
  if (!props.error) return null;
  const message = props.error instanceof Error ? props.error.message : typeof props.error === 'string' ? props.error : 'Something went wrong';
  return html`<p class="note note-error" role="alert">${message}</p>`;
}

export function Loading(props: { what: string }) {
  return html`<p class="muted" role="status" aria-live="polite">Loading ${props.what}…</p>`;
}

/** The markers the tracing core leaves where it removed or cut something. */
const MARKER = /(\[REDACTED:[^\]]{1,64}\]|…\[truncated \d+ chars\]|…\[\d+ more (?:items|keys)\]|…\[[^\]]{1,80}\])/g;

/** Counts the redaction and truncation markers in a value. */
export function markerCounts(value: unknown): { redacted: number; truncated: number } {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? '';
  let redacted = 0;
  let truncated = 0;
  for (const m of text.matchAll(MARKER)) {
    if (m[0].startsWith('[REDACTED')) redacted++;
    else truncated++;
  }
  return { redacted, truncated };
}

/**
 * Shows an input or output value as text: strings as they are, anything else as indented JSON. Markers are
 * highlighted (as text inside `<mark>`), so a reader sees at once what was redacted or cut.
 */
export function ValueView(props: { value: unknown; label: string }) {
  const { value } = props;
  if (value === undefined) return html`<p class="muted">No ${props.label.toLowerCase()} recorded.</p>`;
  const text = typeof value === 'string' ? value : (JSON.stringify(value, null, 2) ?? '');
  const parts = text.split(MARKER);
  const counts = markerCounts(text);
  const notes: string[] = [];
  if (counts.redacted) notes.push(`${counts.redacted} redacted`);
  if (counts.truncated) notes.push(`${counts.truncated} truncated`);
  return html`<div class="value">
    ${notes.length > 0 ? html`<p class="markers"><span aria-hidden="true">⚑</span> ${notes.join(', ')} by the tracing core</p>` : null}
    <pre tabindex="0" aria-label=${props.label}>${parts.map((p, i) => (i % 2 === 1 ? html`<mark class=${p.startsWith('[REDACTED') ? 'm-redacted' : 'm-truncated'}>${p}</mark>` : p))}</pre>
  </div>`;
}
