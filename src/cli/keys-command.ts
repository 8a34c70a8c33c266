import { parseArgs } from 'node:util';
import { parseConfig } from '../config.js';
import { OPERATOR } from '../core/actor.js';
import { isCofferError } from '../core/errors.js';
import type { CliIo } from './cli.js';
import { shellWord, SourceError } from './secret-source.js';
import { buildExistingRuntime, buildRuntime, type Runtime } from '../composition/runtime.js';
import { UsageError } from './usage-error.js';

function requireOption(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} is required.`);
  return v;
}

/**
 * Only `keys create` may create (the tenant, the data directory, the key file). Every other keys
 * command refuses a missing database or tenant, naming it, before anything is written — not even
 * an audit event, which would start a chain for a tenant that does not exist.
 */
async function existingTenant(runtime: Runtime, tenant: string): Promise<void> {
  if ((await runtime.repository.getTenant(tenant)) === null) {
    throw new SourceError(
      `tenant '${tenant}' does not exist in ${runtime.config.databaseUrl === null ? runtime.config.dataDir : 'the database'}: create it with its first key, \`coffer keys create --tenant ${shellWord(tenant)} --name NAME --permission PERMISSION\`.`,
    );
  }
}

/** `coffer keys …`: a tenant's API keys, or (`--service`, `--services`) platform service credentials. */
export async function keysCommand(argv: string[], io: CliIo): Promise<number> {
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
  if (sub === undefined)
    throw new UsageError('keys needs a subcommand: create, list, enable, disable or delete.');
  if (!['create', 'list', 'enable', 'disable', 'delete'].includes(sub))
    throw new UsageError(`unknown keys command ${JSON.stringify(sub)}.`);
  if (values.service !== undefined || values.services === true)
    return serviceCommand(sub, values.service, io);
  const tenant = requireOption(values, 'tenant');
  const name = sub === 'list' ? '' : requireOption(values, 'name');
  const permissions = values.permission ?? [];
  if (sub === 'create' && permissions.length === 0)
    throw new UsageError('at least one --permission is required.');
  const config = parseConfig(io.env);
  const runtime = sub === 'create' ? await buildRuntime(config) : await buildExistingRuntime(config);
  try {
    const keys = runtime.core.apiKeys;
    if (sub !== 'create') await existingTenant(runtime, tenant);
    switch (sub) {
      case 'create': {
        const created = await keys.create(OPERATOR, tenant, {
          name,
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
        await keys.update(OPERATOR, tenant, name, { enabled: sub === 'enable' });
        io.err.write(`Key '${name}' of tenant '${tenant}' is ${sub}d.\n`);
        return 0;
      }
      default: {
        await keys.delete(OPERATOR, tenant, name);
        io.err.write(`Key '${name}' of tenant '${tenant}' is deleted.\n`);
        return 0;
      }
    }
  } catch (error) {
    if (isCofferError(error) && error.code === 'api_key_not_found') {
      throw new SourceError(
        `tenant '${tenant}' has no key named '${name}' (\`coffer keys list --tenant ${shellWord(tenant)}\` lists them).`,
      );
    }
    throw error;
  } finally {
    await runtime.close();
  }
}

async function serviceCommand(sub: string, name: string | undefined, io: CliIo): Promise<number> {
  if (sub !== 'list' && (name === undefined || name === ''))
    throw new UsageError('--service NAME is required.');
  const config = parseConfig(io.env);
  const runtime = sub === 'create' ? await buildRuntime(config) : await buildExistingRuntime(config);
  try {
    const services = runtime.core.services;
    if (sub === 'list') {
      for (const s of await services.list(OPERATOR)) {
        io.out.write(`${s.name}\t${s.enabled ? 'enabled' : 'disabled'}\t${s.tokenPrefix}…\n`);
      }
      return 0;
    }
    const service = name ?? '';
    switch (sub) {
      case 'create':
        io.out.write(`${(await services.create(OPERATOR, service)).token}\n`);
        return 0;
      case 'enable':
      case 'disable':
        await services.setEnabled(OPERATOR, service, sub === 'enable');
        io.err.write(`Service '${service}' is ${sub}d.\n`);
        return 0;
      default:
        await services.delete(OPERATOR, service);
        io.err.write(`Service '${service}' is deleted.\n`);
        return 0;
    }
  } finally {
    await runtime.close();
  }
}
