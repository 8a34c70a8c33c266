import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import pino from 'pino';
import Type from 'typebox';
import { MethodNotAllowedError } from '../../src/http/route-methods.js';
import { callerOf, singleHeader, TENANT_AUDIENCE } from '../../src/http/auth.js';
import {
  type FacadeDescriptor,
  type FacadeErrors,
  FacadeRouting,
  installFacades,
  type RawFailure,
} from '../../src/http/facade.js';
import { frameworkErrorHandler } from '../../src/http/framework-errors.js';
import { instrumentRequests } from '../../src/http/http-metrics.js';
import { classifyRequestError, type RequestFailure } from '../../src/http/request-errors.js';
import { RouteMethods } from '../../src/http/route-methods.js';
import { validatorCompiler } from '../../src/http/validation.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { eventsDuring, summary } from '../audit/audit-events.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * A fourth facade, written the way docs/architecture.md says: a descriptor and nothing else. What
 * every facade must have — authentication before any route (unknown ones too), refusals audited,
 * its own not-found and 405, its own shape for URLs that do not decode — comes from
 * `installFacades` and `FacadeRouting`, over the server's real core and database.
 */
const TOY_TYPE = 'application/x-toy+json; charset=utf-8';

const TOY_STATUS: Partial<Record<string, number>> = {
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  invalid: 400,
};

function toToy(failure: RequestFailure): RawFailure & { readonly allow?: readonly string[] } {
  const body = (status: number, code: string): RawFailure => ({
    status,
    contentType: TOY_TYPE,
    body: JSON.stringify({ toy: code }),
  });
  switch (failure.type) {
    case 'domain': {
      const e = failure.error;
      if (e instanceof MethodNotAllowedError) return { ...body(405, e.code), allow: e.allow };
      return body(TOY_STATUS[e.kind] ?? 500, e.code);
    }
    case 'validation':
      return body(400, 'validation');
    case 'client':
      return body(failure.status, 'client');
    default:
      return body(400, failure.type);
  }
}

const toyErrors: FacadeErrors = {
  handler: (error, req, reply) => {
    const f = toToy(classifyRequestError(error, req.log));
    if (f.allow !== undefined) reply.header('allow', f.allow.join(', '));
    return reply.code(f.status).header('content-type', f.contentType).send(f.body);
  },
  raw: toToy,
};

function tenantOf(params: unknown): string {
  if (
    typeof params === 'object' &&
    params !== null &&
    'tenant' in params &&
    typeof params.tenant === 'string'
  ) {
    return params.tenant;
  }
  throw new Error('no tenant parameter');
}

const toyFacade: FacadeDescriptor = {
  name: 'toy',
  title: 'Toy (`/toy`)',
  prefix: '/toy',
  authentication: {
    token: (req) => singleHeader(req.headers['x-toy-key']),
    missing: 'Send X-Toy-Key.',
    audience: TENANT_AUDIENCE,
  },
  errors: toyErrors,
  notFound: 'prefix',
  register: async (app, { core }) => {
    app.get(
      '/:tenant/stores',
      { schema: { params: Type.Object({ tenant: Type.String({ maxLength: 64 }) }) } },
      async (req) => {
        const tenant = tenantOf(req.params);
        const page = await core.stores.listByName(callerOf(req), tenant, {
          prefix: '',
          after: null,
          limit: 10,
        });
        return { names: page.items.map((s) => s.name) };
      },
    );
  },
};

describe('a facade added by its descriptor alone', () => {
  let server: TestServer;
  let app: FastifyInstance;
  let url: string;

  before(async () => {
    server = await startTestServer();
    const routing = new FacadeRouting([toyFacade]);
    const logger: FastifyBaseLogger = pino({ level: 'silent' });
    app = Fastify({
      loggerInstance: logger,
      frameworkErrors: frameworkErrorHandler(routing),
    });
    app.decorateRequest('actor', null);
    instrumentRequests(app, new PrometheusMetrics());
    app.setValidatorCompiler(validatorCompiler);
    RouteMethods.install(app);
    await installFacades(app, routing, { core: server.runtime.core });
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const made = await request(server.url, 'POST', '/v1/tenants/default/stores', {
      token: server.adminToken,
      body: { name: 'toy-store' },
    });
    assert.equal(made.status, 201, made.text);
  });
  after(async () => {
    await app.close();
    await server.close();
  });

  const toy = (method: string, path: string, token?: string) =>
    request(url, method, path, { headers: token === undefined ? {} : { 'x-toy-key': token } });

  it('serves its routes through the core with its own credential', async () => {
    const res = await toy('GET', '/toy/default/stores', server.adminToken);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json, { names: ['toy-store'] });
  });

  it('authenticates every route, unknown ones too, and answers in its own shape', async () => {
    for (const path of ['/toy/default/stores', '/toy/nothing']) {
      const res = await toy('GET', path);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get('content-type'), TOY_TYPE, path);
      assert.deepEqual(res.json, { toy: 'missing_credentials' }, path);
    }
    const wrong = await toy('GET', '/toy/default/stores', `${server.adminToken}x`);
    assert.equal(wrong.status, 401);
  });

  it('answers unknown routes (404) and methods (405, Allow) in its own shape, and audits them', async () => {
    const events = await eventsDuring(server, 'default', async () => {
      const missing = await toy('GET', '/toy/nothing', server.adminToken);
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.json, { toy: 'route_not_found' });
      const method = await toy('DELETE', '/toy/default/stores', server.adminToken);
      assert.equal(method.status, 405);
      assert.equal(method.headers.get('allow'), 'GET, HEAD');
      assert.deepEqual(method.json, { toy: 'method_not_allowed' });
    });
    assert.deepEqual(summary(events), [
      'request.refused GET (no route) denied route_not_found',
      'request.refused DELETE (no route) denied method_not_allowed',
    ]);
  });

  it('renders validation failures and URLs that do not decode in its own shape', async () => {
    const long = await toy('GET', `/toy/${'t'.repeat(65)}/stores`, server.adminToken);
    assert.equal(long.status, 400);
    assert.deepEqual(long.json, { toy: 'validation' });
    for (const path of ['/toy/%zz/stores', '/toy/%zz']) {
      const bad = await toy('GET', path, server.adminToken);
      assert.equal(bad.status, 400, path);
      assert.equal(bad.headers.get('content-type'), TOY_TYPE, path);
      assert.deepEqual(bad.json, { toy: 'client' }, path);
    }
  });
});
