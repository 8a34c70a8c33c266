import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Property-based hostile input over every route of every facade, through real HTTP. Raw requests
 * (node:http with a literal path) so that dot segments, encoded slashes and non-UTF-8 bytes reach
 * the server as sent; fetch would normalise them. Seeds are fixed: a failure reproduces.
 */

type Facade = 'neostore' | 'cloudflare' | 'envs' | 'v1' | 'vault';

interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function rawRequest(
  base: URL,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method,
        path,
        agent: false,
        headers: body === undefined ? headers : { ...headers, 'content-length': String(body.length) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        // A change stream (200 text/event-stream) does not end by itself: its first event is enough.
        const stream = String(res.headers['content-type'] ?? '').startsWith('text/event-stream');
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          const text = Buffer.concat(chunks).toString('utf8');
          if (stream && text.includes('\n\n')) {
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
            res.destroy();
          }
        });
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    // The server may answer (413) and close before a large body is fully sent.
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    req.end(body);
  });
}

/** fc.assert, with a failure report short enough to read (counterexamples can hold megabytes). */
async function holds<Ts extends unknown[]>(
  property: fc.IAsyncPropertyWithHooks<Ts>,
  params: fc.Parameters<Ts>,
): Promise<void> {
  const details = await fc.check(property, { ...params, endOnFailure: true });
  if (!details.failed) return;
  const error =
    details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  const example = JSON.stringify(details.counterexample, (_k, v: unknown) =>
    typeof v === 'string' && v.length > 120 ? `${v.slice(0, 120)}…(${v.length})` : v,
  );
  assert.fail(
    `seed ${details.seed}, path ${details.counterexamplePath}: ${error.slice(0, 800)}\n${example.slice(0, 800)}`,
  );
}

/** What no answer may ever carry: stack frames, file paths, driver or parser internals. */
const LEAKS = [
  /\n\s+at\s/,
  /node:internal/,
  /\/(work|tmp|home|usr|root)\//,
  /\bdist\//,
  /\.(ts|js):\d+/,
  /SQLITE_|better-sqlite3|sqlite3?\b/i,
  /\bpg\b|postgres/i,
  /FST_[A-Z_]+/,
  /(Type|Reference|Syntax|Range)Error/,
  /Unexpected (token|end of JSON)/,
  /ECONN|EPIPE/,
];

function assertFacadeShape(facade: Facade, res: RawResponse, where: string): void {
  assert.ok(
    res.status >= 200 && res.status < 500,
    `${where}: status ${res.status} ${res.body.slice(0, 300)}`,
  );
  for (const leak of LEAKS)
    assert.ok(!leak.test(res.body), `${where}: body leaks ${leak}: ${res.body.slice(0, 300)}`);
  assert.equal(res.headers['x-powered-by'], undefined);
  assert.equal(res.headers.server, undefined);
  if (res.status < 400) return;
  const contentType = String(res.headers['content-type'] ?? '');
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body) as Record<string, unknown>;
  } catch {
    assert.fail(`${where}: ${res.status} body is not JSON: ${res.body.slice(0, 200)}`);
  }
  assert.equal(res.headers['cache-control'], 'no-store', where);
  switch (facade) {
    case 'neostore':
    case 'v1':
      assert.match(contentType, /^application\/problem\+json/, where);
      assert.equal(body.status, res.status, where);
      assert.equal(typeof body.title, 'string', where);
      break;
    case 'cloudflare': {
      assert.match(contentType, /^application\/json/, where);
      assert.equal(body.success, false, where);
      assert.equal(body.result, null, where);
      assert.deepEqual(body.messages, [], where);
      const errors = body.errors as { code: unknown; message: unknown }[];
      assert.ok(Array.isArray(errors) && errors.length > 0, where);
      for (const e of errors) assert.ok(typeof e.code === 'number' && typeof e.message === 'string', where);
      break;
    }
    case 'envs':
      assert.match(contentType, /^application\/json/, where);
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error'], where);
      assert.equal(typeof body.code, 'string', where);
      break;
    case 'vault': {
      assert.match(contentType, /^application\/json/, where);
      // `{"errors": [...]}`, or (a deleted version) the envelope of a 404.
      if (res.status === 404 && 'request_id' in body) break;
      assert.deepEqual(Object.keys(body), ['errors'], where);
      const errors = body.errors as unknown[];
      assert.ok(Array.isArray(errors) && errors.every((e) => typeof e === 'string'), where);
      break;
    }
  }
}

