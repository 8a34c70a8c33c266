import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify, { type FastifySchemaCompiler } from 'fastify';
import { LazySchemaCompilers } from '../../src/http/lazy-schema-compilers.js';
import { validatorCompiler } from '../../src/http/validation.js';
import { request } from '../support/http-client.js';
import { startTestServer } from '../support/test-server.js';

const Body = {
  type: 'object',
  properties: { name: { type: 'string', maxLength: 3 } },
  required: ['name'],
  additionalProperties: false,
};
const Reply = { type: 'object', properties: { name: { type: 'string' } } };

async function appWith(schemas: LazySchemaCompilers, compile: FastifySchemaCompiler<unknown>) {
  const app = Fastify({ schemaController: schemas.schemaController() });
  app.setValidatorCompiler(schemas.validator(compile));
  app.post('/echo', { schema: { body: Body, response: { 200: Reply } } }, async (req) => ({
    ...(req.body as object),
    secretField: 'never serialized',
  }));
  await app.ready();
  return app;
}

describe('route schemas compiled on first use', () => {
  it('compiles a validator on its first request, once, and keeps Ajv issues for the 400', async () => {
    let compiles = 0;
    const counting: FastifySchemaCompiler<unknown> = (route) => {
      compiles += 1;
      return validatorCompiler(route);
    };
    const schemas = new LazySchemaCompilers();
    const app = await appWith(schemas, counting);
    assert.equal(compiles, 0, 'nothing is compiled by ready()');
    const bad = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'toolong' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json<{ message: string }>().message, /body\/name must NOT have more than 3 characters/);
    const good = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'abc' } });
    assert.equal(good.statusCode, 200);
    // The response schema still filters what is sent.
    assert.deepEqual(good.json(), { name: 'abc' });
    assert.equal(compiles, 1);
    assert.equal(schemas.compileAll(), 0, 'everything used is compiled already');
    await app.close();
  });

  it('compileAll compiles what no request reached yet, and throws on a schema that cannot compile', async () => {
    const schemas = new LazySchemaCompilers();
    const app = Fastify({ schemaController: schemas.schemaController() });
    app.setValidatorCompiler(schemas.validator(validatorCompiler));
    app.post(
      '/broken',
      { schema: { body: { type: 'object', properties: { a: { $ref: '#/nowhere' } } } } },
      () => 'x',
    );
    await app.ready();
    assert.throws(() => schemas.compileAll(), /nowhere|resolve reference/i);
    await app.close();
  });

  it('every route of the server compiles (the start-up check the lazy compilers make optional)', async () => {
    const server = await startTestServer({ compileSchemasAtStart: true });
    try {
      const res = await request(server.url, 'GET', '/readyz');
      assert.equal(res.status, 200);
    } finally {
      await server.close();
    }
  });
});
