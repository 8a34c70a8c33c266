import assert from 'node:assert/strict';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigError, parseConfig } from '../../src/config.js';
import { generateAnchorKey } from '../../src/crypto/anchor-key.js';
import { tempDir } from '../support/temp-dir.js';

/** COFFER_AUDIT_ANCHOR_* and COFFER_AUDIT_RETENTION: parsed once, refused at start-up when wrong. */
const dir = tempDir();
after(() => dir.remove());
const dataDir = join(dir.path, 'data');
const key = join(dir.path, 'keys', 'anchor.pem');
const anchors = join(dir.path, 'log', 'anchors.jsonl');
const base = { COFFER_DATA_DIR: dataDir };

before(() => {
  mkdirSync(join(dir.path, 'keys'));
  mkdirSync(dataDir);
  generateAnchorKey(key);
});

const refused = (env: Record<string, string>, message: RegExp) =>
  assert.throws(
    () => parseConfig({ ...base, ...env }),
    (error) => error instanceof ConfigError && message.test(error.message),
  );

test('no anchor key: no anchors, no retention', () => {
  const config = parseConfig(base);
  assert.equal(config.auditAnchors, null);
  assert.equal(config.auditRetentionMs, null);
});

test('a key and a sink: the key is read at start-up, the interval defaults to an hour', () => {
  const config = parseConfig({ ...base, COFFER_AUDIT_ANCHOR_KEY: key, COFFER_AUDIT_ANCHOR_FILE: anchors });
  assert.equal(config.auditAnchors?.keyFile, key);
  assert.equal(config.auditAnchors?.file, anchors);
  assert.equal(config.auditAnchors?.stdout, false);
  assert.equal(config.auditAnchors?.intervalMs, 3_600_000);
  assert.equal(config.auditAnchors?.privateKey.asymmetricKeyType, 'ed25519');
  const other = parseConfig({
    ...base,
    COFFER_AUDIT_ANCHOR_KEY: key,
    COFFER_AUDIT_ANCHOR_STDOUT: '1',
    COFFER_AUDIT_ANCHOR_INTERVAL: '15m',
    COFFER_AUDIT_RETENTION: '90d',
  });
  assert.equal(other.auditAnchors?.file, null);
  assert.equal(other.auditAnchors?.stdout, true);
  assert.equal(other.auditAnchors?.intervalMs, 900_000);
  assert.equal(other.auditRetentionMs, 90 * 86_400_000);
  assert.equal(
    parseConfig({
      ...base,
      COFFER_AUDIT_ANCHOR_KEY: key,
      COFFER_AUDIT_ANCHOR_STDOUT: '1',
      COFFER_AUDIT_ANCHOR_INTERVAL: '0',
    }).auditAnchors?.intervalMs,
    0,
  );
});

test('the key needs a sink, and the other settings need the key', () => {
  refused({ COFFER_AUDIT_ANCHOR_KEY: key }, /needs somewhere to ship the checkpoints/);
  refused({ COFFER_AUDIT_ANCHOR_FILE: anchors }, /COFFER_AUDIT_ANCHOR_FILE needs COFFER_AUDIT_ANCHOR_KEY/);
  refused(
    { COFFER_AUDIT_ANCHOR_INTERVAL: '1h' },
    /COFFER_AUDIT_ANCHOR_INTERVAL needs COFFER_AUDIT_ANCHOR_KEY/,
  );
  refused({ COFFER_AUDIT_RETENTION: '30d' }, /pruned only behind a signed checkpoint/);
});

test('the key and the anchors file are refused inside the data directory', () => {
  refused(
    { COFFER_AUDIT_ANCHOR_KEY: join(dataDir, 'anchor.pem'), COFFER_AUDIT_ANCHOR_STDOUT: '1' },
    /COFFER_AUDIT_ANCHOR_KEY must be outside the data directory/,
  );
  refused(
    { COFFER_AUDIT_ANCHOR_KEY: key, COFFER_AUDIT_ANCHOR_FILE: join(dataDir, 'sub', 'a.jsonl') },
    /COFFER_AUDIT_ANCHOR_FILE must be outside the data directory/,
  );
});

test('a missing, public or foreign key file is refused with what to do', () => {
  refused(
    { COFFER_AUDIT_ANCHOR_KEY: join(dir.path, 'keys', 'nope.pem'), COFFER_AUDIT_ANCHOR_STDOUT: '1' },
    /cannot read the anchor key file .*coffer audit anchor-key --out FILE/,
  );
  refused(
    { COFFER_AUDIT_ANCHOR_KEY: `${key}.pub`, COFFER_AUDIT_ANCHOR_STDOUT: '1' },
    /group or others may access it|is not a PEM private key/,
  );
  const open = join(dir.path, 'keys', 'open.pem');
  generateAnchorKey(open);
  chmodSync(open, 0o644);
  refused(
    { COFFER_AUDIT_ANCHOR_KEY: open, COFFER_AUDIT_ANCHOR_STDOUT: '1' },
    /mode 0644: group or others .*chmod 600/,
  );
});

test('durations: a number and a unit', () => {
  for (const bad of ['1', '1w', '-1h', 'soon', '0']) {
    refused(
      { COFFER_AUDIT_ANCHOR_KEY: key, COFFER_AUDIT_ANCHOR_STDOUT: '1', COFFER_AUDIT_RETENTION: bad },
      /COFFER_AUDIT_RETENTION must be a duration such as 90d/,
    );
  }
  refused(
    { COFFER_AUDIT_ANCHOR_KEY: key, COFFER_AUDIT_ANCHOR_STDOUT: '1', COFFER_AUDIT_ANCHOR_INTERVAL: '5x' },
    /COFFER_AUDIT_ANCHOR_INTERVAL must be a duration .*\(0 turns it off\)/,
  );
});
