import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { createTestSchema, type TestSchema, withAdminClient } from '../support/postgres-test-schema.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { EventStream } from '../v1/event-stream-client.js';

/** Two nodes on one PostgreSQL schema: a change made on one reaches the change streams of the other. */
describe('change streams across PostgreSQL nodes', () => {
  let schema: TestSchema;
  let nodeA: TestServer;
  let nodeB: TestServer;
  let admin: string;
  const streams: EventStream[] = [];

  before(async () => {
    schema = await createTestSchema();
    const env = { COFFER_DATABASE_URL: schema.url, COFFER_MASTER_KEY: randomBytes(32).toString('base64') };
    nodeA = await startTestServer({ env });
    nodeB = await startTestServer({ env });
    admin = nodeA.adminToken;
    assert.notEqual(admin, '');
  });
  after(async () => {
    for (const s of streams) s.close();
    await nodeA.close();
    await nodeB.close();
    await schema.drop();
  });

  const watchOn = async (node: TestServer) => {
    const s = await EventStream.open(`${node.url}/v1/tenants/default/events`, admin);
    streams.push(s);
    assert.equal(s.status, 200);
    await s.waitFor('ready', (x) => x.events.some((e) => e.event === 'ready'));
    return s;
  };
  const putOn = (node: TestServer, name: string, value: string) =>
    request(node.url, 'PUT', `/api/default/secrets/${name}`, { token: admin, body: { value } });
  const sawValue = (name: string) => (s: EventStream) =>
    s.changes().some((c) => c.kind === 'secret.value-set' && c.secret?.name === name);

  it('a change committed on node B reaches a subscriber of node A (LISTEN/NOTIFY)', async () => {
    const onA = await watchOn(nodeA);
    assert.equal((await putOn(nodeB, 'from-b', 'x')).status, 204);
    await onA.waitFor('the change made on B', sawValue('from-b'));
    const change = onA.changes().find((c) => c.secret?.name === 'from-b' && c.kind === 'secret.value-set');
    assert.equal(change?.version, 1);
    assert.equal(change?.store?.name, 'default');
  });

  it('a node whose listen connection was cut catches up from the chains: nothing committed meanwhile is lost', async () => {
    const onA = await watchOn(nodeA);
    const terminated = await withAdminClient(async (client) => {
      const r = await client.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1`,
        [`coffer-changes:${schema.schema}`.slice(0, 63)],
      );
      return r.rowCount ?? 0;
    });
    assert.ok(terminated >= 2, `listen connections terminated: ${terminated}`);
    for (let i = 0; i < 3; i++) assert.equal((await putOn(nodeB, `while-cut-${i}`, 'y')).status, 204);
    for (let i = 0; i < 3; i++) await onA.waitFor(`while-cut-${i}`, sawValue(`while-cut-${i}`));
    // And the listen connection is back: a later change still arrives.
    assert.equal((await putOn(nodeB, 'after-cut', 'z')).status, 204);
    await onA.waitFor('after-cut', sawValue('after-cut'));
  });
});
