import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type {
  ApiKeyRecord,
  AuditEventRecord,
  AuditPosition,
  IssuedTokenRecord,
  SecretListQuery,
  SecretRecord,
  ServiceCredentialRecord,
  StoreRecord,
  VersionRecord,
} from '../../src/core/model.js';
import { chainEvent, GENESIS_HASH, verifyChain } from '../../src/core/audit-chain.js';
import type { Repository, RepositoryTx } from '../../src/core/ports/repository.js';

/** One engine under test: every test opens its own repository over fresh, empty storage. */
export interface RepositoryEngine {
  readonly name: 'sqlite' | 'postgres';
  open(): Promise<Repository>;
  /** Two repositories over the same fresh storage, as two processes or nodes would hold. */
  openPair(): Promise<[Repository, Repository]>;
  /** Removes whatever `open` created; called once, after the last test. */
  cleanup(): Promise<void>;
}

const T0 = 1_700_000_000_000;
let counter = 0;
function uid(prefix: string): string {
  counter += 1;
  return `${prefix}${String(counter).padStart(6, '0')}`;
}

function apiKey(over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return {
    tenantId: 't1',
    name: uid('key'),
    enabled: true,
    permissions: ['secrets:read', 'secrets:write'],
    tokenHash: randomBytes(32),
    tokenPrefix: 'cof_abcd',
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}
function issuedToken(over: Partial<IssuedTokenRecord> = {}): IssuedTokenRecord {
  return {
    tokenHash: randomBytes(32),
    accessor: uid('acc'),
    tenantId: 't1',
    mount: 'jwt',
    role: 'deploy',
    subject: 'repo:octo-org/app:ref:refs/heads/main',
    permissions: ['secrets:read', 'Secret.Read'],
    ttlMs: 60_000,
    createdAt: T0,
    expiresAt: T0 + 60_000,
    maxExpiresAt: T0 + 300_000,
    renewedAt: null,
    ...over,
  };
}
function service(over: Partial<ServiceCredentialRecord> = {}): ServiceCredentialRecord {
  return {
    name: uid('svc'),
    enabled: true,
    tokenHash: randomBytes(32),
    tokenPrefix: 'cfs_abcd',
    createdAt: T0,
    ...over,
  };
}
function store(over: Partial<StoreRecord> = {}): StoreRecord {
  return {
    id: uid('st'),
    tenantId: 't1',
    name: uid('store'),
    managedBy: null,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}
function secret(storeId: string, over: Partial<SecretRecord> = {}): SecretRecord {
  return {
    id: uid('sec'),
    storeId,
    name: uid('NAME_'),
    description: null,
    scopes: [],
    notBefore: null,
    expiresOn: null,
    currentVersion: null,
    latestVersion: 0,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}
function version(secretId: string, n: number, over: Partial<VersionRecord> = {}): VersionRecord {
  return {
    secretId,
    version: n,
    kekId: 'k1aaaa',
    wrappedKey: randomBytes(60),
    ciphertext: randomBytes(40),
    createdAt: T0 + n,
    ...over,
  };
}

/** Byte-wise (UTF-8) order: what "ordinal" means in the contract. */
function ordinal(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

async function seedTenantStore(repo: Repository, over: Partial<StoreRecord> = {}): Promise<StoreRecord> {
  const s = store(over);
  await repo.transaction(async (tx) => {
    await tx.ensureTenant({ id: s.tenantId, createdAt: T0 });
    assert.equal(await tx.insertStore(s), true);
  });
  return s;
}

async function seedSecret(repo: Repository, storeId: string, over: Partial<SecretRecord> = {}) {
  const s = secret(storeId, over);
  assert.equal(await repo.transaction((tx) => tx.insertSecret(s)), true);
  return s;
}

/** Gives the secret a new current version, as the core does; returns its number. */
async function putVersion(repo: Repository, secretId: string, kekId = 'k1aaaa'): Promise<number> {
  return repo.transaction(async (tx) => {
    const n = await tx.allocateVersion(secretId);
    await tx.insertVersion(version(secretId, n, { kekId }));
    await tx.setCurrentVersion(secretId, n, { notBefore: null, expiresOn: null }, T0 + n);
    return n;
  });
}

/** A chain id as a writer would make it: opaque, never a tenant id. */
function chainOf(tenantId: string, writer = 'w1'): string {
  return `${writer}/c/${tenantId}`;
}

/** Appends one event to a chain the way the core does: read the head, link, advance, insert. */
async function appendEvent(
  tx: RepositoryTx,
  tenantId: string,
  over: { action?: string; actor?: string; time?: number; chainId?: string } = {},
) {
  const chainId = over.chainId ?? chainOf(tenantId);
  const head = (await tx.getAuditHead(chainId)) ?? { seq: 0, hash: GENESIS_HASH };
  const event = chainEvent(head, {
    chainId,
    tenantId,
    time: over.time ?? T0,
    actor: over.actor ?? 'key:admin',
    action: over.action ?? 'secret.reveal',
    resource: 'store:default/secret:a',
    outcome: 'allowed',
    reason: null,
    requestId: `req-${head.seq + 1}`,
    clientAddress: '127.0.0.1',
  });
  const ref = { chainId, tenantId, writerId: chainId.split('/')[0] ?? '' };
  assert.equal(await tx.advanceAuditHead(ref, head, { seq: event.seq, hash: event.hash }), true);
  await tx.appendAuditEvents([event]);
  return event;
}

function query(over: Partial<SecretListQuery> = {}): SecretListQuery {
  return { order: 'name', direction: 'asc', limit: 100, offset: 0, ...over };
}

function names(items: readonly SecretRecord[]): string[] {
  return items.map((s) => s.name);
}

/**
 * The storage contract (src/core/ports/), run unchanged against every engine: whatever
 * passes here behaves the same under the core, whichever database is configured.
 */
export function describeRepositoryContract(engine: RepositoryEngine): void {
  describe(`Repository contract: ${engine.name}`, () => {
    after(() => engine.cleanup());

    /** A test over a fresh repository of its own, closed afterwards. */
    function contract(name: string, fn: (repo: Repository) => Promise<void>): void {
      test(name, async () => {
        const repo = await engine.open();
        try {
          await fn(repo);
        } finally {
          await repo.close();
        }
      });
    }

    contract('names its engine and answers ping', async (repo) => {
      assert.equal(repo.engine, engine.name);
      await repo.ping();
    });

    contract(
      'writerBusy: true while a transaction is in flight, false once the writes are answered',
      async (repo) => {
        assert.equal(repo.writerBusy(), false, 'idle at first');
        let release = () => undefined as void;
        const held = new Promise<void>((resolve) => {
          release = resolve;
        });
        let inside = () => undefined as void;
        const entered = new Promise<void>((resolve) => {
          inside = resolve;
        });
        const first = repo.transaction(async (tx) => {
          inside();
          await held;
          await tx.setMeta('busy', 'one');
        });
        const queued = repo.transaction(async (tx) => tx.setMeta('busy-2', 'two'));
        await entered;
        assert.equal(repo.writerBusy(), true, 'a transaction is open');
        release();
        await Promise.all([first, queued]);
        // SQLite's drain ends in the turn after its last batch is answered.
        for (let i = 0; i < 100 && repo.writerBusy() === true; i++) await setImmediatePromise();
        assert.equal(repo.writerBusy(), false, 'drained');
        assert.equal(await repo.getMeta('busy-2'), 'two');
      },
    );

    contract('ensureTenant creates a tenant once', async (repo) => {
      assert.equal(await repo.getTenant('t1'), null);
      assert.equal(await repo.transaction((tx) => tx.ensureTenant({ id: 't1', createdAt: T0 })), true);
      assert.equal(await repo.transaction((tx) => tx.ensureTenant({ id: 't1', createdAt: T0 + 5 })), false);
      assert.deepEqual(await repo.getTenant('t1'), { id: 't1', createdAt: T0 });
    });

    contract('api keys: inserted once; a taken name or token hash returns false', async (repo) => {
      const key = apiKey({ enabled: false, permissions: ['secrets:reveal', 'apikeys:read'] });
      await repo.transaction(async (tx) => {
        await tx.ensureTenant({ id: 't1', createdAt: T0 });
        await tx.ensureTenant({ id: 't2', createdAt: T0 });
        assert.equal(await tx.insertApiKey(key), true);
        assert.equal(await tx.insertApiKey(apiKey({ name: key.name })), false, 'same tenant and name');
        assert.equal(await tx.insertApiKey(apiKey({ tokenHash: key.tokenHash })), false, 'same token hash');
        assert.equal(await tx.insertApiKey(apiKey({ tenantId: 't2', name: key.name })), true, 'other tenant');
      });
      assert.deepEqual(await repo.getApiKey('t1', key.name), key);
      assert.deepEqual(await repo.findApiKeyByHash(key.tokenHash), key);
      assert.equal(await repo.findApiKeyByHash(randomBytes(32)), null);
      assert.equal(await repo.getApiKey('t1', 'missing'), null);
      assert.equal(await repo.getApiKey('t3', key.name), null);
      assert.equal(await repo.countApiKeys(), 2);
    });

    contract('api keys: listed per tenant in ordinal name order; updated and deleted', async (repo) => {
      const keyNames = ['b', 'B', 'a', '_x', 'Z9', 'a.b', 'a-b', 'aa', 'A'];
      await repo.transaction(async (tx) => {
        await tx.ensureTenant({ id: 't1', createdAt: T0 });
        await tx.ensureTenant({ id: 't2', createdAt: T0 });
        for (const name of keyNames) assert.equal(await tx.insertApiKey(apiKey({ name })), true);
        await tx.insertApiKey(apiKey({ tenantId: 't2', name: 'other' }));
      });
      const listed = await repo.listApiKeys('t1');
      assert.deepEqual(
        listed.map((k) => k.name),
        [...keyNames].sort(ordinal),
      );
      assert.deepEqual(await repo.listApiKeys('t3'), []);

      const updated = await repo.transaction((tx) =>
        tx.updateApiKey('t1', 'a', { enabled: false, permissions: [], updatedAt: T0 + 9 }),
      );
      assert.equal(updated?.enabled, false);
      assert.deepEqual(updated?.permissions, []);
      assert.equal(updated?.updatedAt, T0 + 9);
      assert.equal(updated?.createdAt, T0);
      assert.deepEqual(await repo.getApiKey('t1', 'a'), updated);
      assert.equal(
        await repo.transaction((tx) =>
          tx.updateApiKey('t1', 'missing', { enabled: true, permissions: ['*'], updatedAt: T0 }),
        ),
        null,
      );

      assert.equal(await repo.transaction((tx) => tx.deleteApiKey('t1', 'a')), true);
      assert.equal(await repo.transaction((tx) => tx.deleteApiKey('t1', 'a')), false);
      assert.equal(await repo.transaction((tx) => tx.deleteApiKey('t1', 'other')), false, "another tenant's");
      assert.equal(await repo.getApiKey('t1', 'a'), null);
      assert.equal(await repo.countApiKeys(), keyNames.length);
    });

    contract('service credentials: insert, conflicts, ordinal list, enable, delete', async (repo) => {
      const first = service({ name: 'workers' });
      await repo.transaction(async (tx) => {
        assert.equal(await tx.insertService(first), true);
        assert.equal(await tx.insertService(service({ name: 'workers' })), false, 'same name');
        assert.equal(await tx.insertService(service({ tokenHash: first.tokenHash })), false, 'same hash');
        assert.equal(await tx.insertService(service({ name: 'Pages' })), true);
        assert.equal(await tx.insertService(service({ name: 'access', enabled: false })), true);
      });
      assert.deepEqual(
        (await repo.listServices()).map((s) => s.name),
        ['Pages', 'access', 'workers'],
      );
      assert.deepEqual(await repo.findServiceByHash(first.tokenHash), first);
      assert.equal(await repo.findServiceByHash(randomBytes(32)), null);

      assert.equal(await repo.transaction((tx) => tx.setServiceEnabled('workers', false)), true);
      assert.equal((await repo.findServiceByHash(first.tokenHash))?.enabled, false);
      assert.equal(await repo.transaction((tx) => tx.setServiceEnabled('missing', false)), false);

      const deleted = await repo.transaction((tx) => tx.deleteService('workers'));
      assert.deepEqual(deleted, { ...first, enabled: false });
      assert.equal(await repo.transaction((tx) => tx.deleteService('workers')), null);
      assert.equal(await repo.findServiceByHash(first.tokenHash), null);
    });

    contract('stores: unique per tenant and manager; lookups; oldest first with ties by id', async (repo) => {
      const a = store({ id: 'st-b', name: 'prod', createdAt: T0 + 1 });
      const b = store({ id: 'st-a', name: 'dev', createdAt: T0 + 1 });
      const c = store({ id: 'st-0', name: 'old', createdAt: T0 });
      const managed = store({ id: 'st-m', name: 'prod', managedBy: 'workers', createdAt: T0 + 2 });
      await repo.transaction(async (tx) => {
        await tx.ensureTenant({ id: 't1', createdAt: T0 });
        await tx.ensureTenant({ id: 't2', createdAt: T0 });
        for (const s of [a, b, c, managed]) assert.equal(await tx.insertStore(s), true);
        assert.equal(await tx.insertStore(store({ name: 'prod' })), false, 'same tenant, name, no manager');
        assert.equal(await tx.insertStore(store({ name: 'prod', managedBy: 'workers' })), false);
        assert.equal(await tx.insertStore(store({ id: a.id, name: 'fresh' })), false, 'same id');
        assert.equal(await tx.insertStore(store({ tenantId: 't2', name: 'prod' })), true, 'other tenant');
      });
      assert.deepEqual(await repo.getStoreByName('t1', 'prod', null), a);
      assert.deepEqual(await repo.getStoreByName('t1', 'prod', 'workers'), managed);
      assert.equal(await repo.getStoreByName('t1', 'dev', 'workers'), null);
      assert.equal(await repo.getStoreByName('t1', 'PROD', null), null, 'names are case-sensitive');
      assert.deepEqual(await repo.getStoreById('t1', b.id), b);
      assert.equal(await repo.getStoreById('t2', b.id), null, "another tenant's id");
      assert.deepEqual(await repo.listStores('t1'), [c, b, a, managed]);
      assert.equal(await repo.countStores('t1'), 4);
      assert.equal(await repo.countStores('t2'), 1);
      assert.equal(await repo.countStores('t3'), 0);
      assert.equal(await repo.transaction((tx) => tx.countStores('t1')), 4);
    });

    contract(
      'secrets: insert once per store; lookups scoped to the store; metadata; counts',
      async (repo) => {
        const s1 = await seedTenantStore(repo);
        const s2 = await seedTenantStore(repo);
        const other = await seedTenantStore(repo, { tenantId: 't2' });
        const full = secret(s1.id, {
          name: 'DB_PASSWORD',
          description: 'primary database',
          scopes: ['workers', 'ai-gateway'],
          notBefore: T0 - 10,
          expiresOn: 4_102_444_800_000,
          createdAt: T0 + 3,
          updatedAt: T0 + 4,
        });
        await repo.transaction(async (tx) => {
          assert.equal(await tx.insertSecret(full), true);
          assert.equal(await tx.insertSecret(secret(s1.id, { name: 'DB_PASSWORD' })), false, 'same name');
          assert.equal(await tx.insertSecret(secret(s2.id, { id: full.id })), false, 'same id');
          assert.equal(await tx.insertSecret(secret(s2.id, { name: 'DB_PASSWORD' })), true, 'other store');
          assert.equal(await tx.insertSecret(secret(other.id)), true);
        });
        assert.deepEqual(await repo.getSecret(s1.id, 'DB_PASSWORD'), full);
        assert.equal(await repo.getSecret(s1.id, 'db_password'), null, 'names are case-sensitive');
        assert.deepEqual(await repo.getSecretById(s1.id, full.id), full);
        assert.equal(await repo.getSecretById(s2.id, full.id), null, "another store's id");

        await repo.transaction((tx) =>
          tx.updateSecretMetadata(full.id, { description: null, scopes: ['x'], updatedAt: T0 + 50 }),
        );
        assert.deepEqual(await repo.getSecretById(s1.id, full.id), {
          ...full,
          description: null,
          scopes: ['x'],
          updatedAt: T0 + 50,
        });
        assert.equal(await repo.countSecretsInStore(s1.id), 1);
        assert.equal(await repo.countSecretsInStore(s2.id), 1);
        assert.equal(await repo.countSecretsInTenant('t1'), 2);
        assert.equal(await repo.countSecretsInTenant('t2'), 1);
        assert.equal(await repo.countSecretsInTenant('t3'), 0);
        assert.equal(await repo.transaction((tx) => tx.countSecretsInTenant('t1')), 2);
      },
    );

    contract(
      "the tenant's secret count (the quota's) follows inserts, rollbacks, deletes and a store's deletion",
      async (repo) => {
        const s1 = await seedTenantStore(repo);
        const s2 = await seedTenantStore(repo);
        const other = await seedTenantStore(repo, { tenantId: 't2' });
        const a = secret(s1.id, { name: 'A' });
        const b = secret(s1.id, { name: 'B' });
        const c = secret(s2.id, { name: 'C' });
        await repo.transaction(async (tx) => {
          for (const s of [a, b, c, secret(other.id)]) assert.equal(await tx.insertSecret(s), true);
          assert.equal(
            await tx.insertSecret(secret(s1.id, { name: 'A' })),
            false,
            'a name taken counts nothing',
          );
          assert.equal(await tx.countSecretsInTenant('t1'), 3, 'inside the transaction too');
        });
        assert.equal(await repo.countSecretsInTenant('t1'), 3);
        // A transaction that fails leaves no count behind.
        await assert.rejects(
          repo.transaction(async (tx) => {
            await tx.insertSecret(secret(s1.id, { name: 'ROLLED_BACK' }));
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.equal(await repo.countSecretsInTenant('t1'), 3);
        assert.equal(await repo.transaction((tx) => tx.deleteSecret(s1.id, a.id)), true);
        assert.equal(await repo.transaction((tx) => tx.deleteSecret(s1.id, a.id)), false);
        assert.equal(await repo.countSecretsInTenant('t1'), 2);
        assert.equal(await repo.transaction((tx) => tx.deleteStore(s2.id)), true);
        assert.equal(await repo.countSecretsInTenant('t1'), 1);
        // A new store starts at zero.
        const again = await seedTenantStore(repo);
        await repo.transaction((tx) => tx.insertSecret(secret(again.id, { name: 'C' })));
        assert.equal(await repo.countSecretsInTenant('t1'), 2);
        assert.equal(await repo.countSecretsInTenant('t2'), 1);
        assert.equal(await repo.countSecretsInStore(s1.id), 1);
      },
    );

    contract(
      'allocateVersion issues 1, 2, 3… and never reuses a number, even after pruning',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const s = await seedSecret(repo, st.id);
        const other = await seedSecret(repo, st.id);
        assert.deepEqual(
          await repo.transaction(async (tx) => [
            await tx.allocateVersion(s.id),
            await tx.allocateVersion(s.id),
            await tx.allocateVersion(other.id),
          ]),
          [1, 2, 1],
        );
        for (let i = 0; i < 3; i++) await putVersion(repo, s.id);
        await repo.transaction((tx) => tx.pruneVersions(s.id, 0));
        assert.deepEqual(await repo.listVersions(s.id), []);
        assert.equal(await repo.transaction((tx) => tx.allocateVersion(s.id)), 6);
        assert.equal((await repo.getSecretById(st.id, s.id))?.latestVersion, 6);
        // A rolled-back allocation leaves no trace.
        await assert.rejects(
          repo.transaction(async (tx) => {
            await tx.allocateVersion(s.id);
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.equal(await repo.transaction((tx) => tx.allocateVersion(s.id)), 7);
      },
    );

    contract('allocateVersion on a missing secret rejects', async (repo) => {
      await assert.rejects(repo.transaction((tx) => tx.allocateVersion('no-such-secret')));
    });

    contract(
      'versions: stored byte-exact, listed ascending, made current, pruned to the newest',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const s = await seedSecret(repo, st.id);
        const v1 = version(s.id, 1, { wrappedKey: Buffer.from([0, 1, 0, 255]), ciphertext: Buffer.alloc(0) });
        await repo.transaction(async (tx) => {
          assert.equal(await tx.allocateVersion(s.id), 1);
          await tx.insertVersion(v1);
          await tx.setCurrentVersion(s.id, 1, { notBefore: T0, expiresOn: T0 + 1000 }, T0 + 7);
        });
        assert.deepEqual(await repo.getVersion(s.id, 1), v1);
        assert.equal(await repo.getVersion(s.id, 2), null);
        const current = await repo.getSecretById(st.id, s.id);
        assert.equal(current?.currentVersion, 1);
        assert.equal(current?.latestVersion, 1);
        assert.equal(current?.notBefore, T0);
        assert.equal(current?.expiresOn, T0 + 1000);
        assert.equal(current?.updatedAt, T0 + 7);

        for (let i = 0; i < 5; i++) await putVersion(repo, s.id);
        assert.deepEqual(
          (await repo.listVersions(s.id)).map((v) => v.version),
          [1, 2, 3, 4, 5, 6],
        );
        const cleared = await repo.getSecretById(st.id, s.id);
        assert.equal(cleared?.notBefore, null, 'setCurrentVersion replaces the window');
        assert.equal(cleared?.expiresOn, null);

        await repo.transaction((tx) => tx.pruneVersions(s.id, 2));
        assert.deepEqual(
          (await repo.listVersions(s.id)).map((v) => v.version),
          [5, 6],
        );
        await repo.transaction((tx) => tx.pruneVersions(s.id, 10));
        assert.equal((await repo.listVersions(s.id)).length, 2);
        assert.deepEqual(await repo.listVersions('missing'), []);
      },
    );

    contract(
      'insertCurrentVersion: inserts, makes current with the window, prunes versions and states, in one step',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const s = await seedSecret(repo, st.id);
        for (let i = 0; i < 4; i++) await putVersion(repo, s.id);
        await repo.transaction((tx) =>
          tx.putVersionState(s.id, { version: 2, createdAt: T0 + 2, deletedAt: T0 + 9, destroyed: false }),
        );
        await repo.transaction((tx) =>
          tx.putVersionState(s.id, { version: 4, createdAt: T0 + 4, deletedAt: T0 + 9, destroyed: false }),
        );
        const v5 = version(s.id, 5, {
          wrappedKey: Buffer.from([9, 0, 9]),
          ciphertext: Buffer.from([0, 255]),
        });
        await repo.transaction(async (tx) => {
          assert.equal(await tx.allocateVersion(s.id), 5);
          await tx.insertCurrentVersion(
            { ...v5, createdAt: T0 + 50 },
            { notBefore: T0, expiresOn: T0 + 99 },
            2,
          );
        });
        assert.deepEqual(
          (await repo.listVersions(s.id)).map((v) => v.version),
          [4, 5],
          'the newest two version numbers stay',
        );
        assert.deepEqual(await repo.getVersion(s.id, 5), { ...v5, createdAt: T0 + 50 }, 'byte-exact');
        assert.deepEqual(
          (await repo.listVersionStates(s.id)).map((v) => v.version),
          [4],
          "a pruned version's state goes with it",
        );
        const current = await repo.getSecretById(st.id, s.id);
        assert.equal(current?.currentVersion, 5);
        assert.equal(current?.latestVersion, 5);
        assert.equal(current?.notBefore, T0);
        assert.equal(current?.expiresOn, T0 + 99);
        assert.equal(current?.updatedAt, T0 + 50);
        // A keep below 1 still keeps the version just made; a rollback leaves no trace.
        await repo.transaction(async (tx) => {
          const n = await tx.allocateVersion(s.id);
          await tx.insertCurrentVersion(version(s.id, n), { notBefore: null, expiresOn: null }, 0);
        });
        assert.deepEqual(
          (await repo.listVersions(s.id)).map((v) => v.version),
          [6],
        );
        await assert.rejects(
          repo.transaction(async (tx) => {
            const n = await tx.allocateVersion(s.id);
            await tx.insertCurrentVersion(version(s.id, n), { notBefore: null, expiresOn: null }, 1);
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.deepEqual(
          (await repo.listVersions(s.id)).map((v) => v.version),
          [6],
        );
        assert.equal((await repo.getSecretById(st.id, s.id))?.currentVersion, 6);
      },
    );

    contract("getVersionSettings: the secret's own and its store's, each null until set", async (repo) => {
      const st = await seedTenantStore(repo);
      const s = await seedSecret(repo, st.id);
      assert.deepEqual(await repo.getVersionSettings(s.id, st.id), { secret: null, store: null });
      await repo.transaction((tx) => tx.putStoreSettings(st.id, { maxVersions: 7, casRequired: true }));
      assert.deepEqual(await repo.getVersionSettings(s.id, st.id), {
        secret: null,
        store: { maxVersions: 7, casRequired: true },
      });
      await repo.transaction(async (tx) => {
        await tx.putSecretSettings(s.id, { maxVersions: 3, casRequired: false, customMetadata: { a: '1' } });
        assert.deepEqual(await tx.getVersionSettings(s.id, st.id), {
          secret: { maxVersions: 3, casRequired: false, customMetadata: { a: '1' } },
          store: { maxVersions: 7, casRequired: true },
        });
      });
      assert.deepEqual(await repo.getVersionSettings(s.id, 'other-store'), {
        secret: { maxVersions: 3, casRequired: false, customMetadata: { a: '1' } },
        store: null,
      });
    });

    contract(
      'version states and settings: stored, replaced, pruned and deleted with their owner',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const s = await seedSecret(repo, st.id);
        assert.equal(await repo.getSecretSettings(s.id), null);
        assert.equal(await repo.getStoreSettings(st.id), null);
        assert.deepEqual(await repo.listVersionStates(s.id), []);
        for (let i = 0; i < 4; i++) await putVersion(repo, s.id);
        await repo.transaction(async (tx) => {
          await tx.putSecretSettings(s.id, {
            maxVersions: 3,
            casRequired: true,
            customMetadata: { b: '2', a: '1' },
          });
          await tx.putStoreSettings(st.id, { maxVersions: 7, casRequired: false });
          await tx.putVersionState(s.id, {
            version: 2,
            createdAt: T0 + 2,
            deletedAt: T0 + 9,
            destroyed: false,
          });
          await tx.putVersionState(s.id, { version: 3, createdAt: T0 + 3, deletedAt: null, destroyed: true });
          assert.equal(await tx.destroyVersionValue(s.id, 3), true);
          assert.equal(await tx.destroyVersionValue(s.id, 3), false, 'nothing left to destroy');
        });
        assert.deepEqual(await repo.getSecretSettings(s.id), {
          maxVersions: 3,
          casRequired: true,
          customMetadata: { b: '2', a: '1' },
        });
        assert.deepEqual(await repo.getStoreSettings(st.id), { maxVersions: 7, casRequired: false });
        assert.deepEqual(
          (await repo.listVersions(s.id)).map((v) => v.version),
          [1, 2, 4],
        );
        assert.deepEqual(await repo.listVersionStates(s.id), [
          { version: 2, createdAt: T0 + 2, deletedAt: T0 + 9, destroyed: false },
          { version: 3, createdAt: T0 + 3, deletedAt: null, destroyed: true },
        ]);
        // Replaced in place; removed.
        await repo.transaction(async (tx) => {
          await tx.putSecretSettings(s.id, { maxVersions: 0, casRequired: false, customMetadata: {} });
          await tx.putVersionState(s.id, { version: 2, createdAt: T0 + 2, deletedAt: null, destroyed: true });
          await tx.deleteVersionState(s.id, 3);
        });
        assert.deepEqual(await repo.getSecretSettings(s.id), {
          maxVersions: 0,
          casRequired: false,
          customMetadata: {},
        });
        assert.deepEqual(
          (await repo.listVersionStates(s.id)).map((v) => [v.version, v.destroyed]),
          [[2, true]],
        );
        // Pruning keeps the newest version numbers issued (4 and 3: 3's value is already gone), with their states.
        await repo.transaction((tx) => tx.pruneVersions(s.id, 2));
        assert.deepEqual(
          (await repo.listVersions(s.id)).map((v) => v.version),
          [4],
        );
        assert.deepEqual(await repo.listVersionStates(s.id), []);
        // Everything goes with the secret, and the store's settings with the store.
        await repo.transaction(async (tx) => {
          await tx.putVersionState(s.id, { version: 4, createdAt: T0, deletedAt: T0, destroyed: false });
          assert.equal(await tx.deleteSecret(st.id, s.id), true);
        });
        assert.equal(await repo.getSecretSettings(s.id), null);
        assert.deepEqual(await repo.listVersionStates(s.id), []);
      },
    );

    contract('getCurrentValue finds the current version in an unmanaged store only', async (repo) => {
      const st = await seedTenantStore(repo, { name: 'default' });
      const managed = await seedTenantStore(repo, { name: 'default', managedBy: 'workers' });
      const s = await seedSecret(repo, st.id, { name: 'API_TOKEN' });
      const m = await seedSecret(repo, managed.id, { name: 'API_TOKEN' });
      assert.equal(await repo.getCurrentValue('t1', 'default', 'API_TOKEN'), null, 'no value yet');
      await putVersion(repo, m.id);
      assert.equal(await repo.getCurrentValue('t1', 'default', 'API_TOKEN'), null, 'managed store');

      const v = version(s.id, 1, { kekId: 'k1bbbb' });
      await repo.transaction(async (tx) => {
        await tx.allocateVersion(s.id);
        await tx.insertVersion(v);
        await tx.setCurrentVersion(s.id, 1, { notBefore: T0, expiresOn: null }, T0);
        await tx.insertVersion(version(s.id, 2));
      });
      assert.deepEqual(await repo.getCurrentValue('t1', 'default', 'API_TOKEN'), {
        storeId: st.id,
        secretId: s.id,
        version: 1,
        notBefore: T0,
        expiresOn: null,
        sealed: { kekId: 'k1bbbb', wrappedKey: v.wrappedKey, ciphertext: v.ciphertext },
      });
      assert.equal(await repo.getCurrentValue('t2', 'default', 'API_TOKEN'), null);
      assert.equal(await repo.getCurrentValue('t1', 'other', 'API_TOKEN'), null);
      assert.equal(await repo.getCurrentValue('t1', 'default', 'api_token'), null);
    });

    contract('listSecretNamesWithValue: names holding a value, in ordinal order', async (repo) => {
      const st = await seedTenantStore(repo);
      const valued = ['b', 'B', '_a', 'a-1', 'a_1', 'A9', 'Zz'];
      for (const name of valued) {
        const s = await seedSecret(repo, st.id, { name });
        await putVersion(repo, s.id);
      }
      await seedSecret(repo, st.id, { name: 'EMPTY' });
      const otherStore = await seedTenantStore(repo);
      await putVersion(repo, (await seedSecret(repo, otherStore.id, { name: 'elsewhere' })).id);
      assert.deepEqual(await repo.listSecretNamesWithValue(st.id), [...valued].sort(ordinal));
    });

    contract('hasSealedValues and listKekIdsInUse follow the stored versions', async (repo) => {
      assert.equal(await repo.hasSealedValues(), false);
      assert.deepEqual(await repo.listKekIdsInUse(), []);
      const st = await seedTenantStore(repo);
      const s = await seedSecret(repo, st.id);
      assert.equal(await repo.hasSealedValues(), false, 'a secret without a value seals nothing');
      await putVersion(repo, s.id, 'k1zz');
      await putVersion(repo, s.id, 'k1aa');
      await putVersion(repo, s.id, 'k1zz');
      assert.equal(await repo.hasSealedValues(), true);
      assert.deepEqual(await repo.listKekIdsInUse(), ['k1aa', 'k1zz']);
      await repo.transaction((tx) => tx.pruneVersions(s.id, 1));
      assert.deepEqual(await repo.listKekIdsInUse(), ['k1zz']);
      await repo.transaction((tx) => tx.deleteSecret(st.id, s.id));
      assert.equal(await repo.hasSealedValues(), false);
    });

    contract(
      "listWrappedKeys walks one KEK's versions in (secret, version) batches, with owners",
      async (repo) => {
        const st1 = await seedTenantStore(repo);
        const st2 = await seedTenantStore(repo, { tenantId: 't2' });
        const a = await seedSecret(repo, st1.id);
        const b = await seedSecret(repo, st2.id);
        for (let i = 0; i < 3; i++) await putVersion(repo, a.id, 'k1old');
        await putVersion(repo, a.id, 'k1new');
        for (let i = 0; i < 2; i++) await putVersion(repo, b.id, 'k1old');
        await seedSecret(repo, st1.id, { name: 'no-value' });

        const expected = [
          ...[1, 2, 3].map((version) => ({ tenantId: 't1', storeId: st1.id, secretId: a.id, version })),
          ...[1, 2].map((version) => ({ tenantId: 't2', storeId: st2.id, secretId: b.id, version })),
        ].sort((x, y) => ordinal(x.secretId, y.secretId) || x.version - y.version);
        const seen: { tenantId: string; storeId: string; secretId: string; version: number }[] = [];
        let cursor: { secretId: string; version: number } | null = null;
        for (let pages = 0; pages < 10; pages++) {
          const page = await repo.listWrappedKeys('k1old', cursor, 2);
          assert.ok(page.length <= 2);
          for (const row of page) {
            assert.equal(row.kekId, 'k1old');
            const stored = await repo.getVersion(row.secretId, row.version);
            assert.deepEqual(row.wrappedKey, stored?.wrappedKey);
            seen.push({
              tenantId: row.tenantId,
              storeId: row.storeId,
              secretId: row.secretId,
              version: row.version,
            });
          }
          const last = page.at(-1);
          if (last === undefined) break;
          cursor = { secretId: last.secretId, version: last.version };
        }
        assert.deepEqual(seen, expected);
        assert.equal((await repo.listWrappedKeys('k1new', null, 10)).length, 1);
        assert.deepEqual(await repo.listWrappedKeys('k1none', null, 10), []);
      },
    );

    contract(
      'rewrapVersion swaps key and KEK id only while the expected KEK still wraps it',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const s = await seedSecret(repo, st.id);
        await putVersion(repo, s.id, 'k1old');
        await putVersion(repo, s.id, 'k1old');
        const before = await repo.getVersion(s.id, 1);
        assert.ok(before !== null);
        const wrappedKey = randomBytes(61);
        assert.equal(
          await repo.transaction((tx) => tx.rewrapVersion(s.id, 1, 'k1old', { kekId: 'k1new', wrappedKey })),
          true,
        );
        const after = await repo.getVersion(s.id, 1);
        assert.deepEqual(after, { ...before, kekId: 'k1new', wrappedKey }, 'ciphertext and times untouched');
        // Compare-and-set: a second rotator holding the old id loses, and nothing changes.
        assert.equal(
          await repo.transaction((tx) =>
            tx.rewrapVersion(s.id, 1, 'k1old', { kekId: 'k1other', wrappedKey: randomBytes(61) }),
          ),
          false,
        );
        assert.deepEqual(await repo.getVersion(s.id, 1), after);
        assert.equal(
          await repo.transaction((tx) => tx.rewrapVersion(s.id, 9, 'k1old', { kekId: 'k1new', wrappedKey })),
          false,
          'a missing version',
        );
        assert.deepEqual(await repo.listKekIdsInUse(), ['k1new', 'k1old']);
        await repo.transaction((tx) => tx.rewrapVersion(s.id, 2, 'k1old', { kekId: 'k1new', wrappedKey }));
        assert.deepEqual(await repo.listKekIdsInUse(), ['k1new']);
        // A rolled-back batch leaves every row as it was.
        await assert.rejects(
          repo.transaction(async (tx) => {
            await tx.rewrapVersion(s.id, 1, 'k1new', { kekId: 'k1third', wrappedKey });
            throw new Error('abort');
          }),
        );
        assert.deepEqual(await repo.listKekIdsInUse(), ['k1new']);
      },
    );

    contract("deleteSecret: false for another store's secret; destroys every version", async (repo) => {
      const st = await seedTenantStore(repo);
      const elsewhere = await seedTenantStore(repo);
      const s = await seedSecret(repo, st.id);
      const keep = await seedSecret(repo, st.id);
      await putVersion(repo, s.id);
      await putVersion(repo, s.id);
      await putVersion(repo, keep.id);

      assert.equal(await repo.transaction((tx) => tx.deleteSecret(elsewhere.id, s.id)), false);
      assert.notEqual(await repo.getSecretById(st.id, s.id), null, 'still there');
      assert.equal((await repo.listVersions(s.id)).length, 2);

      assert.equal(await repo.transaction((tx) => tx.deleteSecret(st.id, s.id)), true);
      assert.equal(await repo.getSecretById(st.id, s.id), null);
      assert.deepEqual(await repo.listVersions(s.id), []);
      assert.equal(await repo.getVersion(s.id, 1), null);
      assert.equal(await repo.transaction((tx) => tx.deleteSecret(st.id, s.id)), false, 'already gone');
      assert.equal((await repo.listVersions(keep.id)).length, 1, 'other secrets untouched');
    });

    contract('deleteStore destroys its secrets and versions, and nothing else', async (repo) => {
      const doomed = await seedTenantStore(repo);
      const kept = await seedTenantStore(repo);
      const a = await seedSecret(repo, doomed.id);
      const b = await seedSecret(repo, doomed.id);
      const c = await seedSecret(repo, kept.id);
      await putVersion(repo, a.id);
      await putVersion(repo, b.id);
      await putVersion(repo, c.id);

      assert.equal(await repo.transaction((tx) => tx.deleteStore(doomed.id)), true);
      assert.equal(await repo.getStoreById('t1', doomed.id), null);
      assert.equal(await repo.getSecretById(doomed.id, a.id), null);
      assert.deepEqual(await repo.listVersions(a.id), []);
      assert.deepEqual(await repo.listVersions(b.id), []);
      assert.equal(await repo.countSecretsInStore(doomed.id), 0);
      assert.equal(await repo.countSecretsInTenant('t1'), 1);
      assert.equal((await repo.listVersions(c.id)).length, 1);
      assert.deepEqual(
        (await repo.listStores('t1')).map((s) => s.id),
        [kept.id],
      );
      assert.equal(await repo.transaction((tx) => tx.deleteStore(doomed.id)), false);
    });

    contract('listSecrets: search is a case-insensitive substring of name or description', async (repo) => {
      const st = await seedTenantStore(repo);
      await seedSecret(repo, st.id, { name: 'DB_PASSWORD', description: null });
      await seedSecret(repo, st.id, { name: 'API_KEY', description: 'Stripe live key' });
      await seedSecret(repo, st.id, { name: 'REDIS_URL', description: '100% cache' });
      await seedSecret(repo, st.id, { name: 'OTHER', description: 'under_score' });
      const other = await seedTenantStore(repo);
      await seedSecret(repo, other.id, { name: 'DB_PASSWORD_2' });

      const search = async (text: string) =>
        names((await repo.listSecrets(st.id, query({ search: text }))).items);
      assert.deepEqual(await search('password'), ['DB_PASSWORD']);
      assert.deepEqual(await search('STRIPE'), ['API_KEY'], 'matches the description');
      assert.deepEqual(await search('_'), ['API_KEY', 'DB_PASSWORD', 'OTHER', 'REDIS_URL']);
      assert.deepEqual(await search('%'), ['REDIS_URL'], '% is literal');
      assert.deepEqual(await search('r_s'), ['OTHER'], '_ is literal');
      assert.deepEqual(await search('e%'), [], 'no wildcard match');
      assert.deepEqual(await search('\\'), []);
      assert.deepEqual(await search('nothing'), []);
      assert.equal((await repo.listSecrets(st.id, query({ search: '' }))).total, 4, 'empty search: all');
    });

    contract('listSecrets: namePrefix is case-sensitive; scopes match any; filters combine', async (repo) => {
      const st = await seedTenantStore(repo);
      await seedSecret(repo, st.id, { name: 'APP_ONE', scopes: ['workers'] });
      await seedSecret(repo, st.id, { name: 'APP_TWO', scopes: ['ai-gateway', 'workers'] });
      await seedSecret(repo, st.id, { name: 'app_three', scopes: ['ai-gateway'] });
      await seedSecret(repo, st.id, { name: 'DB', scopes: [], description: 'app database' });

      const list = async (q: Partial<SecretListQuery>) => {
        const page = await repo.listSecrets(st.id, query(q));
        return { names: names(page.items), total: page.total };
      };
      assert.deepEqual(await list({ namePrefix: 'APP_' }), { names: ['APP_ONE', 'APP_TWO'], total: 2 });
      assert.deepEqual(await list({ namePrefix: 'app' }), { names: ['app_three'], total: 1 });
      assert.deepEqual(await list({ namePrefix: 'APP_ONE_' }), { names: [], total: 0 });
      assert.deepEqual(await list({ scopes: ['workers'] }), { names: ['APP_ONE', 'APP_TWO'], total: 2 });
      assert.deepEqual(await list({ scopes: ['ai-gateway', 'nope'] }), {
        names: ['APP_TWO', 'app_three'],
        total: 2,
      });
      assert.deepEqual(await list({ scopes: ['WORKERS'] }), { names: [], total: 0 }, 'scopes are exact');
      assert.deepEqual(await list({ scopes: [] }), {
        names: ['APP_ONE', 'APP_TWO', 'DB', 'app_three'],
        total: 4,
      });
      assert.deepEqual(await list({ search: 'app', scopes: ['workers'], namePrefix: 'APP_T' }), {
        names: ['APP_TWO'],
        total: 1,
      });
      assert.deepEqual(await list({ search: 'app', limit: 2 }), { names: ['APP_ONE', 'APP_TWO'], total: 4 });
    });

    contract(
      'listSecrets: every order in both directions, ties broken by id in that direction',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const rows: SecretRecord[] = [];
        const specs: Partial<SecretRecord>[] = [
          { id: 'id-3', name: 'b', description: 'x', createdAt: T0 + 2, updatedAt: T0 + 1 },
          { id: 'id-1', name: 'B', description: null, createdAt: T0 + 1, updatedAt: T0 + 1 },
          { id: 'id-4', name: 'a', description: 'X', createdAt: T0 + 1, updatedAt: T0 + 3 },
          { id: 'id-2', name: '_', description: '', createdAt: T0 + 2, updatedAt: T0 + 1 },
          { id: 'id-6', name: 'aa', description: 'x', createdAt: T0 + 1, updatedAt: T0 + 2 },
          { id: 'id-5', name: 'Z', description: null, createdAt: T0 + 3, updatedAt: T0 + 3 },
        ];
        for (const spec of specs) rows.push(await seedSecret(repo, st.id, spec));
        for (const id of ['id-3', 'id-5']) await putVersion(repo, id);
        const stored = await Promise.all(rows.map(async (r) => (await repo.getSecretById(st.id, r.id)) ?? r));

        const keyOf: Record<SecretListQuery['order'], (s: SecretRecord) => string | number> = {
          name: (s) => s.name,
          comment: (s) => s.description ?? '',
          created: (s) => s.createdAt,
          modified: (s) => s.updatedAt,
          status: (s) => (s.currentVersion === null ? 1 : 0),
        };
        for (const order of Object.keys(keyOf) as SecretListQuery['order'][]) {
          for (const direction of ['asc', 'desc'] as const) {
            const sign = direction === 'asc' ? 1 : -1;
            const expected = [...stored]
              .sort((x, y) => {
                const a = keyOf[order](x);
                const b = keyOf[order](y);
                const byKey =
                  typeof a === 'number' && typeof b === 'number' ? a - b : ordinal(String(a), String(b));
                return sign * (byKey !== 0 ? byKey : ordinal(x.id, y.id));
              })
              .map((s) => s.id);
            const page = await repo.listSecrets(st.id, query({ order, direction }));
            assert.deepEqual(
              page.items.map((s) => s.id),
              expected,
              `${order} ${direction}`,
            );
            assert.equal(page.total, stored.length);
          }
        }
      },
    );

    contract(
      'listSecrets: paging over ties never repeats or skips; a page past the end keeps the total',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const ids: string[] = [];
        for (let i = 0; i < 11; i++) {
          // Same time and description for all: only the id decides.
          ids.push((await seedSecret(repo, st.id, { description: 'same', createdAt: T0, updatedAt: T0 })).id);
        }
        for (const order of ['created', 'modified', 'comment', 'status'] as const) {
          for (const direction of ['asc', 'desc'] as const) {
            const seen: string[] = [];
            for (let offset = 0; offset < 11; offset += 3) {
              const page = await repo.listSecrets(st.id, query({ order, direction, limit: 3, offset }));
              assert.equal(page.total, 11);
              seen.push(...page.items.map((s) => s.id));
            }
            const sorted = [...ids].sort(ordinal);
            assert.deepEqual(seen, direction === 'asc' ? sorted : sorted.reverse(), `${order} ${direction}`);
          }
        }
        const past = await repo.listSecrets(st.id, query({ limit: 5, offset: 50 }));
        assert.deepEqual(past, { items: [], total: 11 });
        const filteredPast = await repo.listSecrets(st.id, query({ search: 'nothing', offset: 5 }));
        assert.deepEqual(filteredPast, { items: [], total: 0 });
        assert.deepEqual(await repo.listSecrets('no-store', query()), { items: [], total: 0 });
      },
    );

    contract(
      'listSecretsByName: keyset pages in ordinal order, after a name, under a prefix, one store only',
      async (repo) => {
        const st = await seedTenantStore(repo);
        const other = await seedTenantStore(repo);
        const all = ['A', 'APP_1', 'APP_2', 'APP_3', 'APPLE', 'B', '_x', 'a', 'app_1', 'z', 'é', '\u{1F600}'];
        for (const name of [...all].reverse()) await seedSecret(repo, st.id, { name });
        await seedSecret(repo, other.id, { name: 'APP_0' });
        const sorted = [...all].sort(ordinal);
        const page = async (prefix: string, after: string | null, limit: number) => {
          const p = await repo.listSecretsByName(st.id, { prefix, after, limit });
          assert.ok(p.items.every((s) => s.storeId === st.id));
          return { names: names(p.items), more: p.more };
        };
        assert.deepEqual(await page('', null, 100), { names: sorted, more: false });
        assert.deepEqual(await page('', null, sorted.length), { names: sorted, more: false }, 'exactly full');
        assert.deepEqual(await page('', null, 3), { names: sorted.slice(0, 3), more: true });
        assert.deepEqual(await page('', 'APP_3', 2), { names: ['B', '_x'], more: true });
        assert.deepEqual(await page('', 'AZZ', 1), { names: ['B'], more: true }, 'after a name not stored');
        assert.deepEqual(await page('', 'é', 5), { names: ['\u{1F600}'], more: false }, 'code point order');
        assert.deepEqual(await page('', '\u{1F600}', 5), { names: [], more: false });
        assert.deepEqual(await page('APP_', null, 2), { names: ['APP_1', 'APP_2'], more: true });
        assert.deepEqual(await page('APP_', 'APP_2', 2), { names: ['APP_3'], more: false });
        assert.deepEqual(await page('APP_', 'A', 5), { names: ['APP_1', 'APP_2', 'APP_3'], more: false });
        assert.deepEqual(await page('APP_', 'APPLE', 5), { names: ['APP_1', 'APP_2', 'APP_3'], more: false });
        assert.deepEqual(
          await page('APP_', 'APP_9', 5),
          { names: [], more: false },
          'after the prefix range',
        );
        assert.deepEqual(await page('APP_', 'B', 5), { names: [], more: false }, 'past the prefix range');
        assert.deepEqual(await page('APP', null, 10), {
          names: ['APPLE', 'APP_1', 'APP_2', 'APP_3'],
          more: false,
        });
        assert.deepEqual(await page('app', null, 10), { names: ['app_1'], more: false }, 'case-sensitive');
        assert.deepEqual(await page('é', null, 10), { names: ['é'], more: false });
        assert.deepEqual(await page('nothing', null, 10), { names: [], more: false });
        const walked: string[] = [];
        for (let after: string | null = null; ;) {
          const p = await repo.listSecretsByName(st.id, { prefix: '', after, limit: 5 });
          walked.push(...names(p.items));
          if (!p.more) break;
          after = p.items[p.items.length - 1]?.name ?? null;
        }
        assert.deepEqual(walked, sorted, 'a walk visits every name once');
        assert.deepEqual(await repo.listSecretsByName('no-store', { prefix: '', after: null, limit: 5 }), {
          items: [],
          more: false,
        });
      },
    );

    contract("listStoresByName: keyset pages of one manager's stores, under a prefix", async (repo) => {
      const own = ['proj/dev', 'proj/prod', 'proj-x', 'default', 'zeta'];
      for (const name of own) await seedTenantStore(repo, { name });
      await seedTenantStore(repo, { name: 'proj/dev', managedBy: 'svc' });
      await seedTenantStore(repo, { name: 'managed-only', managedBy: 'svc' });
      await seedTenantStore(repo, { tenantId: 't2', name: 'proj/qa' });
      const page = async (managedBy: string | null, prefix: string, after: string | null, limit: number) => {
        const p = await repo.listStoresByName('t1', managedBy, { prefix, after, limit });
        assert.ok(p.items.every((s) => s.tenantId === 't1' && s.managedBy === managedBy));
        return { names: p.items.map((s) => s.name), more: p.more };
      };
      const sorted = [...own].sort(ordinal);
      assert.deepEqual(await page(null, '', null, 10), { names: sorted, more: false });
      assert.deepEqual(await page(null, '', null, 2), { names: sorted.slice(0, 2), more: true });
      assert.deepEqual(await page(null, '', sorted[1] ?? '', 2), { names: sorted.slice(2, 4), more: true });
      assert.deepEqual(await page(null, 'proj/', null, 10), {
        names: ['proj/dev', 'proj/prod'],
        more: false,
      });
      assert.deepEqual(await page(null, 'proj/', 'proj/dev', 1), { names: ['proj/prod'], more: false });
      assert.deepEqual(await page('svc', '', null, 10), { names: ['managed-only', 'proj/dev'], more: false });
      assert.deepEqual(await page('other', '', null, 10), { names: [], more: false });
    });

    contract(
      "listStoresPage: one manager's stores, any order, ties by id, LIMIT/OFFSET with a total",
      async (repo) => {
        const specs: Partial<StoreRecord>[] = [
          { id: 'st-3', name: 'b', createdAt: T0 + 2, updatedAt: T0 + 1 },
          { id: 'st-1', name: 'B', createdAt: T0 + 1, updatedAt: T0 + 1 },
          { id: 'st-4', name: 'a/x', createdAt: T0 + 1, updatedAt: T0 + 3 },
          { id: 'st-2', name: 'c', createdAt: T0 + 2, updatedAt: T0 + 1 },
        ];
        const own: StoreRecord[] = [];
        for (const spec of specs) own.push(await seedTenantStore(repo, spec));
        await seedTenantStore(repo, { id: 'st-9', name: 'b', managedBy: 'svc' });
        await seedTenantStore(repo, { id: 'st-8', tenantId: 't2', name: 'z' });
        const keyOf = {
          name: (s: StoreRecord) => s.name,
          created: (s: StoreRecord) => s.createdAt,
          modified: (s: StoreRecord) => s.updatedAt,
        } as const;
        for (const order of ['name', 'created', 'modified'] as const) {
          for (const direction of ['asc', 'desc'] as const) {
            const sign = direction === 'asc' ? 1 : -1;
            const expected = [...own]
              .sort((x, y) => {
                const a = keyOf[order](x);
                const b = keyOf[order](y);
                const byKey =
                  typeof a === 'number' && typeof b === 'number' ? a - b : ordinal(String(a), String(b));
                return sign * (byKey !== 0 ? byKey : ordinal(x.id, y.id));
              })
              .map((s) => s.id);
            const seen: string[] = [];
            for (let offset = 0; offset < 6; offset += 3) {
              const page = await repo.listStoresPage('t1', null, { order, direction, limit: 3, offset });
              assert.equal(page.total, 4);
              seen.push(...page.items.map((s) => s.id));
            }
            assert.deepEqual(seen, expected, `${order} ${direction}`);
          }
        }
        const managed = await repo.listStoresPage('t1', 'svc', {
          order: 'name',
          direction: 'asc',
          limit: 10,
          offset: 0,
        });
        assert.deepEqual(
          managed.items.map((s) => s.id),
          ['st-9'],
        );
        assert.equal(managed.total, 1);
        assert.deepEqual(
          await repo.listStoresPage('t1', null, { order: 'created', direction: 'asc', limit: 5, offset: 50 }),
          { items: [], total: 4 },
        );
      },
    );

    contract('meta: absent, set, overwritten', async (repo) => {
      assert.equal(await repo.getMeta('bootstrapped_at'), null);
      await repo.transaction((tx) => tx.setMeta('bootstrapped_at', 'one'));
      assert.equal(await repo.getMeta('bootstrapped_at'), 'one');
      await repo.transaction((tx) => tx.setMeta('bootstrapped_at', 'two'));
      assert.equal(await repo.getMeta('bootstrapped_at'), 'two');
      assert.equal(await repo.getMeta('other'), null);
    });

    contract("transaction: returns the callback's value; a throw rolls everything back", async (repo) => {
      assert.equal(await repo.transaction(async () => 42), 42);
      const boom = new Error('boom');
      const key = apiKey();
      await assert.rejects(
        repo.transaction(async (tx) => {
          await tx.ensureTenant({ id: 't1', createdAt: T0 });
          assert.equal(await tx.insertApiKey(key), true);
          await tx.insertService(service());
          const st = store();
          await tx.insertStore(st);
          const s = secret(st.id);
          await tx.insertSecret(s);
          const n = await tx.allocateVersion(s.id);
          await tx.insertVersion(version(s.id, n));
          await tx.setMeta('m', 'v');
          // The transaction sees its own writes.
          assert.deepEqual(await tx.getApiKey('t1', key.name), key);
          assert.equal(await tx.hasSealedValues(), true);
          throw boom;
        }),
        (error) => error === boom,
      );
      assert.equal(await repo.getTenant('t1'), null);
      assert.equal(await repo.countApiKeys(), 0);
      assert.deepEqual(await repo.listServices(), []);
      assert.deepEqual(await repo.listStores('t1'), []);
      assert.equal(await repo.hasSealedValues(), false);
      assert.equal(await repo.getMeta('m'), null);
      // The repository is still usable afterwards.
      assert.equal(await repo.transaction((tx) => tx.ensureTenant({ id: 't1', createdAt: T0 })), true);
    });

    contract('reads outside a transaction do not see its uncommitted writes', async (repo) => {
      let wrote!: () => void;
      let release!: () => void;
      const written = new Promise<void>((resolve) => {
        wrote = resolve;
      });
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const pending = repo.transaction(async (tx) => {
        await tx.ensureTenant({ id: 't1', createdAt: T0 });
        await tx.insertApiKey(apiKey({ name: 'pending' }));
        await tx.setMeta('m', 'uncommitted');
        wrote();
        await gate;
      });
      await written;
      // These run while the transaction is open, on another connection (or reader).
      assert.equal(await repo.getTenant('t1'), null);
      assert.equal(await repo.getApiKey('t1', 'pending'), null);
      assert.equal(await repo.countApiKeys(), 0);
      assert.equal(await repo.getMeta('m'), null);
      release();
      await pending;
      assert.notEqual(await repo.getTenant('t1'), null);
      assert.equal(await repo.getMeta('m'), 'uncommitted');
    });

    test('the credentials epoch moves, on every instance (at once on the writer), when a key or service changes and only then', async () => {
      const [a, b] = await engine.openPair();
      try {
        const waitForChange = async (repo: Repository, from: number) => {
          for (let i = 0; i < 100 && repo.credentialsEpoch() === from; i++) {
            await new Promise((r) => setTimeout(r, 10));
          }
          return repo.credentialsEpoch();
        };
        const steady = async (repo: Repository) => {
          let e = repo.credentialsEpoch();
          for (let i = 0; i < 100 && Number.isNaN(e); i++) {
            await new Promise((r) => setTimeout(r, 10));
            e = repo.credentialsEpoch();
          }
          return e;
        };
        const changes: [string, () => Promise<unknown>][] = [
          [
            'insert key',
            () =>
              a.transaction(async (tx) => {
                await tx.ensureTenant({ id: 't1', createdAt: T0 });
                await tx.insertIssuedToken(issuedToken({ accessor: 'epoch-token' }));
                return tx.insertApiKey(apiKey({ name: 'k1' }));
              }),
          ],
          [
            'renew issued token',
            () => a.transaction((tx) => tx.renewIssuedToken('epoch-token', T0 + 1000, T0)),
          ],
          ['revoke issued token', () => a.transaction((tx) => tx.deleteIssuedToken('epoch-token'))],
          [
            'update key',
            () =>
              a.transaction((tx) =>
                tx.updateApiKey('t1', 'k1', { enabled: false, permissions: ['*'], updatedAt: T0 }),
              ),
          ],
          ['delete key', () => a.transaction((tx) => tx.deleteApiKey('t1', 'k1'))],
          ['insert service', () => a.transaction((tx) => tx.insertService(service({ name: 's1' })))],
          ['disable service', () => a.transaction((tx) => tx.setServiceEnabled('s1', false))],
          ['delete service', () => a.transaction((tx) => tx.deleteService('s1'))],
        ];
        for (const [label, change] of changes) {
          const beforeA = await steady(a);
          const beforeB = await steady(b);
          assert.ok(!Number.isNaN(beforeB), `${label}: the epoch is known`);
          await change();
          // The writer knows before the change is reported done: its own next request must not
          // be served from a cache that still holds the old key (a disabled key accepted once).
          assert.notEqual(a.credentialsEpoch(), beforeA, `${label}: the writer knows at once`);
          assert.notEqual(await waitForChange(b, beforeB), beforeB, `${label}: seen by the other instance`);
        }

        // Secret writes and rolled-back key changes leave it alone (the cache stays warm).
        const before = await steady(b);
        await a.transaction(async (tx) => {
          await tx.insertStore(store({ id: 'st-epoch', name: 'epoch' }));
          await tx.setMeta('x', 'y');
        });
        await assert.rejects(
          a.transaction(async (tx) => {
            await tx.insertApiKey(apiKey({ name: 'rolled-back' }));
            throw new Error('abort');
          }),
        );
        await new Promise((r) => setTimeout(r, 150));
        assert.equal(b.credentialsEpoch(), before);
      } finally {
        await a.close();
        await b.close();
      }
    });
    contract(
      'issued tokens: found by hash and accessor, renewed, revoked, and purged once expired',
      async (repo) => {
        await repo.transaction((tx) => tx.ensureTenant({ id: 't1', createdAt: T0 }));
        const token = issuedToken();
        const early = issuedToken({ expiresAt: T0 + 10 });
        assert.equal(await repo.transaction((tx) => tx.insertIssuedToken(token)), true);
        assert.equal(await repo.transaction((tx) => tx.insertIssuedToken(early)), true);
        assert.equal(
          await repo.transaction((tx) =>
            tx.insertIssuedToken({ ...issuedToken(), tokenHash: token.tokenHash }),
          ),
          false,
          'a taken hash is refused, not overwritten',
        );
        assert.deepEqual(await repo.findIssuedTokenByHash(token.tokenHash), token);
        assert.deepEqual(await repo.getIssuedToken(token.accessor), token);
        assert.equal(await repo.findIssuedTokenByHash(randomBytes(32)), null);
        const renewed = await repo.transaction((tx) =>
          tx.renewIssuedToken(token.accessor, T0 + 120_000, T0 + 5),
        );
        assert.deepEqual(renewed, { ...token, expiresAt: T0 + 120_000, renewedAt: T0 + 5 });
        assert.equal(await repo.transaction((tx) => tx.renewIssuedToken('no-such', T0, T0)), null);
        // Purging takes only what expired by `now`, at most `limit` of it.
        assert.equal(await repo.transaction((tx) => tx.purgeExpiredTokens(T0 + 60_000, 10)), 1);
        assert.equal(await repo.getIssuedToken(early.accessor), null);
        assert.notEqual(await repo.getIssuedToken(token.accessor), null);
        assert.equal(await repo.transaction((tx) => tx.deleteIssuedToken(token.accessor)), true);
        assert.equal(await repo.transaction((tx) => tx.deleteIssuedToken(token.accessor)), false);
        assert.equal(await repo.findIssuedTokenByHash(token.tokenHash), null);
      },
    );
    contract(
      'audit: a new chain starts at seq 0 with a zero hash; events link, and the head follows',
      async (repo) => {
        const chainId = chainOf('t1');
        assert.equal(await repo.getAuditHead(chainId), null);
        const first = await repo.transaction((tx) => appendEvent(tx, 't1'));
        const second = await repo.transaction((tx) => appendEvent(tx, 't1', { action: 'secret.list' }));
        assert.equal(first.seq, 1);
        assert.deepEqual(first.prevHash, GENESIS_HASH);
        assert.equal(second.seq, 2);
        assert.deepEqual(second.prevHash, first.hash);
        assert.deepEqual(await repo.getAuditHead(chainId), { seq: 2, hash: second.hash });
        assert.deepEqual(await repo.listAuditEvents({ chainId, direction: 'asc', limit: 10 }), [
          first,
          second,
        ]);
        const check = await verifyChain(repo, { chainId, tenantId: 't1' });
        assert.equal(check.ok, true);
      },
    );

    contract(
      'audit: the head moves only from where it is (a stale guess is refused, nothing changes)',
      async (repo) => {
        const chainId = chainOf('t1');
        const ref = { chainId, tenantId: 't1', writerId: 'w1' };
        const first = await repo.transaction((tx) => appendEvent(tx, 't1'));
        const genesis = { seq: 0, hash: GENESIS_HASH };
        const at1 = { seq: 1, hash: first.hash };
        const next = { seq: 2, hash: Buffer.alloc(32, 7) };
        await repo.transaction(async (tx) => {
          // Creating a chain that exists, or moving from a seq or hash it is not at: false.
          assert.equal(await tx.advanceAuditHead(ref, genesis, next), false);
          assert.equal(await tx.advanceAuditHead(ref, { seq: 1, hash: Buffer.alloc(32, 1) }, next), false);
          assert.equal(await tx.advanceAuditHead(ref, { seq: 2, hash: first.hash }, next), false);
        });
        assert.deepEqual(await repo.getAuditHead(chainId), at1);
        await repo
          .transaction(async (tx) => {
            assert.equal(await tx.advanceAuditHead(ref, at1, next), true);
            assert.deepEqual(await tx.getAuditHead(chainId), next);
            throw new Error('abort');
          })
          .catch(() => undefined);
        assert.deepEqual(await repo.getAuditHead(chainId), at1);
      },
    );

    contract(
      'audit: appendToChain creates or moves a head with its events in one step, or writes nothing',
      async (repo) => {
        const chainId = chainOf('t1');
        const ref = { chainId, tenantId: 't1', writerId: 'w1' };
        await repo.transaction((tx) => tx.ensureTenant({ id: 't1', createdAt: T0 }));
        const fields = (n: number) => ({
          chainId,
          tenantId: 't1',
          time: T0 + n,
          actor: 'key:admin',
          action: 'secret.reveal',
          resource: `store:default/secret:s${n}`,
          outcome: 'allowed' as const,
          reason: n % 2 === 0 ? null : 'why',
          requestId: `req-${n}`,
          clientAddress: '127.0.0.1',
        });
        const genesis = { seq: 0, hash: GENESIS_HASH };
        const e1 = chainEvent(genesis, fields(1));
        const e2 = chainEvent(e1, fields(2));
        const e3 = chainEvent(e2, fields(3));
        const at = (e: { seq: number; hash: Buffer }) => ({ seq: e.seq, hash: e.hash });
        // A new chain (from seq 0), then two events at once from its head.
        assert.equal(await repo.appendToChain(ref, genesis, at(e1), [e1]), true);
        assert.equal(await repo.appendToChain(ref, at(e1), at(e3), [e2, e3]), true);
        // Stale: creating it again, or moving from where it no longer is; nothing is written.
        const stray = chainEvent(e1, fields(9));
        assert.equal(await repo.appendToChain(ref, genesis, at(e1), [e1]), false);
        assert.equal(await repo.appendToChain(ref, at(e1), at(stray), [stray]), false);
        assert.deepEqual(await repo.getAuditHead(chainId), at(e3));
        assert.deepEqual(await repo.listAuditEvents({ chainId, direction: 'asc', limit: 10 }), [e1, e2, e3]);
        assert.equal((await verifyChain(repo, { chainId, tenantId: 't1' })).ok, true);
        // Inside a transaction, more events than one statement takes (a bulk change's): all or none.
        const many: AuditEventRecord[] = [];
        let tip: { seq: number; hash: Buffer } = e3;
        for (let n = 0; n < 300; n++) {
          const e = chainEvent(tip, fields(10 + n));
          many.push(e);
          tip = e;
        }
        await assert.rejects(
          repo.transaction(async (tx) => {
            assert.equal(await tx.appendToChain(ref, at(e3), at(tip), many), true);
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.deepEqual(await repo.getAuditHead(chainId), at(e3));
        assert.equal(await repo.transaction((tx) => tx.appendToChain(ref, at(e3), at(tip), many)), true);
        assert.deepEqual(await repo.getAuditHead(chainId), at(tip));
        const stored = await repo.listAuditEvents({ chainId, direction: 'asc', limit: 1000 });
        assert.equal(stored.length, 303);
        assert.equal((await verifyChain(repo, { chainId, tenantId: 't1' })).ok, true);
      },
    );

    contract(
      'audit: an event rolled back with its transaction leaves neither the event nor the head',
      async (repo) => {
        const chainId = chainOf('t1');
        await repo.transaction((tx) => appendEvent(tx, 't1'));
        await assert.rejects(
          repo.transaction(async (tx) => {
            await appendEvent(tx, 't1');
            throw new Error('abort');
          }),
          /abort/,
        );
        assert.equal((await repo.getAuditHead(chainId))?.seq, 1);
        assert.equal((await repo.listAuditEvents({ chainId, direction: 'asc', limit: 10 })).length, 1);
        // The next append reuses seq 2: no gap.
        assert.equal((await repo.transaction((tx) => appendEvent(tx, 't1'))).seq, 2);
      },
    );

    contract(
      'audit: chains list by id with their tenant, writer and head; by tenant; the platform is tenant ""',
      async (repo) => {
        await repo.transaction(async (tx) => {
          await appendEvent(tx, 'b');
          await appendEvent(tx, 'a');
          await appendEvent(tx, '');
          await appendEvent(tx, 'b');
          await appendEvent(tx, 'b', { chainId: chainOf('b', 'w2') });
        });
        const chains = await repo.listAuditChains();
        assert.deepEqual(
          chains.map((c) => [c.chainId, c.tenantId, c.writerId, c.head?.seq]),
          [
            ['w1/c/', '', 'w1', 1],
            ['w1/c/a', 'a', 'w1', 1],
            ['w1/c/b', 'b', 'w1', 2],
            ['w2/c/b', 'b', 'w2', 1],
          ],
        );
        assert.deepEqual(
          (await repo.listAuditChains({ tenantId: 'b' })).map((c) => c.chainId),
          ['w1/c/b', 'w2/c/b'],
        );
        assert.deepEqual(await repo.listAuditChains({ tenantId: 'nobody', withHeadless: true }), []);
        assert.deepEqual(await repo.listAuditChains({ withHeadless: true }), chains);
        assert.equal(
          (await repo.listAuditEvents({ chainId: chainOf('a'), direction: 'desc', limit: 10 })).length,
          1,
        );
      },
    );

    contract('audit: a chain pages by seq and filters by action, actor and time', async (repo) => {
      await repo.transaction(async (tx) => {
        for (let i = 1; i <= 6; i++) {
          await appendEvent(tx, 't1', {
            action: i % 2 === 0 ? 'secret.reveal' : 'secret.list',
            actor: i <= 3 ? 'key:a' : 'service:s',
            time: T0 + i * 1000,
          });
        }
      });
      const seqs = (events: readonly { seq: number }[]) => events.map((e) => e.seq);
      const q = { chainId: chainOf('t1'), direction: 'desc' as const, limit: 100 };
      assert.deepEqual(seqs(await repo.listAuditEvents({ ...q, limit: 2 })), [6, 5]);
      assert.deepEqual(seqs(await repo.listAuditEvents({ ...q, beforeSeq: 5, limit: 2 })), [4, 3]);
      assert.deepEqual(seqs(await repo.listAuditEvents({ ...q, direction: 'asc', afterSeq: 4 })), [5, 6]);
      assert.deepEqual(seqs(await repo.listAuditEvents({ ...q, action: 'secret.reveal' })), [6, 4, 2]);
      assert.deepEqual(seqs(await repo.listAuditEvents({ ...q, actor: 'key:a' })), [3, 2, 1]);
      assert.deepEqual(
        seqs(await repo.listAuditEvents({ ...q, since: T0 + 2000, until: T0 + 4000 })),
        [3, 2],
      );
      assert.deepEqual(
        seqs(await repo.listAuditEvents({ ...q, action: 'secret.list', actor: 'service:s' })),
        [5],
      );
      assert.deepEqual(await repo.listAuditEvents({ ...q, chainId: chainOf('other') }), []);
    });

    contract(
      "audit: a tenant's events across its chains page by (time, chain, seq), either way, and filter",
      async (repo) => {
        // Two writers' chains of t1 interleaved in time, with ties on time; another tenant's beside.
        const x = chainOf('t1', 'wx');
        const y = chainOf('t1', 'wy');
        await repo.transaction(async (tx) => {
          await appendEvent(tx, 't1', { chainId: x, time: T0 + 1 }); // x1
          await appendEvent(tx, 't1', { chainId: y, time: T0 + 1 }); // y1
          await appendEvent(tx, 't1', { chainId: y, time: T0 + 2, action: 'secret.list' }); // y2
          await appendEvent(tx, 't1', { chainId: x, time: T0 + 3 }); // x2
          await appendEvent(tx, 't1', { chainId: x, time: T0 + 3, actor: 'key:b' }); // x3
          await appendEvent(tx, 't2', { time: T0 + 2 });
        });
        const label = (events: readonly AuditEventRecord[]) =>
          events.map((e) => `${e.chainId === x ? 'x' : e.chainId === y ? 'y' : '?'}${e.seq}`);
        const q = { tenantId: 't1', direction: 'desc' as const, limit: 100 };
        assert.deepEqual(label(await repo.listTenantAuditEvents(q)), ['x3', 'x2', 'y2', 'y1', 'x1']);
        assert.deepEqual(label(await repo.listTenantAuditEvents({ ...q, direction: 'asc' })), [
          'x1',
          'y1',
          'y2',
          'x2',
          'x3',
        ]);
        // Paging by the last event's position, both ways, visits every event once.
        for (const direction of ['desc', 'asc'] as const) {
          const seen: string[] = [];
          let after: AuditPosition | undefined;
          for (;;) {
            const page = await repo.listTenantAuditEvents({
              ...q,
              direction,
              limit: 2,
              ...(after === undefined ? {} : { after }),
            });
            seen.push(...label(page));
            const last = page.at(-1);
            if (page.length < 2 || last === undefined) break;
            after = { time: last.time, chainId: last.chainId, seq: last.seq };
          }
          assert.deepEqual(seen, label(await repo.listTenantAuditEvents({ ...q, direction })));
        }
        assert.deepEqual(label(await repo.listTenantAuditEvents({ ...q, action: 'secret.list' })), ['y2']);
        assert.deepEqual(label(await repo.listTenantAuditEvents({ ...q, actor: 'key:b' })), ['x3']);
        assert.deepEqual(label(await repo.listTenantAuditEvents({ ...q, since: T0 + 2, until: T0 + 3 })), [
          'y2',
        ]);
        assert.deepEqual(await repo.listTenantAuditEvents({ ...q, tenantId: 'nobody' }), []);
      },
    );

    contract('audit: one append takes many events of several chains (multi-row inserts)', async (repo) => {
      const n = 700;
      const events = await repo.transaction(async (tx) => {
        const heads = new Map<string, { seq: number; hash: Buffer }>();
        const out: AuditEventRecord[] = [];
        for (let i = 0; i < n; i++) {
          const tenantId = `t${i % 3}`;
          const chainId = chainOf(tenantId);
          const head = heads.get(chainId) ?? { seq: 0, hash: GENESIS_HASH };
          const e = chainEvent(head, {
            chainId,
            tenantId,
            time: T0 + i,
            actor: 'key:admin',
            action: 'secret.reveal',
            resource: `store:default/secret:s${i}`,
            outcome: 'allowed',
            reason: null,
            requestId: `req-${i}`,
            clientAddress: '127.0.0.1',
          });
          heads.set(chainId, { seq: e.seq, hash: e.hash });
          out.push(e);
        }
        for (const [chainId, head] of heads) {
          const ref = { chainId, tenantId: chainId.slice('w1/c/'.length), writerId: 'w1' };
          assert.equal(await tx.advanceAuditHead(ref, { seq: 0, hash: GENESIS_HASH }, head), true);
        }
        await tx.appendAuditEvents(out);
        return out;
      });
      for (const tenantId of ['t0', 't1', 't2']) {
        const chainId = chainOf(tenantId);
        const stored = await repo.listAuditEvents({ chainId, direction: 'asc', limit: 1000 });
        assert.deepEqual(
          stored,
          events.filter((e) => e.chainId === chainId),
        );
        assert.equal((await verifyChain(repo, { chainId, tenantId })).ok, true);
      }
    });

    contract(
      'audit anchors: a checkpoint number is taken once; the newest is what the next links to',
      async (repo) => {
        assert.equal(await repo.getLatestAuditCheckpoint(), null);
        const first = { seq: 1, hash: 'a'.repeat(64), time: T0, line: '{"seq":1}' };
        assert.equal(await repo.transaction((tx) => tx.recordAuditCheckpoint(first)), true);
        const again = { ...first, hash: 'b'.repeat(64), line: '{"seq":1,"other":true}' };
        assert.equal(await repo.transaction((tx) => tx.recordAuditCheckpoint(again)), false);
        await repo.transaction((tx) => tx.recordAuditCheckpoint({ ...first, seq: 2, hash: 'c'.repeat(64) }));
        assert.deepEqual(await repo.getLatestAuditCheckpoint(), { ...first, seq: 2, hash: 'c'.repeat(64) });
        await repo.transaction((tx) =>
          tx.recordAuditCheckpoint({ ...first, seq: 3, hash: 'd'.repeat(64), time: T0 + 1000 }),
        );
        assert.equal((await repo.getAuditCheckpointSince(T0))?.seq, 1);
        assert.equal((await repo.getAuditCheckpointSince(T0 + 1))?.seq, 3);
        assert.equal(await repo.getAuditCheckpointSince(T0 + 1001), null);
      },
    );

    contract(
      'audit anchors: pruning deletes one chain up to a point, and the chain verifies from it',
      async (repo) => {
        const chainId = chainOf('t1');
        await repo.transaction(async (tx) => {
          for (let i = 1; i <= 5; i++) await appendEvent(tx, 't1');
          await appendEvent(tx, 't2');
        });
        const events = await repo.listAuditEvents({ chainId, direction: 'asc', limit: 10 });
        const third = events[2];
        assert.ok(third);
        assert.equal(await repo.getAuditPrunePoint(chainId), null);
        const through = { seq: 3, hash: third.hash };
        assert.equal(await repo.transaction((tx) => tx.pruneAuditEvents(chainId, through)), 3);
        assert.deepEqual(await repo.getAuditPrunePoint(chainId), through);
        const left = await repo.listAuditEvents({ chainId, direction: 'asc', limit: 10 });
        assert.deepEqual(
          left.map((e) => e.seq),
          [4, 5],
        );
        const t2 = await repo.listAuditEvents({ chainId: chainOf('t2'), direction: 'asc', limit: 10 });
        assert.equal(t2.length, 1);
        assert.deepEqual(await verifyChain(repo, { chainId, tenantId: 't1' }), {
          ok: true,
          chainId,
          tenantId: 't1',
          events: 2,
          head: { seq: 5, hash: events[4]?.hash },
          from: through,
        });
        // A second pruner that walked from an older point cannot move the prune point back.
        assert.equal(
          await repo.transaction((tx) =>
            tx.pruneAuditEvents(chainId, { seq: 2, hash: events[1]?.hash ?? GENESIS_HASH }),
          ),
          0,
        );
        assert.deepEqual(await repo.getAuditPrunePoint(chainId), through);
        // A prune point that is not the hash the rest links from breaks the chain at its first event.
        await repo.transaction((tx) => tx.pruneAuditEvents(chainId, { seq: 3, hash: Buffer.alloc(32, 1) }));
        const broken = await verifyChain(repo, { chainId, tenantId: 't1' });
        assert.equal(broken.ok, false);
        assert.equal(broken.ok ? 0 : broken.seq, 4);
      },
    );

    // Two instances in one process take turns here: SQLite's busy wait would block the one thread that
    // both share. test/audit/audit-chains-processes.test.ts runs several OS processes truly at once.
    test('audit: two instances append to their own chains of one tenant; each verifies', async () => {
      const [a, b] = await engine.openPair();
      try {
        const per = 15;
        const writers: [Repository, string][] = [
          [a, chainOf('t1', 'wa')],
          [b, chainOf('t1', 'wb')],
        ];
        for (const [repo, chainId] of [...writers, ...writers]) {
          for (let i = 0; i < per; i++) await repo.transaction((tx) => appendEvent(tx, 't1', { chainId }));
        }
        for (const [repo, chainId] of writers) {
          const events = await repo.listAuditEvents({ chainId, direction: 'asc', limit: 1000 });
          assert.deepEqual(
            events.map((e) => e.seq),
            Array.from({ length: 2 * per }, (_, i) => i + 1),
          );
          assert.deepEqual(await verifyChain(repo === a ? b : a, { chainId, tenantId: 't1' }), {
            ok: true,
            chainId,
            tenantId: 't1',
            events: 2 * per,
            head: { seq: 2 * per, hash: events.at(-1)?.hash },
            from: { seq: 0, hash: GENESIS_HASH },
          });
        }
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