// Path segments: the valid one sometimes, hostile ones mostly.
const HOSTILE_SEGMENTS = [
  '..',
  '.',
  '%2e%2e',
  '%2E',
  '%2F',
  'a%2Fb',
  '%2F..%2F..%2Fetc%2Fpasswd',
  '%00',
  'a%00b',
  '%ff',
  '%C0%AF',
  '%',
  '%zz',
  '\u00ff\u00fe', // raw bytes 0xFF 0xFE on the wire: not UTF-8
  '__proto__',
  'constructor',
  'prototype',
  '%5C..%5C',
  'a'.repeat(5000),
  '%20',
  '%3F%23',
  '*',
  '%E2%80%AE',
];

function segment(valid: string): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(valid) },
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_SEGMENTS) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map(encodeURIComponent) },
    {
      weight: 1,
      arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 300 }).map(encodeURIComponent),
    },
  );
}

const QUERY_KEYS = [
  'limit',
  'lastEventId',
  'offset',
  'page',
  'per_page',
  'order',
  'direction',
  'search',
  'force',
  'scopes',
  '__proto__',
  'constructor[prototype][x]',
  'a[b][c]',
];
const QUERY_VALUES = [
  '-1',
  '0',
  '1e309',
  'NaN',
  '0x10',
  '99999999999999999999',
  '',
  'true',
  '[]',
  '%00',
  '%ff',
  'a'.repeat(3000),
];
const query = fc.oneof(
  { weight: 2, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.tuple(
          fc.oneof(
            fc.constantFrom(...QUERY_KEYS),
            fc.string({ unit: 'grapheme', maxLength: 12 }).map(encodeURIComponent),
          ),
          fc.oneof(
            fc.constantFrom(...QUERY_VALUES),
            fc.string({ unit: 'grapheme', maxLength: 20 }).map(encodeURIComponent),
          ),
        ),
        { minLength: 1, maxLength: 4 },
      )
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
  },
);

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=latin1',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'application/octet-stream',
  'multipart/form-data; boundary=x',
  'application/merge-patch+json',
  '',
];

// Mostly JSON, so that bodies get past the content-type check and into parsing and validation.
const contentTypes = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 4, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
);

const deep = (depth: number, open: string, close: string) => open.repeat(depth) + close.repeat(depth);

const FIXED_BODIES: Buffer[] = [
  Buffer.from('{"__proto__":{"polluted":"yes"},"value":"x","name":"x"}'),
  Buffer.from('{"constructor":{"prototype":{"polluted":"yes"}},"value":"x"}'),
  Buffer.from('[{"__proto__":{"polluted":"yes"},"name":"A","value":"v","scopes":["workers"]}]'),
  Buffer.from('{"value":"x","permissions":["*"],"__proto__":{"isAdmin":true}}'),
  Buffer.from(deep(20_000, '[', ']')),
  Buffer.from(`${deep(5_000, '{"a":', '')}1${'}'.repeat(5_000)}`),
  Buffer.concat([
    Buffer.from('{"value":"'),
    Buffer.from([0xff, 0xfe, 0xc0, 0xaf, 0xed, 0xa0, 0x80]),
    Buffer.from('"}'),
  ]),
  Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), // a BOM before {}
  Buffer.from('{"value":"x"'),
  Buffer.from('{"value":"x"}}'),
  Buffer.from(''),
  Buffer.from('null'),
  Buffer.from('"just a string"'),
  Buffer.from('{"value":1e309}'),
  Buffer.from('{"value":"\\ud800"}'),
  Buffer.from(JSON.stringify({ value: 'v'.repeat(600 * 1024) })),
  Buffer.from(JSON.stringify({ value: 'v'.repeat(2 * 1024 * 1024) })),
  Buffer.from(JSON.stringify({ name: 'n'.repeat(5000), value: 'v', comment: 'c'.repeat(100_000) })),
  Buffer.from(
    JSON.stringify([{ name: 'A', value: 'v', scopes: Array.from({ length: 10_000 }, () => 'workers') }]),
  ),
];

