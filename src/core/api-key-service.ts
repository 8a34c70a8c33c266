import { displayPrefix, generateToken, hashToken } from '../crypto/tokens.js';
import type { Repository } from './ports/repository.js';
import { type Actor, requirePermission } from './actor.js';
import { safeName } from './audit-redaction.js';
import type { AuditTrail } from './audit-trail.js';
import { type Caller, callContextOf } from './call-context.js';
import type { Clock } from './clock.js';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from './errors.js';
import type { ApiKeyRecord } from './model.js';
import { assertApiKeyName, assertTenantId } from './names.js';
import { coversGrants, grantsOf, normalisePermissionNames } from './permissions.js';

export interface ApiKeyServiceDeps {
  readonly repository: Repository;
  readonly clock: Clock;
  readonly audit: AuditTrail;
}

const keyNamed = (name: string) => `apikey:${safeName(name)}`;

/** What may leave the service: never the hash. */
export interface ApiKeyView {
  readonly tenantId: string;
  readonly name: string;
  readonly enabled: boolean;
  readonly permissions: readonly string[];
  readonly tokenPrefix: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface CreatedApiKey extends ApiKeyView {
  /** Shown once, here; only its SHA-256 is stored. */
  readonly token: string;
}

function view(k: ApiKeyRecord): ApiKeyView {
  return {
    tenantId: k.tenantId,
    name: k.name,
    enabled: k.enabled,
    permissions: k.permissions,
    tokenPrefix: k.tokenPrefix,
    createdAt: k.createdAt,
    updatedAt: k.updatedAt,
  };
}

function keyNotFound(): NotFoundError {
  return new NotFoundError('api_key_not_found', 'The API key does not exist.');
}

function requireNonEmpty(permissions: readonly string[]): void {
  if (permissions.length === 0) {
    throw InvalidError.field('permissions_missing', 'permissions', 'At least one permission is required.');
  }
}

/** A key may only hand out, or change a key holding, rights it holds itself. */
function assertCovers(actor: Actor, permissions: readonly string[]): void {
  if (actor.kind === 'operator') return;
  if (actor.kind === 'service') {
    throw new ForbiddenError(
      'not_service',
      'service_not_allowed',
      'Service credentials cannot manage API keys.',
    );
  }
  if (!coversGrants(actor.grants, grantsOf(permissions))) {
    throw new ForbiddenError(
      'escalation',
      'permission_escalation',
      'An API key cannot grant, or manage a key holding, permissions it does not hold itself.',
    );
  }
}

export class ApiKeyService {
  readonly #deps: ApiKeyServiceDeps;

  constructor(deps: ApiKeyServiceDeps) {
    this.#deps = deps;
  }

  async list(caller: Caller, tenantId: string): Promise<ApiKeyView[]> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(ctx, { tenantId, action: 'apikey.list', resource: 'apikeys' }, async () => {
      requirePermission(ctx.actor, tenantId, 'apikeys:read');
      return (await this.#deps.repository.listApiKeys(tenantId)).map(view);
    });
  }

  async get(caller: Caller, tenantId: string, name: string): Promise<ApiKeyView> {
    const ctx = callContextOf(caller);
    return this.#deps.audit.read(
      ctx,
      { tenantId, action: 'apikey.get', resource: keyNamed(name) },
      async () => {
        requirePermission(ctx.actor, tenantId, 'apikeys:read');
        const key = await this.#deps.repository.getApiKey(tenantId, name);
        if (key === null) throw keyNotFound();
        return view(key);
      },
    );
  }

  /** Creates a key (and, for the operator, the tenant if it is new). The token is returned once. */
  async create(
    caller: Caller,
    tenantId: string,
    input: { name: string; enabled?: boolean; permissions: readonly string[] },
  ): Promise<CreatedApiKey> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const entry = { tenantId, action: 'apikey.create', resource: keyNamed(input.name) };
    let permissions: string[] = [];
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(actor, tenantId, 'apikeys:write');
      assertTenantId(tenantId);
      assertApiKeyName(input.name);
      permissions = normalisePermissionNames(input.permissions);
      requireNonEmpty(permissions);
      assertCovers(actor, permissions);
    });
    const token = generateToken();
    const now = this.#deps.clock.now();
    const record: ApiKeyRecord = {
      tenantId,
      name: input.name,
      enabled: input.enabled ?? true,
      permissions,
      tokenHash: hashToken(token),
      tokenPrefix: displayPrefix(token),
      createdAt: now,
      updatedAt: now,
    };
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      await tx.ensureTenant({ id: tenantId, createdAt: now });
      if (!(await tx.insertApiKey(record)))
        throw new ConflictError('api_key_exists', `An API key named '${input.name}' already exists.`);
    });
    return { ...view(record), token };
  }

  /** Replaces `enabled` and, when given, `permissions` (omitted: unchanged). */
  async update(
    caller: Caller,
    tenantId: string,
    name: string,
    input: { enabled: boolean; permissions?: readonly string[] },
  ): Promise<ApiKeyView> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const entry = { tenantId, action: 'apikey.update', resource: keyNamed(name) };
    let permissions: string[] | undefined;
    await this.#deps.audit.check(ctx, entry, () => {
      requirePermission(actor, tenantId, 'apikeys:write');
      permissions = input.permissions === undefined ? undefined : normalisePermissionNames(input.permissions);
      if (permissions !== undefined) {
        requireNonEmpty(permissions);
        assertCovers(actor, permissions);
      }
    });
    const updated = await this.#deps.audit.change(ctx, entry, async (tx) => {
      const current = await tx.getApiKey(tenantId, name);
      if (current === null) throw keyNotFound();
      assertCovers(actor, current.permissions);
      const changed = await tx.updateApiKey(tenantId, name, {
        enabled: input.enabled,
        permissions: permissions ?? current.permissions,
        updatedAt: this.#deps.clock.now(),
      });
      if (changed === null) throw keyNotFound();
      return changed;
    });
    return view(updated);
  }

  async delete(caller: Caller, tenantId: string, name: string): Promise<void> {
    const ctx = callContextOf(caller);
    const { actor } = ctx;
    const entry = { tenantId, action: 'apikey.delete', resource: keyNamed(name) };
    await this.#deps.audit.check(ctx, entry, () => requirePermission(actor, tenantId, 'apikeys:write'));
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      const current = await tx.getApiKey(tenantId, name);
      if (current === null) throw keyNotFound();
      assertCovers(actor, current.permissions);
      await tx.deleteApiKey(tenantId, name);
    });
  }
}
