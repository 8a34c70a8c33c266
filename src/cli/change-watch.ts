/**
 * What `coffer run --watch` waits on: the next change that concerns the secrets it handed the child
 * (docs/notifications.md). Locally the core's change feed (the data directory, polled); against a
 * server the store's change stream (SSE), resumed with Last-Event-ID after a lost connection.
 */
export interface ChangeWatch {
  /**
   * Resolves when one of `names` (every secret of the store when null) got a new value or was
   * deleted, the store was deleted, or the watch had to resynchronise; null once `signal` aborts.
   */
  next(signal: AbortSignal): Promise<string | null>;
  close(): Promise<void>;
}

/** The change kinds that alter what `run` puts in the environment. */
export const RESTARTING_KINDS: ReadonlySet<string> = new Set([
  'secret.value-set',
  'secret.deleted',
  'store.deleted',
]);

/** Why a change concerns the watched names; null when it does not. */
export function concerns(
  change: { kind: string; secret: { name: string | null } | null },
  names: ReadonlySet<string> | null,
): string | null {
  if (!RESTARTING_KINDS.has(change.kind)) return null;
  if (change.kind === 'store.deleted') return 'the store was deleted';
  const name = change.secret?.name ?? null;
  if (names !== null && (name === null || !names.has(name))) return null;
  return `${name ?? 'a secret'}: ${change.kind === 'secret.deleted' ? 'deleted' : 'new value'}`;
}
