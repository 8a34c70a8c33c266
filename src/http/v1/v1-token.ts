import type { FastifyRequest } from 'fastify';
import { bearerToken, singleHeader } from '../auth.js';

/** The native API's credential: `X-API-KEY`, else `Authorization: Bearer` (docs/native-api.md). */
export function v1Token(request: FastifyRequest): string | undefined {
  return (
    singleHeader(request.headers['x-api-key']) ?? bearerToken(singleHeader(request.headers.authorization))
  );
}
