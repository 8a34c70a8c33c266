import Type, { type Static, type TSchema } from 'typebox';
import type { SecretOrder } from '../../core/model.js';
import { SECRET_NAME_MAX, SECRET_NAME_PATTERN } from '../../core/names.js';

/** Cloudflare's scope enum (SDK 7.3); `ai_gateway` has an underscore, not a hyphen. */
export const SCOPES = ['workers', 'ai_gateway', 'dex', 'access', 'containers', 'websearch'] as const;
export type Scope = (typeof SCOPES)[number];

const ScopeSchema = Type.Union(
  SCOPES.map((s) => Type.Literal(s)),
  { 'x-message': `Must be one of ${SCOPES.join(', ')}.` },
);
const Scopes = Type.Array(ScopeSchema, {
  minItems: 1,
  maxItems: 32,
  description: 'Where the secret may be used.',
});

// --- Identifiers -------------------------------------------------------------------------------

export const AccountIdParam = Type.String({
  minLength: 1,
  maxLength: 64,
  description: 'The Coffer tenant id (Cloudflare account id).',
});
const Id32 = (description: string) => Type.String({ minLength: 1, maxLength: 32, description });
export const StoreIdParam = Id32('Store identifier (32 hex characters).');
export const SecretIdParam = Id32('Secret identifier (32 hex characters).');

// --- Request bodies ----------------------------------------------------------------------------

/** Patterns live in the core (`assertStoreName`), which answers with its own error code. */
const StoreName = Type.String({
  minLength: 1,
  maxLength: 255,
  description: "Store name: 1-255 of A-Z a-z 0-9 '.' '_' '/' '-', starting with a letter or digit.",
});
const SecretName = Type.String({
  minLength: 1,
  maxLength: SECRET_NAME_MAX,
  pattern: SECRET_NAME_PATTERN.source,
  description: "Secret name: 1-127 of A-Z a-z 0-9 '-' '_', unique within its store.",
  'x-message': "Must be 1-127 characters of A-Z, a-z, 0-9, '-' or '_'.",
});
const Comment = Type.String({ maxLength: 1024, description: 'Freeform text describing the secret.' });
/** The byte limit (65,536 UTF-8 bytes) is the core's: a character bound here would be the wrong unit. */
const Value = Type.String({ description: 'The secret value; write-only, at most 65,536 bytes in UTF-8.' });

const StoreCreateObject = Type.Object({ name: StoreName }, { additionalProperties: false });
export const StoreCreateBody = Type.Union(
  [StoreCreateObject, Type.Array(StoreCreateObject, { minItems: 1, maxItems: 10 })],
  {
    description: 'An object `{name}` (SDK 6+, wrangler); an array `[{name}]` as older SDKs send.',
    'x-message': 'Expected {"name": ...} or [{"name": ...}].',
  },
);
export type StoreCreateBody = Static<typeof StoreCreateBody>;

export const SystemStoreCreateBody = Type.Object(
  {
    account_id: Type.Union([Type.Integer({ minimum: 0 }), Type.String({ minLength: 1, maxLength: 64 })], {
      description: "The caller's numeric account id; recorded nowhere (the path's account_tag decides).",
      'x-message': 'Must be an integer or a string.',
    }),
    name: StoreName,
  },
  { additionalProperties: false },
);
export type SystemStoreCreateBody = Static<typeof SystemStoreCreateBody>;

const SecretCreateObject = Type.Object(
  { name: SecretName, value: Value, scopes: Scopes, comment: Type.Optional(Comment) },
  { additionalProperties: false },
);
export const SecretCreateBody = Type.Array(SecretCreateObject, {
  minItems: 1,
  maxItems: 100,
  description: 'An array of secrets to create, all or none.',
});
export type SecretCreateBody = Static<typeof SecretCreateBody>;

export const SecretPatchBody = Type.Object(
  { comment: Type.Optional(Comment), scopes: Type.Optional(Scopes), value: Type.Optional(Value) },
  {
    additionalProperties: false,
    minProperties: 1,
    description: 'A partial update; `value` rotates the secret.',
  },
);
export type SecretPatchBody = Static<typeof SecretPatchBody>;

export const SecretDuplicateBody = Type.Object(
  { name: SecretName, scopes: Scopes, comment: Type.Optional(Comment) },
  { additionalProperties: false, description: 'The copy keeps the source value; the comment if omitted.' },
);
export type SecretDuplicateBody = Static<typeof SecretDuplicateBody>;

const BulkIds = Type.Array(Id32('Secret identifier.'), { minItems: 1, maxItems: 1000 });
export const BulkDeleteBody = Type.Union(
  [
    Type.Object({ ids: BulkIds }, { additionalProperties: false }),
    Type.Array(Type.Object({ id: Id32('Secret identifier.') }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: 1000,
    }),
  ],
  {
    description: '`{ids: [...]}` (current spec) or `[{id}, ...]` (older spec). All exist and go, or none.',
    'x-message': 'Expected {"ids": [...]} or [{"id": ...}].',
  },
);
export type BulkDeleteBody = Static<typeof BulkDeleteBody>;

// --- Query strings -----------------------------------------------------------------------------

