/// <reference lib="dom" />
/**
 * A small history-API router: every view has a real path (`/`, `/circuits`, `/traces`, `/traces/<id>`) and its
 * filters live in the query string, so any URL can be shared. The server answers each of these paths with the app.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Location {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();
const current = (): Location => ({ path: window.location.pathname, query: new URLSearchParams(window.location.search) });

/** Goes to `url` (same origin) without a page load. `replace` keeps the history entry (filters, selections). */
export function navigate(url: string, { replace = false } = {}): void {
  if (replace) window.history.replaceState(null, '', url);
  else window.history.pushState(null, '', url);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/** The current location; re-renders on every navigation. */
export function useLocation(): Location {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const l = () => setLoc(current());
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return loc;
}

/** Click handler for in-app links: plain clicks navigate in place; modified clicks open tabs as usual. */
export function linkClick(e: MouseEvent): void {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.currentTarget as HTMLElement).closest('a');
  if (!a || a.origin !== window.location.origin) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
}
