import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { verifyChain } from '../../src/core/audit-chain.js';
import { createCore } from '../../src/core/coffer-core.js';
import { Keyring } from '../../src/crypto/keyring.js';
import type { RepositoryTx } from '../../src/core/ports/repository.js';
import { PostgresRepository } from '../../src/storage/postgres/postgres-repository.js';
import { runCoffer } from '../support/coffer-process.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { tempDir } from '../support/temp-dir.js';

const schemas: TestSchema[] = [];
const repos: PostgresRepository[] = [];
after(async () => {
  await Promise.all(repos.map((r) => r.close()));
  await Promise.all(schemas.map((s) => s.drop()));
});

/**
 * Two nodes (two repositories, two pools) writing one tenant's trail at the same moment: each appends
 * to chains of its own (ADR 0011), each linear, all verifying, also through `coffer audit verify`.
 */
describe('audit on PostgreSQL', () => {
  it('concurrent writers on two nodes keep linear chains of their own that all verify', async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const masterKey = randomBytes(32);
    const keyring = new Keyring([masterKey]);
    const [a, b] = [
      await PostgresRepository.connect(schema.url),
      await PostgresRepository.connect(schema.url),
    ];
    repos.push(a, b);
    const nodes = [createCore({ repository: a, keyring }), createCore({ repository: b, keyring })];
    const per = 20;
    await Promise.all(
      nodes.flatMap((core, n) =>
        Array.from({ length: per }, async (_, i) => {
          const name = `s${n}-${i % 4}`;
          await core.secrets.putValue(OPERATOR, { tenantId: 'acme', name, value: `v${i}` });
          await core.secrets.reveal(OPERATOR, 'acme', name);
          await core.secrets.listNames(OPERATOR, 'acme');
        }),
      ),
    );
    const events = await a.listTenantAuditEvents({ tenantId: 'acme', direction: 'asc', limit: 10_000 });
    const creates = events.filter((e) => e.action === 'secret.create').length;
    assert.equal(creates, 8, 'each of the 8 names created once');
    const stores = events.filter((e) => e.action === 'store.create').length;
    assert.equal(stores, 1, 'the default store, created once by whichever node wrote first');
    assert.equal(events.length, 2 * per * 3 + creates + stores);
    // Each node wrote its own chains (changes, and reads), none shared: 4 chains, each linear.
    const chains = await b.listAuditChains({ tenantId: 'acme' });
    assert.equal(chains.length, 4);
    assert.equal(new Set(chains.map((c) => c.writerId)).size, 2);
    let total = 0;
    for (const chain of chains) {
      const seqs = events.filter((e) => e.chainId === chain.chainId).map((e) => e.seq);
      assert.deepEqual(
        seqs.sort((x, y) => x - y),
        Array.from({ length: seqs.length }, (_, i) => i + 1),
      );
      const check = await verifyChain(b, chain);
      assert.equal(check.ok, true, JSON.stringify(check));
      total += seqs.length;
    }
    assert.equal(total, events.length);

    const dir = tempDir();
    try {
      const cli = await runCoffer(['audit', 'verify'], {
        COFFER_DATABASE_URL: schema.url,
        COFFER_DATA_DIR: dir.path,
      });
      assert.equal(cli.code, 0, cli.stderr);
      assert.match(cli.stdout, /^Audit trail verified: 4 chain\(s\)/);
      for (const chain of chains) {
        assert.match(
          cli.stdout,
          new RegExp(`tenant 'acme', chain ${chain.chainId}: seq ${chain.head?.seq}, head`),
        );
      }
    } finally {
      dir.remove();
    }
  });

  it("one node's concurrent changes take turns at its chain head: none re-reads it under lock", async () => {
    const schema = await createTestSchema();
    schemas.push(schema);
    const keyring = new Keyring([randomBytes(32)]);
    const inner = await PostgresRepository.connect(schema.url, { maxConnections: 10 });
    repos.push(inner);
    // Counts the head reads under lock (`lockAuditHead`), which a change makes when the head it
    // remembers is unknown or stale: a stale guess means it waited on another change's head row.
    let lockedHeadReads = 0;
    const repository = new Proxy(inner, {
      get(target, property) {
        if (property === 'transaction') {
          return <T>(fn: (tx: RepositoryTx) => Promise<T>) =>
            target.transaction((tx) =>
              fn({
                ...tx,
                lockAuditHead: (chainId: string) => {
                  lockedHeadReads += 1;
                  return tx.lockAuditHead(chainId);
                },
              }),
            );
        }
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const core = createCore({ repository, keyring });
    // The store, the tenant and the change chain exist first: the chain's first append reads its head.
    await core.secrets.putValue(OPERATOR, { tenantId: 'turns', name: 'first', value: 'v' });
    lockedHeadReads = 0;
    const writes = 40;
    await Promise.all(
      Array.from({ length: writes }, (_, i) =>
        core.secrets.putValue(OPERATOR, { tenantId: 'turns', name: `s-${i % 8}`, value: `v${i}` }),
      ),
    );
    assert.equal(lockedHeadReads, 0);
    const chains = await inner.listAuditChains({ tenantId: 'turns' });
    assert.equal(chains.length, 1, 'one change chain for this process');
    const [chain] = chains;
    assert.ok(chain !== undefined);
    const check = await verifyChain(inner, chain);
    assert.equal(check.ok, true, JSON.stringify(check));
    // first's two events and its store's, then one per write plus a create for each new name.
    assert.equal(chain.head?.seq, 3 + writes + 8);
  });
});
