import { displayPrefix, generateToken, hashToken } from '../crypto/tokens.js';
import type { Repository } from './ports/repository.js';
import type { Actor } from './actor.js';
import { safeName } from './audit-redaction.js';
import { type AuditTrail, PLATFORM_CHAIN } from './audit-trail.js';
import { type Caller, callContextOf } from './call-context.js';
import type { Clock } from './clock.js';
import { ConflictError, ForbiddenError, InvalidError, NotFoundError } from './errors.js';
import type { ServiceCredentialRecord } from './model.js';

/** Service names follow API key names: they end up in `managedBy` and in audit events. */
const SERVICE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface ServiceView {
  readonly name: string;
  readonly enabled: boolean;
  readonly tokenPrefix: string;
  readonly createdAt: number;
}

function view(s: ServiceCredentialRecord): ServiceView {
  return { name: s.name, enabled: s.enabled, tokenPrefix: s.tokenPrefix, createdAt: s.createdAt };
}

function requireOperator(actor: Actor): void {
  if (actor.kind !== 'operator') {
    throw new ForbiddenError(
      'not_service',
      'operator_only',
      'Only the operator (CLI) manages service credentials.',
    );
  }
}

/**
 * Platform-wide service credentials (Cloudflare `system/` endpoints). Created only from the CLI:
 * no tenant key can mint one. A service manages the stores it creates, in any tenant.
 */
export class ServiceCredentialService {
  readonly #deps: { repository: Repository; clock: Clock; audit: AuditTrail };

  constructor(deps: { repository: Repository; clock: Clock; audit: AuditTrail }) {
    this.#deps = deps;
  }

  async create(caller: Caller, name: string): Promise<ServiceView & { token: string }> {
    const ctx = callContextOf(caller);
    const entry = serviceEntry('service.create', name);
    await this.#deps.audit.check(ctx, entry, () => {
      requireOperator(ctx.actor);
      if (!SERVICE_NAME_PATTERN.test(name)) {
        throw InvalidError.field(
          'invalid_service_name',
          'service',
          "A service name is 1-64 of A-Z, a-z, 0-9, '.', '-', '_'.",
        );
      }
    });
    const token = generateToken();
    const record: ServiceCredentialRecord = {
      name,
      enabled: true,
      tokenHash: hashToken(token),
      tokenPrefix: displayPrefix(token),
      createdAt: this.#deps.clock.now(),
    };
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      if (!(await tx.insertService(record))) {
        throw new ConflictError('service_exists', `A service named '${name}' already exists.`);
      }
    });
    return { ...view(record), token };
  }

  async list(caller: Caller): Promise<ServiceView[]> {
    const ctx = callContextOf(caller);
    const entry = { tenantId: PLATFORM_CHAIN, action: 'service.list', resource: 'services' };
    return this.#deps.audit.read(ctx, entry, async () => {
      requireOperator(ctx.actor);
      return (await this.#deps.repository.listServices()).map(view);
    });
  }

  async setEnabled(caller: Caller, name: string, enabled: boolean): Promise<void> {
    const ctx = callContextOf(caller);
    const entry = serviceEntry(enabled ? 'service.enable' : 'service.disable', name);
    await this.#deps.audit.check(ctx, entry, () => requireOperator(ctx.actor));
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      if (!(await tx.setServiceEnabled(name, enabled))) throw serviceNotFound(name);
    });
  }

  async delete(caller: Caller, name: string): Promise<void> {
    const ctx = callContextOf(caller);
    const entry = serviceEntry('service.delete', name);
    await this.#deps.audit.check(ctx, entry, () => requireOperator(ctx.actor));
    await this.#deps.audit.change(ctx, entry, async (tx) => {
      if ((await tx.deleteService(name)) === null) throw serviceNotFound(name);
    });
  }
}

/** Service credentials are platform-wide: their events join the platform chain. */
function serviceEntry(action: string, name: string) {
  return { tenantId: PLATFORM_CHAIN, action, resource: `service:${safeName(name)}` };
}

function serviceNotFound(name: string): NotFoundError {
  return new NotFoundError('service_not_found', `No service named '${name}'.`);
}
