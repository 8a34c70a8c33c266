import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { storageBytes } from '../support/raw-database.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { EnvsClient, type EnvsResponse, envPath } from './envs-client.js';

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

function assertSecret(
  body: unknown,
  expected: { name: string; description: string | null; hasValue: boolean },
): void {
  const secret = body as Record<string, unknown>;
  assert.deepEqual(Object.keys(secret).sort(), ['createdAt', 'description', 'hasValue', 'name', 'updatedAt']);
  assert.equal(secret.name, expected.name);
  assert.equal(secret.description, expected.description);
  assert.equal(secret.hasValue, expected.hasValue);
  assert.match(String(secret.createdAt), ISO);
  assert.match(String(secret.updatedAt), ISO);
}

function assertError(res: EnvsResponse, status: number, code: string): void {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const body = res.body as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error']);
  assert.equal(body.code, code);
  assert.equal(typeof body.error, 'string');
}

/** A value no test text could contain by chance. */
function uniqueValue(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

describe('envs secrets', () => {
  let server: TestServer;
  let envs: EnvsClient;
  let closed = false;
  const values: string[] = [];

  before(async () => {
    server = await startTestServer();
    envs = new EnvsClient(server);
  });
  after(async () => {
    if (!closed) await server.close();
  });

  async function storeNames(tenant = 'default'): Promise<string[]> {
    return (await server.runtime.core.stores.list(OPERATOR, tenant)).map((s) => s.name);
  }

  it('lists a project and environment never declared as [] and creates no store', async () => {
    const res = await envs.call('GET', envPath('default', 'ghost', 'staging'));
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, []);
    const defaultEnv = await envs.call('GET', envPath('default', 'ghost', 'default'));
    assert.equal(defaultEnv.status, 200);
    assert.deepEqual(defaultEnv.body, []);
    assert.deepEqual(await storeNames(), []);
  });

  it('declares a secret without a value: 201, creating the store {p}/{envName}', async () => {
    const res = await envs.call('POST', envPath('default', 'web', 'production'), {
      body: { kind: 'Secret', name: 'DATABASE_URL', description: 'Primary database' },
    });
    assert.equal(res.status, 201, res.text);
    assertSecret(res.body, { name: 'DATABASE_URL', description: 'Primary database', hasValue: false });
    const stores = await server.runtime.core.stores.list(OPERATOR, 'default');
    const store = stores.find((s) => s.name === 'web/production');
    assert.ok(store, 'the store web/production exists');
    assert.equal(store.managedBy, null);
  });

  it('declares without a description: description null', async () => {
    const res = await envs.call('POST', envPath('default', 'web', 'production'), {
      body: { kind: 'Secret', name: 'API_KEY' },
    });
    assert.equal(res.status, 201);
    assertSecret(res.body, { name: 'API_KEY', description: null, hasValue: false });
  });

  it('refuses a second declare of the same name: 409 secret_exists', async () => {
    const res = await envs.call('POST', envPath('default', 'web', 'production'), {
      body: { kind: 'Secret', name: 'DATABASE_URL', description: 'again' },
    });
    assertError(res, 409, 'secret_exists');
  });

  it('declares the same name in another environment and in the default environment', async () => {
    for (const env of ['staging', 'default']) {
      const res = await envs.call('POST', envPath('default', 'web', env), {
        body: { kind: 'Secret', name: 'DATABASE_URL' },
      });
      assert.equal(res.status, 201, res.text);
    }
    const names = await storeNames();
    assert.ok(names.includes('web/staging') && names.includes('web/default'));
  });

  it('sets a value: 200 with the metadata, hasValue true, the value nowhere', async () => {
    const value = uniqueValue('db-url');
    values.push(value);
    const res = await envs.call('PUT', `${envPath('default', 'web', 'production', 'DATABASE_URL')}/value`, {
      body: { value },
    });
    assert.equal(res.status, 200, res.text);
    assertSecret(res.body, { name: 'DATABASE_URL', description: 'Primary database', hasValue: true });
    // The value was sealed in the core: the secret has a current version.
    const store = (await server.runtime.core.stores.list(OPERATOR, 'default')).find(
      (s) => s.name === 'web/production',
    );
    assert.ok(store);
    const secret = await server.runtime.core.secrets.get(
      OPERATOR,
      'default',
      { id: store.id },
      { name: 'DATABASE_URL' },
    );
    assert.equal(secret.currentVersion, 1);
  });

  it('sets a value again (a new version) and accepts an empty value', async () => {
    const value = uniqueValue('db-url-2');
    values.push(value);
    const path = `${envPath('default', 'web', 'production', 'DATABASE_URL')}/value`;
    assert.equal((await envs.call('PUT', path, { body: { value } })).status, 200);
    const empty = await envs.call('PUT', `${envPath('default', 'web', 'staging', 'DATABASE_URL')}/value`, {
      body: { value: '' },
    });
    assert.equal(empty.status, 200);
    assertSecret(empty.body, { name: 'DATABASE_URL', description: null, hasValue: true });
  });

  it('lists the environment sorted by name, metadata only', async () => {
    const res = await envs.call('GET', envPath('default', 'web', 'production'));
    assert.equal(res.status, 200);
    const list = res.body as unknown[];
    assert.equal(list.length, 2);
    assertSecret(list[0], { name: 'API_KEY', description: null, hasValue: false });
    assertSecret(list[1], { name: 'DATABASE_URL', description: 'Primary database', hasValue: true });
  });

  it('gets a secret by name: 200; an unknown one, or in an unknown environment: 404', async () => {
    const res = await envs.call('GET', envPath('default', 'web', 'production', 'DATABASE_URL'));
    assert.equal(res.status, 200);
    assertSecret(res.body, { name: 'DATABASE_URL', description: 'Primary database', hasValue: true });
    assertError(
      await envs.call('GET', envPath('default', 'web', 'production', 'NOPE')),
      404,
      'secret_not_found',
    );
    assertError(
      await envs.call('GET', envPath('default', 'web', 'qa', 'DATABASE_URL')),
      404,
      'secret_not_found',
    );
    assertError(await envs.call('GET', envPath('default', 'nope', 'qa', 'X')), 404, 'secret_not_found');
    assert.ok(!(await storeNames()).includes('web/qa'), 'a read never creates a store');
  });

  it('is case-sensitive in secret names', async () => {
    assertError(
      await envs.call('GET', envPath('default', 'web', 'production', 'database_url')),
      404,
      'secret_not_found',
    );
  });

  it('updates the description: 200; absent description clears it', async () => {
    const path = envPath('default', 'web', 'production', 'API_KEY');
    const before = (await envs.call('GET', path)).body as { createdAt: string };
    const res = await envs.call('PUT', path, {
      body: { kind: 'Secret', name: 'API_KEY', description: 'Payment provider' },
    });
    assert.equal(res.status, 200, res.text);
    assertSecret(res.body, { name: 'API_KEY', description: 'Payment provider', hasValue: false });
    assert.equal((res.body as { createdAt: string }).createdAt, before.createdAt);
    const cleared = await envs.call('PUT', path, { body: { kind: 'Secret', name: 'API_KEY' } });
    assert.equal(cleared.status, 200);
    assertSecret(cleared.body, { name: 'API_KEY', description: null, hasValue: false });
  });

  it('keeps the value when the description changes', async () => {
    const path = envPath('default', 'web', 'production', 'DATABASE_URL');
    const res = await envs.call('PUT', path, {
      body: { kind: 'Secret', name: 'DATABASE_URL', description: 'Primary database' },
    });
    assertSecret(res.body, { name: 'DATABASE_URL', description: 'Primary database', hasValue: true });
  });

  it('refuses an update whose body names another secret: 400 name_mismatch', async () => {
    const res = await envs.call('PUT', envPath('default', 'web', 'production', 'API_KEY'), {
      body: { kind: 'Secret', name: 'OTHER', description: 'x' },
    });
    assertError(res, 400, 'name_mismatch');
  });

  it('answers 404 to updating or setting the value of an unknown secret', async () => {
    assertError(
      await envs.call('PUT', envPath('default', 'web', 'production', 'NOPE'), {
        body: { kind: 'Secret', name: 'NOPE' },
      }),
      404,
      'secret_not_found',
    );
    const value = uniqueValue('never-stored');
    values.push(value);
    assertError(
      await envs.call('PUT', `${envPath('default', 'web', 'production', 'NOPE')}/value`, { body: { value } }),
      404,
      'secret_not_found',
    );
    assertError(
      await envs.call('PUT', `${envPath('default', 'web', 'nowhere', 'NOPE')}/value`, { body: { value } }),
      404,
      'secret_not_found',
    );
    assert.ok(!(await storeNames()).includes('web/nowhere'));
  });

  it('deletes a secret: 200 {deleted, name}; again: 404', async () => {
    const path = envPath('default', 'web', 'staging', 'DATABASE_URL');
    const res = await envs.call('DELETE', path);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, { deleted: true, name: 'DATABASE_URL' });
    assertError(await envs.call('DELETE', path), 404, 'secret_not_found');
    assertError(await envs.call('GET', path), 404, 'secret_not_found');
    assert.deepEqual((await envs.call('GET', envPath('default', 'web', 'staging'))).body, []);
    assertError(
      await envs.call('DELETE', envPath('default', 'web', 'nowhere', 'X')),
      404,
      'secret_not_found',
    );
  });

  it('accepts a DELETE carrying Content-Type: application/json and no body', async () => {
    await envs.call('POST', envPath('default', 'web', 'staging'), { body: { kind: 'Secret', name: 'TMP' } });
    const res = await envs.call('DELETE', envPath('default', 'web', 'staging', 'TMP'), {
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(res.status, 200, res.text);
  });

  it('refuses invalid path segments: 400 with a code per segment', async () => {
    const cases: Array<[string, string]> = [
      [envPath('-acme', 'web', 'dev'), 'invalid_tenant'],
      [envPath('a'.repeat(65), 'web', 'dev'), 'invalid_tenant'],
      [envPath('default', 'Web', 'dev'), 'invalid_project'],
      [envPath('default', '1web', 'dev'), 'invalid_project'],
      [envPath('default', 'web_app', 'dev'), 'invalid_project'],
      [envPath('default', `w${'a'.repeat(63)}`, 'dev'), 'invalid_project'],
      [envPath('default', 'web', 'Dev'), 'invalid_environment'],
      [envPath('default', 'web', `d${'e'.repeat(31)}`), 'invalid_environment'],
      [envPath('default', 'web', '-dev'), 'invalid_environment'],
      [envPath('default', 'web', 'dev', 'a.b'), 'invalid_secret_name'],
      [envPath('default', 'web', 'dev', 'x'.repeat(128)), 'invalid_secret_name'],
      [envPath('default', 'web', 'dev', 'a%20b'), 'invalid_secret_name'],
    ];
    for (const [path, code] of cases) assertError(await envs.call('GET', path), 400, code);
    // The longest names allowed pass validation.
    const longest = await envs.call('GET', envPath('default', `w${'a'.repeat(62)}`, `d${'e'.repeat(30)}`));
    assert.equal(longest.status, 200);
    assert.deepEqual(longest.body, []);
  });

  it('refuses invalid bodies: 400 with a stable code', async () => {
    const path = envPath('default', 'web', 'dev');
    const cases: Array<[EnvsResponse, string]> = [
      [await envs.call('POST', path, { body: { kind: 'Secret', name: 'bad name' } }), 'invalid_secret_name'],
      [
        await envs.call('POST', path, { body: { kind: 'Secret', name: 'x'.repeat(128) } }),
        'invalid_secret_name',
      ],
      [await envs.call('POST', path, { body: { kind: 'Secret' } }), 'invalid_body'],
      [await envs.call('POST', path, { body: { name: 'OK' } }), 'invalid_body'],
      [await envs.call('POST', path, { body: { kind: 'Folder', name: 'OK' } }), 'invalid_body'],
      [await envs.call('POST', path, { body: { kind: 'Secret', name: 'OK', extra: 1 } }), 'invalid_body'],
      [
        await envs.call('POST', path, { body: { kind: 'Secret', name: 'OK', description: 7 } }),
        'invalid_body',
      ],
      [
        await envs.call('POST', path, {
          body: { kind: 'Secret', name: 'OK', description: 'd'.repeat(1025) },
        }),
        'invalid_body',
      ],
      [await envs.call('POST', path, { body: ['Secret'] }), 'invalid_body'],
      [await envs.call('POST', path), 'invalid_body'],
      [await envs.call('POST', path, { raw: '{"kind": "Secret", ' }), 'malformed_body'],
    ];
    for (const [res, code] of cases) assertError(res, 400, code);
    assertError(
      await envs.call('POST', path, { raw: 'kind=Secret', contentType: 'text/plain' }),
      415,
      'unsupported_media_type',
    );
    assert.ok(!(await storeNames()).includes('web/dev'), 'a refused declare creates no store');
  });

  it('refuses invalid value bodies: 400', async () => {
    const path = `${envPath('default', 'web', 'production', 'API_KEY')}/value`;
    assertError(await envs.call('PUT', path, { body: {} }), 400, 'invalid_body');
    assertError(await envs.call('PUT', path, { body: { value: 42 } }), 400, 'invalid_body');
    assertError(await envs.call('PUT', path, { body: { value: 'x', extra: true } }), 400, 'invalid_body');
    assertError(
      await envs.call('PUT', path, { body: { value: 'x'.repeat(65_537) } }),
      400,
      'value_too_large',
    );
    // The limit is in UTF-8 bytes: 21,846 three-byte characters are 65,538 bytes.
    assertError(
      await envs.call('PUT', path, { body: { value: '€'.repeat(21_846) } }),
      400,
      'value_too_large',
    );
    const fits = await envs.call('PUT', path, { body: { value: 'x'.repeat(65_536) } });
    assert.equal(fits.status, 200);
  });

  it('answers unknown envs endpoints with 404 route_not_found, wrong methods with 405 and Allow', async () => {
    assertError(await envs.call('GET', '/default/web/envs/dev/variables'), 404, 'route_not_found');
    const patch = await envs.call('PATCH', envPath('default', 'web', 'dev'));
    assertError(patch, 405, 'method_not_allowed');
    assert.equal(patch.headers.get('allow'), 'GET, HEAD, POST');
    const post = await envs.call('POST', envPath('default', 'web', 'dev', 'X'), {
      body: { kind: 'Secret', name: 'X' },
    });
    assertError(post, 405, 'method_not_allowed');
    assert.equal(post.headers.get('allow'), 'DELETE, GET, HEAD, PUT');
    const value = await envs.call('GET', `${envPath('default', 'web', 'dev', 'X')}/value`);
    assertError(value, 405, 'method_not_allowed');
    assert.equal(value.headers.get('allow'), 'PUT');
  });

  it('enforces the tenant secret quota: 403 quota_exceeded', async () => {
    const small = await startTestServer({ env: { COFFER_SECRET_QUOTA: '1' } });
    try {
      const client = new EnvsClient(small);
      const path = envPath('default', 'web', 'dev');
      assert.equal((await client.call('POST', path, { body: { kind: 'Secret', name: 'A' } })).status, 201);
      assertError(
        await client.call('POST', path, { body: { kind: 'Secret', name: 'B' } }),
        403,
        'quota_exceeded',
      );
    } finally {
      await small.close();
    }
  });

  it('a declare refused by the quota leaves no environment behind (store and secret are one transaction)', async () => {
    const small = await startTestServer({ env: { COFFER_SECRET_QUOTA: '1' } });
    try {
      const client = new EnvsClient(small);
      assert.equal(
        (await client.call('POST', envPath('default', 'web', 'dev'), { body: { kind: 'Secret', name: 'A' } }))
          .status,
        201,
      );
      assertError(
        await client.call('POST', envPath('default', 'web', 'staging'), {
          body: { kind: 'Secret', name: 'B' },
        }),
        403,
        'quota_exceeded',
      );
      const stores = await client.call('GET', '/v1/tenants/default/stores', {});
      assert.equal(stores.status, 200, stores.text);
      const names = (stores.body as { items: { name: string }[] }).items.map((s) => s.name);
      assert.ok(names.includes('web/dev'), stores.text);
      assert.ok(!names.includes('web/staging'), `the refused declare left its store: ${stores.text}`);
    } finally {
      await small.close();
    }
  });

  it('marks every response no-store', async () => {
    const res = await envs.call('GET', envPath('default', 'web', 'production'));
    assert.equal(res.headers.get('cache-control'), 'no-store');
  });

  it('never returns a value in any response body', () => {
    assert.ok(values.length >= 3);
    assert.ok(envs.bodies.length > 30);
    for (const body of envs.bodies) {
      for (const value of values) assert.ok(!body.includes(value), 'a response body holds a secret value');
    }
  });

  function assertNoPlaintextIn(dir: string): string[] {
    const files = readdirSync(dir).filter((f) => statSync(join(dir, f)).isFile());
    for (const file of files) {
      const bytes = readFileSync(join(dir, file));
      for (const value of values) {
        assert.equal(bytes.indexOf(Buffer.from(value, 'utf8')), -1, `${file} holds a value in plaintext`);
      }
    }
    return files;
  }

  it('stores no value in plaintext: coffer.db, -wal and -shm hold none, running or closed', async () => {
    if (server.engine === 'postgres') {
      // PostgreSQL's files belong to its server: every row of the server's schema is searched instead.
      const bytes = await storageBytes(server);
      assert.ok(bytes.length > 0);
      for (const value of values) assert.equal(bytes.indexOf(Buffer.from(value, 'utf8')), -1);
      return;
    }
    const running = assertNoPlaintextIn(server.dataDir);
    assert.ok(running.includes('coffer.db'));
    assert.ok(running.includes('coffer.db-wal'), 'the WAL is read while the server runs');
    assert.ok(running.includes('coffer.db-shm'));
    // Closing checkpoints the WAL into the main file: read that too.
    closed = true;
    await server.close({ keepData: true });
    try {
      assert.ok(assertNoPlaintextIn(server.dataDir).includes('coffer.db'));
    } finally {
      rmSync(server.dataDir, { recursive: true, force: true });
    }
  });
});
