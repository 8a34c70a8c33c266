import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { CliResult } from '../support/coffer-process.js';
import { request } from '../support/http-client.js';
import { connectHost, GUARD_ACTIVE, GUARD_MARK, isLoopback } from '../support/loopback-guard.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { type Wrangler, wrangler } from '../support/wrangler.js';

const ACCOUNT = 'acme';
const VALUE = 'wrangler-value-3f1d';
const PIPED = 'wrangler-piped-value-a7e2';
const UPDATED = 'wrangler-updated-value-90bc';
/** The id wrangler reports last (`✅ Created …! (… ID: x)` follows the echo of the source id). */
function reportedId(output: string): string {
  const ids = [...output.matchAll(/ID: ([0-9a-f]{32})\)/g)].map((m) => m[1] ?? '');
  return ids.at(-1) ?? '';
}

interface SecretView {
  id: string;
  name: string;
  scopes: string[];
  comment: string;
  status: string;
}

/**
 * Cloudflare's own wrangler 4 (pinned in tools/wrangler), unchanged and on its packaged Node 22,
 * drives every `secrets-store` store and secret subcommand against a real listening Coffer; each
 * result is read back through Coffer (the Cloudflare API for metadata, /v1 for values).
 */
describe('wrangler secrets-store against Coffer', () => {
  let server: TestServer;
  let cli: Wrangler;
  let reader = '';
  const outputs: CliResult[] = [];

  async function ok(args: string[], stdin?: string): Promise<string> {
    const result = await cli.run([...args, '--remote'], stdin === undefined ? {} : { stdin });
    outputs.push(result);
    assert.equal(result.code, 0, `wrangler ${args.join(' ')}\n${result.stdout}\n${result.stderr}`);
    return result.stdout;
  }
  const cf = (path: string) =>
    request(server.url, 'GET', `/client/v4/accounts/${ACCOUNT}/secrets_store${path}`, {
      token: reader,
      auth: 'bearer',
    });
  async function secretView(storeId: string, secretId: string): Promise<SecretView> {
    const res = await cf(`/stores/${storeId}/secrets/${secretId}`);
    assert.equal(res.status, 200, res.text);
    return (res.json as { result: SecretView }).result;
  }
  async function revealed(store: string, name: string): Promise<string> {
    const res = await request(
      server.url,
      'GET',
      `/v1/tenants/${ACCOUNT}/stores/${store}/secrets/${name}?reveal=true`,
      {
        token: reader,
        auth: 'bearer',
      },
    );
    assert.equal(res.status, 200, res.text);
    return (res.json as { value: string }).value;
  }

  before(async () => {
    server = await startTestServer();
    const token = await server.createKey(ACCOUNT, 'wrangler', ['Secrets Store Write']);
    reader = await server.createKey(ACCOUNT, 'reader', ['*']);
    cli = wrangler({ url: server.url, accountId: ACCOUNT, token });
  });

  after(async () => {
    cli.remove();
    await server.close();
    // Every run stayed on loopback (the guard was loaded and refused nothing) and printed no value.
    assert.ok(outputs.length > 0);
    for (const { stdout, stderr } of outputs) {
      assert.ok(stderr.includes(GUARD_ACTIVE), stderr);
      assert.ok(!stderr.includes(GUARD_MARK), stderr);
      for (const value of [VALUE, PIPED, UPDATED]) assert.ok(!`${stdout}${stderr}`.includes(value));
    }
  });

  test('the loopback guard tells loopback from everything else', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) {
      assert.equal(isLoopback(host), true, host);
    }
    for (const host of [
      'registry.npmjs.org',
      'sparrow.cloudflare.com',
      '10.0.0.1',
      '::',
      '0.0.0.0',
      '128.0.0.1',
    ]) {
      assert.equal(isLoopback(host), false, host);
    }
    assert.equal(connectHost([{ host: 'api.cloudflare.com', port: 443 }]), 'api.cloudflare.com');
    assert.equal(connectHost([443, 'api.cloudflare.com']), 'api.cloudflare.com');
    assert.equal(connectHost([443]), 'localhost');
    assert.equal(connectHost([{ path: '/run/x.sock' }]), null);
  });

  test('store create, list and delete; secret create, list, get, update, duplicate and delete', async () => {
    // store create: the first thing that used to fail (415 unsupported_media_type).
    const created = await ok(['secrets-store', 'store', 'create', 'service_x_keys']);
    const storeId = reportedId(created);
    assert.match(storeId, /^[0-9a-f]{32}$/, created);
    const store = await cf(`/stores/${storeId}`);
    assert.equal(store.status, 200, store.text);
    assert.equal((store.json as { result: { name: string } }).result.name, 'service_x_keys');

    const stores = await ok(['secrets-store', 'store', 'list']);
    assert.match(stores, new RegExp(`service_x_keys\\s*│\\s*${storeId}\\s*│\\s*${ACCOUNT}`));

    // secret create: the value from --value, then from standard input (wrangler trims the newline).
    const first = reportedId(
      await ok([
        'secrets-store',
        'secret',
        'create',
        storeId,
        '--name',
        'API_KEY',
        '--scopes',
        'workers',
        '--value',
        VALUE,
      ]),
    );
    assert.ok(first);
    assert.equal(await revealed(storeId, 'API_KEY'), VALUE);
    const piped = reportedId(
      await ok(
        [
          'secrets-store',
          'secret',
          'create',
          storeId,
          '--name',
          'FROM_STDIN',
          '--scopes',
          'workers,ai_gateway',
          '--comment',
          'piped',
        ],
        `${PIPED}\n`,
      ),
    );
    assert.ok(piped);
    assert.equal(await revealed(storeId, 'FROM_STDIN'), PIPED);
    const pipedView = await secretView(storeId, piped);
    assert.deepEqual([pipedView.scopes, pipedView.comment], [['workers', 'ai_gateway'], 'piped']);

    const list = await ok(['secrets-store', 'secret', 'list', storeId]);
    assert.ok(list.includes(first) && list.includes(piped), list);
    const got = await ok(['secrets-store', 'secret', 'get', storeId, '--secret-id', first]);
    assert.match(got, new RegExp(`API_KEY\\s*│\\s*${first}\\s*│\\s*${storeId}`));

    // secret update: value, scopes and comment in one PATCH; then the comment alone.
    await ok([
      'secrets-store',
      'secret',
      'update',
      storeId,
      '--secret-id',
      first,
      '--value',
      UPDATED,
      '--scopes',
      'workers,ai_gateway',
      '--comment',
      'rotated',
    ]);
    assert.equal(await revealed(storeId, 'API_KEY'), UPDATED);
    let view = await secretView(storeId, first);
    assert.deepEqual(
      [view.scopes, view.comment, view.status],
      [['workers', 'ai_gateway'], 'rotated', 'active'],
    );
    await ok([
      'secrets-store',
      'secret',
      'update',
      storeId,
      '--secret-id',
      first,
      '--comment',
      'only the comment',
    ]);
    view = await secretView(storeId, first);
    assert.equal(view.comment, 'only the comment');
    assert.equal(await revealed(storeId, 'API_KEY'), UPDATED);

    // secret duplicate: a new secret with the source's value.
    const copy = reportedId(
      await ok([
        'secrets-store',
        'secret',
        'duplicate',
        storeId,
        '--secret-id',
        first,
        '--name',
        'API_KEY_COPY',
        '--scopes',
        'workers',
      ]),
    );
    assert.ok(copy && copy !== first);
    assert.equal(await revealed(storeId, 'API_KEY_COPY'), UPDATED);
    assert.equal((await secretView(storeId, copy)).name, 'API_KEY_COPY');

    // secret delete, then store delete once the store is empty.
    for (const id of [first, piped, copy]) {
      await ok(['secrets-store', 'secret', 'delete', storeId, '--secret-id', id]);
      assert.equal((await cf(`/stores/${storeId}/secrets/${id}`)).status, 404);
    }
    await ok(['secrets-store', 'store', 'delete', storeId]);
    assert.equal((await cf(`/stores/${storeId}`)).status, 404);
  });

  test("`npm run wrangler` (scripts/wrangler.sh, the README's command) runs that wrangler on Node 22", async () => {
    const result = await cli.run(['secrets-store', 'store', 'create', 'readme_keys', '--remote'], {
      viaScript: true,
    });
    outputs.push(result);
    assert.equal(result.code, 0, `${result.stdout}\n${result.stderr}`);
    const storeId = reportedId(result.stdout);
    const store = await cf(`/stores/${storeId}`);
    assert.equal(store.status, 200, store.text);
    assert.equal((store.json as { result: { name: string } }).result.name, 'readme_keys');
  });

  test("a refusal reaches the wrangler user as Coffer's code and message, exit code 1", async () => {
    await ok(['secrets-store', 'store', 'create', 'taken']);
    const again = await cli.run(['secrets-store', 'store', 'create', 'taken', '--remote']);
    outputs.push(again);
    assert.equal(again.code, 1, again.stdout);
    assert.match(again.stderr, /store_name_taken|\[code: 1\d{3}\]/);
    assert.match(again.stderr, /\[code: \d+\]/);
  });
});
