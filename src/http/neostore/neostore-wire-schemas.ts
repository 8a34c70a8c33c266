import Type, { type Static } from 'typebox';

/**
 * The API keys and audit trail (`/api/{tenant}/admin/apiKeys`, `/api/{tenant}/audit`) as they cross
 * the wire, written once: the routes serialise with these schemas and the console (ui/src/coffer-api.ts)
 * takes its types from them. Only `typebox` here, nothing of the server: the console's type-check
 * reads this file (its imports are type-only, so no bundle carries it).
 */

export const ApiKeyDefinition = Type.Object(
  {
    name: Type.String({ description: 'Key name identifier.' }),
    enabled: Type.Boolean({ description: 'Whether this key is currently active.' }),
    permissions: Type.Array(Type.String(), { description: 'Permission scopes granted to this key.' }),
  },
  { additionalProperties: false, description: 'API key definition. The key hash is never exposed.' },
);
export type ApiKeyDefinition = Static<typeof ApiKeyDefinition>;

export const ApiKeyCreatedResponse = Type.Object(
  {
    name: Type.String(),
    enabled: Type.Boolean(),
    permissions: Type.Array(Type.String()),
    token: Type.String({
      description: 'Plaintext API key. Copy and store it immediately: it will not be shown again.',
    }),
  },
  { additionalProperties: false, description: 'Returned once after a successful key creation.' },
);
export type ApiKeyCreatedResponse = Static<typeof ApiKeyCreatedResponse>;

export const AuditEvent = Type.Object(
  {
    chainId: Type.String({
      description:
        "The hash chain it is a link of (opaque). A tenant's trail is several chains: one per Coffer process and kind of event (docs/audit.md).",
    }),
    seq: Type.Integer({ description: 'Position in its chain: 1, 2, 3…' }),
    time: Type.String({ format: 'date-time' }),
    actor: Type.String({ description: '`key:<name>`, `service:<name>`, `operator` or `anonymous`.' }),
    action: Type.String(),
    resource: Type.String({ description: 'Store, secret and key names or ids; never a value.' }),
    outcome: Type.Union([Type.Literal('allowed'), Type.Literal('denied'), Type.Literal('error')]),
    reason: Type.Union([Type.String(), Type.Null()], { description: 'Error code when not allowed.' }),
    requestId: Type.String(),
    clientAddress: Type.String(),
    prevHash: Type.String({ description: 'SHA-256 (hex) of the previous event.' }),
    hash: Type.String({ description: 'SHA-256 (hex) of prevHash and this event’s canonical form.' }),
  },
  { additionalProperties: false },
);
export type AuditEvent = Static<typeof AuditEvent>;

export const AuditPage = Type.Object(
  {
    events: Type.Array(AuditEvent, {
      description: 'Newest first: by time, then chain id, then seq (all descending).',
    }),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Null on the last page.' }),
  },
  { additionalProperties: false },
);
export type AuditPage = Static<typeof AuditPage>;
