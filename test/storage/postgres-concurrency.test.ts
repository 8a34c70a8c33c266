import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { after, afterEach, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { OPERATOR } from '../../src/core/actor.js';
import { type CofferCore, createCore } from '../../src/core/coffer-core.js';
import { ConflictError, QuotaExceededError, UnavailableError } from '../../src/core/errors.js';
import { Keyring } from '../../src/crypto/keyring.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/postgres/postgres-migrations.js';
import { PostgresRepository } from '../../src/storage/postgres/postgres-repository.js';
import {
  createTestSchema,
  TEST_DATABASE_URL,
  type TestSchema,
  withAdminClient,
  withParams,
} from '../support/postgres-test-schema.js';
import { closedPort, startProxy } from '../support/tcp-relay.js';

const schemas: TestSchema[] = [];
const repositories: PostgresRepository[] = [];

async function freshSchema(): Promise<TestSchema> {
  const schema = await createTestSchema();
  schemas.push(schema);
  return schema;
}

async function connect(url: string, options?: Parameters<typeof PostgresRepository.connect>[1]) {
  const repo = await PostgresRepository.connect(url, options);
  repositories.push(repo);
  return repo;
}

/** Two Coffer "nodes": separate pools (and cores) over one schema, started at the same moment. */
async function twoNodes(limits?: { secretQuota: number; storeLimit: number }) {
  const schema = await freshSchema();
  const keyring = new Keyring([randomBytes(32)]);
  const [a, b] = await Promise.all([connect(schema.url), connect(schema.url)]);
  const core = (repository: PostgresRepository): CofferCore =>
    limits === undefined ? createCore({ repository, keyring }) : createCore({ repository, keyring, limits });
  return { schema, repos: [a, b] as const, cores: [core(a), core(b)] as const };
}

function settledKinds(results: PromiseSettledResult<unknown>[]): Map<string, number> {
  const kinds = new Map<string, number>();
  for (const r of results) {
    const kind = r.status === 'fulfilled' ? 'ok' : ((r.reason as Error).constructor.name ?? 'unknown');
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  }
  return kinds;
}

/** Each test's pools close when it ends: PostgreSQL's connection limit is shared with other test files. */
function closePoolsAfterEach(): void {
  afterEach(async () => {
    await Promise.all(repositories.splice(0).map((r) => r.close()));
  });
}
after(async () => {
  await Promise.all(schemas.map((s) => s.drop()));
});

describe('PostgreSQL engine: several nodes, one database', () => {
  closePoolsAfterEach();

  test('nodes starting together migrate the schema once', async () => {
    const schema = await freshSchema();
    await Promise.all([connect(schema.url), connect(schema.url), connect(schema.url)]);
    const rows = await withAdminClient(
      async (c) =>
        (await c.query(`SELECT version FROM ${schema.schema}.schema_migrations ORDER BY version`)).rows,
    );
    assert.deepEqual(
      rows,
      POSTGRES_MIGRATIONS.map((m) => ({ version: m.version })),
    );
  });

  test('a schema newer than this Coffer is refused at start-up', async () => {
    const schema = await freshSchema();
    await connect(schema.url);
    await withAdminClient((c) =>
      c.query(`INSERT INTO ${schema.schema}.schema_migrations VALUES (999, 'from the future', 0)`),
    );
    await assert.rejects(PostgresRepository.connect(schema.url), /newer than this Coffer knows/);
  });

  test('every text column compares byte-wise (COLLATE "C"), whatever the database locale', async () => {
    const schema = await freshSchema();
    await connect(schema.url);
    const rows = await withAdminClient(
      async (c) =>
        (
          await c.query<{ col: string; coll: string }>(
            `SELECT cl.relname || '.' || a.attname AS col, co.collname AS coll
               FROM pg_attribute a
               JOIN pg_class cl ON cl.oid = a.attrelid
               JOIN pg_namespace n ON n.oid = cl.relnamespace
               JOIN pg_collation co ON co.oid = a.attcollation
              WHERE n.nspname = $1 AND cl.relkind = 'r' AND a.attnum > 0
                AND cl.relname <> 'schema_migrations'`,
            [schema.schema],
          )
        ).rows,
    );
    assert.ok(rows.length >= 20, 'the text columns are found');
    assert.deepEqual(
      rows.filter((r) => r.coll !== 'C'),
      [],
    );
  });

  test('100 concurrent putValues on one secret over two nodes: versions 1..100, no gap, no error', async () => {
    const { repos, cores } = await twoNodes();
    const puts = Array.from({ length: 100 }, (_, i) =>
      (cores[i % 2] as CofferCore).secrets.putValue(OPERATOR, {
        tenantId: 'acme',
        name: 'RACE',
        value: `value-${i}`,
      }),
    );
    const results = await Promise.all(puts);
    assert.deepEqual(
      results.map((r) => r.version).sort((x, y) => x - y),
      Array.from({ length: 100 }, (_, i) => i + 1),
    );
    assert.equal(results.filter((r) => r.created).length, 1, 'created exactly once');

    const store = await repos[0].getStoreByName('acme', 'default', null);
    assert.ok(store);
    assert.equal(await repos[0].countStores('acme'), 1);
    assert.equal(await repos[1].countSecretsInStore(store.id), 1);
    const secret = await repos[1].getSecret(store.id, 'RACE');
    assert.equal(secret?.latestVersion, 100);
    assert.equal(secret?.currentVersion, 100, 'the last committed write is the current one');
    assert.deepEqual(
      (await repos[0].listVersions(secret.id)).map((v) => v.version),
      Array.from({ length: 10 }, (_, i) => i + 91),
    );
    const last = results.findIndex((r) => r.version === 100);
    const revealed = await cores[1].secrets.reveal(OPERATOR, 'acme', 'RACE');
    assert.equal(revealed.toString('utf8'), `value-${last}`);
  });

  test('concurrent creates of one name: exactly one secret, the others Conflict', async () => {
    const { repos, cores } = await twoNodes();
    const stores = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        (cores[i % 2] as CofferCore).stores.create(OPERATOR, 'acme', 'prod'),
      ),
    );
    assert.deepEqual(
      settledKinds(stores),
      new Map([
        ['ok', 1],
        ['ConflictError', 9],
      ]),
    );
    assert.equal(await repos[0].countStores('acme'), 1);
    const store = await repos[0].getStoreByName('acme', 'prod', null);
    assert.ok(store);

    const creates = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        (cores[i % 2] as CofferCore).secrets.createMany(OPERATOR, 'acme', { id: store.id }, [
          { name: 'ONCE', value: `v${i}` },
        ]),
      ),
    );
    assert.deepEqual(
      settledKinds(creates),
      new Map([
        ['ok', 1],
        ['ConflictError', 19],
      ]),
    );
    for (const r of creates) if (r.status === 'rejected') assert.ok(r.reason instanceof ConflictError);
    assert.equal(await repos[1].countSecretsInStore(store.id), 1);

    // putValue creates on first use: every racer succeeds, one of them as the creator.
    const puts = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (cores[i % 2] as CofferCore).secrets.putValue(OPERATOR, {
          tenantId: 'acme',
          storeName: 'fresh',
          name: 'FIRST',
          value: `v${i}`,
        }),
      ),
    );
    assert.equal(puts.filter((p) => p.created).length, 1);
    const fresh = await repos[0].getStoreByName('acme', 'fresh', null);
    assert.ok(fresh);
    assert.equal(await repos[0].countSecretsInStore(fresh.id), 1);
  });

  test("the tenant's secret quota holds across nodes under concurrent creates", async () => {
    const { repos, cores } = await twoNodes({ secretQuota: 5, storeLimit: 1000 });
    const store = await cores[0].stores.create(OPERATOR, 'acme', 'prod');
    const creates = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        (cores[i % 2] as CofferCore).secrets.createMany(OPERATOR, 'acme', { id: store.id }, [
          { name: `S${i}` },
        ]),
      ),
    );
    assert.deepEqual(
      settledKinds(creates),
      new Map([
        ['ok', 5],
        ['QuotaExceededError', 15],
      ]),
    );
    for (const r of creates) if (r.status === 'rejected') assert.ok(r.reason instanceof QuotaExceededError);
    assert.equal(await repos[1].countSecretsInTenant('acme'), 5);
  });

  test('a deadlock is retried inside the storage layer: both transactions succeed', async () => {
    const schema = await freshSchema();
    const repo = await connect(schema.url);
    const core = createCore({ repository: repo, keyring: new Keyring([randomBytes(32)]) });
    await core.secrets.putValue(OPERATOR, { tenantId: 'acme', name: 'ONE', value: 'x' });
    await core.secrets.putValue(OPERATOR, { tenantId: 'acme', name: 'TWO', value: 'x' });
    const store = await repo.getStoreByName('acme', 'default', null);
    assert.ok(store);
    const one = await repo.getSecret(store.id, 'ONE');
    const two = await repo.getSecret(store.id, 'TWO');
    assert.ok(one && two);

    // Each holds one row lock and then wants the other's: PostgreSQL aborts one (40P01).
    let arrived = 0;
    let bothLocked!: () => void;
    const barrier = new Promise<void>((resolve) => {
      bothLocked = resolve;
    });
    let calls = 0;
    const crosswise = (first: string, second: string) =>
      repo.transaction(async (tx) => {
        calls += 1;
        await tx.allocateVersion(first);
        arrived += 1;
        if (arrived === 2) bothLocked();
        await barrier;
        return tx.allocateVersion(second);
      });
    const results = await Promise.all([crosswise(one.id, two.id), crosswise(two.id, one.id)]);
    assert.equal(calls, 3, 'the victim ran once more');
    assert.deepEqual([...results].sort(), [2, 3]);
    assert.equal((await repo.getSecretById(store.id, one.id))?.latestVersion, 3);
    assert.equal((await repo.getSecretById(store.id, two.id))?.latestVersion, 3);
  });
});

