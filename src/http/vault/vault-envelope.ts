import type { FastifyRequest } from 'fastify';
import Type, { type Static } from 'typebox';
import { ForbiddenError } from '../../core/errors.js';
import { actorOf, singleHeader } from '../auth.js';

/**
 * Vault's response envelope (api-docs/index.mdx): every successful answer with a body is this
 * object. Coffer issues no leases and wraps nothing, so `lease_id` is '', `renewable` false,
 * `lease_duration` 0 and `wrap_info` null; `auth` is null except on login and token routes.
 */
export const VaultResponseSchema = Type.Object(
  {
    request_id: Type.String({ description: 'The request id (also in Coffer’s audit trail).' }),
    lease_id: Type.String(),
    renewable: Type.Boolean(),
    lease_duration: Type.Integer(),
    data: Type.Unknown({ description: 'The answer; its shape depends on the route.' }),
    wrap_info: Type.Null(),
    warnings: Type.Union([Type.Null(), Type.Array(Type.String())]),
    auth: Type.Unknown({ description: 'null, or the token a login or token route answers about.' }),
    mount_type: Type.Optional(Type.String()),
  },
  { $id: 'VaultResponse', additionalProperties: false },
);
export type VaultResponse = Static<typeof VaultResponseSchema>;

export interface EnvelopeOptions {
  readonly auth?: unknown;
  readonly warnings?: readonly string[];
  readonly mountType?: string;
}

/** Wraps `data` in the envelope of the request being answered. */
export function envelope(
  request: FastifyRequest,
  data: unknown,
  options: EnvelopeOptions = {},
): VaultResponse {
  return {
    request_id: request.id,
    lease_id: '',
    renewable: false,
    lease_duration: 0,
    data,
    wrap_info: null,
    warnings: options.warnings === undefined || options.warnings.length === 0 ? null : [...options.warnings],
    auth: options.auth ?? null,
    ...(options.mountType === undefined ? {} : { mount_type: options.mountType }),
  };
}

/** The namespace header's "no namespace": Vault's root namespace is '' (shown as `root`). */
function namespaceOf(request: FastifyRequest): string | undefined {
  const header = singleHeader(request.headers['x-vault-namespace']);
  if (header === undefined) return undefined;
  const namespace = header.trim().replace(/^\/+|\/+$/g, '');
  return namespace === '' || namespace === 'root' ? undefined : namespace;
}

/**
 * The tenant a request addresses (docs/adr/0014-vault-facade.md, "Tenancy"): its `X-Vault-Namespace`
 * (Vault Enterprise and OpenBao namespaces), else the token's own tenant. The core checks that the
 * token may act in it: another tenant's namespace is `other_tenant`, a 403 like any refusal.
 */
export function tenantOf(request: FastifyRequest): string {
  const namespace = namespaceOf(request);
  if (namespace !== undefined) return namespace;
  const actor = actorOf(request);
  if (actor.kind === 'api_key') return actor.tenantId;
  // Unreachable through authentication (the Vault facade serves tenants only); said all the same.
  throw new ForbiddenError('not_service', 'service_not_allowed', 'The Vault API serves tenant tokens only.');
}
