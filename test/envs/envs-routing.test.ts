import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config.js';
import { OPERATOR } from '../../src/core/actor.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { EnvsClient, envPath } from './envs-client.js';

/** First path segments other parts of Coffer own (or will): as tenant ids they must still reach envs. */
const RESERVED_FIRST_SEGMENTS = ['api', 'client', 'healthz', 'readyz', 'openapi.json', 'metrics', 'v1', 'ui'];

interface OpenApiDocument {
  paths: Record<string, Record<string, { operationId?: string; description?: string }>>;
  info: { description?: string };
}

describe('envs routing at the server root', () => {
  let server: TestServer;
  let envs: EnvsClient;

  before(async () => {
    server = await startTestServer();
    envs = new EnvsClient(server);
  });
  after(async () => {
    await server.close();
  });

  for (const tenant of RESERVED_FIRST_SEGMENTS) {
    it(`serves envs for a tenant named '${tenant}'`, async () => {
      const token = await server.createKey(tenant, 'admin', ['*']);
      const declared = await envs.call('POST', envPath(tenant, 'web', 'dev'), {
        token,
        body: { kind: 'Secret', name: 'TOKEN' },
      });
      assert.equal(declared.status, 201, declared.text);
      const listed = await envs.call('GET', envPath(tenant, 'web', 'dev'), { token });
      assert.equal(listed.status, 200);
      assert.deepEqual(
        (listed.body as Array<{ name: string }>).map((s) => s.name),
        ['TOKEN'],
      );
      const stores = await server.runtime.core.stores.list(OPERATOR, tenant);
      assert.deepEqual(
        stores.map((s) => s.name),
        ['web/dev'],
      );
    });
  }

  it('envs of tenant api can be projects named like Neostore segments', async () => {
    const token = await server.createKey('api', 'admin2', ['*']);
    const res = await envs.call('POST', envPath('api', 'secrets', 'dev'), {
      token,
      body: { kind: 'Secret', name: 'X' },
    });
    assert.equal(res.status, 201, res.text);
  });

  it('leaves the Neostore routes under /api to Neostore', async () => {
    const headers = { 'x-api-key': server.adminToken, 'content-type': 'application/json' };
    const put = await fetch(`${server.url}/api/default/secrets/NEO`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({ value: 'neo-value' }),
    });
    assert.equal(put.status, 204);
    const list = await fetch(`${server.url}/api/default/secrets`, { headers });
    assert.equal(list.status, 200);
    assert.deepEqual(await list.json(), ['NEO']);
    const missing = await fetch(`${server.url}/api/default/secrets/NOPE`, { headers });
    assert.equal(missing.status, 404);
    assert.match(missing.headers.get('content-type') ?? '', /^application\/problem\+json/);
    // Neostore's own not-found answer still covers /api paths of no envs shape.
    const unknown = await fetch(`${server.url}/api/default/bogus`, { headers });
    assert.equal(unknown.status, 404);
    assert.match(unknown.headers.get('content-type') ?? '', /^application\/problem\+json/);
  });

  it('leaves /healthz, /readyz and /openapi.json alone', async () => {
    assert.deepEqual(await (await fetch(`${server.url}/healthz`)).json(), { status: 'ok' });
    assert.deepEqual(await (await fetch(`${server.url}/readyz`)).json(), { status: 'ready' });
    assert.equal((await fetch(`${server.url}/openapi.json`)).status, 200);
  });

  it('does not answer for paths outside the envs shape', async () => {
    for (const path of ['/acme', '/acme/web', '/acme/web/envs', '/acme/web/other/dev/secrets']) {
      const res = await fetch(`${server.url}${path}`, {
        headers: { authorization: `Bearer ${server.adminToken}` },
      });
      assert.equal(res.status, 404, path);
      // The server's own not-found answer (ProblemDetails), not envs' `{error, code}`.
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/, path);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.error, undefined, `${path} is not an envs path`);
      assert.equal(body.status, 404);
    }
  });

  it('lists the envs paths in /openapi.json, with operationIds and descriptions', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApiDocument;
    const list = doc.paths['/{o}/{p}/envs/{envName}/secrets'];
    const item = doc.paths['/{o}/{p}/envs/{envName}/secrets/{name}'];
    const value = doc.paths['/{o}/{p}/envs/{envName}/secrets/{name}/value'];
    assert.ok(list && item && value, Object.keys(doc.paths).join(', '));
    const operations = [
      [list.get, 'envsListSecrets'],
      [list.post, 'envsCreateSecret'],
      [item.get, 'envsGetSecret'],
      [item.put, 'envsUpdateSecret'],
      [item.delete, 'envsDeleteSecret'],
      [value.put, 'envsSetSecretValue'],
    ] as const;
    for (const [operation, id] of operations) {
      assert.equal(operation?.operationId, id);
      assert.ok((operation?.description ?? '').length > 20, id);
    }
    assert.deepEqual(Object.keys(value).sort(), ['put']);
    assert.ok(!Object.keys(doc.paths).some((p) => p.includes('*')), 'the catch-all route is hidden');
    assert.match(doc.info.description ?? '', /envs/);
  });
});

