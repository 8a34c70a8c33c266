import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  info: { description?: string };
}

const DOC = fileURLToPath(new URL('../../../docs/native-api.md', import.meta.url));

/** Codes the /v1 layer itself produces (the core's codes pass through unchanged). */
const V1_CODES = [
  'tenant_not_found',
  'precondition_failed',
  'invalid_precondition',
  'invalid_cursor',
  'validation_failed',
  'unsupported_media_type',
  'route_not_found',
  'service_not_allowed',
  'secret_value_not_found',
  'value_required',
  'too_many_secrets',
];

describe('/v1 routing, OpenAPI and the docs', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
  });
  after(() => server.close());

  it('envs paths of a tenant named v1 with a project named tenants still reach envs', async () => {
    const token = await server.createKey('v1', 'admin', ['*']);
    const declared = await request(server.url, 'POST', '/v1/tenants/envs/dev/secrets', {
      token,
      auth: 'bearer',
      body: { kind: 'Secret', name: 'X' },
    });
    assert.equal(declared.status, 201, declared.text);
    const viaV1 = await request(server.url, 'GET', '/v1/tenants/v1/stores/tenants%2Fdev/secrets/X', {
      token,
    });
    assert.equal(viaV1.status, 200, viaV1.text);
  });

  it('every error status the /v1 routes declare is in the docs table, and so is every code the layer makes', async () => {
    const doc = (await request(server.url, 'GET', '/openapi.json')).json as OpenApiDocument;
    assert.match(doc.info.description ?? '', /\/v1/);
    const statuses = new Set<string>();
    for (const [path, methods] of Object.entries(doc.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const op of Object.values(methods)) {
        for (const status of Object.keys(op.responses ?? {})) if (Number(status) >= 400) statuses.add(status);
      }
    }
    const text = readFileSync(DOC, 'utf8');
    const table = text.slice(text.indexOf('## Errors'));
    const documented = new Set([...table.matchAll(/^\| (\d{3}) \|/gm)].map((m) => m[1]));
    for (const status of statuses) assert.ok(documented.has(status), `status ${status} is not documented`);
    for (const code of V1_CODES) assert.ok(table.includes(`\`${code}\``), `code ${code} is not documented`);
  });
});
