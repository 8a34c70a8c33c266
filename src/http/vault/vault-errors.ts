import type { FastifyReply, FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { CofferError, CofferErrorCode, ErrorKind } from '../../core/errors.js';
import { MethodNotAllowedError } from '../route-methods.js';
import { classifyRequestError, type RequestFailure, retryAfterOf } from '../request-errors.js';

/**
 * Vault's error shape: `{"errors": ["…"]}` with the status Vault gives the same failure
 * (api-docs/index.mdx "HTTP Status Codes"). Vault has no 401: a missing, unknown, disabled or
 * deleted token is a 403 `permission denied`, as is a token lacking a permission, and clients
 * (ESO, vault-action, the CLI) treat 403 as "the token cannot do this". A missing secret is a 404
 * with an empty `errors` list, exactly as Vault answers it.
 */
export interface VaultFailure {
  readonly status: number;
  readonly errors: readonly string[];
  /** Seconds for the `Retry-After` header (429 only). */
  readonly retryAfter?: number;
  /** Methods for the `Allow` header (405 only). */
  readonly allow?: readonly string[];
}

/**
 * Said to a request whose method Node's HTTP parser refuses and Coffer does not replay: any method
 * but LIST, a LIST of a path that is not KV metadata, or one not sent whole (docs/vault.md, "LIST").
 */
export const LIST_REFUSED =
  'unsupported method: Coffer serves LIST on KV metadata paths only, sent whole with no chunked body; GET with ?list=true lists too';

/** Vault's own words for a refused token or permission. */
export const PERMISSION_DENIED = 'permission denied';

/** How a core code answers: a status, and whether the core's message is said (else Vault's fixed text). */
interface VaultAnswer {
  readonly status: number;
  /** The fixed text said instead of the core's message; `[]` for an empty list (Vault's 404). */
  readonly text?: readonly string[];
}

const NOT_FOUND: VaultAnswer = { status: 404, text: [] };
const DENIED: VaultAnswer = { status: 403, text: [PERMISSION_DENIED] };
const INVALID: VaultAnswer = { status: 400 };
const UNAVAILABLE: VaultAnswer = { status: 503 };

/**
 * The Vault answer to every core code, typed over the whole union: a new code does not compile until
 * it has a row here. Refusals say only `permission denied` (Vault never tells an unknown token from a
 * foreign namespace); not-found is an empty 404; invalid input says the core's message.
 */
export const VAULT_ANSWERS = {
  tenant_not_found: NOT_FOUND,
  store_not_found: NOT_FOUND,
  secret_not_found: NOT_FOUND,
  // Said (with when) only to callers who may know the secret exists; the core decides that.
  secret_not_yet_valid: { status: 404 },
  secret_value_not_found: NOT_FOUND,
  api_key_not_found: NOT_FOUND,
  service_not_found: NOT_FOUND,
  webhook_not_found: NOT_FOUND,
  route_not_found: { status: 404, text: ['unsupported path'] },
  method_not_allowed: { status: 405, text: ['unsupported operation'] },
  store_name_taken: INVALID,
  store_not_empty: INVALID,
  secret_name_taken: INVALID,
  api_key_exists: INVALID,
  service_exists: INVALID,
  precondition_failed: INVALID,
  invalid_tenant_id: INVALID,
  invalid_store_name: INVALID,
  invalid_secret_name: INVALID,
  invalid_api_key_name: INVALID,
  invalid_service_name: INVALID,
  secret_value_too_long: INVALID,
  value_required: INVALID,
  invalid_validity_window: INVALID,
  invalid_instant: INVALID,
  invalid_limit: INVALID,
  invalid_cursor: INVALID,
  too_many_names: INVALID,
  too_many_secrets: INVALID,
  unknown_permission: INVALID,
  permissions_missing: INVALID,
  invalid_precondition: INVALID,
  name_mismatch: INVALID,
  invalid_webhook: INVALID,
  token_not_renewable: INVALID,
  token_not_revocable: INVALID,
  unauthenticated: DENIED,
  missing_credentials: DENIED,
  invalid_credentials: DENIED,
  // Vault's JWT method answers a refused login 400 with its reason (role, token or claims).
  login_refused: INVALID,
  other_tenant: DENIED,
  missing_permission: DENIED,
  permission_escalation: DENIED,
  service_not_allowed: DENIED,
  credential_not_allowed: DENIED,
  operator_only: DENIED,
  secret_quota_exceeded: { status: 400 },
  maximum_stores_exceeded: { status: 400 },
  too_many_failed_authentications: { status: 429 },
  key_rate_limited: { status: 429 },
  too_many_watchers: { status: 429 },
  unavailable: UNAVAILABLE,
  write_conflict: UNAVAILABLE,
  database_busy: UNAVAILABLE,
  database_unavailable: UNAVAILABLE,
  audit_unavailable: UNAVAILABLE,
  identity_provider_unavailable: UNAVAILABLE,
} as const satisfies Record<CofferErrorCode, VaultAnswer>;

/** Only for a code outside the union, which takes a cast to make: its kind's generic answer. */
const KIND_FALLBACK: Readonly<Record<ErrorKind, VaultAnswer>> = {
  invalid: INVALID,
  unauthenticated: DENIED,
  forbidden: DENIED,
  not_found: NOT_FOUND,
  conflict: INVALID,
  quota_exceeded: INVALID,
  rate_limited: { status: 429 },
  unavailable: UNAVAILABLE,
};

function fromDomain(error: CofferError): VaultFailure {
  const mapped: VaultAnswer | undefined = VAULT_ANSWERS[error.code];
  const answer = mapped ?? KIND_FALLBACK[error.kind];
  const failure: VaultFailure = { status: answer.status, errors: answer.text ?? [error.message] };
  return error instanceof MethodNotAllowedError ? { ...failure, allow: error.allow } : failure;
}

/** The one mapping from any request failure to Vault's status and `errors`. */
export function toVaultFailure(failure: RequestFailure): VaultFailure {
  switch (failure.type) {
    case 'domain': {
      const retryAfter = retryAfterOf(failure);
      const mapped = fromDomain(failure.error);
      return retryAfter === undefined ? mapped : { ...mapped, retryAfter };
    }
    case 'validation':
      return {
        status: 400,
        errors: Object.entries(failure.fields).map(([field, messages]) => `${field}: ${messages.join(' ')}`),
      };
    case 'malformed_body':
      return { status: 400, errors: [`failed to parse JSON input: ${failure.detail}`] };
    case 'unsupported_media_type':
      return { status: 415, errors: ['unsupported media type: send JSON (application/json)'] };
    case 'body_too_large':
      return { status: 413, errors: ['request body too large'] };
    case 'client':
      // Vault's LIST method: Node's parser refuses any method outside its own list, before Coffer sees it.
      if (failure.parserCode === 'HPE_INVALID_METHOD') return { status: 400, errors: [LIST_REFUSED] };
      return { status: failure.status, errors: [failure.detail] };
    case 'internal':
      return { status: 500, errors: ['internal error'] };
  }
}

export const VAULT_CONTENT_TYPE = 'application/json';

/** `{"errors": [...]}` (also written raw, for requests Node's parser refused). */
export function vaultFailureBody(failure: VaultFailure): string {
  return JSON.stringify({ errors: failure.errors });
}

export function sendVaultFailure(reply: FastifyReply, failure: VaultFailure): FastifyReply {
  if (failure.retryAfter !== undefined) reply.header('retry-after', String(failure.retryAfter));
  if (failure.allow !== undefined) reply.header('allow', failure.allow.join(', '));
  return reply
    .code(failure.status)
    .header('content-type', VAULT_CONTENT_TYPE)
    .header('cache-control', 'no-store')
    .send(vaultFailureBody(failure));
}

export function vaultErrorHandler(
  error: unknown,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  return sendVaultFailure(reply, toVaultFailure(classifyRequestError(error, request.log)));
}

/** The error body in /openapi.json. */
export const VaultErrorSchema = Type.Object(
  {
    errors: Type.Array(Type.String(), { description: 'What went wrong; empty for a missing secret (404).' }),
  },
  { $id: 'VaultError', additionalProperties: false },
);
