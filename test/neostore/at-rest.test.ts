import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from '../support/http-client.js';
import { storageBytes } from '../support/raw-database.js';
import { startTestServer } from '../support/test-server.js';

describe('nothing in plaintext at rest', () => {
  it('the data directory holds no secret value and no token after writes, updates and deletes', async () => {
    const server = await startTestServer();
    const admin = server.adminToken;
    const values = ['plaintext-canary-0001', 'Ünïcødé-canary-✓', `${'long-canary-'.repeat(500)}end`];
    const created = await request(server.url, 'POST', '/api/default/admin/apiKeys', {
      token: admin,
      body: { name: 'canary-key', permissions: ['Secret.Read'] },
    });
    const keyToken = (created.json as { token: string }).token;
    for (const [i, value] of values.entries()) {
      assert.equal(
        (await request(server.url, 'PUT', `/api/default/secrets/s${i}`, { token: admin, body: { value } }))
          .status,
        204,
      );
    }
    await request(server.url, 'PUT', '/api/default/secrets/s0', {
      token: admin,
      body: { value: 'rotated-canary-0002' },
    });
    await request(server.url, 'DELETE', '/api/default/secrets/s1', { token: admin });
    // Reads go through the real path too.
    assert.equal(
      (await request(server.url, 'GET', '/api/default/secrets/s2', { token: keyToken })).text,
      values[2],
    );

    const bytes = await storageBytes(server);
    assert.ok(bytes.length > 0);
    for (const needle of [...values, 'rotated-canary-0002', admin, keyToken]) {
      for (const encoding of ['utf8', 'utf16le'] as const) {
        assert.equal(
          bytes.includes(Buffer.from(needle, encoding)),
          false,
          `${needle.slice(0, 30)} found (${encoding})`,
        );
      }
    }
    if (server.engine === 'sqlite') {
      // SQLite only: the files once the server has closed (checkpointed WAL). PostgreSQL's files
      // belong to its server; its rows were searched above.
      await server.close({ keepData: true });
      const afterClose = await storageBytes(server);
      for (const needle of [...values, admin, keyToken])
        assert.equal(afterClose.includes(Buffer.from(needle)), false);
    } else await server.close();
  });
});