describe('PostgreSQL engine: connections lost and databases gone', () => {
  closePoolsAfterEach();

  test('pg_terminate_backend: the next call succeeds or is Unavailable, and later calls recover', async () => {
    const schema = await freshSchema();
    const appName = `coffer_kill_${randomBytes(4).toString('hex')}`;
    const repo = await connect(withParams(schema.url, { application_name: appName }));
    const terminate = () =>
      withAdminClient(async (c) => {
        const { rowCount } = await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
          [appName],
        );
        return rowCount ?? 0;
      });
    // Several pooled connections, all idle.
    await Promise.all(Array.from({ length: 5 }, () => repo.ping()));
    assert.ok((await terminate()) >= 1);

    const outcome = async (call: () => Promise<unknown>) => {
      try {
        await call();
        return 'ok';
      } catch (error) {
        assert.ok(error instanceof UnavailableError, `unexpected ${String(error)}`);
        return 'unavailable';
      }
    };
    await outcome(() => repo.getTenant('acme'));
    await outcome(() => repo.transaction((tx) => tx.ensureTenant({ id: 'acme', createdAt: 1 })));
    let recovered = false;
    for (let i = 0; i < 5 && !recovered; i++) recovered = (await outcome(() => repo.ping())) === 'ok';
    assert.ok(recovered, 'recovers by itself');
    for (let i = 0; i < 10; i++) {
      await repo.getTenant('acme');
      await repo.transaction((tx) => tx.setMeta('k', String(i)));
    }
    assert.equal(await repo.getMeta('k'), '9');
  });

  test('a connection killed inside an uncommitted transaction: the transaction runs again once', async () => {
    const schema = await freshSchema();
    const appName = `coffer_kill_${randomBytes(4).toString('hex')}`;
    const repo = await connect(withParams(schema.url, { application_name: appName }));
    let calls = 0;
    let inside!: () => void;
    const entered = new Promise<void>((resolve) => {
      inside = resolve;
    });
    let killed!: () => void;
    const gate = new Promise<void>((resolve) => {
      killed = resolve;
    });
    const pending = repo.transaction(async (tx) => {
      calls += 1;
      await tx.ensureTenant({ id: 'acme', createdAt: 1 });
      inside();
      await gate;
      await tx.setMeta('written', 'once');
      return calls;
    });
    await entered;
    await withAdminClient((c) =>
      c.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state LIKE 'idle in transaction%'",
        [appName],
      ),
    );
    killed();
    assert.equal(await pending, 2);
    assert.equal(await repo.getMeta('written'), 'once');
    assert.deepEqual(await repo.getTenant('acme'), { id: 'acme', createdAt: 1 });
  });

  test('a closed port: connect fails with UnavailableError', async () => {
    const port = await closedPort();
    const url = `postgres://postgres@127.0.0.1:${port}/test`;
    await assert.rejects(PostgresRepository.connect(url, { connectionTimeoutMillis: 1000 }), (error) => {
      assert.ok(error instanceof UnavailableError);
      assert.equal(error.code, 'database_unavailable');
      assert.doesNotMatch(error.message, /127\.0\.0\.1|postgres/, 'no connection detail leaks');
      return true;
    });
  });

  test('a database that goes away: ping and calls are Unavailable, and recover when it is back', async () => {
    const schema = await freshSchema();
    const target = new URL(TEST_DATABASE_URL);
    const proxy = await startProxy(Number(target.port || 5432), target.hostname);
    try {
      const viaProxy = new URL(schema.url);
      viaProxy.hostname = '127.0.0.1';
      viaProxy.port = String(proxy.port);
      const repo = await connect(viaProxy.toString(), { connectionTimeoutMillis: 1000 });
      await repo.ping();
      await repo.transaction((tx) => tx.ensureTenant({ id: 'acme', createdAt: 1 }));

      await proxy.stop();
      await assert.rejects(repo.ping(), UnavailableError);
      await assert.rejects(repo.getTenant('acme'), UnavailableError);
      await assert.rejects(
        repo.transaction((tx) => tx.setMeta('k', 'v')),
        UnavailableError,
      );

      await proxy.start();
      await repo.ping();
      assert.deepEqual(await repo.getTenant('acme'), { id: 'acme', createdAt: 1 });
      await repo.transaction((tx) => tx.setMeta('k', 'v'));
    } finally {
      await proxy.stop();
    }
  });
});

