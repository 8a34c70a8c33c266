import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { CofferCore } from '../../core/coffer-core.js';
import { InvalidError, NotFoundError, UnavailableError } from '../../core/errors.js';
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

function secretView(s: SecretRecord): SecretView {
  return {
    name: s.name,
    description: s.description,
    hasValue: s.currentVersion !== null,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  };
}

function secretNotFound(): NotFoundError {
  return new NotFoundError('secret_not_found', 'The secret does not exist.');
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
        const actor = callerOf(request);
        // Reading never creates the store: an environment nobody declared into is simply empty.
        const store = await core.stores.getByName(actor, params.o, envStoreName(params));
        if (store === null) return [];
        return (await core.secrets.listAllByName(actor, params.o, store.id)).map(secretView);
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
        const actor = callerOf(request);
        const store = await core.stores.ensure(actor, params.o, envStoreName(params));
        const [created] = await core.secrets.createMany(actor, params.o, store.id, [
          { name: body.name, description: body.description ?? null },
        ]);
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
        const actor = callerOf(request);
        const store = await core.stores.getByName(actor, params.o, envStoreName(params));
        if (store === null) throw secretNotFound();
        return secretView(await core.secrets.getByName(actor, params.o, store.id, params.name));
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
        const actor = callerOf(request);
        const store = await core.stores.getByName(actor, params.o, envStoreName(params));
        if (store === null) throw secretNotFound();
        const secret = await core.secrets.getByName(actor, params.o, store.id, params.name);
        const updated = await core.secrets.update(actor, params.o, store.id, secret.id, {
          description: body.description ?? null,
        });
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
        const deleted = await core.secrets.delete(
          callerOf(request),
          params.o,
          params.name,
          envStoreName(params),
        );
        if (!deleted) throw secretNotFound();
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
        const actor = callerOf(request);
        const store = await core.stores.getByName(actor, params.o, envStoreName(params), 'secrets:set-value');
        if (store === null) throw secretNotFound();
        return secretView(await core.secrets.setValueByName(actor, params.o, store.id, params.name, value));
      },
    );
  };
}
