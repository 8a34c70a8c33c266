import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { auditHash } from '../../src/core/audit-chain.js';
import type { AuditOutcome } from '../../src/core/model.js';
import { type CliResult, runCoffer, spawnServer, stopServer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, testEngine } from '../support/test-server.js';
import { openDatabaseFile } from './audit-events.js';

/**
 * Signed checkpoints outside the database (docs/audit.md, "Anchors"; ADR 0013), through the real CLI
 * on a real SQLite file or PostgreSQL schema (COFFER_TEST_ENGINE): `coffer audit checkpoint` signs the
 * heads, the trail is then tampered with as someone with write access to the database would, and
 * `coffer audit verify --anchors` must name what happened. Retention and the server's cadence too.
 */
const engine = testEngine();
const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

let keyDir = '';
let publicKey = '';
let privateKey = '';

/** Direct access to the trail's storage, as an attacker with database write access has it. */
interface Storage {
  run(sql: string, params?: readonly unknown[]): Promise<void>;
  all(sql: string, params?: readonly unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

interface Trail {
  readonly dataDir: string;
  readonly anchorsFile: string;
  /** The environment of the CLI (and a server) on this trail, anchors configured. */
  readonly env: Record<string, string>;
  storage(): Promise<Storage>;
}

async function openStorage(dataDir: string, schema: TestSchema | null): Promise<Storage> {
  if (schema === null) {
    const db = openDatabaseFile(dataDir);
    return {
      run: async (sql, params = []) => {
        if (params.length === 0) {
          db.exec(sql);
          return;
        }
        db.prepare(sql).run(...params);
      },
      all: async (sql, params = []) => db.prepare(sql).all(...params) as Record<string, unknown>[],
      close: async () => {
        db.close();
      },
    };
  }
  const client = new pg.Client({ connectionString: schema.url });
  await client.connect();
  const numbered = (sql: string) => {
    let n = 0;
    return sql.replace(/\?/g, () => `$${++n}`);
  };
  return {
    run: async (sql, params = []) => void (await client.query(numbered(sql), [...params])),
    all: async (sql, params = []) => (await client.query(numbered(sql), [...params])).rows,
    close: () => client.end(),
  };
}

/** A trail with events on three chains (the platform's, `default`, `other`), its server stopped. */
async function makeTrail(
  options: {
    clock?: { now(): number };
    activity?: (url: string, token: string, other: string) => Promise<void>;
  } = {},
): Promise<Trail> {
  const data = tempDir();
  const outside = tempDir();
  cleanups.push(
    () => data.remove(),
    () => outside.remove(),
  );
  const schema = engine === 'postgres' ? await createTestSchema() : null;
  if (schema !== null) cleanups.push(() => schema.drop());
  const server = await startTestServer({
    dataDir: data.path,
    ...(schema === null ? {} : { env: { COFFER_DATABASE_URL: schema.url } }),
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  });
  const token = server.adminToken;
  const other = await server.createKey('other', 'admin', ['*']);
  const activity =
    options.activity ??
    (async (url: string, t: string, o: string) => {
      for (let i = 0; i < 3; i++) {
        await request(url, 'PUT', `/api/default/secrets/s${i}`, { token: t, body: { value: `v${i}` } });
        await request(url, 'GET', `/api/default/secrets/s${i}`, { token: t });
      }
      await request(url, 'GET', '/api/other/secrets', { token: o });
      await request(url, 'GET', '/api/default/secrets', {});
    });
  await activity(server.url, token, other);
  await server.close({ keepData: true });
  const anchorsFile = join(outside.path, 'anchors.jsonl');
  return {
    dataDir: data.path,
    anchorsFile,
    env: {
      COFFER_DATA_DIR: data.path,
      ...(schema === null ? {} : { COFFER_DATABASE_URL: schema.url }),
      COFFER_AUDIT_ANCHOR_KEY: privateKey,
      COFFER_AUDIT_ANCHOR_FILE: anchorsFile,
    },
    storage: () => openStorage(data.path, schema),
  };
}

const checkpoint = (trail: Trail) => runCoffer(['audit', 'checkpoint'], trail.env);

/** verify, as a verifier holds it: the database, the anchors file and the public key only. */
function verify(trail: Trail, ...args: string[]): Promise<CliResult> {
  const env = Object.fromEntries(
    Object.entries(trail.env).filter(([name]) => !name.startsWith('COFFER_AUDIT_ANCHOR_')),
  );
  return runCoffer(['audit', 'verify', ...args], env);
}

const verifyAnchored = (trail: Trail, anchors = trail.anchorsFile) =>
  verify(trail, '--anchors', anchors, '--anchor-public-key', publicKey);

async function withStorage<T>(trail: Trail, fn: (s: Storage) => Promise<T>): Promise<T> {
  const s = await trail.storage();
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

function ok(result: CliResult): void {
  assert.equal(result.code, 0, `exit ${result.code}\n${result.stdout}\n${result.stderr}`);
}

/** The chain of a tenant's lane (ADR 0011: `c` changes, `r` reads and refusals) that this trail wrote. */
async function chainOf(trail: Trail, tenant: string, lane: 'c' | 'r'): Promise<string> {
  return withStorage(trail, async (s) => {
    const rows = await s.all('SELECT chain_id FROM audit_chains WHERE tenant_id = ? AND chain_id LIKE ?', [
      tenant,
      `%/${lane}/%`,
    ]);
    assert.equal(rows.length, 1, `one ${lane} chain of '${tenant}'`);
    return String(rows[0]?.chain_id);
  });
}

/** How verify names a chain of a tenant. */
const named = (tenant: string, chain: string) =>
  `tenant '${tenant}', chain ${chain.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`;

/** Rewrites a chain consistently from `seq` on (each hash recomputed, the head moved): no hash breaks. */
async function rewriteChain(trail: Trail, chain: string, seq: number, actor: string): Promise<void> {
  await withStorage(trail, async (s) => {
    const rows = await s.all('SELECT * FROM audit_events WHERE chain_id = ? ORDER BY seq', [chain]);
    let prev: Buffer | null = null;
    for (const row of rows) {
      const n = Number(row.seq);
      if (prev === null) prev = row.prev_hash as Buffer;
      const fields = {
        chainId: chain,
        tenantId: row.tenant_id as string,
        seq: n,
        time: Number(row.time),
        actor: n === seq ? actor : (row.actor as string),
        action: row.action as string,
        resource: row.resource as string,
        outcome: row.outcome as AuditOutcome,
        reason: row.reason as string | null,
        requestId: row.request_id as string,
        clientAddress: row.client_address as string,
      };
      const hash = auditHash(prev, fields);
      await s.run(
        'UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE chain_id = ? AND seq = ?',
        [fields.actor, prev, hash, chain, n],
      );
      prev = hash;
    }
    await s.run('UPDATE audit_chains SET hash = ? WHERE chain_id = ?', [prev, chain]);
  });
}

/** Cuts the newest `n` events off a chain and moves its head back to the new end: no hash breaks. */
async function truncateChain(trail: Trail, chain: string, n: number): Promise<void> {
  await withStorage(trail, async (s) => {
    const [head] = await s.all('SELECT seq FROM audit_chains WHERE chain_id = ?', [chain]);
    const keep = Number(head?.seq) - n;
    assert.ok(keep >= 1);
    await s.run('DELETE FROM audit_events WHERE chain_id = ? AND seq > ?', [chain, keep]);
    const [last] = await s.all('SELECT hash FROM audit_events WHERE chain_id = ? AND seq = ?', [chain, keep]);
    await s.run('UPDATE audit_chains SET seq = ?, hash = ? WHERE chain_id = ?', [keep, last?.hash, chain]);
  });
}

describe(`audit anchors (${engine})`, () => {
  before(async () => {
    const dir = tempDir();
    cleanups.push(() => dir.remove());
    keyDir = dir.path;
    privateKey = join(keyDir, 'anchor.pem');
    const made = await runCoffer(['audit', 'anchor-key', '--out', privateKey], {});
    ok(made);
    publicKey = `${privateKey}.pub`;
    assert.equal(made.stdout, readFileSync(publicKey, 'utf8'));
    assert.match(made.stdout, /^-----BEGIN PUBLIC KEY-----/);
    assert.doesNotMatch(made.stdout + made.stderr, /PRIVATE/);
  });

  it('verifies an intact trail against its checkpoints and says what each chain is anchored at', async () => {
    const trail = await makeTrail();
    const made = await checkpoint(trail);
    ok(made);
    const line = JSON.parse(made.stdout) as { seq: number; chains: { chain: string; tenant: string }[] };
    assert.equal(line.seq, 1);
    assert.deepEqual([...new Set(line.chains.map((c) => c.tenant))].sort(), ['', 'default', 'other']);
    const reads = await chainOf(trail, 'default', 'r');
    assert.ok(line.chains.some((c) => c.chain === reads && c.tenant === 'default'));
    assert.equal(readFileSync(trail.anchorsFile, 'utf8'), made.stdout);
    ok(await checkpoint(trail));
    const result = await verifyAnchored(trail);
    ok(result);
    assert.match(result.stdout, /Anchors verified: 2 checkpoint\(s\), 1–2/);
    assert.match(
      result.stdout,
      new RegExp(
        `${named('default', reads)}: seq \\d+, head [0-9a-f]{64}; anchored at seq \\d+ by checkpoint 2`,
      ),
    );
  });

  it('reports a truncated chain, which verify without anchors cannot see', async () => {
    const trail = await makeTrail();
    ok(await checkpoint(trail));
    const reads = await chainOf(trail, 'default', 'r');
    await truncateChain(trail, reads, 2);
    ok(await verify(trail));
    const result = await verifyAnchored(trail);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(
        `audit chain of ${named('default', reads)} is truncated: checkpoint 1 states it at seq (\\d+), but its events end at seq \\d+`,
      ),
    );
    assert.doesNotMatch(result.stderr, /deleted|rewritten|forged/);
    assert.equal(result.stdout, '');
  });

  it('reports a deleted chain, which verify without anchors cannot see', async () => {
    const trail = await makeTrail();
    ok(await checkpoint(trail));
    await withStorage(trail, async (s) => {
      await s.run("DELETE FROM audit_events WHERE tenant_id = 'other'");
      await s.run("DELETE FROM audit_chains WHERE tenant_id = 'other'");
    });
    ok(await verify(trail));
    const result = await verifyAnchored(trail);
    assert.equal(result.code, 1);
    // Both of its chains (the key's creation, its read) are named.
    assert.equal(
      result.stderr.match(
        /audit chain of tenant 'other', chain \S+ was deleted: checkpoint 1 states it at seq 1/g,
      )?.length,
      2,
    );
    assert.doesNotMatch(result.stderr, /truncated|rewritten|forged/);
  });

  it('reports an edited event: rewritten consistently (hashes recomputed), or left broken', async () => {
    const trail = await makeTrail();
    ok(await checkpoint(trail));
    const changes = await chainOf(trail, 'default', 'c');
    await rewriteChain(trail, changes, 3, 'key:someone-else');
    ok(await verify(trail));
    const rewritten = await verifyAnchored(trail);
    assert.equal(rewritten.code, 1);
    assert.match(
      rewritten.stderr,
      new RegExp(
        `audit chain of ${named('default', changes)} was rewritten: its event \\d+ is not the one checkpoint 1 states`,
      ),
    );

    const otherReads = await chainOf(trail, 'other', 'r');
    await withStorage(trail, (s) =>
      s.run("UPDATE audit_events SET outcome = 'denied' WHERE chain_id = ? AND seq = 1", [otherReads]),
    );
    const broken = await verifyAnchored(trail);
    assert.equal(broken.code, 1);
    assert.match(
      broken.stderr,
      new RegExp(
        `audit chain of ${named('other', otherReads)} was rewritten: it does not verify at seq 1, which checkpoint 1 covers`,
      ),
    );
  });

  it('reports a forged, re-ordered, gapped or foreign-key checkpoint file', async () => {
    const trail = await makeTrail();
    for (let i = 0; i < 3; i++) ok(await checkpoint(trail));
    const lines = readFileSync(trail.anchorsFile, 'utf8').trim().split('\n');
    assert.equal(lines.length, 3);
    const variant = (name: string, content: string[]) => {
      const path = join(keyDir, `${name}-${engine}.jsonl`);
      writeFileSync(path, `${content.join('\n')}\n`);
      return path;
    };
    const [l1 = '', l2 = '', l3 = ''] = lines;

    const forged = await verifyAnchored(
      trail,
      variant('forged', [l1, l2.replace(/"seq":(\d+),"hash"/, '"seq":1$1,"hash"'), l3]),
    );
    assert.equal(forged.code, 1);
    assert.match(forged.stderr, /forged checkpoint \(.*:2\): checkpoint 2: the signature does not verify/);

    const reordered = await verifyAnchored(trail, variant('reordered', [l1, l3, l2]));
    assert.equal(reordered.code, 1);
    assert.match(reordered.stderr, /re-ordered checkpoints \(.*:3\): checkpoint 2 comes after checkpoint 3/);

    const gap = await verifyAnchored(trail, variant('gap', [l1, l3]));
    assert.equal(gap.code, 1);
    assert.match(gap.stderr, /broken checkpoint chain \(checkpoints 2–2\): checkpoint\(s\) 2–2 are missing/);

    // Two nodes' files, each with gaps the other fills (one checkpoint in both), verify together.
    const nodeA = variant('node-a', [l1, l2]);
    const nodeB = variant('node-b', [l2, l3]);
    const alone = await verifyAnchored(trail, nodeB);
    assert.equal(alone.code, 0, alone.stderr);
    const together = await verify(
      trail,
      '--anchors',
      nodeA,
      '--anchors',
      nodeB,
      '--anchor-public-key',
      publicKey,
    );
    ok(together);
    assert.match(together.stdout, /Anchors verified: 3 checkpoint\(s\), 1–3/);
    const withGap = await verify(
      trail,
      '--anchors',
      variant('node-c', [l1]),
      '--anchors',
      variant('node-d', [l3]),
      '--anchor-public-key',
      publicKey,
    );
    assert.equal(withGap.code, 1);
    assert.match(withGap.stderr, /broken checkpoint chain \(checkpoints 2–2\)/);

    const empty = await verifyAnchored(trail, variant('empty', ['{"type":"audit","seq":1}']));
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /the anchors hold no valid checkpoint/);

    const foreign = join(keyDir, `foreign-${engine}.pem`);
    ok(await runCoffer(['audit', 'anchor-key', '--out', foreign], {}));
    const wrongKey = await verify(
      trail,
      '--anchors',
      trail.anchorsFile,
      '--anchor-public-key',
      `${foreign}.pub`,
    );
    assert.equal(wrongKey.code, 1);
    assert.match(
      wrongKey.stderr,
      /forged checkpoint \(.*:1\): checkpoint 1 is signed by key [0-9a-f]{32}, not one of the public keys given/,
    );
  });

  it('prunes old events behind a checkpoint only; what remains verifies, with and without anchors', async () => {
    const past = Date.parse('2020-01-01T00:00:00Z');
    let now = past;
    const trail = await makeTrail({
      clock: { now: () => now },
      activity: async (url, token, other) => {
        for (let i = 0; i < 4; i++) {
          await request(url, 'PUT', `/api/default/secrets/s${i}`, { token, body: { value: `v${i}` } });
          await request(url, 'GET', `/api/default/secrets/s${i}`, { token });
        }
        await request(url, 'GET', '/api/other/secrets', { token: other });
        await request(url, 'GET', '/api/other/secrets', { token: other });
        now = Date.now();
        await request(url, 'GET', '/api/default/secrets', {});
        await request(url, 'GET', '/api/default/secrets/s0', { token });
      },
    });
    const env = { ...trail.env, COFFER_AUDIT_RETENTION: '30d' };
    /** Per chain: its tenant, events stored, head seq, and the newest seq written in 2020. */
    const chains = () =>
      withStorage(trail, async (s) => {
        const rows = await s.all(
          `SELECT c.chain_id, c.tenant_id, c.seq AS head,
                  (SELECT COUNT(*) FROM audit_events e WHERE e.chain_id = c.chain_id) AS stored,
                  (SELECT MAX(seq) FROM audit_events e WHERE e.chain_id = c.chain_id AND e.time <= ?) AS old
             FROM audit_chains c ORDER BY c.chain_id`,
          [past],
        );
        return rows.map((r) => ({
          chain: String(r.chain_id),
          tenant: String(r.tenant_id),
          head: Number(r.head),
          stored: Number(r.stored),
          old: r.old === null ? 0 : Number(r.old),
        }));
      });
    const before = await chains();
    // What pruning must do: everything old, but never the checkpointed head itself.
    const expected = before.map((c) => ({ ...c, through: Math.min(c.old, c.head - 1) }));
    const changes = await chainOf(trail, 'default', 'c');
    const reads = await chainOf(trail, 'default', 'r');
    const at = (chain: string) => expected.find((c) => c.chain === chain);
    assert.ok((at(changes)?.through ?? 0) >= 4, 'the old changes of default get pruned');
    assert.ok((at(reads)?.through ?? 0) >= 4, 'the old reads of default get pruned');
    assert.ok(
      expected.some((c) => c.tenant === '' && c.through === 0),
      'the young platform chain is kept whole',
    );

    const pruned = await runCoffer(['audit', 'prune'], env);
    ok(pruned);
    assert.match(pruned.stderr, new RegExp(`Checkpoint 1: ${before.length} chain\\(s\\)`));
    const total = expected.reduce((n, c) => n + Math.max(c.through, 0), 0);
    assert.match(pruned.stderr, new RegExp(`Pruned ${total} event\\(s\\)`));
    for (const c of expected.filter((e) => e.through > 0)) {
      assert.match(
        pruned.stderr,
        new RegExp(`${named(c.tenant, c.chain)}: events up to seq ${c.through} pruned`),
      );
    }
    const afterPrune = await chains();
    assert.deepEqual(
      afterPrune.map((c) => c.stored),
      expected.map((c) => c.stored - Math.max(c.through, 0)),
    );

    const through = at(changes)?.through ?? 0;
    const plain = await verify(trail);
    ok(plain);
    assert.match(
      plain.stdout,
      new RegExp(
        `${named('default', changes)}: seq \\d+, head [0-9a-f]{64}; events 1–${through} pruned: the rest links from seq ${through}'s hash [0-9a-f]{64}, which only the signed checkpoints vouch for`,
      ),
    );
    const anchored = await verifyAnchored(trail);
    ok(anchored);
    assert.match(
      anchored.stdout,
      new RegExp(
        `${named('default', changes)}: seq \\d+, head [0-9a-f]{64}; events 1–${through} pruned; anchored at seq`,
      ),
    );

    // Pruning again changes nothing (it never goes past the newest checkpoint), and still verifies.
    const again = await runCoffer(['audit', 'prune'], env);
    ok(again);
    assert.match(again.stderr, /Pruned 0 event\(s\)/);
    assert.deepEqual(await chains(), afterPrune);
    ok(await verifyAnchored(trail));

    // Without its recorded prune point the shortened chain no longer verifies: pruning is not deletion.
    await withStorage(trail, (s) => s.run('DELETE FROM audit_prune_points WHERE chain_id = ?', [changes]));
    const unrecorded = await verify(trail);
    assert.equal(unrecorded.code, 1);
    assert.match(
      unrecorded.stderr,
      new RegExp(`${named('default', changes)} does not verify at seq ${through + 1}: expected seq 1 here`),
    );
  });

  it('reports events removed past the newest checkpoint and disguised as pruned', async () => {
    const trail = await makeTrail();
    ok(await checkpoint(trail));
    const reads = await chainOf(trail, 'default', 'r');
    await withStorage(trail, async (s) => {
      const [head] = await s.all('SELECT seq FROM audit_chains WHERE chain_id = ?', [reads]);
      const seq = Number(head?.seq);
      await s.run('DELETE FROM audit_events WHERE chain_id = ? AND seq < ?', [reads, seq]);
      const [last] = await s.all('SELECT prev_hash FROM audit_events WHERE chain_id = ? AND seq = ?', [
        reads,
        seq,
      ]);
      await s.run('INSERT INTO audit_prune_points (chain_id, seq, hash) VALUES (?, ?, ?)', [
        reads,
        seq - 1,
        last?.prev_hash,
      ]);
    });
    // Checkpoint 1 states the chain at its head: a prune point up to head-1 is what pruning may leave
    // (the checkpointed event kept). Removing that event too is not.
    ok(await verifyAnchored(trail));
    await withStorage(trail, async (s) => {
      const [head] = await s.all('SELECT seq, hash FROM audit_chains WHERE chain_id = ?', [reads]);
      await s.run('DELETE FROM audit_events WHERE chain_id = ?', [reads]);
      await s.run('UPDATE audit_prune_points SET seq = ?, hash = ? WHERE chain_id = ?', [
        head?.seq,
        head?.hash,
        reads,
      ]);
    });
    ok(await verify(trail));
    const result = await verifyAnchored(trail);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`audit chain of ${named('default', reads)} lost events no checkpoint covers`),
    );
  });

