import type { FastifyInstance, FastifyRequest } from 'fastify';
import { bearerToken, singleHeader, TENANT_AUDIENCE } from '../auth.js';
import type { FacadeDeps, FacadeDescriptor } from '../facade.js';
import { vaultAuthRoutes } from './vault-auth-routes.js';
import { VaultResponseSchema } from './vault-envelope.js';
import {
  toVaultFailure,
  VAULT_CONTENT_TYPE,
  VaultErrorSchema,
  vaultErrorHandler,
  vaultFailureBody,
} from './vault-errors.js';
import { vaultKvRoutes } from './vault-kv-routes.js';
import { vaultSysRoutes } from './vault-sys-routes.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A Vault route that takes no token (`sys/health`, `sys/seal-status`, logins). */
    anonymous?: boolean;
  }
}

/**
 * Where the Vault API lives (docs/adr/0014-vault-facade.md, "Where it listens"): clients are given
 * `http(s)://host:port/vault` as their address and prepend `/v1/` themselves.
 */
export const VAULT_PREFIX = '/vault';

/**
 * The token of a request: `X-Vault-Token` (every Vault client), else `Authorization: Bearer`
 * (Vault accepts both). Either carries a Coffer token (or an OIDC JWT, as on every facade).
 */
export function vaultToken(request: FastifyRequest): string | undefined {
  const header = singleHeader(request.headers['x-vault-token']);
  if (header !== undefined && header.trim() !== '') return header.trim();
  return bearerToken(singleHeader(request.headers.authorization));
}

/** A KV v2 metadata path (or the mount's metadata root), as sent: where Vault's LIST lists keys. */
const METADATA_PATH = new RegExp(`^${VAULT_PREFIX}/v1/[^/?]+/metadata(?:/[^?]*)?(?:\\?|$)`);

/**
 * `LIST /vault/v1/{mount}/metadata/{path}` as the `GET …?list=true` it means (other query
 * parameters kept, a `list` parameter replaced); null for any other path, where Coffer serves no
 * LIST (docs/vault.md, "LIST").
 */
export function listAsGet(target: string): string | null {
  if (!METADATA_PATH.test(target)) return null;
  const mark = target.indexOf('?');
  const path = mark < 0 ? target : target.slice(0, mark);
  const query = new URLSearchParams(mark < 0 ? '' : target.slice(mark + 1));
  query.set('list', 'true');
  return `${path}?${query.toString()}`;
}

/**
 * HashiCorp Vault's HTTP API, mounted at `/vault`: `/vault/v1/{mount}/…` (KV version 2, a mount
 * being one of the tenant's stores), `/vault/v1/sys/…` and `/vault/v1/auth/…`. Answers are Vault's
 * envelope; errors are `{"errors": [...]}`.
 */
export const vaultFacade: FacadeDescriptor = {
  name: 'vault',
  title: 'HashiCorp Vault KV v2 (`/vault/v1`)',
  prefix: VAULT_PREFIX,
  authentication: {
    token: vaultToken,
    missing: 'missing client token',
    send: '`X-Vault-Token: <token>` or `Authorization: Bearer <token>`',
    audience: TENANT_AUDIENCE,
    anonymous: (request) => request.routeOptions.config.anonymous === true,
  },
  errors: {
    handler: vaultErrorHandler,
    raw: (failure) => {
      const f = toVaultFailure(failure);
      return { status: f.status, contentType: VAULT_CONTENT_TYPE, body: vaultFailureBody(f) };
    },
  },
  notFound: 'prefix',
  // Vault lists with the LIST method, which Node's parser refuses: replayed as the GET it means.
  refusedMethods: { LIST: listAsGet },
  register: async (app: FastifyInstance, { core }: FacadeDeps) => {
    app.addSchema(VaultErrorSchema);
    app.addSchema(VaultResponseSchema);
    // Vault reads a JSON body whatever its media type says: the Go client (the CLI, ESO, Vault
    // Agent) sends none, node-vault and hvac send application/json, and PATCH is
    // application/merge-patch+json. Every body is parsed as strict JSON here, never handed to
    // validation as a string; an empty body is no body.
    const json = app.getDefaultJsonParser('error', 'error');
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
      const text = body.toString();
      if (text.trim() === '') return done(null, undefined);
      return json(request, text, done);
    });
    await app.register(vaultSysRoutes(core));
    await app.register(vaultAuthRoutes(core));
    await app.register(vaultKvRoutes(core));
  },
};
