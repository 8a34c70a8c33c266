import Type, { type Static, type TSchema } from 'typebox';
import { MAX_REVEAL_BATCH } from '../../core/secret-service.js';
import { SECRET_NAME_MAX, SECRET_NAME_PATTERN, TENANT_ID_PATTERN } from '../../core/names.js';
import { refTo } from '../response-schemas.js';

/** Most items one page of a list may hold. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;
export const DESCRIPTION_MAX = 1024;

const SECRET_NAME_MESSAGE = `The secret name must be 1-${SECRET_NAME_MAX} characters of A-Z, a-z, 0-9, '-' or '_'.`;

const Tenant = Type.String({
  maxLength: 64,
  pattern: TENANT_ID_PATTERN.source,
  description: "Tenant id: 1-64 of A-Z, a-z, 0-9, '.', '_', '-', starting with a letter or digit.",
  'x-message':
    "The tenant id must be 1-64 characters of A-Z, a-z, 0-9, '.', '-' or '_', starting with a letter or digit.",
});
const StoreRef = Type.String({
  minLength: 1,
  maxLength: 255,
  description:
    "The store's 32-hex id, or its URL-encoded name (`default`, `web%2Fproduction` for the envs store `web/production`).",
});
const SecretName = Type.String({
  minLength: 1,
  maxLength: SECRET_NAME_MAX,
  pattern: SECRET_NAME_PATTERN.source,
  description: "Secret name: 1-127 of A-Z, a-z, 0-9, '-' and '_'; case-sensitive.",
  'x-message': SECRET_NAME_MESSAGE,
});

export const TenantParams = Type.Object({ tenant: Tenant });
export type TenantParams = Static<typeof TenantParams>;
export const StoreParams = Type.Object({ tenant: Tenant, store: StoreRef });
export type StoreParams = Static<typeof StoreParams>;
export const SecretParams = Type.Object({ tenant: Tenant, store: StoreRef, name: SecretName });
export type SecretParams = Static<typeof SecretParams>;

export const ListQuery = Type.Object(
  {
    prefix: Type.Optional(
      Type.String({ maxLength: 255, description: 'Only names starting with this (case-sensitive).' }),
    ),
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: MAX_PAGE_SIZE,
        default: DEFAULT_PAGE_SIZE,
        description: `Items per page, 1-${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}).`,
      }),
    ),
    cursor: Type.Optional(
      Type.String({
        maxLength: 1024,
        description: 'Opaque: the `nextCursor` of the previous page, with the same `prefix`.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type ListQuery = Static<typeof ListQuery>;

const Instant = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const StoreSchema = Type.Object(
  {
    id: Type.String({ description: 'Store id (32 hex).' }),
    name: Type.String({ description: 'Store name: `default` (Neostore), `{project}/{env}` (envs), …' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'V1Store', additionalProperties: false },
);
export type StoreView = Static<typeof StoreSchema>;

export const SecretSchema = Type.Object(
  {
    id: Type.String({ description: 'Secret id (32 hex).' }),
    name: Type.String(),
    storeId: Type.String(),
    description: Type.Union([Type.String(), Type.Null()]),
    scopes: Type.Array(Type.String()),
    version: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The current version, or null while the secret has no value.',
    }),
    hasValue: Type.Boolean(),
    notBefore: Instant,
    expiresOn: Instant,
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    value: Type.Optional(Type.String({ description: 'Only with `?reveal=true`.' })),
  },
  { $id: 'V1Secret', additionalProperties: false },
);
export type SecretView = Static<typeof SecretSchema>;

function pageOf<T extends TSchema>(item: T, description: string) {
  return Type.Object(
    {
      items: Type.Array(refTo(item)),
      nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Null on the last page.' }),
    },
    { description, additionalProperties: false },
  );
}
export const StorePage = pageOf(StoreSchema, 'One page of stores, by name');
export type StorePage = Static<typeof StorePage>;
export const SecretPage = pageOf(SecretSchema, 'One page of secrets (metadata only), by name');
export type SecretPage = Static<typeof SecretPage>;

export const CreateStoreBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: 255,
      description: 'Store name: a letter or digit, then letters, digits, `.`, `_`, `-` and `/`.',
    }),
  },
  { additionalProperties: false },
);
export type CreateStoreBody = Static<typeof CreateStoreBody>;

export const DeleteStoreQuery = Type.Object(
  {
    force: Type.Optional(Type.Boolean({ default: false, description: 'Also destroy the secrets it holds.' })),
  },
  { additionalProperties: false },
);
export type DeleteStoreQuery = Static<typeof DeleteStoreQuery>;

export const GetSecretQuery = Type.Object(
  {
    reveal: Type.Optional(
      Type.Boolean({
        default: false,
        description: 'Include the current value (needs `secrets:reveal`).',
      }),
    ),
  },
  { additionalProperties: false },
);
export type GetSecretQuery = Static<typeof GetSecretQuery>;

const WriteInstant = Type.Union([Type.String({ format: 'date-time', maxLength: 64 }), Type.Null()], {
  'x-message': 'Expected an ISO 8601 date-time (e.g. 2030-01-31T12:00:00Z) or null.',
  description: 'ISO 8601 date-time (no zone: UTC), or null to clear.',
});

export const PutSecretBody = Type.Object(
  {
    value: Type.Optional(Type.String({ description: 'A new value: at most 65,536 bytes in UTF-8.' })),
    description: Type.Optional(Type.Union([Type.String({ maxLength: DESCRIPTION_MAX }), Type.Null()])),
    scopes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 128 }), { maxItems: 64 })),
    notBefore: Type.Optional(WriteInstant),
    expiresOn: Type.Optional(WriteInstant),
  },
  { additionalProperties: false },
);
export type PutSecretBody = Static<typeof PutSecretBody>;

export const RevealBody = Type.Object(
  {
    names: Type.Optional(
      Type.Array(SecretName, {
        maxItems: MAX_REVEAL_BATCH,
        description: `The secrets wanted (at most ${MAX_REVEAL_BATCH}); absent: every secret with a value.`,
      }),
    ),
  },
  { additionalProperties: false },
);
export type RevealBody = Static<typeof RevealBody>;

export const RevealResponse = Type.Object(
  {
    secrets: Type.Array(
      Type.Object(
        { name: Type.String(), value: Type.String(), version: Type.Integer() },
        { additionalProperties: false },
      ),
    ),
    missing: Type.Array(Type.String(), {
      description: 'Names asked for that are missing, have no value, are expired or not yet valid.',
    }),
  },
  { additionalProperties: false },
);
export type RevealResponse = Static<typeof RevealResponse>;

const problem = { content: { 'application/problem+json': { schema: { $ref: 'ProblemDetails#' } } } };
export const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, { description: 'Problem details', ...problem }]));
