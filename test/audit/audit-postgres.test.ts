import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { verifyChain } from '../../src/core/audit-chain.js';
import { createCore } from '../../src/core/coffer-core.js';
import { Keyring } from '../../src/crypto/keyring.js';
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
});
