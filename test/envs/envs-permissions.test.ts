import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { EnvsClient, type EnvsResponse, envPath } from './envs-client.js';

type Caller =
  | 'reader'
  | 'writer'
  | 'setter'
  | 'readWriter'
  | 'cloudflareWrite'
  | 'otherTenant'
  | 'service'
  | 'missing'
  | 'invalid'
  | 'disabled'
  | 'deleted';
type Operation = 'list' | 'declare' | 'get' | 'update' | 'delete' | 'setValue';

const DENIED_AUTH: Record<string, [number, string]> = {
  missing: [401, 'missing_credentials'],
  invalid: [401, 'invalid_credentials'],
  disabled: [401, 'invalid_credentials'],
  deleted: [401, 'invalid_credentials'],
  otherTenant: [403, 'other_tenant'],
  service: [403, 'service_not_allowed'],
};

/** Who may do what, as docs/envs.md says; anything not listed for a key is 403 missing_permission. */
const ALLOWED: Record<Operation, readonly Caller[]> = {
  // `Secrets Store Write` also reads metadata (docs/adr/0003), never values.
  list: ['reader', 'readWriter', 'cloudflareWrite'],
  declare: ['writer', 'readWriter', 'cloudflareWrite'],
  get: ['reader', 'readWriter', 'cloudflareWrite'],
  update: ['readWriter', 'cloudflareWrite'],
  delete: ['writer', 'readWriter', 'cloudflareWrite'],
  setValue: ['setter', 'cloudflareWrite'],
};
const SUCCESS: Record<Operation, number> = {
  list: 200,
  declare: 201,
  get: 200,
  update: 200,
  delete: 200,
  setValue: 200,
};