const body = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
  },
  { weight: 3, arbitrary: fc.constantFrom(...FIXED_BODIES) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)) },
  {
    weight: 2,
    arbitrary: fc
      .dictionary(
        fc.oneof(
          fc.constantFrom(
            'value',
            'name',
            'kind',
            'permissions',
            'enabled',
            'scopes',
            'comment',
            'description',
            'ids',
            'options',
            '__proto__',
            'constructor',
          ),
          fc.string({ maxLength: 10 }),
        ),
        fc.jsonValue({ maxDepth: 2 }),
        { maxKeys: 5 },
      )
      .map((o) => Buffer.from(JSON.stringify(o))),
  },
);

interface RouteTemplate {
  readonly facade: Facade;
  readonly method: string;
  /** Segments: literal strings or a slot's valid value (fuzzed). */
  readonly parts: readonly (string | { readonly slot: string })[];
  readonly withBody: boolean;
  readonly auth: 'admin' | 'service';
}

function r(facade: Facade, method: string, path: string, auth: 'admin' | 'service' = 'admin'): RouteTemplate {
  const parts = path
    .split('/')
    .filter((p) => p !== '')
    .map((p) => (p.startsWith(':') ? { slot: p.slice(1) } : p));
  return { facade, method, parts, withBody: method !== 'GET', auth };
}

