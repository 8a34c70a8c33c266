import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OPERATOR } from '../../src/core/actor.js';
import { request } from '../support/http-client.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { dbCalls as dbCallsOf, startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 4: a forged `/v1` paging cursor must not turn one list request into a scan of the
 * store. Paging is keyset in storage (one range read of `limit + 1` rows after the last name), the
 * cursor is opaque and authenticated, and one request costs one storage read and one audit event,
 * whatever the cursor says. Run on both engines.
 */
const SECRETS = 300;
const TENANT = 'default';
const base = (store: string) => `/v1/tenants/${TENANT}/stores/${store}/secrets`;
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

interface Page {
  items: { name: string }[];
  nextCursor: string | null;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`forged /v1 cursors (${engine})`, () => {
    let server: TestServer;
    let schema: TestSchema | null = null;
    const names = Array.from({ length: SECRETS }, (_, i) => `KEY_${String(i).padStart(3, '0')}`);
    const get = (path: string, auth: 'x-api-key' | 'bearer' = 'x-api-key') =>
      request(server.url, 'GET', path, { token: server.adminToken, auth });

    /** Repository calls so far, per operation (coffer_db_operation_duration_seconds counts). */
    const dbCalls = () => dbCallsOf(server);

    /** The head seqs of the tenant's audit chains, summed: how many events they hold. */
    async function auditSeq(): Promise<number> {
      const chains = await server.runtime.repository.listAuditChains({ tenantId: TENANT });
      return chains.reduce((n, c) => n + (c.head?.seq ?? 0), 0);
    }

    /** Runs one request and reports what it cost: audit events appended and list reads made. */
    async function cost(path: string, auth: 'x-api-key' | 'bearer' = 'x-api-key') {
      const [seq, calls] = [await auditSeq(), await dbCalls()];
      const res = await get(path, auth);
      // Calls counted first, then the chains read: the count leaves out this test's own reads.
      const callsAfter = await dbCalls();
      const seqAfter = await auditSeq();
      const delta = (op: string) => (callsAfter.get(op) ?? 0) - (calls.get(op) ?? 0);
      // The webhook worker polls for active webhooks on its own timer: not this request's read.
      const listReads = [...callsAfter.keys()]
        .filter((op) => op.startsWith('list') && op !== 'listActiveWebhooks' && delta(op) > 0)
        .map((op) => `${op}×${delta(op)}`);
      return { res, events: seqAfter - seq, listReads };
    }

    before(async () => {
      if (engine === 'postgres') schema = await createTestSchema();
      server = await startTestServer(schema === null ? {} : { env: { COFFER_DATABASE_URL: schema.url } });
      for (const store of ['big', 'other']) {
        const res = await request(server.url, 'POST', `/v1/tenants/${TENANT}/stores`, {
          token: server.adminToken,
          body: { name: store },
        });
        assert.equal(res.status, 201, res.text);
      }
      const big = await server.runtime.core.stores.getByName(OPERATOR, TENANT, 'big');
      assert.ok(big);
      await server.runtime.core.secrets.createMany(
        OPERATOR,
        TENANT,
        { id: big.id },
        names.map((name) => ({ name })),
      );
    });
    after(async () => {
      await server.close();
      await schema?.drop();
    });

    it("refuses the issue's forged cursor with 400 in the /v1 shape, at the cost of one event and no list read", async () => {
      const forged = b64('{"a":"~","p":"","o":0}');
      const { res, events, listReads } = await cost(`${base('big')}?limit=1&cursor=${forged}`);
      assert.equal(res.status, 400, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const body = res.json as { status: number; code: string; title: string };
      assert.equal(body.status, 400);
      assert.equal(body.code, 'invalid_cursor');
      assert.equal(events, 1, 'only the refusal is recorded');
      assert.deepEqual(listReads, []);
    });

    it('refuses edited, transplanted, malformed and oversized cursors', async () => {
      const first = (await get(`${base('big')}?limit=2`)).json as Page;
      assert.ok(first.nextCursor);
      const [body, tag] = first.nextCursor.split('.');
      assert.ok(body !== undefined && tag !== undefined);
      const refused = async (path: string, why: string) => {
        const res = await get(path);
        assert.equal(res.status, 400, `${why}: ${res.text}`);
        assert.equal(
          (res.json as { code: string }).code,
          why === 'too long' ? 'validation_failed' : 'invalid_cursor',
          why,
        );
      };
      // A real name, but not the one the tag was issued for.
      await refused(`${base('big')}?limit=2&cursor=${b64('KEY_250')}.${tag}`, 'edited name');
      // The first character: all six of its bits are the tag's (the last one's low bits are padding,
      // so an edit there could decode to the same 16 bytes, about 1 run in 256).
      const flipped = `${tag.startsWith('A') ? 'B' : 'A'}${tag.slice(1)}`;
      await refused(`${base('big')}?limit=2&cursor=${body}.${flipped}`, 'edited tag');
      await refused(`${base('big')}?limit=2&cursor=${body}`, 'no tag');
      await refused(`${base('other')}?limit=2&cursor=${first.nextCursor}`, 'another store');
      await refused(`${base('big')}?limit=2&prefix=KEY_&cursor=${first.nextCursor}`, 'another prefix');
      await refused(`${base('big')}?limit=2&cursor=%25%25%25`, 'not base64url');
      await refused(
        `${base('big')}?limit=2&cursor=${b64('{"a":"KEY_100","p":"","o":150}')}`,
        'the old format',
      );
      await refused(`${base('big')}?limit=2&cursor=${'A'.repeat(1025)}`, 'too long');
      // The same cursor is still good where it was issued.
      const again = await get(`${base('big')}?limit=2&cursor=${first.nextCursor}`);
      assert.equal(again.status, 200, again.text);
      assert.deepEqual(
        (again.json as Page).items.map((i) => i.name),
        ['KEY_002', 'KEY_003'],
      );
    });

    it('a walk over the 300-secret store visits every name once; each page costs one event and one range read', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < SECRETS; page++) {
        const { res, events, listReads } = await cost(
          `${base('big')}?limit=7${cursor === null ? '' : `&cursor=${cursor}`}`,
        );
        assert.equal(res.status, 200, res.text);
        assert.equal(events, 1, `page ${page}: one audit event`);
        assert.deepEqual(listReads, ['listSecretsByName×1'], `page ${page}: one range read`);
        const body = res.json as Page;
        assert.ok(body.items.length <= 7);
        seen.push(...body.items.map((i) => i.name));
        cursor = body.nextCursor;
        if (cursor === null) break;
      }
      assert.equal(cursor, null, 'the walk ended');
      assert.deepEqual(seen, names, 'every name once, in order');
    });

