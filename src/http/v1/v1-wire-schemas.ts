import Type, { type Static, type TSchema } from 'typebox';
import { refTo } from '../response-schemas.js';

/**
 * The native API's resources as they cross the wire, written once: the routes validate and serialise
 * with these schemas, and the typed client (src/client/native-api-types.ts) and the console
 * (ui/src/coffer-api.ts) take their types from them. Only `typebox` here (and refTo, TypeBox alone
 * too), nothing of the server: the console's type-check reads this file (its imports are type-only,
 * so no bundle carries it).
 */

/** Most items one page of a list may hold. */
export const MAX_PAGE_SIZE = 1000;
export const DEFAULT_PAGE_SIZE = 100;
export const DESCRIPTION_MAX = 1024;

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

/** The shape of StorePage and SecretPage over any item type: `items`, then `nextCursor` (null: the last). */
export type PageOf<T> = { [K in keyof StorePage]: K extends 'items' ? T[] : StorePage[K] };

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
