import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CofferApiError } from '../client/coffer-api-error.js';
import { ConfigError, parseConfig } from '../config.js';
import { OPERATOR } from '../core/actor.js';
import { AuditService } from '../core/audit-service.js';
import { AuditTrail } from '../core/audit-trail.js';
import { systemClock } from '../core/clock.js';
import { isCofferError } from '../core/errors.js';
import { parseIsoInstant } from '../core/instant.js';
import { KNOWN_PERMISSION_NAMES } from '../core/permissions.js';
import { KeyringError } from '../crypto/keyring.js';
import { DotenvFormatError } from './dotenv-format.js';
import { MASTER_KEY_USAGE, masterKeyCommand } from './master-key-command.js';
import { runCommand } from './run-command.js';
import { DATABASE_FILE, openRepository, openRuntime } from './runtime.js';
import { SourceError } from './secret-source.js';
import { exportCommand, importCommand, secretsCommand } from './secrets-commands.js';
import { packageVersion, serve } from './serve-command.js';
import { UsageError } from './store-address.js';

export interface CliIo {
  readonly out: NodeJS.WritableStream;
  readonly err: NodeJS.WritableStream;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const USAGE = `Usage: coffer <command> [options]

Commands:
  serve                                  Start the HTTP server (what \`npm start\` runs)
  keys create --tenant T --name N --permission P [--permission P ...] [--disabled]
                                         Create an API key (and the tenant if new); prints only the token
  keys list --tenant T                   List a tenant's keys (never tokens)
  keys enable|disable --tenant T --name N
  keys delete --tenant T --name N
  keys create --service NAME             Create a platform service credential (Cloudflare system/ routes)
  keys list --services                   List service credentials
  keys enable|disable|delete --service NAME
  run (--tenant T --store S | --env ORG/PROJECT/ENV) [--only NAME ...] [--allow-env NAME ...] -- COMMAND [ARGS ...]
                                         Run COMMAND with the store's secrets as environment variables
  secrets get NAME (--tenant T --store S | --env O/P/E) [--reveal] [--json]
                                         Print a secret's metadata; its value only with --reveal
  import (--tenant T --store S | --env O/P/E) [--format dotenv|json] FILE|-
                                         Set values from a .env or JSON file (creates the store if needed)
  export (--tenant T --store S | --env O/P/E) [--format dotenv|json]
                                         Print every value as .env (default) or JSON, to stdout
${MASTER_KEY_USAGE}
  audit verify [--tenant T]              Check the audit hash chains (every tenant's, and the platform's);
                                         exits 1 naming the first event that does not verify
  audit export --since ISO [--tenant T]  Print audit events since an instant as JSON lines (for a SIEM)
  version                                Print the version

Configuration comes from the environment (HOST, PORT, COFFER_DATA_DIR, COFFER_DATABASE_URL,
COFFER_MASTER_KEY, COFFER_KEYRING_FILE, COFFER_TLS_CERT, COFFER_TLS_KEY, COFFER_AUTH_FAILURE_LIMIT,
COFFER_KEY_RATE_LIMIT, COFFER_TRUST_PROXY, COFFER_METRICS_TOKEN, COFFER_OIDC_*, COFFER_AUDIT_STDOUT,
LOG_LEVEL), the same
for the server and the CLI. run, secrets, import and export work on the data directory, or on a
server's native API when COFFER_URL and COFFER_TOKEN are set.
Permissions: ${KNOWN_PERMISSION_NAMES.join(', ')}.
`;

function requireOption(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required.`);
  return v;
}

async function keysCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      tenant: { type: 'string' },
      name: { type: 'string' },
      permission: { type: 'string', multiple: true },
      disabled: { type: 'boolean' },
      service: { type: 'string' },
      services: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.service !== undefined || values.services === true)
    return serviceCommand(sub, values.service, io);
  const tenant = requireOption(values, 'tenant');
  const config = parseConfig(io.env);
  const runtime = await openRuntime(config);
  try {
    const keys = runtime.core.apiKeys;
    switch (sub) {
      case 'create': {
        const permissions = values.permission ?? [];
        if (permissions.length === 0) throw new UsageError('at least one --permission is required.');
        const created = await keys.create(OPERATOR, tenant, {
          name: requireOption(values, 'name'),
          enabled: values.disabled !== true,
          permissions,
        });
        // The token alone on stdout, so that scripts can capture it.
        io.out.write(`${created.token}\n`);
        return 0;
      }
      case 'list': {
        for (const k of await keys.list(OPERATOR, tenant)) {
          io.out.write(
            `${k.name}\t${k.enabled ? 'enabled' : 'disabled'}\t${k.tokenPrefix}…\t${k.permissions.join(',')}\n`,
          );
        }
        return 0;
      }
      case 'enable':
      case 'disable': {
        const name = requireOption(values, 'name');
        await keys.update(OPERATOR, tenant, name, { enabled: sub === 'enable' });
        io.err.write(`Key '${name}' of tenant '${tenant}' is ${sub}d.\n`);
        return 0;
      }
      case 'delete': {
        const name = requireOption(values, 'name');
        await keys.delete(OPERATOR, tenant, name);
        io.err.write(`Key '${name}' of tenant '${tenant}' is deleted.\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown keys command ${JSON.stringify(sub ?? '')}.`);
    }
  } finally {
    await runtime.close();
  }
}

async function serviceCommand(sub: string | undefined, name: string | undefined, io: CliIo): Promise<number> {
  const runtime = await openRuntime(parseConfig(io.env));
  try {
    const services = runtime.core.services;
    if (sub === 'list') {
      for (const s of await services.list(OPERATOR)) {
        io.out.write(`${s.name}\t${s.enabled ? 'enabled' : 'disabled'}\t${s.tokenPrefix}…\n`);
      }
      return 0;
    }
    if (name === undefined || name === '') throw new UsageError('--service NAME is required.');
    switch (sub) {
      case 'create':
        io.out.write(`${(await services.create(OPERATOR, name)).token}\n`);
        return 0;
      case 'enable':
      case 'disable':
        await services.setEnabled(OPERATOR, name, sub === 'enable');
        io.err.write(`Service '${name}' is ${sub}d.\n`);
        return 0;
      case 'delete':
        await services.delete(OPERATOR, name);
        io.err.write(`Service '${name}' is deleted.\n`);
        return 0;
      default:
        throw new UsageError(`unknown keys command ${JSON.stringify(sub ?? '')}.`);
    }
  } finally {
    await runtime.close();
  }
}

/** The platform chain has no tenant id; this is how the CLI names it. */
function chainName(tenantId: string): string {
  return tenantId === '' ? 'the platform chain' : `tenant '${tenantId}'`;
}

async function auditCommand(argv: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: { tenant: { type: 'string' }, since: { type: 'string' } },
    strict: true,
  });
  if (sub !== 'verify' && sub !== 'export') {
    throw new UsageError(`unknown audit command ${JSON.stringify(sub ?? '')}.`);
  }
  const since = sub === 'export' ? parseIsoInstant(requireOption(values, 'since')) : null;
  if (sub === 'export' && since === null) {
    throw new UsageError('--since must be an ISO 8601 date or date-time, e.g. 2030-01-31T00:00:00Z.');
  }
  // The repository alone: checking the trail needs no master key, and must create nothing (no key file).
  const config = parseConfig(io.env);
  if (config.databaseUrl === null && !existsSync(join(config.dataDir, DATABASE_FILE))) {
    throw new UsageError(`no Coffer database in ${config.dataDir}.`);
  }
  const repository = await openRepository(config);
  try {
    const audit = new AuditService({ repository, audit: new AuditTrail({ repository, clock: systemClock }) });
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
        `coffer: audit chain of ${chainName(check.tenantId)} does not verify at seq ${check.seq}: ${check.problem}.\n`,
      );
    }
    if (broken > 0) return 1;
    io.out.write(`Audit trail verified: ${checks.length} chain(s), ${events} event(s).\n`);
    for (const check of checks) {
      if (check.ok) {
        io.out.write(
          `  ${chainName(check.tenantId)}: seq ${check.head.seq}, head ${check.head.hash.toString('hex')}\n`,
        );
      }
    }
    return 0;
  } finally {
    await repository.close();
  }
}

/** Runs one command; returns the exit code. Errors become one readable line on stderr. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        await serve(parseConfig(io.env), io.out);
        return -1; // keeps running until a signal
      case 'keys':
        return await keysCommand(rest, io);
      case 'run':
        return await runCommand(rest, io);
      case 'secrets':
        return await secretsCommand(rest, io);
      case 'import':
        return await importCommand(rest, io, () => readFileSync(0, 'utf8'));
      case 'export':
        return await exportCommand(rest, io);
      case 'master-key':
        return await masterKeyCommand(rest, parseConfig(io.env), io);
      case 'audit':
        return await auditCommand(rest, io);
      case 'version':
      case '--version':
        io.out.write(`${packageVersion()}\n`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}.`);
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
      (error as { code?: unknown }).code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
    ) {
      io.err.write(`coffer: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    if (error instanceof CofferApiError) {
      io.err.write(`coffer: ${error.message} (HTTP ${error.status}${error.code ? `, ${error.code}` : ''})\n`);
      return 1;
    }
    if (
      error instanceof ConfigError ||
      error instanceof KeyringError ||
      error instanceof SourceError ||
      error instanceof DotenvFormatError ||
      isCofferError(error)
    ) {
      io.err.write(`coffer: ${(error as Error).message}\n`);
      return 1;
    }
    io.err.write(`coffer: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}
