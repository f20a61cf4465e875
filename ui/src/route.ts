// Views have paths under /ui/, so every view can be shared as a link; history.pushState moves between them.

import { useEffect, useState } from 'preact/hooks';

export const BASE = '/ui';

export type Route =
  | { readonly view: 'overview' }
  | { readonly view: 'chart'; readonly chart: string }
  | { readonly view: 'instance'; readonly chart: string; readonly id: string }
  | { readonly view: 'requests' }
  | { readonly view: 'request'; readonly id: string }
  | { readonly view: 'backups' }
  | { readonly view: 'signin' }
  | { readonly view: 'missing' };

const MOVED = 'chartd:navigate';

export function parseRoute(pathname: string): Route {
  const parts = pathname.replace(/^\/ui\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  const [first, second, third, fourth] = parts;
  if (parts.length === 0) return { view: 'overview' };
  if (first === 'charts' && second && parts.length === 2) return { view: 'chart', chart: second };
  if (first === 'charts' && second && third === 'instances' && fourth && parts.length === 4) return { view: 'instance', chart: second, id: fourth };
  if (first === 'backup-requests' && parts.length === 1) return { view: 'requests' };
  if (first === 'backup-requests' && second && parts.length === 2) return { view: 'request', id: second };
  if (first === 'backups' && parts.length === 1) return { view: 'backups' };
  if (first === 'sign-in' && parts.length === 1) return { view: 'signin' };
  return { view: 'missing' };
}

/** The dashboard path of a view, e.g. href('charts', 'gated', 'instances', 'run-1'). */
export function href(...parts: string[]): string {
  return `${BASE}/${parts.map(encodeURIComponent).join('/')}`;
}

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  window.dispatchEvent(new Event(MOVED));
}

/** The current path and query, re-read on every navigation (links, back and forward). */
export function useLocation(): { readonly route: Route; readonly query: URLSearchParams; readonly href: string } {
  const read = () => ({ route: parseRoute(location.pathname), query: new URLSearchParams(location.search), href: location.pathname + location.search });
  const [current, setCurrent] = useState(read);
  useEffect(() => {
    const update = (): void => setCurrent(read());
    window.addEventListener('popstate', update);
    window.addEventListener(MOVED, update);
    return () => {
      window.removeEventListener('popstate', update);
      window.removeEventListener(MOVED, update);
    };
  }, []);
  return current;
}

/** A click on a link to another view, without a modifier key, stays in the page. */
export function followLink(event: MouseEvent): void {
  const link = (event.target as Element | null)?.closest?.('a');
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !url.pathname.startsWith(`${BASE}/`) || link.target || link.hasAttribute('download')) return;
  // A link within this view (the skip link) is the browser's to follow: it moves focus too.
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
  window.scrollTo(0, 0);
}
