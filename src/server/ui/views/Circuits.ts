/// <reference lib="dom" />
/**
 * Circuits, live over server-sent events (`/api/circuits/stream`): state, counters, failure rate, cooldown countdown
 * (counted down locally between events), last error, last change. Admins get reset buttons behind a confirmation.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, type Circuit, type Role } from '../api.js';
import { ErrorNote, Status } from '../components.js';
import { ago, count, dateTime, duration, percent } from '../format.js';
import { navigate, type Location } from '../router.js';

type Conn = 'connecting' | 'live' | 'reconnecting';

export function Circuits(props: { loc: Location; role: Role; onSignedOut: () => void }) {
  const filter = props.loc.query.get('q') ?? '';
  const [circuits, setCircuits] = useState<Circuit[] | null>(null);
  const [receivedAt, setReceivedAt] = useState(0);
  const [conn, setConn] = useState<Conn>('connecting');
  const [now, setNow] = useState(Date.now());
  const [confirm, setConfirm] = useState<string | null>(null); // circuit name, or '*' for all
  const [message, setMessage] = useState('');
  const [error, setError] = useState<unknown>(null);
  const dialog = useRef<HTMLDialogElement>(null);

  useEffect(() => {
    const es = new EventSource('/api/circuits/stream');
    es.addEventListener('circuits', (e) => {
      const data = JSON.parse((e as MessageEvent<string>).data) as { circuits: Circuit[] };
      setCircuits(data.circuits);
      setReceivedAt(Date.now());
      setConn('live');
    });
    es.onopen = () => setConn('live');
    es.onerror = () => {
      setConn('reconnecting');
      // A closed EventSource will not retry: the session may have ended.
      if (es.readyState === EventSource.CLOSED) {
        api<{ authenticated: boolean }>('/api/session').then((s) => !s.authenticated && props.onSignedOut(), () => undefined);
      }
    };
    return () => es.close();
  }, []);

  const hasCooldown = circuits?.some((c) => c.state === 'open') ?? false;
  useEffect(() => {
    if (!hasCooldown) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [hasCooldown]);

  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (confirm !== null && !d.open) d.showModal();
    if (confirm === null && d.open) d.close();
  }, [confirm]);

  const reset = async (name: string) => {
    setConfirm(null);
    try {
      await api(name === '*' ? '/api/circuits/reset' : `/api/circuits/${encodeURIComponent(name)}/reset`, { method: 'POST' });
      setMessage(name === '*' ? 'All circuits were reset to closed.' : `Circuit ${name} was reset to closed.`);
      setError(null);
    } catch (e) {
      setError(e);
    }
  };

  const shown = (circuits ?? []).filter((c) => !filter || c.name.toLowerCase().includes(filter.toLowerCase()));
  const isAdmin = props.role === 'admin';
  return html`<section aria-labelledby="h-circuits">
    <div class="toolbar">
      <h1 id="h-circuits">Circuits</h1>
      <span class=${`conn conn-${conn}`} role="status" data-conn=${conn}>${conn === 'live' ? '● Live' : conn === 'connecting' ? 'Connecting…' : '○ Reconnecting…'}</span>
      <label>Filter <input type="search" value=${filter} placeholder="circuit name"
        onInput=${(e: Event) => {
          const q = (e.target as HTMLInputElement).value;
          navigate(q ? `/circuits?q=${encodeURIComponent(q)}` : '/circuits', { replace: true });
        }} /></label>
      ${isAdmin && circuits && circuits.length > 0 ? html`<button type="button" class="danger" onClick=${() => setConfirm('*')}>Reset all…</button>` : null}
    </div>
    <p class="sr-live" role="status" aria-live="polite">${message}</p>
    <${ErrorNote} error=${error} />
    ${circuits === null ? html`<p class="muted">Waiting for circuit states…</p>` : null}
    ${circuits && circuits.length === 0 ? html`<p class="empty">No circuits yet: they appear when a guarded provider or tool is first called.</p>` : null}
    ${shown.length > 0
      ? html`<div class="table-wrap"><table class="list circuits">
        <caption class="sr-only">Circuits and their states</caption>
        <thead><tr>
          <th scope="col">Circuit</th><th scope="col">State</th><th scope="col">Calls</th><th scope="col">Failures</th>
          <th scope="col">Timeouts</th><th scope="col">Rejected</th><th scope="col">Failure rate</th><th scope="col">Cooldown</th>
          <th scope="col">Last error</th><th scope="col">Last change</th>${isAdmin ? html`<th scope="col"><span class="sr-only">Actions</span></th>` : null}
        </tr></thead>
        <tbody>${shown.map((c) => {
          const remaining = c.state === 'open' ? Math.max(0, c.cooldownRemainingMs - (now - receivedAt)) : 0;
          return html`<tr data-circuit=${c.name} data-state=${c.state} class=${`row-${c.state}`}>
            <th scope="row">${c.name}</th>
            <td><${Status} value=${c.state} /></td>
            <td>${count(c.counts.calls)}</td><td>${count(c.counts.failures)}</td><td>${count(c.counts.timeouts)}</td><td>${count(c.counts.rejections)}</td>
            <td>${percent(c.failureRate)}</td>
            <td>${c.state === 'open' ? (remaining > 0 ? html`<span data-cooldown>${duration(Math.ceil(remaining / 1000) * 1000)} left</span>` : 'probe due') : '—'}</td>
            <td class="clip">${c.lastError ?? '—'}</td>
            <td title=${c.lastStateChangeAt ? dateTime(c.lastStateChangeAt) : undefined}>${c.lastStateChangeAt ? ago(c.lastStateChangeAt, now) : '—'}</td>
            ${isAdmin ? html`<td><button type="button" onClick=${() => setConfirm(c.name)} aria-label=${`Reset circuit ${c.name}`}>Reset…</button></td>` : null}
          </tr>`;
        })}</tbody>
      </table></div>`
      : null}
    ${circuits && circuits.length > 0 && shown.length === 0 ? html`<p class="empty">No circuit matches “${filter}”.</p>` : null}
    ${!isAdmin ? html`<p class="muted small">Resetting circuits needs the admin token.</p>` : null}
    <dialog ref=${dialog} aria-labelledby="h-confirm" onClose=${() => setConfirm(null)}>
      <form method="dialog">
        <h2 id="h-confirm">${confirm === '*' ? 'Reset every circuit?' : `Reset circuit ${confirm ?? ''}?`}</h2>
        <p>${confirm === '*' ? 'All circuits' : 'The circuit'} will close at once and let calls through, even if the provider is still failing.</p>
        <div class="actions">
          <button type="button" onClick=${() => setConfirm(null)}>Cancel</button>
          <button type="button" class="danger" onClick=${() => confirm && void reset(confirm)}>${confirm === '*' ? 'Reset all' : 'Reset'}</button>
        </div>
      </form>
    </dialog>
  </section>`;
}
