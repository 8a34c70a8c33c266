import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Actor, OPERATOR } from '../../src/core/actor.js';
import { ForbiddenError, InvalidError, NotFoundError } from '../../src/core/errors.js';
import { CLOUDFLARE_ERRORS, type CloudflareErrorName } from '../../src/http/cloudflare/cloudflare-errors.js';
import { request, type HttpResult } from '../support/http-client.js';
import { createTestSchema, type TestSchema } from '../support/postgres-test-schema.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

/**
 * Issue 13, item 1: a platform service credential (`coffer keys create --service payments`) reached
 * every tenant's unmanaged `default` store through `/api`, and created tenants (any name) on a PUT.
 * The rule, held by the core: a service acts only on the stores it manages, only through the
 * Cloudflare `system/` routes, and never brings a tenant into existence (docs/adr/0007).
 */
const VICTIM = 'tenantb';
const ORIGINAL = 'b-original-value-5d1c';
const PLANTED = 'planted-by-service-93ab';
const BIDI = '%E2%80%AEgnp.exe';

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`service credentials across tenants (${engine})`, () => {
    let server: TestServer;
    let schema: TestSchema | null = null;
    let admin = '';
    let payments = '';
    let billing = '';
    const payActor: Actor = { kind: 'service', serviceName: 'payments' };

    const as = (token: string, method: string, path: string, body?: unknown, auth?: 'bearer') =>
      request(server.url, method, path, {
        token,
        ...(auth === undefined ? {} : { auth }),
        ...(body === undefined ? {} : { body }),
      });

    /** What tenant B's admin sees afterwards: the attack left no trace in its data. */
    async function assertVictimUntouched(): Promise<void> {
      const value = await as(admin, 'GET', `/api/${VICTIM}/secrets/bsecret`);
      assert.equal(value.status, 200);
      assert.equal(value.text, ORIGINAL);
      const names = await as(admin, 'GET', `/api/${VICTIM}/secrets`);
      assert.deepEqual(names.json, ['bsecret']);
      // Only what the system/ routes test below creates, on purpose, through the system/ routes.
      const stores = (await server.runtime.core.stores.list(OPERATOR, VICTIM)).filter(
        (s) => s.name !== 'pay_keys',
      );
      assert.deepEqual(
        stores.map((s) => [s.name, s.managedBy]),
        [['default', null]],
        'no store was created in the victim tenant',
      );
    }

    async function assertNoTenant(id: string): Promise<void> {
      assert.equal(await server.runtime.repository.getTenant(id), null, `tenant ${JSON.stringify(id)}`);
    }

    function assertProblem(res: HttpResult, status: number, code: string): void {
      assert.equal(res.status, status, res.text);
      assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
      assert.equal((res.json as { code?: string }).code, code, res.text);
    }

    /** The envelope of a refusal, with the numeric code of `name` (docs/cloudflare-errors.md). */
    function assertCloudflare(res: HttpResult, status: number, name: CloudflareErrorName): void {
      assert.equal(res.status, status, res.text);
      const body = res.json as { success: boolean; errors: { code: number }[]; result: unknown };
      assert.equal(body.success, false);
      assert.equal(body.result, null);
      assert.equal(body.errors[0]?.code, CLOUDFLARE_ERRORS[name].code, res.text);
    }

    function assertEnvs(res: HttpResult, status: number, code: string): void {
      assert.equal(res.status, status, res.text);
      assert.deepEqual(Object.keys(res.json as object).sort(), ['code', 'error']);
      assert.equal((res.json as { code: string }).code, code);
    }

    before(async () => {
      schema = engine === 'postgres' ? await createTestSchema() : null;
      server = await startTestServer(schema === null ? {} : { env: { COFFER_DATABASE_URL: schema.url } });
      admin = await server.createKey(VICTIM, 'admin', ['*']);
      payments = await server.createService('payments');
      billing = await server.createService('billing');
      const put = await as(admin, 'PUT', `/api/${VICTIM}/secrets/bsecret`, { value: ORIGINAL });
      assert.equal(put.status, 204);
    });
    after(async () => {
      await server.close();
      await schema?.drop();
    });

    it('Neostore: PUT, GET value, list and DELETE on another tenant’s default store are 403, nothing changes', async () => {
      assertProblem(
        await as(payments, 'PUT', `/api/${VICTIM}/secrets/bsecret`, { value: PLANTED }),
        403,
        'service_not_allowed',
      );
      assertProblem(
        await as(payments, 'PUT', `/api/${VICTIM}/secrets/fresh`, { value: PLANTED }),
        403,
        'service_not_allowed',
      );
      assertProblem(await as(payments, 'GET', `/api/${VICTIM}/secrets/bsecret`), 403, 'service_not_allowed');
      assertProblem(await as(payments, 'GET', `/api/${VICTIM}/secrets`), 403, 'service_not_allowed');
      assertProblem(
        await as(payments, 'DELETE', `/api/${VICTIM}/secrets/bsecret`),
        403,
        'service_not_allowed',
      );
      assertProblem(await as(payments, 'GET', `/api/${VICTIM}/admin/apiKeys`), 403, 'service_not_allowed');
      assertProblem(
        await as(payments, 'POST', `/api/${VICTIM}/admin/apiKeys`, { name: 'mine', permissions: ['*'] }),
        403,
        'service_not_allowed',
      );
      assertProblem(await as(payments, 'GET', `/api/${VICTIM}/audit`), 403, 'service_not_allowed');
      await assertVictimUntouched();
      assert.deepEqual(
        (await server.runtime.core.apiKeys.list(OPERATOR, VICTIM)).map((k) => k.name),
        ['admin'],
      );
    });

    it('Neostore: a PUT on a tenant that does not exist creates nothing, whatever its name', async () => {
      for (const [path, id] of [
        ['brand-new', 'brand-new'],
        [BIDI, decodeURIComponent(BIDI)],
        ['ctl%07bell', 'ctl\u0007bell'],
      ] as const) {
        const res = await as(payments, 'PUT', `/api/${path}/secrets/x`, { value: PLANTED });
        assert.ok(res.status === 403 || res.status === 400, `${path}: ${res.status}`);
        assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
        await assertNoTenant(id);
      }
    });

    it('/v1: every route is 403 service_not_allowed, nothing is created', async () => {
      for (const [method, path, body] of [
        ['GET', `/v1/tenants/${VICTIM}/stores`],
        ['POST', `/v1/tenants/${VICTIM}/stores`, { name: 'svc' }],
        ['GET', `/v1/tenants/${VICTIM}/stores/default`],
        ['GET', `/v1/tenants/${VICTIM}/stores/default/secrets`],
        ['PUT', `/v1/tenants/${VICTIM}/stores/default/secrets/bsecret`, { value: PLANTED }],
        ['DELETE', `/v1/tenants/${VICTIM}/stores/default/secrets/bsecret`],
        ['POST', `/v1/tenants/${VICTIM}/stores/default/reveal`, {}],
        ['POST', '/v1/tenants/new-by-v1/stores', { name: 'svc' }],
      ] as const) {
        assertProblem(await as(payments, method, path, body), 403, 'service_not_allowed');
      }
      await assertVictimUntouched();
      await assertNoTenant('new-by-v1');
    });

    it('envs: every route is 403 service_not_allowed, nothing is created', async () => {
      for (const [method, path, body] of [
        ['GET', `/${VICTIM}/web/envs/dev/secrets`],
        ['POST', `/${VICTIM}/web/envs/dev/secrets`, { kind: 'Secret', name: 'X' }],
        ['PUT', `/${VICTIM}/web/envs/dev/secrets/X/value`, { value: PLANTED }],
        ['POST', '/new-by-envs/web/envs/dev/secrets', { kind: 'Secret', name: 'X' }],
      ] as const) {
        assertEnvs(await as(payments, method, path, body, 'bearer'), 403, 'service_not_allowed');
      }
      await assertVictimUntouched();
      await assertNoTenant('new-by-envs');
    });

    it('Cloudflare account routes: 403 credential_not_allowed, nothing is created', async () => {
      const base = `/client/v4/accounts/${VICTIM}/secrets_store`;
      for (const [method, path, body] of [
        ['GET', `${base}/stores`],
        ['POST', `${base}/stores`, { name: 'svc' }],
        ['GET', `${base}/quota`],
        ['POST', '/client/v4/accounts/new-by-cf/secrets_store/stores', { name: 'svc' }],
      ] as const) {
        assertCloudflare(await as(payments, method, path, body, 'bearer'), 403, 'credential_not_allowed');
      }
      await assertVictimUntouched();
      await assertNoTenant('new-by-cf');
    });

    it('Cloudflare system routes: the service’s own stores work; another service’s are 404; no new tenants', async () => {
      const sys = `/client/v4/system/accounts/${VICTIM}/stores`;
      const created = await as(payments, 'POST', sys, { account_id: 1, name: 'pay_keys' }, 'bearer');
      assert.equal(created.status, 200, created.text);
      const storeId = (created.json as { result: { id: string } }).result.id;
      const secrets = await as(
        payments,
        'POST',
        `${sys}/${storeId}/secrets`,
        [{ name: 'CARD_KEY', value: PLANTED, scopes: ['workers'] }],
        'bearer',
      );
      assert.equal(secrets.status, 200, secrets.text);
      const listed = await as(payments, 'GET', `${sys}/${storeId}/secrets`, undefined, 'bearer');
      assert.deepEqual(
        (listed.json as { result: { name: string }[] }).result.map((s) => s.name),
        ['CARD_KEY'],
      );
      assertCloudflare(
        await as(billing, 'GET', `${sys}/${storeId}/secrets`, undefined, 'bearer'),
        404,
        'store_not_found',
      );
      assertCloudflare(
        await as(billing, 'DELETE', `${sys}/${storeId}?force=true`, undefined, 'bearer'),
        404,
        'store_not_found',
      );
      // The victim's own default store is not the service's: 404 on the system routes.
      const own = (await server.runtime.core.stores.list(OPERATOR, VICTIM)).find((s) => s.name === 'default');
      assert.ok(own);
      assertCloudflare(
        await as(payments, 'GET', `${sys}/${own.id}/secrets`, undefined, 'bearer'),
        404,
        'store_not_found',
      );

      // A tenant that does not exist is not created by a service, valid name or not.
      assertCloudflare(
        await as(
          payments,
          'POST',
          '/client/v4/system/accounts/never-seen/stores',
          { account_id: 1, name: 's' },
          'bearer',
        ),
        404,
        'account_not_found',
      );
      await assertNoTenant('never-seen');
      const bidi = await as(
        payments,
        'POST',
        `/client/v4/system/accounts/${BIDI}/stores`,
        { account_id: 1, name: 's' },
        'bearer',
      );
      assert.equal(bidi.status, 400, bidi.text);
      await assertNoTenant(decodeURIComponent(BIDI));

      // The service's store is invisible to the tenant's own API, and the tenant's data unchanged.
      const value = await as(admin, 'GET', `/api/${VICTIM}/secrets/bsecret`);
      assert.equal(value.text, ORIGINAL);
      assert.deepEqual((await as(admin, 'GET', `/api/${VICTIM}/secrets`)).json, ['bsecret']);
    });

    it('the core itself refuses a service outside its managed stores, whatever calls it', async () => {
      const core = server.runtime.core;
      const refused = (reason: string) => (error: unknown) => {
        assert.ok(error instanceof ForbiddenError, String(error));
        assert.equal(error.reason, reason);
        return true;
      };
      await assert.rejects(
        core.secrets.putValue(payActor, { tenantId: VICTIM, name: 'bsecret', value: PLANTED }),
        refused('not_service'),
      );
      await assert.rejects(core.secrets.listNames(payActor, VICTIM), refused('not_service'));
      await assert.rejects(core.secrets.reveal(payActor, VICTIM, 'bsecret'), refused('not_service'));
      await assert.rejects(core.secrets.delete(payActor, VICTIM, 'bsecret'), refused('not_service'));
      await assert.rejects(core.secrets.quota(payActor, VICTIM), refused('not_service'));
      await assert.rejects(core.apiKeys.list(payActor, VICTIM), refused('not_service'));
      await assert.rejects(core.audit.list(payActor, VICTIM, { limit: 10 }), refused('not_service'));
      await assert.rejects(
        core.secrets.putValue(payActor, { tenantId: 'core-new', name: 'x', value: PLANTED }),
        refused('not_service'),
      );
      await assert.rejects(core.stores.create(payActor, 'core-new', 'svc'), (error: unknown) => {
        assert.ok(error instanceof NotFoundError);
        assert.equal(error.code, 'tenant_not_found');
        return true;
      });
      await assertNoTenant('core-new');
      await assertVictimUntouched();
    });

    it('the core validates a tenant id wherever a tenant can come into existence, operator included', async () => {
      for (const id of ['\u202Eevil', 'ctl\u0007', '-lead', 'a'.repeat(65), '']) {
        await assert.rejects(
          server.runtime.core.secrets.putValue(OPERATOR, { tenantId: id, name: 'x', value: 'v' }),
          (error: unknown) => error instanceof InvalidError && error.code === 'invalid_tenant_id',
          JSON.stringify(id),
        );
        await assert.rejects(
          server.runtime.core.stores.create(OPERATOR, id, 'svc'),
          (error: unknown) => error instanceof InvalidError && error.code === 'invalid_tenant_id',
        );
        await assertNoTenant(id);
      }
    });
  });
}
