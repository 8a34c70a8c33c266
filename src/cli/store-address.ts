import type { StoreAddress } from './secret-source.js';

export class UsageError extends Error {}

/** `--tenant T --store S`, or `--env ORG/PROJECT/ENV` (tenant ORG, the envs store `PROJECT/ENV`). */
export function storeAddressOf(values: { tenant?: string; store?: string; env?: string }): StoreAddress {
  if (values.env !== undefined) {
    if (values.tenant !== undefined || values.store !== undefined) {
      throw new UsageError('--env ORG/PROJECT/ENV replaces --tenant and --store; give one or the other.');
    }
    const parts = values.env.split('/');
    const [org, project, env] = parts;
    if (parts.length !== 3 || !org || !project || !env)
      throw new UsageError('--env must be ORG/PROJECT/ENV.');
    return { tenant: org, store: `${project}/${env}` };
  }
  if (values.tenant === undefined || values.tenant === '') throw new UsageError('--tenant is required.');
  if (values.store === undefined || values.store === '') throw new UsageError('--store is required.');
  return { tenant: values.tenant, store: values.store };
}

export const ADDRESS_OPTIONS = {
  tenant: { type: 'string' },
  store: { type: 'string' },
  env: { type: 'string' },
} as const;
