import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config.js';
import {
  BANNER_PATTERN,
  type ServerProcess,
  spawnServer,
  stopServer,
  TOKEN_PATTERN,
} from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';

const dirs: { remove(): void }[] = [];
after(() => {
  for (const d of dirs) d.remove();
});

/** Audit lines of the server's output so far. */
function auditLines(
  output: string,
): { type: string; action: string; chainId: string; seq: number; tenantId: string }[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{"type":"audit"'))
    .map(
      (l) =>
        JSON.parse(l) as { type: string; action: string; chainId: string; seq: number; tenantId: string },
    );
}

async function waitFor(server: ServerProcess, action: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (auditLines(server.output()).some((e) => e.action === action)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('COFFER_AUDIT_STDOUT', () => {
  it('=1 streams every committed event to stdout as a JSON line; no value or token in any output line', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const server = await spawnServer({
      COFFER_DATA_DIR: dir.path,
      COFFER_AUDIT_STDOUT: '1',
      LOG_LEVEL: 'trace',
    });
    const token = (server.output().match(TOKEN_PATTERN) ?? [])[0] ?? '';
    const value = 'stdout-canary-value-0c3e';
    await request(server.url, 'PUT', '/api/default/secrets/canary', { token, body: { value } });
    const got = await request(server.url, 'GET', '/api/default/secrets/canary', { token, auth: 'bearer' });
    assert.equal(got.text, value);
    const created = await request(server.url, 'POST', '/api/default/admin/apiKeys', {
      token,
      body: { name: 'ci', permissions: ['secrets:read'] },
    });
    const newToken = (created.json as { token: string }).token;
    await request(server.url, 'GET', '/api/default/secrets', { token: newToken });
    await waitFor(server, 'secret.list');
    assert.equal(await stopServer(server), 0);

    const output = server.output();
    const lines = auditLines(output);
    const ofDefault = lines.filter((e) => e.tenantId === 'default');
    // In commit order; each chain's events (changes, and reads: ADR 0011) as 1, 2, 3… with no gap.
    assert.deepEqual(
      ofDefault.map((e) => e.action),
      [
        'apikey.create',
        'store.create',
        'secret.create',
        'secret.set-value',
        'secret.reveal',
        'apikey.create',
        'secret.list',
      ],
    );
    const chains = new Map<string, number[]>();
    for (const e of ofDefault) chains.set(e.chainId, [...(chains.get(e.chainId) ?? []), e.seq]);
    assert.equal(chains.size, 2);
    for (const seqs of chains.values()) {
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => i + 1),
      );
    }
    // The bootstrap banner prints the admin token once, by design; no other line holds a token or the value.
    const withoutBanner = output.replace(BANNER_PATTERN, '');
    assert.notEqual(withoutBanner, output, 'the banner was there');
    assert.ok(!withoutBanner.includes(value));
    assert.equal((withoutBanner.match(TOKEN_PATTERN) ?? []).length, 0);
    assert.ok(!output.includes(newToken));
  });

  it('is off by default, and only 1/0/true/false are accepted', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const server = await spawnServer({ COFFER_DATA_DIR: dir.path });
    const token = (server.output().match(TOKEN_PATTERN) ?? [])[0] ?? '';
    await request(server.url, 'GET', '/api/default/secrets', { token });
    assert.equal(await stopServer(server), 0);
    assert.deepEqual(auditLines(server.output()), []);

    assert.equal(parseConfig({ COFFER_AUDIT_STDOUT: 'true' }).auditStdout, true);
    assert.equal(parseConfig({ COFFER_AUDIT_STDOUT: '0' }).auditStdout, false);
    assert.equal(parseConfig({}).auditStdout, false);
    assert.throws(() => parseConfig({ COFFER_AUDIT_STDOUT: 'yes' }), ConfigError);
  });
});
