import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  CofferError,
  ERROR_CODES,
  type ErrorKind,
  ForbiddenError,
  NotFoundError,
  UnavailableError,
} from '../../src/core/errors.js';
import { CLOUDFLARE_ERRORS, toCloudflareFailure } from '../../src/http/cloudflare/cloudflare-errors.js';
import { ENVS_ERRORS, toEnvsFailure } from '../../src/http/envs/envs-errors.js';
import { toProblem } from '../../src/http/problem-details.js';
import type { RequestFailure } from '../../src/http/request-errors.js';
import { toV1Problem } from '../../src/http/v1/v1-errors.js';

/**
 * The error contract across facades: one closed union of core codes, which every facade answers from
 * a table of its own (the compiler checks that each table covers the union); here, that the answers
 * keep the meanings clients rely on, and that each facade's documented codes are exactly reachable.
 */

const isKind = (k: string): k is ErrorKind => k in ERROR_CODES;

/** One domain error per code of the union. */
function everyCoreError(): CofferError[] {
  const errors: CofferError[] = [];
  for (const kind of Object.keys(ERROR_CODES).filter(isKind)) {
    for (const code of ERROR_CODES[kind]) errors.push(new CofferError(kind, code, `A ${code} refusal.`));
  }
  return errors;
}

/** Every failure a request can end in that is not a domain error. */
const OTHER_FAILURES: readonly RequestFailure[] = [
  { type: 'validation', fields: { body: ['Expected object.'] } },
  { type: 'validation', fields: { o: ['Bad.'] } },
  { type: 'validation', fields: { p: ['Bad.'] } },
  { type: 'validation', fields: { envName: ['Bad.'] } },
  { type: 'malformed_body', detail: 'The request body is not valid JSON.' },
  { type: 'unsupported_media_type' },
  { type: 'body_too_large' },
  { type: 'client', status: 400, detail: 'The request is malformed.' },
  { type: 'client', status: 406, detail: 'The request was refused.' },
  { type: 'internal' },
];

const domain = (error: CofferError): RequestFailure => ({ type: 'domain', error });

/** The status each facade answers a domain error with. */
const FACADES: Record<string, (e: CofferError) => number> = {
  neostore: (e) => toProblem(domain(e)).status,
  v1: (e) => toV1Problem(domain(e)).status,
  envs: (e) => toEnvsFailure(domain(e)).status,
  cloudflare: (e) => toCloudflareFailure(domain(e)).status,
};

/** Statuses that mean one thing to every client: authenticate, wait and retry, retry later. */
const KIND_STATUS: Partial<Record<ErrorKind, number>> = {
  unauthenticated: 401,
  rate_limited: 429,
  unavailable: 503,
};

describe('the core error codes', () => {
  it('are snake_case, and each names one kind only', () => {
    const seen = new Map<string, string>();
    for (const kind of Object.keys(ERROR_CODES).filter(isKind)) {
      for (const code of ERROR_CODES[kind]) {
        assert.match(code, /^[a-z]+(_[a-z]+)*$/);
        assert.equal(seen.get(code), undefined, `${code} is a code of ${seen.get(code)} and ${kind}`);
        seen.set(code, kind);
      }
    }
    assert.ok(seen.size > 40, 'the union was read');
  });

  it('are refused by the compiler outside their kind', () => {
    // Never run: each line must fail to compile, or `tsc` fails on an unused directive.
    const rejected = () => [
      // @ts-expect-error -- a code of another kind
      new NotFoundError('write_conflict', 'x'),
      // @ts-expect-error -- a code that does not exist
      new UnavailableError('database_down', 'x'),
      // @ts-expect-error -- a refusal code with another reason than its own
      new ForbiddenError('missing_permission', 'other_tenant', 'x'),
      // @ts-expect-error -- a kind and a code that do not belong together
      new CofferError('conflict', 'secret_not_found', 'x'),
    ];
    assert.equal(typeof rejected, 'function');
  });

  it('every facade answers a refusal 4xx, and 401, 429 and 503 only for their own kind', () => {
    for (const error of everyCoreError()) {
      for (const [facade, statusOf] of Object.entries(FACADES)) {
        const status = statusOf(error);
        const meant = KIND_STATUS[error.kind];
        const where = `${facade}: ${error.kind} ${error.code} → ${status}`;
        if (meant !== undefined) assert.equal(status, meant, where);
        else {
          assert.ok(status >= 400 && status < 500, where);
          assert.ok(!Object.values(KIND_STATUS).includes(status), where);
        }
      }
    }
  });
});

describe('each facade documents exactly what it can answer', () => {
  it('envs: every code of ENVS_ERRORS (= docs/envs.md) is reached, by a core code or another failure', () => {
    const reached = new Set<string>();
    for (const error of everyCoreError()) reached.add(toEnvsFailure(domain(error)).code);
    for (const failure of OTHER_FAILURES) reached.add(toEnvsFailure(failure).code);
    assert.deepEqual([...reached].sort(), Object.keys(ENVS_ERRORS).sort());
  });

  it('Cloudflare: every catalogue code (= docs/cloudflare-errors.md) is reached', () => {
    const reached = new Set<number>();
    const failures = [...everyCoreError().map(domain), ...OTHER_FAILURES];
    for (const failure of failures) for (const e of toCloudflareFailure(failure).errors) reached.add(e.code);
    const catalogue = Object.values(CLOUDFLARE_ERRORS).map((e): number => e.code);
    assert.deepEqual([...reached].sort(), catalogue.sort());
  });

  it('/v1: each code docs/native-api.md names is sent at the status of its row, and every status is a row', () => {
    const doc = readFileSync(new URL('../../../docs/native-api.md', import.meta.url), 'utf8');
    const table = doc.split(/^## Errors$/m)[1]?.split(/^## /m)[0] ?? '';
    const rows = new Map<number, string[]>();
    for (const m of table.matchAll(/^\| (\d{3}) \| [^|]+ \| ([^|]+) \|$/gm)) {
      rows.set(
        Number(m[1]),
        [...(m[2] ?? '').matchAll(/`([a-z_]+)`/g)].map((c) => c[1] ?? ''),
      );
    }
    assert.ok(rows.size > 10, 'the table was found');
    // What /v1 answers, code → status: every core code, and the failures that are not domain errors
    // (but Fastify's other client errors, which keep their status, and a 500, which says nothing).
    const sent = new Map<string, number>();
    const others = OTHER_FAILURES.filter((f) => f.type !== 'client' && f.type !== 'internal');
    const failures = [...everyCoreError().map(domain), ...others];
    for (const failure of failures) {
      const p = toV1Problem(failure);
      assert.ok(rows.has(p.status), `status ${p.status} is not in the table`);
      if (typeof p.body.code === 'string') sent.set(p.body.code, p.status);
    }
    for (const [status, codes] of rows) {
      for (const code of codes) assert.equal(sent.get(code), status, `\`${code}\` in the ${status} row`);
    }
  });
});
