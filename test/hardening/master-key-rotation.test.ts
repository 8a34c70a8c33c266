import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { buildRuntime } from '../../src/composition/runtime.js';
import { parseConfig } from '../../src/config.js';
import { OPERATOR } from '../../src/core/actor.js';
import { createCore } from '../../src/core/coffer-core.js';
import { rewrapDataKeys } from '../../src/core/key-rotation.js';
import { CryptoError, openValue, rewrapDataKey, sealValue } from '../../src/crypto/envelope.js';
import { Keyring } from '../../src/crypto/keyring.js';
import {
  keyringOf,
  readKeyringFile,
  updateKeyringFile,
  withActive,
  withNewKey,
} from '../../src/crypto/keyring-file.js';
import { loadKeyring } from '../../src/crypto/keyring-source.js';
import { PostgresRepository } from '../../src/storage/postgres/postgres-repository.js';
import type { Repository } from '../../src/core/ports/repository.js';
import { SqliteRepository } from '../../src/storage/sqlite/sqlite-repository.js';
import { runCoffer, spawnServer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { tempDir } from '../support/temp-dir.js';

const TOKEN = /coffer_[0-9A-Za-z]{49}/;
const dirs: { remove(): void }[] = [];
const schemas: TestSchema[] = [];
function newDir(): string {
  const d = tempDir('coffer-rotation-');
  dirs.push(d);
  return d.path;
}
after(async () => {
  for (const d of dirs) d.remove();
  await Promise.all(schemas.map((s) => s.drop()));
});

function activeId(keyringPath: string): string {
  return readKeyringFile(keyringPath).active;
}

describe('re-wrapping a data key', () => {
  it('keeps the value and its owner binding; the ciphertext is untouched', () => {
    const oldKey = randomBytes(32);
    const keyring = new Keyring([oldKey]);
    const owner = { tenantId: 't', storeId: 's'.repeat(32), secretId: 'a'.repeat(32), version: 3 };
    const sealed = sealValue(keyring, owner, Buffer.from('the value'));
    const rotated = new Keyring([oldKey, randomBytes(32)]);
    const next = rewrapDataKey(rotated, owner, sealed);
    assert.equal(next.kekId, rotated.active.id);
    assert.notEqual(next.kekId, sealed.kekId);
    const moved = { ...sealed, ...next };
    assert.equal(openValue(rotated, owner, moved).toString(), 'the value');
    // Only the new KEK is needed to read it now.
    assert.equal(
      openValue(new Keyring([randomBytes(32), rotated.active.key]), owner, moved).toString(),
      'the value',
    );
    assert.throws(() => openValue(rotated, { ...owner, version: 4 }, moved), CryptoError);
    assert.throws(() => rewrapDataKey(rotated, { ...owner, secretId: 'b'.repeat(32) }, sealed), CryptoError);
  });
});

const engines: { name: string; open: () => Promise<[Repository, Repository]> }[] = [
  {
    name: 'sqlite',
    open: async () => {
      const file = join(newDir(), 'coffer.db');
      return [SqliteRepository.open(file), SqliteRepository.open(file)];
    },
  },
  {
    name: 'postgres',
    open: async () => {
      const schema = await createTestSchema();
      schemas.push(schema);
      const a = await PostgresRepository.connect(schema.url);
      return [a, await PostgresRepository.connect(schema.url)];
    },
  },
];

for (const engine of engines) {
  describe(`rotation over ${engine.name}`, () => {
    it('re-wraps every version in batches; another node reads them after one refresh from the file', async () => {
      const keyringFile = join(newDir(), 'keyring.json');
      const [repoA, repoB] = await engine.open();
      try {
        const load = (repository: Repository) =>
          loadKeyring({
            keyringFile,
            masterKey: null,
            hasSealedValues: () => repository.hasSealedValues(),
            kekIdsInUse: () => repository.listKekIdsInUse(),
          });
        const a = await load(repoA);
        const coreA = createCore({ repository: repoA, keyring: a.keyring });
        await coreA.apiKeys.create(OPERATOR, 't', { name: 'k', permissions: ['*'] });
        const values = new Map<string, string>();
        for (let i = 0; i < 23; i++) {
          for (let v = 0; v < 2; v++) {
            const value = `value-${i}-${v}-${randomBytes(4).toString('hex')}`;
            await coreA.secrets.putValue(OPERATOR, { tenantId: 't', name: `s${i}`, value });
            values.set(`s${i}`, value);
          }
        }
        // Node B loaded the keyring before the rotation: it holds only the old KEK.
        const b = await load(repoB);
        const coreB = createCore({ repository: repoB, keyring: b.keyring });
        const oldId = a.keyring.active.id;

        const written = updateKeyringFile(keyringFile, (file) => {
          const added = withNewKey(file);
          return withActive(added.file, added.id);
        });
        a.keyring.adopt(keyringOf(written));
        const batches: number[] = [];
        const report = await rewrapDataKeys(
          { repository: repoA, keyring: a.keyring },
          { batchSize: 7, onBatch: (p) => batches.push(p.rewrapped) },
        );
        assert.deepEqual(report, { rewrapped: 46, skipped: 0, failed: 0, remaining: [] });
        assert.equal(batches.length, Math.ceil(46 / 7));
        assert.deepEqual(await repoA.listKekIdsInUse(), [written.active]);
        assert.notEqual(written.active, oldId);

        assert.equal(b.keyring.get(written.active), undefined, 'B has not seen the new key yet');
        for (const [name, value] of values) {
          assert.equal((await coreB.secrets.reveal(OPERATOR, 't', name)).toString(), value, name);
        }
        assert.equal(
          b.keyring.active.id,
          written.active,
          'B refreshed from the file and writes under the new key',
        );
        // A second pass has nothing left to do.
        assert.equal((await rewrapDataKeys({ repository: repoA, keyring: a.keyring })).rewrapped, 0);
      } finally {
        await repoA.close();
        await repoB.close();
      }
    });
  });
}

describe('coffer master-key', () => {
  it('refuses to rotate a COFFER_MASTER_KEY, and `init` moves it into a keyring file', async () => {
    const dataDir = newDir();
    const masterKey = randomBytes(32).toString('base64');
    const env = { COFFER_DATA_DIR: dataDir, COFFER_MASTER_KEY: masterKey };
    const refused = await runCoffer(['master-key', 'rotate'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /COFFER_MASTER_KEY.*cannot be rotated.*master-key init/s);
    assert.equal((await runCoffer(['master-key', 'init'], env)).code, 0);
    const file = readKeyringFile(join(dataDir, 'keyring.json'));
    assert.equal(file.keys[0]?.key, masterKey);
    const rotated = await runCoffer(['master-key', 'rotate'], { COFFER_DATA_DIR: dataDir });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(rotated.stdout.trim(), activeId(join(dataDir, 'keyring.json')));
  });

  it('retire refuses while a KEK is active or still wraps data keys, and succeeds once re-wrapped', async () => {
    const dataDir = newDir();
    const keyringFile = join(dataDir, 'keyring.json');
    const env = { COFFER_DATA_DIR: dataDir };
    const runtime = await buildRuntime(parseConfig(env));
    try {
      await runtime.core.apiKeys.create(OPERATOR, 't', { name: 'k', permissions: ['*'] });
      for (let i = 0; i < 5; i++)
        await runtime.core.secrets.putValue(OPERATOR, { tenantId: 't', name: `s${i}`, value: `v${i}` });
    } finally {
      await runtime.close();
    }
    const oldId = activeId(keyringFile);
    const added = await runCoffer(['master-key', 'add'], env);
    assert.equal(added.code, 0, added.stderr);
    const newId = added.stdout.trim();
    assert.equal(activeId(keyringFile), oldId, 'add does not activate');

    const whileActive = await runCoffer(['master-key', 'retire', oldId], env);
    assert.equal(whileActive.code, 1);
    assert.match(whileActive.stderr, /still wraps stored data keys/);

    // Activated elsewhere (as configuration management would), but nothing re-wrapped yet.
    const file = JSON.parse(readFileSync(keyringFile, 'utf8')) as { active: string };
    writeFileSync(keyringFile, JSON.stringify({ ...file, active: newId }), { mode: 0o600 });
    const beforeRewrap = await runCoffer(['master-key', 'retire', oldId], env);
    assert.equal(beforeRewrap.code, 1);
    assert.match(beforeRewrap.stderr, /still wraps stored data keys/);
    assert.ok(
      readKeyringFile(keyringFile).keys.some((k) => k.id === oldId),
      'the key is still in the file',
    );
    const retireActive = await runCoffer(['master-key', 'retire', newId], env);
    assert.equal(retireActive.code, 1);

    const rewrap = await runCoffer(['master-key', 'rewrap'], env);
    assert.equal(rewrap.code, 0, rewrap.stderr);
    assert.match(rewrap.stderr, /5 data keys re-wrapped/);
    const retired = await runCoffer(['master-key', 'retire', oldId], env);
    assert.equal(retired.code, 0, retired.stderr);
    const list = await runCoffer(['master-key', 'list'], env);
    assert.match(list.stdout, new RegExp(`^${newId}\tactive\tin use\t`));
    assert.equal(list.stdout.trim().split('\n').length, 1);
  });

  it('rotates under a running server: zero failed reads, then every version uses the new KEK', async () => {
    const dataDir = newDir();
    const keyringFile = join(dataDir, 'keyring.json');
    const server = await spawnServer({ COFFER_DATA_DIR: dataDir });
    try {
      const token = TOKEN.exec(server.output())?.[0] ?? '';
      const values: string[] = [];
      for (let start = 0; start < 160; start += 20) {
        await Promise.all(
          Array.from({ length: 20 }, async (_, j) => {
            const i = start + j;
            const value = `rotating-${i}-${randomBytes(6).toString('hex')}`;
            values[i] = value;
            const res = await request(server.url, 'PUT', `/api/default/secrets/r${i}`, {
              token,
              body: { value },
            });
            assert.equal(res.status, 204);
          }),
        );
      }
      const oldId = activeId(keyringFile);

      let reading = true;
      let reads = 0;
      const failures: string[] = [];
      const reader = async (seed: number) => {
        for (let n = seed; reading; n += 7) {
          const i = n % values.length;
          const res = await request(server.url, 'GET', `/api/default/secrets/r${i}`, { token });
          reads += 1;
          if (res.status !== 200 || res.text !== values[i]) failures.push(`r${i}: ${res.status} ${res.text}`);
        }
      };
      const readers = [0, 1, 2, 3].map((seed) => reader(seed));
      const rotation = await runCoffer(['master-key', 'rotate', '--batch-size', '16'], {
        COFFER_DATA_DIR: dataDir,
      });
      reading = false;
      await Promise.all(readers);

      assert.equal(rotation.code, 0, rotation.stderr);
      const newId = rotation.stdout.trim();
      assert.equal(newId, activeId(keyringFile));
      assert.notEqual(newId, oldId);
      assert.match(rotation.stderr, /160 data keys re-wrapped/);
      assert.deepEqual(failures, [], 'no read failed during the rotation');
      assert.ok(reads > 50, `the loop kept reading (${reads})`);

      // The server picked up the new active key: a new write lands under it.
      await request(server.url, 'PUT', '/api/default/secrets/after-rotation', {
        token,
        body: { value: 'new' },
      });
      const list = await runCoffer(['master-key', 'list'], { COFFER_DATA_DIR: dataDir });
      assert.match(list.stdout, new RegExp(`^${oldId}\t-\tunused\t`, 'm'));
      assert.match(list.stdout, new RegExp(`^${newId}\tactive\tin use\t`, 'm'));

      const retired = await runCoffer(['master-key', 'retire', oldId], { COFFER_DATA_DIR: dataDir });
      assert.equal(retired.code, 0, retired.stderr);
      assert.equal((await request(server.url, 'GET', '/api/default/secrets/r7', { token })).text, values[7]);
      assert.match(server.output(), /keyring reloaded/);
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
    }
  });
});
