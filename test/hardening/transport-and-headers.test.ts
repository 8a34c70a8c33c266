import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCoffer, type ServerProcess, spawnServer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

const TOKEN = /coffer_[0-9A-Za-z]{49}/;
const NO_TLS_WARNING = /listening beyond loopback without TLS/;
const dirs: { remove(): void }[] = [];
function newDir(): string {
  const d = tempDir('coffer-transport-');
  dirs.push(d);
  return d.path;
}
after(() => {
  for (const d of dirs) d.remove();
});

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  await server.exited;
}

function httpsCall(
  url: string,
  method: string,
  path: string,
  ca: Buffer,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; text: string; headers: Record<string, unknown> }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: u.hostname, port: u.port, method, path, ca, headers, agent: false },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('TLS', () => {
  it('serves HTTPS with COFFER_TLS_CERT and COFFER_TLS_KEY, and nothing in clear text on that port', async () => {
    const dir = newDir();
    const cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync(
      '/usr/bin/openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const ca = readFileSync(cert);
    const server = await spawnServer({
      COFFER_DATA_DIR: join(dir, 'data'),
      COFFER_TLS_CERT: cert,
      COFFER_TLS_KEY: key,
      HOST: '0.0.0.0',
    });
    try {
      assert.match(server.url, /^https:\/\//);
      assert.doesNotMatch(server.output(), NO_TLS_WARNING, 'TLS is on: no warning');
      const token = TOKEN.exec(server.output())?.[0] ?? '';
      const put = await httpsCall(
        server.url,
        'PUT',
        '/api/default/secrets/tls',
        ca,
        {
          'x-api-key': token,
          'content-type': 'application/json',
        },
        JSON.stringify({ value: 'over tls' }),
      );
      assert.equal(put.status, 204);
      const get = await httpsCall(server.url, 'GET', '/api/default/secrets/tls', ca, { 'x-api-key': token });
      assert.equal(get.text, 'over tls');
      assert.equal(get.headers['cache-control'], 'no-store');
      // An untrusted certificate is refused by a client that checks (the server is not downgraded).
      await assert.rejects(httpsCall(server.url, 'GET', '/healthz', Buffer.from('')));
      // Plain HTTP gets no HTTP answer.
      const u = new URL(server.url);
      await assert.rejects(
        new Promise((resolve, reject) => {
          const req = httpRequest(
            { host: u.hostname, port: u.port, path: '/healthz', agent: false },
            resolve,
          );
          req.on('error', reject);
          req.end();
        }),
      );
    } finally {
      await stop(server);
    }
  });

  it('refuses to start with half a TLS configuration or an unreadable file', async () => {
    const dir = newDir();
    const half = await runCoffer(['serve'], {
      COFFER_DATA_DIR: dir,
      PORT: '0',
      COFFER_TLS_CERT: join(dir, 'x.pem'),
    });
    assert.equal(half.code, 1);
    assert.match(half.stderr, /COFFER_TLS_CERT and COFFER_TLS_KEY must be set together/);
    const missing = await runCoffer(['serve'], {
      COFFER_DATA_DIR: dir,
      PORT: '0',
      COFFER_TLS_CERT: join(dir, 'missing.pem'),
      COFFER_TLS_KEY: join(dir, 'missing.pem'),
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /COFFER_TLS_CERT must name a readable PEM file/);
  });
});

describe('start-up warning', () => {
  it('warns when listening beyond loopback without TLS, and not on loopback', async () => {
    const open = await spawnServer({ COFFER_DATA_DIR: newDir(), HOST: '0.0.0.0' });
    await stop(open);
    assert.match(open.output(), NO_TLS_WARNING);
    const loopback = await spawnServer({ COFFER_DATA_DIR: newDir() });
    await stop(loopback);
    assert.doesNotMatch(loopback.output(), NO_TLS_WARNING);
  });
});

describe('response headers', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('every answer that carries a value, a token or metadata is no-store, in every facade; no banner headers', async () => {
    const token = server.adminToken;
    const neo = { token };
    const bearer = { token, auth: 'bearer' as const };
    await request(server.url, 'PUT', '/api/default/secrets/hdr', { ...neo, body: { value: 'header-check' } });
    const store = await request(server.url, 'POST', '/client/v4/accounts/default/secrets_store/stores', {
      ...bearer,
      body: { name: 'headers' },
    });
    const storeId = (store.json as { result: { id: string } }).result.id;
    const created = await request(
      server.url,
      'POST',
      `/client/v4/accounts/default/secrets_store/stores/${storeId}/secrets`,
      { ...bearer, body: [{ name: 'HDR', value: 'v', scopes: ['workers'] }] },
    );
    const secretId = ((created.json as { result: { id: string }[] }).result[0] ?? { id: '' }).id;
    await request(server.url, 'POST', '/default/web/envs/dev/secrets', {
      ...bearer,
      body: { kind: 'Secret', name: 'HDR' },
    });

    const responses = [
      ['neostore value', await request(server.url, 'GET', '/api/default/secrets/hdr', neo)],
      ['neostore list', await request(server.url, 'GET', '/api/default/secrets', neo)],
      [
        'neostore new key (token)',
        await request(server.url, 'POST', '/api/default/admin/apiKeys', {
          ...neo,
          body: { name: 'hdr-key', permissions: ['secrets:read'] },
        }),
      ],
      ['neostore keys', await request(server.url, 'GET', '/api/default/admin/apiKeys', neo)],
      ['cloudflare create store', store],
      ['cloudflare create secret', created],
      [
        'cloudflare stores',
        await request(server.url, 'GET', '/client/v4/accounts/default/secrets_store/stores', bearer),
      ],
      [
        'cloudflare secret',
        await request(
          server.url,
          'GET',
          `/client/v4/accounts/default/secrets_store/stores/${storeId}/secrets/${secretId}`,
          bearer,
        ),
      ],
      [
        'cloudflare quota',
        await request(server.url, 'GET', '/client/v4/accounts/default/secrets_store/quota', bearer),
      ],
      [
        'envs set value',
        await request(server.url, 'PUT', '/default/web/envs/dev/secrets/HDR/value', {
          ...bearer,
          body: { value: 'x' },
        }),
      ],
      ['envs secret', await request(server.url, 'GET', '/default/web/envs/dev/secrets/HDR', bearer)],
      ['envs list', await request(server.url, 'GET', '/default/web/envs/dev/secrets', bearer)],
      ['health', await request(server.url, 'GET', '/healthz')],
      ['openapi', await request(server.url, 'GET', '/openapi.json')],
    ] as const;
    for (const [label, res] of responses) {
      assert.ok(res.status < 300, `${label}: ${res.status} ${res.text.slice(0, 200)}`);
      assert.equal(res.headers.get('cache-control'), 'no-store', label);
      assert.equal(res.headers.get('x-powered-by'), null, label);
      assert.equal(res.headers.get('server'), null, label);
    }
  });
});
