import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import type { CofferCore } from '../../core/coffer-core.js';
import { NotFoundError } from '../../core/errors.js';
import type { KvVersionMeta } from '../../core/secrets/kv-secrets.js';
import { callerOf } from '../auth.js';
import { noContent, refTo } from '../response-schemas.js';
import { envelope, tenantOf, VaultResponseSchema } from './vault-envelope.js';
import { VaultErrorSchema } from './vault-errors.js';
import {
  ConfigBody,
  ListQuery,
  MetadataBody,
  MetadataPatchBody,
  MountParams,
  PathParams,
  ReadQuery,
  VersionsBody,
  WILDCARD_AS_PATH,
  WriteBody,
} from './vault-kv-schemas.js';

/** Mount names that are Vault's own paths, never a KV mount here. */
export const RESERVED_MOUNTS: ReadonlySet<string> = new Set(['sys', 'auth', 'identity', 'cubbyhole']);

const ok = (description: string) => refTo(VaultResponseSchema, { description });
const fail = (description: string) => refTo(VaultErrorSchema, { description });
const ERRORS = {
  400: fail('Invalid input, or a check-and-set mismatch.'),
  403: fail('No valid token, another tenant’s namespace, or a missing permission: `permission denied`.'),
  404: fail('No such secret or version: `{"errors":[]}`.'),
};

/** Vault's time format (RFC 3339, UTC); '' for "never", as Vault writes `deletion_time`. */
export function vaultTime(ms: number | null): string {
  return ms === null ? '' : new Date(ms).toISOString();
}

function versionView(meta: KvVersionMeta) {
  return {
    created_time: vaultTime(meta.createdAt),
    deletion_time: vaultTime(meta.deletedAt),
    destroyed: meta.destroyed,
  };
}

function customView(custom: Readonly<Record<string, string>>): Record<string, string> | null {
  return Object.keys(custom).length === 0 ? null : { ...custom };
}

function mountOf(params: MountParams): string {
  const { mount } = params;
  if (RESERVED_MOUNTS.has(mount)) throw new NotFoundError('route_not_found', 'unsupported path');
  return mount;
}

/** The secret path of a route's wildcard, without the slashes a client may add around it. */
function pathOf(params: PathParams): string {
  return params['*'].replace(/^\/+/, '');
}

/** The `?list=true` read of a metadata path (and of the mount root). */
function wantsList(query: { list?: string | undefined }): boolean {
  return query.list === 'true' || query.list === '1';
}

function unsupportedPatchType(): Error {
  // Classified as a 415 by classifyRequestError, like a body no parser accepts.
  return Object.assign(new Error('PATCH needs Content-Type: application/merge-patch+json'), {
    code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    statusCode: 415,
  });
}

/** A 404 that still carries the envelope (a deleted or destroyed version: its metadata says which). */
function sendNotFoundWith(reply: FastifyReply, body: unknown): FastifyReply {
  return reply.code(404).header('content-type', 'application/json').send(JSON.stringify(body));
}

const WRITE_METHODS = ['POST', 'PUT'] as const;

/**
 * KV version 2 under `/vault/v1/{mount}/…` (api-docs/secret/kv/kv-v2.mdx): data, delete, undelete,
 * destroy, metadata and config. Each handler makes one core call (`core.kv`); PUT and POST are the
 * same write, as in Vault (the Go client writes with PUT, node-vault with POST).
 */