describe('envs permissions', () => {
  let server: TestServer;
  let envs: EnvsClient;
  const tokens = new Map<Caller, string | null>();
  let adminToken = '';
  let counter = 0;

  before(async () => {
    server = await startTestServer();
    envs = new EnvsClient(server);
    const keys = server.runtime.core.apiKeys;
    tokens.set('reader', await server.createKey('acme', 'reader', ['secrets:read']));
    tokens.set('writer', await server.createKey('acme', 'writer', ['secrets:write']));
    tokens.set('setter', await server.createKey('acme', 'setter', ['secrets:set-value']));
    tokens.set('readWriter', await server.createKey('acme', 'rw', ['secrets:read', 'secrets:write']));
    tokens.set('cloudflareWrite', await server.createKey('acme', 'cf', ['Secrets Store Write']));
    tokens.set('otherTenant', await server.createKey('globex', 'admin', ['*']));
    tokens.set('service', await server.createService('platform'));
    tokens.set('missing', null);
    tokens.set('invalid', 'coffer_not-a-real-token');
    tokens.set('disabled', await server.createKey('acme', 'disabled', ['*']));
    await keys.update(OPERATOR, 'acme', 'disabled', { enabled: false });
    tokens.set('deleted', await server.createKey('acme', 'deleted', ['*']));
    await keys.delete(OPERATOR, 'acme', 'deleted');
    adminToken = await server.createKey('acme', 'admin', ['*']);
  });
  after(async () => {
    await server.close();
  });

  const admin = () => adminToken;
  const base = envPath('acme', 'web', 'prod');

  /** Runs one operation as `token`, on a secret the admin prepared for it. */
  async function perform(op: Operation, token: string | null): Promise<EnvsResponse> {
    counter += 1;
    const name = `S${counter}`;
    if (op !== 'declare' && op !== 'list') {
      const declared = await envs.call('POST', base, { token: admin(), body: { kind: 'Secret', name } });
      assert.equal(declared.status, 201);
    }
    const path = envPath('acme', 'web', 'prod', name);
    switch (op) {
      case 'list':
        return envs.call('GET', base, { token });
      case 'declare':
        return envs.call('POST', base, { token, body: { kind: 'Secret', name } });
      case 'get':
        return envs.call('GET', path, { token });
      case 'update':
        return envs.call('PUT', path, { token, body: { kind: 'Secret', name, description: 'd' } });
      case 'delete':
        return envs.call('DELETE', path, { token });
      case 'setValue':
        return envs.call('PUT', `${path}/value`, { token, body: { value: `value-of-${name}` } });
    }
  }

  const callers: Caller[] = [
    'reader',
    'writer',
    'setter',
    'readWriter',
    'cloudflareWrite',
    'otherTenant',
    'service',
    'missing',
    'invalid',
    'disabled',
    'deleted',
  ];
  for (const op of Object.keys(ALLOWED) as Operation[]) {
    for (const caller of callers) {
      const denied = DENIED_AUTH[caller];
      const allowed = ALLOWED[op].includes(caller);
      const [status, code] = denied ?? (allowed ? [SUCCESS[op], ''] : [403, 'missing_permission']);
      it(`${op} as ${caller}: ${status}${code === '' ? '' : ` ${code}`}`, async () => {
        const res = await perform(op, tokens.get(caller) ?? null);
        assert.equal(res.status, status, res.text);
        if (code === '') return;
        // Refusals carry no data: the error shape and nothing else.
        assert.deepEqual(res.body, { error: (res.body as { error: string }).error, code });
        if (status === 401) assert.equal(res.headers.get('www-authenticate'), 'Bearer');
      });
    }
  }

  it('a set-value-only key sets a value but cannot read it back or list', async () => {
    await envs.call('POST', base, { token: admin(), body: { kind: 'Secret', name: 'OWNED' } });
    const path = envPath('acme', 'web', 'prod', 'OWNED');
    const set = await envs.call('PUT', `${path}/value`, {
      token: tokens.get('setter'),
      body: { value: 'v' },
    });
    assert.equal(set.status, 200);
    assert.equal((set.body as { hasValue: boolean }).hasValue, true);
    assert.equal((await envs.call('GET', path, { token: tokens.get('setter') })).status, 403);
  });

  it('a write-only key cannot set a value, even on the secret it declared', async () => {
    const writer = tokens.get('writer');
    assert.equal(
      (await envs.call('POST', base, { token: writer, body: { kind: 'Secret', name: 'MINE' } })).status,
      201,
    );
    const res = await envs.call('PUT', `${envPath('acme', 'web', 'prod', 'MINE')}/value`, {
      token: writer,
      body: { value: 'v' },
    });
    assert.equal(res.status, 403);
    assert.equal((res.body as { code: string }).code, 'missing_permission');
  });

  it('another tenant gets 403 whether the tenant, environment or secret exists or not', async () => {
    const token = tokens.get('otherTenant');
    for (const path of [
      envPath('acme', 'web', 'prod'),
      envPath('acme', 'web', 'prod', 'OWNED'),
      envPath('acme', 'nothing', 'here', 'NOPE'),
      envPath('nobody', 'web', 'prod', 'NOPE'),
    ]) {
      const res = await envs.call('GET', path, { token });
      assert.equal(res.status, 403, path);
      assert.equal((res.body as { code: string }).code, 'other_tenant');
    }
  });

  it('a refused declare creates no store', async () => {
    await envs.call('POST', envPath('acme', 'refused', 'prod'), {
      token: tokens.get('reader'),
      body: { kind: 'Secret', name: 'X' },
    });
    await envs.call('POST', envPath('acme', 'refused', 'prod'), {
      token: tokens.get('otherTenant'),
      body: { kind: 'Secret', name: 'X' },
    });
    const names = (await server.runtime.core.stores.list(OPERATOR, 'acme')).map((s) => s.name);
    assert.ok(!names.includes('refused/prod'));
  });

  it('takes only the Authorization header: X-API-KEY alone is 401', async () => {
    const res = await envs.call('GET', base, { token: null, headers: { 'x-api-key': admin() } });
    assert.equal(res.status, 401);
    assert.equal((res.body as { code: string }).code, 'missing_credentials');
  });

  it('checks credentials before validating the request', async () => {
    const res = await envs.call('GET', envPath('acme', 'BAD', 'prod'), { token: null });
    assert.equal(res.status, 401);
  });
});
