/// <reference lib="dom" />
/** The sign-in form shown whenever there is no valid session: paste the API (read) or admin token. */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { api, ApiError, type Session } from '../api.js';

export function SignIn(props: { reason: string | null; onSignedIn: (s: Session) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState(
    props.reason === 'invalid' ? 'The token in the link was not accepted. Paste a valid token below.' : props.reason === 'expired' ? 'Your session ended. Sign in again.' : '',
  );
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    if (!token.trim()) {
      setError('Enter a token.');
      return;
    }
    setBusy(true);
    try {
      const s = await api<Session>('/api/session', { method: 'POST', body: { token: token.trim() } });
      setToken('');
      props.onSignedIn(s);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That token is not valid for this service.' : String((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return html`<main id="main" class="signin">
    <form onSubmit=${submit} aria-labelledby="h-signin" novalidate>
      <h1 id="h-signin">Sign in to AgentEx</h1>
      <p>Use the API token (read-only) or the admin token (can reset circuits). The service prints a sign-in link at start-up;
        tokens are set with <code>AGENTEX_API_TOKEN</code> and <code>AGENTEX_ADMIN_TOKEN</code>.</p>
      <label for="token">Token</label>
      <input id="token" name="token" type="password" autocomplete="current-password" value=${token} required
        aria-invalid=${error ? 'true' : undefined} aria-describedby="signin-error"
        onInput=${(e: Event) => setToken((e.target as HTMLInputElement).value)} />
      <p id="signin-error" class="field-error" role="alert">${error}</p>
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      <p class="muted small">The token is kept in an HttpOnly cookie for this browser session only.</p>
    </form>
  </main>`;
}
