/// <reference lib="dom" />
/** Overview: runs by status over time, error rate, p50/p95 duration, open circuits and the trace pipeline. */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, query, type Overview as OverviewData } from '../api.js';
import { BarList, LineChart, RunsChart } from '../charts.js';
import { ErrorNote, Link, Loading } from '../components.js';
import { count, duration, percent } from '../format.js';
import { navigate, type Location } from '../router.js';

/** Selectable ranges (the `range` query parameter). */
export const RANGES: Record<string, { label: string; ms: number }> = {
  '15m': { label: 'Last 15 minutes', ms: 15 * 60_000 },
  '1h': { label: 'Last hour', ms: 60 * 60_000 },
  '6h': { label: 'Last 6 hours', ms: 6 * 60 * 60_000 },
  '24h': { label: 'Last 24 hours', ms: 24 * 60 * 60_000 },
  '7d': { label: 'Last 7 days', ms: 7 * 24 * 60 * 60_000 },
};
const REFRESH_MS = 15_000;

const errorRate = (byStatus: Record<string, number>) => {
  const finished = (byStatus.success ?? 0) + (byStatus.error ?? 0) + (byStatus.timeout ?? 0);
  return finished === 0 ? null : ((byStatus.error ?? 0) + (byStatus.timeout ?? 0)) / finished;
};

export function Overview(props: { loc: Location }) {
  const range = RANGES[props.loc.query.get('range') ?? ''] ? props.loc.query.get('range')! : '1h';
  const [data, setData] = useState<OverviewData | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    const until = Date.now();
    api<OverviewData>(`/api/dashboard/overview${query({ since: until - RANGES[range]!.ms, until })}`, { signal: ctl.signal }).then(
      (d) => {
        setData(d);
        setError(null);
      },
      (e: unknown) => {
        if (!ctl.signal.aborted) setError(e);
      },
    );
    return () => ctl.abort();
  }, [range, tick]);

  useEffect(() => {
    const t = setInterval(() => setTick((n) => n + 1), REFRESH_MS);
    return () => clearInterval(t);
  }, []);

  const t = data?.totals;
  const rate = t ? errorRate(t.byStatus) : null;
  return html`<section aria-labelledby="h-overview">
    <div class="toolbar">
      <h1 id="h-overview">Overview</h1>
      <label>Time range
        <select value=${range} onChange=${(e: Event) => navigate(`/?range=${(e.target as HTMLSelectElement).value}`, { replace: true })}>
          ${Object.entries(RANGES).map(([k, r]) => html`<option value=${k}>${r.label}</option>`)}
        </select>
      </label>
      <button type="button" onClick=${() => setTick((n) => n + 1)}>Refresh</button>
    </div>
    <${ErrorNote} error=${error} />
    ${!data && !error ? html`<${Loading} what="overview" />` : null}
    ${data && t
      ? html`
      <ul class="kpis" aria-label="Key figures">
        <li><span class="kpi-label">Runs</span><span class="kpi-value" data-kpi="runs">${count(t.total)}</span>
          <span class="kpi-sub">${count(t.byStatus.success)} success · ${count(t.byStatus.error)} error · ${count(t.byStatus.timeout)} timeout</span></li>
        <li><span class="kpi-label">Error rate</span><span class="kpi-value" data-kpi="error-rate">${percent(rate)}</span><span class="kpi-sub">errors + timeouts of finished runs</span></li>
        <li><span class="kpi-label">Duration p50</span><span class="kpi-value" data-kpi="p50">${duration(t.p50DurationMs)}</span><span class="kpi-sub">p95 ${duration(t.p95DurationMs)}</span></li>
        <li class=${data.circuits.open > 0 ? 'kpi-alert' : ''}><span class="kpi-label">Open circuits</span>
          <span class="kpi-value" data-kpi="open-circuits">${data.circuits.open > 0 ? html`<span aria-hidden="true">■ </span>` : null}${count(data.circuits.open)}</span>
          <span class="kpi-sub">of ${count(data.circuits.total)} · ${count(data.circuits.halfOpen)} half-open · <${Link} href="/circuits">view circuits</${Link}></span></li>
      </ul>
      <div class="charts">
        <section class="card" aria-labelledby="h-runs"><h2 id="h-runs">Runs over time by status</h2>
          <${RunsChart} series=${data.series} bucketMs=${data.bucketMs} /></section>
        <section class="card" aria-labelledby="h-rate"><h2 id="h-rate">Error rate</h2>
          <${LineChart} id="error-rate" series=${data.series} bucketMs=${data.bucketMs} max=${1} fmt=${(v: number) => percent(v, 0)}
            label=${`Error rate over time; overall ${percent(rate)}`}
            lines=${[{ name: 'error rate', cls: 'l-error', values: data.series.map((b) => errorRate(b.byStatus)) }]} /></section>
        <section class="card" aria-labelledby="h-dur"><h2 id="h-dur">Run duration</h2>
          <${LineChart} id="duration" series=${data.series} bucketMs=${data.bucketMs} fmt=${duration}
            label=${`Run duration over time; p50 ${duration(t.p50DurationMs)}, p95 ${duration(t.p95DurationMs)}`}
            lines=${[
              { name: 'p50', cls: 'l-p50', values: data.series.map((b) => b.p50DurationMs) },
              { name: 'p95', cls: 'l-p95', values: data.series.map((b) => b.p95DurationMs) },
            ]} /></section>
        <section class="card" aria-labelledby="h-pipe"><h2 id="h-pipe">Trace pipeline <span class="muted small">since the service started</span></h2>
          ${data.pipeline
            ? html`<${BarList} label="Traces since start" items=${[
                { name: data.pipeline.ingested > 0 ? `stored (${data.pipeline.ingested} ingested)` : 'stored', value: data.pipeline.stored, cls: 's-success' },
                { name: 'sampled out', value: data.pipeline.sampledOut, cls: 's-running' },
                { name: 'dropped', value: data.pipeline.dropped, cls: 's-timeout' },
                { name: 'lost', value: data.pipeline.lost, cls: 's-error' },
              ]} />`
            : html`<p class="muted">No pipeline counters available.</p>`}
        </section>
      </div>`
      : null}
  </section>`;
}
