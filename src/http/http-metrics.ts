import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { RateLimitedError, UnauthenticatedError } from '../core/errors.js';
import { bearerToken, singleHeader } from './auth.js';

/**
 * Which part of the server answered: a facade's descriptor name (src/http/facade.ts), `ops`,
 * `console`, or `none` for a path no part owns (the server's own 404). Fixed words only, never
 * request data: each is a label value.
 */
export type FacadeLabel = string;

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `withFacadeLabel` for the metrics' `facade` label. */
    facade: FacadeLabel;
    /** UnauthenticatedError.reason of a 401, for coffer_auth_failures_total. */
    authFailureReason: string | null;
  }
}

/** What the HTTP side records and serves (src/metrics/prometheus-metrics.ts implements it). */
export interface HttpMetrics {
  observeRequest(facade: string, route: string, method: string, status: number, seconds: number): void;
  authFailure(facade: string, reason: string): void;
  render(): Promise<string>;
  readonly contentType: string;
}

/**
 * One `onResponse` hook per request: a histogram observe (its `_count` is the request counter) and,
 * on a 401 or any failed authentication, the auth-failure counter. The route label is the route *template*: the concrete URL
 * holds tenant ids and secret names, which never become label values.
 */
export function instrumentRequests(app: FastifyInstance, metrics: HttpMetrics): void {
  app.decorateRequest('facade', 'none');
  app.decorateRequest('authFailureReason', null);
  app.addHook('onError', (request, _reply, error, done) => {
    if (error instanceof UnauthenticatedError) request.authFailureReason = error.reason;
    // A blocked address's refusals are not audited one by one (src/http/audit-refusals.ts): counted here.
    if (error instanceof RateLimitedError && error.code === 'too_many_failed_authentications') {
      request.authFailureReason = 'address_blocked';
    }
    done();
  });
  app.addHook('onResponse', (request, reply, done) => {
    const status = reply.statusCode;
    const facade = request.facade;
    metrics.observeRequest(
      facade,
      request.routeOptions.url ?? 'unmatched',
      request.method,
      status,
      reply.elapsedTime / 1000,
    );
    // Any failed authentication, whatever status the facade answers it with (Vault: 403, and 400
    // for a refused login), and any other 401.
    if (status === 401 || request.authFailureReason !== null) {
      metrics.authFailure(facade, request.authFailureReason ?? 'other');
    }
    done();
  });
}

/** Registers `plugin` with every request it answers (404s included) labelled as `facade`. */
export function withFacadeLabel(facade: FacadeLabel, plugin: FastifyPluginAsync): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRequest', (request, _reply, done) => {
      request.facade = facade;
      done();
    });
    await app.register(plugin);
  };
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

/**
 * `GET /metrics` in Prometheus' text format. Open when `token` is null (labels carry no tenant,
 * secret or token, and the server listens on loopback by default); otherwise it wants
 * `Authorization: Bearer <token>`, compared in constant time (docs/observability.md).
 */
export function metricsRoute(metrics: HttpMetrics, token: string | null): FastifyPluginAsync {
  const expected = token === null ? null : sha256(token);
  return async (app) => {
    app.get(
      '/metrics',
      {
        schema: {
          operationId: 'metrics',
          tags: ['Operations'],
          summary: 'Prometheus metrics (text format); needs a bearer token when COFFER_METRICS_TOKEN is set',
        },
      },
      async (request, reply) => {
        if (expected !== null) {
          const presented = bearerToken(singleHeader(request.headers.authorization));
          if (presented === undefined || !timingSafeEqual(sha256(presented), expected)) {
            request.authFailureReason = presented === undefined ? 'missing_credentials' : 'bad_metrics_token';
            return reply
              .code(401)
              .header('www-authenticate', 'Bearer')
              .type('application/json; charset=utf-8')
              .send({ error: 'A valid metrics token is required.', code: 'invalid_credentials' });
          }
        }
        reply.header('cache-control', 'no-store').type(metrics.contentType);
        return metrics.render();
      },
    );
  };
}
