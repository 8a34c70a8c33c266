import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { ConflictError, InvalidError, UnavailableError } from '../../src/core/errors.js';
import {
  CLOUDFLARE_ERRORS,
  jsonPointerOf,
  toCloudflareFailure,
} from '../../src/http/cloudflare/cloudflare-errors.js';
import { classifyRequestError } from '../../src/http/request-errors.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { accountPath, assertError, ExchangeLog, raw } from './cloudflare-test-kit.js';

const DOC = new URL('../../../docs/cloudflare-errors.md', import.meta.url);

describe('Cloudflare error catalogue', () => {
  test('docs/cloudflare-errors.md and the code table agree, row for row', () => {
    const rows = readFileSync(DOC, 'utf8')
      .split('\n')
      .map((line) => /^\| (\d+) \| (\d+) \| `([a-z_]+)` \| (.+) \| (.+) \|$/.exec(line))
      .filter((m) => m !== null)
      .map((m) => ({ code: Number(m[1]), status: Number(m[2]), name: m[3], message: m[4], when: m[5] }));
    const table = Object.entries(CLOUDFLARE_ERRORS).map(([name, e]) => ({
      code: e.code,
      status: e.status,
      name,
      message: e.message,
      when: e.when,
    }));
    const byCode = (a: { code: number }, b: { code: number }) => a.code - b.code;
    assert.deepEqual(rows.sort(byCode), table.sort(byCode));
  });

  test('codes are unique, at least 1000, never the wrangler auth codes; names are snake_case, messages sentences', () => {
    const codes = Object.values(CLOUDFLARE_ERRORS).map((e) => e.code);
    assert.equal(new Set(codes).size, codes.length);
    for (const [name, e] of Object.entries(CLOUDFLARE_ERRORS)) {
      const code: number = e.code;
      assert.ok(code >= 1000 && code !== 10000 && code !== 9106, name);
      assert.match(name, /^[a-z][a-z0-9_]*$/);
      assert.match(e.message, /^[A-Z].* .*[.?]$/, name);
      assert.ok(e.status >= 400 && e.status < 600);
    }
  });

  test('one mapping: domain errors by code then kind, body fields as JSON pointers, internals hidden', () => {
    const log = pino({ level: 'silent' });
    const map = (e: unknown) => toCloudflareFailure(classifyRequestError(e, log));
    assert.deepEqual(map(InvalidError.field('secret_value_too_long', '[2].value', 'Too long.')), {
      status: 400,
      errors: [{ code: 1001, message: 'Too long.', source: { pointer: '/2/value' } }],
    });
    // A code outside the union takes a cast to make (the compiler refuses it); it still gets its kind's answer.
    // @ts-expect-error -- not a conflict code
    assert.deepEqual(map(new ConflictError('something_else', 'It clashes.')), {
      status: 409,
      errors: [{ code: 1303, message: 'It clashes.' }],
    });
    assert.equal(map(new UnavailableError()).status, 503);
    const internal = map(new Error('SQLITE_CORRUPT at /var/lib/coffer/coffer.db'));
    assert.deepEqual(internal, {
      status: 500,
      errors: [{ code: 1500, message: CLOUDFLARE_ERRORS.internal_error.message }],
    });
    assert.equal(jsonPointerOf('0.scopes.1'), '/0/scopes/1');
    assert.equal(jsonPointerOf('name'), '/name');
    assert.equal(jsonPointerOf('a/b~c'), '/a~1b~0c');
    assert.equal(jsonPointerOf(''), '');
  });
});

