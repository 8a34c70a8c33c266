import { Ajv, type ErrorObject } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';
import { parseIsoInstant } from '../core/instant.js';

/**
 * Request validation. Bodies are never coerced or trimmed of unknown properties (a number is not a
 * string, an unknown property is an error), while path and query strings are coerced to the
 * declared scalar types. Fastify's default Ajv would silently drop unknown properties.
 */
function makeAjv(coerceTypes: boolean | 'array'): Ajv {
  const ajv = new Ajv({
    coerceTypes,
    removeAdditional: false,
    useDefaults: true,
    allErrors: true,
    strict: false,
    verbose: true,
  });
  // Numeric formats are documentation for OpenAPI readers; the integer bounds are enforced by the schema.
  ajv.addFormat('int64', { type: 'number', validate: () => true });
  ajv.addFormat('int32', { type: 'number', validate: () => true });
  ajv.addFormat('date-time', { type: 'string', validate: (s: string) => parseIsoInstant(s) !== null });
  return ajv;
}

const bodyAjv = makeAjv(false);
const stringPartsAjv = makeAjv('array');

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? bodyAjv : stringPartsAjv).compile(schema as object);

/** The Ajv issues Fastify attaches to a failed validation (`error.validation`), if any. */
export function validationIssuesOf(error: unknown): ErrorObject[] | null {
  const issues = (error as { validation?: unknown } | null)?.validation;
  return Array.isArray(issues) ? (issues as ErrorObject[]) : null;
}

/** `/options/notBefore` → `options.notBefore`; a missing or unknown property names itself. */
function fieldOf(issue: ErrorObject, part: string): string {
  const path = issue.instancePath
    .split('/')
    .filter((s) => s !== '')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
  const params = issue.params as Record<string, unknown>;
  if (issue.keyword === 'required' && typeof params.missingProperty === 'string')
    path.push(params.missingProperty);
  if (issue.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    path.push(params.additionalProperty);
  }
  return path.length > 0 ? path.join('.') : part;
}

function messageOf(issue: ErrorObject): string {
  const custom = (issue.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
  if (
    typeof custom === 'string' &&
    issue.keyword !== 'required' &&
    issue.keyword !== 'additionalProperties'
  ) {
    return custom;
  }
  const params = issue.params as Record<string, unknown>;
  switch (issue.keyword) {
    case 'required':
      return 'This field is required.';
    case 'additionalProperties':
      return 'This property is not allowed.';
    case 'type':
      return `Must be of type ${String(params.type)}.`;
    case 'maxLength':
      return `Must be at most ${String(params.limit)} characters.`;
    case 'minLength':
      return `Must be at least ${String(params.limit)} characters.`;
    case 'maxItems':
      return `Must hold at most ${String(params.limit)} items.`;
    case 'pattern':
      return 'Contains characters that are not allowed.';
    default:
      return 'Is not valid.';
  }
}

/**
 * Field → messages. Alternatives (`oneOf`/`anyOf`) yield one message per field rather than one per
 * branch tried, taken from the schema's `x-message`.
 */
export function fieldErrorsOf(issues: readonly ErrorObject[], part: string): Record<string, string[]> {
  const alternatives = new Set(
    issues.filter((i) => i.keyword === 'oneOf' || i.keyword === 'anyOf').map((i) => i.instancePath),
  );
  const out: Record<string, string[]> = Object.create(null);
  for (const issue of issues) {
    const isAlternative = issue.keyword === 'oneOf' || issue.keyword === 'anyOf';
    if (!isAlternative && alternatives.has(issue.instancePath)) continue;
    if (!isAlternative && [...alternatives].some((p) => issue.instancePath.startsWith(`${p}/`))) continue;
    const field = fieldOf(issue, part);
    const message = messageOf(issue);
    const list = out[field] ?? [];
    if (!list.includes(message)) list.push(message);
    out[field] = list;
  }
  return out;
}
