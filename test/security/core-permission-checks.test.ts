import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Actor, OPERATOR } from '../../src/core/actor.js';
import type { CofferCore } from '../../src/core/coffer-core.js';
import { ForbiddenError } from '../../src/core/errors.js';
import type { Permission } from '../../src/core/permissions.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { PERMISSIONS } from './auth-matrix-table.js';

/**
 * The core's own checks, without a facade in front: every public method of the secret, store,
 * API-key and audit services, called by a key of the right tenant that holds every permission but
 * the one the method needs, is refused with ForbiddenError and changes nothing. Over HTTP some of
 * these checks sit behind a facade's store lookup that asks for the same permission first; this
 * proves each check holds on its own (the rule lives once, in the core: a future facade that resolves
 * stores differently still inherits it).
 */
const TENANT = 'core';

function keyWithout(missing: Permission): Actor {
  return {
    kind: 'api_key',
    tenantId: TENANT,
    keyName: `without-${missing}`,
    grants: { admin: false, permissions: new Set(PERMISSIONS.filter((p) => p !== missing)) },
  };
}

interface CoreCall {
  readonly name: string;
  readonly needs: Permission;
  run(core: CofferCore, actor: Actor, ids: { storeId: string; secretId: string }): Promise<unknown>;
}

const CALLS: readonly CoreCall[] = [
  { name: 'secrets.listNames', needs: 'secrets:read', run: (c, a) => c.secrets.listNames(a, TENANT) },
  { name: 'secrets.reveal', needs: 'secrets:reveal', run: (c, a) => c.secrets.reveal(a, TENANT, 'S') },
  {
    name: 'secrets.putValue (existing)',
    needs: 'secrets:set-value',
    run: (c, a) => c.secrets.putValue(a, { tenantId: TENANT, name: 'S', value: 'x' }),
  },
  {
    name: 'secrets.putValue (new)',
    needs: 'secrets:write',
    run: (c, a) => c.secrets.putValue(a, { tenantId: TENANT, name: 'NEW', value: 'x' }),
  },
  { name: 'secrets.delete', needs: 'secrets:write', run: (c, a) => c.secrets.delete(a, TENANT, 'S') },
  {
    name: 'secrets.listByName',
    needs: 'secrets:read',
    run: (c, a, { storeId }) =>
      c.secrets.listByName(a, TENANT, { id: storeId }, { prefix: '', after: null, limit: 10 }),
  },
  {
    name: 'secrets.listAllByName',
    needs: 'secrets:read',
    run: (c, a, { storeId }) => c.secrets.listAllByName(a, TENANT, { id: storeId }),
  },
  {
    name: 'secrets.get (by id)',
    needs: 'secrets:read',
    run: (c, a, { storeId, secretId }) => c.secrets.get(a, TENANT, { id: storeId }, { id: secretId }),
  },
  {
    name: 'secrets.get (by name)',
    needs: 'secrets:read',
    run: (c, a, { storeId }) => c.secrets.get(a, TENANT, { id: storeId }, { name: 'S' }),
  },
  {
    name: 'secrets.createMany',
    needs: 'secrets:write',
    run: (c, a, { storeId }) =>
      c.secrets.createMany(a, TENANT, { id: storeId }, [{ name: 'NEW', value: 'x' }]),
  },
  {
    name: 'secrets.createMany (a value)',
    needs: 'secrets:set-value',
    run: (c, a, { storeId }) =>
      c.secrets.createMany(a, TENANT, { id: storeId }, [{ name: 'NEW', value: 'x' }]),
  },
  {
    name: 'secrets.update (value)',
    needs: 'secrets:set-value',
    run: (c, a, { storeId, secretId }) =>
      c.secrets.update(a, TENANT, { id: storeId }, { id: secretId }, { value: 'x' }),
  },
  {
    name: 'secrets.update (read)',
    needs: 'secrets:read',
    run: (c, a, { storeId, secretId }) =>
      c.secrets.update(a, TENANT, { id: storeId }, { id: secretId }, { value: 'x' }),
  },
  {
    name: 'secrets.update (metadata)',
    needs: 'secrets:write',
    run: (c, a, { storeId, secretId }) =>
      c.secrets.update(a, TENANT, { id: storeId }, { id: secretId }, { description: 'd' }),
  },
  {
    name: 'secrets.setValue',
    needs: 'secrets:set-value',
    run: (c, a, { storeId }) => c.secrets.setValue(a, TENANT, { id: storeId }, 'S', 'x'),
  },
  {
    name: 'secrets.removeMany',
    needs: 'secrets:write',
    run: (c, a, { storeId, secretId }) =>
      c.secrets.removeMany(a, TENANT, { id: storeId }, [{ id: secretId }]),
  },
  {
    name: 'secrets.duplicate (write)',
    needs: 'secrets:write',
    run: (c, a, { storeId, secretId }) =>
      c.secrets.duplicate(a, TENANT, { id: storeId }, secretId, { name: 'COPY', scopes: [] }),
  },
  {
    name: 'secrets.duplicate (set-value)',
    needs: 'secrets:set-value',
    run: (c, a, { storeId, secretId }) =>
      c.secrets.duplicate(a, TENANT, { id: storeId }, secretId, { name: 'COPY', scopes: [] }),
  },
  {
    name: 'secrets.write (read)',
    needs: 'secrets:read',
    run: (c, a, { storeId }) => c.secrets.write(a, TENANT, { id: storeId }, 'S', { value: 'x' }),
  },
  {
    name: 'secrets.write (value)',
    needs: 'secrets:set-value',
    run: (c, a, { storeId }) => c.secrets.write(a, TENANT, { id: storeId }, 'S', { value: 'x' }),
  },
  {
    name: 'secrets.write (metadata)',
    needs: 'secrets:write',
    run: (c, a, { storeId }) => c.secrets.write(a, TENANT, { id: storeId }, 'S', { description: 'd' }),
  },
  {
    name: 'secrets.write (create)',
    needs: 'secrets:write',
    run: (c, a, { storeId }) => c.secrets.write(a, TENANT, { id: storeId }, 'NEW', { value: 'x' }),
  },
  {
    name: 'secrets.remove',
    needs: 'secrets:write',
    run: (c, a, { storeId }) => c.secrets.remove(a, TENANT, { id: storeId }, { name: 'S' }),
  },
  {
    name: 'secrets.revealByName (reveal)',
    needs: 'secrets:reveal',
    run: (c, a, { storeId }) => c.secrets.revealByName(a, TENANT, { id: storeId }, 'S'),
  },
  {
    name: 'secrets.revealByName (read)',
    needs: 'secrets:read',
    run: (c, a, { storeId }) => c.secrets.revealByName(a, TENANT, { id: storeId }, 'S'),
  },
  {
    name: 'secrets.revealMany (named)',
    needs: 'secrets:reveal',
    run: (c, a, { storeId }) => c.secrets.revealMany(a, TENANT, { id: storeId }, ['S']),
  },
  {
    name: 'secrets.revealMany (all)',
    needs: 'secrets:read',
    run: (c, a, { storeId }) => c.secrets.revealMany(a, TENANT, { id: storeId }, null),
  },
  {
    name: 'watch.open (tenant)',
    needs: 'secrets:read',
    run: async (c, a) => (await c.watch.open(a, TENANT, {})).close(),
  },
  {
    name: 'watch.open (store)',
    needs: 'secrets:read',
    run: async (c, a, { storeId }) => (await c.watch.open(a, TENANT, { store: { id: storeId } })).close(),
  },
  // The same operations with the store named the other ways (`StoreRef`): the checks do not depend on it.
  {
    name: 'secrets.listAllByName (store by name)',
    needs: 'secrets:read',
    run: (c, a) => c.secrets.listAllByName(a, TENANT, { name: 'box' }),
  },
  {
    name: 'secrets.get (store by ref)',
    needs: 'secrets:read',
    run: (c, a) => c.secrets.get(a, TENANT, { ref: 'box' }, { name: 'S' }),
  },
  {
    name: 'secrets.createMany (creating its store)',
    needs: 'secrets:write',
    run: (c, a) => c.secrets.createMany(a, TENANT, { name: 'made-env', create: true }, [{ name: 'NEW' }]),
  },
  {
    name: 'secrets.update (store and secret by name)',
    needs: 'secrets:write',
    run: (c, a) => c.secrets.update(a, TENANT, { name: 'box' }, { name: 'S' }, { description: 'd' }),
  },
  {
    name: 'secrets.write (store by ref, value)',
    needs: 'secrets:set-value',
    run: (c, a) => c.secrets.write(a, TENANT, { ref: 'box' }, 'S', { value: 'x' }),
  },
  {
    name: 'secrets.remove (store by ref)',
    needs: 'secrets:write',
    run: (c, a) => c.secrets.remove(a, TENANT, { ref: 'box' }, { name: 'S' }),
  },
  {
    name: 'secrets.revealMany (store by ref)',
    needs: 'secrets:reveal',
    run: (c, a) => c.secrets.revealMany(a, TENANT, { ref: 'box' }, ['S']),
  },
  { name: 'secrets.quota', needs: 'secrets:read', run: (c, a) => c.secrets.quota(a, TENANT) },
  { name: 'stores.list', needs: 'secrets:read', run: (c, a) => c.stores.list(a, TENANT) },
  {
    name: 'stores.get',
    needs: 'secrets:read',
    run: (c, a, { storeId }) => c.stores.get(a, TENANT, storeId),
  },
  {
    name: 'stores.getByName',
    needs: 'secrets:read',
    run: (c, a) => c.stores.getByName(a, TENANT, 'box'),
  },
  { name: 'stores.create', needs: 'secrets:write', run: (c, a) => c.stores.create(a, TENANT, 'made') },
  { name: 'stores.ensure', needs: 'secrets:write', run: (c, a) => c.stores.ensure(a, TENANT, 'made') },
  {
    name: 'stores.delete',
    needs: 'secrets:write',
    run: (c, a, { storeId }) => c.stores.delete(a, TENANT, { id: storeId }, { force: true }),
  },
  {
    name: 'stores.delete (by ref)',
    needs: 'secrets:write',
    run: (c, a) => c.stores.delete(a, TENANT, { ref: 'box' }, { force: true }),
  },
  // Vault KV v2 (core.kv): the store `box` is the mount, `S` the secret (a path of one segment).
  { name: 'kv.read', needs: 'secrets:reveal', run: (c, a) => c.kv.read(a, TENANT, 'box', 'S') },
  {
    name: 'kv.write (existing)',
    needs: 'secrets:set-value',
    run: (c, a) => c.kv.write(a, TENANT, 'box', 'S', { value: 'x' }),
  },
  {
    name: 'kv.write (new)',
    needs: 'secrets:write',
    run: (c, a) => c.kv.write(a, TENANT, 'box', 'kv/new', { value: 'x' }),
  },
  {
    name: 'kv.patch (reads the value)',
    needs: 'secrets:reveal',
    run: (c, a) => c.kv.patch(a, TENANT, 'box', 'S', { extra: 'x' }),
  },
  {
    name: 'kv.patch (writes a value)',
    needs: 'secrets:set-value',
    run: (c, a) => c.kv.patch(a, TENANT, 'box', 'S', { extra: 'x' }),
  },
  {
    name: 'kv.deleteVersions',
    needs: 'secrets:write',
    run: (c, a) => c.kv.deleteVersions(a, TENANT, 'box', 'S', 'latest'),
  },
  {
    name: 'kv.undeleteVersions',
    needs: 'secrets:write',
    run: (c, a) => c.kv.undeleteVersions(a, TENANT, 'box', 'S', [1]),
  },
  {
    name: 'kv.destroyVersions',
    needs: 'secrets:write',
    run: (c, a) => c.kv.destroyVersions(a, TENANT, 'box', 'S', [1]),
  },
  { name: 'kv.metadata (get)', needs: 'secrets:read', run: (c, a) => c.kv.metadata(a, TENANT, 'box', 'S') },
  {
    name: 'kv.writeMetadata',
    needs: 'secrets:write',
    run: (c, a) => c.kv.writeMetadata(a, TENANT, 'box', 'S', { maxVersions: 3 }, 'create-or-update'),
  },
  { name: 'kv.deleteAll', needs: 'secrets:write', run: (c, a) => c.kv.deleteAll(a, TENANT, 'box', 'S') },
  { name: 'kv.list', needs: 'secrets:read', run: (c, a) => c.kv.list(a, TENANT, 'box', '') },
  { name: 'kv.config (get)', needs: 'secrets:read', run: (c, a) => c.kv.config(a, TENANT, 'box') },
  {
    name: 'kv.writeConfig',
    needs: 'secrets:write',
    run: (c, a) => c.kv.writeConfig(a, TENANT, 'box', { maxVersions: 3 }),
  },
  { name: 'apiKeys.list', needs: 'apikeys:read', run: (c, a) => c.apiKeys.list(a, TENANT) },
  { name: 'apiKeys.get', needs: 'apikeys:read', run: (c, a) => c.apiKeys.get(a, TENANT, 'target') },
  {
    name: 'apiKeys.create',
    needs: 'apikeys:write',
    run: (c, a) => c.apiKeys.create(a, TENANT, { name: 'made', permissions: ['secrets:read'] }),
  },
  {
    name: 'apiKeys.update',
    needs: 'apikeys:write',
    run: (c, a) => c.apiKeys.update(a, TENANT, 'target', { enabled: false }),
  },
  { name: 'apiKeys.delete', needs: 'apikeys:write', run: (c, a) => c.apiKeys.delete(a, TENANT, 'target') },
];

