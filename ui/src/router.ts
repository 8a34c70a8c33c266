import { useEffect, useState } from 'preact/hooks';

/** Client-side routes under /ui (Coffer answers index.html for each). No token or value ever goes in a URL. */
export type Route =
  | { readonly screen: 'stores' }
  | { readonly screen: 'store'; readonly storeId: string }
  | { readonly screen: 'keys' }
  | { readonly screen: 'webhooks' }
  | { readonly screen: 'audit' }
  | { readonly screen: 'not-found' };

export const BASE = '/ui';

export function parseRoute(pathname: string): Route {
  const path = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = path.split('/').filter((p) => p !== '');
  if (parts.length === 0 || (parts.length === 1 && parts[0] === 'stores')) return { screen: 'stores' };
  if (parts.length === 2 && parts[0] === 'stores' && parts[1] !== undefined) {
    return { screen: 'store', storeId: decodeURIComponent(parts[1]) };
  }
  if (parts.length === 1 && parts[0] === 'keys') return { screen: 'keys' };
  if (parts.length === 1 && parts[0] === 'webhooks') return { screen: 'webhooks' };
  if (parts.length === 1 && parts[0] === 'audit') return { screen: 'audit' };
  return { screen: 'not-found' };
}

export function hrefOf(route: Route): string {
  switch (route.screen) {
    case 'stores':
      return `${BASE}/`;
    case 'store':
      return `${BASE}/stores/${encodeURIComponent(route.storeId)}`;
    case 'keys':
      return `${BASE}/keys`;
    case 'webhooks':
      return `${BASE}/webhooks`;
    case 'audit':
      return `${BASE}/audit`;
    case 'not-found':
      return `${BASE}/`;
  }
}

const listeners = new Set<() => void>();

export function navigate(href: string): void {
  if (href !== location.pathname) history.pushState(null, '', href);
  for (const l of listeners) l();
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.pathname));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.pathname));
    listeners.add(update);
    addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      removeEventListener('popstate', update);
    };
  }, []);
  return route;
}

/** A click on an in-app link: handled here, unless the user asked for a new tab or window. */
export function onLinkClick(event: MouseEvent): void {
  if (
    event.defaultPrevented ||
    event.button !== 0 ||
    event.metaKey ||
    event.ctrlKey ||
    event.shiftKey ||
    event.altKey
  ) {
    return;
  }
  const anchor = event.currentTarget;
  if (!(anchor instanceof HTMLAnchorElement)) return;
  event.preventDefault();
  navigate(anchor.pathname);
}
