import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { auditHash } from '../../src/core/audit-chain.js';
import type { AuditOutcome } from '../../src/core/model.js';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer } from '../support/test-server.js';
import { openDatabaseFile } from './audit-events.js';

/**
 * `coffer audit verify` and `coffer audit export` against a real data directory, and against copies
 * of it edited with better-sqlite3 the way someone with file access would tamper with the trail.
 */
const dirs: { path: string; remove(): void }[] = [];
after(() => {
  for (const d of dirs) d.remove();
});

let source = '';

/** A copy of the data directory (the server is closed: the file is whole, no WAL left). */
function copyOfData(): string {
  const dir = tempDir();
  dirs.push(dir);
  cpSync(source, dir.path, { recursive: true });
  return dir.path;
}

/** The id of a tenant's chain of changes (`c`) or of reads and refusals (`r`): one writer wrote them all. */
function chain(dataDir: string, tenantId: string, lane: 'c' | 'r'): string {
  const db = openDatabaseFile(dataDir, { readonly: true });
  try {
    const ids = db
      .prepare('SELECT chain_id FROM audit_chains WHERE tenant_id = ? AND chain_id LIKE ?')
      .pluck()
      .all(tenantId, `%/${lane}/${tenantId}`) as string[];
    assert.equal(ids.length, 1, `one ${lane} chain of '${tenantId}'`);
    return ids[0] ?? '';
  } finally {
    db.close();
  }
}

