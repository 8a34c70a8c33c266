import { parseArgs } from 'node:util';
import { parseConfig } from '../config.js';
import { OPERATOR } from '../core/actor.js';
import { parseIsoInstant } from '../core/instant.js';
import type { CliIo } from './cli.js';
import { buildAuditRuntime } from '../composition/runtime.js';
import { UsageError } from './usage-error.js';

/** The platform has no tenant id; this is how the CLI names a chain (ADR 0011: several per tenant). */
function chainName(check: { readonly tenantId: string; readonly chainId: string }): string {
  const whose = check.tenantId === '' ? 'the platform' : `tenant '${check.tenantId}'`;
  // A chain written before schema 3 is the tenant's only one, named by the tenant id.
  if (check.chainId === check.tenantId) return check.tenantId === '' ? 'the platform chain' : whose;
  return `${whose}, chain ${check.chainId}`;
}

/** `coffer audit verify|export`: the repository alone — checking the trail needs no master key. */
export async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { tenant: { type: 'string' }, since: { type: 'string' } },
    strict: true,
  });
  if (sub !== 'verify' && sub !== 'export') {
    throw new UsageError(
      sub === undefined
        ? 'audit needs a subcommand: verify or export.'
        : `unknown audit command ${JSON.stringify(sub)}.`,
    );
  }
  const since = sub === 'export' ? parseIsoInstant(requireSince(values.since)) : null;
  if (sub === 'export' && since === null) {
    throw new UsageError('--since must be an ISO 8601 date or date-time, e.g. 2030-01-31T00:00:00Z.');
  }
  // Must create nothing (no database, no key file).
  const { audit, close } = await buildAuditRuntime(parseConfig(io.env));
  try {
    if (since !== null) {
      const count = await audit.export(
        OPERATOR,
        { since, ...(values.tenant === undefined ? {} : { tenantId: values.tenant }) },
        (event) => io.out.write(`${JSON.stringify(event)}\n`),
      );
      io.err.write(`Exported ${count} audit event(s).\n`);
      return 0;
    }
    const checks = await audit.verify(OPERATOR, values.tenant);
    let events = 0;
    let broken = 0;
    for (const check of checks) {
      if (check.ok) {
        events += check.events;
        continue;
      }
      broken++;
      io.err.write(
        `coffer: audit chain of ${chainName(check)} does not verify at seq ${check.seq}: ${check.problem}.\n`,
      );
    }
    if (broken > 0) return 1;
    io.out.write(`Audit trail verified: ${checks.length} chain(s), ${events} event(s).\n`);
    for (const check of checks) {
      if (check.ok) {
        io.out.write(
          `  ${chainName(check)}: seq ${check.head.seq}, head ${check.head.hash.toString('hex')}\n`,
        );
      }
    }
    return 0;
  } finally {
    await close();
  }
}

function requireSince(since: string | undefined): string {
  if (since === undefined || since === '') throw new UsageError('--since is required.');
  return since;
}
