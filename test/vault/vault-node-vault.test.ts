import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import nodeVault from 'node-vault';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * The KV v2 contract through node-vault, unchanged, against a real listening Coffer: its address is
 * `http://host:port/vault` (node-vault appends `/v1/…`), its token a Coffer token. node-vault's
 * `list()` sends the LIST method unless `noCustomHTTPVerbs` is set (then `GET ?list=1`): both are
 * served (docs/adr/0014-vault-facade.md, "LIST"); most lists here use the option, one the default.
 */

interface ApiError {
  readonly response?: { readonly statusCode: number; readonly body: unknown };
  readonly message: string;
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ status: number; body: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    const e = error as ApiError;
    return { status: e.response?.statusCode ?? 0, body: e.response?.body, message: e.message };
  }
  throw new Error('expected the request to fail');
}

interface Envelope<T> {
  readonly request_id: string;
  readonly lease_id: string;
  readonly renewable: boolean;
  readonly lease_duration: number;
  readonly data: T;
  readonly wrap_info: null;
  readonly warnings: null;
  readonly auth: null;
}

interface VersionMeta {
  readonly created_time: string;
  readonly deletion_time: string;
  readonly destroyed: boolean;
  readonly version: number;
  readonly custom_metadata: Record<string, string> | null;
}

interface ReadData {
  readonly data: Record<string, unknown> | null;
  readonly metadata: VersionMeta;
}

interface Metadata {
  readonly cas_required: boolean;
  readonly current_version: number;
  readonly oldest_version: number;
  readonly max_versions: number;
  readonly custom_metadata: Record<string, string> | null;
  readonly versions: Record<string, { deletion_time: string; destroyed: boolean; created_time: string }>;
}

