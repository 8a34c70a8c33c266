import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { spawnServer, type ServerProcess, TOKEN_PATTERN } from '../support/coffer-process.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { tempDir } from '../support/temp-dir.js';
import { testEngine } from '../support/test-server.js';
import { WebhookReceiver } from './webhook-receiver.js';
import { createStore, createWebhook, logUntil, putSecret, secretNameOf } from './webhook-support.js';

/**
 * At least once across a crash: `coffer serve` is killed with SIGKILL while it is delivering (the
 * receiver is slow, so an attempt is in flight), and a new server over the same data delivers every
 * change, verified and still in order per store. Runs on COFFER_TEST_ENGINE's engine.
 */
describe('webhooks across kill -9', () => {
  const dir = tempDir('coffer-webhook-crash-');
  let schema: TestSchema | null = null;
  let receiver: WebhookReceiver | null = null;
  const servers: ServerProcess[] = [];
  after(async () => {
    for (const s of servers) s.child.kill('SIGKILL');
    await receiver?.close();
    await schema?.drop();
    dir.remove();
  });

  it('delivers every change after a restart, at least once, in order', async () => {
    if (testEngine() === 'postgres') schema = await createTestSchema();
    const env: Record<string, string> = {
      COFFER_DATA_DIR: dir.path,
      COFFER_WEBHOOKS_ALLOW_PRIVATE: 'true',
      COFFER_WEBHOOKS_BACKOFF_MS: '50',
      // The restarted server is another owner: the dead one's lease must run out first.
      COFFER_WEBHOOKS_LEASE_SECONDS: '2',
      ...(schema === null ? {} : { COFFER_DATABASE_URL: schema.url }),
    };
    receiver = await WebhookReceiver.start();
    const r = receiver;
    r.responder = () => ({ status: 200, delayMs: 300 });
    const first = await spawnServer(env);
    servers.push(first);
    const adminToken = TOKEN_PATTERN.exec(first.output())?.[0] ?? '';
    TOKEN_PATTERN.lastIndex = 0;
    assert.ok(adminToken !== '', first.output());
    const server = { url: first.url, adminToken };
    const hook = await createWebhook(server.url, adminToken, {
      url: r.url,
      eventKinds: ['secret.created'],
      stores: ['crash'],
    });
    r.secret = hook.secret;
    await createStore(server, 'crash');
    const names = Array.from({ length: 10 }, (_, i) => `C${i}`);
    for (const name of names) assert.equal(await putSecret(server, 'crash', name, 'v'), 201);
    await r.until(() => r.received.length >= 2, 'deliveries to be under way');
    first.child.kill('SIGKILL');
    await first.exited;
    const deliveredBefore = r.delivered().length;
    assert.ok(deliveredBefore < names.length, 'the kill came mid-delivery');

    r.responder = () => ({ status: 200 });
    const second = await spawnServer(env);
    servers.push(second);
    await r.until(() => r.delivered().length === names.length, 'every change, after the restart', 60_000);
    assert.deepEqual(
      r.delivered().map((d) => secretNameOf(d.body)),
      names,
    );
    assert.ok(
      r.received.every((d) => d.verified),
      'every request verified',
    );
    const log = await logUntil(
      { url: second.url, adminToken },
      hook.id,
      (l) => l.every((e) => e.status === 'delivered') && l.length === names.length,
      'the log',
    );
    assert.equal(log.length, names.length);
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
