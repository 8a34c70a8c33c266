import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 8: a Neostore value goes out as text/plain, and without
 * `X-Content-Type-Options: nosniff` a browser may sniff it as HTML or script (a value holding
 * `<script>` opened from a link). Every response of every facade carries it: values, metadata,
 * errors, 404s, refusals before routing, the console and the operational routes.
 */
function rawRequest(url: string, head: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(head));
    let out = '';
    socket.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
  });
}

describe('security: X-Content-Type-Options: nosniff on every response', () => {
  let server: TestServer;
  let storeId: string;
  before(async () => {
    server = await startTestServer();
    const put = await request(server.url, 'PUT', '/api/default/secrets/html', {
      token: server.adminToken,
      body: { value: '<script>alert(document.cookie)</script>' },
    });
    assert.equal(put.status, 204);
    const store = await request(server.url, 'POST', '/client/v4/accounts/default/secrets_store/stores', {
      token: server.adminToken,
      auth: 'bearer',
      body: { name: 'sniff' },
    });
    storeId = (store.json as { result: { id: string } }).result.id;
  });
  after(() => server.close());

  it('a swept set of routes: successes, refusals, validation errors, 404s, 413s, console, ops', async () => {
    const admin = { token: server.adminToken };
    const bearer = { token: server.adminToken, auth: 'bearer' as const };
    const bad = { token: 'coffer_not-a-real-token' };
    const big = JSON.stringify({ value: 'x'.repeat(2 * 1024 * 1024) });
    const json = { 'content-type': 'application/json' };
    const cases: [string, string, string, Parameters<typeof request>[3]][] = [
      ['neostore value as text/plain', 'GET', '/api/default/secrets/html', admin],
      [
        'neostore value as JSON',
        'GET',
        '/api/default/secrets/html',
        { ...admin, headers: { accept: 'application/json' } },
      ],
      ['neostore list', 'GET', '/api/default/secrets', admin],
      ['neostore missing secret', 'GET', '/api/default/secrets/nope', admin],
      ['neostore 401', 'GET', '/api/default/secrets/html', bad],
      ['neostore 403', 'GET', '/api/other/secrets/html', admin],
      ['neostore 400', 'PUT', '/api/default/secrets/x', { ...admin, body: { value: 1 } }],
      ['neostore 413', 'PUT', '/api/default/secrets/x', { ...admin, body: big, headers: json }],
      ['neostore unknown route', 'GET', '/api/default/nothing-here', admin],
      ['neostore bad percent-encoding', 'GET', '/api/default/secrets/%zz', admin],
      ['neostore api keys', 'GET', '/api/default/admin/apiKeys', admin],
      ['v1 stores', 'GET', '/v1/tenants/default/stores', bearer],
      ['v1 reveal', 'GET', '/v1/tenants/default/stores/default/secrets/html?reveal=true', bearer],
      ['v1 401', 'GET', '/v1/tenants/default/stores', { token: 'x', auth: 'bearer' }],
      ['v1 unknown', 'GET', '/v1/nothing', bearer],
      ['cloudflare stores', 'GET', '/client/v4/accounts/default/secrets_store/stores', bearer],
      [
        'cloudflare secrets',
        'GET',
        `/client/v4/accounts/default/secrets_store/stores/${storeId}/secrets`,
        bearer,
      ],
      [
        'cloudflare 401',
        'GET',
        '/client/v4/accounts/default/secrets_store/stores',
        { token: 'x', auth: 'bearer' },
      ],
      [
        'cloudflare 400',
        'POST',
        `/client/v4/accounts/default/secrets_store/stores/${storeId}/secrets`,
        { ...bearer, body: { no: 1 } },
      ],
      ['cloudflare unknown', 'GET', '/client/v4/nothing', bearer],
      ['cloudflare bad percent-encoding', 'GET', '/client/v4/accounts/%zz', bearer],
      ['envs list', 'GET', '/default/web/envs/dev/secrets', bearer],
      ['envs 401', 'GET', '/default/web/envs/dev/secrets', { token: 'x', auth: 'bearer' }],
      ['envs unknown', 'GET', '/no/such/route/at/all/here', bearer],
      ['root bad percent-encoding', 'GET', '/%zz', {}],
      ['console', 'GET', '/ui', {}],
      ['console asset', 'GET', '/ui/index.html', {}],
      ['console missing asset', 'GET', '/ui/assets/none.js', {}],
      ['health', 'GET', '/healthz', {}],
      ['metrics', 'GET', '/metrics', {}],
      ['openapi', 'GET', '/openapi.json', {}],
      ['head of a value', 'HEAD', '/api/default/secrets/html', admin],
      ['options', 'OPTIONS', '/api/default/secrets/html', admin],
    ];
    for (const [label, method, path, options] of cases) {
      const res = await request(server.url, method, path, options);
      assert.equal(
        res.headers.get('x-content-type-options'),
        'nosniff',
        `${label}: ${method} ${path} → ${res.status}`,
      );
    }
  });

  it('requests the HTTP parser refuses are answered with nosniff too', async () => {
    const answer = await rawRequest(
      server.url,
      'GET /api/default/secrets/x\x01y HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    assert.match(answer, /^HTTP\/1\.1 400/);
    assert.match(answer, /\r\nx-content-type-options: nosniff\r\n/i);
  });
});
