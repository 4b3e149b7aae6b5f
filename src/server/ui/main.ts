/// <reference lib="dom" />
/**
 * Entry point of the AgentEx dashboard: session check, navigation shell and the four views. Bundled by
 * `scripts/build-ui.ts`; served by `src/server/dashboard.ts`.
 */
import { render } from 'preact';
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import { api, onUnauthorized, type Session } from './api.js';
import { Link } from './components.js';
import { navigate, useLocation } from './router.js';
import { Circuits } from './views/Circuits.js';
import { Overview } from './views/Overview.js';
import { SignIn } from './views/SignIn.js';
import { TraceDetail } from './views/TraceDetail.js';
import { Traces } from './views/Traces.js';

const TITLES: Record<string, string> = { overview: 'Overview', circuits: 'Circuits', traces: 'Traces', trace: 'Trace' };

function App() {
  const loc = useLocation();
  const [session, setSession] = useState<Session | null>(null);
  const [reason, setReason] = useState<string | null>(loc.query.get('signin'));

  useEffect(() => {
    api<Session>('/api/session').then(setSession, () => setSession({ authenticated: false }));
    return onUnauthorized(() => {
      setReason('expired');
      setSession({ authenticated: false });
    });
  }, []);

  const signedIn = (s: Session) => {
    setSession(s);
    setReason(null);
    if (loc.query.has('signin')) {
      loc.query.delete('signin');
      const q = loc.query.toString();
      navigate(`${loc.path}${q ? `?${q}` : ''}`, { replace: true });
    }
  };
  const signOut = async () => {
    await api('/api/session', { method: 'DELETE' }).catch(() => undefined);
    setReason(null);
    setSession({ authenticated: false });
  };

  const traceMatch = /^\/traces\/([^/]+)$/.exec(loc.path);
  const view = traceMatch ? 'trace' : loc.path === '/circuits' ? 'circuits' : loc.path === '/traces' ? 'traces' : 'overview';
  useEffect(() => {
    document.title = `${session?.authenticated ? TITLES[view] : 'Sign in'} · AgentEx`;
  }, [view, session]);

  if (session === null) return html`<main id="main"><p class="muted" role="status">Loading…</p></main>`;
  if (!session.authenticated) return html`<${SignIn} reason=${reason} onSignedIn=${signedIn} />`;
  const role = session.role ?? 'read';
  return html`
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">AgentEx</span>
      <nav aria-label="Dashboard">
        <ul>
          <li><${Link} href="/" current=${view === 'overview'}>Overview</${Link}></li>
          <li><${Link} href="/circuits" current=${view === 'circuits'}>Circuits</${Link}></li>
          <li><${Link} href="/traces" current=${view === 'traces' || view === 'trace'}>Traces</${Link}></li>
        </ul>
      </nav>
      <span class="who"><span class=${`role role-${role}`} data-role=${role}>${role === 'admin' ? 'admin' : 'read-only'}</span>
        <button type="button" class="link" onClick=${() => void signOut()}>Sign out</button></span>
    </header>
    <main id="main" tabindex="-1">
      ${view === 'overview' ? html`<${Overview} loc=${loc} />` : null}
      ${view === 'circuits' ? html`<${Circuits} loc=${loc} role=${role} onSignedOut=${() => setSession({ authenticated: false })} />` : null}
      ${view === 'traces' ? html`<${Traces} loc=${loc} />` : null}
      ${traceMatch ? html`<${TraceDetail} id=${decodeURIComponent(traceMatch[1]!)} loc=${loc} />` : null}
    </main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
