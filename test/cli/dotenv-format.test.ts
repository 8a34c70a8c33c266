import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  DotenvFormatError,
  formatDotenv,
  parseDotenv,
  parseJsonSecrets,
} from '../../src/cli/dotenv-format.js';
import { TRICKY_DOTENV, TRICKY_VALUES } from './tricky-dotenv.js';

describe('dotenv format', () => {
  it('reads a tricky file (CRLF) the way dotenv does', () => {
    assert.deepEqual(Object.fromEntries(parseDotenv(TRICKY_DOTENV)), TRICKY_VALUES);
  });

  it('reads the same with LF line endings', () => {
    assert.deepEqual(Object.fromEntries(parseDotenv(TRICKY_DOTENV.replace(/\r\n/g, '\n'))), TRICKY_VALUES);
  });

  it('writes values that read back identically, quoting each as needed', () => {
    const entries = Object.entries(TRICKY_VALUES);
    const text = formatDotenv(entries);
    assert.deepEqual(Object.fromEntries(parseDotenv(text)), TRICKY_VALUES);
    assert.match(text, /^CARRIAGE="a\\rb"$/m, 'a CR only survives as a double-quoted escape');
    assert.match(text, /^EMPTY=$/m);
  });

  it('refuses, naming it, a value no dotenv quoting can carry', () => {
    const impossible = 'all \' three " quotes `';
    assert.throws(
      () =>
        formatDotenv([
          ['OK', 'fine'],
          ['HARD', impossible],
        ]),
      (e: unknown) =>
        e instanceof DotenvFormatError && /HARD/.test(e.message) && !e.message.includes(impossible),
    );
  });

  it('any value either round-trips or is refused (never silently changed)', () => {
    const alphabet = fc.constantFrom(
      'a',
      ' ',
      '\n',
      '\r',
      '\t',
      '#',
      "'",
      '"',
      '`',
      '\\',
      'n',
      'r',
      '=',
      '$',
      'é',
      '✓',
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.constantFrom('A', 'B_1', 'c-2', 'D'), fc.string({ unit: alphabet, maxLength: 24 })),
          { maxLength: 4 },
        ),
        (pairs) => {
          const entries = [...new Map(pairs)];
          let text: string;
          try {
            text = formatDotenv(entries);
          } catch (error) {
            assert.ok(error instanceof DotenvFormatError);
            return;
          }
          assert.deepEqual([...parseDotenv(text)], entries);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('JSON: an object of strings only', () => {
    assert.deepEqual(Object.fromEntries(parseJsonSecrets('{"A": "1", "B": "x\\ny"}')), { A: '1', B: 'x\ny' });
    assert.throws(() => parseJsonSecrets('{"A": 1}'), /A/);
    assert.throws(() => parseJsonSecrets('["A"]'), DotenvFormatError);
    assert.throws(() => parseJsonSecrets('{'), DotenvFormatError);
  });
});