describe('Vault KV v2 through node-vault (unchanged, real server)', () => {
  let server: TestServer;
  let vault: nodeVault.client;

  before(async () => {
    server = await startTestServer();
    vault = nodeVault({ endpoint: `${server.url}/vault`, token: server.adminToken, noCustomHTTPVerbs: true });
  });
  after(() => server.close());

  const read = async (path: string) => (await vault.read(path)) as Envelope<ReadData>;
  const metadata = async (path: string) => (await vault.read(path)) as Envelope<Metadata>;

  it('writes and reads a secret: the envelope, the data and the version metadata', async () => {
    const written = (await vault.write('secret/data/app/db', {
      data: { username: 'app', password: 'pw-1' },
    })) as Envelope<VersionMeta>;
    assert.equal(written.data.version, 1);
    assert.equal(written.data.deletion_time, '');
    assert.equal(written.data.destroyed, false);
    assert.match(written.data.created_time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);

    const got = await read('secret/data/app/db');
    assert.deepEqual(got.data.data, { username: 'app', password: 'pw-1' });
    assert.equal(got.data.metadata.version, 1);
    assert.equal(got.lease_id, '');
    assert.equal(got.renewable, false);
    assert.equal(got.lease_duration, 0);
    assert.equal(got.wrap_info, null);
    assert.match(got.request_id, /^[0-9a-f-]{36}$/);
  });

  it('check-and-set: cas 0 only creates, a stale cas is refused with Vault’s message, the right one writes', async () => {
    await vault.write('secret/data/cas/one', { data: { v: 'a' }, options: { cas: 0 } });
    const again = await failure(
      vault.write('secret/data/cas/one', { data: { v: 'b' }, options: { cas: 0 } }),
    );
    assert.equal(again.status, 400);
    assert.equal(again.message, 'check-and-set parameter did not match the current version');
    const stale = await failure(
      vault.write('secret/data/cas/one', { data: { v: 'b' }, options: { cas: 5 } }),
    );
    assert.equal(stale.status, 400);
    const ok = (await vault.write('secret/data/cas/one', {
      data: { v: 'b' },
      options: { cas: 1 },
    })) as Envelope<VersionMeta>;
    assert.equal(ok.data.version, 2);
    assert.deepEqual((await read('secret/data/cas/one')).data.data, { v: 'b' });
  });

  it('patch (update): a JSON merge patch of the latest data, written as a new version', async () => {
    await vault.write('secret/data/patched', { data: { keep: 'k', change: 'old', drop: 'x' } });
    const patched = (await vault.update('secret/data/patched', {
      data: { change: 'new', drop: null, added: 'a' },
    })) as Envelope<VersionMeta>;
    assert.equal(patched.data.version, 2);
    assert.deepEqual((await read('secret/data/patched')).data.data, { keep: 'k', change: 'new', added: 'a' });
    // A patch of a secret that does not exist is a 404, as in Vault.
    assert.equal((await failure(vault.update('secret/data/never', { data: { a: 'b' } }))).status, 404);
  });

  it('versions: each write is a version, older ones are read with ?version=', async () => {
    for (const v of ['one', 'two', 'three']) await vault.write('secret/data/versioned', { data: { v } });
    assert.deepEqual((await read('secret/data/versioned?version=1')).data.data, { v: 'one' });
    assert.deepEqual((await read('secret/data/versioned?version=2')).data.data, { v: 'two' });
    assert.deepEqual((await read('secret/data/versioned')).data.data, { v: 'three' });
    assert.equal((await failure(vault.read('secret/data/versioned?version=9'))).status, 404);
  });

  it('soft delete, undelete and destroy, of the latest and of given versions', async () => {
    for (const v of ['one', 'two', 'three']) await vault.write('secret/data/life', { data: { v } });
    await vault.delete('secret/data/life'); // the latest (3)
    const deleted = await failure(vault.read('secret/data/life'));
    assert.equal(deleted.status, 404);
    const body = deleted.body as Envelope<ReadData>;
    assert.equal(body.data.data, null);
    assert.notEqual(body.data.metadata.deletion_time, '');
    assert.equal(body.data.metadata.version, 3);
    // Older versions are still there.
    assert.deepEqual((await read('secret/data/life?version=2')).data.data, { v: 'two' });

    await vault.write('secret/undelete/life', { versions: [3] });
    assert.deepEqual((await read('secret/data/life')).data.data, { v: 'three' });

    await vault.write('secret/delete/life', { versions: [1, 2] });
    assert.equal((await failure(vault.read('secret/data/life?version=1'))).status, 404);
    await vault.write('secret/destroy/life', { versions: [2] });
    const destroyed = await failure(vault.read('secret/data/life?version=2'));
    assert.equal((destroyed.body as Envelope<ReadData>).data.metadata.destroyed, true);
    // A destroyed version cannot be undeleted; a soft-deleted one can.
    await vault.write('secret/undelete/life', { versions: [1, 2] });
    assert.deepEqual((await read('secret/data/life?version=1')).data.data, { v: 'one' });
    assert.equal((await failure(vault.read('secret/data/life?version=2'))).status, 404);

    const meta = await metadata('secret/metadata/life');
    assert.equal(meta.data.current_version, 3);
    assert.equal(meta.data.versions['1']?.deletion_time, '');
    assert.equal(meta.data.versions['2']?.destroyed, true);
    assert.equal(meta.data.versions['3']?.destroyed, false);
  });

  it('metadata: max_versions prunes, cas_required binds writes, custom_metadata is kept and shown', async () => {
    await vault.write('secret/data/meta', { data: { v: '1' } });
    await vault.write('secret/metadata/meta', {
      max_versions: 2,
      cas_required: true,
      custom_metadata: { owner: 'team-a', tier: 'gold' },
    });
    const refused = await failure(vault.write('secret/data/meta', { data: { v: '2' } }));
    assert.equal(refused.status, 400);
    assert.equal(refused.message, 'check-and-set parameter required for this call');
    await vault.write('secret/data/meta', { data: { v: '2' }, options: { cas: 1 } });
    await vault.write('secret/data/meta', { data: { v: '3' }, options: { cas: 2 } });

    const meta = await metadata('secret/metadata/meta');
    assert.equal(meta.data.max_versions, 2);
    assert.equal(meta.data.cas_required, true);
    assert.deepEqual(meta.data.custom_metadata, { owner: 'team-a', tier: 'gold' });
    assert.deepEqual(Object.keys(meta.data.versions), ['2', '3']);
    assert.equal(meta.data.oldest_version, 2);
    assert.equal((await failure(vault.read('secret/data/meta?version=1'))).status, 404);
    assert.deepEqual((await read('secret/data/meta')).data.metadata.custom_metadata, {
      owner: 'team-a',
      tier: 'gold',
    });

    // PATCH metadata merges custom_metadata (null removes a key).
    await vault.request({
      path: '/secret/metadata/meta',
      method: 'PATCH',
      json: { custom_metadata: { tier: null, region: 'eu' }, cas_required: false },
      headers: { 'Content-Type': 'application/merge-patch+json' },
    });
    const patched = await metadata('secret/metadata/meta');
    assert.deepEqual(patched.data.custom_metadata, { owner: 'team-a', region: 'eu' });
    assert.equal(patched.data.cas_required, false);

    // DELETE metadata: the secret and every version are gone.
    await vault.delete('secret/metadata/meta');
    assert.equal((await failure(vault.read('secret/metadata/meta'))).status, 404);
    assert.equal((await failure(vault.read('secret/data/meta'))).status, 404);
  });

  it('list: the keys under a path, folders with a trailing slash; 404 when there are none', async () => {
    const lister = nodeVault({
      endpoint: `${server.url}/vault`,
      token: server.adminToken,
      noCustomHTTPVerbs: true,
    });
    for (const path of ['listing/a', 'listing/b/c', 'listing/b/d', 'listing/e/f/g']) {
      await lister.write(`tree/data/${path}`, { data: { v: path } });
    }
    const root = (await lister.list('tree/metadata/')) as Envelope<{ keys: string[] }>;
    assert.deepEqual(root.data.keys, ['listing/']);
    const listing = (await lister.list('tree/metadata/listing')) as Envelope<{ keys: string[] }>;
    assert.deepEqual(listing.data.keys, ['a', 'b/', 'e/']);
    const b = (await lister.list('tree/metadata/listing/b/')) as Envelope<{ keys: string[] }>;
    assert.deepEqual(b.data.keys, ['c', 'd']);
    assert.equal((await failure(lister.list('tree/metadata/nothing/'))).status, 404);
  });

  it('list with node-vault’s default LIST method: served as GET ?list=true (test/vault/vault-list-method.test.ts)', async () => {
    const plain = nodeVault({ endpoint: `${server.url}/vault`, token: server.adminToken });
    const root = (await plain.list('tree/metadata/')) as Envelope<{ keys: string[] }>;
    assert.deepEqual(root.data.keys, ['listing/']);
  });

  it('mount config: read and written', async () => {
    const initial = (await vault.read('configured/config')) as Envelope<{
      max_versions: number;
      cas_required: boolean;
    }>;
    assert.deepEqual(initial.data, { cas_required: false, delete_version_after: '0s', max_versions: 0 });
    await vault.write('configured/config', { max_versions: 3, cas_required: true });
    const after = (await vault.read('configured/config')) as Envelope<{
      max_versions: number;
      cas_required: boolean;
    }>;
    assert.deepEqual(after.data, { cas_required: true, delete_version_after: '0s', max_versions: 3 });
    // The mount's cas_required binds every secret in it.
    const refused = await failure(vault.write('configured/data/x', { data: { a: 'b' } }));
    assert.equal(refused.message, 'check-and-set parameter required for this call');
    await vault.write('configured/data/x', { data: { a: 'b' }, options: { cas: 0 } });
    for (let i = 1; i <= 4; i++)
      await vault.write('configured/data/x', { data: { i: String(i) }, options: { cas: i } });
    const meta = await metadata('configured/metadata/x');
    assert.deepEqual(Object.keys(meta.data.versions), ['3', '4', '5']);
    // An existing secret of the mount is bound too (its own settings do not say otherwise).
    const existing = await failure(vault.write('configured/data/x', { data: { a: 'c' } }));
    assert.equal(existing.message, 'check-and-set parameter required for this call');
  });

  it('sys: the CLI preflight says kv version 2 with the mount path; mounts, health and seal status', async () => {
    await vault.write('secret/data/pre/flight', { data: { a: 'b' } });
    const preflight = (await vault.read('sys/internal/ui/mounts/secret/pre/flight')) as Envelope<{
      type: string;
      path: string;
      options: { version: string };
    }>;
    assert.equal(preflight.data.type, 'kv');
    assert.equal(preflight.data.path, 'secret/');
    assert.deepEqual(preflight.data.options, { version: '2' });
    const mounts = (await vault.mounts()) as Envelope<
      Record<string, { type: string; options: { version: string } }>
    >;
    assert.equal(mounts.data['secret/']?.type, 'kv');
    assert.equal(mounts.data['secret/']?.options.version, '2');
    const health = (await vault.health()) as { initialized: boolean; sealed: boolean; standby: boolean };
    assert.deepEqual([health.initialized, health.sealed, health.standby], [true, false, false]);
    const status = (await vault.status()) as { sealed: boolean; initialized: boolean };
    assert.equal(status.sealed, false);
    assert.equal(status.initialized, true);
  });

  it('a missing secret is a 404; a bad token and another tenant’s namespace are 403 permission denied', async () => {
    const missing = await failure(vault.read('secret/data/does/not/exist'));
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { errors: [] });
    const stranger = nodeVault({ endpoint: `${server.url}/vault`, token: 'not-a-token' });
    const denied = await failure(stranger.read('secret/data/app/db'));
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.body, { errors: ['permission denied'] });
    const elsewhere = nodeVault({
      endpoint: `${server.url}/vault`,
      token: server.adminToken,
      namespace: 'other',
    });
    assert.deepEqual((await failure(elsewhere.read('secret/data/app/db'))).body, {
      errors: ['permission denied'],
    });
  });

  it('namespaces are tenants: a token reads its own tenant, with or without naming it', async () => {
    const token = await server.createKey('team-b', 'kv', ['*']);
    const teamB = nodeVault({ endpoint: `${server.url}/vault`, token });
    await teamB.write('secret/data/app/db', { data: { owner: 'team-b' } });
    const named = nodeVault({ endpoint: `${server.url}/vault`, token, namespace: 'team-b' });
    assert.deepEqual(((await named.read('secret/data/app/db')) as Envelope<ReadData>).data.data, {
      owner: 'team-b',
    });
    // The default tenant's secret of the same path is another secret.
    assert.deepEqual((await read('secret/data/app/db')).data.data, { username: 'app', password: 'pw-1' });
  });
});