describe('core permission checks, each on its own (no facade in front)', () => {
  let server: TestServer;
  const ids = { storeId: '', secretId: '' };
  before(async () => {
    server = await startTestServer();
    const { core } = server.runtime;
    await core.apiKeys.create(OPERATOR, TENANT, { name: 'target', permissions: ['secrets:read'] });
    const store = await core.stores.create(OPERATOR, TENANT, 'box');
    const [secret] = await core.secrets.createMany(OPERATOR, TENANT, { id: store.id }, [
      { name: 'S', value: 'v' },
    ]);
    await core.secrets.putValue(OPERATOR, { tenantId: TENANT, name: 'S', value: 'v' });
    ids.storeId = store.id;
    ids.secretId = secret?.id ?? '';
  });
  after(() => server.close());

  for (const call of CALLS) {
    it(`${call.name} is refused without ${call.needs}`, async () => {
      await assert.rejects(call.run(server.runtime.core, keyWithout(call.needs), ids), (error: unknown) => {
        assert.ok(error instanceof ForbiddenError, `${call.name}: ${String(error)}`);
        return true;
      });
    });
  }

  it('positive control: the same calls with every permission are not refused for a permission', async () => {
    const all: Actor = {
      kind: 'api_key',
      tenantId: TENANT,
      keyName: 'all',
      grants: { admin: false, permissions: new Set(PERMISSIONS) },
    };
    // Reads only: they leave the fixtures as they are for the other cases.
    for (const call of CALLS.filter((c) => /list|get|reveal|quota/i.test(c.name))) {
      await call.run(server.runtime.core, all, ids);
    }
  });

  // A store named by `{ ref }` (the native API) is looked up only once the caller holds the
  // lookup's permission: without it the answer is 403 whether or not the store exists, so a key
  // cannot probe which store names or ids a tenant has. A store that does not exist is the test.
  const REF_LOOKUPS: readonly CoreCall[] = [
    {
      name: 'secrets.listByName',
      needs: 'secrets:read',
      run: (c, a) =>
        c.secrets.listByName(a, TENANT, { ref: 'no-such-store' }, { prefix: '', after: null, limit: 1 }),
    },
    {
      name: 'secrets.get',
      needs: 'secrets:read',
      run: (c, a) => c.secrets.get(a, TENANT, { ref: 'no-such-store' }, { name: 'S' }),
    },
    {
      name: 'secrets.revealByName',
      needs: 'secrets:read',
      run: (c, a) => c.secrets.revealByName(a, TENANT, { ref: 'no-such-store' }, 'S'),
    },
    {
      name: 'secrets.revealMany',
      needs: 'secrets:reveal',
      run: (c, a) => c.secrets.revealMany(a, TENANT, { ref: 'no-such-store' }, ['S']),
    },
    {
      name: 'secrets.write',
      needs: 'secrets:read',
      run: (c, a) => c.secrets.write(a, TENANT, { ref: 'no-such-store' }, 'S', { value: 'x' }),
    },
    {
      name: 'secrets.update',
      needs: 'secrets:read',
      run: (c, a) =>
        c.secrets.update(a, TENANT, { ref: 'no-such-store' }, { name: 'S' }, { description: 'd' }),
    },
    {
      name: 'secrets.createMany',
      needs: 'secrets:write',
      run: (c, a) => c.secrets.createMany(a, TENANT, { ref: 'no-such-store' }, [{ name: 'NEW' }]),
    },
    {
      name: 'secrets.duplicate',
      needs: 'secrets:write',
      run: (c, a, { secretId }) =>
        c.secrets.duplicate(a, TENANT, { ref: 'no-such-store' }, secretId, { name: 'COPY', scopes: [] }),
    },
    {
      name: 'secrets.removeMany',
      needs: 'secrets:write',
      run: (c, a) => c.secrets.removeMany(a, TENANT, { ref: 'no-such-store' }, [{ name: 'S' }]),
    },
    {
      name: 'secrets.setValue',
      needs: 'secrets:set-value',
      run: (c, a) => c.secrets.setValue(a, TENANT, { ref: 'no-such-store' }, 'S', 'x'),
    },
  ];
  for (const call of REF_LOOKUPS) {
    it(`${call.name} of a store by ref that does not exist: 403 without ${call.needs}, not a 404 that tells`, async () => {
      await assert.rejects(call.run(server.runtime.core, keyWithout(call.needs), ids), (error: unknown) => {
        assert.ok(error instanceof ForbiddenError, `${call.name}: ${String(error)}`);
        return true;
      });
    });
  }

  it('the audit service needs audit:read', async () => {
    await assert.rejects(
      server.runtime.core.audit.list(keyWithout('audit:read'), TENANT, { limit: 10 }),
      ForbiddenError,
    );
  });
});