const Direction = Type.Union([Type.Literal('asc'), Type.Literal('desc')]);
const Page = Type.Integer({
  minimum: 0,
  maximum: 2_147_483_647,
  description: 'Page number; missing or 0 is the first page. A page past the end is empty.',
});
const PerPage = Type.Integer({
  minimum: 1,
  maximum: 100,
  description: 'Page size, at most 100 (default 20).',
});

export const StoreListQuery = Type.Object({
  page: Type.Optional(Page),
  per_page: Type.Optional(PerPage),
  direction: Type.Optional(Direction),
  order: Type.Optional(Type.Union([Type.Literal('name'), Type.Literal('created'), Type.Literal('modified')])),
});
export type StoreListQuery = Static<typeof StoreListQuery>;

const scopeAlternatives = SCOPES.join('|');
/** The orders the core knows (`SecretOrder`), as the query's literals: the handler needs no cast. */
const SECRET_ORDERS = [
  'name',
  'comment',
  'created',
  'modified',
  'status',
] as const satisfies readonly SecretOrder[];
export const SecretListQuery = Type.Object({
  page: Type.Optional(Page),
  per_page: Type.Optional(PerPage),
  direction: Type.Optional(Direction),
  order: Type.Optional(Type.Union(SECRET_ORDERS.map((o) => Type.Literal(o)))),
  search: Type.Optional(
    Type.String({ maxLength: 256, description: 'Case-insensitive substring of the name or the comment.' }),
  ),
  scopes: Type.Optional(
    Type.Array(
      Type.String({
        maxLength: 256,
        pattern: `^(${scopeAlternatives})(,(${scopeAlternatives}))*$`,
      }),
      {
        maxItems: 32,
        description: 'Secrets holding any of these scopes; repeated keys or comma-separated values.',
      },
    ),
  ),
});
export type SecretListQuery = Static<typeof SecretListQuery>;

export const StoreDeleteQuery = Type.Object({
  force: Type.Optional(
    Type.Boolean({ description: 'Also destroy the secrets of a non-empty store (otherwise 409).' }),
  ),
});
export type StoreDeleteQuery = Static<typeof StoreDeleteQuery>;

// --- Results and envelopes ---------------------------------------------------------------------

const DateTime = Type.String({ format: 'date-time' });

export const StoreView = Type.Object(
  {
    id: Type.String({ maxLength: 32 }),
    name: Type.String(),
    created: DateTime,
    modified: DateTime,
    account_id: Type.String({ description: 'The Coffer tenant id.' }),
  },
  { additionalProperties: false },
);
export type StoreView = Static<typeof StoreView>;

export const SecretView = Type.Object(
  {
    id: Type.String({ maxLength: 32 }),
    name: Type.String(),
    store_id: Type.String({ maxLength: 32 }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('active'), Type.Literal('deleted')], {
      description:
        '`active` when the secret holds a value, `pending` when not (yet), `deleted` once destroyed.',
    }),
    created: DateTime,
    modified: DateTime,
    scopes: Type.Array(Type.String()),
    comment: Type.String({ description: 'The description; "" when there is none.' }),
  },
  { additionalProperties: false },
);
export type SecretView = Static<typeof SecretView>;

export const QuotaView = Type.Object(
  {
    secrets: Type.Object(
      { quota: Type.Integer(), usage: Type.Integer() },
      { additionalProperties: false, description: 'Secrets the account may hold, and holds, across stores.' },
    ),
  },
  { additionalProperties: false },
);
export type QuotaView = Static<typeof QuotaView>;

const Message = Type.Object({
  code: Type.Integer({ minimum: 1000 }),
  message: Type.String(),
  source: Type.Optional(Type.Object({ pointer: Type.String() })),
});

export const ResultInfo = Type.Object(
  {
    count: Type.Integer({ description: 'Items on this page.' }),
    page: Type.Integer(),
    per_page: Type.Integer(),
    total_count: Type.Integer({ description: 'Items over all pages.' }),
  },
  { additionalProperties: false },
);
export type ResultInfo = Static<typeof ResultInfo>;

export const FailureEnvelope = Type.Object(
  {
    success: Type.Literal(false),
    errors: Type.Array(Message, { minItems: 1 }),
    messages: Type.Array(Message),
    result: Type.Null(),
  },
  { $id: 'CloudflareFailureEnvelope', description: 'Every 4xx and 5xx: see docs/cloudflare-errors.md.' },
);

export function envelopeOf<T extends TSchema>(result: T, description: string) {
  return Type.Object(
    { success: Type.Literal(true), errors: Type.Array(Message), messages: Type.Array(Message), result },
    { description },
  );
}

export function listEnvelopeOf<T extends TSchema>(item: T, description: string) {
  return Type.Object(
    {
      success: Type.Literal(true),
      errors: Type.Array(Message),
      messages: Type.Array(Message),
      result: Type.Array(item),
      result_info: ResultInfo,
    },
    { description },
  );
}

export const failureResponses = {
  '4xx': { $ref: 'CloudflareFailureEnvelope#' },
  '5xx': { $ref: 'CloudflareFailureEnvelope#' },
};
