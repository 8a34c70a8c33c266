import type { SwaggerTransform } from '@fastify/swagger';
import Type, { type Static } from 'typebox';
import { SECRET_PATH_MAX } from '../../core/names.js';

/** A mount: one of the tenant's stores, a single path segment (docs/vault.md). */
const Mount = Type.String({
  minLength: 1,
  maxLength: 255,
  description: 'The KV mount: the name of one of the tenant’s stores (created by its first write).',
});
const Path = Type.String({
  maxLength: SECRET_PATH_MAX + 1,
  description: "The secret's path: segments of A-Z, a-z, 0-9, '.', '-', '_' joined by '/'.",
});

export const MountParams = Type.Object({ mount: Mount });
export type MountParams = Static<typeof MountParams>;
export const PathParams = Type.Object({ mount: Mount, '*': Path });
export type PathParams = Static<typeof PathParams>;

export const ReadQuery = Type.Object(
  {
    version: Type.Optional(
      Type.Integer({ minimum: 0, description: 'The version to read; 0 or absent: the latest.' }),
    ),
  },
  { additionalProperties: false },
);

export const ListQuery = Type.Object(
  {
    list: Type.Optional(
      Type.Union([Type.Literal('true'), Type.Literal('1'), Type.Literal('false'), Type.Literal('0')], {
        description: '`true` (or `1`): list the keys under the path, as the LIST method does.',
      }),
    ),
  },
  { additionalProperties: false },
);

const Cas = Type.Integer({
  minimum: 0,
  description: 'Check-and-set: the latest version the caller saw (0: the secret must not exist yet).',
});

const WriteOptions = Type.Object({ cas: Type.Optional(Cas) }, { additionalProperties: true });

/** A version's data: a JSON object (string values are what other facades see as text). */
const Data = Type.Record(Type.String(), Type.Unknown(), {
  description: 'The key/value pairs of the version.',
});

export const WriteBody = Type.Object(
  {
    data: Data,
    options: Type.Optional(WriteOptions),
    version: Type.Optional(Type.Integer()),
  },
  { additionalProperties: false },
);
export type WriteBody = Static<typeof WriteBody>;

export const VersionsBody = Type.Object(
  {
    versions: Type.Array(Type.Integer({ minimum: 1 }), {
      minItems: 1,
      maxItems: 1000,
      description: 'The version numbers.',
    }),
  },
  { additionalProperties: false },
);

const CustomMetadata = Type.Record(Type.String(), Type.String(), {
  description: 'Up to 64 keys of at most 128 bytes, values of at most 512 bytes.',
});

export const MetadataBody = Type.Object(
  {
    max_versions: Type.Optional(Type.Integer({ minimum: 0 })),
    cas_required: Type.Optional(Type.Boolean()),
    delete_version_after: Type.Optional(
      Type.String({ description: 'Accepted only as "0s" (no automatic deletion).', pattern: '^0[smh]?$' }),
    ),
    custom_metadata: Type.Optional(CustomMetadata),
  },
  { additionalProperties: false },
);
export type MetadataBody = Static<typeof MetadataBody>;

export const MetadataPatchBody = Type.Object(
  {
    max_versions: Type.Optional(Type.Integer({ minimum: 0 })),
    cas_required: Type.Optional(Type.Boolean()),
    delete_version_after: Type.Optional(Type.String({ pattern: '^0[smh]?$' })),
    custom_metadata: Type.Optional(
      Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]), {
        description: 'Merged into the current custom metadata; null removes a key.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type MetadataPatchBody = Static<typeof MetadataPatchBody>;

export const ConfigBody = Type.Object(
  {
    max_versions: Type.Optional(Type.Integer({ minimum: 0 })),
    cas_required: Type.Optional(Type.Boolean()),
    delete_version_after: Type.Optional(Type.String({ pattern: '^0[smh]?$' })),
  },
  { additionalProperties: false },
);
export type ConfigBody = Static<typeof ConfigBody>;

/** A route schema's `params`, with the wildcard parameter `*` named `path` (for /openapi.json only). */
function starAsPath(params: unknown): unknown {
  if (typeof params !== 'object' || params === null || !('properties' in params)) return params;
  const { properties, required, ...rest } = params as {
    properties: Record<string, unknown>;
    required?: readonly string[];
  };
  const { '*': star, ...others } = properties;
  return {
    ...rest,
    properties: { ...others, path: star },
    required: (required ?? []).map((r) => (r === '*' ? 'path' : r)),
  };
}

/**
 * Route `config` of a wildcard route: /openapi.json shows `/vault/v1/{mount}/data/{path}` instead of
 * a parameter named `*` (the router's own syntax stays as it is).
 */
export const WILDCARD_AS_PATH: { swaggerTransform: SwaggerTransform } = {
  swaggerTransform: ({ schema, url }) => ({
    schema: { ...schema, params: starAsPath(schema.params) },
    url: url.replace(/\*$/, ':path'),
  }),
};
