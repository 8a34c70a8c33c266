import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { EnvsClient } from '../envs/envs-client.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { breakAuditInserts, repairAuditInserts } from '../support/raw-database.js';
import { chainOf } from './audit-events.js';

/**
 * Fail closed: while no audit event can be written (a trigger makes every insert abort), nothing
 * changes and no value is returned; every facade answers 503. Refusals keep their own answer.
 */
const VALUE = 'fail-closed-value-5e1b';

describe('audit: fail closed', () => {
  let server: TestServer;
  let reader: string;

  const breakAudit = () => breakAuditInserts(server);
  const repairAudit = () => repairAuditInserts(server);

  before(async () => {
    server = await startTestServer();
    reader = await server.createKey('default', 'reader', ['secrets:read']);
    const put = await request(server.url, 'PUT', '/api/default/secrets/existing', {
      token: server.adminToken,
      body: { value: VALUE },
    });
    assert.equal(put.status, 204);
  });
  after(() => server.close());

  it('no change is committed and no value returned without its event; every facade answers 503', async () => {
    const token = server.adminToken;
    const eventsBefore = (await chainOf(server, 'default')).length;
    await breakAudit();
    try {
      const put = await request(server.url, 'PUT', '/api/default/secrets/new-one', {
        token,
        body: { value: VALUE },
      });
      assert.equal(put.status, 503);
      assert.equal((put.json as { code: string }).code, 'audit_unavailable');

      const reveal = await request(server.url, 'GET', '/api/default/secrets/existing', { token });
      assert.equal(reveal.status, 503);
      assert.ok(!reveal.text.includes(VALUE), 'the value is not returned unrecorded');

      const del = await request(server.url, 'DELETE', '/api/default/secrets/existing', { token });
      assert.equal(del.status, 503);

      const key = await request(server.url, 'POST', '/api/default/admin/apiKeys', {
        token,
        body: { name: 'unrecorded', permissions: ['secrets:read'] },
      });
      assert.equal(key.status, 503);
      assert.ok(!/coffer_/.test(key.text), 'no token handed out');

      const cf = await request(server.url, 'POST', '/client/v4/accounts/default/secrets_store/stores', {
        token,
        auth: 'bearer',
        body: { name: 'unrecorded' },
      });
      assert.equal(cf.status, 503);
      assert.equal((cf.json as { success: boolean }).success, false);

      const envs = new EnvsClient(server);
      const declared = await envs.call('POST', '/default/app/envs/prod/secrets', {
        body: { kind: 'Secret', name: 'UNRECORDED' },
      });
      assert.equal(declared.status, 503);

      // A refusal changed and returned nothing: it keeps its own answer.
      const refused = await request(server.url, 'GET', '/api/default/secrets/existing', { token: reader });
      assert.equal(refused.status, 403);
    } finally {
      await repairAudit();
    }

    assert.equal((await chainOf(server, 'default')).length, eventsBefore, 'no event was written');
    assert.equal((await request(server.url, 'GET', '/api/default/secrets/new-one', { token })).status, 404);
    const kept = await request(server.url, 'GET', '/api/default/secrets/existing', { token });
    assert.equal(kept.text, VALUE, 'the delete was rolled back');
    assert.equal(
      (await request(server.url, 'GET', '/api/default/admin/apiKeys/unrecorded', { token })).status,
      404,
    );
    const stores = await request(server.url, 'GET', '/client/v4/accounts/default/secrets_store/stores', {
      token,
      auth: 'bearer',
    });
    assert.equal(stores.status, 200, stores.text);
    assert.ok((stores.json as { result: unknown[] }).result.length > 0, 'the read itself works');
    assert.ok(!stores.text.includes('unrecorded'));
    assert.deepEqual(await server.runtime.repository.getStoreByName('default', 'app/prod', null), null);
    // Not `every` alone: over no chain at all it would pass. The default chains exist and verify,
    // holding the events written before the audit broke and the reads after it was repaired: the
    // heads this process kept in memory while its transactions failed were re-read, not trusted.
    const checks = await server.runtime.core.audit.verify(OPERATOR);
    const ofDefault = checks.filter((c) => c.tenantId === 'default');
    assert.ok(ofDefault.length >= 2 && ofDefault.every((c) => c.ok), JSON.stringify(ofDefault));
    const held = ofDefault.reduce((n, c) => n + (c.ok ? c.events : 0), 0);
    assert.ok(held > eventsBefore, `${held} > ${eventsBefore}`);
    assert.deepEqual(
      checks.filter((c) => !c.ok),
      [],
    );
  });
});
