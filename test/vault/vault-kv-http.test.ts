import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { type HttpResult, request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * The Vault facade over raw HTTP: the exact shapes clients parse (the envelope, `{"errors":[…]}`,
 * 404s, the cas 400, 403s, 415), the request shapes of clients that cannot run here (the `vault`
 * CLI and Vault Agent through the Go client, the External Secrets Operator, hashicorp/vault-action:
 * taken from their sources, docs/vault.md), and the one model: what the other facades see of a KV
 * secret, what KV sees of theirs, and how validity windows show up.
 */

const ENVELOPE_KEYS = [
  'auth',
  'data',
  'lease_duration',
  'lease_id',
  'mount_type',
  'renewable',
  'request_id',
  'warnings',
  'wrap_info',
];

describe('Vault facade over raw HTTP', () => {
  let server: TestServer;
  let token: string;

  before(async () => {
    server = await startTestServer();
    token = server.adminToken;
  });
  after(() => server.close());

  const vault = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    request(server.url, method, `/vault/v1/${path}`, {
      headers: { 'x-vault-token': token, ...headers },
      ...(body === undefined ? {} : { body }),
    });

  const json = (res: HttpResult) => res.json as Record<string, unknown> & { data: Record<string, unknown> };

  it('the envelope: exactly Vault’s keys, no lease, request_id the request’s id', async () => {
    assert.equal((await vault('POST', 'secret/data/shape', { data: { a: 'b' } })).status, 200);
    const res = await vault('GET', 'secret/data/shape');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const body = json(res);
    assert.deepEqual(Object.keys(body).sort(), ENVELOPE_KEYS);
    assert.deepEqual(
      [body.lease_id, body.renewable, body.lease_duration, body.wrap_info, body.warnings, body.auth],
      ['', false, 0, null, null, null],
    );
    assert.equal(body.mount_type, 'kv');
    assert.deepEqual(Object.keys(body.data), ['data', 'metadata']);
    assert.deepEqual(Object.keys(body.data.metadata as object).sort(), [
      'created_time',
      'custom_metadata',
      'deletion_time',
      'destroyed',
      'version',
    ]);
  });

  it('errors: 404 {"errors":[]} for a missing secret, 400 with Vault’s cas message, 403 permission denied', async () => {
    const missing = await vault('GET', 'secret/data/none/here');
    assert.equal(missing.status, 404);
    assert.equal(missing.text, '{"errors":[]}');
    assert.match(missing.headers.get('content-type') ?? '', /^application\/json/);

    await vault('POST', 'secret/data/cas', { data: { a: 'b' } });
    const cas = await vault('POST', 'secret/data/cas', { data: { a: 'c' }, options: { cas: 7 } });
    assert.equal(cas.status, 400);
    assert.equal(cas.text, '{"errors":["check-and-set parameter did not match the current version"]}');

    const refusedHeaders: Record<string, string>[] = [
      {},
      { 'x-vault-token': 'not-a-token' },
      { 'x-vault-token': '' },
    ];
    for (const headers of refusedHeaders) {
      const denied = await request(server.url, 'GET', '/vault/v1/secret/data/cas', { headers });
      assert.equal(denied.status, 403, JSON.stringify(headers));
      assert.equal(denied.text, '{"errors":["permission denied"]}');
    }
    const unknownRoute = await vault('GET', 'sys/no-such-thing');
    assert.equal(unknownRoute.status, 404);
    assert.deepEqual(unknownRoute.json, { errors: ['unsupported path'] });
  });

  it('Authorization: Bearer carries the token too; X-Vault-Token wins when both are sent', async () => {
    const bearer = await request(server.url, 'GET', '/vault/v1/secret/data/cas', {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(bearer.status, 200);
    const both = await request(server.url, 'GET', '/vault/v1/secret/data/cas', {
      headers: { authorization: 'Bearer not-a-token', 'x-vault-token': token },
    });
    assert.equal(both.status, 200);
  });

  it('bad input is a 400 in Vault’s shape: a body without data, a bad path, a bad version, bad JSON', async () => {
    for (const [method, path, body] of [
      ['POST', 'secret/data/x', { options: {} }],
      ['POST', 'secret/data/x', { data: 'text' }],
      ['POST', 'secret/data/a//b', { data: { a: 'b' } }],
      ['POST', 'secret/data/a%20b', { data: { a: 'b' } }],
      ['POST', 'secret/data/', { data: { a: 'b' } }],
      ['GET', 'secret/data/x?version=minus', undefined],
      ['POST', 'secret/delete/x', { versions: [] }],
      ['POST', 'secret/metadata/x', { max_versions: -1 }],
      ['POST', 'secret/metadata/x', { max_versions: 5000 }],
      ['POST', 'secret/data/x', '{"data":'],
    ] as const) {
      const res = await vault(
        method,
        path,
        body,
        typeof body === 'string' ? { 'content-type': 'application/json' } : {},
      );
      assert.equal(res.status, 400, `${method} ${path}: ${res.text}`);
      const errors = (res.json as { errors: unknown }).errors;
      assert.ok(
        Array.isArray(errors) && errors.length > 0 && errors.every((e) => typeof e === 'string'),
        res.text,
      );
    }
    const big = await vault('POST', 'secret/data/big', { data: { value: 'x'.repeat(70_000) } });
    assert.equal(big.status, 400);
  });

  it('PATCH needs application/merge-patch+json (415 otherwise), as Vault', async () => {
    await vault('POST', 'secret/data/patchme', { data: { a: 'b' } });
    const wrong = await vault('PATCH', 'secret/data/patchme', { data: { a: 'c' } });
    assert.equal(wrong.status, 415);
    assert.ok(Array.isArray((wrong.json as { errors: unknown }).errors));
    const right = await vault('PATCH', 'secret/data/patchme', JSON.stringify({ data: { c: 'd' } }), {
      'content-type': 'application/merge-patch+json',
    });
    assert.equal(right.status, 200, right.text);
    assert.deepEqual((json(await vault('GET', 'secret/data/patchme')).data as { data: unknown }).data, {
      a: 'b',
      c: 'd',
    });
  });

  it('the Go client’s shapes (vault CLI, Vault Agent, ESO): PUT bodies without a media type, GET ?list=true', async () => {
    // api/request.go sends the JSON body with no Content-Type; writes are PUT.
    const put = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const body = JSON.stringify({ data: { user: 'go' }, options: {} });
      const req = httpRequest(
        `${server.url}/vault/v1/secret/data/go/client`,
        {
          method: 'PUT',
          headers: {
            'x-vault-token': token,
            'content-length': Buffer.byteLength(body),
            'x-vault-request': 'true',
          },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(put.status, 200, put.body);
    // The CLI's KV preflight (command/kv_helpers.go kvPreflightVersionRequest) reads options.version and path.
    const preflight = json(await vault('GET', 'sys/internal/ui/mounts/secret/go/client'));
    assert.deepEqual((preflight.data as { options: unknown }).options, { version: '2' });
    assert.equal(preflight.data.path, 'secret/');
    assert.equal(preflight.data.type, 'kv');
    // `vault kv list secret/`: path.Join drops the slash, so the root is asked without one.
    const root = json(await vault('GET', 'secret/metadata?list=true'));
    assert.ok((root.data as { keys: string[] }).keys.includes('go/'));
    // Logical().List: GET …/metadata/…?list=true.
    const listed = json(await vault('GET', 'secret/metadata/go/?list=true'));
    assert.deepEqual(listed.data, { keys: ['client'] });
    // ESO's Vault provider (KV v2): GET {mount}/data/{path}?version=N with the namespace header.
    const eso = await vault('GET', 'secret/data/go/client?version=1', undefined, {
      'x-vault-namespace': 'default',
    });
    assert.deepEqual((json(eso).data as { data: unknown }).data, { user: 'go' });
    // ESO PushSecret: custom_metadata written on the metadata path with PUT.
    const pushMeta = await vault('PUT', 'secret/metadata/go/client', {
      custom_metadata: { 'managed-by': 'external-secrets' },
    });
    assert.equal(pushMeta.status, 204);
    assert.deepEqual(
      (json(await vault('GET', 'secret/metadata/go/client')).data as { custom_metadata: unknown })
        .custom_metadata,
      { 'managed-by': 'external-secrets' },
    );
  });

  it('hashicorp/vault-action’s shape: GET {url}/v1/{path} with X-Vault-Token, reading data.data.{key}', async () => {
    await vault('POST', 'ci/data/deploy', { data: { NPM_TOKEN: 'npm-123' } });
    const res = await request(server.url, 'GET', '/vault/v1/ci/data/deploy', {
      headers: { 'X-Vault-Token': token, 'X-Vault-Namespace': 'default' },
    });
    const data = json(res).data as { data: Record<string, string> };
    assert.equal(data.data.NPM_TOKEN, 'npm-123');
  });

  it('one model: a {value: text} write is that text for every facade; other facades’ values read as {value}', async () => {
    // The `default` mount is the store Neostore reads and writes.
    await vault('POST', 'default/data/API_KEY', { data: { value: 'plain-text' } });
    const neo = await request(server.url, 'GET', '/api/default/secrets/API_KEY', { token });
    assert.equal(neo.text, 'plain-text');
    await request(server.url, 'PUT', '/api/default/secrets/FROM_NEO', {
      token,
      body: { value: 'neo-value' },
    });
    const kv = json(await vault('GET', 'default/data/FROM_NEO'));
    assert.deepEqual((kv.data as { data: unknown }).data, { value: 'neo-value' });
    // Several keys are a JSON object for the others.
    await vault('POST', 'default/data/DB', { data: { user: 'u', pass: 'p' } });
    assert.deepEqual(
      JSON.parse((await request(server.url, 'GET', '/api/default/secrets/DB', { token })).text),
      {
        user: 'u',
        pass: 'p',
      },
    );
    // A text that is itself a JSON object round-trips through KV as {value: text}.
    await vault('POST', 'default/data/NESTED', { data: { value: '{"a":1}' } });
    assert.deepEqual((json(await vault('GET', 'default/data/NESTED')).data as { data: unknown }).data, {
      value: '{"a":1}',
    });
    // Hierarchical paths are listed by the native API under their full names.
    await vault('POST', 'default/data/app/db/creds', { data: { value: 'x' } });
    const names = (
      await request(server.url, 'GET', '/v1/tenants/default/stores/default/secrets', {
        token,
        auth: 'bearer',
      })
    ).json as { items: { name: string }[] };
    assert.ok(names.items.some((s) => s.name === 'app/db/creds'));
  });

  it('soft delete of the latest version hides the value from every facade; undelete brings it back', async () => {
    await vault('POST', 'default/data/SOFT', { data: { value: 'v1' } });
    assert.equal((await vault('DELETE', 'default/data/SOFT')).status, 204);
    assert.equal((await request(server.url, 'GET', '/api/default/secrets/SOFT', { token })).status, 404);
    assert.equal((await vault('POST', 'default/undelete/SOFT', { versions: [1] })).status, 204);
    assert.equal((await request(server.url, 'GET', '/api/default/secrets/SOFT', { token })).text, 'v1');
    // A new value written elsewhere is the next version, live again.
    await vault('DELETE', 'default/data/SOFT');
    await request(server.url, 'PUT', '/api/default/secrets/SOFT', { token, body: { value: 'v2' } });
    assert.deepEqual((json(await vault('GET', 'default/data/SOFT')).data as { data: unknown }).data, {
      value: 'v2',
    });
  });

  it('max_versions binds every facade’s writes', async () => {
    await vault('POST', 'default/metadata/KEPT', { max_versions: 2 });
    for (const v of ['a', 'b', 'c', 'd']) {
      await request(server.url, 'PUT', '/api/default/secrets/KEPT', { token, body: { value: v } });
    }
    const meta = json(await vault('GET', 'default/metadata/KEPT')).data as {
      versions: object;
      current_version: number;
    };
    assert.deepEqual(Object.keys(meta.versions), ['3', '4']);
    assert.equal(meta.current_version, 4);
  });

  it('validity windows: a secret not valid yet reads as a 404 that says when; an expired one as missing', async () => {
    const future = new Date(Date.now() + 86_400_000).toISOString();
    const past = new Date(Date.now() - 1000).toISOString();
    const v1 = (name: string, body: unknown) =>
      request(server.url, 'PUT', `/v1/tenants/default/stores/default/secrets/${name}`, {
        token,
        auth: 'bearer',
        body,
      });
    assert.ok([200, 201].includes((await v1('LATER', { value: 'soon', notBefore: future })).status));
    assert.ok([200, 201].includes((await v1('GONE', { value: 'old', expiresOn: past })).status));
    const later = await vault('GET', 'default/data/LATER');
    assert.equal(later.status, 404);
    assert.match((later.json as { errors: string[] }).errors[0] ?? '', /not valid yet/);
    const gone = await vault('GET', 'default/data/GONE');
    assert.equal(gone.status, 404);
    assert.equal(gone.text, '{"errors":[]}');
    // A KV write keeps the window: the value stays hidden until notBefore.
    await vault('POST', 'default/data/LATER', { data: { value: 'still-soon' } });
    assert.equal((await vault('GET', 'default/data/LATER')).status, 404);
  });

  it('reserved mount names are Vault’s own paths, never a store', async () => {
    for (const mount of ['sys', 'auth', 'identity', 'cubbyhole']) {
      const res = await vault('POST', `${mount}/data/x`, { data: { a: 'b' } });
      assert.equal(res.status, mount === 'sys' ? 404 : 404, `${mount}: ${res.text}`);
    }
  });
});
