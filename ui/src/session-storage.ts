import type { Credentials } from './coffer-api.js';

/**
 * Where the signed-in token lives. By default only in memory (a reload signs out). When the user
 * asks, in sessionStorage: it survives a reload of this tab, dies with the tab, and is not shared
 * with other tabs. Never localStorage (it outlives the session), never a cookie (sent on its own),
 * never a URL (history, logs, Referer).
 */
const KEY = 'coffer.console.session';

export function restoreSession(): Credentials | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (raw === null) return null;
    const parsed: unknown = JSON.parse(raw);
    if (typeof parsed !== 'object' || parsed === null) return null;
    const { tenant, token } = parsed as Record<string, unknown>;
    return typeof tenant === 'string' && typeof token === 'string' ? { tenant, token } : null;
  } catch {
    return null;
  }
}

export function keepSession(credentials: Credentials, inThisTab: boolean): void {
  try {
    if (inThisTab) sessionStorage.setItem(KEY, JSON.stringify(credentials));
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage disabled: the session simply stays in memory.
  }
}

export function forgetSession(): void {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing stored.
  }
}
