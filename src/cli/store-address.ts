import { resolveAddress, resolveServer, type Target } from './cli-settings.js';

export { UsageError } from './usage-error.js';

/**
 * Where a secrets command works: the store (`--tenant T --store S`, or `--env ORG/PROJECT/ENV` for
 * tenant ORG and the envs store `PROJECT/ENV`) and the server (`--url`), each falling back to the
 * environment, the directory binding and the login file (docs/adr/0009-cli-configuration.md).
 */
export function targetOf(
  values: { tenant?: string; store?: string; env?: string; url?: string },
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): Target {
  return { address: resolveAddress(values, env, cwd), server: resolveServer(values, env) };
}

export const ADDRESS_OPTIONS = {
  tenant: { type: 'string' },
  store: { type: 'string' },
  env: { type: 'string' },
  url: { type: 'string' },
} as const;
