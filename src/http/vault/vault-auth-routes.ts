import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import Type from 'typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { NotFoundError } from '../../core/errors.js';
import { parseDurationSeconds } from '../../core/jwt-login.js';
import type { IssuedToken, TokenDescription } from '../../core/token-service.js';
import { callerOf } from '../auth.js';
import { noContent, refTo } from '../response-schemas.js';
import { envelope, VaultResponseSchema } from './vault-envelope.js';
import { VaultErrorSchema } from './vault-errors.js';
import { vaultToken } from './vault-facade.js';

const errorResponse = (description: string) => refTo(VaultErrorSchema, { description });
const ok = (description: string) => refTo(VaultResponseSchema, { description });

const TOKEN_ERRORS = {
  400: errorResponse(
    'The token cannot be renewed or revoked this way (an API key, an OIDC JWT), or a bad body.',
  ),
  403: errorResponse(
    'No token, or an unknown, expired, revoked, disabled or deleted one: `permission denied`.',
  ),
  429: errorResponse('Too many failed authentications from this address, or over the token’s rate.'),
  503: errorResponse('The database or the audit trail cannot be written; retry.'),
};

/** A Go-style duration or whole seconds, as Vault takes `increment`. */
const DurationSchema = Type.Union([
  Type.Integer({ minimum: 0, maximum: 2_764_800 }),
  Type.String({ pattern: '^(\\d{1,7}|(\\d{1,7}[hms]){1,3})$' }),
]);

const RenewBodySchema = Type.Object(
  {
    increment: Type.Optional(DurationSchema),
    /** The Go client's RenewSelf sends only `increment`; `token` is for `renew`, ignored as Vault does. */
  },
  { additionalProperties: false },
);

const LoginBodySchema = Type.Object(
  {
    role: Type.Optional(Type.String({ maxLength: 128 })),
    jwt: Type.String({ maxLength: 16_384 }),
  },
  { additionalProperties: false },
);

const LoginParamsSchema = Type.Object({
  mount: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$' }),
});

const unix = (ms: number) => Math.floor(ms / 1000);
const rfc3339 = (ms: number) => new Date(ms).toISOString();

/** `lookup-self`'s `data`, in Vault's field names (api-docs/auth/token.mdx "Lookup a token (self)"). */
function lookupData(request: FastifyRequest, d: TokenDescription): Record<string, unknown> {
  return {
    accessor: d.accessor,
    creation_time: d.createdAt === null ? 0 : unix(d.createdAt),
    creation_ttl: d.creationTtlSeconds,
    display_name: d.displayName,
    entity_id: '',
    expire_time: d.expiresAt === null ? null : rfc3339(d.expiresAt),
    explicit_max_ttl: d.explicitMaxTtlSeconds,
    // Vault answers the caller's own token here, and the Go client reads it (Secret.TokenID);
    // it is the token this very request carried, said back to it only.
    id: vaultToken(request) ?? '',
    issue_time: d.createdAt === null ? null : rfc3339(d.createdAt),
    ...(d.renewedAt === null
      ? {}
      : { last_renewal: rfc3339(d.renewedAt), last_renewal_time: unix(d.renewedAt) }),
    meta: d.metadata,
    namespace_path: '',
    num_uses: 0,
    orphan: true,
    path: d.path,
    policies: d.policies,
    renewable: d.renewable,
    ttl: d.ttlSeconds,
    // ESO's checkToken refuses a token without `type`; `batch` would make it log in again each time.
    type: 'service',
    coffer_tenant: d.tenantId,
  };
}

/** The `auth` block of a login or a renewal (api-docs/auth/jwt.mdx, auth/token.mdx). */
function authBlock(input: {
  token: string;
  accessor: string;
  policies: readonly string[];
  metadata: Readonly<Record<string, string>> | null;
  leaseDuration: number;
  renewable: boolean;
}): Record<string, unknown> {
  return {
    client_token: input.token,
    accessor: input.accessor,
    policies: input.policies,
    token_policies: input.policies,
    identity_policies: null,
    metadata: input.metadata,
    lease_duration: input.leaseDuration,
    renewable: input.renewable,
    entity_id: '',
    token_type: 'service',
    orphan: true,
    mfa_requirement: null,
    num_uses: 0,
  };
}

function loginAuth(issued: IssuedToken): Record<string, unknown> {
  return authBlock({
    token: issued.token,
    accessor: issued.accessor,
    policies: issued.policies,
    metadata: issued.metadata,
    leaseDuration: issued.leaseDurationSeconds,
    renewable: issued.renewable,
  });
}

/**
 * Vault's `auth/` routes under `/vault/v1`: the token's own routes (`lookup-self`, `renew-self`,
 * `revoke-self`; every tenant credential may call them on itself) and `auth/<mount>/login` for each
 * JWT login mount configured (COFFER_JWT_AUTH, docs/vault.md). Vault takes POST and PUT alike for
 * writes (the Go client, hence ESO and Vault Agent, sends PUT), and GET or POST for lookup-self.
 */