  it('a running server writes a checkpoint every interval, to the anchors file and to stdout', async () => {
    const data = tempDir();
    const outside = tempDir();
    cleanups.push(
      () => data.remove(),
      () => outside.remove(),
    );
    const schema = engine === 'postgres' ? await createTestSchema() : null;
    if (schema !== null) cleanups.push(() => schema.drop());
    const anchorsFile = join(outside.path, 'anchors.jsonl');
    const env = {
      COFFER_DATA_DIR: data.path,
      ...(schema === null ? {} : { COFFER_DATABASE_URL: schema.url }),
      COFFER_AUDIT_ANCHOR_KEY: privateKey,
      COFFER_AUDIT_ANCHOR_FILE: anchorsFile,
      COFFER_AUDIT_ANCHOR_STDOUT: '1',
      COFFER_AUDIT_ANCHOR_INTERVAL: '1s',
      COFFER_LOG_FORMAT: 'json',
    };
    const server = await spawnServer(env);
    let code: number | null = null;
    try {
      await request(server.url, 'GET', '/api/default/secrets', {});
      const lines = () => {
        try {
          return readFileSync(anchorsFile, 'utf8').trim().split('\n').filter(Boolean);
        } catch {
          return [];
        }
      };
      const deadline = Date.now() + 60_000;
      while (lines().length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      assert.ok(lines().length >= 3, `no third checkpoint within a minute:\n${server.output()}`);
    } finally {
      code = await stopServer(server);
    }
    assert.equal(code, 0);
    const written = readFileSync(anchorsFile, 'utf8').trim().split('\n');
    assert.deepEqual(
      written.map((l) => (JSON.parse(l) as { seq: number }).seq),
      written.map((_, i) => i + 1),
    );
    // The last one, written on the clean stop, states the platform chain's event of that request.
    const last = JSON.parse(written.at(-1) ?? '') as { chains: { tenant: string; seq: number }[] };
    assert.deepEqual(
      last.chains.filter((c) => c.tenant === '').map((c) => c.seq),
      [1],
    );
    const verifierEnv = {
      COFFER_DATA_DIR: data.path,
      ...(schema === null ? {} : { COFFER_DATABASE_URL: schema.url }),
    };
    const anchored = await runCoffer(
      ['audit', 'verify', '--anchors', anchorsFile, '--anchor-public-key', publicKey],
      verifierEnv,
    );
    ok(anchored);
    // The captured stdout (logs and checkpoints interleaved) is an anchors file of its own.
    const captured = join(outside.path, 'stdout.log');
    writeFileSync(captured, server.output());
    const fromStdout = await runCoffer(
      ['audit', 'verify', '--anchors', captured, '--anchor-public-key', publicKey],
      verifierEnv,
    );
    ok(fromStdout);
    assert.match(fromStdout.stdout, new RegExp(`Anchors verified: ${written.length} checkpoint\\(s\\)`));
  });
});
