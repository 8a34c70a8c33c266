import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import { ApiError, type CofferApi } from './coffer-api.js';

export interface Session {
  readonly api: CofferApi;
  /** Words for a failed call; a 401 (token disabled or deleted meanwhile) also signs out. */
  readonly fail: (error: unknown) => string;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (session === null) throw new Error('useSession outside a signed-in console');
  return session;
}

export function isUnauthorized(error: unknown): boolean {
  return error instanceof ApiError && error.status === 401;
}