function tamper(dataDir: string, sql: string): void {
  const db = openDatabaseFile(dataDir);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

const verify = (dataDir: string, ...args: string[]) =>
  runCoffer(['audit', 'verify', ...args], { COFFER_DATA_DIR: dataDir });

describe('coffer audit verify and export', () => {
  before(async () => {
    const dir = tempDir();
    dirs.push(dir);
    source = dir.path;
    const server = await startTestServer({ dataDir: source });
    const token = server.adminToken;
    for (let i = 0; i < 4; i++) {
      await request(server.url, 'PUT', `/api/default/secrets/s${i}`, { token, body: { value: `v${i}` } });
      await request(server.url, 'GET', `/api/default/secrets/s${i}`, { token });
    }
    const other = await server.createKey('other', 'admin', ['*']);
    await request(server.url, 'GET', '/api/other/secrets', { token: other });
    await request(server.url, 'GET', '/api/default/secrets', {});
    await server.close({ keepData: true });
  });

  it('passes on an intact trail with a summary line per chain', async () => {
    const result = await verify(source);
    assert.equal(result.code, 0, result.stderr);
    // default and other: a chain of changes and one of reads each; the platform: one of refusals.
    assert.match(result.stdout, /^Audit trail verified: 5 chain\(s\), \d+ event\(s\)\./);
    assert.match(
      result.stdout,
      new RegExp(`the platform, chain ${chain(source, '', 'r')}: seq 1, head [0-9a-f]{64}`),
    );
    assert.match(
      result.stdout,
      new RegExp(`tenant 'default', chain ${chain(source, 'default', 'r')}: seq 4, head`),
    );
    assert.match(
      result.stdout,
      new RegExp(`tenant 'default', chain ${chain(source, 'default', 'c')}: seq \\d+, head`),
    );
    assert.match(
      result.stdout,
      new RegExp(`tenant 'other', chain ${chain(source, 'other', 'r')}: seq 1, head`),
    );
  });

  it('fails on an edited row, naming tenant, chain and seq', async () => {
    const dir = copyOfData();
    const c = chain(dir, 'default', 'c');
    tamper(dir, `UPDATE audit_events SET outcome = 'denied' WHERE chain_id = '${c}' AND seq = 5`);
    const result = await verify(dir);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`audit chain of tenant 'default', chain ${c} does not verify at seq 5: .*edited`),
    );
    assert.equal(result.stdout, '');
  });

  it('fails on an edited row whose own hash was recomputed: the next event names it', async () => {
    const dir = copyOfData();
    const c = chain(dir, 'default', 'c');
    const db = openDatabaseFile(dir);
    try {
      const row = db.prepare('SELECT * FROM audit_events WHERE chain_id = ? AND seq = 4').get(c) as Record<
        string,
        unknown
      >;
      const forged = {
        chainId: c,
        tenantId: 'default',
        seq: 4,
        time: row.time as number,
        actor: 'key:someone-else',
        action: row.action as string,
        resource: row.resource as string,
        outcome: row.outcome as AuditOutcome,
        reason: row.reason as string | null,
        requestId: row.request_id as string,
        clientAddress: row.client_address as string,
      };
      db.prepare('UPDATE audit_events SET actor = ?, hash = ? WHERE chain_id = ? AND seq = 4').run(
        forged.actor,
        auditHash(row.prev_hash as Buffer, forged),
        c,
      );
    } finally {
      db.close();
    }
    const result = await verify(dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /tenant 'default', chain \S+ does not verify at seq 5: its prev_hash/);
  });

  it('fails on a deleted row', async () => {
    const dir = copyOfData();
    tamper(dir, `DELETE FROM audit_events WHERE chain_id = '${chain(dir, 'default', 'c')}' AND seq = 3`);
    const result = await verify(dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /tenant 'default', chain \S+ does not verify at seq 4: expected seq 3/);
  });

  it('fails on reordered rows', async () => {
    const dir = copyOfData();
    const c = chain(dir, 'default', 'c');
    tamper(
      dir,
      `UPDATE audit_events SET seq = -1 WHERE chain_id = '${c}' AND seq = 6;
       UPDATE audit_events SET seq = 6 WHERE chain_id = '${c}' AND seq = 7;
       UPDATE audit_events SET seq = 7 WHERE chain_id = '${c}' AND seq = -1;`,
    );
    const result = await verify(dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /tenant 'default', chain \S+ does not verify at seq 6/);
  });

  it('fails when the newest events are deleted (the chain head remembers them)', async () => {
    const dir = copyOfData();
    tamper(dir, `DELETE FROM audit_events WHERE chain_id = '${chain(dir, 'default', 'r')}' AND seq = 4`);
    const result = await verify(dir);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /tenant 'default', chain \S+ does not verify at seq 4: the chain head is at seq 4/,
    );
  });

  it('fails when the head was moved back over events that are still there', async () => {
    const dir = copyOfData();
    const r = chain(dir, 'default', 'r');
    tamper(
      dir,
      `UPDATE audit_chains SET seq = 2, hash = (SELECT hash FROM audit_events WHERE chain_id = '${r}' AND seq = 2)
        WHERE chain_id = '${r}'`,
    );
    const result = await verify(dir);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /does not verify at seq 3: it follows the chain head at seq 2/);
  });

  it('fails when a chain head row is deleted, or an event is moved to another tenant or chain', async () => {
    const headless = copyOfData();
    tamper(headless, `DELETE FROM audit_chains WHERE chain_id = '${chain(headless, 'default', 'r')}'`);
    const noHead = await verify(headless);
    assert.equal(noHead.code, 1);
    assert.match(
      noHead.stderr,
      /tenant 'default', chain \S+ does not verify at seq 4: the chain head is missing/,
    );

    const moved = copyOfData();
    tamper(
      moved,
      `UPDATE audit_events SET tenant_id = 'other' WHERE chain_id = '${chain(moved, 'default', 'r')}' AND seq = 2`,
    );
    const renamed = await verify(moved, '--tenant', 'default');
    assert.equal(renamed.code, 1);
    assert.match(renamed.stderr, /does not verify at seq 2: it names tenant 'other'/);

    // Chain ids are hashed (form 2): an event carried over to another chain, with its seq, fails there.
    const carried = copyOfData();
    const [r, c] = [chain(carried, 'default', 'r'), chain(carried, 'default', 'c')];
    tamper(
      carried,
      `DELETE FROM audit_events WHERE chain_id = '${c}' AND seq = 2;
       UPDATE audit_events SET chain_id = '${c}' WHERE chain_id = '${r}' AND seq = 2;`,
    );
    const result = await verify(carried);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`chain ${c} does not verify at seq 2`));
  });

  it("--tenant checks one tenant's chains only", async () => {
    const dir = copyOfData();
    tamper(
      dir,
      `UPDATE audit_events SET resource = 'x' WHERE chain_id = '${chain(dir, 'default', 'c')}' AND seq = 1`,
    );
    const other = await verify(dir, '--tenant', 'other');
    assert.equal(other.code, 0, other.stderr);
    assert.match(other.stdout, /2 chain\(s\), \d+ event\(s\)/);
    assert.doesNotMatch(other.stdout, /default/);
    const broken = await verify(dir, '--tenant', 'default');
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /at seq 1/);
  });

  it('export --since writes JSON lines of every chain, or of one, and refuses a bad instant', async () => {
    const all = await runCoffer(['audit', 'export', '--since', '2000-01-01T00:00:00Z'], {
      COFFER_DATA_DIR: source,
    });
    assert.equal(all.code, 0, all.stderr);
    const events = all.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tenantId: string; seq: number; hash: string; action: string });
    const tenants = new Set(events.map((e) => e.tenantId));
    assert.deepEqual([...tenants].sort(), ['', 'default', 'other']);
    assert.ok(events.every((e) => /^[0-9a-f]{64}$/.test(e.hash)));
    assert.match(all.stderr, new RegExp(`Exported ${events.length} audit event`));
    for (const secret of ['v0', 'v1'].map((v) => `"${v}"`)) assert.ok(!all.stdout.includes(secret));

    const one = await runCoffer(['audit', 'export', '--since', '2000-01-01', '--tenant', 'other'], {
      COFFER_DATA_DIR: source,
    });
    assert.deepEqual(
      one.stdout.trim().split('\n'),
      all.stdout
        .trim()
        .split('\n')
        .filter((l) => (JSON.parse(l) as { tenantId: string }).tenantId === 'other'),
    );
    const future = await runCoffer(['audit', 'export', '--since', '2999-01-01T00:00:00Z'], {
      COFFER_DATA_DIR: source,
    });
    assert.equal(future.code, 0);
    assert.equal(future.stdout, '');
    const bad = await runCoffer(['audit', 'export', '--since', 'yesterday'], { COFFER_DATA_DIR: source });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--since must be an ISO 8601/);
  });
});
