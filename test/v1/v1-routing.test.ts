import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { request } from '../support/http-client.js';
import { startTestServer, type TestServer } from '../support/test-server.js';

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
  info: { description?: string };
}

/** A request line written as is: bytes fetch would refuse to send, for Node's HTTP parser to refuse. */
function rawRequest(url: string, head: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(head));
    let out = '';
    socket.on('data', (d: Buffer) => {
      out += d.toString('latin1');
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(out));
  });
}

function assertProblem(status: number, contentType: string | null, body: unknown, where: string): void {
  assert.equal(status, 400, where);
  assert.match(contentType ?? '', /^application\/problem\+json/, where);
  const problem = body as Record<string, unknown>;
  assert.equal(problem.status, 400, where);
  assert.equal(problem.title, 'Bad Request', where);
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

  it('URLs that do not decode answer in ProblemDetails wherever a /v1 route would answer, a tenant named envs too', async () => {
    // `/v1/tenants/envs/…` has the envs shape (`/{o}/{p}/envs/…`), but the router gives a path with
    // `stores` after the tenant to /v1: so must the answer to one that does not decode.
    for (const path of [
      '/v1/tenants/default/stores/%zz/secrets',
      '/v1/tenants/envs/stores/%zz/secrets',
      '/v1/tenants/envs/stores/x/secrets/%zz',
      '/v1/tenants/%zz/stores',
      '/v1/%zz',
    ]) {
      const res = await request(server.url, 'GET', path, { token: server.adminToken });
      assertProblem(res.status, res.headers.get('content-type'), res.json, path);
    }
    const refused = await rawRequest(
      server.url,
      'GET /v1/tenants/envs/stores/a\x01b/secrets HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    const [head = '', body = ''] = refused.split('\r\n\r\n', 2);
    const contentType = /\r\ncontent-type: ([^\r]*)/i.exec(head)?.[1] ?? null;
    assertProblem(
      Number(head.split(' ')[1]),
      contentType,
      JSON.parse(body),
      'a request line the parser refuses',
    );
  });

  it('envs paths of a tenant named v1 that do not decode answer in envs shape', async () => {
    const res = await request(server.url, 'GET', '/v1/tenants/envs/%zz/secrets', {
      token: server.adminToken,
    });
    assert.equal(res.status, 400, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(res.json, { error: 'The request is malformed.', code: 'bad_request' });
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