const ROUTES: RouteTemplate[] = [
  r('neostore', 'GET', '/api/:tenant/secrets'),
  r('neostore', 'GET', '/api/:tenant/secrets/:name'),
  r('neostore', 'PUT', '/api/:tenant/secrets/:name'),
  r('neostore', 'DELETE', '/api/:tenant/secrets/:name'),
  r('neostore', 'GET', '/api/:tenant/admin/apiKeys'),
  r('neostore', 'POST', '/api/:tenant/admin/apiKeys'),
  r('neostore', 'GET', '/api/:tenant/admin/apiKeys/:key'),
  r('neostore', 'PUT', '/api/:tenant/admin/apiKeys/:key'),
  r('neostore', 'DELETE', '/api/:tenant/admin/apiKeys/:key'),
  ...(
    [
      ['GET', '/quota'],
      ['GET', '/stores'],
      ['POST', '/stores'],
      ['GET', '/stores/:store'],
      ['DELETE', '/stores/:store'],
      ['GET', '/stores/:store/secrets'],
      ['POST', '/stores/:store/secrets'],
      ['DELETE', '/stores/:store/secrets'],
      ['GET', '/stores/:store/secrets/:secret'],
      ['PATCH', '/stores/:store/secrets/:secret'],
      ['DELETE', '/stores/:store/secrets/:secret'],
      ['POST', '/stores/:store/secrets/:secret/duplicate'],
    ] as const
  ).map(([m, p]) => r('cloudflare', m, `/client/v4/accounts/:tenant/secrets_store${p}`)),
  ...(
    [
      ['GET', '/stores'],
      ['POST', '/stores'],
      ['GET', '/stores/:store'],
      ['DELETE', '/stores/:store'],
      ['GET', '/stores/:store/secrets'],
      ['POST', '/stores/:store/secrets'],
      ['DELETE', '/stores/:store/secrets'],
      ['GET', '/stores/:store/secrets/:secret'],
      ['PATCH', '/stores/:store/secrets/:secret'],
      ['DELETE', '/stores/:store/secrets/:secret'],
      ['POST', '/stores/:store/secrets/:secret/duplicate'],
    ] as const
  ).map(([m, p]) => r('cloudflare', m, `/client/v4/system/accounts/:tenant${p}`, 'service')),
  r('envs', 'GET', '/:tenant/:project/envs/:env/secrets'),
  r('envs', 'POST', '/:tenant/:project/envs/:env/secrets'),
  r('envs', 'GET', '/:tenant/:project/envs/:env/secrets/:name'),
  r('envs', 'PUT', '/:tenant/:project/envs/:env/secrets/:name'),
  r('envs', 'DELETE', '/:tenant/:project/envs/:env/secrets/:name'),
  r('envs', 'PUT', '/:tenant/:project/envs/:env/secrets/:name/value'),
  ...(
    [
      ['GET', '/stores'],
      ['POST', '/stores'],
      ['GET', '/stores/:store'],
      ['DELETE', '/stores/:store'],
      ['GET', '/stores/:store/secrets'],
      ['GET', '/stores/:store/secrets/:name'],
      ['PUT', '/stores/:store/secrets/:name'],
      ['DELETE', '/stores/:store/secrets/:name'],
      ['POST', '/stores/:store/reveal'],
      ['GET', '/events'],
      ['GET', '/stores/:store/events'],
    ] as const
  ).map(([m, p]) => r('v1', m, `/v1/tenants/:tenant${p}`)),
  ...(
    [
      ['GET', '/:mount/data/:path'],
      ['POST', '/:mount/data/:path'],
      ['PUT', '/:mount/data/:path'],
      ['PATCH', '/:mount/data/:path'],
      ['DELETE', '/:mount/data/:path'],
      ['POST', '/:mount/delete/:path'],
      ['PUT', '/:mount/undelete/:path'],
      ['POST', '/:mount/destroy/:path'],
      ['GET', '/:mount/metadata/:path'],
      ['GET', '/:mount/metadata'],
      ['PUT', '/:mount/metadata/:path'],
      ['PATCH', '/:mount/metadata/:path'],
      ['DELETE', '/:mount/metadata/:path'],
      ['GET', '/:mount/config'],
      ['POST', '/:mount/config'],
      ['GET', '/sys/internal/ui/mounts/:mount'],
      ['GET', '/sys/mounts'],
      // The token's own routes (an API key: lookup answers, renew and revoke refuse) and the JWT
      // login (no mount configured here: every body reaches validation, then a 404).
      ['GET', '/auth/token/lookup-self'],
      ['POST', '/auth/token/lookup-self'],
      ['POST', '/auth/token/renew-self'],
      ['PUT', '/auth/token/renew-self'],
      ['POST', '/auth/token/revoke-self'],
      ['PUT', '/auth/token/revoke-self'],
      ['POST', '/auth/:mount/login'],
      ['PUT', '/auth/:mount/login'],
    ] as const
  ).map(([m, p]) => r('vault', m, `/vault/v1${p}`)),
];