export function vaultAuthRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    const lookupSelf = {
      schema: {
        operationId: 'vaultTokenLookupSelf',
        tags: ['Vault'],
        summary: 'Look up the calling token (Vault auth/token/lookup-self)',
        description:
          'What the token is: tenant, policies (its Coffer permissions), ttl and expire time. An API key reports ttl 0 and expire_time null (it does not expire).',
        response: { 200: ok('The token, in `data`.'), ...TOKEN_ERRORS },
      },
    };
    const lookup = async (request: FastifyRequest) =>
      envelope(request, lookupData(request, await core.tokens.lookupSelf(callerOf(request))));
    app.get('/v1/auth/token/lookup-self', lookupSelf, lookup);
    app.post(
      '/v1/auth/token/lookup-self',
      { ...lookupSelf, schema: { ...lookupSelf.schema, operationId: 'vaultTokenLookupSelfPost' } },
      lookup,
    );

    for (const method of ['POST', 'PUT'] as const) {
      app.route({
        method,
        url: '/v1/auth/token/renew-self',
        // The body is optional (the CLI sends none without -increment): none is `{}`.
        preValidation: async (request) => {
          request.body ??= {};
        },
        schema: {
          operationId: `vaultTokenRenewSelf${method === 'PUT' ? 'Put' : ''}`,
          tags: ['Vault'],
          summary: 'Renew the calling token (Vault auth/token/renew-self)',
          description:
            'Extends a token issued by a login by `increment` (default: its role’s token_ttl) from now, never past its max ttl. An API key does not expire and is not renewable: 400.',
          body: RenewBodySchema,
          response: { 200: ok('The renewed token, in `auth`.'), ...TOKEN_ERRORS },
        },
        handler: async (request) => {
          const raw = request.body?.increment;
          const seconds = raw === undefined ? null : parseDurationSeconds(raw);
          const renewed = await core.tokens.renewSelf(callerOf(request), seconds === 0 ? null : seconds);
          const d = renewed.description;
          const warnings = renewed.capped
            ? [
                `TTL of "${renewed.askedSeconds}s" exceeded the effective max_ttl of "${d.ttlSeconds}s"; TTL value is capped accordingly`,
              ]
            : [];
          return envelope(request, null, {
            warnings,
            auth: authBlock({
              token: vaultToken(request) ?? '',
              accessor: d.accessor,
              policies: d.policies,
              metadata: d.metadata,
              leaseDuration: d.ttlSeconds,
              renewable: d.renewable,
            }),
          });
        },
      });

      app.route({
        method,
        url: '/v1/auth/token/revoke-self',
        schema: {
          operationId: `vaultTokenRevokeSelf${method === 'PUT' ? 'Put' : ''}`,
          tags: ['Vault'],
          summary: 'Revoke the calling token (Vault auth/token/revoke-self)',
          description:
            'A token issued by a login is refused from the next request on, on every node. A long-lived API key is left alone and answered 400: disable or delete it through the API-key routes.',
          response: { 204: noContent('Revoked.'), ...TOKEN_ERRORS },
        },
        handler: async (request, reply) => {
          await core.tokens.revokeSelf(callerOf(request));
          return reply.code(204).send();
        },
      });

      app.route({
        method,
        url: '/v1/auth/:mount/login',
        config: { anonymous: true },
        schema: {
          operationId: `vaultJwtLogin${method === 'PUT' ? 'Put' : ''}`,
          tags: ['Vault'],
          summary: 'Log in with a JWT (Vault auth/jwt/login)',
          description:
            'Exchanges a JWT (GitHub Actions OIDC, a Kubernetes service-account token) and a role for a short-lived Coffer token, in `auth.client_token`. Mounts and roles are configuration (COFFER_JWT_AUTH, docs/vault.md). Takes no token.',
          params: LoginParamsSchema,
          body: LoginBodySchema,
          response: {
            200: ok('The issued token, in `auth`.'),
            400: errorResponse(
              'A refused login: unknown role, invalid JWT, or a claim outside the role’s bounds.',
            ),
            404: errorResponse('No login mount of that name.'),
            429: errorResponse('Too many failed authentications from this address.'),
            503: errorResponse('The identity provider or the database cannot be reached; retry.'),
          },
        },
        handler: async (request) => {
          const { mount } = request.params;
          if (!core.tokens.hasMount(mount)) throw new NotFoundError('route_not_found', 'No such endpoint.');
          const issued = await core.tokens.login(
            { mount, role: request.body.role ?? '', jwt: request.body.jwt },
            { client: request.ip, requestId: request.id },
          );
          return envelope(request, null, { auth: loginAuth(issued) });
        },
      });
    }
  };
}
