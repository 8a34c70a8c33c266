import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { CONSOLE_CSP, consoleRoutes } from '../../src/http/console/console-routes.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

function assertConsoleHeaders(headers: Headers) {
  assert.equal(headers.get('content-security-policy'), CONSOLE_CSP);
  assert.equal(headers.get('x-content-type-options'), 'nosniff');
  assert.equal(headers.get('referrer-policy'), 'no-referrer');
  assert.equal(headers.get('x-frame-options'), 'DENY');
}

describe('the web console at /ui (plain HTTP)', () => {
  let server: TestServer;
  let index: string;
  before(async () => {
    server = await startTestServer();
    index = (await request(server.url, 'GET', '/ui/')).text;
  });
  after(() => server.close());

  it('answers index.html at /ui, /ui/ and client-side routes, never cached, with the strict headers', async () => {
    for (const path of [
      '/ui',
      '/ui/',
      '/ui/stores/0123456789abcdef0123456789abcdef',
      '/ui/keys',
      '/ui/audit',
    ]) {
      const res = await request(server.url, 'GET', path);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8', path);
      assert.equal(res.headers.get('cache-control'), 'no-store', path);
      assertConsoleHeaders(res.headers);
      assert.equal(res.text, index);
    }
    assert.match(index, /<html lang="en">/);
  });

  it('the CSP allows nothing but this origin, nothing inline, no framing', () => {
    const directives = new Map(
      CONSOLE_CSP.split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values.join(' ')];
      }),
    );
    assert.equal(directives.get('default-src'), "'none'");
    assert.equal(directives.get('script-src'), "'self'");
    assert.equal(directives.get('style-src'), "'self'");
    assert.equal(directives.get('connect-src'), "'self'");
    assert.equal(directives.get('frame-ancestors'), "'none'");
    assert.equal(directives.get('base-uri'), "'none'");
    assert.doesNotMatch(CONSOLE_CSP, /unsafe-inline|unsafe-eval|https?:|\*/);
  });

  it('index.html has no inline script or style and loads only same-origin /ui/ files', () => {
    // Every <script> has a src; no <style> element, no style= attribute, no inline handlers.
    for (const tag of index.match(/<script\b[^>]*>/g) ?? []) assert.match(tag, /\ssrc="\/ui\//, tag);
    assert.doesNotMatch(index, /<style\b/i);
    assert.doesNotMatch(index, /\sstyle=/i);
    assert.doesNotMatch(index, /\son[a-z]+=/i);
    for (const [, url] of index.matchAll(/(?:src|href)="([^"]+)"/g)) assert.match(url ?? '', /^\/ui\//, url);
  });

  it('serves hashed assets with their content type and a long immutable cache', async () => {
    const assets = [...index.matchAll(/(?:src|href)="(\/ui\/assets\/[^"]+)"/g)].map((m) => m[1] ?? '');
    assert.ok(assets.some((a) => a.endsWith('.js')));
    assert.ok(assets.some((a) => a.endsWith('.css')));
    for (const asset of assets) {
      const res = await request(server.url, 'GET', asset);
      assert.equal(res.status, 200, asset);
      assert.equal(
        res.headers.get('content-type'),
        asset.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/css; charset=utf-8',
      );
      assert.equal(res.headers.get('cache-control'), 'public, max-age=31536000, immutable');
      assertConsoleHeaders(res.headers);
    }
    const js = await request(server.url, 'GET', assets.find((a) => a.endsWith('.js')) ?? '');
    // No third-party origin baked into the bundle (XML namespaces are names, not requests).
    const origins = [...js.text.matchAll(/https?:\/\/[a-z0-9.-]+/gi)].map((m) => m[0]);
    assert.deepEqual(
      origins.filter((o) => o !== 'http://www.w3.org'),
      [],
    );
  });

  it('a missing file is a 404 (not index.html), still with the headers; HEAD works', async () => {
    const res = await request(server.url, 'GET', '/ui/assets/missing-0000.js');
    assert.equal(res.status, 404);
    assert.equal(res.headers.get('content-type'), 'text/plain; charset=utf-8');
    assertConsoleHeaders(res.headers);
    const traversal = await request(server.url, 'GET', '/ui/assets/..%2f..%2f..%2fpackage.json');
    assert.equal(traversal.status, 404);
    assert.doesNotMatch(traversal.text, /coffer/);
    const head = await fetch(`${server.url}/ui/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assertConsoleHeaders(head.headers);
  });

  it("leaves tenant 'ui' to the envs facade: no catch-all under /ui, even for projects named like its routes", async () => {
    const token = await server.createKey('ui', 'admin', ['*']);
    for (const project of ['web', 'assets', 'stores', 'keys', 'audit']) {
      const res = await request(server.url, 'POST', `/ui/${project}/envs/dev/secrets`, {
        token,
        auth: 'bearer',
        body: { kind: 'Secret', name: 'TOKEN' },
      });
      assert.equal(res.status, 201, `${project}: ${res.text}`);
      assert.equal(res.headers.get('content-security-policy'), null);
    }
    // A path that is neither a console route nor an envs one is the server's 404, not index.html.
    const other = await request(server.url, 'GET', '/ui/no-such-screen');
    assert.equal(other.status, 404);
    assert.doesNotMatch(other.text, /<html/);
  });

  it('does not change the APIs: /v1 and /api still answer as before, without the console headers', async () => {
    const res = await request(server.url, 'GET', '/v1/tenants/default/stores', { token: server.adminToken });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-security-policy'), null);
    const openapi = (await request(server.url, 'GET', '/openapi.json')).json as {
      paths: Record<string, unknown>;
    };
    assert.ok(!Object.keys(openapi.paths).some((p) => p.startsWith('/ui')));
  });
});

describe('consoleRoutes without a build', () => {
  it('answers a clear 503 (not a crash) when dist/ui is missing, with the headers', async () => {
    const dir = tempDir();
    const app = Fastify();
    await app.register(consoleRoutes(join(dir.path, 'no-such-dir')), { prefix: '/ui' });
    try {
      for (const url of ['/ui', '/ui/', '/ui/keys', '/ui/assets/index.js']) {
        const res = await app.inject({ method: 'GET', url });
        assert.equal(res.statusCode, 503, url);
        assert.match(String(res.headers['content-type']), /^text\/plain/);
        assert.match(res.body, /not built.*npm run build/);
        assert.equal(res.headers['content-security-policy'], CONSOLE_CSP);
      }
    } finally {
      await app.close();
      dir.remove();
    }
  });

  it('serves whatever the build directory holds, read once at start', async () => {
    const dir = tempDir();
    mkdirSync(join(dir.path, 'assets'));
    writeFileSync(join(dir.path, 'index.html'), '<!doctype html><title>t</title>');
    writeFileSync(join(dir.path, 'assets', 'app-abc.js'), 'export {};');
    const app = Fastify();
    await app.register(consoleRoutes(dir.path), { prefix: '/ui' });
    try {
      writeFileSync(join(dir.path, 'index.html'), 'changed on disk');
      const page = await app.inject({ method: 'GET', url: '/ui/keys' });
      assert.equal(page.body, '<!doctype html><title>t</title>');
      const js = await app.inject({ method: 'GET', url: '/ui/assets/app-abc.js' });
      assert.equal(js.statusCode, 200);
      assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    } finally {
      await app.close();
      dir.remove();
    }
  });
});
