import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import Type from 'typebox';

const Status = Type.Object({ status: Type.String() }, { additionalProperties: false });

/** `/healthz`: the process answers. `/readyz`: it can also reach its database. No auth, no data. */
export function healthRoutes(ping: () => Promise<void>): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    app.get(
      '/healthz',
      {
        schema: {
          operationId: 'health',
          tags: ['Operations'],
          summary: 'Liveness',
          response: { 200: Status },
        },
      },
      async () => ({ status: 'ok' }),
    );
    app.get(
      '/readyz',
      {
        schema: {
          operationId: 'ready',
          tags: ['Operations'],
          summary: 'Readiness: the database is reachable',
          response: { 200: Status, 503: Status },
        },
      },
      async (request, reply) => {
        try {
          await ping();
          return { status: 'ready' };
        } catch (error) {
          request.log.warn({ err: { message: (error as Error).message } }, 'readiness check failed');
          return reply.code(503).send({ status: 'unavailable' });
        }
      },
    );
  };
}
