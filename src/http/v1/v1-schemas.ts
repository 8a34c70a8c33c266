import Type, { type Static } from 'typebox';
import { MAX_REVEAL_BATCH } from '../../core/secret-service.js';
import { SECRET_NAME_MAX, SECRET_NAME_PATTERN, TENANT_ID_PATTERN } from '../../core/names.js';

export {
  DEFAULT_PAGE_SIZE,
  DESCRIPTION_MAX,
  ListQuery,
  MAX_PAGE_SIZE,
  PutSecretBody,
  RevealResponse,
  SecretPage,
  SecretSchema,
  type SecretView,
  StorePage,
  StoreSchema,
  type StoreView,
} from './v1-wire-schemas.js';

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

const problem = { content: { 'application/problem+json': { schema: { $ref: 'ProblemDetails#' } } } };
export const problems = (...statuses: number[]) =>
  Object.fromEntries(statuses.map((s) => [s, { description: 'Problem details', ...problem }]));
