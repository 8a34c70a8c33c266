import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COFFER_BIN, runCoffer } from '../support/coffer-process.js';
import { tempDir } from '../support/temp-dir.js';

/**
 * Issue 13, item 8: a keyring file readable by group or others (0644) was accepted silently. Like
 * ssh with a private key, Coffer now refuses to start and says how to fix it.
 */
interface ServeOutcome {
  readonly started: boolean;
  readonly code: number | null;
  readonly output: string;
}

/** Runs `coffer serve` until it either listens (then stops it) or exits on its own. */
function serveOnce(env: Record<string, string>): Promise<ServeOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COFFER_BIN, 'serve'], {
      env: { PATH: process.env.PATH ?? '', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let started = false;
    const onData = (d: Buffer) => {
      output += d.toString('utf8');
      if (!started && /Server listening at/.test(output)) {
        started = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', reject);
    child.on('close', (code) => resolve({ started, code, output }));
  });
}

describe('security: a keyring file readable by group or others is refused', () => {
  const dir = tempDir();
  const dataDir = join(dir.path, 'data');
  const keyringPath = join(dataDir, 'keyring.json');
  let keyMaterial: string;

  before(async () => {
    // The first start creates the data directory and the keyring.
    const first = await serveOnce({ COFFER_DATA_DIR: dataDir });
    assert.ok(first.started, first.output);
    const file = JSON.parse(readFileSync(keyringPath, 'utf8')) as { keys: { key: string }[] };
    keyMaterial = file.keys[0]?.key ?? '';
    assert.ok(keyMaterial.length > 0);
  });
  after(() => dir.remove());

  it('the keyring Coffer creates is 0600', () => {
    assert.equal(statSync(keyringPath).mode & 0o777, 0o600);
  });

  for (const mode of [0o644, 0o640, 0o604, 0o660]) {
    it(`serve refuses a ${mode.toString(8)} keyring: exit non-zero, the path and the fix on stderr, no key`, async () => {
      chmodSync(keyringPath, mode);
      try {
        const res = await serveOnce({ COFFER_DATA_DIR: dataDir });
        assert.equal(res.started, false, 'it must not start');
        assert.notEqual(res.code, 0);
        assert.ok(res.output.includes(keyringPath), res.output);
        assert.match(res.output, /chmod 600/);
        assert.ok(!res.output.includes(keyMaterial), 'no key material in the message');
      } finally {
        chmodSync(keyringPath, 0o600);
      }
    });
  }

  it('a COFFER_KEYRING_FILE elsewhere is held to the same rule; 0600 and 0400 start', async () => {
    const elsewhere = join(dir.path, 'mounted-keyring.json');
    copyFileSync(keyringPath, elsewhere);
    chmodSync(elsewhere, 0o644);
    const refused = await serveOnce({ COFFER_DATA_DIR: dataDir, COFFER_KEYRING_FILE: elsewhere });
    assert.equal(refused.started, false);
    assert.match(refused.output, /chmod 600/);
    for (const ok of [0o600, 0o400]) {
      chmodSync(elsewhere, ok);
      const res = await serveOnce({ COFFER_DATA_DIR: dataDir, COFFER_KEYRING_FILE: elsewhere });
      assert.ok(res.started, `${ok.toString(8)}: ${res.output}`);
    }
  });

  it('the CLI reading the keyring (master-key, local secrets) refuses it too', async () => {
    chmodSync(keyringPath, 0o644);
    try {
      const res = await runCoffer(['master-key', 'list'], { COFFER_DATA_DIR: dataDir });
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /chmod 600/);
    } finally {
      chmodSync(keyringPath, 0o600);
    }
  });
});