describe('Cloudflare facade: routes, OpenAPI and failures outside the routes', () => {
  let server: TestServer;
  const log = new ExchangeLog();

  before(async () => {
    server = await startTestServer();
  });
  after(async () => {
    await server.close();
  });

  test('/openapi.json lists the 23 paths with operationId and description, and names the facade', async () => {
    const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as {
      info: { description: string };
      paths: Record<
        string,
        Record<string, { operationId?: string; description?: string; responses?: object }>
      >;
    };
    assert.match(doc.info.description, /Cloudflare/);
    const account = '/client/v4/accounts/{account_id}/secrets_store';
    const system = '/client/v4/system/accounts/{account_tag}/stores';
    const expected: [string, string][] = [
      [`${account}/quota`, 'get'],
      [`${account}/stores`, 'get'],
      [`${account}/stores`, 'post'],
      [`${account}/stores/{store_id}`, 'get'],
      [`${account}/stores/{store_id}`, 'delete'],
      [`${account}/stores/{store_id}/secrets`, 'get'],
      [`${account}/stores/{store_id}/secrets`, 'post'],
      [`${account}/stores/{store_id}/secrets`, 'delete'],
      [`${account}/stores/{store_id}/secrets/{secret_id}`, 'get'],
      [`${account}/stores/{store_id}/secrets/{secret_id}`, 'patch'],
      [`${account}/stores/{store_id}/secrets/{secret_id}`, 'delete'],
      [`${account}/stores/{store_id}/secrets/{secret_id}/duplicate`, 'post'],
      [system, 'get'],
      [system, 'post'],
      [`${system}/{store_id}`, 'get'],
      [`${system}/{store_id}`, 'delete'],
      [`${system}/{store_id}/secrets`, 'get'],
      [`${system}/{store_id}/secrets`, 'post'],
      [`${system}/{store_id}/secrets`, 'delete'],
      [`${system}/{store_id}/secrets/{secret_id}`, 'get'],
      [`${system}/{store_id}/secrets/{secret_id}`, 'patch'],
      [`${system}/{store_id}/secrets/{secret_id}`, 'delete'],
      [`${system}/{store_id}/secrets/{secret_id}/duplicate`, 'post'],
    ];
    const ids = new Set<string>();
    for (const [path, method] of expected) {
      const operation = doc.paths[path]?.[method];
      assert.ok(operation, `${method.toUpperCase()} ${path} is missing`);
      assert.ok(operation.operationId, `${path}: operationId`);
      assert.ok((operation.description ?? '').length > 20, `${path}: description`);
      ids.add(operation.operationId);
    }
    assert.equal(ids.size, 23, 'operationIds are unique');
    const cloudflarePaths = Object.keys(doc.paths).filter((p) => p.startsWith('/client/v4'));
    assert.equal(new Set(expected.map(([p]) => p)).size, cloudflarePaths.length, 'no other Cloudflare paths');
  });

  test('unknown routes under /client/v4 are 404 route_not_found (7003), wrong methods 405 (7001) with Allow', async () => {
    for (const [method, path] of [
      ['GET', '/nope'],
      ['GET', '/accounts/default/secrets_store'],
      ['GET', '/user/tokens/verify'],
    ] as const) {
      const res = await raw(server, log, method, path, { token: server.adminToken });
      assertError(res, 404, 'route_not_found');
      assert.equal(res.body.errors[0]?.code, 7003);
      assert.equal(res.headers.get('allow'), null);
    }
    for (const [method, path, allow] of [
      ['PUT', accountPath('default', '/stores'), 'GET, HEAD, POST'],
      ['POST', accountPath('default', '/quota'), 'GET, HEAD'],
    ] as const) {
      const res = await raw(server, log, method, path, { token: server.adminToken });
      assertError(res, 405, 'method_not_allowed');
      assert.equal(res.body.errors[0]?.code, 7001);
      assert.equal(res.headers.get('allow'), allow);
    }
  });

  test('a failing database is a 500 internal_error that says nothing more', async () => {
    const broken = await startTestServer();
    try {
      await broken.runtime.repository.close();
      const res = await raw(broken, log, 'GET', accountPath('default', '/stores'), {
        token: broken.adminToken,
      });
      assert.equal(res.status, 500);
      assert.deepEqual(res.body.errors, [{ code: 1500, message: CLOUDFLARE_ERRORS.internal_error.message }]);
      assert.ok(!/sqlite|database|connection|stack|\.ts|\.js/i.test(res.text));
    } finally {
      await broken.close().catch(() => undefined);
    }
  });
});