    it('one request deep into the store, with limit=1, writes exactly one audit event and reads once', async () => {
      let cursor: string | null = null;
      for (let i = 0; i < 2; i++) {
        const res = await get(`${base('big')}?limit=100${cursor === null ? '' : `&cursor=${cursor}`}`);
        cursor = (res.json as Page).nextCursor;
      }
      assert.ok(cursor, 'a cursor 200 names in');
      const { res, events, listReads } = await cost(`${base('big')}?limit=1&cursor=${cursor}`);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(
        (res.json as Page).items.map((i) => i.name),
        ['KEY_200'],
      );
      assert.equal(events, 1);
      assert.deepEqual(listReads, ['listSecretsByName×1']);
    });

    it('the other facades cost one audit event and bounded reads per list request, whatever the page', async () => {
      const big = await server.runtime.core.stores.getByName(OPERATOR, TENANT, 'big');
      assert.ok(big);
      const cf = `/client/v4/accounts/${TENANT}/secrets_store/stores`;
      // Cloudflare page/per_page: offset paging, LIMIT/OFFSET in storage, one read per request.
      const far = await cost(`${cf}?page=100000&per_page=100`, 'bearer');
      assert.equal(far.res.status, 200, far.res.text);
      assert.deepEqual((far.res.json as { result: unknown[] }).result, []);
      assert.equal(far.events, 1);
      assert.deepEqual(far.listReads, ['listStoresPage×1']);
      const secrets = await cost(`${cf}/${big.id}/secrets?page=2&per_page=100&order=name`, 'bearer');
      assert.equal(secrets.res.status, 200, secrets.res.text);
      const result = (secrets.res.json as { result: { name: string }[] }).result;
      assert.deepEqual(
        result.map((r) => r.name),
        names.slice(100, 200),
      );
      assert.equal(secrets.events, 1);
      assert.deepEqual(secrets.listReads, ['listSecrets×1']);
      // envs lists a whole environment (its contract has no paging): keyset batches of 500, one list event.
      const env = await server.runtime.core.stores.create(OPERATOR, TENANT, 'proj/dev');
      await server.runtime.core.secrets.createMany(
        OPERATOR,
        TENANT,
        { id: env.id },
        Array.from({ length: 700 }, (_, i) => ({ name: `ENV_${String(i).padStart(3, '0')}` })),
      );
      const [seq, calls] = [await auditSeq(), await dbCalls()];
      const res = await request(server.url, 'GET', `/${TENANT}/proj/envs/dev/secrets`, {
        token: server.adminToken,
        auth: 'bearer',
      });
      assert.equal(res.status, 200, res.text);
      assert.equal((res.json as unknown[]).length, 700);
      // One core call, one list event (secret.list), never one per batch.
      assert.equal((await auditSeq()) - seq, 1);
      const reads = ((await dbCalls()).get('listSecretsByName') ?? 0) - (calls.get('listSecretsByName') ?? 0);
      assert.equal(reads, 2, 'two keyset batches of at most 500');
    });

    it('store lists page by keyset too: one event, one range read, forged cursors refused', async () => {
      const forged = b64('{"a":"~","p":"","o":0}');
      const refused = await get(`/v1/tenants/${TENANT}/stores?limit=1&cursor=${forged}`);
      assert.equal(refused.status, 400, refused.text);
      assert.equal((refused.json as { code: string }).code, 'invalid_cursor');
      const first = await cost(`/v1/tenants/${TENANT}/stores?limit=1`);
      assert.equal(first.res.status, 200);
      assert.equal(first.events, 1);
      assert.deepEqual(first.listReads, ['listStoresByName×1']);
      const page = first.res.json as Page;
      assert.ok(page.nextCursor);
      const secretsCursor = ((await get(`${base('big')}?limit=1`)).json as Page).nextCursor;
      const transplanted = await get(`/v1/tenants/${TENANT}/stores?limit=1&cursor=${secretsCursor}`);
      assert.equal(transplanted.status, 400, 'a secrets cursor is no store cursor');
    });
  });
}