export function vaultKvRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/v1/:mount/data/*',
      {
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: 'vaultKvRead',
          tags: ['Vault'],
          summary: 'Read a secret version (KV v2)',
          description:
            'The latest version, or `?version=`. A soft-deleted or destroyed version is a 404 whose envelope carries its metadata. Requires `secrets:reveal`.',
          params: PathParams,
          querystring: ReadQuery,
          response: { 200: ok('The version’s data and metadata.'), ...ERRORS },
        },
      },
      async (request, reply) => {
        const read = await core.kv.read(
          callerOf(request),
          tenantOf(request),
          mountOf(request.params),
          pathOf(request.params),
          request.query.version,
        );
        const data = {
          data: read.data,
          metadata: {
            ...versionView(read.meta),
            custom_metadata: customView(read.customMetadata),
            version: read.meta.version,
          },
        };
        const body = envelope(request, data, { mountType: 'kv' });
        return read.data === null ? sendNotFoundWith(reply, body) : body;
      },
    );

    for (const method of WRITE_METHODS) {
      app.route({
        method,
        url: '/v1/:mount/data/*',
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: `vaultKvWrite${method === 'PUT' ? 'Put' : ''}`,
          tags: ['Vault'],
          summary: 'Create or update a secret (KV v2)',
          description:
            'Writes `data` as a new version; `options.cas` is the latest version seen (0: must not exist). Requires `secrets:set-value` (and `secrets:write` to create).',
          params: PathParams,
          body: WriteBody,
          response: { 200: ok('The new version’s metadata.'), ...ERRORS },
        },
        handler: async (request) => {
          const meta = await core.kv.write(
            callerOf(request),
            tenantOf(request),
            mountOf(request.params),
            pathOf(request.params),
            request.body.data,
            request.body.options?.cas,
          );
          return envelope(
            request,
            { ...versionView(meta), custom_metadata: null, version: meta.version },
            { mountType: 'kv' },
          );
        },
      });
    }

    app.patch(
      '/v1/:mount/data/*',
      {
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: 'vaultKvPatch',
          tags: ['Vault'],
          summary: 'Patch a secret (KV v2)',
          description:
            'A JSON merge patch (`Content-Type: application/merge-patch+json`) of the latest version’s data, written as a new version. Requires `secrets:reveal` and `secrets:set-value`.',
          params: PathParams,
          body: WriteBody,
          response: { 200: ok('The new version’s metadata.'), ...ERRORS },
        },
      },
      async (request) => {
        const type = (request.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
        if (type !== 'application/merge-patch+json') throw unsupportedPatchType();
        const meta = await core.kv.patch(
          callerOf(request),
          tenantOf(request),
          mountOf(request.params),
          pathOf(request.params),
          request.body.data,
          request.body.options?.cas,
        );
        return envelope(
          request,
          { ...versionView(meta), custom_metadata: null, version: meta.version },
          { mountType: 'kv' },
        );
      },
    );

    app.delete(
      '/v1/:mount/data/*',
      {
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: 'vaultKvDeleteLatest',
          tags: ['Vault'],
          summary: 'Soft-delete the latest version (KV v2)',
          description: 'Restorable with `undelete`. Requires `secrets:write`.',
          params: PathParams,
          response: { 204: noContent('Deleted (or nothing to delete).'), ...ERRORS },
        },
      },
      async (request, reply) => {
        await core.kv.deleteVersions(
          callerOf(request),
          tenantOf(request),
          mountOf(request.params),
          pathOf(request.params),
          'latest',
        );
        return reply.code(204).send();
      },
    );

    const versionRoutes = [
      ['delete', 'Soft-delete versions', (c, t, m, p, v) => core.kv.deleteVersions(c, t, m, p, v)],
      [
        'undelete',
        'Restore soft-deleted versions',
        (c, t, m, p, v) => core.kv.undeleteVersions(c, t, m, p, v),
      ],
      ['destroy', 'Destroy versions for good', (c, t, m, p, v) => core.kv.destroyVersions(c, t, m, p, v)],
    ] as const satisfies readonly (readonly [
      string,
      string,
      (
        caller: ReturnType<typeof callerOf>,
        tenant: string,
        mount: string,
        path: string,
        versions: number[],
      ) => Promise<void>,
    ])[];
    for (const [verb, summary, run] of versionRoutes) {
      for (const method of WRITE_METHODS) {
        app.route({
          method,
          url: `/v1/:mount/${verb}/*`,
          config: WILDCARD_AS_PATH,
          schema: {
            operationId: `vaultKv${verb[0]?.toUpperCase() ?? ''}${verb.slice(1)}${method === 'PUT' ? 'Put' : ''}`,
            tags: ['Vault'],
            summary: `${summary} (KV v2)`,
            description: 'The `versions` given; unknown ones are skipped. Requires `secrets:write`.',
            params: PathParams,
            body: VersionsBody,
            response: { 204: noContent('Done.'), ...ERRORS },
          },
          handler: async (request, reply) => {
            await run(
              callerOf(request),
              tenantOf(request),
              mountOf(request.params),
              pathOf(request.params),
              request.body.versions,
            );
            return reply.code(204).send();
          },
        });
      }
    }

    app.get(
      '/v1/:mount/metadata/*',
      {
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: 'vaultKvMetadata',
          tags: ['Vault'],
          summary: 'Read metadata, or list keys with ?list=true (KV v2)',
          description:
            'Metadata and versions of a secret (requires `secrets:read`); with `?list=true`, the keys under the path, folders ending in `/` (404 when there are none).',
          params: PathParams,
          querystring: ListQuery,
          response: { 200: ok('The metadata, or `{keys: [...]}`.'), ...ERRORS },
        },
      },
      async (request) => {
        const caller = callerOf(request);
        const tenant = tenantOf(request);
        const mount = mountOf(request.params);
        const path = pathOf(request.params);
        if (wantsList(request.query)) {
          const prefix = path === '' || path.endsWith('/') ? path : `${path}/`;
          const keys = await core.kv.list(caller, tenant, mount, prefix);
          if (keys.length === 0) throw new NotFoundError('secret_not_found', 'No keys under this path.');
          return envelope(request, { keys }, { mountType: 'kv' });
        }
        const { secret, settings, versions } = await core.kv.metadata(caller, tenant, mount, path);
        const oldest = versions[0]?.version ?? 0;
        return envelope(
          request,
          {
            cas_required: settings.casRequired,
            created_time: vaultTime(secret.createdAt),
            current_version: secret.latestVersion,
            custom_metadata: customView(settings.customMetadata),
            delete_version_after: '0s',
            max_versions: settings.maxVersions,
            oldest_version: oldest,
            updated_time: vaultTime(secret.updatedAt),
            versions: Object.fromEntries(versions.map((v) => [String(v.version), versionView(v)])),
          },
          { mountType: 'kv' },
        );
      },
    );

    // The Go client joins paths (`path.Join`), so `vault kv list secret/` asks for the mount's root
    // without a trailing slash: `GET /v1/secret/metadata?list=true`.
    app.get(
      '/v1/:mount/metadata',
      {
        schema: {
          operationId: 'vaultKvListRoot',
          tags: ['Vault'],
          summary: 'List the keys at the mount’s root (KV v2)',
          description:
            'With `?list=true`: the keys at the root of the mount, folders ending in `/` (404 when there are none). Requires `secrets:read`.',
          params: MountParams,
          querystring: ListQuery,
          response: { 200: ok('`{keys: [...]}`.'), ...ERRORS },
        },
      },
      async (request) => {
        const caller = callerOf(request);
        const tenant = tenantOf(request);
        const mount = mountOf(request.params);
        if (!wantsList(request.query))
          throw new NotFoundError('secret_not_found', 'No secret at the mount root.');
        const keys = await core.kv.list(caller, tenant, mount, '');
        if (keys.length === 0) throw new NotFoundError('secret_not_found', 'No keys under this path.');
        return envelope(request, { keys }, { mountType: 'kv' });
      },
    );

    for (const method of WRITE_METHODS) {
      app.route({
        method,
        url: '/v1/:mount/metadata/*',
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: `vaultKvWriteMetadata${method === 'PUT' ? 'Put' : ''}`,
          tags: ['Vault'],
          summary: 'Create or update metadata (KV v2)',
          description:
            '`max_versions`, `cas_required`, `custom_metadata` (replaced whole); the secret is created without a value if needed. Requires `secrets:write`.',
          params: PathParams,
          body: MetadataBody,
          response: { 204: noContent('Updated.'), ...ERRORS },
        },
        handler: async (request, reply) => {
          const b = request.body;
          await core.kv.writeMetadata(
            callerOf(request),
            tenantOf(request),
            mountOf(request.params),
            pathOf(request.params),
            {
              ...(b.max_versions === undefined ? {} : { maxVersions: b.max_versions }),
              ...(b.cas_required === undefined ? {} : { casRequired: b.cas_required }),
              ...(b.custom_metadata === undefined ? {} : { customMetadata: b.custom_metadata }),
            },
            'create-or-update',
          );
          return reply.code(204).send();
        },
      });
    }

    app.patch(
      '/v1/:mount/metadata/*',
      {
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: 'vaultKvPatchMetadata',
          tags: ['Vault'],
          summary: 'Patch metadata (KV v2)',
          description:
            'A merge patch of an existing secret’s metadata (`custom_metadata` keys set to null are removed). Requires `secrets:write`.',
          params: PathParams,
          body: MetadataPatchBody,
          response: { 204: noContent('Updated.'), ...ERRORS },
        },
      },
      async (request, reply) => {
        const type = (request.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase();
        if (type !== 'application/merge-patch+json') throw unsupportedPatchType();
        const b = request.body;
        await core.kv.writeMetadata(
          callerOf(request),
          tenantOf(request),
          mountOf(request.params),
          pathOf(request.params),
          {
            ...(b.max_versions === undefined ? {} : { maxVersions: b.max_versions }),
            ...(b.cas_required === undefined ? {} : { casRequired: b.cas_required }),
            ...(b.custom_metadata === undefined ? {} : { customMetadataPatch: b.custom_metadata }),
          },
          'patch',
        );
        return reply.code(204).send();
      },
    );

    app.delete(
      '/v1/:mount/metadata/*',
      {
        config: WILDCARD_AS_PATH,
        schema: {
          operationId: 'vaultKvDeleteMetadata',
          tags: ['Vault'],
          summary: 'Delete a secret with all its versions (KV v2)',
          description: 'The secret, every version and its metadata. Requires `secrets:write`.',
          params: PathParams,
          response: { 204: noContent('Deleted (or nothing to delete).'), ...ERRORS },
        },
      },
      async (request, reply) => {
        await core.kv.deleteAll(
          callerOf(request),
          tenantOf(request),
          mountOf(request.params),
          pathOf(request.params),
        );
        return reply.code(204).send();
      },
    );

    app.get(
      '/v1/:mount/config',
      {
        schema: {
          operationId: 'vaultKvConfig',
          tags: ['Vault'],
          summary: 'Read the mount configuration (KV v2)',
          description: 'The store’s defaults for its secrets. Requires `secrets:read`.',
          params: MountParams,
          response: { 200: ok('`max_versions`, `cas_required`, `delete_version_after`.'), ...ERRORS },
        },
      },
      async (request) => {
        const config = await core.kv.config(callerOf(request), tenantOf(request), mountOf(request.params));
        return envelope(
          request,
          { cas_required: config.casRequired, delete_version_after: '0s', max_versions: config.maxVersions },
          { mountType: 'kv' },
        );
      },
    );

    for (const method of WRITE_METHODS) {
      app.route({
        method,
        url: '/v1/:mount/config',
        schema: {
          operationId: `vaultKvWriteConfig${method === 'PUT' ? 'Put' : ''}`,
          tags: ['Vault'],
          summary: 'Configure the mount (KV v2)',
          description:
            'The store’s `max_versions` and `cas_required` (the store is created if needed). Requires `secrets:write`.',
          params: MountParams,
          body: ConfigBody,
          response: { 204: noContent('Updated.'), ...ERRORS },
        },
        handler: async (request, reply) => {
          const b = request.body;
          await core.kv.writeConfig(callerOf(request), tenantOf(request), mountOf(request.params), {
            ...(b.max_versions === undefined ? {} : { maxVersions: b.max_versions }),
            ...(b.cas_required === undefined ? {} : { casRequired: b.cas_required }),
          });
          return reply.code(204).send();
        },
      });
    }
  };
}
