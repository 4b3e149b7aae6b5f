/// <reference lib="dom" />
/**
 * Inline SVG charts drawn by hand (no chart library, no inline styles: colours come from CSS classes, so light and
 * dark mode both work). Each chart has a text summary for screen readers and a data table behind a disclosure.
 * Series differ by pattern or dash as well as colour.
 */
import { html } from 'htm/preact';
import type { Bucket, TraceStatus } from './api.js';
import { clock, count, duration, percent } from './format.js';

const W = 640;
const H = 200;
const PAD = { left: 48, right: 12, top: 10, bottom: 24 };
const innerW = W - PAD.left - PAD.right;
const innerH = H - PAD.top - PAD.bottom;
const STACK: TraceStatus[] = ['success', 'error', 'timeout', 'running'];

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function xLabels(series: readonly Bucket[], bucketMs: number) {
  const n = series.length;
  if (n === 0) return null;
  const step = Math.max(1, Math.ceil(n / 6));
  const seconds = bucketMs < 60_000;
  return series.map((b, i) =>
    i % step === 0
      ? html`<text class="axis" x=${PAD.left + ((i + 0.5) * innerW) / n} y=${H - 6} text-anchor="middle">${clock(b.start, seconds)}</text>`
      : null,
  );
}

function yAxis(max: number, fmt: (v: number) => string) {
  return [0, 0.5, 1].map((f) => {
    const y = PAD.top + innerH - f * innerH;
    return html`<g><line class="grid" x1=${PAD.left} x2=${W - PAD.right} y1=${y} y2=${y} /><text class="axis" x=${PAD.left - 6} y=${y + 4} text-anchor="end">${fmt(max * f)}</text></g>`;
  });
}

function Defs() {
  return html`<defs>
    <pattern id="pat-error" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">
      <rect class="pf-error" width="6" height="6" /><line class="pl" x1="0" y1="0" x2="0" y2="6" />
    </pattern>
    <pattern id="pat-timeout" width="6" height="6" patternUnits="userSpaceOnUse">
      <rect class="pf-timeout" width="6" height="6" /><circle class="pc" cx="3" cy="3" r="1.2" />
    </pattern>
  </defs>`;
}

/** Runs per bucket, stacked by status (success solid, error hatched, timeout dotted, running pale). */
export function RunsChart(props: { series: Bucket[]; bucketMs: number }) {
  const { series, bucketMs } = props;
  const max = niceMax(Math.max(0, ...series.map((b) => b.total)));
  const n = Math.max(1, series.length);
  const bw = innerW / n;
  const total = series.reduce((s, b) => s + b.total, 0);
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${`Runs over time by status: ${total} runs in ${series.length} buckets`} data-chart="runs">
      <${Defs} />
      ${yAxis(max, (v) => String(Math.round(v)))}
      ${series.map((b, i) => {
        let y = PAD.top + innerH;
        return html`<g>
          <title>${`${clock(b.start, bucketMs < 60_000)}: ${b.total} runs (${STACK.map((s) => `${b.byStatus[s]} ${s}`).join(', ')})`}</title>
          ${STACK.map((s) => {
            const v = b.byStatus[s];
            if (!v) return null;
            const h = (v / max) * innerH;
            y -= h;
            return html`<rect class=${`bar s-${s}`} x=${PAD.left + i * bw + 1} y=${y} width=${Math.max(1, bw - 2)} height=${h} data-status=${s} />`;
          })}
        </g>`;
      })}
      ${xLabels(series, bucketMs)}
    </svg>
    <figcaption>
      <ul class="legend">
        ${STACK.map((s) => html`<li><svg viewBox="0 0 12 12" aria-hidden="true" class="swatch"><rect class=${`bar s-${s}`} width="12" height="12" /></svg>${s}</li>`)}
      </ul>
    </figcaption>
    <details><summary>Data table</summary>
      <table class="data"><thead><tr><th scope="col">Bucket start</th><th scope="col">Total</th>${STACK.map((s) => html`<th scope="col">${s}</th>`)}</tr></thead>
      <tbody>${series.map((b) => html`<tr><td>${clock(b.start, true)}</td><td>${b.total}</td>${STACK.map((s) => html`<td>${b.byStatus[s]}</td>`)}</tr>`)}</tbody></table>
    </details>
  </figure>`;
}

interface Line {
  name: string;
  cls: string;
  values: (number | null)[];
}

/** One or more lines over the buckets; gaps where a bucket has no value. */
export function LineChart(props: { series: Bucket[]; bucketMs: number; lines: Line[]; label: string; fmt: (v: number) => string; max?: number; id: string }) {
  const { series, bucketMs, lines, fmt } = props;
  const n = Math.max(1, series.length);
  const all = lines.flatMap((l) => l.values.filter((v): v is number => v !== null));
  const max = props.max ?? niceMax(Math.max(0, ...all));
  const x = (i: number) => PAD.left + ((i + 0.5) * innerW) / n;
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
  const path = (values: (number | null)[]) => {
    let d = '';
    let pen = false;
    values.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return d;
  };
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-label=${props.label} data-chart=${props.id}>
      ${yAxis(max, fmt)}
      ${lines.map(
        (l) => html`<g class=${`line ${l.cls}`}>
          <path d=${path(l.values)} />
          ${l.values.map((v, i) => (v === null ? null : html`<circle cx=${x(i)} cy=${y(v)} r="2.5"><title>${`${l.name} at ${clock(series[i]!.start, bucketMs < 60_000)}: ${fmt(v)}`}</title></circle>`))}
        </g>`,
      )}
      ${xLabels(series, bucketMs)}
    </svg>
    <figcaption><ul class="legend">${lines.map((l) => html`<li><svg viewBox="0 0 24 12" aria-hidden="true" class="swatch wide"><g class=${`line ${l.cls}`}><path d="M0,6L24,6" /></g></svg>${l.name}</li>`)}</ul></figcaption>
    <details><summary>Data table</summary>
      <table class="data"><thead><tr><th scope="col">Bucket start</th>${lines.map((l) => html`<th scope="col">${l.name}</th>`)}</tr></thead>
      <tbody>${series.map((b, i) => html`<tr><td>${clock(b.start, true)}</td>${lines.map((l) => html`<td>${l.values[i] === null ? '—' : fmt(l.values[i]!)}</td>`)}</tr>`)}</tbody></table>
    </details>
  </figure>`;
}

/** Horizontal bars for a handful of named counts (the trace pipeline). */
export function BarList(props: { items: { name: string; value: number; cls: string }[]; label: string }) {
  const max = niceMax(Math.max(0, ...props.items.map((i) => i.value)));
  const rowH = 26;
  const h = props.items.length * rowH + 4;
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${h}`} role="img" aria-label=${`${props.label}: ${props.items.map((i) => `${i.name} ${i.value}`).join(', ')}`} data-chart="pipeline">
      ${props.items.map((it, i) => {
        const y = 2 + i * rowH;
        const w = (it.value / max) * (W - 220);
        return html`<g>
          <text class="axis" x="110" y=${y + 17} text-anchor="end">${it.name}</text>
          <rect class=${`bar ${it.cls}`} x="120" y=${y + 4} width=${Math.max(it.value > 0 ? 2 : 0, w)} height="16" />
          <text class="axis" x=${126 + w} y=${y + 17}>${count(it.value)}</text>
        </g>`;
      })}
    </svg>
  </figure>`;
}

export { duration, percent };