describe('PostgreSQL engine: what the database holds', () => {
  closePoolsAfterEach();

  test('no secret value or token appears in a pg_dump of the schema', async () => {
    const { schema, cores } = await twoNodes();
    const core = cores[0];
    const value = `plaintext-${randomBytes(12).toString('hex')}`;
    const batchValue = `batch-${randomBytes(12).toString('hex')}`;
    await core.secrets.putValue(OPERATOR, { tenantId: 'acme', name: 'DUMP_ME', value });
    const store = await core.stores.create(OPERATOR, 'acme', 'cf');
    await core.secrets.createMany(OPERATOR, 'acme', { id: store.id }, [{ name: 'BATCH', value: batchValue }]);
    const apiToken = (await core.apiKeys.create(OPERATOR, 'acme', { name: 'ci', permissions: ['*'] })).token;
    const serviceToken = (await core.services.create(OPERATOR, 'workers')).token;

    const dump = await pgDump(schema.schema);
    assert.match(dump, /DUMP_ME/, 'the dump holds the data');
    assert.match(dump, /secret_versions/);
    for (const secretText of [value, batchValue, apiToken, serviceToken]) {
      const bytes = Buffer.from(secretText, 'utf8');
      for (const form of [secretText, bytes.toString('hex'), bytes.toString('base64')]) {
        assert.ok(!dump.includes(form), 'a secret or token is readable in the dump');
      }
    }
  });
});

function pgDumpPath(): string {
  for (const p of ['/usr/lib/postgresql/15/bin/pg_dump', '/usr/bin/pg_dump']) if (existsSync(p)) return p;
  return 'pg_dump';
}

async function pgDump(schema: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    pgDumpPath(),
    ['--no-owner', `--schema=${schema}`, `--dbname=${TEST_DATABASE_URL}`],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}
