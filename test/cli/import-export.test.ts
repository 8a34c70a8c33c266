import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCoffer } from '../support/coffer-process.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { TRICKY_DOTENV, TRICKY_VALUES } from './tricky-dotenv.js';

describe('coffer import, export and secrets get', () => {
  let server: TestServer;
  const files = tempDir('coffer-files-');
  let local: Record<string, string>;
  let remote: (token: string) => Record<string, string>;
  let reader: string;
  let writer: string;

  before(async () => {
    server = await startTestServer();
    local = { COFFER_DATA_DIR: server.dataDir };
    remote = (token) => ({
      COFFER_URL: server.url,
      COFFER_TOKEN: token,
      COFFER_DATA_DIR: '/nonexistent/coffer',
    });
    reader = await server.createKey('default', 'reader', ['secrets:read']);
    writer = await server.createKey('default', 'writer', [
      'secrets:read',
      'secrets:write',
      'secrets:set-value',
    ]);
    writeFileSync(join(files.path, 'tricky.env'), TRICKY_DOTENV);
  });
  after(async () => {
    await server.close();
    files.remove();
  });

  for (const mode of ['local', 'remote'] as const) {
    const envOf = (token = server.adminToken) => (mode === 'local' ? local : remote(token));

    it(`${mode}: a tricky .env imports, exports as dotenv and JSON, and re-imports to the same values`, async () => {
      const store = `${mode}/tricky`;
      const imported = await runCoffer(
        ['import', '--tenant', 'default', '--store', store, join(files.path, 'tricky.env')],
        envOf(writer),
      );
      assert.equal(imported.code, 0, imported.stderr);
      assert.equal(imported.stdout, '');
      assert.match(imported.stderr, /Imported 14 secret/);

      const json = await runCoffer(
        ['export', '--tenant', 'default', '--store', store, '--format', 'json'],
        envOf(),
      );
      assert.equal(json.code, 0, json.stderr);
      assert.deepEqual(JSON.parse(json.stdout), TRICKY_VALUES);

      const dotenv = await runCoffer(['export', '--tenant', 'default', '--store', store], envOf());
      assert.equal(dotenv.code, 0, dotenv.stderr);
      const again = join(files.path, `${mode}-again.env`);
      writeFileSync(again, dotenv.stdout);
      await runCoffer(['import', '--tenant', 'default', '--store', `${store}-2`, again], envOf());
      const second = await runCoffer(
        ['export', '--tenant', 'default', '--store', `${store}-2`, '--format', 'json'],
        envOf(),
      );
      assert.deepEqual(JSON.parse(second.stdout), TRICKY_VALUES);

      const viaJson = join(files.path, `${mode}.json`);
      writeFileSync(viaJson, json.stdout);
      await runCoffer(['import', '--env', `default/${mode}/from-json`, viaJson], envOf());
      const third = await runCoffer(
        ['export', '--env', `default/${mode}/from-json`, '--format', 'json'],
        envOf(),
      );
      assert.deepEqual(JSON.parse(third.stdout), TRICKY_VALUES);
    });

    it(`${mode}: secrets get prints metadata, and the value only with --reveal`, async () => {
      const store = `${mode}/tricky`;
      const meta = await runCoffer(
        ['secrets', 'get', 'UNICODE', '--tenant', 'default', '--store', store],
        envOf(),
      );
      assert.equal(meta.code, 0, meta.stderr);
      assert.match(meta.stdout, /^name\tUNICODE$/m);
      assert.match(meta.stdout, /^version\t1$/m);
      assert.ok(!meta.stdout.includes(TRICKY_VALUES.UNICODE ?? '?'));
      const revealed = await runCoffer(
        ['secrets', 'get', 'UNICODE', '--tenant', 'default', '--store', store, '--reveal'],
        envOf(),
      );
      assert.equal(revealed.stdout, `${TRICKY_VALUES.UNICODE}\n`);
      const json = await runCoffer(
        ['secrets', 'get', 'MULTI', '--tenant', 'default', '--store', store, '--json', '--reveal'],
        envOf(),
      );
      assert.equal((JSON.parse(json.stdout) as { value: string }).value, TRICKY_VALUES.MULTI);
      const missing = await runCoffer(
        ['secrets', 'get', 'GHOST', '--tenant', 'default', '--store', store],
        envOf(),
      );
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /does not exist/);
    });

    it(`${mode}: a file with an invalid name writes nothing`, async () => {
      const bad = join(files.path, `${mode}-bad.env`);
      writeFileSync(bad, 'GOOD=1\nBAD.NAME=2\n');
      const res = await runCoffer(['import', '--tenant', 'default', '--store', `${mode}/bad`, bad], envOf());
      assert.equal(res.code, 1);
      assert.match(res.stderr, /BAD\.NAME/);
      const after = await runCoffer(['export', '--tenant', 'default', '--store', `${mode}/bad`], envOf());
      assert.equal(after.code, 1, 'not even the store was created');
    });
  }

  it('remote: export needs secrets:reveal (403), import needs write permissions', async () => {
    const exported = await runCoffer(
      ['export', '--tenant', 'default', '--store', 'local/tricky'],
      remote(reader),
    );
    assert.equal(exported.code, 1);
    assert.match(exported.stderr, /HTTP 403/);
    assert.equal(exported.stdout, '');
    const imported = await runCoffer(
      ['import', '--tenant', 'default', '--store', 'local/tricky', join(files.path, 'tricky.env')],
      remote(reader),
    );
    assert.equal(imported.code, 1);
    assert.match(imported.stderr, /HTTP 403/);
  });

  it('dotenv export refuses a value it cannot represent and names it; JSON still works', async () => {
    const file = join(files.path, 'hard.json');
    writeFileSync(file, JSON.stringify({ HARD: 'all \' three " quotes `', EASY: 'x' }));
    await runCoffer(['import', '--tenant', 'default', '--store', 'hard', file], local);
    const dotenv = await runCoffer(['export', '--tenant', 'default', '--store', 'hard'], local);
    assert.equal(dotenv.code, 1);
    assert.match(dotenv.stderr, /HARD.*--format json/);
    assert.equal(dotenv.stdout, '');
    const json = await runCoffer(
      ['export', '--tenant', 'default', '--store', 'hard', '--format', 'json'],
      local,
    );
    assert.deepEqual(JSON.parse(json.stdout), { EASY: 'x', HARD: 'all \' three " quotes `' });
  });
});