describe('hostile input on every route of every facade', () => {
  let server: TestServer;
  let base: URL;
  let serviceToken: string;
  const valid: Record<string, string> = {};

  before(async () => {
    server = await startTestServer();
    base = new URL(server.url);
    serviceToken = await server.createService('fuzz-svc');
    const token = server.adminToken;
    valid.tenant = 'default';
    valid.project = 'web';
    valid.env = 'dev';
    valid.name = 'FUZZ_TARGET';
    // The fuzzed key routes may disable or delete the key they name: never the one the fuzzer uses.
    valid.key = 'victim';
    valid.mount = 'fuzzkv';
    valid.path = 'fuzz-target';
    await server.createKey('default', 'victim', ['secrets:read']);
    const store = await request(server.url, 'POST', '/client/v4/accounts/default/secrets_store/stores', {
      token,
      auth: 'bearer',
      body: { name: 'fuzz' },
    });
    valid.store = ((store.json as { result: { id: string } }).result ?? { id: '' }).id;
    const secret = await request(
      server.url,
      'POST',
      `/client/v4/accounts/default/secrets_store/stores/${valid.store}/secrets`,
      { token, auth: 'bearer', body: [{ name: 'FUZZ_TARGET', value: 'v', scopes: ['workers'] }] },
    );
    valid.secret = ((secret.json as { result: { id: string }[] }).result[0] ?? { id: '' }).id;
    assert.match(valid.secret, /^[0-9a-f]{32}$/);
  });
  after(() => server.close());

  ROUTES.forEach((route, index) => {
    const label = `${route.method} /${route.parts.map((p) => (typeof p === 'string' ? p : `{${p.slot}}`)).join('/')}`;
    it(`${label}: never a 5xx, always the facade's error shape, no internals`, async () => {
      const path = fc.tuple(
        ...route.parts.map((p) => (typeof p === 'string' ? fc.constant(p) : segment(valid[p.slot] ?? 'x'))),
      );
      const token = route.auth === 'service' ? serviceToken : server.adminToken;
      const authHeader: Record<string, string> =
        route.facade === 'neostore'
          ? { 'x-api-key': token }
          : route.facade === 'vault'
            ? { 'x-vault-token': token }
            : { authorization: `Bearer ${token}` };
      await holds(
        fc.asyncProperty(
          path,
          query,
          fc.option(body, { nil: undefined }),
          contentTypes,
          async (segments, q, payload, contentType) => {
            const url = `/${segments.join('/')}${q}`;
            const headers: Record<string, string> = { ...authHeader };
            if (contentType !== '') headers['content-type'] = contentType;
            const sent = route.withBody ? (payload ?? Buffer.from('{}')) : payload;
            const res = await rawRequest(base, route.method, url, headers, sent);
            assertFacadeShape(route.facade, res, `${route.method} ${url.slice(0, 200)}`);
          },
        ),
        { seed: 4242 + index, numRuns: 40 },
      );
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted'), false);
      assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
    });
  });

  it('garbage credentials in every header shape are refused in each facade’s shape', async () => {
    const credential = fc.oneof(
      fc.string({ unit: 'grapheme-ascii', maxLength: 200 }).filter((s) => /^[\x21-\x7e]*$/.test(s)),
      fc.constantFrom('coffer_', `coffer_${'0'.repeat(49)}`, 'Bearer', 'a'.repeat(8000), '\u00ff\u00fe'),
    );
    await holds(
      fc.asyncProperty(
        credential,
        fc.constantFrom(...(['neostore', 'cloudflare', 'envs', 'v1', 'vault'] as const)),
        async (cred, facade) => {
          const path = {
            neostore: '/api/default/secrets',
            cloudflare: '/client/v4/accounts/default/secrets_store/stores',
            envs: '/default/web/envs/dev/secrets',
            v1: '/v1/tenants/default/stores',
            vault: '/vault/v1/secret/data/app',
          }[facade];
          const headers: Record<string, string> =
            facade === 'neostore'
              ? { 'x-api-key': cred }
              : facade === 'vault'
                ? { 'x-vault-token': cred }
                : { authorization: `Bearer ${cred}` };
          const res = await rawRequest(base, 'GET', path, headers);
          assertFacadeShape(facade, res, `${facade} ${cred.slice(0, 40)}`);
          // Vault has no 401: a refused token is 403 `permission denied`.
          const refused = facade === 'vault' ? [403, 400] : [401, 400];
          assert.ok(refused.includes(res.status), `${facade}: ${res.status}`);
        },
      ),
      { seed: 777, numRuns: 120 },
    );
  });

  it('keeps serving afterwards', async () => {
    assert.equal((await request(server.url, 'GET', '/healthz')).status, 200);
    const token = server.adminToken;
    assert.equal(
      (
        await request(server.url, 'PUT', '/api/default/secrets/after-fuzz', {
          token,
          body: { value: 'still fine' },
        })
      ).status,
      204,
    );
    assert.equal(
      (await request(server.url, 'GET', '/api/default/secrets/after-fuzz', { token })).text,
      'still fine',
    );
  });
});