describe('envs under COFFER_ENVS_PREFIX', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ env: { COFFER_ENVS_PREFIX: '/envs-api/v2' } });
  });
  after(async () => {
    await server.close();
  });

  it('serves the envs paths under the prefix, and only there', async () => {
    const prefixed = new EnvsClient(server, '/envs-api/v2');
    const declared = await prefixed.call('POST', envPath('default', 'web', 'dev'), {
      body: { kind: 'Secret', name: 'A' },
    });
    assert.equal(declared.status, 201, declared.text);
    const set = await prefixed.call('PUT', `${envPath('default', 'web', 'dev', 'A')}/value`, {
      body: { value: 'v' },
    });
    assert.equal(set.status, 200);
    const listed = await prefixed.call('GET', envPath('default', 'web', 'dev'));
    assert.equal((listed.body as unknown[]).length, 1);
    const root = await new EnvsClient(server).call('GET', envPath('default', 'web', 'dev'));
    assert.equal(root.status, 404);
    const unknown = await prefixed.call('GET', '/default/web/envs/dev/nothing');
    assert.equal((unknown.body as { code: string }).code, 'route_not_found');
  });

  it('answers a URL that does not decode in envs shape under the prefix, and only there', async () => {
    const prefixed = await fetch(`${server.url}/envs-api/v2/default/web/envs/%zz/secrets`);
    assert.equal(prefixed.status, 400);
    assert.match(prefixed.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(await prefixed.json(), { error: 'The request is malformed.', code: 'bad_request' });
    const root = await fetch(`${server.url}/default/web/envs/%zz/secrets`);
    assert.equal(root.status, 400);
    assert.match(root.headers.get('content-type') ?? '', /^application\/problem\+json/);
  });

  it('lists the prefixed paths in /openapi.json', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as OpenApiDocument;
    assert.ok(doc.paths['/envs-api/v2/{o}/{p}/envs/{envName}/secrets']);
    assert.ok(!doc.paths['/{o}/{p}/envs/{envName}/secrets']);
  });
});

describe('COFFER_ENVS_PREFIX parsing', () => {
  it('defaults to the server root', () => {
    assert.equal(parseConfig({}).envsPrefix, '');
    assert.equal(parseConfig({ COFFER_ENVS_PREFIX: '  ' }).envsPrefix, '');
  });

  it('accepts a path that starts with / and has no trailing slash', () => {
    assert.equal(parseConfig({ COFFER_ENVS_PREFIX: '/envs' }).envsPrefix, '/envs');
    assert.equal(parseConfig({ COFFER_ENVS_PREFIX: '/a/b-c_d.e~f' }).envsPrefix, '/a/b-c_d.e~f');
  });

  it('refuses anything else at start-up, naming the variable', () => {
    for (const raw of ['envs', '/', '/envs/', '//envs', '/a//b', '/a b', '/a?b', '/a#b', '/%61']) {
      assert.throws(
        () => parseConfig({ COFFER_ENVS_PREFIX: raw }),
        (e: unknown) => e instanceof ConfigError && e.message.includes('COFFER_ENVS_PREFIX'),
        raw,
      );
    }
  });
});

describe('envs next to the Cloudflare facade at /client/v4', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('routes Cloudflare paths to the Cloudflare facade, envs paths to envs', async () => {
    const acme = await server.createKey('acme', 'k', ['*']);
    const cf = { authorization: `Bearer ${acme}` };
    const stores = await fetch(`${server.url}/client/v4/accounts/acme/secrets_store/stores`, { headers: cf });
    assert.equal(stores.status, 200);
    assert.equal(((await stores.json()) as { success: boolean }).success, true);
    const unknown = await fetch(`${server.url}/client/v4/accounts/acme/nothing`, { headers: cf });
    assert.equal(unknown.status, 404);
    const body = (await unknown.json()) as { success: boolean; errors: { code: number }[] };
    assert.equal(body.success, false);
    assert.equal(body.errors[0]?.code, 7003);

    // `/client/v4/envs/…` is tenant `client`, project `v4`: not a Cloudflare path.
    const token = await server.createKey('client', 'k', ['*']);
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const declared = await fetch(`${server.url}/client/v4/envs/dev/secrets`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ kind: 'Secret', name: 'CF' }),
    });
    assert.equal(declared.status, 201);
    const listed = await fetch(`${server.url}/client/v4/envs/dev/secrets`, { headers });
    assert.deepEqual(
      ((await listed.json()) as Array<{ name: string }>).map((s) => s.name),
      ['CF'],
    );
    const names = (await server.runtime.core.stores.list(OPERATOR, 'client')).map((s) => s.name);
    assert.deepEqual(names, ['v4/dev']);
  });
});
