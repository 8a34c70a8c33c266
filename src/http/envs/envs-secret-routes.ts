import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { InvalidError, UnavailableError } from '../../core/errors.js';
import type { SecretRecord } from '../../core/model.js';
import { callerOf } from '../auth.js';
import Type from 'typebox';
import { EnvsErrorSchema } from './envs-errors.js';
import {
  DeletedSchema,
  type DeletedView,
  EnvParams,
  SecretBody,
  SecretParams,
  SecretSchema,
  type SecretView,
  SetValueBody,
} from './envs-schemas.js';
import { refTo } from '../response-schemas.js';

/** The tenant's store behind `/{o}/{p}/envs/{envName}`. */
export function envStoreName(params: EnvParams): string {
  return `${params.p}/${params.envName}`;
}

/** That store, by name: it exists once something is declared into it, and reads as empty before. */
function envStoreOf(params: EnvParams): { readonly name: string } {
  return { name: envStoreName(params) };
}

function secretView(s: SecretRecord): SecretView {
  return {
    name: s.name,
    description: s.description,
    hasValue: s.currentVersion !== null,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  };
}

const errors = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, refTo(EnvsErrorSchema, { description: 'Error' })]));

/** `/{o}/{p}/envs/{envName}/secrets…`: the tenant `o`'s store `{p}/{envName}`; values write-only. */
export function envsSecretRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/:o/:p/envs/:envName/secrets',
      {
        schema: {
          operationId: 'envsListSecrets',
          tags: ['Envs'],
          summary: 'List secrets',
          description:
            'Secrets of the environment, sorted by name: metadata only, whether a value is set (hasValue) but never the value. An environment with nothing declared yet is `[]`. Requires `secrets:read`.',
          params: EnvParams,
          response: {
            200: Type.Array(refTo(SecretSchema), { description: 'Secrets (metadata only)' }),
            ...errors(400, 401, 403),
          },
        },
      },
      async (request) => {
        const params = request.params;
        // Reading never creates the store: an environment nobody declared into is simply empty.
        const all = await core.secrets.listAllByName(callerOf(request), params.o, envStoreOf(params));
        return all.map(secretView);
      },
    );

    app.post(
      '/:o/:p/envs/:envName/secrets',
      {
        schema: {
          operationId: 'envsCreateSecret',
          tags: ['Envs'],
          summary: 'Create a secret',
          description:
            'Declare a secret (metadata only); set its value with `PUT …/{name}/value`. The environment is created on its first declare. Requires `secrets:write`.',
          params: EnvParams,
          body: SecretBody,
          response: {
            201: refTo(SecretSchema, { description: 'Created secret' }),
            ...errors(400, 401, 403, 409),
          },
        },
      },
      async (request, reply) => {
        const params = request.params;
        const body = request.body;
        // The environment is created on its first declare, in the declare's own transaction.
        const [created] = await core.secrets.createMany(
          callerOf(request),
          params.o,
          { ...envStoreOf(params), create: true },
          [{ name: body.name, description: body.description ?? null }],
        );
        if (created === undefined) throw new UnavailableError();
        return reply.code(201).send(secretView(created));
      },
    );

    app.get(
      '/:o/:p/envs/:envName/secrets/:name',
      {
        schema: {
          operationId: 'envsGetSecret',
          tags: ['Envs'],
          summary: 'Get a secret by name',
          description: 'Secret metadata only, never the value. Requires `secrets:read`.',
          params: SecretParams,
          response: {
            200: refTo(SecretSchema, { description: 'The secret (metadata only)' }),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      async (request) => {
        const params = request.params;
        const ref = { name: params.name };
        return secretView(await core.secrets.get(callerOf(request), params.o, envStoreOf(params), ref));
      },
    );

    app.put(
      '/:o/:p/envs/:envName/secrets/:name',
      {
        schema: {
          operationId: 'envsUpdateSecret',
          tags: ['Envs'],
          summary: 'Update a secret description',
          description:
            'Replaces the description (absent: cleared). The body `name` must be the path name: secrets are not renamed. Requires `secrets:write` and, as every call answering with metadata, `secrets:read`.',
          params: SecretParams,
          body: SecretBody,
          response: {
            200: refTo(SecretSchema, { description: 'Updated secret' }),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      async (request) => {
        const params = request.params;
        const body = request.body;
        if (body.name !== params.name) {
          throw InvalidError.field('name_mismatch', 'name', 'The body name must equal the name in the path.');
        }
        const updated = await core.secrets.update(
          callerOf(request),
          params.o,
          envStoreOf(params),
          { name: params.name },
          { description: body.description ?? null },
        );
        return secretView(updated);
      },
    );

    app.delete(
      '/:o/:p/envs/:envName/secrets/:name',
      {
        schema: {
          operationId: 'envsDeleteSecret',
          tags: ['Envs'],
          summary: 'Delete a secret',
          description:
            'Destroys the secret and every version of its value; it cannot be recovered. Requires `secrets:write`.',
          params: SecretParams,
          response: {
            200: refTo(DeletedSchema, { description: 'Deletion result' }),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      async (request) => {
        const params = request.params;
        const ref = { name: params.name };
        await core.secrets.remove(callerOf(request), params.o, envStoreOf(params), ref);
        const result: DeletedView = { deleted: true, name: params.name };
        return result;
      },
    );

    app.put(
      '/:o/:p/envs/:envName/secrets/:name/value',
      {
        // A 65,536-byte value may take up to six times that as JSON escapes.
        bodyLimit: 512 * 1024,
        schema: {
          operationId: 'envsSetSecretValue',
          tags: ['Envs'],
          summary: 'Set a secret value',
          description:
            'Seals the value at rest as a new version; it is never returned. Answers with the metadata. Requires `secrets:set-value` (owner-only).',
          params: SecretParams,
          body: SetValueBody,
          response: {
            200: refTo(SecretSchema, { description: 'Value set' }),
            ...errors(400, 401, 403, 404, 413),
          },
        },
      },
      async (request) => {
        const params = request.params;
        const { value } = request.body;
        const store = envStoreOf(params);
        return secretView(
          await core.secrets.setValue(callerOf(request), params.o, store, params.name, value),
        );
      },
    );
  };
}
