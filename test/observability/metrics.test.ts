import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { generateToken } from '../../src/crypto/tokens.js';
import { PrometheusMetrics } from '../../src/metrics/prometheus-metrics.js';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';
import { has, parseSamples, type Sample, total } from './prometheus-text.js';

/** Distinctive strings that must never appear in the metrics output. */
const TENANT = 'canarytenant-q7w3';
const SECRET_NAME = 'canary-secret-name-x9f2';
const SECRET_VALUE = 'canary-value-Zq81-never-exported';
const CF_STORE = 'canary-cf-store-k2p9';
const ENVS_PROJECT = 'canaryproj-m4v8';
const ENVS_SECRET = 'CANARY_ENVS_NAME_R5T1';
const UNKNOWN_PATH = 'canary-unmatched-path-h3j6';

const DURATION = 'coffer_http_request_duration_seconds_count';

describe('/metrics', () => {
  let server: TestServer;
  let token: string;
  const tokens: string[] = [];

  async function scrape(): Promise<{ text: string; samples: Sample[] }> {
    const res = await request(server.url, 'GET', '/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return { text: res.text, samples: parseSamples(res.text) };
  }

  before(async () => {
    server = await startTestServer({ defaultMetrics: true });
    token = await server.createKey(TENANT, 'admin', ['*']);
    tokens.push(token, server.adminToken);
    // Neostore: write, read (twice: a cache miss then a hit), list, an unknown route.
    const put = await request(server.url, 'PUT', `/api/${TENANT}/secrets/${SECRET_NAME}`, {
      token,
      body: { value: SECRET_VALUE },
    });
    assert.equal(put.status, 204);
    for (let i = 0; i < 2; i++) {
      const get = await request(server.url, 'GET', `/api/${TENANT}/secrets/${SECRET_NAME}`, { token });
      assert.equal(get.text, SECRET_VALUE);
    }
    assert.equal((await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token })).status, 200);
    assert.equal((await request(server.url, 'GET', `/api/${TENANT}/${UNKNOWN_PATH}`, { token })).status, 404);
    // Neostore refusals: no credential, noise, a well-formed unknown token.
    const unknown = generateToken();
    tokens.push(unknown);
    assert.equal((await request(server.url, 'GET', `/api/${TENANT}/secrets`)).status, 401);
    assert.equal(
      (await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: 'noise' })).status,
      401,
    );
    assert.equal(
      (await request(server.url, 'GET', `/api/${TENANT}/secrets`, { token: unknown })).status,
      401,
    );
    // Cloudflare: create a store, list stores, one refusal.
    const cf = `/client/v4/accounts/${TENANT}/secrets_store/stores`;
    assert.equal(
      (await request(server.url, 'POST', cf, { token, auth: 'bearer', body: [{ name: CF_STORE }] })).status,
      200,
    );
    assert.equal((await request(server.url, 'GET', cf, { token, auth: 'bearer' })).status, 200);
    assert.equal((await request(server.url, 'GET', cf, { token: unknown, auth: 'bearer' })).status, 401);
    // envs: declare, set a value, list, one refusal.
    const envs = `/${TENANT}/${ENVS_PROJECT}/envs/prod/secrets`;
    assert.equal(
      (
        await request(server.url, 'POST', envs, {
          token,
          auth: 'bearer',
          body: { kind: 'Secret', name: ENVS_SECRET },
        })
      ).status,
      201,
    );
    const setValue = await request(server.url, 'PUT', `${envs}/${ENVS_SECRET}/value`, {
      token,
      auth: 'bearer',
      body: { value: SECRET_VALUE },
    });
    assert.equal(setValue.status, 200);
    assert.equal((await request(server.url, 'GET', envs, { token, auth: 'bearer' })).status, 200);
    assert.equal((await request(server.url, 'GET', envs)).status, 401);
    // An unmatched path outside every facade.
    assert.equal((await request(server.url, 'GET', `/${UNKNOWN_PATH}`)).status, 404);
  });
  after(() => server.close());

  it('counts requests by facade, route template, method and status', async () => {
    const { samples } = await scrape();
    const where = (facade: string, route: string, method: string, status: string) => ({
      facade,
      route,
      method,
      status,
    });
    assert.equal(total(samples, DURATION, where('neostore', '/api/:tenantId/secrets/:key', 'PUT', '204')), 1);
    assert.equal(total(samples, DURATION, where('neostore', '/api/:tenantId/secrets/:key', 'GET', '200')), 2);
    assert.equal(total(samples, DURATION, where('neostore', '/api/:tenantId/secrets', 'GET', '200')), 1);
    assert.equal(total(samples, DURATION, where('neostore', '/api/:tenantId/secrets', 'GET', '401')), 3);
    assert.equal(total(samples, DURATION, where('neostore', 'unmatched', 'GET', '404')), 1);
    assert.equal(
      total(
        samples,
        DURATION,
        where('cloudflare', '/client/v4/accounts/:account_id/secrets_store/stores', 'POST', '200'),
      ),
      1,
    );
    assert.equal(
      total(samples, DURATION, where('envs', '/:o/:p/envs/:envName/secrets/:name/value', 'PUT', '200')),
      1,
    );
    assert.equal(total(samples, DURATION, where('envs', '/:o/:p/envs/:envName/secrets', 'GET', '401')), 1);
    assert.equal(total(samples, DURATION, where('none', 'unmatched', 'GET', '404')), 1);
    // Every request sample has exactly the four labels (plus `le` on buckets).
    for (const s of samples.filter((x) => x.name.startsWith('coffer_http_request_duration_seconds'))) {
      const keys = Object.keys(s.labels)
        .filter((k) => k !== 'le')
        .sort();
      assert.deepEqual(keys, ['facade', 'method', 'route', 'status']);
    }
    assert.ok(has(samples, 'coffer_http_request_duration_seconds_bucket', { le: '0.0005' }));
    assert.ok(total(samples, 'coffer_http_request_duration_seconds_sum') > 0);
  });

  it('counts authentication failures by facade and reason', async () => {
    const { samples } = await scrape();
    const failures = (facade: string, reason: string) =>
      total(samples, 'coffer_auth_failures_total', { facade, reason });
    assert.equal(failures('neostore', 'missing_credentials'), 1);
    assert.equal(failures('neostore', 'malformed_token'), 1);
    assert.equal(failures('neostore', 'invalid_token'), 1);
    assert.equal(failures('cloudflare', 'invalid_token'), 1);
    assert.equal(failures('envs', 'missing_credentials'), 1);
  });

  it('reports token-cache hits and misses, database latency, audit failures and process metrics', async () => {
    const { samples } = await scrape();
    assert.ok(total(samples, 'coffer_token_cache_total', { result: 'hit' }) >= 1);
    assert.ok(total(samples, 'coffer_token_cache_total', { result: 'miss' }) >= 1);
    const db = 'coffer_db_operation_duration_seconds_count';
    assert.ok(total(samples, db, { operation: 'getCurrentValue' }) >= 2);
    assert.ok(total(samples, db, { operation: 'findApiKeyByHash' }) >= 1);
    assert.ok(total(samples, db, { operation: 'transaction' }) >= 3);
    assert.ok(has(samples, 'coffer_audit_write_failures_total'));
    assert.ok(has(samples, 'process_cpu_user_seconds_total'));
    assert.ok(has(samples, 'nodejs_heap_size_used_bytes'));
  });

  it('counts go up with traffic', async () => {
    const route = { facade: 'neostore', route: '/api/:tenantId/secrets/:key', method: 'GET', status: '200' };
    const before = await scrape();
    for (let i = 0; i < 3; i++) {
      await request(server.url, 'GET', `/api/${TENANT}/secrets/${SECRET_NAME}`, { token });
    }
    const after = await scrape();
    assert.equal(total(after.samples, DURATION, route) - total(before.samples, DURATION, route), 3);
    assert.equal(
      total(after.samples, 'coffer_token_cache_total', { result: 'hit' }) -
        total(before.samples, 'coffer_token_cache_total', { result: 'hit' }),
      3,
    );
    // The scrape itself is counted, under the ops facade.
    assert.ok(total(after.samples, DURATION, { facade: 'ops', route: '/metrics', status: '200' }) >= 1);
  });

  it('holds no tenant id, secret name, value or token anywhere', async () => {
    const { text } = await scrape();
    for (const canary of [
      TENANT,
      SECRET_NAME,
      SECRET_VALUE,
      CF_STORE,
      ENVS_PROJECT,
      ENVS_SECRET,
      UNKNOWN_PATH,
    ]) {
      assert.ok(!text.includes(canary), `the metrics output contains ${canary}`);
    }
    for (const t of tokens) assert.ok(!text.includes(t), 'the metrics output contains a token');
  });

  it('is open without COFFER_METRICS_TOKEN, like /healthz', async () => {
    assert.equal((await request(server.url, 'GET', '/metrics')).status, 200);
  });
});

