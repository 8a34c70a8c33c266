import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type, { type Static } from 'typebox';
import { AUDIT_PAGE_MAX } from '../../core/audit-service.js';
import type { CofferCore } from '../../core/coffer-core.js';
import { parseInstant } from '../../core/instant.js';
import { callerOf } from '../auth.js';
import { AuditPage } from './neostore-wire-schemas.js';

const TenantParam = Type.String({ maxLength: 256, description: 'Tenant id.' });
const Instant = Type.String({
  format: 'date-time',
  maxLength: 64,
  description: 'ISO 8601 date or date-time (no zone = UTC).',
  'x-message': 'Expected an ISO 8601 date-time (e.g. 2030-01-31T12:00:00Z).',
});

const AuditQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: AUDIT_PAGE_MAX, default: 100, description: 'Events per page.' }),
    ),
    cursor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 256, description: 'The `nextCursor` of the previous page.' }),
    ),
    action: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'e.g. `secret.reveal`.' })),
    actor: Type.Optional(
      Type.String({ minLength: 1, maxLength: 128, description: 'e.g. `key:admin` or `service:billing`.' }),
    ),
    since: Type.Optional({ ...Instant, description: 'Events at or after this instant.' }),
    until: Type.Optional({ ...Instant, description: 'Events before this instant.' }),
  },
  { additionalProperties: false },
);
type AuditQuery = Static<typeof AuditQuery>;

const problems = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description: 'Problem details',
        content: { 'application/problem+json': { schema: { $ref: 'ProblemDetails#' } } },
      },
    ]),
  );

/** `/api/{tenantId}/audit`: the tenant's audit trail, newest first. */
export function neostoreAuditRoutes(core: CofferCore): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      '/:tenantId/audit',
      {
        schema: {
          operationId: 'listAuditEvents',
          tags: ['Audit'],
          summary: "Read the tenant's audit trail",
          description: `Events of the tenant's hash chains, newest first (by time, then chain id, then seq), ${AUDIT_PAGE_MAX} at most per page; follow \`nextCursor\` for older ones. Filters: \`action\`, \`actor\`, \`since\` (inclusive), \`until\` (exclusive). Reading is itself recorded. Requires \`audit:read\`.`,
          params: Type.Object({ tenantId: TenantParam }),
          querystring: AuditQuery,
          response: { 200: AuditPage, ...problems(400, 401, 403) },
        },
      },
      async (request, reply) => {
        const { tenantId } = request.params;
        const q = request.query;
        const page = await core.audit.list(callerOf(request), tenantId, {
          limit: q.limit ?? 100,
          ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
          ...(q.action === undefined ? {} : { action: q.action }),
          ...(q.actor === undefined ? {} : { actor: q.actor }),
          ...(q.since === undefined ? {} : { since: parseInstant(q.since, 'since') }),
          ...(q.until === undefined ? {} : { until: parseInstant(q.until, 'until') }),
        });
        reply.header('cache-control', 'no-store');
        return {
          events: page.events.map(({ tenantId: _chain, ...event }) => event),
          nextCursor: page.nextCursor,
        };
      },
    );
  };
}
