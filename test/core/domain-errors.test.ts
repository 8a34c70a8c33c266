import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NotFoundError, UnauthenticatedError, isCofferError } from '../../src/core/errors.js';

describe('domain errors', () => {
  it('capture no stack trace (they are answers), and leave other errors theirs', () => {
    const limit = Error.stackTraceLimit;
    const refused = new UnauthenticatedError();
    const missing = new NotFoundError('secret_not_found', 'The secret does not exist.');
    for (const error of [refused, missing]) {
      assert.ok(isCofferError(error));
      assert.doesNotMatch(error.stack ?? '', /\n\s+at /);
      assert.equal(error.name, 'CofferError');
    }
    assert.equal(missing.message, 'The secret does not exist.');
    assert.equal(Error.stackTraceLimit, limit, 'the limit is given back');
    assert.match(new Error('a bug').stack ?? '', /\n\s+at /);
  });
});
