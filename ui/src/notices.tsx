import type { ComponentChildren } from 'preact';

/** An error, announced at once to screen readers (role=alert) and shown in words. */
export function ErrorNotice({ message }: { message: string | null }) {
  if (message === null) return null;
  return (
    <p class="notice notice-error" role="alert">
      {message}
    </p>
  );
}

/** Polite announcements: done, loading, empty. The region stays mounted so changes are announced. */
export function StatusNotice({ children }: { children?: ComponentChildren }) {
  return (
    <p class="notice notice-status" role="status">
      {children}
    </p>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true"></span> Loading {what}…
    </p>
  );
}
