import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCoffer } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { tempDir } from '../support/temp-dir.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface AuditEvent {
  readonly actor: string;
  readonly action: string;
  readonly resource: string;
}

describe('coffer secrets set, list and delete', () => {
  let server: TestServer;
  let work: { path: string; remove(): void };
  let local: Record<string, string>;
  let remote: (token: string) => Record<string, string>;
  let writer: string;

  before(async () => {
    server = await startTestServer();
    work = tempDir('coffer-secrets-cli-');
    local = { COFFER_DATA_DIR: server.dataDir, HOME: work.path };
    writer = await server.createKey('default', 'writer', ['Secret.Read', 'Secret.Write']);
    remote = (token) => ({
      COFFER_URL: server.url,
      COFFER_TOKEN: token,
      COFFER_DATA_DIR: '/nonexistent/coffer',
      HOME: work.path,
    });
  });
  after(async () => {
    await server.close();
    work.remove();
  });

  const auditOf = async (action: string): Promise<AuditEvent[]> => {
    const res = await request(server.url, 'GET', `/api/default/audit?limit=100&action=${action}`, {
      token: server.adminToken,
    });
    assert.equal(res.status, 200, res.text);
    return (res.json as { events: AuditEvent[] }).events;
  };

  for (const mode of ['local', 'remote'] as const) {
    const store = `cli-${mode}`;
    const at = ['--tenant', 'default', '--store', store];
    const env = () => (mode === 'local' ? local : remote(writer));

    it(`${mode}: sets a value from an argument, a file or stdin, creating the store; never prints it`, async () => {
      const fromArg = await runCoffer(['secrets', 'set', 'FROM_ARG', 'arg-value-5d1e', ...at], env());
      assert.equal(fromArg.code, 0, fromArg.stderr);
      const file = join(work.path, `${mode}.pem`);
      writeFileSync(file, 'line one\nline two\n');
      const fromFile = await runCoffer(['secrets', 'set', 'FROM_FILE', '--file', file, ...at], env());
      assert.equal(fromFile.code, 0, fromFile.stderr);
      const fromStdin = await runCoffer(['secrets', 'set', 'from-stdin', '-', ...at], env(), {
        input: 'stdin-value-8a2c\n',
      });
      assert.equal(fromStdin.code, 0, fromStdin.stderr);
      for (const r of [fromArg, fromFile, fromStdin]) {
        assert.equal(r.stdout, '');
        assert.match(r.stderr, new RegExp(`^Set secret '[A-Za-z_-]+' in default/${store}\\.\\n$`));
        for (const v of ['arg-value-5d1e', 'line one', 'stdin-value-8a2c']) assert.ok(!r.stderr.includes(v));
      }
      const reveal = (name: string) =>
        request(server.url, 'GET', `/v1/tenants/default/stores/${store}/secrets/${name}?reveal=true`, {
          token: server.adminToken,
          auth: 'bearer',
        });
      assert.equal(((await reveal('FROM_ARG')).json as { value: string }).value, 'arg-value-5d1e');
      // A file is taken byte for byte; stdin loses its one final newline (`echo VALUE | …`).
      assert.equal(((await reveal('FROM_FILE')).json as { value: string }).value, 'line one\nline two\n');
      assert.equal(((await reveal('from-stdin')).json as { value: string }).value, 'stdin-value-8a2c');
    });

    it(`${mode}: lists names and versions, never values; deletes one`, async () => {
      const again = await runCoffer(['secrets', 'set', 'FROM_ARG', 'second-value-7f0b', ...at], env());
      assert.equal(again.code, 0, again.stderr);
      const list = await runCoffer(['secrets', 'list', ...at], env());
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(
        list.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('\t').slice(0, 2)),
        [
          ['FROM_ARG', 'v2'],
          ['FROM_FILE', 'v1'],
          ['from-stdin', 'v1'],
        ],
      );
      assert.ok(!list.stdout.includes('second-value-7f0b'));
      const json = await runCoffer(['secrets', 'list', '--json', ...at], env());
      assert.deepEqual(
        (JSON.parse(json.stdout) as { name: string }[]).map((s) => s.name),
        ['FROM_ARG', 'FROM_FILE', 'from-stdin'],
      );
      const deleted = await runCoffer(['secrets', 'delete', 'FROM_FILE', ...at], env());
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.match(deleted.stderr, new RegExp(`Deleted secret 'FROM_FILE' from default/${store}`));
      const gone = await runCoffer(['secrets', 'get', 'FROM_FILE', ...at], env());
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, new RegExp(`secret 'FROM_FILE' in store '${store}' of tenant 'default'`));
      const twice = await runCoffer(['secrets', 'delete', 'FROM_FILE', ...at], env());
      assert.equal(twice.code, 1);
    });

    it(`${mode}: every call is audited through the core, with the caller`, async () => {
      const actor = mode === 'local' ? 'operator' : 'key:writer';
      const mine = (events: AuditEvent[]) => events.filter((e) => e.actor === actor);
      const sets = mine(await auditOf('secret.set-value'));
      assert.ok(sets.length >= 4, `set-value events of ${actor}: ${sets.length}`);
      assert.ok(mine(await auditOf('secret.delete')).length >= 1);
      assert.ok(mine(await auditOf('secret.list')).length >= 2);
    });

    it(`${mode}: a missing store or tenant is named, with the command that creates it`, async () => {
      const noStore = await runCoffer(['secrets', 'list', '--tenant', 'default', '--store', 'nope'], env());
      assert.equal(noStore.code, 1);
      assert.match(
        noStore.stderr,
        /^coffer: store 'nope' of tenant 'default' does not exist: .*`coffer secrets set NAME --tenant default --store nope -`/,
      );
      const noTenant = await runCoffer(['secrets', 'list', '--tenant', 'ghost', '--store', 'x'], env());
      assert.equal(noTenant.code, 1);
      assert.match(noTenant.stderr, /tenant 'ghost' does not exist.*coffer keys create --tenant ghost/);
    });
  }

  it('usage errors: no name, two values, unknown subcommand (exit 2, the command’s usage)', async () => {
    const at = ['--tenant', 'default', '--store', 'x'];
    for (const args of [
      ['secrets', 'set', ...at],
      ['secrets', 'set', 'A', 'v', '--file', '/dev/null', ...at],
      ['secrets', 'frob'],
    ]) {
      const r = await runCoffer(args, local);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^coffer: .+\nUsage:\n {2}secrets /);
      assert.ok(!r.stderr.includes('master-key'), 'not the whole manual');
    }
  });

  it('run: names that are not environment names say how to pass them; --name-transformer does', async () => {
    const at = ['--tenant', 'default', '--store', 'names'];
    assert.equal((await runCoffer(['secrets', 'set', 'db-password', 'hunter2-3c9d', ...at], local)).code, 0);
    const printEnv = [process.execPath, '-e', 'process.stdout.write(process.env.DB_PASSWORD ?? "unset")'];
    const skipped = await runCoffer(['run', ...at, '--', ...printEnv], local);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.equal(skipped.stdout, 'unset');
    assert.match(
      skipped.stderr,
      /db-password \(pass --name-transformer upper-snake to get them as DB_PASSWORD\)/,
    );
    const mapped = await runCoffer(
      ['run', ...at, '--name-transformer', 'upper-snake', '--', ...printEnv],
      local,
    );
    assert.equal(mapped.code, 0, mapped.stderr);
    assert.equal(mapped.stdout, 'hunter2-3c9d');
    assert.ok(!mapped.stderr.includes('hunter2'));
    // Two secrets landing on one name: refused, naming both, before anything starts.
    assert.equal((await runCoffer(['secrets', 'set', 'DB_PASSWORD', 'other', ...at], local)).code, 0);
    const clash = await runCoffer(
      ['run', ...at, '--name-transformer', 'upper-snake', '--', ...printEnv],
      local,
    );
    assert.equal(clash.code, 1);
    assert.match(
      clash.stderr,
      /secrets (DB_PASSWORD and db-password|db-password and DB_PASSWORD) would both become DB_PASSWORD/,
    );
    assert.equal(clash.stdout, '');
  });
});
