import { UnavailableError } from '../../core/errors.js';

/**
 * What a failed query means to the engine:
 * - `conflict`: serialization failure or deadlock; the whole transaction may simply run again.
 * - `lost`: an established connection died (server restart, `pg_terminate_backend`, reset); the
 *   statement never committed, so an idempotent read or an uncommitted transaction may run again.
 * - `unreachable`: no connection could be made (refused, DNS, timeout, server starting or full).
 * - `other`: a genuine error (a bug, a constraint), passed through unchanged.
 */
export type PgFailure = 'conflict' | 'lost' | 'unreachable' | 'other';

const CONFLICT_STATES = new Set(['40001', '40P01']);
/** admin_shutdown, crash_shutdown: the server ended our session. */
const LOST_STATES = new Set(['57P01', '57P02']);
/** cannot_connect_now (starting or stopping), too_many_connections, database_dropped. */
const UNREACHABLE_STATES = new Set(['57P03', '53300', '57P04']);
const LOST_ERRNOS = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const UNREACHABLE_ERRNOS = new Set([
  'ECONNREFUSED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
]);
// node-postgres reports these with no code, only a message.
const LOST_MESSAGES = /Connection terminated|not queryable|Client was closed/i;
const UNREACHABLE_MESSAGES = /timeout exceeded when trying to connect|connection timeout/i;

export function classifyPgError(error: unknown): PgFailure {
  if (error instanceof PgUnavailableError) return error.failure;
  if (typeof error !== 'object' || error === null) return 'other';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (CONFLICT_STATES.has(code)) return 'conflict';
    if (LOST_STATES.has(code) || LOST_ERRNOS.has(code)) return 'lost';
    // Class 08: connection exception.
    if (UNREACHABLE_STATES.has(code) || UNREACHABLE_ERRNOS.has(code) || code.startsWith('08')) {
      return 'unreachable';
    }
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string') {
    if (UNREACHABLE_MESSAGES.test(message)) return 'unreachable';
    if (LOST_MESSAGES.test(message)) return 'lost';
  }
  return 'other';
}

/** The core's UnavailableError (facades answer 503), remembering why for the retry logic. */
export class PgUnavailableError extends UnavailableError {
  readonly failure: 'lost' | 'unreachable';
  constructor(failure: 'lost' | 'unreachable') {
    // Never the driver's message: it may name hosts, users or the database.
    super('database_unavailable', 'The database cannot be reached; retry later.');
    this.failure = failure;
  }
}

/** Connection failures become PgUnavailableError; anything else is returned unchanged. */
export function mapPgError(error: unknown): unknown {
  const failure = classifyPgError(error);
  return failure === 'lost' || failure === 'unreachable' ? new PgUnavailableError(failure) : error;
}