describe('/metrics with COFFER_METRICS_TOKEN', () => {
  const METRICS_TOKEN = 'metrics-token-4b7e9c1d0f';
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ env: { COFFER_METRICS_TOKEN: METRICS_TOKEN } });
  });
  after(() => server.close());

  it('answers 401 without the token or with another, 200 with it', async () => {
    const none = await request(server.url, 'GET', '/metrics');
    assert.equal(none.status, 401);
    assert.equal(none.headers.get('www-authenticate'), 'Bearer');
    assert.ok(!none.text.includes('coffer_http'));
    const wrong = await request(server.url, 'GET', '/metrics', {
      token: `${METRICS_TOKEN}x`,
      auth: 'bearer',
    });
    assert.equal(wrong.status, 401);
    // An API key is not a metrics token.
    const apiKey = await request(server.url, 'GET', '/metrics', { token: server.adminToken, auth: 'bearer' });
    assert.equal(apiKey.status, 401);
    const ok = await request(server.url, 'GET', '/metrics', { token: METRICS_TOKEN, auth: 'bearer' });
    assert.equal(ok.status, 200);
    const samples = parseSamples(ok.text);
    assert.equal(
      total(samples, 'coffer_auth_failures_total', { facade: 'ops', reason: 'missing_credentials' }),
      1,
    );
    assert.equal(
      total(samples, 'coffer_auth_failures_total', { facade: 'ops', reason: 'bad_metrics_token' }),
      2,
    );
    assert.ok(!ok.text.includes(METRICS_TOKEN));
  });
});

describe('PrometheusMetrics', () => {
  it('exposes the audit-write failure counter through the core metrics sink', async () => {
    const metrics = new PrometheusMetrics({ defaultMetrics: false });
    assert.equal(total(parseSamples(await metrics.render()), 'coffer_audit_write_failures_total'), 0);
    metrics.auditWriteFailed();
    metrics.auditWriteFailed();
    assert.equal(total(parseSamples(await metrics.render()), 'coffer_audit_write_failures_total'), 2);
  });

  it('keeps registries apart: two instances never share a sample', async () => {
    const a = new PrometheusMetrics({ defaultMetrics: false });
    const b = new PrometheusMetrics({ defaultMetrics: false });
    a.tokenCache('hit');
    assert.equal(total(parseSamples(await a.render()), 'coffer_token_cache_total', { result: 'hit' }), 1);
    assert.equal(total(parseSamples(await b.render()), 'coffer_token_cache_total', { result: 'hit' }), 0);
  });
});
