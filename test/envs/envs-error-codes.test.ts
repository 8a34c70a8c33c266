import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ForbiddenError, InvalidError, NotFoundError, UnauthenticatedError } from '../../src/core/errors.js';
import { ENVS_ERRORS, toEnvsFailure } from '../../src/http/envs/envs-errors.js';

/** The rows of the "Errors" table of docs/envs.md: code → [status, meaning]. */
function documentedCodes(): Map<string, [string, string]> {
  // Compiled to dist/test/envs/: the repository root is three levels up.
  const doc = readFileSync(new URL('../../../docs/envs.md', import.meta.url), 'utf8');
  const section = doc.split(/^## Errors$/m)[1]?.split(/^## /m)[0] ?? '';
  const rows = new Map<string, [string, string]>();
  for (const match of section.matchAll(/^\| `([a-z_]+)` \| (\d{3}|4xx) \| (.+) \|$/gm)) {
    const [, code, status, meaning] = match;
    if (code !== undefined && status !== undefined && meaning !== undefined) {
      assert.ok(!rows.has(code), `${code} is documented twice`);
      rows.set(code, [status, meaning]);
    }
  }
  return rows;
}

describe('envs error codes', () => {
  it('docs/envs.md and ENVS_ERRORS list the same codes, statuses and meanings', () => {
    const documented = documentedCodes();
    assert.ok(documented.size > 10, 'the table was found');
    const inCode = new Map(
      Object.entries(ENVS_ERRORS).map(([code, e]): [string, [string, string]] => [
        code,
        [String(e.status), e.meaning],
      ]),
    );
    assert.deepEqual([...documented.keys()].sort(), [...inCode.keys()].sort());
    for (const [code, row] of inCode) assert.deepEqual(documented.get(code), row, code);
  });

  it('codes are snake_case and errors of a 4xx kind have a 4xx status', () => {
    for (const [code, e] of Object.entries(ENVS_ERRORS)) {
      assert.match(code, /^[a-z]+(_[a-z]+)*$/);
      assert.ok(e.status === '4xx' || (e.status >= 400 && e.status < 600), code);
    }
  });

  it('maps every core error into the table, never passing an unknown code through', () => {
    const core = [
      new NotFoundError('store_not_found', 'The store does not exist.'),
      // Codes outside the union take a cast to make (the compiler refuses them); they still map.
      // @ts-expect-error -- not a not_found code
      new NotFoundError('something_new', 'x'),
      // @ts-expect-error -- not an invalid code
      new InvalidError('something_new', 'x'),
      new UnauthenticatedError(),
      new ForbiddenError('escalation', 'permission_escalation', 'x'),
      new ForbiddenError('not_service', 'service_not_allowed', 'x'),
    ];
    for (const error of core) {
      const f = toEnvsFailure({ type: 'domain', error });
      assert.ok(f.code in ENVS_ERRORS, f.code);
      assert.equal(f.status, ENVS_ERRORS[f.code].status);
    }
    assert.equal(toEnvsFailure({ type: 'domain', error: core[0] as NotFoundError }).code, 'secret_not_found');
  });

  it('a 500 says nothing of the failure', () => {
    const f = toEnvsFailure({ type: 'internal' });
    assert.deepEqual(f, { status: 500, code: 'internal_error', error: 'An unexpected error occurred.' });
  });

  it('keeps the status of other client errors', () => {
    const f = toEnvsFailure({ type: 'client', status: 406, detail: 'The request was refused.' });
    assert.deepEqual(f, { status: 406, code: 'request_refused', error: 'The request was refused.' });
  });
});
