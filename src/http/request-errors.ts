import type { FastifyBaseLogger } from 'fastify';
import { type CofferError, type FieldErrors, isCofferError, RateLimitedError } from '../core/errors.js';
import { CryptoError } from '../crypto/envelope.js';
import { fieldErrorsOf, validationIssuesOf } from './validation.js';

/**
 * Every error a request can end in, sorted into a closed set that each facade renders in its own
 * wire shape. Nothing here is sent as is: messages from parsers and drivers can quote the request
 * body (a secret value) or internals, so only fixed texts and domain messages leave the process.
 */
export type RequestFailure =
  | { readonly type: 'domain'; readonly error: CofferError }
  | { readonly type: 'validation'; readonly fields: FieldErrors }
  | { readonly type: 'malformed_body'; readonly detail: string }
  | { readonly type: 'unsupported_media_type' }
  | { readonly type: 'body_too_large' }
  | {
      readonly type: 'client';
      readonly status: number;
      readonly detail: string;
      /** Node's parser error code, for a request it refused before Fastify saw it (`HPE_INVALID_METHOD`). */
      readonly parserCode?: string;
    }
  | { readonly type: 'internal' };

interface FastifyishError {
  code?: unknown;
  statusCode?: unknown;
  validationContext?: unknown;
}

export function classifyRequestError(error: unknown, log: FastifyBaseLogger): RequestFailure {
  if (isCofferError(error)) return { type: 'domain', error };
  const issues = validationIssuesOf(error);
  const e = (error ?? {}) as FastifyishError;
  if (issues !== null) {
    const part = typeof e.validationContext === 'string' ? e.validationContext : 'body';
    return { type: 'validation', fields: fieldErrorsOf(issues, part) };
  }
  const code = typeof e.code === 'string' ? e.code : '';
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  switch (code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { type: 'unsupported_media_type' };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { type: 'body_too_large' };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { type: 'malformed_body', detail: 'The request body is empty.' };
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { type: 'malformed_body', detail: 'The request body is not valid JSON.' };
  }
  if (error instanceof SyntaxError || code === 'FST_ERR_CTP_INVALID_TYPE') {
    return { type: 'malformed_body', detail: 'The request body is not valid JSON.' };
  }
  if (status >= 400 && status < 500) {
    // Fastify's own client errors (prototype poisoning, bad headers, …): a fixed text per status.
    return {
      type: 'client',
      status,
      detail: status === 400 ? 'The request is malformed.' : 'The request was refused.',
    };
  }
  if (error instanceof CryptoError) {
    // Integrity failure of stored data: worth an operator's attention, never the caller's.
    log.error({ cryptoError: error.code }, 'a stored value failed to decrypt');
  } else {
    const err = error instanceof Error ? error : new Error(String(error));
    log.error({ err: { type: err.name, message: err.message, stack: err.stack } }, 'request failed');
  }
  return { type: 'internal' };
}

/** Seconds a client should wait (the `Retry-After` header) when the failure is a rate limit. */
export function retryAfterOf(failure: RequestFailure): number | undefined {
  return failure.type === 'domain' && failure.error instanceof RateLimitedError
    ? failure.error.retryAfterSeconds
    : undefined;
}
